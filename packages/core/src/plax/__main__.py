"""`python -m plax info`: plugins, backends, devices and rule coverage."""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("info", "env"):
        import plax
        plax.print_environment_info()
        return 0
    print("usage: python -m plax info", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
