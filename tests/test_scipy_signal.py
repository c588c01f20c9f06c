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


# ---------------------------------------------------------------------------------------------
# Spectral estimates: stft, istft, welch, csd

SX, SY = np.float32(R.randn(2, 100)), np.float32(R.randn(2, 90))
STFT_CASES = [dict(nperseg=16), dict(nperseg=15, noverlap=5, nfft=20),
              dict(nperseg=16, window=("kaiser", 3.0), detrend="linear"),
              dict(nperseg=16, boundary="even", padded=False), dict(nperseg=16, boundary="odd"),
              dict(nperseg=12, boundary="constant", detrend="constant"),
              dict(nperseg=16, boundary=None, return_onesided=False),
              dict(nperseg=16, window=np.float32(np.hamming(16)), axis=0)]
WELCH_CASES = [dict(nperseg=16), dict(nperseg=16, average="median"),
               dict(nperseg=32, scaling="spectrum", window="hamming", fs=10.0),
               dict(nperseg=16, detrend=False, return_onesided=False),
               dict(nperseg=16, nfft=33, detrend="linear", noverlap=3), dict(nperseg=120),
               dict(nperseg=16, window=("tukey", 0.3), axis=0)]


def _check_tuple(out, expected, rtol=1e-4, atol=1e-5):
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        e = np.asarray(e)
        assert o.dtype == e.dtype and o.shape == e.shape, (o.dtype, e.dtype, o.shape, e.shape)
        assert_close(o, e, rtol=rtol, atol=atol)


def _arg(x, kw):
    return x.T if kw.get("axis") == 0 else x


def _jax(fn, *args, **kw):
    """jax.scipy.signal's `fn` as one jitted program (eagerly, op by op, it costs ~5x more);
    None arguments stay outside."""
    import jax
    given = [a for a in args if a is not None]

    def f(*vals):
        it = iter(vals)
        return getattr(_jsig(), fn)(*(None if a is None else next(it) for a in args), **kw)
    return jax.jit(f)(*given)


@requires_jax
@pytest.mark.parametrize("kw", STFT_CASES, ids=range(len(STFT_CASES)))
def test_stft_against_jax(kw):
    _check_tuple(psig.stft(_arg(SX, kw), **kw), _jax("stft", _arg(SX, kw), **kw))


@requires_jax
@pytest.mark.parametrize("kw", WELCH_CASES, ids=range(len(WELCH_CASES)))
def test_welch_csd_against_jax(kw):
    x, y = _arg(SX, kw), _arg(SY, kw)
    _check_tuple(psig.welch(x, **kw), _jax("welch", x, **kw))
    # y shorter than x along the axis (zero-padded) and broadcast over the outer axis
    y1 = y[:1] if kw.get("axis") != 0 else y[:, :1]
    _check_tuple(psig.csd(x, y1, **kw), _jax("csd", x, y1, **kw))
    _check_tuple(psig.csd(x, None, **kw), _jax("csd", x, None, **kw))


@requires_jax
def test_welch_matches_scipy():
    from scipy import signal as ss
    for kw in (dict(nperseg=16), dict(nperseg=32, average="median", window="hamming")):
        f, p = psig.welch(SX, **kw)
        fs, ps_ = ss.welch(SX, **kw)
        assert_close(f, np.float32(fs), rtol=1e-6, atol=1e-7)
        assert_close(p, np.float32(ps_), rtol=1e-4, atol=1e-6)


@requires_jax
@pytest.mark.parametrize("kw", [dict(), dict(nperseg=16, noverlap=4), dict(window="hamming"),
                                dict(boundary=False), dict(input_onesided=False),
                                dict(time_axis=0, freq_axis=1)])
def test_istft_against_jax(kw):
    onesided = kw.get("input_onesided", True)
    _, _, z = _jax("stft", SX, nperseg=16, return_onesided=onesided)
    z = np.asarray(z)
    if kw.get("time_axis") == 0:
        z = np.swapaxes(z, -1, -2)[0]
    _check_tuple(psig.istft(z, **kw), _jax("istft", z, **kw))


@pytest.mark.parametrize("kw", [dict(nperseg=16), dict(nperseg=16, noverlap=12, window="hamming"),
                                dict(nperseg=8, boundary="even")])
def test_istft_inverts_stft(kw):
    _, _, z = psig.stft(SX, **kw)
    istft_kw = {k: v for k, v in kw.items() if k in ("nperseg", "noverlap", "window")}
    _, back = psig.istft(z, **istft_kw)
    assert_close(back[:, :SX.shape[1]], SX, rtol=1e-4, atol=2e-5)


@requires_jax
def test_spectral_jit_vmap_on_backends(backend):
    import jax
    js = _jsig()
    kw = dict(nperseg=16, noverlap=6)
    for fn in ("stft", "welch"):
        out = plax.jit(lambda x, fn=fn: getattr(psig, fn)(x, **kw))(SX)
        _check_tuple(out, _jax(fn, SX, **kw))
    out = plax.jit(lambda x, y: psig.csd(x, y, average="median", **kw))(SX, SY)
    _check_tuple(out, _jax("csd", SX, SY, average="median", **kw))
    z = np.asarray(_jax("stft", SX, **kw)[2])
    _check_tuple(plax.jit(lambda z: psig.istft(z, **kw))(z), _jax("istft", z, **kw))
    # vmap over the leading axis against JAX's vmap
    _check_tuple(plax.jit(plax.vmap(lambda x: psig.welch(x, **kw)[1]))(SX)[None],
                 (jax.jit(jax.vmap(lambda x: js.welch(x, **kw)[1]))(SX),))


@requires_jax
def test_spectral_grads_against_jax():
    import jax
    js = _jsig()
    x = SX[0]

    def loss(sig, mod):
        _, p = sig.welch(x * mod, nperseg=16)
        _, _, z = sig.stft(x * mod, nperseg=16)
        _, back = sig.istft(z * z, nperseg=16)
        return (p ** 2).sum() + (back ** 2).sum()
    mod = np.float32(1 + 0.1 * R.randn(100))
    g = plax.grad(lambda m: loss(psig, m))(mod)
    assert_close(g, np.asarray(jax.jit(jax.grad(lambda m: loss(js, m)))(mod)), rtol=2e-4, atol=1e-4)
    from plax.test_util import check_grads
    check_grads(lambda m: psig.welch(x[:40] * m, nperseg=8)[1], (mod[:40],), order=1,
                modes=("rev",), atol=2e-2, rtol=2e-2)


def test_spectral_errors():
    with pytest.raises(ValueError, match="boundary"):
        psig.stft(SX, nperseg=16, boundary="wrap")
    with pytest.raises(ValueError, match="noverlap"):
        psig.welch(SX, nperseg=16, noverlap=16)
    with pytest.raises(ValueError, match="average"):
        psig.welch(SX, nperseg=16, average="mode")
    with pytest.raises(ValueError, match="scaling"):
        psig.welch(SX, nperseg=16, scaling="power")
    with pytest.raises(ValueError, match="nfft"):
        psig.welch(SX, nperseg=16, nfft=8)
    with pytest.raises(ValueError, match="differing time and frequency"):
        psig.istft(np.ones((3, 4), np.complex64), time_axis=0, freq_axis=0)
    with pytest.raises(ValueError, match="window must have length"):
        psig.istft(np.ones((9, 4), np.complex64), window=np.ones(5))
