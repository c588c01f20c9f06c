"""Write bench/RESULTS.md from one or more JSON documents of `python -m bench --out F`
(later documents replace earlier ones case by case): `python -m bench.report A.json B.json`."""

from __future__ import annotations

import json
import sys

COLUMNS = ("plax[xla]", "plax[reference]", "jax", "numpy")
ROWS = [
    ("1. MLP step, jit steady (us)", "1_mlp_step", "jit_steady_us", "{:.0f}"),
    ("1. MLP step, first call, warm library (us)", "1_mlp_step", "first_call_us", "{:.0f}"),
    ("1. MLP step, new process: import + first call (us)", "1_mlp_step",
     "cold_import_and_first_call_us", "{:.0f}"),
    ("1. MLP step, eager (us)", "1_mlp_step", "eager_us", "{:.0f}"),
    ("2. jitted x+1.0, scalar (us/call)", "2_dispatch", "jit_scalar_us", "{:.1f}"),
    ("2. jitted x+1.0, 1000-vector (us/call)", "2_dispatch", "jit_vec1000_us", "{:.1f}"),
    ("2. eager add, scalar (us/call)", "2_dispatch", "eager_add_scalar_us", "{:.1f}"),
    ("2. eager add, 1000-vector (us/call)", "2_dispatch", "eager_add_vec1000_us", "{:.1f}"),
    ("3. make_jaxpr, 50 ops + matmul (us)", "3_trace_compile", "make_jaxpr_us", "{:.0f}"),
    ("3. first call, 50 ops + matmul (us)", "3_trace_compile", "first_call_us", "{:.0f}"),
    ("4. jit(vmap(grad)), batch 128 (us)", "4_per_example_grads", "vmap_us", "{:.0f}"),
    ("4. loop of jitted grads, 128 (us)", "4_per_example_grads", "loop32_us", "{:.0f}"),
    ("5. elementwise chain, 1e7 f32 (us)", "5_elementwise_chain", "us", "{:.0f}"),
    ("6. matmul 1024 f32 (us)", "6_matmul", "us", "{:.0f}"),
    ("6. matmul 1024 f32 (GFLOP/s)", "6_matmul", "GFLOP_s", "{:.0f}"),
    ("7. pmap psum, 4 devices on xla/JAX, 1 on reference (us/call)", "7_pmap_psum", "us",
     "{:.0f}"),
    ("8. peak RSS, MLP batch 4096 (MB)", "8_memory", "peak_rss_MB", "{:.0f}"),
    ("10. jit(f)(x), a new wrapper each call (us/call)", "10_rewrapped_jit", "us", "{:.1f}"),
    ("11. VAE training script, first epoch, cold process (us)", "11_vae_first_epoch", "us",
     "{:.0f}"),
]
TARGETS = [
    ("case 1 jit steady state within 1.05x of JAX (xla)", "1_mlp_step", ["plax[xla]/jax"],
     1.05),
    ("case 4 within 1.05x of JAX (xla, vmap)", "4_per_example_grads", ["plax[xla]/jax vmap"],
     1.05),
    ("case 3 first call at most 1.0x (xla)", "3_trace_compile",
     ["plax[xla]/jax first_call"], 1.0),
    ("case 2 jitted dispatch at most 1.5x (xla)", "2_dispatch",
     ["plax[xla]/jax jit_scalar_us", "plax[xla]/jax jit_vec1000_us"], 1.5),
    ("eager ops on reference faster than JAX's", "2_dispatch",
     ["plax[reference]/jax eager_add_scalar_us", "plax[reference]/jax eager_add_vec1000_us"],
     1.0),
    ("case 5 on XLA faster than NumPy", "5_elementwise_chain", ["plax[xla]/numpy"], 1.0),
    ("case 10 rewrapped jit at most 1.2x JAX per call (xla)", "10_rewrapped_jit",
     ["plax[xla]/jax"], 1.2),
    ("case 11 VAE first epoch at most 1.0x JAX (xla)", "11_vae_first_epoch",
     ["plax[xla]/jax"], 1.0),
]


NOTES = """
## How it is measured

- Every figure that compares plax with a peer comes from interleaved rounds (plax on each
  backend, JAX, NumPy, one after the other, many times; the median per contender): this VM's
  load drifts by 2x within minutes, and only side-by-side figures compare. Where NumPy's matmul
  takes part, each contender waits 0.15 s first (OpenBLAS's threads spin ~0.1 s after a call).
- "first call, warm library": a new function (a fresh closure, so no cache by identity) traced,
  compiled and run once, after each library ran an unrelated jitted gradient (plugins, rule
  tables and thread pools loaded). "new process": a script that imports the library and runs
  one step, end to end.
- The backend is chosen with `plax.config.update("backend", ...)`, as a program would (a
  `with plax.default_backend(...)` block costs the same on the hot paths).

## Where the time goes

- A jitted call on xla: ~4 us is jaxlib's `execute_sharded` + `consume_with_handlers` (JAX's
  whole C++ call is ~4.3 us); plax adds ~1-1.5 us of Python (one flat pass over the arguments,
  an identity-checked last-signature slot, one Array per output).
- Eager ops on xla run one cached compiled program per primitive and signature, launched
  through the same bare jaxlib call; the rest is plax.numpy's promotion and `bind`.
- First calls: XLA's compile is the same work for both (the StableHLO modules are the same
  program); plax traces and lowers the 50-op chain in ~5-9 ms, JAX in ~13-18 ms.
- Case 5: XLA's CPU `sin` is scalar code (see shared PERF-FACTS), so fusion alone only matches
  NumPy by a small margin; a fresh 40 MB output per call costs page faults (donation helps).
- Case 7 (no target): with 4 CPU devices on 2 cores every launch and copy between devices
  costs 20-100 us of thread hand-offs, and replicated programs must not queue up (they deadlock
  on this VM, JAX's too), so plax waits for each pmap run; splitting inputs on the host and
  stacking outputs outside the program was tried and measured no better.
"""


def main(paths) -> str:
    docs = [json.load(open(p)) for p in paths]
    cases, dates = {}, {}
    for d in docs:
        for name, res in d["cases"].items():
            cases[name] = res
            dates[name] = d["date"]
    m = docs[0]["machine"]

    def cell(case, col, key, fmt):
        v = cases.get(case, {}).get(col, {})
        v = v.get(key) if isinstance(v, dict) else None
        return "—" if v is None else fmt.format(v)

    lines = [
        "# Benchmark results", "",
        f"`python -m bench` on {m['platform']}, {m['cpus']} cores, Python {m['python']}, "
        f"NumPy {m['numpy']}, {docs[0]['jax']}, plax {m['plax']}; "
        f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}.",
        "Dates per case: " + ", ".join(f"{c} {d}" for c, d in sorted(dates.items())) + ".",
        "The machine is a shared 2-core VM: only ratios taken in the same run mean much, and "
        "even those move by 20-50% between runs. Medians. Regenerate with "
        "`python -m bench --out F.json && python -m bench.report F.json > bench/RESULTS.md`.",
        "", "| case | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for label, case, key, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(case, c, key, fmt) for c in COLUMNS)
                     + " |")
    lines += ["", "## Targets", "", "| target | measured | met? |", "|---|---|---|"]
    for label, case, keys, limit in TARGETS:
        ratios = cases.get(case, {}).get("ratios", {})
        vals = [ratios.get(k) for k in keys]
        shown = ", ".join("—" if v is None else f"{v:.2f}x" for v in vals)
        met = all(v is not None and v <= limit for v in vals)
        lines.append(f"| {label} | {shown} | {'yes' if met else '**no**'} |")
    return "\n".join(lines) + "\n" + NOTES


if __name__ == "__main__":
    sys.stdout.write(main(sys.argv[1:]))
