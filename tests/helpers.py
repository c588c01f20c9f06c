"""Plain helpers shared by several test files: random inputs, an exact comparison, and the
fixtures that move tests onto the reference backend.

The two fixtures here are autouse but apply only to the test modules that import them (pytest
registers a fixture found in a module's namespace for that module), so a file opts in with
`from helpers import reference_by_default  # noqa: F401 (an autouse fixture)`."""

from __future__ import annotations

import numpy as np
import pytest

import plax


@pytest.fixture(autouse=True)
def reference_by_default():
    """Tests without the `backend` fixture check semantics, not backends: run them on the
    reference backend (no compile latency). `backend` overrides this where it is used."""
    with plax.default_backend("reference"):
        yield


@pytest.fixture(autouse=True)
def eager_on_reference(request):
    """Numbers are checked eagerly, op by op, on the NumPy reference backend (the oracle; on a
    compiling backend every op would compile). Tests taking the `backend` fixture run on each
    installed backend instead (and compare with it)."""
    if "backend" in request.fixturenames:
        yield
    else:
        with plax.default_backend("reference"):
            yield


def rand(shape, dtype=np.float32, seed=0, lo=-50, hi=50, p_true=0.5):
    """A reproducible random array of `dtype`: bools are True with probability `p_true`;
    integers are uniform in [lo, hi) (from max(lo, 0) for unsigned types); complex and floating
    values are standard normal (real and imaginary parts independent)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < p_true
    if dt.kind in "iu":
        return rng.integers(max(lo, 0) if dt.kind == "u" else lo, hi, shape).astype(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def same(out, expected):
    """`out` (anything np.asarray takes) equals `expected` exactly, shape included."""
    expected = np.asarray(expected)
    out = np.asarray(out)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    np.testing.assert_array_equal(out, expected)


def grid(backend, full, small):
    """The full parameter grid on the reference backend, the small one on the others (which
    compile every op)."""
    return full if backend == "reference" else small


def run_jax_and_plax_on_four_cpu_devices(code: str) -> dict:
    """`code` (a script that reads 'jax' or 'plax' from argv[1] and prints one line
    `RESULTS<json>`) run in a JAX process and a plax process side by side, each with 4 CPU
    devices: {"jax": results, "plax": results}."""
    import json
    import os
    import subprocess
    import sys
    procs = {}
    flags = os.environ.get("XLA_FLAGS", "")  # the test session's compile flags (conftest)
    for lib, env_extra in (("jax", {"XLA_FLAGS": f"{flags} "
                                                 "--xla_force_host_platform_device_count=4",
                                     "JAX_PLATFORMS": "cpu"}),
                           ("plax", {"PLAX_XLA_CPU_DEVICES": "4"})):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env_extra)
        procs[lib] = subprocess.Popen([sys.executable, "-c", code, lib], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for lib, p in procs.items():
        stdout, stderr = p.communicate(timeout=600)
        marker = [ln for ln in stdout.splitlines() if ln.startswith("RESULTS")]
        assert marker, f"{lib} subprocess failed (rc {p.returncode}):\n{stderr[-4000:]}"
        out[lib] = json.loads(marker[-1][len("RESULTS"):])
    return out
