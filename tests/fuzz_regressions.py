"""Programs the differential fuzzer found disagreeing (tests/test_fuzz.py runs each one):
name -> (source defining `fn`, input specs [(shape, is_python_scalar)], input seed)."""

REGRESSIONS: dict[str, tuple[str, list, int]] = {
}
