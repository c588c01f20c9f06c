"""plax.scipy.signal against jax.scipy.signal on every backend: convolve/correlate (direct and
FFT, every mode, 1-d to 3-d, swapped sizes for 'valid'), the 2-d forms, fftconvolve with axes,
detrend; jit, vmap and gradients."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.signal as psig

R = np.random.RandomState(2)
SHAPES = [((9,), (4,)), ((3,), (7,)), ((6, 5), (3, 2)), ((4, 5, 3), (2, 3, 2))]


def _jsig():
    import jax.scipy.signal as js
    return js


@requires_jax
@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_nd_against_jax(backend, fn, mode, method, shapes):
    a, b = np.float32(R.randn(*shapes[0])), np.float32(R.randn(*shapes[1]))
    out = getattr(psig, fn)(a, b, mode=mode, method=method)
    expected = np.asarray(getattr(_jsig(), fn)(a, b, mode=mode, method=method))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert_close(out, expected, rtol=1e-4, atol=1e-5)


@requires_jax
@pytest.mark.parametrize("fn", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_2d_and_integers(backend, fn, mode):
    a, b = np.int32(R.randint(-5, 5, (5, 6))), np.int32(R.randint(-5, 5, (3, 2)))
    out = getattr(psig, fn)(a, b, mode=mode)
    expected = np.asarray(getattr(_jsig(), fn)(a, b, mode=mode))
    assert out.dtype == expected.dtype
    assert_close(out, expected, rtol=1e-5, atol=1e-4)


@requires_jax
def test_fftconvolve_axes_complex_and_detrend(backend):
    a, b = np.float32(R.randn(3, 8)), np.float32(R.randn(3, 5))
    assert_close(psig.fftconvolve(a, b, axes=1),
                 np.asarray(_jsig().fftconvolve(a, b, axes=1)), rtol=1e-4, atol=1e-5)
    ca = (R.randn(7) + 1j * R.randn(7)).astype(np.complex64)
    cb = (R.randn(3) + 1j * R.randn(3)).astype(np.complex64)
    for method in ("direct", "fft"):
        assert_close(psig.correlate(ca, cb, method=method),
                     np.asarray(_jsig().correlate(ca, cb, method=method)), rtol=1e-4,
                     atol=1e-5)
    d = np.float32(R.randn(4, 12) + np.arange(12))
    for kw in (dict(), dict(type="constant"), dict(axis=0), dict(bp=[3, 7])):
        assert_close(psig.detrend(d, **kw), np.asarray(_jsig().detrend(d, **kw)), rtol=1e-4,
                     atol=2e-5)


def test_jit_vmap_grad(backend):
    a, b = np.float32(R.randn(4, 9)), np.float32(R.randn(3))
    f = lambda x, k: psig.convolve(x, k, mode="same")  # noqa: E731
    loop = np.stack([np.asarray(f(x, b)) for x in a])
    assert_close(plax.vmap(f, in_axes=(0, None))(a, b), loop, rtol=1e-5, atol=1e-6)
    assert_close(plax.jit(f)(a[0], b), loop[0], rtol=1e-5, atol=1e-6)
    g = plax.grad(lambda k: (f(a[0], k) ** 2).sum())(b)
    gf = plax.grad(lambda k: (psig.convolve(a[0], k, mode="same", method="fft") ** 2).sum())(b)
    assert_close(g, np.asarray(gf), rtol=1e-4, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="mode"):
        psig.convolve(np.ones(3), np.ones(2), mode="bogus")
    with pytest.raises(ValueError, match="same dimensionality"):
        psig.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large"):
        psig.convolve(np.ones((3, 1)), np.ones((1, 3)), mode="valid")
    with pytest.raises(NotImplementedError, match="boundary"):
        psig.convolve2d(np.ones((3, 3)), np.ones((2, 2)), boundary="wrap")
