"""Helpers that emit the StableHLO ops lowering rules are built from, each returning a typed
Value: constants, conversions, comparisons, broadcasting, slicing, reductions."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from plax.extend import dtypes
from plax_xla.lowering import FuncBuilder, Value, dense_i64, i64_array

BOOL = dtypes.bool_


def compare_type(dtype: np.dtype) -> str:
    if dtypes.is_inexact(dtype):
        return "FLOAT"
    if dtypes.is_signed(dtype):
        return "SIGNED"
    return "UNSIGNED"  # unsigned integers and booleans


def compare(b: FuncBuilder, x: Value, y: Value, direction: str, ctype: str | None = None
            ) -> Value:
    """Elementwise comparison (direction EQ NE LT LE GT GE); ctype TOTALORDER orders floats
    by IEEE total order (-NaN < -inf < -0.0 < 0.0 < inf < NaN)."""
    ctype = ctype or compare_type(x.dtype)
    return b.op1("stablehlo.compare", [x, y], x.shape, BOOL,
                 attrs=f"comparison_direction = #stablehlo<comparison_direction {direction}>, "
                       f"compare_type = #stablehlo<comparison_type {ctype}>")


def unary(b: FuncBuilder, name: str, x: Value, dtype=None) -> Value:
    return b.op1(name, [x], x.shape, dtype or x.dtype)


def binary(b: FuncBuilder, name: str, x: Value, y: Value, dtype=None) -> Value:
    return b.op1(name, [x, y], x.shape, dtype or x.dtype)


def add(b, x, y): return binary(b, "stablehlo.add", x, y)  # noqa: E704
def sub(b, x, y): return binary(b, "stablehlo.subtract", x, y)  # noqa: E704
def mul(b, x, y): return binary(b, "stablehlo.multiply", x, y)  # noqa: E704
def div(b, x, y): return binary(b, "stablehlo.divide", x, y)  # noqa: E704
def maximum(b, x, y): return binary(b, "stablehlo.maximum", x, y)  # noqa: E704
def minimum(b, x, y): return binary(b, "stablehlo.minimum", x, y)  # noqa: E704
def and_(b, x, y): return binary(b, "stablehlo.and", x, y)  # noqa: E704
def or_(b, x, y): return binary(b, "stablehlo.or", x, y)  # noqa: E704
def not_(b, x): return unary(b, "stablehlo.not", x)  # noqa: E704


def select(b: FuncBuilder, pred: Value, on_true: Value, on_false: Value) -> Value:
    return b.op1("stablehlo.select", [pred, on_true, on_false], on_true.shape, on_true.dtype)


def convert(b: FuncBuilder, x: Value, dtype: np.dtype) -> Value:
    dtype = np.dtype(dtype)
    return x if x.dtype == dtype else unary(b, "stablehlo.convert", x, dtype)


def real(b: FuncBuilder, x: Value) -> Value:
    return unary(b, "stablehlo.real", x, _real_dtype(x.dtype))


def imag(b: FuncBuilder, x: Value) -> Value:
    return unary(b, "stablehlo.imag", x, _real_dtype(x.dtype))


def _real_dtype(dt):
    return {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)


def is_nan(b: FuncBuilder, x: Value) -> Value:
    return compare(b, x, x, "NE")


# --- constants ------------------------------------------------------------------------------

def scalar(b: FuncBuilder, value, dtype) -> Value:
    return b.const(np.array(value).astype(dtype))


def full(b: FuncBuilder, value, shape: Sequence[int], dtype) -> Value:
    """`value` (a scalar) broadcast to `shape`."""
    return broadcast_in_dim(b, scalar(b, value, dtype), shape, ())


def full_like(b: FuncBuilder, value, x: Value, dtype=None) -> Value:
    return full(b, value, x.shape, dtype or x.dtype)


def lowest(dtype: np.dtype):
    """The identity of max: -inf, the smallest integer, False."""
    if dtype == BOOL:
        return False
    if dtypes.is_int(dtype):
        return np.iinfo(dtype).min
    return -np.inf


def highest(dtype: np.dtype):
    if dtype == BOOL:
        return True
    if dtypes.is_int(dtype):
        return np.iinfo(dtype).max
    return np.inf


# --- shapes ------------------------------------------------------------------------------------

def broadcast_in_dim(b: FuncBuilder, x: Value, shape: Sequence[int], dims: Sequence[int]
                     ) -> Value:
    shape = tuple(shape)
    if x.shape == shape and tuple(dims) == tuple(range(len(shape))):
        return x
    return b.op1("stablehlo.broadcast_in_dim", [x], shape, x.dtype,
                 attrs=f"broadcast_dimensions = {i64_array(dims)}")


def broadcast_to(b: FuncBuilder, x: Value, shape: Sequence[int]) -> Value:
    """lax's implicit broadcasting: a rank-0 operand, or size-1 dimensions of equal rank."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    dims = () if not x.shape else tuple(range(len(shape)))
    return broadcast_in_dim(b, x, shape, dims)


def reshape(b: FuncBuilder, x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    return x if x.shape == shape else b.op1("stablehlo.reshape", [x], shape, x.dtype)


def transpose(b: FuncBuilder, x: Value, perm: Sequence[int]) -> Value:
    perm = tuple(perm)
    if perm == tuple(range(x.ndim)):
        return x
    return b.op1("stablehlo.transpose", [x], tuple(x.shape[p] for p in perm), x.dtype,
                 attrs=f"permutation = {i64_array(perm)}")


def slice_(b: FuncBuilder, x: Value, start: Sequence[int], limit: Sequence[int],
           strides: Sequence[int] | None = None) -> Value:
    strides = tuple(strides) if strides is not None else (1,) * x.ndim
    shape = tuple(max(0, (hi - lo + st - 1) // st)
                  for lo, hi, st in zip(start, limit, strides, strict=True))
    if shape == x.shape:
        return x
    return b.op1("stablehlo.slice", [x], shape, x.dtype,
                 attrs=f"start_indices = {i64_array(start)}, limit_indices = "
                       f"{i64_array(limit)}, strides = {i64_array(strides)}")


def slice_axis(b: FuncBuilder, x: Value, axis: int, start: int, limit: int, stride: int = 1
               ) -> Value:
    lo, hi, st = [0] * x.ndim, list(x.shape), [1] * x.ndim
    lo[axis], hi[axis], st[axis] = start, limit, stride
    return slice_(b, x, lo, hi, st)


def concatenate(b: FuncBuilder, xs: Sequence[Value], dim: int) -> Value:
    if len(xs) == 1:
        return xs[0]
    shape = list(xs[0].shape)
    shape[dim] = sum(x.shape[dim] for x in xs)
    return b.op1("stablehlo.concatenate", list(xs), shape, xs[0].dtype,
                 attrs=f"dimension = {dim} : i64")


def iota(b: FuncBuilder, shape: Sequence[int], dtype, dim: int) -> Value:
    return b.op1("stablehlo.iota", [], tuple(shape), dtype, attrs=f"iota_dimension = {dim} : i64")


def rev(b: FuncBuilder, x: Value, dims: Sequence[int]) -> Value:
    if not dims:
        return x
    return b.op1("stablehlo.reverse", [x], attrs=f"dimensions = {i64_array(dims)}")


# --- reductions -----------------------------------------------------------------------------

def reduce(b: FuncBuilder, operands: Sequence[Value], inits: Sequence[Value],
           dims: Sequence[int], body: Callable[..., Sequence[Value]]) -> list[Value]:
    """stablehlo.reduce over `dims`; body(builder, *accumulators, *elements) is called on
    scalars and returns the new accumulators."""
    dims = sorted(dims)
    shape = tuple(d for i, d in enumerate(operands[0].shape) if i not in dims)
    region = b.region([((), x.dtype) for x in inits] * 2, body)
    return b.op("stablehlo.reduce", [*operands, *inits], [(shape, x.dtype) for x in inits],
                attrs=f"dimensions = {i64_array(dims)}", regions=[region])


def binary_region(name: str) -> Callable:
    """A reduction body combining one accumulator with one element by op `name`."""
    return lambda sb, acc, x: [binary(sb, name, acc, x)]


def replica_groups(groups: Sequence[Sequence[int]]) -> str:
    return dense_i64(groups)
