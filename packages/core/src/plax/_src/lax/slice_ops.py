"""Slicing primitives with static sizes: slice (static bounds), dynamic_slice and
dynamic_update_slice (dynamic start indices, clamped so the block fits, as XLA does), and the
one-axis helpers jax.lax builds on them. Re-exported by `structural` (hence by plax.lax)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from plax._src import core, dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.lax import elementwise as ew
from plax._src.lax._params import (
    canonicalize_axis, int_tuple, is_array, static_int, static_ints)
from plax._src.registry import add_abstract_eval

__all__ = [
    "slice_p", "dynamic_slice_p", "dynamic_update_slice_p",
    "slice", "dynamic_slice", "dynamic_update_slice", "slice_in_dim", "index_in_dim",
    "dynamic_slice_in_dim", "dynamic_index_in_dim", "dynamic_update_slice_in_dim",
    "dynamic_update_index_in_dim",
]

slice_p = Primitive("slice", linear_in=(0,))


def _slice_rule(x, *, start_indices, limit_indices, strides=None):
    op = "slice"
    start = int_tuple(op, "start_indices", start_indices)
    limit = int_tuple(op, "limit_indices", limit_indices)
    if len(start) != x.ndim or len(limit) != x.ndim:
        raise PlaxTypeError(f"{op}: start_indices {start} and limit_indices {limit} must have "
                            f"one entry per dimension of the operand shape {x.shape}")
    if strides is None:
        steps = (1,) * x.ndim
    else:
        steps = int_tuple(op, "strides", strides)
        if len(steps) != x.ndim:
            raise PlaxTypeError(f"{op}: strides {steps} must have one entry per dimension of "
                                f"the operand shape {x.shape}")
        if any(s < 1 for s in steps):
            raise PlaxTypeError(f"{op}: strides must be positive, got {steps}")
    for lo, hi, d in zip(start, limit, x.shape, strict=True):
        if not 0 <= lo <= hi <= d:
            raise PlaxTypeError(
                f"{op}: need 0 <= start <= limit <= size in every dimension, got start_indices "
                f"{start} and limit_indices {limit} for operand shape {x.shape}")
    shape = tuple((hi - lo + st - 1) // st for lo, hi, st in zip(start, limit, steps,
                                                                  strict=True))
    return ShapedArray(shape, x.dtype, x.weak_type)


add_abstract_eval(slice_p, _slice_rule)


def _check_start_indices(op: str, x: ShapedArray, idx: Sequence[ShapedArray]) -> None:
    if len(idx) != x.ndim:
        raise PlaxTypeError(f"{op}: takes one start index per operand dimension; got "
                            f"{len(idx)} for operand shape {x.shape}")
    for k, i in enumerate(idx):
        if i.ndim:
            raise PlaxTypeError(f"{op}: start index {k} must be a scalar, got shape {i.shape}")
    if any(not dtypes.is_int(i.dtype) for i in idx) or len({i.dtype for i in idx}) > 1:
        raise PlaxTypeError(f"{op}: start indices must be integers of one dtype, got "
                            f"{', '.join(i.dtype.name for i in idx)}")


dynamic_slice_p = Primitive("dynamic_slice", linear_in=(0,))


def _dynamic_slice_rule(x, *idx, slice_sizes):
    op = "dynamic_slice"
    sizes = int_tuple(op, "slice_sizes", slice_sizes, nonneg=True)
    _check_start_indices(op, x, idx)
    if len(sizes) != x.ndim or any(s > d for s, d in zip(sizes, x.shape, strict=True)):
        raise PlaxTypeError(f"{op}: slice_sizes {sizes} must have one entry per operand "
                            f"dimension, each at most the size of operand shape {x.shape}")
    return ShapedArray(sizes, x.dtype, x.weak_type)


add_abstract_eval(dynamic_slice_p, _dynamic_slice_rule)

dynamic_update_slice_p = Primitive("dynamic_update_slice", linear_in=(0, 1))


def _dynamic_update_slice_rule(x, update, *idx):
    op = "dynamic_update_slice"
    if x.dtype != update.dtype:
        raise PlaxTypeError(f"{op}: operand and update must have the same dtype, got "
                            f"{x.dtype.name} and {update.dtype.name}")
    if update.ndim != x.ndim or any(u > d for u, d in zip(update.shape, x.shape, strict=True)):
        raise PlaxTypeError(f"{op}: update shape {update.shape} must have the operand's rank "
                            f"and fit inside operand shape {x.shape}")
    _check_start_indices(op, x, idx)
    # JAX's standard weak-type rule: weak only if every input is
    weak = x.weak_type and update.weak_type and all(i.weak_type for i in idx)
    return ShapedArray(x.shape, x.dtype, weak)


add_abstract_eval(dynamic_update_slice_p, _dynamic_update_slice_rule)


# ---------------------------------------------------------------------------------------------
# User functions


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001
    """operand[start:limit:stride] in every dimension (static bounds)."""
    return slice_p.bind(
        operand, start_indices=static_ints("slice", "start_indices", start_indices),
        limit_indices=static_ints("slice", "limit_indices", limit_indices),
        strides=None if strides is None else static_ints("slice", "strides", strides))


def _dynamic_indices(op: str, shape: tuple, start_indices, allow_negative) -> list:
    """Scalar start indices, one per dimension, with negative ones counted from the end.

    Python/NumPy integers stay static (literals in a jaxpr); traced indices get a select."""
    if is_array(start_indices) or isinstance(start_indices, np.ndarray):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise ValueError(f"lax.{op}: start_indices given as an array must be 1-D, got "
                             f"shape {aval.shape}")
        if isinstance(start_indices, np.ndarray):
            indices = list(start_indices)
        else:
            indices = [index_in_dim(start_indices, k, 0, keepdims=False)
                       for k in range(aval.shape[0])]
    else:
        indices = list(start_indices)
    if isinstance(allow_negative, (bool, np.bool_)):
        allow_negative = [bool(allow_negative)] * len(shape)
    if len(indices) != len(shape) or len(allow_negative) != len(shape):
        raise ValueError(f"lax.{op}: takes one start index per operand dimension; got "
                         f"{len(indices)} for operand shape {shape}")
    out, weak = [], []
    for k, (i, d, neg) in enumerate(zip(indices, shape, allow_negative, strict=True)):
        if isinstance(i, np.ndarray) and i.ndim == 0:
            i = i[()]
        weak.append(type(i) is int)
        if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            v = int(i)
            if v < 0 and not neg:
                raise ValueError(f"lax.{op}: index {v} is out of bounds for dimension {k} of "
                                 f"size {d} when allow_negative_indices=False")
            v = v + d if v < 0 else v
            dt = dtypes.canonicalize_dtype(dtypes.dtype(i))
            out.append(np.array(v).astype(dt)[()])  # a typed NumPy scalar: a literal in jaxprs
            continue
        aval = get_aval(i)
        if aval.ndim or not dtypes.is_int(aval.dtype):
            raise PlaxTypeError(f"{op}: start index {k} must be an integer scalar, got "
                                f"{aval.str_short()}")
        if neg and not dtypes.is_unsigned(aval.dtype):
            zero, size = np.zeros((), aval.dtype), np.array(d).astype(aval.dtype)
            i = ew.select(ew.lt(i, zero), ew.add(i, size), i)
        out.append(i)
    return _one_index_dtype(out, weak)


def _one_index_dtype(indices: list, weak: list) -> list:
    """Static start indices (Python ints, NumPy scalars: literals) take the dtype of the traced
    ones when those agree (an int64 argmax beside plax.numpy's static 0 under x64), as JAX's
    indexing does; Python ints also take the dtype of typed static ones. Typed indices that
    still differ (np.int8 beside np.int32, or two traced dtypes) are left for the abstract
    eval to reject, as JAX does."""
    traced = {get_aval(i).dtype for i in indices if not isinstance(i, np.generic)}
    typed = {get_aval(i).dtype for i, w in zip(indices, weak) if not w}
    target = traced if traced else typed
    if len(target) != 1:
        return indices
    (common,) = target
    return [np.array(i).astype(common)[()]
            if (w or (traced and isinstance(i, np.generic))) else i
            for i, w in zip(indices, weak)]


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """A slice of static size at dynamic start indices, which are clamped so the slice fits."""
    shape = get_aval(operand).shape
    idx = _dynamic_indices("dynamic_slice", shape, start_indices, allow_negative_indices)
    sizes = core.canonicalize_shape(slice_sizes, "slice_sizes of lax.dynamic_slice")
    return dynamic_slice_p.bind(operand, *idx, slice_sizes=sizes)


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """Overwrite a block of `operand` with `update` at clamped dynamic start indices."""
    shape = get_aval(operand).shape
    idx = _dynamic_indices("dynamic_update_slice", shape, start_indices, allow_negative_indices)
    return dynamic_update_slice_p.bind(operand, update, *idx)


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """operand[..., start:limit:stride] along `axis` (negative start/limit count from the end)."""
    shape = get_aval(operand).shape
    axis = canonicalize_axis("slice_in_dim", axis, len(shape))
    n = shape[axis]
    start = 0 if start_index is None else static_int("slice_in_dim", "start_index", start_index)
    limit = n if limit_index is None else static_int("slice_in_dim", "limit_index", limit_index)
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis] = start + n if start < 0 else start
    limits[axis] = limit + n if limit < 0 else limit
    strides[axis] = static_int("slice_in_dim", "stride", stride)
    return slice(operand, starts, limits, strides)


def _squeeze(x, axis: int):
    # imported here: structural re-exports this module, so it cannot be imported at the top
    from plax._src.lax.structural import squeeze
    return squeeze(x, (axis,))


def index_in_dim(operand, index, axis=0, keepdims=True):
    """operand[..., index] along `axis` with a static index."""
    shape = get_aval(operand).shape
    axis = canonicalize_axis("index_in_dim", axis, len(shape))
    index = static_int("index_in_dim", "index", index)
    n = shape[axis]
    wrapped = index + n if index < 0 else index
    if not 0 <= wrapped < n:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {n}")
    out = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    return out if keepdims else _squeeze(out, axis)


def _zero_index_like(index):
    """A static 0 of the same type as `index`, for the dimensions that are not sliced."""
    if type(index) is int:
        return 0
    return np.zeros((), get_aval(index).dtype)


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *,
                         allow_negative_indices=True):
    """operand[..., start:start + slice_size] along `axis`, with a dynamic start."""
    shape = get_aval(operand).shape
    axis = canonicalize_axis("dynamic_slice_in_dim", axis, len(shape))
    starts = [_zero_index_like(start_index)] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = static_int("dynamic_slice_in_dim", "slice_size", slice_size)
    allow = [False] * len(shape)
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """operand[..., index] along `axis`, with a dynamic index."""
    axis = canonicalize_axis("dynamic_index_in_dim", axis, get_aval(operand).ndim)
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else _squeeze(out, axis)


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *,
                                allow_negative_indices=True):
    """Write `update` into `operand` at a dynamic start along `axis` (at 0 along the others)."""
    ndim = get_aval(operand).ndim
    axis = canonicalize_axis("dynamic_update_slice_in_dim", axis, ndim)
    starts = [_zero_index_like(start_index)] * ndim
    starts[axis] = start_index
    allow = [False] * ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """Write `update` (with or without the size-1 `axis`) into `operand` at a dynamic index."""
    ndim = get_aval(operand).ndim
    axis = canonicalize_axis("dynamic_update_index_in_dim", axis, ndim)
    update_ndim = get_aval(update).ndim
    if update_ndim == ndim - 1:
        from plax._src.lax.structural import expand_dims  # see _squeeze
        update = expand_dims(update, (axis,))
    elif update_ndim != ndim:
        raise TypeError(f"lax.dynamic_update_index_in_dim: update of rank {update_ndim} for an "
                        f"operand of rank {ndim}; it needs rank {ndim} or {ndim - 1}")
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)
