"""Run the data-apis array-api-tests suite on plax.numpy (or jax.numpy, for comparison) and
print the tally: `python array_api/run.py CHECKOUT [--module jax.numpy] [pytest args...]`.

The dtypes the namespace reports through `__array_namespace_info__().dtypes()` are the ones
tested (with x64 off: no int64/uint64/float64/complex128, as for JAX); `skips.txt` beside this
file lists the tests plax skips on purpose, each with its reason, and they count as not passed.
Settings: 20 examples per test, derandomized, no deadline, Hypothesis shrinking off (the
aat_plugin beside this file), at most 2 xdist workers."""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float32", "float64", "complex64", "complex128")


def skipped_dtypes(module: str) -> list[str]:
    """The array API dtypes `module`'s namespace info does not list (none if it has no info)."""
    xp = importlib.import_module(module)
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return []
    present = set(info().dtypes())
    return [d for d in ALL_DTYPES if d not in present]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", nargs="?", default=os.environ.get("ARRAY_API_TESTS_DIR"),
                    help="an array-api-tests checkout (with its array-api submodule); default: "
                         "$ARRAY_API_TESTS_DIR")
    ap.add_argument("--module", default="plax.numpy")
    ap.add_argument("--report", default=None,
                    help="where to write the JSON report (default: in the checkout)")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--max-examples", default="20")
    args, pytest_args = ap.parse_known_args(argv)
    if not args.checkout:
        ap.error("pass the array-api-tests checkout or set ARRAY_API_TESTS_DIR")
    checkout = Path(args.checkout).resolve()
    if not (checkout / "array_api_tests").is_dir():
        ap.error(f"{checkout} is not an array-api-tests checkout (no array_api_tests/ in it)")
    # the JSON report goes into the checkout unless asked elsewhere (nothing lands in the repo)
    report = Path(args.report or checkout / f"report-{args.module}.json").resolve()
    env = dict(os.environ, ARRAY_API_TESTS_MODULE=args.module,
               ARRAY_API_TESTS_SKIP_DTYPES=",".join(skipped_dtypes(args.module)),
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE),
                                                        os.environ.get("PYTHONPATH")])),
               TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "aat_plugin", "-q",
           "-W", "ignore", "--max-examples", args.max_examples, "--derandomize",
           "--disable-deadline", "--json-report", f"--json-report-file={report}",
           "--json-report-omit", "log", "streams", "warnings",
           "--skips-file", str(HERE / "skips.txt")]
    if args.workers not in ("0", "1"):
        cmd += ["-n", args.workers]
    tests = [a for a in pytest_args if not a.startswith("-")]
    cmd += [a for a in pytest_args if a.startswith("-")] + (tests or ["array_api_tests/"])
    print("skipped dtypes:", env["ARRAY_API_TESTS_SKIP_DTYPES"] or "none", flush=True)
    subprocess.run(cmd, cwd=checkout, env=env)
    print(tally(report))
    return 0


def tally(report_path: Path) -> str:
    """passed/failed/skipped of total, then failures per test function, largest first."""
    tests = json.loads(Path(report_path).read_text())["tests"]
    outcomes = collections.Counter(t["outcome"] for t in tests)
    failed = [t["nodeid"] for t in tests if t["outcome"] in ("failed", "error")]
    groups = collections.Counter(n.split("::")[-1].split("[")[0] for n in failed)
    total = len(tests)
    passed = outcomes["passed"]
    lines = [f"{passed} passed, {len(failed)} failed, {outcomes['skipped']} skipped of {total} "
             f"({100 * passed / max(total, 1):.1f}% passed)"]
    lines += [f"  {n:4d} {g}" for g, n in groups.most_common()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
