"""Structural primitives: they move, copy or make elements but compute nothing new
(broadcast_in_dim, reshape, transpose, squeeze, rev, concatenate, pad, iota), with JAX's param
names, and the user helpers jax.lax builds on them. The slicing ones live in `slice_ops`.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from plax._src import core, dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.lax import elementwise as ew
from plax._src.lax import slice_ops
from plax._src.lax._params import (
    canonicalize_axis, check_dims, check_no_sharding, int_tuple, is_array, is_int_param,
    static_int, static_ints)
from plax._src.lax.slice_ops import *  # noqa: F401,F403  (plax.lax star-imports this module)
from plax._src.registry import add_abstract_eval

__all__ = [
    "broadcast_in_dim_p", "reshape_p", "transpose_p", "squeeze_p", "rev_p", "concatenate_p",
    "pad_p", "iota_p",
    "broadcast_in_dim", "broadcast", "broadcast_to_rank", "reshape", "transpose", "squeeze",
    "expand_dims", "rev", "concatenate", "pad", "iota", "broadcasted_iota", "full", "full_like",
    "zeros_like_array", "collapse",
    *slice_ops.__all__,
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
# broadcast_in_dim, reshape, transpose, squeeze, rev

broadcast_in_dim_p = Primitive("broadcast_in_dim", linear_in=(0,))


def _broadcast_in_dim_rule(x, *, shape, broadcast_dimensions, sharding=None):
    op = "broadcast_in_dim"
    shape = int_tuple(op, "shape", shape, nonneg=True)
    dims = int_tuple(op, "broadcast_dimensions", broadcast_dimensions)
    check_no_sharding(op, sharding)
    if len(dims) != x.ndim:
        raise PlaxTypeError(f"{op}: broadcast_dimensions must have one entry per operand "
                            f"dimension; got {dims} for an operand of shape {x.shape}")
    if len(shape) < x.ndim:
        raise PlaxTypeError(f"{op}: the target shape {shape} has lower rank than the operand "
                            f"shape {x.shape}")
    check_dims(op, "broadcast_dimensions", dims, len(shape))
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


# the printer's per-primitive hook: params -> the params to show
core._pp_param_rules[broadcast_in_dim_p] = _broadcast_in_dim_shown_params

reshape_p = Primitive("reshape", linear_in=(0,))


def _reshape_rule(x, *, new_sizes, dimensions=None, sharding=None):
    op = "reshape"
    new_sizes = int_tuple(op, "new_sizes", new_sizes, nonneg=True)
    check_no_sharding(op, sharding)
    if dimensions is not None:
        dims = int_tuple(op, "dimensions", dimensions)
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
    perm = int_tuple("transpose", "permutation", permutation)
    if sorted(perm) != list(range(x.ndim)):
        raise PlaxTypeError(f"transpose: permutation {perm} is not a permutation of the "
                            f"operand's dimensions (operand shape {x.shape})")
    return ShapedArray(tuple(x.shape[p] for p in perm), x.dtype, x.weak_type)


add_abstract_eval(transpose_p, _transpose_rule)

squeeze_p = Primitive("squeeze", linear_in=(0,))


def _squeeze_rule(x, *, dimensions):
    dims = int_tuple("squeeze", "dimensions", dimensions)
    check_dims("squeeze", "dimensions", dims, x.ndim)
    if any(x.shape[d] != 1 for d in dims):
        raise PlaxTypeError(f"squeeze: cannot remove dimensions {dims} of shape {x.shape}: "
                            "only dimensions of size 1 can be squeezed")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dims), x.dtype,
                       x.weak_type)


add_abstract_eval(squeeze_p, _squeeze_rule)

rev_p = Primitive("rev", linear_in=(0,))


def _rev_rule(x, *, dimensions):
    check_dims("rev", "dimensions", int_tuple("rev", "dimensions", dimensions), x.ndim)
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
    if not is_int_param(dimension):
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
        lo_hi_int = int_tuple(op, "each padding_config entry", entry)
        if len(lo_hi_int) != 3:
            raise PlaxTypeError(f"{op}: each padding_config entry must be a (low, high, "
                                f"interior) triple, got {entry!r}")
        if lo_hi_int[2] < 0:
            raise PlaxTypeError(f"{op}: interior padding must be nonnegative, got "
                                f"padding_config {padding_config}")
    for (lo, hi, interior), d in zip(padding_config, x.shape, strict=True):
        shape.append(lo + hi + (d + (d - 1) * interior if d else 0))
    if any(d < 0 for d in shape):
        raise PlaxTypeError(f"{op}: padding_config {padding_config} removes more elements than "
                            f"operand shape {x.shape} has (result shape {tuple(shape)})")
    return ShapedArray(tuple(shape), x.dtype, x.weak_type and padding_value.weak_type)


add_abstract_eval(pad_p, _pad_rule)


# ---------------------------------------------------------------------------------------------
# iota (no operands)

iota_p = Primitive("iota")


def _iota_rule(*, dtype, shape, dimension, sharding=None):
    op = "iota"
    if not isinstance(dtype, np.dtype) or dtype == dtypes.bool_ or dtype not in dtypes.SUPPORTED:
        raise PlaxTypeError(f"{op} does not accept dtype {dtype}; it needs an integer, floating "
                            "or complex dtype")
    shape = int_tuple(op, "shape", shape, nonneg=True)
    check_no_sharding(op, sharding)
    if not is_int_param(dimension) or not 0 <= dimension < len(shape):
        raise PlaxTypeError(f"{op}: dimension must be an integer in [0, {len(shape)}) for "
                            f"shape {shape}, got {dimension!r}")
    return ShapedArray(shape, dtype, False)


add_abstract_eval(iota_p, _iota_rule)


# ---------------------------------------------------------------------------------------------
# User functions


def broadcast_in_dim(operand, shape, broadcast_dimensions, *, out_sharding=None):
    """Broadcast `operand` to `shape`; operand dimension i becomes broadcast_dimensions[i]."""
    shape = core.canonicalize_shape(shape, "shape of lax.broadcast_in_dim")
    dims = static_ints("broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions)
    if not shape and not dims and is_array(operand) and not get_aval(operand).shape:
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=dims,
                                   sharding=out_sharding)


def broadcast(operand, sizes, *, out_sharding=None):
    """Add leading dimensions of the given sizes."""
    sizes = core.canonicalize_shape(sizes, "sizes of lax.broadcast")
    aval = get_aval(operand)
    if not sizes and out_sharding is None:
        return operand if is_array(operand) else _as_array(operand)
    dims = tuple(range(len(sizes), len(sizes) + aval.ndim))
    return broadcast_in_dim(operand, sizes + aval.shape, dims, out_sharding=out_sharding)


def broadcast_to_rank(x, rank: int):
    """Add leading dimensions of size 1 to give `x` rank `rank`."""
    ndim = get_aval(x).ndim
    if ndim == rank:
        return x if is_array(x) else _as_array(x)
    return broadcast(x, (1,) * (rank - ndim))


def _as_array(x):
    from plax._src import dispatch
    return dispatch.asarray_value(x)


def reshape(operand, new_sizes, dimensions=None, *, out_sharding=None):
    """Reshape (row-major), after transposing by `dimensions` when given."""
    new_sizes = core.canonicalize_shape(new_sizes, "new_sizes of lax.reshape")
    aval = get_aval(operand)
    dims = None if dimensions is None else static_ints("reshape", "dimensions", dimensions)
    same_dims = dims is None or dims == tuple(range(aval.ndim))
    if aval.shape and aval.shape == new_sizes and same_dims and out_sharding is None \
            and is_array(operand):
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=None if same_dims else dims,
                          sharding=out_sharding)


def transpose(operand, permutation):
    permutation = static_ints("transpose", "permutation", permutation)
    if permutation == tuple(range(get_aval(operand).ndim)) and is_array(operand):
        return operand
    return transpose_p.bind(operand, permutation=permutation)


def squeeze(array, dimensions):
    """Remove dimensions of size 1 (negative dimensions count from the end)."""
    ndim = get_aval(array).ndim
    dims = tuple(sorted(canonicalize_axis("squeeze", d, ndim) for d in dimensions))
    if not dims and is_array(array):
        return array
    return squeeze_p.bind(array, dimensions=dims)


def expand_dims(array, dimensions):
    """Insert dimensions of size 1 at `dimensions` (positions in the result)."""
    dimensions = static_ints("expand_dims", "dimensions", dimensions)
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"repeated axis in lax.expand_dims: {dimensions}")
    shape = get_aval(array).shape
    ndim_out = len(shape) + len(dimensions)
    dims = {canonicalize_axis("expand_dims", d, ndim_out) for d in dimensions}
    if len(dims) != len(dimensions):
        raise ValueError(f"repeated axis in lax.expand_dims: {dimensions} (rank {ndim_out})")
    out_shape = list(shape)
    for d in sorted(dims):
        out_shape.insert(d, 1)
    kept = tuple(i for i in range(ndim_out) if i not in dims)
    return broadcast_in_dim(array, tuple(out_shape), kept)


def rev(operand, dimensions):
    return rev_p.bind(operand, dimensions=static_ints("rev", "dimensions", dimensions))


def concatenate(operands, dimension):
    """Concatenate arrays of one dtype along `dimension`."""
    operands = list(operands)
    if not operands:
        raise ValueError("lax.concatenate requires a non-empty sequence of arrays")
    if len(operands) == 1 and is_array(operands[0]):
        return operands[0]
    return concatenate_p.bind(*operands,
                              dimension=static_int("concatenate", "dimension", dimension))


def pad(operand, padding_value, padding_config):
    """Pad with `padding_value`: (low, high, interior) per dimension; negative low/high crop."""
    config = tuple(static_ints("pad", "padding_config entry", c) for c in padding_config)
    return pad_p.bind(operand, padding_value, padding_config=config)


def broadcasted_iota(dtype, shape, dimension, *, out_sharding=None):
    """An array of `shape` whose values count 0, 1, ... along `dimension`."""
    return iota_p.bind(dtype=dtypes.canonicalize_dtype(dtype),
                       shape=core.canonicalize_shape(shape, "shape of lax.broadcasted_iota"),
                       dimension=static_int("broadcasted_iota", "dimension", dimension),
                       sharding=out_sharding)


def iota(dtype, size):
    return broadcasted_iota(dtype, (size,), 0)


def _fill_scalar(value, dtype: np.dtype, weak: bool):
    """`value` as a scalar of `dtype` (weakly typed if `weak`). Concrete values are converted
    here, so a jaxpr shows a literal of the right type rather than a conversion."""
    if is_array(value):
        return ew._convert_element_type(value, dtype, weak)
    arr = np.asarray(value)
    if arr.dtype.kind == "c" and not dtypes.is_complex(dtype):
        arr = arr.real
    if dtypes.is_int(dtype) and arr.dtype.kind == "f":
        # XLA's float -> int: truncate, NaN -> 0, saturate out of range (NumPy's cast differs)
        info = np.iinfo(dtype)
        arr = np.clip(np.trunc(np.nan_to_num(arr.astype(np.float64), nan=0.0)), info.min,
                      info.max)
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
