"""plax.numpy.fft: NumPy's discrete Fourier transforms with JAX's semantics (jax.numpy.fft),
built on lax.fft. Real inputs are promoted (float32 -> complex64, float64 -> complex128 under
x64); `s`/`n` crop or zero-pad the input along the transformed axes; `norm` is one of None,
"backward", "ortho" or "forward"."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.lax.fft import FftType
from plax._src.numpy.shape import moveaxis, roll
from plax._src.numpy.util import canonicalize_axis, ensure_array, static_int

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


def _norm_factor(n: int, func_name: str, norm: str | None) -> float | None:
    """The factor the unnormalized (forward) / 1/n-normalized (inverse) result is scaled by."""
    if norm is None or norm == "backward":
        return None
    inverse = func_name.startswith("i")
    if norm == "ortho":
        return float(np.sqrt(n)) if inverse else 1.0 / float(np.sqrt(n))
    return float(n) if inverse else 1.0 / n


def _fft_nd(x, fft_type: FftType, s: tuple[int, ...]):
    """lax.fft over the trailing len(s) axes, decomposed into pieces of at most 3 axes."""
    if len(s) <= 3:
        return lax.fft(x, fft_type, s)
    k = 2 if len(s) == 4 else 3
    nd = x.ndim if hasattr(x, "ndim") else np.ndim(x)
    src = tuple(range(nd - len(s), nd - k))
    dst = tuple(range(nd - len(s) + k, nd))
    if fft_type in (FftType.RFFT, FftType.FFT):
        x = lax.fft(x, fft_type, s[-k:])
        x = moveaxis(x, src, dst)
        x = _fft_nd(x, FftType.FFT, s[:-k])
        return moveaxis(x, dst, src)
    x = moveaxis(x, src, dst)
    x = _fft_nd(x, FftType.IFFT, s[:-k])
    x = moveaxis(x, dst, src)
    return lax.fft(x, fft_type, s[-k:])


def _fft_core(func_name: str, fft_type: FftType, a: Any, s, axes, norm):
    full = f"plax.numpy.fft.{func_name}"
    if norm not in _NORMS:
        raise ValueError(f'{full}: invalid norm value {norm!r}; should be None, "backward", '
                         '"ortho" or "forward"')
    arr = ensure_array(a, full)
    nd = arr.ndim
    if s is not None:
        s = tuple(static_int(d, f"the s argument of {full}") for d in s)
        if any(d <= 0 for d in s):
            raise ValueError(f"{full}: s must be positive, got s={s}")
    if s is not None and axes is not None and len(s) != len(axes):
        raise ValueError(f"{full}: s and axes have different lengths ({len(s)} and "
                         f"{len(axes)})")
    if axes is None:
        if s is not None and len(s) > nd:
            raise ValueError(f"{full}: s={s} has more entries than the input has dimensions "
                             f"({nd})")
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
        orig_axes = None
    else:
        orig_axes = tuple(canonicalize_axis(ax, nd, full) for ax in axes)
        if len(set(orig_axes)) != len(orig_axes):
            raise ValueError(f"{full} does not support repeated axes, got axes={tuple(axes)}")
        axes = tuple(range(nd - len(orig_axes), nd))
        arr = moveaxis(arr, orig_axes, axes)
    if fft_type == FftType.RFFT and dtypes.is_complex(arr.dtype):
        raise ValueError(f"{full}: the input must be real, got {arr.dtype.name}")
    if s is not None:
        in_s = list(arr.shape)
        for ax, d in zip(axes, s, strict=True):
            in_s[ax] = d
        if fft_type == FftType.IRFFT:
            in_s[-1] = in_s[-1] // 2 + 1
        if tuple(in_s) != arr.shape:
            zero = np.zeros((), arr.dtype)
            arr = lax.pad(arr, zero, [(0, want - have, 0)
                                      for want, have in zip(in_s, arr.shape, strict=True)])
    elif fft_type == FftType.IRFFT:
        s = tuple(arr.shape[ax] for ax in axes[:-1])
        if axes:
            s += (max(0, 2 * (arr.shape[axes[-1]] - 1)),)
    else:
        s = tuple(arr.shape[ax] for ax in axes)
    if fft_type == FftType.IRFFT and s and s[-1] == 0:
        raise ValueError(f"{full}: invalid number of output points 0 along the last axis")
    out = _fft_nd(arr, fft_type, tuple(s))
    factor = _norm_factor(int(np.prod(s, dtype=np.int64)), func_name, norm)
    if factor is not None:
        out = lax.mul(out, np.asarray(factor, dtype=out.dtype))
    if orig_axes is not None:
        out = moveaxis(out, axes, orig_axes)
    return out


def _check_1d(func_name: str, axis):
    if isinstance(axis, (list, tuple)):
        raise ValueError(f"plax.numpy.fft.{func_name} does not support multiple axes; use "
                         f"{func_name}n. Got axis={axis!r}")


def _core_1d(func_name, fft_type, a, n, axis, norm):
    _check_1d(func_name, axis)
    return _fft_core(func_name, fft_type, a, None if n is None else [n],
                     None if axis is None else [axis], norm)


def _core_2d(func_name, fft_type, a, s, axes, norm):
    if axes is None or len(axes) != 2:
        raise ValueError(f"plax.numpy.fft.{func_name} only supports 2 axes, got axes={axes!r}")
    return _fft_core(func_name, fft_type, a, s, axes, norm)


def fft(a, n=None, axis=-1, norm=None):
    """1-d discrete Fourier transform along `axis` (input cropped/zero-padded to `n`)."""
    return _core_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None):
    """1-d inverse discrete Fourier transform along `axis`."""
    return _core_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a, n=None, axis=-1, norm=None):
    """1-d transform of a real input: the n // 2 + 1 non-negative frequencies."""
    return _core_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None):
    """Inverse of rfft: a real output of length `n` (default 2 * (m - 1))."""
    return _core_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a, n=None, axis=-1, norm=None):
    """Transform of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    _check_1d("hfft", axis)
    conj_a = lax.conj(lax.convert_element_type(ensure_array(a, "hfft"),
                                               _complex(ensure_array(a, "hfft").dtype)))
    nn = (conj_a.shape[axis] - 1) * 2 if n is None else operator.index(n)
    out = _core_1d("hfft", FftType.IRFFT, conj_a, n, axis, norm)
    return lax.mul(out, np.asarray(nn, dtype=out.dtype))


def ihfft(a, n=None, axis=-1, norm=None):
    """Inverse of hfft: the half spectrum of a real signal, conjugated and divided by n."""
    _check_1d("ihfft", axis)
    arr = ensure_array(a, "ihfft")
    nn = arr.shape[axis] if n is None else operator.index(n)
    out = _core_1d("ihfft", FftType.RFFT, arr, n, axis, norm)
    return lax.mul(lax.conj(out), np.asarray(1 / nn, dtype=out.dtype))


def _complex(dt):
    from plax._src.lax.fft import _complex_of
    return _complex_of(dt)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """2-d discrete Fourier transform over `axes`."""
    return _core_2d("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """2-d inverse discrete Fourier transform over `axes`."""
    return _core_2d("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """2-d transform of a real input (half spectrum along the last of `axes`)."""
    return _core_2d("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """Inverse of rfft2: a real output."""
    return _core_2d("irfft2", FftType.IRFFT, a, s, axes, norm)


def fftn(a, s=None, axes=None, norm=None):
    """N-d discrete Fourier transform over `axes` (default: all, or the last len(s))."""
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    """N-d inverse discrete Fourier transform."""
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a, s=None, axes=None, norm=None):
    """N-d transform of a real input (half spectrum along the last axis transformed)."""
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    """Inverse of rfftn: a real output."""
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def _freq_args(func_name, n, d):
    if isinstance(n, (list, tuple)):
        raise ValueError(f"plax.numpy.fft.{func_name}: n must be an int, got n={list(n)}")
    if isinstance(d, (list, tuple)):
        raise ValueError(f"plax.numpy.fft.{func_name}: d must be a single value, got "
                         f"d={list(d)}")
    return static_int(n, f"the n argument of plax.numpy.fft.{func_name}")


def _divide(k: np.ndarray, d, n: int, dtype):
    """k / (d * n) in `dtype` (d may be traced)."""
    from plax._src.numpy.ufuncs import multiply
    denom = lax.convert_element_type(multiply(ensure_array(d, "fftfreq"), n), dtype)
    if np.ndim(denom) != 0:
        raise ValueError(f"plax.numpy.fft: d must be a scalar, got shape {np.shape(denom)}")
    return lax.div(np.asarray(k, dtype), lax.broadcast_in_dim(denom, k.shape, ()))


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point fft with sample spacing `d`."""
    n = _freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        dtypes.default_float_dtype()
    dt = out_dtype
    if dtypes.is_complex(dt):
        dt = dtypes.finfo(dt).dtype
    elif not dtypes.is_float(dt):
        dt = dtypes.default_float_dtype()
    i = np.arange(n)
    k = (i + n // 2) % n - n // 2
    res = _divide(k, d, n, dt)
    return res if res.dtype == out_dtype else lax.convert_element_type(res, out_dtype)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """The sample frequencies of an n-point rfft (the n // 2 + 1 non-negative ones)."""
    n = _freq_args("rfftfreq", n, d)
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        dtypes.default_float_dtype()
    if not dtypes.is_inexact(dt):
        dt = dtypes.default_float_dtype()
    return _divide(np.arange(n // 2 + 1), d, n, dt)


def _shift(x, axes, sign: int, func_name: str):
    x = ensure_array(x, func_name)
    if axes is None:
        axes = tuple(range(x.ndim))
        shift = [sign * (dim // 2) for dim in x.shape]
    elif isinstance(axes, (int, np.integer)):
        shift = sign * (x.shape[axes] // 2)
    else:
        axes = tuple(axes)
        shift = [sign * (x.shape[ax] // 2) for ax in axes]
    if axes == ():
        return x
    return roll(x, shift, axes)


def fftshift(x, axes=None):
    """Move the zero frequency to the centre of the spectrum."""
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """The inverse of fftshift."""
    return _shift(x, axes, -1, "ifftshift")
