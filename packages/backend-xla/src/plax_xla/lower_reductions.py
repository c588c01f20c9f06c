"""Lowering rules of the reductions (stablehlo.reduce with a combining region), argmax/argmin
(a two-operand reduce whose region keeps the first extreme, NaN counting as the extreme) and
the cumulative reductions (a log-depth associative scan built from strided slices).

16-bit floats are summed, multiplied and scanned in float32 and rounded once at the end, as
the reference backend does."""

from __future__ import annotations

import numpy as np

from plax.extend import dtypes
from plax import lax as rd
from plax_xla import hlo
from plax_xla.lower_elementwise import complex_select
from plax_xla.lowering import Value


def _is_narrow_float(dt) -> bool:
    return dtypes.is_float(dt) and dt.itemsize == 2


def _widened(b, x: Value) -> Value:
    return hlo.convert(b, x, dtypes.float32) if _is_narrow_float(x.dtype) else x


def _reducer(op_name: str, identity, widen: bool = False, complex_direction: str | None = None):
    def rule(ctx, x, *, axes, **params):
        b = ctx.b
        if not axes:
            return x
        w = _widened(b, x) if widen else x
        if complex_direction and dtypes.is_complex(x.dtype):
            init = hlo.scalar(b, complex(identity(np.dtype(np.float64)), 0.0), w.dtype)
            body = lambda sb, acc, e: [complex_select(sb, complex_direction, acc, e)]  # noqa
        else:
            init = hlo.scalar(b, identity(w.dtype), w.dtype)
            body = hlo.binary_region(op_name)
        out, = hlo.reduce(b, [w], [init], axes, body)
        return hlo.convert(b, out, x.dtype)
    return rule


def _all_ones(dt):
    return True if dt == hlo.BOOL else np.array(-1).astype(dt)


# ---------------------------------------------------------------------------------------------
# argmax / argmin


def _argminmax(direction: str, identity):
    def rule(ctx, x, *, axes, index_dtype):
        b = ctx.b
        axis, = axes
        idx = hlo.iota(b, x.shape, index_dtype, axis)

        def body(sb, av, ai, ev, ei):
            if dtypes.is_float(av.dtype):
                a_nan, e_nan = hlo.is_nan(sb, av), hlo.is_nan(sb, ev)
                better = hlo.or_(sb, hlo.and_(sb, a_nan, hlo.not_(sb, e_nan)),
                                 hlo.compare(sb, av, ev, direction))
                same = hlo.or_(sb, hlo.compare(sb, av, ev, "EQ"), hlo.and_(sb, a_nan, e_nan))
            else:
                better = hlo.compare(sb, av, ev, direction)
                same = hlo.compare(sb, av, ev, "EQ")
            # ties go to the lower index: the first extreme wins whatever the reduction order
            pick_a = hlo.or_(sb, better, hlo.and_(sb, same, hlo.compare(sb, ai, ei, "LT")))
            return [hlo.select(sb, pick_a, av, ev), hlo.select(sb, pick_a, ai, ei)]

        inits = [hlo.scalar(b, identity(x.dtype), x.dtype), hlo.scalar(b, 0, index_dtype)]
        _, out = hlo.reduce(b, [x, idx], inits, (axis,), body)
        return out
    return rule


# ---------------------------------------------------------------------------------------------
# cumulative reductions


def associative_scan(b, x: Value, axis: int, op) -> Value:
    """Inclusive prefix combination of `x` along `axis` by associative op(b, earlier, later),
    in O(log n) rounds: combine neighbouring pairs, scan the half-length result (the prefixes
    at odd positions), derive the even positions from it, and interleave."""
    n = x.shape[axis]
    if n < 2:
        return x
    pairs = op(b, hlo.slice_axis(b, x, axis, 0, n - 1, 2), hlo.slice_axis(b, x, axis, 1, n, 2))
    odd = associative_scan(b, pairs, axis, op)
    rest = hlo.slice_axis(b, x, axis, 2, n, 2)
    if rest.shape[axis]:
        prev = odd if n % 2 else hlo.slice_axis(b, odd, axis, 0, odd.shape[axis] - 1)
        even = hlo.concatenate(b, [hlo.slice_axis(b, x, axis, 0, 1), op(b, prev, rest)], axis)
    else:
        even = hlo.slice_axis(b, x, axis, 0, 1)
    return _interleave(b, even, odd, axis, n)


def _interleave(b, even: Value, odd: Value, axis: int, n: int) -> Value:
    """even[0], odd[0], even[1], odd[1], ... (n elements) along `axis`."""
    m = even.shape[axis]
    if odd.shape[axis] < m:  # pad odd with any element; it is sliced off below
        odd = hlo.concatenate(b, [odd, hlo.slice_axis(b, even, axis, 0, 1)], axis)
    split = even.shape[:axis + 1] + (1,) + even.shape[axis + 1:]
    pair = hlo.concatenate(b, [hlo.reshape(b, even, split), hlo.reshape(b, odd, split)], axis + 1)
    merged = even.shape[:axis] + (2 * m,) + even.shape[axis + 1:]
    return hlo.slice_axis(b, hlo.reshape(b, pair, merged), axis, 0, n)


def logaddexp(b, x: Value, y: Value) -> Value:
    m = hlo.maximum(b, x, y)
    d = hlo.sub(b, x, y)
    r = hlo.add(b, m, hlo.unary(b, "stablehlo.log_plus_one", hlo.unary(
        b, "stablehlo.exponential", hlo.unary(b, "stablehlo.negate",
                                              hlo.unary(b, "stablehlo.abs", d)))))
    # d is NaN for inf - inf of one sign (x + y is then that infinity) and for NaN inputs
    return hlo.select(b, hlo.is_nan(b, d), hlo.add(b, x, y), r)


def _cumulative(op, widen: bool):
    def rule(ctx, x, *, axis, reverse):
        b = ctx.b
        w = _widened(b, x) if widen else x
        if reverse:
            w = hlo.rev(b, w, (axis,))
        out = associative_scan(b, w, axis, op)
        if reverse:
            out = hlo.rev(b, out, (axis,))
        return hlo.convert(b, out, x.dtype)
    return rule


def _zero(dt):
    return 0


def _max_op(b, x, y):
    return complex_select(b, "GT", x, y) if dtypes.is_complex(x.dtype) else hlo.maximum(b, x, y)


def _min_op(b, x, y):
    return complex_select(b, "LT", x, y) if dtypes.is_complex(x.dtype) else hlo.minimum(b, x, y)


def _one(dt):
    return 1


RULES = {
    rd.reduce_sum_p: _reducer("stablehlo.add", _zero, widen=True),
    rd.reduce_prod_p: _reducer("stablehlo.multiply", _one, widen=True),
    rd.reduce_max_p: _reducer("stablehlo.maximum", hlo.lowest, complex_direction="GT"),
    rd.reduce_min_p: _reducer("stablehlo.minimum", hlo.highest, complex_direction="LT"),
    rd.reduce_and_p: _reducer("stablehlo.and", _all_ones),
    rd.reduce_or_p: _reducer("stablehlo.or", _zero),
    rd.reduce_xor_p: _reducer("stablehlo.xor", _zero),
    rd.argmax_p: _argminmax("GT", hlo.lowest),
    rd.argmin_p: _argminmax("LT", hlo.highest),
    rd.cumsum_p: _cumulative(hlo.add, widen=True),
    rd.cumprod_p: _cumulative(hlo.mul, widen=True),
    rd.cummax_p: _cumulative(_max_op, widen=False),
    rd.cummin_p: _cumulative(_min_op, widen=False),
    rd.cumlogsumexp_p: _cumulative(logaddexp, widen=True),
}
