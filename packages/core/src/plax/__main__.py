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
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv or ["info"])
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
