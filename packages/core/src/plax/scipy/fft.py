"""plax.scipy.fft (as jax.scipy.fft): the type-2 discrete cosine transform and its inverse,
along one axis (dct, idct) or several (dctn, idctn), by an FFT of the even/odd-interleaved
signal (Makhoul's algorithm); norm None/'backward' or 'ortho'."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src.numpy.util import canonicalize_axis, promote_dtypes_inexact

__all__ = ["dct", "dctn", "idct", "idctn"]


def _check(name, type, norm):
    if type != 2:
        raise NotImplementedError("Only DCT type 2 is implemented.")
    if norm is not None and norm not in ("backward", "ortho"):
        raise ValueError(f"plax.scipy.fft.{name}: norm={norm!r} is not implemented")


def _resize(x, n, axis):
    """x zero-padded or truncated to length n along axis."""
    if n is None:
        return x
    n = operator.index(n)
    if n < x.shape[axis]:
        return lax.slice_in_dim(x, 0, n, axis=axis)
    pads = [(0, n - x.shape[axis] if a == axis else 0, 0) for a in range(x.ndim)]
    return lax.pad(x, np.zeros((), x.dtype), pads)


def _along(v, axis, ndim):
    """A vector laid along `axis` of an ndim array (size 1 elsewhere)."""
    return pnp.reshape(v, [-1 if a == axis else 1 for a in range(ndim)])


def _twiddle(n, dtype):
    """exp(-i pi k / (2n)) for k < n, in the complex dtype matching `dtype`."""
    return pnp.exp(-0.5j * np.pi * pnp.arange(n, dtype=dtype) / n)


def _ortho(out, axis):
    """Scale the k = 0 term by 1/sqrt(4n) and the others by 1/sqrt(2n)."""
    n = out.shape[axis]
    factor = np.full(n, 2.0)
    factor[0] = 4.0
    return out / _along(pnp.sqrt(pnp.asarray(factor * n, out.dtype)), axis, out.ndim)


def _complex_parts(fun, x, *args, **kwargs):
    return lax.complex(fun(pnp.real(x), *args, **kwargs), fun(pnp.imag(x), *args, **kwargs))


def dct(x, type: int = 2, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The DCT-II along `axis`: y_k = 2 sum_j x_j cos(pi k (2j + 1) / (2N))."""
    _check("dct", type, norm)
    x = pnp.asarray(x)
    if pnp.iscomplexobj(x):
        return _complex_parts(dct, x, type=type, n=n, axis=axis, norm=norm)
    x, = promote_dtypes_inexact(x)
    axis = canonicalize_axis(axis, x.ndim, "dct")
    x = _resize(x, n, axis)
    size = x.shape[axis]
    evens = lax.slice_in_dim(x, 0, size, 2, axis)
    odds = lax.rev(lax.slice_in_dim(x, 1, size, 2, axis), (axis,))
    spectrum = pnp.fft.fft(lax.concatenate([evens, odds], axis), axis=axis)
    out = 2 * pnp.real(spectrum * _along(_twiddle(size, x.dtype), axis, x.ndim))
    return _ortho(out, axis) if norm == "ortho" else out


def idct(x, type: int = 2, n: int | None = None, axis: int = -1, norm: str | None = None):
    """The inverse of dct (a DCT-III, scaled so that idct(dct(x)) == x for either norm)."""
    _check("idct", type, norm)
    x = pnp.asarray(x)
    if pnp.iscomplexobj(x):
        return _complex_parts(idct, x, type=type, n=n, axis=axis, norm=norm)
    x, = promote_dtypes_inexact(x)
    axis = canonicalize_axis(axis, x.ndim, "idct")
    x = _resize(x, n, axis)
    size = x.shape[axis]
    if norm != "ortho":
        x = _ortho(x, axis)
    x = _ortho(x, axis)
    w = _along(_twiddle(size, x.dtype), axis, x.ndim)
    v = pnp.real(pnp.fft.ifft(x.astype(w.dtype) / w * (2 * size), axis=axis))
    half = math.ceil(size / 2)
    evens = lax.slice_in_dim(v, 0, half, axis=axis)
    odds = lax.rev(lax.slice_in_dim(v, half, size, axis=axis), (axis,))
    # interleave back: evens to 0, 2, 4, ..., odds to 1, 3, ...
    pos = np.empty(size, np.int32)
    pos[0::2] = np.arange(half)
    pos[1::2] = half + np.arange(size - half)
    return pnp.take(lax.concatenate([evens, odds], axis), pos, axis=axis)


def _axes_and_sizes(x, s, axes):
    if s is not None:
        try:
            s = [operator.index(v) for v in s]
        except TypeError:
            s = [operator.index(s)]
        if len(s) > x.ndim:
            raise ValueError(f"s must have at most x.ndim ({x.ndim}) elements, got {len(s)}")
    if axes is None:
        axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else tuple(range(x.ndim))
    else:
        axes = tuple(canonicalize_axis(a, x.ndim, "dctn") for a in axes)
    sizes = [None] * len(axes) if s is None else s
    return axes, sizes


def dctn(x, type: int = 2, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None):
    """The DCT-II along each of `axes` (all by default), each padded or cut to s."""
    _check("dctn", type, norm)
    x = pnp.asarray(x)
    axes, sizes = _axes_and_sizes(x, s, axes)
    for a, n in zip(axes, sizes):
        x = dct(x, n=n, axis=a, norm=norm)
    return x


def idctn(x, type: int = 2, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None):
    """The inverse of dctn."""
    _check("idctn", type, norm)
    x = pnp.asarray(x)
    axes, sizes = _axes_and_sizes(x, s, axes)
    for a, n in zip(axes, sizes):
        x = idct(x, n=n, axis=a, norm=norm)
    return x
