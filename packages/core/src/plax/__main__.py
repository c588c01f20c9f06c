"""`python -m plax info`: plugins, backends, devices, what each plugin defines and registers,
and rule coverage. `python -m plax --help` for the commands."""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m plax",
        description="plax: NumPy-style code traced to jaxprs, transformed, run on pluggable "
                    "backends. Commands report on the installed plugins.")
    sub = p.add_subparsers(dest="command")
    info = sub.add_parser("info", aliases=["env"], help="plugins, backends, devices, what each "
                          "plugin defines and registers, and rule coverage (the default)")
    info.add_argument("--plugin", metavar="NAME", default=None,
                      help="only what plugin NAME defines and registers ('plax-core' for core)")
    prof = sub.add_parser("profile", help="run a Python script under plax.profiler.trace() "
                          "and print where its time went (trace, lower, compile, execute, "
                          "host transfers; counts and milliseconds per function)")
    prof.add_argument("--log-dir", default=None,
                      help="also write the events there (plax_trace.json, Chrome format)")
    prof.add_argument("script", help="the script to run")
    prof.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def _profile(args) -> int:
    import runpy

    from plax import profiler
    sys.argv = [args.script, *args.args]
    code = 0
    with profiler.trace(args.log_dir):
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit as e:  # the script's own exit status, after the summary
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv or ["info"])
    if args.command == "profile":
        return _profile(args)
    import plax
    if args.plugin is not None:
        from plax._src import api
        lines = api.plugin_report(args.plugin)
        if not lines:
            print(f"no plugin named '{args.plugin}'", file=sys.stderr)
            return 2
        print("\n".join(lines))
        return 0
    plax.print_environment_info()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
