"""plax.scipy.signal: N-dimensional convolution and correlation (direct, or through the FFT),
their 2-D forms, and detrend (as jax.scipy.signal). The direct method sums shifted copies of
the larger input weighted by the smaller one's entries: exact, differentiable, one term per
entry of the smaller input."""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src.numpy.util import canonicalize_axis, promote_dtypes_inexact

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "detrend", "fftconvolve"]

_MODES = ("full", "same", "valid")


def _out_shape(mode: str, s1, s2, full):
    if mode == "full":
        return full
    if mode == "same":
        return tuple(s1)
    return tuple(a - b + 1 for a, b in zip(s1, s2))


def _crop(x, full, out):
    start = tuple((f - o) // 2 for f, o in zip(full, out))
    return lax.slice(x, start, tuple(s + o for s, o in zip(start, out)))


def _check(name, in1, in2, mode):
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {list(_MODES)}, got {mode!r}")
    if in1.ndim != in2.ndim:
        raise ValueError(f"{name}: in1 and in2 should have the same dimensionality, got "
                         f"{in1.ndim} and {in2.ndim}")
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"{name}: zero-size arrays not supported in convolutions, got shapes "
                         f"{in1.shape} and {in2.shape}.")


def _swap_for_valid(name, in1, in2):
    no_swap = all(a >= b for a, b in zip(in1.shape, in2.shape))
    swap = all(a <= b for a, b in zip(in1.shape, in2.shape))
    if not (no_swap or swap):
        raise ValueError(f"{name}: for 'valid' mode, one input must be at least as large as "
                         "the other in every dimension.")
    return (in2, in1) if swap and not no_swap else (in1, in2)


def _direct(in1, in2, mode):
    if mode == "valid":
        in1, in2 = _swap_for_valid("convolve", in1, in2)
    s1, s2 = in1.shape, in2.shape
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    out = _out_shape(mode, s1, s2, full)
    big, small = (in1, in2) if in1.size >= in2.size else (in2, in1)
    pads = [(k - 1, k - 1) for k in small.shape]
    padded = pnp.pad(big, pads)
    flipped = pnp.flip(small)
    acc = None
    for idx in itertools.product(*(range(k) for k in small.shape)):
        window = lax.slice(padded, idx, tuple(i + f for i, f in zip(idx, full)))
        term = window * flipped[idx]
        acc = term if acc is None else acc + term
    return _crop(acc, full, out)


def fftconvolve(in1, in2, mode: str = "full", axes: int | Sequence[int] | None = None):
    """Convolution of two N-d arrays through the FFT (over `axes`; other axes must agree in
    size and are treated as a batch)."""
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("fftconvolve", in1, in2, mode)
    if axes is None:
        axes = tuple(range(in1.ndim))
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    axes = tuple(canonicalize_axis(a, in1.ndim, "fftconvolve") for a in axes)
    batch = [i for i in range(in1.ndim) if i not in axes]
    if any(in1.shape[i] != in2.shape[i] for i in batch):
        raise ValueError(f"fftconvolve: in1 and in2 must have matching shapes on the "
                         f"non-convolved axes, got {in1.shape} and {in2.shape}")
    if mode == "valid":
        in1, in2 = _swap_for_valid("fftconvolve", in1, in2)
    s1 = [in1.shape[a] for a in axes]
    s2 = [in2.shape[a] for a in axes]
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    complex_ = pnp.iscomplexobj(in1) or pnp.iscomplexobj(in2)
    fft, ifft = (pnp.fft.fftn, pnp.fft.ifftn) if complex_ else (pnp.fft.rfftn, pnp.fft.irfftn)
    conv = ifft(fft(in1, full, axes) * fft(in2, full, axes), full, axes)
    out = _out_shape(mode, s1, s2, full)
    start = [0] * in1.ndim
    size = list(conv.shape)
    for a, f, o in zip(axes, full, out):
        start[a], size[a] = (f - o) // 2, o
    return lax.slice(conv, tuple(start), tuple(s + n for s, n in zip(start, size)))


def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """Convolution of two N-d arrays: method 'direct' (or 'auto') or 'fft'."""
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method not in ("direct", "auto"):
        raise ValueError(f"convolve: got method={method!r}; expected 'auto', 'direct' or 'fft'")
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("convolve", in1, in2, mode)
    return _direct(in1, in2, mode)


def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """Cross-correlation of two N-d arrays: convolve with in2 conjugated and reversed."""
    in2 = pnp.asarray(in2)
    return convolve(in1, pnp.flip(pnp.conj(in2)), mode, method=method, precision=precision)


def _check_2d(name, in1, in2, boundary, fillvalue):
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"{name}() only supports boundary='fill', fillvalue=0")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f"{name}() only supports 2-dimensional inputs.")


def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
               precision=None):
    """Convolution of two 2-d arrays (zero fill outside)."""
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return convolve(in1, in2, mode)


def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
                precision=None):
    """Cross-correlation of two 2-d arrays (zero fill outside)."""
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("correlate2d", in1, in2, mode)
    swap = all(a <= b for a, b in zip(in1.shape, in2.shape))
    same_shape = in1.shape == in2.shape
    # SciPy's conventions: the 'same' window is centred on the flipped problem, and a larger
    # in2 swaps the roles of the inputs
    if mode != "same" and swap and not (mode == "valid" and same_shape):
        out = _direct(pnp.flip(in2), pnp.conj(in1), mode)
        return out if mode == "valid" else pnp.conj(out)
    return pnp.flip(_direct(pnp.flip(in1), pnp.conj(in2), mode))


def detrend(data, axis: int = -1, type: str = "linear", bp=0,  # noqa: A002 - SciPy's name
            overwrite_data=None):
    """`data` minus its mean ('constant') or minus a least-squares line fitted on each
    segment between the breakpoints `bp` ('linear')."""
    if overwrite_data is not None:
        raise NotImplementedError("overwrite_data argument not implemented.")
    if type not in ("constant", "linear"):
        raise ValueError("Trend type must be 'linear' or 'constant'.")
    x, = promote_dtypes_inexact(pnp.asarray(data))
    if type == "constant":
        return x - pnp.mean(x, axis, keepdims=True)
    axis = canonicalize_axis(axis, x.ndim, "detrend")
    n = x.shape[axis]
    bps = np.sort(np.unique(np.r_[0, bp, n]))
    if np.any(bps > n) or np.any(bps < 0):
        raise ValueError("Breakpoints must be non-negative and less than length of data along "
                         "given axis.")
    moved = pnp.moveaxis(x, axis, 0)
    pieces = []
    for lo, hi in zip(bps[:-1], bps[1:]):
        seg = moved[int(lo):int(hi)]
        m = int(hi - lo)
        t = pnp.arange(1, m + 1, dtype=x.dtype) / m
        t = pnp.reshape(t, (m,) + (1,) * (seg.ndim - 1))
        tc = t - pnp.mean(t)
        slope = pnp.sum(tc * (seg - pnp.mean(seg, 0)), 0) / pnp.sum(tc * tc)
        pieces.append(seg - pnp.mean(seg, 0) - slope * tc)
    return pnp.moveaxis(pnp.concatenate(pieces, 0), 0, axis)
