"""The JAX compatibility harness: JAX-style programs (programs/*.py, written against `jax`)
run unmodified on plax through the `jax` name shim (shim/jax) and, where JAX is installed, on
JAX itself; their results are compared. Fetches nothing.

    python tests/jax_examples/harness.py [program ...]     # or: nox -s jax_examples

Each program defines `main()` returning a pytree of numbers, arrays and strings, and may set
RTOL/ATOL. Each implementation runs the programs in a subprocess of its own (the shim must be
the only `jax` in it), which also records the XLA programs compiled while each ran (JAX: its
"Finished XLA compilation" log records; plax: its XLA backend's compiles).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
SHIM = HERE / "shim"


def program_names() -> list[str]:
    return sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.stem.startswith("_"))


def have_jax() -> bool:
    try:
        importlib.import_module("jax")
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------------------------
# The child process: run one program under one implementation


def _compile_log(impl: str) -> list[str]:
    """A list that fills with the name of each XLA program compiled from now on in this
    process (JAX: its "Finished XLA compilation of ..." log records; plax: the module name of
    each program its XLA backend compiles)."""
    names: list[str] = []
    if impl == "jax":
        import logging
        import jax

        class Handler(logging.Handler):
            def emit(self, record):
                m = re.match(r"Finished XLA compilation of (.*) in ", record.getMessage())
                if m:
                    names.append(m.group(1))

        jax.config.update("jax_log_compiles", True)
        logger = logging.getLogger("jax")
        logger.addHandler(Handler(logging.DEBUG))
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return names
    from plax.extend import registry
    backend = registry.get_backend("xla")
    compile_loaded = backend._compile_loaded

    def recording(text, *args, **kwargs):
        m = re.search(r"module @(\S+)", text)
        names.append(m.group(1) if m else "?")
        return compile_loaded(text, *args, **kwargs)

    backend._compile_loaded = recording
    return names


def _to_plain(x):
    """A result as builtins and NumPy only (picklable without the program's classes)."""
    import numpy as np
    if isinstance(x, (str, bool, int, float, complex, type(None))):
        return x
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return {"namedtuple " + type(x).__name__: [_to_plain(v) for v in x]}
    if isinstance(x, (list, tuple)):
        return [_to_plain(v) for v in x]
    return {"array": np.asarray(x), "weak_type": bool(getattr(x, "weak_type", False))}


def _record_first_epoch(mod, compiled: list) -> list:
    """A list that holds, once the program's `first_epoch()` (where it defines one) returns,
    the names of the programs compiled up to then (`main()` calls it first)."""
    names: list[str] = []
    inner = getattr(mod, "first_epoch", None)
    if inner is not None:
        def first_epoch(*args, **kwargs):
            out = inner(*args, **kwargs)
            names[:] = compiled
            return out
        mod.first_epoch = first_epoch
    return names


def child(impl: str, names: str, out: str, entry: str = "main") -> None:
    """Run `entry()` of each program in `names` (comma-separated), one after the other in this
    process; pickle {name: record} to `out`."""
    if impl == "plax":
        sys.path.insert(0, str(SHIM))
    sys.path.insert(0, str(PROGRAMS))
    import jax
    if impl == "plax" and not jax.__version__.endswith("+plax"):
        raise RuntimeError(f"the shim did not take the name `jax`: {jax.__file__}")
    compiled = _compile_log(impl)
    records = {}
    for name in names.split(","):
        mod = importlib.import_module(name)
        del compiled[:]
        first_epoch = _record_first_epoch(mod, compiled)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            result = getattr(mod, entry)()
        records[name] = {
            "result": _to_plain(result) if entry == "main" else None,
            "compiles": len(compiled), "compiled": list(compiled), "stdout": printed.getvalue(),
            "first_epoch_compiled": first_epoch or None,
            "rtol": getattr(mod, "RTOL", 1e-5), "atol": getattr(mod, "ATOL", 1e-6)}
    with open(out, "wb") as f:
        pickle.dump(records, f)


def run_many(impl: str, names: list[str], entry: str = "main") -> dict:
    """Run `entry()` of the programs `names` on `impl` ("plax" or "jax"), one after the other
    in one fresh subprocess; {name: record}, a record holding the result, compiles (how many
    XLA programs were compiled while it ran, caches warmed by the programs before it) and
    compiled (their names), stdout."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.pkl")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PLAX_BACKEND="xla")
        proc = subprocess.run([sys.executable, __file__, "--child", impl, ",".join(names), out,
                               entry], capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"{names} failed on {impl}:\n{proc.stdout}\n{proc.stderr}")
        with open(out, "rb") as f:
            return pickle.load(f)


def run(impl: str, name: str, entry: str = "main") -> dict:
    """One program in a fresh process (every cache cold): its record."""
    return run_many(impl, [name], entry)[name]


# ---------------------------------------------------------------------------------------------
# Comparing


def compare(got, want, rtol: float, atol: float, path: str = "") -> list[str]:
    """The differences between two plain results (empty when they agree)."""
    import numpy as np
    if isinstance(want, dict) and set(want) == {"array", "weak_type"}:
        if not (isinstance(got, dict) and set(got) == {"array", "weak_type"}):
            return [f"{path}: {got!r:.80} where JAX has an array"]
        g, w = got["array"], want["array"]
        diffs = []
        if g.shape != w.shape or g.dtype != w.dtype:
            return [f"{path}: {g.dtype}{list(g.shape)} where JAX has {w.dtype}{list(w.shape)}"]
        if got["weak_type"] != want["weak_type"]:
            diffs.append(f"{path}: weak_type={got['weak_type']} where JAX has "
                         f"{want['weak_type']}")
        if g.dtype.kind in "biuSU" or g.dtype == bool:
            if not np.array_equal(g, w):
                diffs.append(f"{path}: {g} where JAX has {w}")
        elif not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))
            diffs.append(f"{path}: max abs difference {err:.3g} (rtol={rtol}, atol={atol})")
        return diffs
    if type(got) is not type(want):
        return [f"{path}: {type(got).__name__} {got!r:.80} where JAX has "
                f"{type(want).__name__} {want!r:.80}"]
    if isinstance(want, dict):
        if list(got) != list(want):
            return [f"{path}: keys {list(got)} where JAX has {list(want)}"]
        return [d for k in want for d in compare(got[k], want[k], rtol, atol, f"{path}[{k!r}]")]
    if isinstance(want, (list, tuple)):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} where JAX has {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want))
                for d in compare(g, w, rtol, atol, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float):
        ok = abs(got - want) <= atol + rtol * abs(want)
        return [] if ok else [f"{path}: {got} where JAX has {want}"]
    return [] if got == want else [f"{path}: {got!r:.80} where JAX has {want!r:.80}"]


# Programs whose first_epoch() compiles are counted (tests/test_jax_examples.py): they run first
# in each implementation's process, so every cache is as cold as in a fresh process
COLD_FIRST = ("mnist_vae",)


def check_all(names: list[str]) -> dict:
    """Run the programs on plax (and JAX when installed), each implementation in one process
    (the COLD_FIRST ones first); {name: summary with the differences, and for a program with a
    first_epoch(), what each implementation compiled up to its end}."""
    names = [n for n in COLD_FIRST if n in names] + [n for n in names if n not in COLD_FIRST]
    mine = run_many("plax", names)
    ref = run_many("jax", names) if have_jax() else {}
    out = {}
    for name in sorted(names):
        m = mine[name]
        summary = {"program": name, "plax_compiles": m["compiles"], "differences": []}
        if m["first_epoch_compiled"] is not None:
            summary["plax_first_epoch"] = m["first_epoch_compiled"]
        if name in ref:
            r = ref[name]
            summary["jax_compiles"] = r["compiles"]
            if r["first_epoch_compiled"] is not None:
                summary["jax_first_epoch"] = r["first_epoch_compiled"]
            summary["differences"] = compare(m["result"], r["result"], r["rtol"], r["atol"])
            if m["stdout"] != r["stdout"]:
                summary["differences"].append(
                    f"stdout differs:\n--- plax\n{m['stdout']}--- jax\n{r['stdout']}")
        out[name] = summary
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("programs", nargs="*", help="program names (default: all)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    failed = 0
    for s in check_all(args.programs or program_names()).values():
        ok = not s["differences"]
        failed += not ok
        print(json.dumps({k: v for k, v in s.items() if not isinstance(v, list)}),
              "agrees with JAX" if ok and "jax_compiles" in s else
              "ran (JAX not installed)" if ok else "DIFFERS:")
        for d in s["differences"]:
            print("   ", d)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
