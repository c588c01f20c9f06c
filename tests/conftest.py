"""Shared test setup: backends to parametrize over, tolerance helpers, JAX as an optional oracle."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the cupy backend runs its host build (kernels built by g++, library calls through NumPy) unless
# a GPU session asks for the device (bench/gpu.py sets PLAX_CUPY_DEVICE=gpu)
os.environ.setdefault("PLAX_CUPY_DEVICE", "host")
# XLA's CPU compiles (plax's xla backend and the JAX oracle, in this process and in the test
# subprocesses, which inherit it) skip LLVM's expensive optimisation passes: the HLO each test
# builds is compiled and checked as before, about 40% less compile time on the suite's
# thousands of small programs (a flag already in XLA_FLAGS is left as set)
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0"
                               " --xla_llvm_disable_expensive_passes=true").strip()

import plax  # noqa: E402

# every eager result and every batch rule's output is checked against the abstract evaluation
# (the eager index checks of `checks` stay off: tests exercise JAX's clamping on purpose)
plax.config.update("check_rules", True)

try:  # JAX is an oracle in tests only; never imported under packages/
    import jax  # noqa: F401
    import jax.numpy as jnp  # noqa: F401
    HAVE_JAX = True
except Exception:  # pragma: no cover - depends on the environment
    HAVE_JAX = False

requires_jax = pytest.mark.skipif(not HAVE_JAX, reason="jax is not importable here")


def installed_backends() -> list[str]:
    from plax._src import registry
    names = []
    for n in registry.backend_names():
        try:
            registry.get_backend(n)
            names.append(n)
        except Exception:
            pass
    return names


@pytest.fixture(params=installed_backends())
def backend(request):
    """Run the test once per installed backend, with that backend as the default."""
    import plax
    with plax.default_backend(request.param):
        yield request.param


def tol(dtype) -> dict:
    dt = np.dtype(dtype)
    if dt.itemsize <= 2 and dt.kind == "f" or str(dt) == "bfloat16":
        return dict(rtol=2e-2, atol=2e-2)
    if dt in (np.float32, np.complex64):
        return dict(rtol=2e-5, atol=2e-6)
    return dict(rtol=1e-12, atol=1e-12)


def assert_close(actual, expected, dtype=None, **kw):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    opts = tol(dtype or actual.dtype)
    opts.update(kw)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.dtype.kind in "biu" or actual.dtype == np.bool_:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual.astype(np.complex128 if actual.dtype.kind == "c"
                                                 else np.float64),
                                   expected, equal_nan=True, **opts)


@pytest.fixture
def reference():
    """JAX comparisons check the rules on the reference backend; other backends are checked
    against the reference (DESIGN.md, section 6)."""
    import plax
    with plax.default_backend("reference"):
        yield "reference"



def _recording() -> bool:
    return os.environ.get("PLAX_CUPY_RECORD_KERNELS", "") not in ("", "0")


def pytest_configure(config):
    if _recording() and not hasattr(config, "workerinput"):  # xdist workers inherit it
        import tempfile
        os.environ["PLAX_CUPY_NVRTC_REPORTS"] = tempfile.mkdtemp(prefix="plax-nvrtc-")


def _nvrtc_check() -> dict:
    """NVRTC (sm_90, spills reported) over every kernel this process's host build made."""
    import sys
    compiler = sys.modules.get("plax_cupy.compiler")
    kernels = sorted(compiler.RECORDED.values(), key=lambda k: k.name) if compiler else []
    problems = []
    for i in range(0, len(kernels), 200):  # one NVRTC call per 200 kernels
        chunk = kernels[i:i + 200]
        names = [k.name for k in chunk][:5]
        try:
            _, log = compiler.compile_cubin(chunk, verbose=True)
        except Exception as e:  # noqa: BLE001 - reported by the session
            problems.append(f"NVRTC failed on {names}...: {e}"[:3000])
            continue
        if compiler.spills(log):
            problems.append(f"register spills in one of {names}...")
    return {"kernels": len(kernels), "problems": problems}


def pytest_sessionfinish(session, exitstatus):
    """With PLAX_CUPY_RECORD_KERNELS=1: every kernel the cupy backend's host build made in this
    session (in every xdist worker) also compiles with NVRTC to an sm_90 cubin, without
    register spills; a problem fails the session, naming the kernels."""
    if not _recording():
        return
    import json
    import sys
    folder = os.environ.get("PLAX_CUPY_NVRTC_REPORTS")
    result = _nvrtc_check()
    worker = getattr(session.config, "workerinput", None)
    if worker is not None:  # the controller reads it
        if folder:
            with open(os.path.join(folder, f"{worker['workerid']}.json"), "w") as f:
                json.dump(result, f)
        return
    results = [result]
    if folder and os.path.isdir(folder):
        import shutil
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name)) as f:
                results.append(json.load(f))
        shutil.rmtree(folder, ignore_errors=True)
    kernels = sum(r["kernels"] for r in results)
    problems = [p for r in results for p in r["problems"]]
    line = f"NVRTC sm_90: {kernels} kernels recorded by the host build, " + (
        "all compiled without spills" if not problems else f"{len(problems)} problem(s)")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    (reporter.write_line if reporter is not None else print)(line)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
