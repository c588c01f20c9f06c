"""NumPy implementations of sort and top_k, with JAX's orders made explicit as integer or
(nan-flag, value) keys so that NumPy's own NaN and signed-zero handling never decides."""

from __future__ import annotations

import numpy as np

from plax._src import dtypes
from plax._src.lax import sorting as so


def _float_keys(x: np.ndarray) -> list[np.ndarray]:
    """Sort keys of a float array, most significant first: NaNs last (all NaNs equal),
    -0.0 equal to 0.0."""
    v = x.astype(np.float64)
    nan = np.isnan(v)
    return [nan, np.where(nan, 0.0, v) + 0.0]  # + 0.0 turns -0.0 into 0.0


def _sort_keys(x: np.ndarray) -> list[np.ndarray]:
    if dtypes.is_complex(x.dtype):
        return _float_keys(x.real) + _float_keys(x.imag)  # lexicographic (real, imag)
    if dtypes.is_float(x.dtype):
        return _float_keys(x)
    return [x]


def _sort(*operands, dimension, is_stable, num_keys):
    moved = [np.moveaxis(x, dimension, -1) for x in operands]
    keys = [k for x in moved[:num_keys] for k in _sort_keys(x)]
    if moved[0].size == 0:
        return list(operands)
    # np.lexsort is stable and takes its primary key last
    perm = np.lexsort(keys[::-1], axis=-1)
    return [np.moveaxis(np.take_along_axis(x, perm, axis=-1), -1, dimension) for x in moved]


def _descending_key(x: np.ndarray) -> np.ndarray:
    """An integer key whose ascending order is `x`'s descending IEEE total order."""
    if dtypes.is_float(x.dtype):
        bits = x.view(np.dtype(f"i{x.dtype.itemsize}")).astype(np.int64)
        # negative floats order by reversed magnitude: flip their magnitude bits
        mag_mask = (1 << (8 * x.dtype.itemsize - 1)) - 1
        key = np.where(bits < 0, bits ^ mag_mask, bits)
    elif x.dtype == np.bool_:
        key = x.astype(np.int64)
    elif dtypes.is_unsigned(x.dtype):
        return ~x  # max - x, no overflow
    else:
        key = x
    return ~key  # -key - 1: reverses the order without overflowing at the minimum


def _top_k(operand, *, k, axis):
    x = np.moveaxis(operand, axis, -1)
    if x.size == 0:
        order = np.zeros(x.shape[:-1] + (k,), np.int64)
    else:
        order = np.argsort(_descending_key(x), axis=-1, kind="stable")[..., :k]
    values = np.take_along_axis(x, order, axis=-1)
    return [np.moveaxis(values, -1, axis), np.moveaxis(order.astype(np.int32), -1, axis)]


IMPLS = {
    so.sort_p: _sort,
    so.top_k_p: _top_k,
}
