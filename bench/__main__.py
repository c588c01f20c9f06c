"""plax beside JAX and NumPy on the same work, in one run: `python -m bench [--quick] [--out F]`.

Prints one JSON document (absolute medians in microseconds, ratios plax/JAX and plax/NumPy) and
a short table. Every case warms up first, takes the median of repeated runs, and blocks until
results are ready before each clock read. JAX is optional: without it those columns are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench import cases  # noqa: E402


def _byte_compile_plax() -> bool:
    """Byte-compile plax's packages as a regular (non-editable) install does, so the
    fresh-process cases (cold import, warm cache, pmap) compare with JAX's byte-compiled
    site-packages instead of compiling ~200 modules from source in every process (which
    PYTHONDONTWRITEBYTECODE=1 with an editable install causes: ~100 ms of CPU)."""
    import compileall
    import importlib.util
    ok = True
    for name in ("plax", "plax_transforms", "plax_xla", "plax_cupy"):
        spec = importlib.util.find_spec(name)
        for root in (spec.submodule_search_locations or []) if spec else []:
            ok = bool(compileall.compile_dir(root, quiet=1)) and ok
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    ap.add_argument("--out", default=None, help="also write the JSON document here")
    ap.add_argument("--only", default=None, help="comma-separated case names")
    args = ap.parse_args(argv)
    import numpy as np

    import plax
    from plax.extend import registry
    compiled = _byte_compile_plax()

    backends = []
    for name in registry.backend_names():
        try:
            registry.get_backend(name)
            backends.append(name)
        except Exception:  # noqa: BLE001 - a backend that cannot start is not measured
            pass
    have_jax = cases.have_jax()
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "numpy": np.__version__, "plax": plax.__version__,
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                    "plax_bytecode_compiled": compiled,
                    "loadavg_start": _loadavg()},
        "jax": cases.jax_version() if have_jax else None,
        "backends": backends,
        "cases": {},
    }
    only = set(args.only.split(",")) if args.only else None
    for name, fn in cases.CASES.items():
        if only and name not in only:
            continue
        print(f"# {name} ...", file=sys.stderr, flush=True)
        try:
            doc["cases"][name] = fn(backends=backends, quick=args.quick, have_jax=have_jax)
        except Exception as e:  # noqa: BLE001 - report the failure in the document
            doc["cases"][name] = {"error": f"{type(e).__name__}: {e}"}
    doc["machine"]["loadavg_end"] = _loadavg()
    doc["end_date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    text = json.dumps(doc, indent=2, default=float)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(cases.table(doc), file=sys.stderr)
    return 0


def _loadavg():
    """The machine's 1/5/15-minute load averages (the VM is shared: a figure for the record)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())

