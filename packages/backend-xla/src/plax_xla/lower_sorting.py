"""Lowering rules of sort and top_k: a stable stablehlo.sort with a comparator region.

sort orders floats with NaNs last and -0.0 equal to 0.0, complex numbers by (real, imag),
lexicographically over the first `num_keys` operands. top_k sorts (values, indices) descending
in IEEE total order and keeps the first k (ties keep the lower index: the sort is stable)."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as so
from plax_xla import hlo
from plax_xla.lowering import FuncBuilder, Value


def _float_lt_eq(b: FuncBuilder, x: Value, y: Value) -> tuple[Value, Value]:
    """(x < y, x == y) in sort order: any NaN is above every number and equal to any NaN."""
    x_nan, y_nan = hlo.is_nan(b, x), hlo.is_nan(b, y)
    lt = hlo.or_(b, hlo.compare(b, x, y, "LT"), hlo.and_(b, hlo.not_(b, x_nan), y_nan))
    eq = hlo.or_(b, hlo.compare(b, x, y, "EQ"), hlo.and_(b, x_nan, y_nan))
    return lt, eq


def _key_lt_eq(b: FuncBuilder, x: Value, y: Value) -> list[tuple[Value, Value]]:
    """(less, equal) pairs of the sort keys of one operand, most significant first."""
    if dtypes.is_complex(x.dtype):
        return [_float_lt_eq(b, hlo.real(b, x), hlo.real(b, y)),
                _float_lt_eq(b, hlo.imag(b, x), hlo.imag(b, y))]
    if dtypes.is_float(x.dtype):
        return [_float_lt_eq(b, x, y)]
    return [(hlo.compare(b, x, y, "LT"), hlo.compare(b, x, y, "EQ"))]


def _lexicographic_lt(b: FuncBuilder, pairs) -> Value:
    lt = None
    for k_lt, k_eq in reversed(pairs):  # lt = k0_lt or (k0_eq and (k1_lt or ...))
        lt = k_lt if lt is None else hlo.or_(b, k_lt, hlo.and_(b, k_eq, lt))
    return lt


def sort(b: FuncBuilder, operands, dimension: int, comparator) -> list[Value]:
    """Stable stablehlo.sort; comparator(builder, lhs_values, rhs_values) -> bool scalar."""
    n = len(operands)

    def body(sb, *args):
        lhs, rhs = args[0::2], args[1::2]
        return [comparator(sb, lhs, rhs)]

    region = b.region([((), x.dtype) for x in operands for _ in (0, 1)], body)
    return b.op("stablehlo.sort", list(operands), [(x.shape, x.dtype) for x in operands],
                attrs=f"dimension = {dimension} : i64, is_stable = true", regions=[region])[:n]


def _sort(ctx, *operands, dimension, is_stable, num_keys):
    def less(sb, lhs, rhs):
        pairs = [p for x, y in zip(lhs[:num_keys], rhs[:num_keys]) for p in _key_lt_eq(sb, x, y)]
        return _lexicographic_lt(sb, pairs)
    return sort(ctx.b, operands, dimension, less)


def _top_k(ctx, operand, *, k, axis):
    b = ctx.b
    idx = hlo.iota(b, operand.shape, dtypes.int32, axis)

    def greater(sb, lhs, rhs):
        ctype = "TOTALORDER" if dtypes.is_float(lhs[0].dtype) else None
        return hlo.compare(sb, lhs[0], rhs[0], "GT", ctype)

    values, indices = sort(b, [operand, idx], axis, greater)
    return [hlo.slice_axis(b, values, axis, 0, k), hlo.slice_axis(b, indices, axis, 0, k)]


RULES = {
    so.sort_p: _sort,
    so.top_k_p: _top_k,
}
