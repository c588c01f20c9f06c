"""Structural primitives: they move, copy or make elements but compute nothing new
(broadcast_in_dim, reshape, transpose, squeeze, rev, concatenate, pad, slice, dynamic_slice,
dynamic_update_slice, iota), with JAX's param names and the user helpers jax.lax builds on them.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Sequence

import numpy as np

from plax._src import core, dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.lax import elementwise as ew
from plax._src.registry import add_abstract_eval

__all__ = [
    "broadcast_in_dim_p", "reshape_p", "transpose_p", "squeeze_p", "rev_p", "concatenate_p",
    "pad_p", "slice_p", "dynamic_slice_p", "dynamic_update_slice_p", "iota_p",
    "broadcast_in_dim", "broadcast", "broadcast_to_rank", "reshape", "transpose", "squeeze",
    "expand_dims", "rev", "concatenate", "pad", "slice", "dynamic_slice",
    "dynamic_update_slice", "iota", "broadcasted_iota", "full", "full_like", "zeros_like_array",
    "collapse", "slice_in_dim", "index_in_dim", "dynamic_slice_in_dim", "dynamic_index_in_dim",
    "dynamic_update_slice_in_dim", "dynamic_update_index_in_dim",
]


class _EveryOperand(tuple):
    """`linear_in` of a variadic primitive (concatenate): it contains every operand index.

    Primitive.linear_in is a tuple of indices, which cannot name "all operands" of a primitive
    that takes any number of them; this empty tuple answers `i in linear_in` with True."""

    def __contains__(self, i):
        return isinstance(i, (int, np.integer)) and i >= 0

    def __bool__(self):
        return True

    def __eq__(self, other):
        return other is self

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return "EVERY_OPERAND"


EVERY_OPERAND = _EveryOperand()


# ---------------------------------------------------------------------------------------------
# Checking params (abstract-eval rules) and normalizing user arguments (user functions)


def _int_tuple(op: str, what: str, value: Any, nonneg: bool = False) -> tuple[int, ...]:
    """A param that must be a sequence of integers, as a tuple of Python ints."""
    if not isinstance(value, (tuple, list, np.ndarray)):
        raise PlaxTypeError(f"{op}: {what} must be a tuple of integers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise PlaxTypeError(f"{op}: {what} must contain only integers, got {value!r}")
        out.append(int(v))
    if nonneg and any(v < 0 for v in out):
        raise PlaxTypeError(f"{op}: {what} must be nonnegative, got {tuple(out)}")
    return tuple(out)


def _check_no_sharding(op: str, sharding: Any) -> None:
    if sharding is not None:
        raise PlaxTypeError(f"{op}: plax has no sharded arrays; sharding must be None, got "
                            f"{sharding!r}")


def _check_dims(op: str, what: str, dims: tuple[int, ...], ndim: int) -> None:
    """Dimension numbers: unique and in [0, ndim) (lax takes no negative dimensions)."""
    if len(set(dims)) != len(dims):
        raise PlaxTypeError(f"{op}: {what} must be unique, got {dims}")
    bad = [d for d in dims if not 0 <= d < ndim]
    if bad:
        raise PlaxTypeError(f"{op}: {what} {dims} are out of range for an operand of rank "
                            f"{ndim} (valid: 0 to {ndim - 1}; lax takes no negative dimensions)")


def _static_ints(op: str, what: str, value: Any) -> tuple[int, ...]:
    """A user argument that must be a sequence of concrete integers."""
    try:
        return tuple(core.concrete_or_error(operator.index, v, f"{what} of lax.{op}")
                     for v in value)
    except core.ConcretizationTypeError:
        raise
    except TypeError:
        raise TypeError(f"lax.{op}: {what} must be a sequence of integers, got {value!r}"
                        ) from None


def _static_int(op: str, what: str, value: Any) -> int:
    try:
        return core.concrete_or_error(operator.index, value, f"{what} of lax.{op}")
    except core.ConcretizationTypeError:
        raise
    except TypeError:
        raise TypeError(f"lax.{op}: {what} must be an integer, got {value!r}") from None


def _canonicalize_axis(op: str, axis: Any, ndim: int) -> int:
    axis = _static_int(op, "axis", axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.{op}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis + ndim if axis < 0 else axis


def _is_array(x: Any) -> bool:
    """An Array or a tracer (what JAX calls a jax.Array): returned as is by no-op calls."""
    return getattr(x, "aval", None) is not None


# ---------------------------------------------------------------------------------------------
# broadcast_in_dim, reshape, transpose, squeeze, rev

broadcast_in_dim_p = Primitive("broadcast_in_dim", linear_in=(0,))


def _broadcast_in_dim_rule(x, *, shape, broadcast_dimensions, sharding=None):
    op = "broadcast_in_dim"
    shape = _int_tuple(op, "shape", shape, nonneg=True)
    dims = _int_tuple(op, "broadcast_dimensions", broadcast_dimensions)
    _check_no_sharding(op, sharding)
    if len(dims) != x.ndim:
        raise PlaxTypeError(f"{op}: broadcast_dimensions must have one entry per operand "
                            f"dimension; got {dims} for an operand of shape {x.shape}")
    if len(shape) < x.ndim:
        raise PlaxTypeError(f"{op}: the target shape {shape} has lower rank than the operand "
                            f"shape {x.shape}")
    _check_dims(op, "broadcast_dimensions", dims, len(shape))
    for i, d in enumerate(dims):
        if x.shape[i] not in (1, shape[d]):
            raise PlaxTypeError(
                f"{op}: operand dimension {i} has size {x.shape[i]}, which is neither 1 nor "
                f"the size {shape[d]} of target dimension {d} (operand shape {x.shape}, target "
                f"shape {shape}, broadcast_dimensions {dims})")
    return ShapedArray(shape, x.dtype, x.weak_type)


add_abstract_eval(broadcast_in_dim_p, _broadcast_in_dim_rule)


def _broadcast_in_dim_shown_params(params: dict) -> dict:
    # as JAX prints it: the shape is the binder's type, a trivial mapping is not shown
    shown = {k: v for k, v in params.items() if k not in ("shape", "sharding")}
    if not shown.get("broadcast_dimensions", True):
        del shown["broadcast_dimensions"]
    return shown


core._pp_param_rules[broadcast_in_dim_p] = _broadcast_in_dim_shown_params

reshape_p = Primitive("reshape", linear_in=(0,))


def _reshape_rule(x, *, new_sizes, dimensions=None, sharding=None):
    op = "reshape"
    new_sizes = _int_tuple(op, "new_sizes", new_sizes, nonneg=True)
    _check_no_sharding(op, sharding)
    if dimensions is not None:
        dims = _int_tuple(op, "dimensions", dimensions)
        if sorted(dims) != list(range(x.ndim)):
            raise PlaxTypeError(f"{op}: dimensions must be a permutation of the operand's "
                                f"dimensions, got {dims} for operand shape {x.shape}")
    if math.prod(new_sizes) != x.size:
        raise PlaxTypeError(f"{op}: cannot reshape an operand of shape {x.shape} ({x.size} "
                            f"elements) into shape {new_sizes} ({math.prod(new_sizes)} elements)")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


add_abstract_eval(reshape_p, _reshape_rule)

transpose_p = Primitive("transpose", linear_in=(0,))


def _transpose_rule(x, *, permutation):
    perm = _int_tuple("transpose", "permutation", permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise PlaxTypeError(f"transpose: permutation {perm} is not a permutation of the "
                            f"operand's dimensions (operand shape {x.shape})")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype, x.weak_type)


add_abstract_eval(transpose_p, _transpose_rule)

squeeze_p = Primitive("squeeze", linear_in=(0,))


def _squeeze_rule(x, *, dimensions):
    dims = _int_tuple("squeeze", "dimensions", dimensions)
    _check_dims("squeeze", "dimensions", dims, x.ndim)
    if any(x.shape[d] != 1 for d in dims):
        raise PlaxTypeError(f"squeeze: cannot remove dimensions {dims} of shape {x.shape}: "
                            "only dimensions of size 1 can be squeezed")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype,
                       x.weak_type)


add_abstract_eval(squeeze_p, _squeeze_rule)

rev_p = Primitive("rev", linear_in=(0,))


def _rev_rule(x, *, dimensions):
    _check_dims("rev", "dimensions", _int_tuple("rev", "dimensions", dimensions), x.ndim)
    return ShapedArray(x.shape, x.dtype, x.weak_type)


add_abstract_eval(rev_p, _rev_rule)


# ---------------------------------------------------------------------------------------------
# concatenate, pad

concatenate_p = Primitive("concatenate")
concatenate_p.linear_in = EVERY_OPERAND


def _concatenate_rule(*xs, dimension):
    op = "concatenate"
    if not xs:
        raise PlaxTypeError(f"{op} needs at least one operand")
    if isinstance(dimension, (bool, np.bool_)) or not isinstance(dimension, (int, np.integer)):
        raise PlaxTypeError(f"{op}: dimension must be an integer, got {dimension!r}")
    shapes = ", ".join(str(x.shape) for x in xs)
    if len({x.ndim for x in xs}) != 1:
        raise PlaxTypeError(f"{op}: operands must have the same rank, got shapes {shapes}")
    if not 0 <= dimension < xs[0].ndim:
        raise PlaxTypeError(f"{op}: dimension {dimension} is out of range for operands of "
                            f"shapes {shapes}")
    if len({x.dtype for x in xs}) != 1:
        raise PlaxTypeError(
            f"lax.{op} requires arguments to have the same dtypes, got "
            f"{', '.join(x.dtype.name for x in xs)}. (Tip: plax.numpy.concatenate promotes "
            "dtypes automatically)")
    others = {x.shape[:dimension] + x.shape[dimension + 1:] for x in xs}
    if len(others) != 1:
        raise PlaxTypeError(f"{op}: operand shapes may differ only in dimension {dimension}, "
                            f"got shapes {shapes}")
    size = sum(x.shape[dimension] for x in xs)
    shape = xs[0].shape[:dimension] + (size,) + xs[0].shape[dimension + 1:]
    return ShapedArray(shape, xs[0].dtype, all(x.weak_type for x in xs))


add_abstract_eval(concatenate_p, _concatenate_rule)

pad_p = Primitive("pad", linear_in=(0, 1))


def _pad_rule(x, padding_value, *, padding_config):
    op = "pad"
    if x.dtype != padding_value.dtype:
        raise PlaxTypeError(f"{op}: operand and padding_value must have the same dtype, got "
                            f"{x.dtype.name} and {padding_value.dtype.name}")
    if padding_value.ndim:
        raise PlaxTypeError(f"{op}: padding_value must be a scalar, got shape "
                            f"{padding_value.shape}")
    if not isinstance(padding_config, (tuple, list)) or len(padding_config) != x.ndim:
        raise PlaxTypeError(f"{op}: padding_config must have one (low, high, interior) triple "
                            f"per operand dimension, got {padding_config!r} for operand shape "
                            f"{x.shape}")
    shape = []
    for entry in padding_config:
        lo_hi_int = _int_tuple(op, "each padding_config entry", entry)
        if len(lo_hi_int) != 3:
            raise PlaxTypeError(f"{op}: each padding_config entry must be a (low, high, "
                                f"interior) triple, got {entry!r}")
        if lo_hi_int[2] < 0:
            raise PlaxTypeError(f"{op}: interior padding must be nonnegative, got "
                                f"padding_config {padding_config}")
    for (lo, hi, interior), d in zip(padding_config, x.shape):
        shape.append(lo + hi + (d + (d - 1) * interior if d else 0))
    if any(d < 0 for d in shape):
        raise PlaxTypeError(f"{op}: padding_config {padding_config} removes more elements than "
                            f"operand shape {x.shape} has (result shape {tuple(shape)})")
    return ShapedArray(tuple(shape), x.dtype, x.weak_type and padding_value.weak_type)


add_abstract_eval(pad_p, _pad_rule)


# ---------------------------------------------------------------------------------------------
# slice, dynamic_slice, dynamic_update_slice

slice_p = Primitive("slice", linear_in=(0,))


def _slice_rule(x, *, start_indices, limit_indices, strides=None):
    op = "slice"
    start = _int_tuple(op, "start_indices", start_indices)
    limit = _int_tuple(op, "limit_indices", limit_indices)
    if len(start) != x.ndim or len(limit) != x.ndim:
        raise PlaxTypeError(f"{op}: start_indices {start} and limit_indices {limit} must have "
                            f"one entry per dimension of the operand shape {x.shape}")
    if strides is None:
        steps = (1,) * x.ndim
    else:
        steps = _int_tuple(op, "strides", strides)
        if len(steps) != x.ndim:
            raise PlaxTypeError(f"{op}: strides {steps} must have one entry per dimension of "
                                f"the operand shape {x.shape}")
        if any(s < 1 for s in steps):
            raise PlaxTypeError(f"{op}: strides must be positive, got {steps}")
    for s, l, d in zip(start, limit, x.shape):
        if not 0 <= s <= l <= d:
            raise PlaxTypeError(
                f"{op}: need 0 <= start <= limit <= size in every dimension, got start_indices "
                f"{start} and limit_indices {limit} for operand shape {x.shape}")
    shape = tuple((l - s + st - 1) // st for s, l, st in zip(start, limit, steps))
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
    sizes = _int_tuple(op, "slice_sizes", slice_sizes, nonneg=True)
    _check_start_indices(op, x, idx)
    if len(sizes) != x.ndim or any(s > d for s, d in zip(sizes, x.shape)):
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
    if update.ndim != x.ndim or any(u > d for u, d in zip(update.shape, x.shape)):
        raise PlaxTypeError(f"{op}: update shape {update.shape} must have the operand's rank "
                            f"and fit inside operand shape {x.shape}")
    _check_start_indices(op, x, idx)
    weak = x.weak_type and update.weak_type and all(i.weak_type for i in idx)
    return ShapedArray(x.shape, x.dtype, weak)


add_abstract_eval(dynamic_update_slice_p, _dynamic_update_slice_rule)


# ---------------------------------------------------------------------------------------------
# iota (no operands)

iota_p = Primitive("iota")


def _iota_rule(*, dtype, shape, dimension, sharding=None):
    op = "iota"
    if not isinstance(dtype, np.dtype) or dtype == dtypes.bool_ or dtype not in dtypes.SUPPORTED:
        raise PlaxTypeError(f"{op} does not accept dtype {dtype}; it needs an integer, floating "
                            "or complex dtype")
    shape = _int_tuple(op, "shape", shape, nonneg=True)
    _check_no_sharding(op, sharding)
    if isinstance(dimension, (bool, np.bool_)) or not isinstance(dimension, (int, np.integer)) \
            or not 0 <= dimension < len(shape):
        raise PlaxTypeError(f"{op}: dimension must be an integer in [0, {len(shape)}) for "
                            f"shape {shape}, got {dimension!r}")
    return ShapedArray(shape, dtype, False)


add_abstract_eval(iota_p, _iota_rule)


# ---------------------------------------------------------------------------------------------
# User functions


def broadcast_in_dim(operand, shape, broadcast_dimensions, *, out_sharding=None):
    """Broadcast `operand` to `shape`; operand dimension i becomes broadcast_dimensions[i]."""
    shape = core.canonicalize_shape(shape, "shape of lax.broadcast_in_dim")
    dims = _static_ints("broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions)
    if not shape and not dims and _is_array(operand) and not get_aval(operand).shape:
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=dims,
                                   sharding=out_sharding)


def broadcast(operand, sizes, *, out_sharding=None):
    """Add leading dimensions of the given sizes."""
    sizes = core.canonicalize_shape(sizes, "sizes of lax.broadcast")
    aval = get_aval(operand)
    if not sizes and out_sharding is None:
        return operand if _is_array(operand) else _as_array(operand)
    dims = tuple(range(len(sizes), len(sizes) + aval.ndim))
    return broadcast_in_dim(operand, sizes + aval.shape, dims, out_sharding=out_sharding)


def broadcast_to_rank(x, rank: int):
    """Add leading dimensions of size 1 to give `x` rank `rank`."""
    ndim = get_aval(x).ndim
    if ndim == rank:
        return x if _is_array(x) else _as_array(x)
    return broadcast(x, (1,) * (rank - ndim))


def _as_array(x):
    from plax._src import dispatch
    return dispatch.asarray_value(x)


def reshape(operand, new_sizes, dimensions=None, *, out_sharding=None):
    """Reshape (row-major), after transposing by `dimensions` when given."""
    new_sizes = core.canonicalize_shape(new_sizes, "new_sizes of lax.reshape")
    aval = get_aval(operand)
    dims = None if dimensions is None else _static_ints("reshape", "dimensions", dimensions)
    same_dims = dims is None or dims == tuple(range(aval.ndim))
    if aval.shape and aval.shape == new_sizes and same_dims and out_sharding is None \
            and _is_array(operand):
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=None if same_dims else dims,
                          sharding=out_sharding)


def transpose(operand, permutation):
    permutation = _static_ints("transpose", "permutation", permutation)
    if permutation == tuple(range(get_aval(operand).ndim)) and _is_array(operand):
        return operand
    return transpose_p.bind(operand, permutation=permutation)


def squeeze(array, dimensions):
    """Remove dimensions of size 1 (negative dimensions count from the end)."""
    ndim = get_aval(array).ndim
    dims = tuple(sorted(_canonicalize_axis("squeeze", d, ndim) for d in dimensions))
    if not dims and _is_array(array):
        return array
    return squeeze_p.bind(array, dimensions=dims)


def expand_dims(array, dimensions):
    """Insert dimensions of size 1 at `dimensions` (positions in the result)."""
    dimensions = _static_ints("expand_dims", "dimensions", dimensions)
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"repeated axis in lax.expand_dims: {dimensions}")
    shape = get_aval(array).shape
    ndim_out = len(shape) + len(dimensions)
    dims = {_canonicalize_axis("expand_dims", d, ndim_out) for d in dimensions}
    if len(dims) != len(dimensions):
        raise ValueError(f"repeated axis in lax.expand_dims: {dimensions} (rank {ndim_out})")
    out_shape = list(shape)
    for d in sorted(dims):
        out_shape.insert(d, 1)
    kept = tuple(i for i in range(ndim_out) if i not in dims)
    return broadcast_in_dim(array, tuple(out_shape), kept)


def rev(operand, dimensions):
    return rev_p.bind(operand, dimensions=_static_ints("rev", "dimensions", dimensions))


def concatenate(operands, dimension):
    """Concatenate arrays of one dtype along `dimension`."""
    operands = list(operands)
    if not operands:
        raise ValueError("lax.concatenate requires a non-empty sequence of arrays")
    if len(operands) == 1 and _is_array(operands[0]):
        return operands[0]
    return concatenate_p.bind(*operands,
                              dimension=_static_int("concatenate", "dimension", dimension))


def pad(operand, padding_value, padding_config):
    """Pad with `padding_value`: (low, high, interior) per dimension; negative low/high crop."""
    config = tuple(_static_ints("pad", "padding_config entry", c) for c in padding_config)
    return pad_p.bind(operand, padding_value, padding_config=config)


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001
    """operand[start:limit:stride] in every dimension (static bounds)."""
    return slice_p.bind(
        operand, start_indices=_static_ints("slice", "start_indices", start_indices),
        limit_indices=_static_ints("slice", "limit_indices", limit_indices),
        strides=None if strides is None else _static_ints("slice", "strides", strides))


def _dynamic_indices(op: str, shape: tuple, start_indices, allow_negative) -> list:
    """Scalar start indices, one per dimension, with negative ones counted from the end.

    Python/NumPy integers stay static (literals in a jaxpr); traced indices get a select."""
    if _is_array(start_indices) or isinstance(start_indices, np.ndarray):
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
    if len(indices) != len(shape):
        raise ValueError(f"lax.{op}: takes one start index per operand dimension; got "
                         f"{len(indices)} for operand shape {shape}")
    if isinstance(allow_negative, (bool, np.bool_)):
        allow_negative = [bool(allow_negative)] * len(shape)
    out = []
    for k, (i, d, neg) in enumerate(zip(indices, shape, allow_negative)):
        if isinstance(i, np.ndarray) and i.ndim == 0:
            i = i[()]
        if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            dt = dtypes.canonicalize_dtype(dtypes.dtype(i))
            v = int(i)
            if v < 0 and neg:
                v += d
            elif v < 0:
                raise ValueError(f"lax.{op}: index {v} is out of bounds for dimension {k} of "
                                 f"size {d} when allow_negative_indices=False")
            out.append(np.array(v).astype(dt)[()])
            continue
        aval = get_aval(i)
        if aval.ndim or not dtypes.is_int(aval.dtype):
            raise PlaxTypeError(f"{op}: start index {k} must be an integer scalar, got "
                                f"{aval.str_short()}")
        if neg and not dtypes.is_unsigned(aval.dtype):
            zero, size = np.zeros((), aval.dtype), np.array(d).astype(aval.dtype)
            i = ew.select(ew.lt(i, zero), ew.add(i, size), i)
        out.append(i)
    return out


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


def broadcasted_iota(dtype, shape, dimension, *, out_sharding=None):
    """An array of `shape` whose values count 0, 1, ... along `dimension`."""
    return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype),
                       shape=core.canonicalize_shape(shape, "shape of lax.broadcasted_iota"),
                       dimension=_static_int("broadcasted_iota", "dimension", dimension),
                       sharding=out_sharding)


def iota(dtype, size):
    return broadcasted_iota(dtype, (size,), 0)


def _fill_scalar(value, dtype: np.dtype, weak: bool):
    """`value` as a scalar of `dtype` (weakly typed if `weak`). Concrete values are converted
    here, so a jaxpr shows a literal of the right type rather than a conversion."""
    if _is_array(value):
        return ew._convert_element_type(value, dtype, weak)
    arr = np.asarray(value)
    if arr.dtype.kind == "c" and not dtypes.is_complex(dtype):
        arr = arr.real
    arr = arr.astype(dtype)
    if weak:
        py = arr.item()
        if get_aval(py).dtype == dtype:
            return py  # a Python scalar: weakly typed at its default dtype
        return ew._convert_element_type(arr, dtype, True)
    return arr[()] if arr.ndim == 0 else arr


def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of `shape` filled with the scalar `fill_value` (cast to `dtype` if given)."""
    shape = core.canonicalize_shape(shape, "shape of lax.full")
    if np.shape(fill_value):
        raise TypeError(f"lax.full must be called with a scalar fill_value, got fill_value of "
                        f"shape {np.shape(fill_value)}")
    if dtype is None:
        weak = dtypes.is_weakly_typed(fill_value)
        dt = get_aval(fill_value).dtype
    else:
        weak, dt = False, dtypes.canonicalize_dtype(dtype)
    if not (weak and type(fill_value) in (int, float, complex)):
        fill_value = _fill_scalar(fill_value, dt, weak)
    return broadcast(fill_value, shape, out_sharding=sharding)


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """An array like `x` (its shape and dtype unless given) filled with `fill_value`."""
    fill_shape = get_aval(x).shape if shape is None else core.canonicalize_shape(
        shape, "shape of lax.full_like")
    weak = dtype is None and dtypes.is_weakly_typed(x)
    dt = get_aval(x).dtype if dtype is None else dtypes.canonicalize_dtype(dtype)
    return full(fill_shape, _fill_scalar(fill_value, dt, weak), sharding=sharding)


def zeros_like_array(x):
    return full_like(x, 0)


def collapse(operand, start_dimension, stop_dimension=None):
    """Merge dimensions [start_dimension, stop_dimension) into one (row-major)."""
    shape = get_aval(operand).shape
    lo, hi, _ = builtins.slice(start_dimension, stop_dimension).indices(len(shape))
    if hi < lo:
        raise ValueError(f"lax.collapse: invalid dimension range [{start_dimension}:"
                         f"{stop_dimension}] for shape {shape}")
    return reshape(operand, shape[:lo] + (math.prod(shape[lo:hi]),) + shape[hi:])


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """operand[..., start:limit:stride] along `axis` (negative start/limit count from the end)."""
    shape = get_aval(operand).shape
    axis = _canonicalize_axis("slice_in_dim", axis, len(shape))
    n = shape[axis]
    start = 0 if start_index is None else _static_int("slice_in_dim", "start_index",
                                                       start_index)
    limit = n if limit_index is None else _static_int("slice_in_dim", "limit_index",
                                                       limit_index)
    start, limit = start + n if start < 0 else start, limit + n if limit < 0 else limit
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis] = start, limit
    strides[axis] = _static_int("slice_in_dim", "stride", stride)
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """operand[..., index] along `axis` with a static index."""
    shape = get_aval(operand).shape
    axis = _canonicalize_axis("index_in_dim", axis, len(shape))
    index = _static_int("index_in_dim", "index", index)
    n = shape[axis]
    wrapped = index + n if index < 0 else index
    if not 0 <= wrapped < n:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {n}")
    out = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


def _zero_index_like(index):
    """A static 0 of the same type as `index`, for the dimensions that are not sliced."""
    if type(index) is int:
        return 0
    return np.zeros((), get_aval(index).dtype)


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *,
                         allow_negative_indices=True):
    """operand[..., start:start + slice_size] along `axis`, with a dynamic start."""
    shape = get_aval(operand).shape
    axis = _canonicalize_axis("dynamic_slice_in_dim", axis, len(shape))
    starts = [_zero_index_like(start_index)] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = _static_int("dynamic_slice_in_dim", "slice_size", slice_size)
    allow = [False] * len(shape)
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """operand[..., index] along `axis`, with a dynamic index."""
    axis = _canonicalize_axis("dynamic_index_in_dim", axis, get_aval(operand).ndim)
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *,
                                allow_negative_indices=True):
    """Write `update` into `operand` at a dynamic start along `axis` (0 elsewhere)."""
    ndim = get_aval(operand).ndim
    axis = _canonicalize_axis("dynamic_update_slice_in_dim", axis, ndim)
    starts = [_zero_index_like(start_index)] * ndim
    starts[axis] = start_index
    allow = [False] * ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """Write `update` (with or without the size-1 `axis`) into `operand` at a dynamic index."""
    ndim = get_aval(operand).ndim
    axis = _canonicalize_axis("dynamic_update_index_in_dim", axis, ndim)
    update_ndim = get_aval(update).ndim
    if update_ndim == ndim - 1:
        update = expand_dims(update, (axis,))
    elif update_ndim != ndim:
        raise TypeError(f"lax.dynamic_update_index_in_dim: update of rank {update_ndim} for an "
                        f"operand of rank {ndim}; it needs rank {ndim} or {ndim - 1}")
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)

