"""Shared test setup: backends to parametrize over, tolerance helpers, JAX as an optional oracle."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the cupy backend runs its host build (kernels built by g++, library calls through NumPy) unless
# a GPU session asks for the device (bench/gpu.py sets PLAX_CUPY_DEVICE=gpu)
os.environ.setdefault("PLAX_CUPY_DEVICE", "host")

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
