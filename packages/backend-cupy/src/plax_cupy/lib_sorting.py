"""Library implementations of sort and top_k through `xp`, with JAX's orders made explicit as
integer or (nan-flag, value) keys so that the library's own NaN and signed-zero handling never
decides; multi-key sorts are successive stable argsorts (least significant key first)."""

from __future__ import annotations

import numpy as np

from plax_cupy import xp as X


def _float_keys(x) -> list:
    """Sort keys of a float array, most significant first: NaNs last (all NaNs equal),
    -0.0 equal to 0.0."""
    xp = X.xp
    v = x.astype(np.float64)
    nan = xp.isnan(v)
    return [nan, xp.where(nan, 0.0, v) + 0.0]  # + 0.0 turns -0.0 into 0.0


def _sort_keys(x) -> list:
    if x.dtype.kind == "c":
        return _float_keys(x.real) + _float_keys(x.imag)  # lexicographic (real, imag)
    if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
        return _float_keys(x)
    return [x]


def _lexsort_last_axis(keys):
    """The stable permutation along the last axis ordering by keys[0], then keys[1], ..."""
    xp = X.xp
    if not X.on_gpu():
        return np.lexsort(keys[::-1], axis=-1)  # primary key last
    perm = None
    for k in keys[::-1]:
        if perm is None:
            perm = xp.argsort(k, axis=-1, kind="stable")
        else:
            kk = xp.take_along_axis(k, perm, axis=-1)
            perm = xp.take_along_axis(perm, xp.argsort(kk, axis=-1, kind="stable"), axis=-1)
    return perm


def _sort(*operands, dimension, is_stable, num_keys):
    xp = X.xp
    moved = [xp.moveaxis(x, dimension, -1) for x in operands]
    if moved[0].size == 0:
        return list(operands)
    keys = [k for x in moved[:num_keys] for k in _sort_keys(x)]
    perm = _lexsort_last_axis(keys)
    return [xp.moveaxis(xp.take_along_axis(x, perm, axis=-1), -1, dimension) for x in moved]


def _descending_key(x):
    """An integer key whose ascending order is `x`'s descending IEEE total order."""
    xp = X.xp
    if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
        bits = xp.ascontiguousarray(x).view(np.dtype(f"i{x.dtype.itemsize}")).astype(np.int64)
        # negative floats order by reversed magnitude: flip their magnitude bits
        mag_mask = (1 << (8 * x.dtype.itemsize - 1)) - 1
        key = xp.where(bits < 0, bits ^ mag_mask, bits)
    elif x.dtype == np.bool_:
        key = x.astype(np.int64)
    elif x.dtype.kind == "u":
        return ~x  # max - x, no overflow
    else:
        key = x
    return ~key  # -key - 1: reverses the order without overflowing at the minimum


def _top_k(operand, *, k, axis):
    xp = X.xp
    x = xp.moveaxis(operand, axis, -1)
    if x.size == 0:
        order = xp.zeros(x.shape[:-1] + (k,), np.int64)
    else:
        order = xp.argsort(_descending_key(x), axis=-1, kind="stable")[..., :k]
    values = xp.take_along_axis(x, order, axis=-1)
    return [xp.moveaxis(values, -1, axis), xp.moveaxis(order.astype(np.int32), -1, axis)]


LIBRARY = {
    "sort": _sort,
    "top_k": _top_k,
}
