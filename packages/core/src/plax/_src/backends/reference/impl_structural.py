"""NumPy implementations of the structural and slicing primitives (XLA's semantics: negative
padding crops, dynamic start indices are clamped so the block fits)."""

from __future__ import annotations

import numpy as np

from plax._src.lax import slice_ops as sl
from plax._src.lax import structural as st


def _broadcast_in_dim(x, *, shape, broadcast_dimensions, sharding=None):
    # put the operand's dimensions in target order, add the new ones as size 1, then stretch
    order = np.argsort(broadcast_dimensions)
    x = np.transpose(x, order)
    kept = sorted(broadcast_dimensions)
    expanded = [1] * len(shape)
    for d, size in zip(kept, x.shape, strict=True):
        expanded[d] = size
    # a copy: a broadcast view has zero strides and must not alias a buffer
    return np.array(np.broadcast_to(x.reshape(expanded), shape))


def _reshape(x, *, new_sizes, dimensions=None, sharding=None):
    if dimensions is not None:
        x = np.transpose(x, dimensions)
    return np.reshape(x, new_sizes)


def _transpose(x, *, permutation):
    return np.transpose(x, permutation)


def _squeeze(x, *, dimensions):
    return np.squeeze(x, axis=tuple(dimensions))


def _rev(x, *, dimensions):
    return np.flip(x, axis=tuple(dimensions)) if dimensions else x


def _concatenate(*xs, dimension):
    return np.concatenate(xs, axis=dimension)


def _pad(x, padding_value, *, padding_config):
    """out[lo + k * (interior + 1)] = x[k] per dimension where that lands inside the output."""
    shape = [lo + hi + (d + (d - 1) * i if d else 0)
             for (lo, hi, i), d in zip(padding_config, x.shape, strict=True)]
    out = np.full(shape, padding_value, dtype=x.dtype)
    src, dst = [], []
    for (lo, _, interior), d, n in zip(padding_config, x.shape, shape, strict=True):
        step = interior + 1
        k0 = max(0, -(lo // step))           # first source index landing at >= 0
        k1 = min(d, (n - 1 - lo) // step + 1)  # one past the last landing at <= n - 1
        if k1 <= k0:
            return out
        src.append(slice(k0, k1))
        dst.append(slice(lo + k0 * step, lo + (k1 - 1) * step + 1, step))
    out[tuple(dst)] = x[tuple(src)]
    return out


def _iota(*, dtype, shape, dimension, sharding=None):
    ramp = np.arange(shape[dimension]).astype(dtype)
    ramp = ramp.reshape([-1 if i == dimension else 1 for i in range(len(shape))])
    return np.array(np.broadcast_to(ramp, shape))


def _slice(x, *, start_indices, limit_indices, strides=None):
    strides = strides or (1,) * x.ndim
    bounds = zip(start_indices, limit_indices, strides, strict=True)
    return x[tuple(slice(s, e, step) for s, e, step in bounds)]


def _clamped_starts(idx, shape, sizes) -> list[int]:
    # XLA clamps each start into [0, dim - size] so the whole block is in bounds
    return [min(max(int(i), 0), d - s) for i, d, s in zip(idx, shape, sizes, strict=True)]


def _dynamic_slice(x, *idx, slice_sizes):
    starts = _clamped_starts(idx, x.shape, slice_sizes)
    return x[tuple(slice(s, s + n) for s, n in zip(starts, slice_sizes, strict=True))]


def _dynamic_update_slice(x, update, *idx):
    starts = _clamped_starts(idx, x.shape, update.shape)
    out = np.array(x)
    out[tuple(slice(s, s + n) for s, n in zip(starts, update.shape, strict=True))] = update
    return out


IMPLS = {
    st.broadcast_in_dim_p: _broadcast_in_dim,
    st.reshape_p: _reshape,
    st.transpose_p: _transpose,
    st.squeeze_p: _squeeze,
    st.rev_p: _rev,
    st.concatenate_p: _concatenate,
    st.pad_p: _pad,
    st.iota_p: _iota,
    sl.slice_p: _slice,
    sl.dynamic_slice_p: _dynamic_slice,
    sl.dynamic_update_slice_p: _dynamic_update_slice,
}
