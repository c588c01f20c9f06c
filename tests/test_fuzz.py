"""Differential fuzzing: random well-typed programs (tests/fuzz_programs.py) under random stacks
of transforms, run on every installed plax backend and on JAX where importable; shapes, dtypes
and values must agree (or every side must reject the program).

Profiles: "quick" (the default, derandomized, part of the test suite: 15 programs, to keep the
suite's time; PLAX_FUZZ_EXAMPLES=30 runs the 30 it ran before) and "long" (random, 3000
programs, `nox -s fuzz`, i.e. PLAX_FUZZ_PROFILE=long). A program that found a bug stays in
tests/fuzz_regressions.py and runs here every time."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import HAVE_JAX, installed_backends
from fuzz_programs import Program, programs
from fuzz_regressions import REGRESSIONS
from hypothesis import HealthCheck, given, settings

import plax
import plax.lax as plax_lax
import plax.numpy as pnp

settings.register_profile(
    "quick", max_examples=int(os.environ.get("PLAX_FUZZ_EXAMPLES", 15)), derandomize=True,
    deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "long", max_examples=int(os.environ.get("PLAX_FUZZ_EXAMPLES", 3000)), deadline=None,
    database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("PLAX_FUZZ_PROFILE", "quick")
BACKENDS = installed_backends()
RTOL = 2e-3
STATS = {"programs": 0, "disagreements": 0}


def run_plax(prog: Program, backend: str):
    with plax.default_backend(backend), plax.enable_x64(prog.x64):
        fn = prog.build(pnp, plax_lax, plax)
        # plax arrays in, as JAX gets its own arrays (a NumPy input has no `.at`)
        out = fn(*[pnp.asarray(x) if isinstance(x, np.ndarray) else x for x in prog.inputs()])
        return np.asarray(out), _dtype(out)


def _dtype(out) -> str:
    """The dtype, with JAX's weak-type mark (f32 vs weakly typed f32 must agree too)."""
    return str(out.dtype) + (" (weak)" if getattr(out, "weak_type", False) else "")


def run_jax(prog: Program):
    import jax
    import jax.numpy as jnp
    with jax.enable_x64(prog.x64):
        fn = prog.build(jnp, jax.lax, jax)
        # JAX arrays in, not NumPy ones: JAX's eager custom_jvp computes a NumPy float32 array
        # times a Python float as float64 even with x64 off (jit gives float32, as plax does)
        out = fn(*[jnp.asarray(x) if isinstance(x, np.ndarray) else x
                   for x in prog.inputs()])
        return np.asarray(out), _dtype(out)


def outcome(run, *args):
    try:
        return run(*args)
    except Exception as e:  # noqa: BLE001 - a rejection is an outcome to compare
        return e


def disagreement(prog: Program) -> str | None:
    """None when every backend (and JAX) agrees, else a description with the reproducer."""
    results = {f"plax[{b}]": outcome(run_plax, prog, b) for b in BACKENDS}
    if HAVE_JAX:
        results["jax"] = outcome(run_jax, prog)
    oracle_name = "jax" if HAVE_JAX else "plax[reference]"
    oracle = results[oracle_name]
    problems = []
    for name, res in results.items():
        if name == oracle_name:
            continue
        if isinstance(oracle, Exception) or isinstance(res, Exception):
            if isinstance(oracle, Exception) != isinstance(res, Exception):
                problems.append(f"{name}: {_show(res)}; {oracle_name}: {_show(oracle)}")
            continue
        (got, gdt), (want, wdt) = res, oracle
        if got.shape != want.shape or gdt != wdt:
            problems.append(f"{name} gave {gdt}{list(got.shape)}, {oracle_name} "
                            f"{wdt}{list(want.shape)}")
            continue
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0, where=np.isfinite(want))))
        bad = ~np.isclose(got, want, rtol=RTOL, atol=RTOL * scale, equal_nan=True)
        if bad.any():
            i = tuple(np.argwhere(bad)[0])
            problems.append(f"{name} differs from {oracle_name} at {bad.sum()} of {bad.size} "
                            f"elements, e.g. at {i}: {got[i]!r} vs {want[i]!r}")
    if not problems:
        return None
    return "\n".join(problems) + f"\n--- reproducer ---\n{prog}"


def _show(r) -> str:
    if isinstance(r, Exception):
        return f"raised {type(r).__name__}: {str(r).splitlines()[0][:200] if str(r) else ''}"
    return f"returned {r[1]}{list(r[0].shape)}"


def test_random_programs_agree():
    # quick: the first disagreement fails and hypothesis shrinks it to a minimal reproducer;
    # long: every disagreement is collected (and counted) so one run reports them all
    found: list[str] = []
    report = os.environ.get("PLAX_FUZZ_REPORT")

    def write_report():
        if report:
            with open(report, "w") as fh:
                fh.write(f"profile={PROFILE} backends={','.join(BACKENDS)} jax={HAVE_JAX}\n"
                         f"programs={STATS['programs']} disagreements={len(found)}\n\n")
                fh.write("\n\n".join(found))

    @settings.get_profile(PROFILE)
    @given(programs())
    def check(prog):
        STATS["programs"] += 1
        problem = disagreement(prog)
        if PROFILE == "long":
            if problem:
                found.append(problem)
            if problem or STATS["programs"] % 10 == 0:
                write_report()  # progress survives an interrupted run
            return
        assert problem is None, problem

    try:
        check()
    finally:
        STATS["disagreements"] = len(found)
        write_report()
    assert not found, f"{len(found)} disagreements:\n\n" + "\n\n".join(found[:5])


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_programs_that_found_bugs(name):
    source, specs, seed, *x64 = REGRESSIONS[name]
    prog = Program(source, specs, seed, [], "while_loop" in source, bool(x64 and x64[0]))
    assert disagreement(prog) is None


def test_generator_is_well_typed_against_jax():
    # the generator's own promise: every quick-profile program runs on JAX (or JAX rejects it
    # for a documented reason: forward mode over custom_vjp)
    if not HAVE_JAX:
        pytest.skip("needs JAX as the type oracle")
    seen = []

    @settings(max_examples=15, derandomize=True, deadline=None, database=None)
    @given(programs())
    def check(prog):
        r = outcome(run_jax, prog)
        if isinstance(r, Exception):
            assert "custom_vjp" in prog.source and ("jvp" in prog.source
                                                    or "linearize" in prog.source), (
                f"{type(r).__name__}: {r}\n{prog}")
        seen.append(prog)
    check()
    assert len(seen) == 15
