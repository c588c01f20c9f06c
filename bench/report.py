"""Write bench/RESULTS.md from one or more JSON documents of `python -m bench --out F`
(later documents replace earlier ones case by case): `python -m bench.report A.json B.json`."""

from __future__ import annotations

import json
import sys

COLUMNS = ("plax[xla]", "plax[reference]", "jax", "numpy")
ROWS = [
    ("1. MLP step, jit steady (us)", "1_mlp_step", "jit_steady_us", "{:.0f}"),
    ("1. MLP step, jit, training loop (each step on the last one's parameters) (us)",
     "1_mlp_step", "jit_loop_us", "{:.0f}"),
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
    ("9. conv net step (batch 64, 28x28, 32 channels), jit (us)", "9_convnet_step",
     "jit_steady_us", "{:.0f}"),
    ("10. jit(f)(x), a new wrapper each call (us/call)", "10_rewrapped_jit", "us", "{:.1f}"),
    ("11. VAE training script, first epoch, cold process (us)", "11_vae_first_epoch", "us",
     "{:.0f}"),
    ("12. cholesky + solve, 1024x1024 f32 (us)", "12_cholesky_solve", "us", "{:.0f}"),
    ("13. new process, warm compilation cache: import + first MLP step (us)",
     "13_warm_cache_first_call", "us", "{:.0f}"),
    ("14. all-reduce of 1e6 f32 across 2 processes, gloo (us/call)", "14_allreduce_2proc",
     "us", "{:.0f}"),
    ("15. data-parallel MLP step, pmap over 4 CPU devices (us)", "15_data_parallel_pmap", "us",
     "{:.0f}"),
    ("16. data-parallel MLP step, jit over a 4-device mesh (us)", "16_data_parallel_mesh", "us",
     "{:.0f}"),
    ("2. jitted sum of a 7-leaf pytree (us/call)", "2_dispatch", "jit_pytree7_us", "{:.1f}"),
    ("18. import in a new interpreter (us)", "18_import_time", "us", "{:.0f}"),
    ("17. eager vjp of vmap, tanh layer (us)", "17_eager_transforms", "vjp_of_vmap_us",
     "{:.0f}"),
    ("17. eager per-example Jacobian (us)", "17_eager_transforms", "per_example_jacobian_us",
     "{:.0f}"),
]
TARGETS = [
    ("case 1 jit steady state within 1.05x of JAX (xla)", "1_mlp_step", ["plax[xla]/jax"],
     1.05),
    ("case 1 jit training loop within 1.05x of JAX (xla)", "1_mlp_step",
     ["plax[xla] loop/jax"], 1.05),
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
    # issue 12
    ("12: case 9 conv net step at most 1.1x JAX (xla)", "9_convnet_step", ["plax[xla]/jax"],
     1.1),
    ("12: case 12 cholesky + solve at most 1.1x JAX (xla)", "12_cholesky_solve",
     ["plax[xla]/jax"], 1.1),
    # issue 15
    ("15: case 2 jitted dispatch at most 1.0x JAX, scalar and 1000-vector (xla)", "2_dispatch",
     ["plax[xla]/jax jit_scalar_us", "plax[xla]/jax jit_vec1000_us"], 1.0),
    ("15: case 2 eager ops on xla at most 1.0x JAX", "2_dispatch",
     ["plax[xla]/jax eager_add_scalar_us", "plax[xla]/jax eager_add_vec1000_us"], 1.0),
    ("15: case 7 pmap psum at most 1.2x JAX (xla)", "7_pmap_psum", ["plax[xla]/jax"], 1.2),
    ("15: case 13 new process with a warm cache at most 0.5x JAX (xla)",
     "13_warm_cache_first_call", ["plax[xla]/jax"], 0.5),
    ("15: case 4 jit(vmap(grad)) faster than the loop of jitted grads (xla)",
     "4_per_example_grads", ["plax[xla] vmap/loop"], 1.0),
    ("15: case 4 jit(vmap(grad)) faster than JAX's (xla)", "4_per_example_grads",
     ["plax[xla]/jax vmap"], 1.0),
    ("15: case 5 elementwise chain at least 1.3x faster than NumPy (xla)",
     "5_elementwise_chain", ["plax[xla]/numpy"], 1 / 1.3),
    ("15: case 18 import plax at most 100 ms (the ratio shown: to 100 ms)", "18_import_time",
     ["plax[xla]/100ms"], 1.0),
    ("15: case 2 jitted dispatch, pytree of 7 leaves, at most 1.2x JAX (xla)", "2_dispatch",
     ["plax[xla]/jax jit_pytree7_us"], 1.2),
    ("15: case 17 eager transforms at most 1.0x JAX (xla: vjp of vmap, vmap of a "
     "matrix-Jacobian product, per-example Jacobian, jvp)", "17_eager_transforms",
     ["plax[xla]/jax vjp_of_vmap_us", "plax[xla]/jax vmap_mjp_us",
      "plax[xla]/jax per_example_jacobian_us", "plax[xla]/jax jvp_us"], 1.0),
]


NOTES = """
## How it is measured

- Every figure that compares plax with a peer comes from interleaved rounds (plax on each
  backend, JAX, NumPy, one after the other, many times; the median per contender): this VM's
  load drifts by 2x within minutes, and only side-by-side figures compare. Where NumPy's matmul
  takes part, each contender waits 0.15 s first (OpenBLAS's threads spin ~0.1 s after a call)
  and then makes three calls back to back (cases 6 and 12): the first call after an idle
  gap pays this VM's idle cores' wake-up (a 1024 matmul: 10 ms warm, 14-19 ms after 0.1-0.3 s
  idle, for every library alike), which made single-call rounds swing by 1.4x.
- "first call, warm library": a new function (a fresh closure, so no cache by identity) traced,
  compiled and run once, after each library ran an unrelated jitted gradient (plugins, rule
  tables and thread pools loaded). "new process": a script that imports the library and runs
  one step, end to end.
- The backend is chosen with `plax.config.update("backend", ...)`, as a program would (a
  `with plax.default_backend(...)` block costs the same on the hot paths).

## Where the time goes

- A jitted call on xla (scalar; A/B on 2026-12-05, thread CPU time, interleaved with JAX in
  one process, load 15-19, `python -m bench` figures will differ): jaxlib's `execute_sharded`
  alone is 3.2 us, with `consume_with_handlers` 3.8-3.9 us, i.e. 0.86-0.88x of JAX's whole C++
  call (4.4-4.7 us). The other entry points are slower (`LoadedExecutable.execute` 6.3 us,
  `disassemble_into_single_device_arrays` 5.9 us); a C++ `SingleDeviceSharding` instead of the
  `GSPMDSharding` on arguments or result handlers, `strict=False`, an unbound
  `consume_with_handlers` or dropping the runner's closure frame change nothing measurable.
  A bare Python function doing only the launch and the result Array is 4.45-4.6 us
  (0.96-0.99x JAX): Python's floor is JAX's time, and the checks the hot path needs (the
  argument's aval and backend, `config.jit_state`, the trace) cost 0.3-0.5 us in Python:
  1.10-1.12x JAX with the one-Array path first in `__call__` (1.15x before). JAX's C++
  spends ~0.6 us of its own around the launch (JitConfigs, the call signature's compare,
  its pytree flatten). So JitFunction's base class is now C where pip could build it
  (`plax_transforms._fastjit`, an optional extension: its `tp_call` does the same checks,
  calls the runner and makes the result Array without a Python frame; jit.py's `_PyCall` is
  the fallback, `PLAX_JIT_PURE_PYTHON=1` forces it): 0.97x JAX in the A/B; 0.99x, 1.08x
  and 1.00x in three `python -m bench --only 2_dispatch[,1_mlp_step]` runs at load 4-10
  (e.g. 4.75 vs 4.75 us; eager scalar add 0.89-0.94x, 1000-vector 0.44-0.54x, 7-leaf pytree
  1.04-1.06x). Instruction counts (callgrind, 20,000 calls) then showed what was left of
  plax's own part (~2,600 instructions over the bare runner's ~32,300): two attribute reads
  through Config's `__getattr__` hook and threading.local's getattro (~890), the runner's
  Python frame (~600), the result Array (~640). The C path now reads `jit_state` from the
  config's instance dict and the trace from the trace context's per-thread dict (cached per
  thread by `PyThreadState_GetID`), and makes the runner's two jaxlib calls itself (a runner
  may name them: `Executable.runner.launch`): ~1,770 instructions over the bare runner, and
  0.92-0.94x JAX on the scalar in three `--only 2_dispatch` runs (1.00x, 0.97x, 0.99x just
  before). Calls of several Arrays or pytrees
  stay in Python (`_call_arrays`). An environment installed before `setup.py` existed has no
  `_fastjit` until `pip install -e packages/transforms` runs again. In both libraries
  ~20-25% of a call is glibc malloc/free inside XLA's CPU Execute (64-byte aligned
  AsyncValue allocations trigger `malloc_consolidate`; `perf record`).
- Eager ops on xla run one cached compiled program per primitive and signature, launched
  through the same bare jaxlib call. `x + y`, `x - y`, `x * y` on two Arrays of one aval
  (not bool) bind the lax primitive directly (no ufunc, plax.numpy, promotion or lax frames),
  and the per-primitive last-run slot keeps the caller's avals, so equal but distinct avals
  compare by identity next time: the eager scalar add is 0.87-0.90x JAX in the same A/B
  (1.04x before).
- Case 1 jit steady state: plax's StableHLO and XLA's optimized HLO are the same program as
  JAX's (the same six YNN fusions, three dots, loop fusions and output layouts; only the ReLU
  gradient is written differently, compare/convert/multiply against JAX's select/divide,
  fused alike; neither donates). The gap is the CPU client: plax runs programs on the calling
  thread (a synchronous client: small arrays dispatch 2x faster), JAX's asynchronous client
  on XLA's worker threads. Process CPU time per step: plax 3.6-3.7 ms synchronous, 3.35 ms
  with `xla_cpu_async_dispatch` on, JAX 3.35-3.45 ms; and JAX's call returns ~66 us after
  it starts, before its program ends, so the bench's three back-to-back steps on the same
  params can run side by side on the two cores; case 1's training loop (each step on the
  parameters the last one returned, as a program trains) cannot overlap steps. Turning it
  on by default makes the 1000-vector jitted call 0.98-1.0x JAX (0.57x synchronous), so it
  stays off; jaxlib's `execute_sharded` takes no per-launch execution mode. Measured again
  after the C hot path's changes (2026-12-05, `--only 1_mlp_step,2_dispatch,
  4_per_example_grads,17_eager_transforms`, two runs each, alternating): asynchronous, case 1
  jit steady 0.95x / 1.03x and the loop of per-example jitted grads 1.77x / 0.79x JAX;
  synchronous 1.17x / 1.06x and 0.60x / 0.35x; dispatch and eager transforms level either
  way (the whole suite passes both ways). A trade between independent big steps and many
  small calls, not a win: still off.
- XLA CPU runs a dot that contracts its left operand's leading dimension (a dense layer's
  weight gradient) with Eigen, whose first use in a process JIT-compiles oneDNN's sgemm
  kernels (~25 ms of the ~37 ms first execution of the MLP step, JAX alike), and YNNPACK when
  that operand comes transposed. Lowering those dots with explicitly transposed operands
  (behind an optimization barrier, else XLA folds the transpose back; both operands, as XLA
  swaps them when a transpose follows the dot) made the first execution 18-22 ms instead of
  36-56 ms, but every later step 2-4% slower (interleaved in one process: batch 128 2321 vs
  2240 us, batch 32 743 vs 724 us, batch 1024 12124 vs 11833 us), though YNNPACK wins on the
  lone dots (e.g. (128,512)x(128,10) 73 vs 190 us). Not kept.
- First calls: XLA's compile is the same work for both (the StableHLO modules are the same
  program); plax traces and lowers the 50-op chain in ~5-9 ms, JAX in ~13-18 ms.
- Case 5: XLA's CPU `sin` is a scalar libm call per element (31 ms of JAX's 42 ms per 1e7 on a
  quiet machine), and a fresh 40 MB output costs ~9,800 page faults per call. plax lowers
  float32 `sin`/`cos` of large arrays on the CPU to arithmetic XLA vectorises (float64 range
  reduction by a four-part pi/2, Cephes' float32 polynomials; within 2 ulp,
  `xla_cpu_fast_trig`), and donates a program's dropped outputs of 8 MiB or more back to its
  next call (`xla_cpu_reuse_outputs`: ~0 page faults per call instead of 9,800).
- Case 4: JAX's and plax's batched program wrote each example's weight gradient as an outer
  product in the cotangent's order, then transposed the whole 134 MB batch into the weight's
  layout (a second buffer: 65,500 page faults a call). plax's dot_general transpose rule now
  contracts in the operand's order (no transpose), and the 134 MB and 17 MB outputs are
  reused as above: ~0 page faults a call, and the batched program beats a loop of per-example
  calls. Find
  such things with `python -m plax profile script.py` and `jit(f).lower(x).as_text()`.
- Case 7: with 4 CPU devices on 2 cores every launch and copy between devices costs 20-100 us
  of thread hand-offs. XLA's CPU client runs each replica as a task of one pool of max(cores,
  devices) threads, and a started replica blocks its thread until all replicas of its launch
  have started: with launches queued without bound (JAX's pmap and jit(shard_map)) the
  threads can all hold replicas of later launches while one of an earlier launch waits, and
  the process hangs (JAX here: within ~20,000 psums on a quiet machine, within hundreds under
  load, then XLA aborts it after 40 s). plax lets two launches be in flight (the next call's
  inputs go to the devices while the last one runs) and makes the pool 2 x devices threads,
  so every replica in flight has one: 36 runs of 20,000 calls (2, 3, 4, 8 devices, three
  programs, under load) without a hang. The case takes five rounds of fresh processes per
  side (three until 2026-12-05): one process's figure moves by 1.3x between rounds on this VM
  (twelve alternating runs of 20-call windows that day: plax 188-261 us, JAX 160-313 us),
  so three rounds' median swung the ratio between 1.18x and 1.36x. JAX 0.10's pmap is
  jit(shard_map) (a 4-partition SPMD program); plax's is a 4-replica program: the same
  optimized HLO but for that (one all-reduce between two bitcasts), and plax's
  jit(shard_map) of the psum is no faster than its pmap (226-251 us in the same runs).
"""


def runs(paths) -> str:
    """RESULTS.md from whole runs, each shown in full (tables and targets) with the machine's
    load around it: `python -m bench.report --runs A.json B.json`."""
    docs = [json.load(open(p)) for p in paths]
    m = docs[0]["machine"]
    lines = [
        "# Benchmark results", "",
        f"`python -m bench` on {m['platform']}, {m['cpus']} cores, Python {m['python']}, "
        f"NumPy {m['numpy']}, {docs[0]['jax']}, plax {m['plax']}; "
        f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}. {len(docs)} full runs, one after the "
        "other, each case's contenders interleaved within the run.",
        "The machine is a shared 2-core VM with other jobs running (load averages below): "
        "absolute times are inflated and move between runs; the ratios taken side by side "
        "within one run are what compare. Medians. Regenerate with `python -m bench --out "
        "A.json && python -m bench --out B.json && python -m bench.report --runs A.json "
        "B.json > bench/RESULTS.md`."]
    for i, d in enumerate(docs, 1):
        mm = d["machine"]
        lines += ["", f"## Run {i}: {d['date']} to {d.get('end_date', '?')}", "",
                  f"Load average (1/5/15 min) at the start {mm.get('loadavg_start')}, at the "
                  f"end {mm.get('loadavg_end')} (2 cores).", ""]
        lines += _tables({n: r for n, r in d["cases"].items()}, level="###")
    return "\n".join(lines) + "\n" + NOTES


def _tables(cases, level="##") -> list[str]:
    def cell(case, col, key, fmt):
        v = cases.get(case, {}).get(col, {})
        v = v.get(key) if isinstance(v, dict) else None
        return "—" if v is None else fmt.format(v)

    lines = ["| case | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for label, case, key, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(case, c, key, fmt) for c in COLUMNS)
                     + " |")
    errors = [f"{n}: {r['error']}" for n, r in cases.items() if "error" in r]
    if errors:
        lines += ["", "Cases that failed: " + "; ".join(errors)]
    lines += ["", f"{level} Targets", "", "| target | measured | met? |", "|---|---|---|"]
    for label, case, keys, limit in TARGETS:
        ratios = cases.get(case, {}).get("ratios", {})
        vals = [ratios.get(k) for k in keys]
        shown = ", ".join("—" if v is None else f"{v:.2f}x" for v in vals)
        met = ("not measured" if any(v is None for v in vals) else
               "yes" if all(v <= limit for v in vals) else "**no**")
        lines.append(f"| {label} | {shown} | {met} |")
    return lines


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
    if sys.argv[1:2] == ["--runs"]:
        sys.stdout.write(runs(sys.argv[2:]))
    else:
        sys.stdout.write(main(sys.argv[1:]))
