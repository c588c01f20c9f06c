"""Lowering rules of the elementwise primitives. Most map to one StableHLO or CHLO op after lax's
implicit broadcasting; XLA's own semantics already match the reference backend's (integer
division by zero, shifts past the bit width, saturating float->int conversion, NaN-propagating
max/min), so only complex max/min, select_n, conversions and integer_pow need composing."""

from __future__ import annotations

import numpy as np

from plax.extend import dtypes
from plax import lax as ew
from plax_xla import hlo
from plax_xla.lowering import LoweringError, Value


def _op(name: str):
    """Rule for an op whose operands are broadcast to the result shape and passed through."""
    def rule(ctx, *xs, **params):
        shape, dt = ctx.aval_out.shape, ctx.aval_out.dtype
        return ctx.b.op1(name, [hlo.broadcast_to(ctx.b, x, shape) for x in xs], shape, dt)
    rule.__name__ = name
    return rule


def _bcast(ctx, *xs) -> list[Value]:
    return [hlo.broadcast_to(ctx.b, x, ctx.aval_out.shape) for x in xs]


def _identity(ctx, x, **params):
    return x


def _sign(ctx, x):
    b = ctx.b
    if dtypes.is_unsigned(x.dtype):
        return hlo.convert(b, hlo.compare(b, x, hlo.full_like(b, 0, x), "NE"), x.dtype)
    return hlo.unary(b, "stablehlo.sign", x)


def _round(ctx, x, *, rounding_method=0):
    even = rounding_method in (1, "TO_NEAREST_EVEN") or getattr(rounding_method, "value", 0) == 1
    return hlo.unary(ctx.b, "stablehlo.round_nearest_even" if even else
                     "stablehlo.round_nearest_afz", x)


def _exp2(ctx, x):
    b = ctx.b
    if dtypes.is_complex(x.dtype):
        return hlo.unary(b, "stablehlo.exponential",
                         hlo.mul(b, x, hlo.full_like(b, np.log(2.0), x)))
    # pow(2, x) is exact at integers, unlike exp(x * log(2)) with a rounded log(2)
    return hlo.binary(b, "stablehlo.power", hlo.full_like(b, 2, x), x)


def _atan(ctx, x):
    b = ctx.b
    if dtypes.is_complex(x.dtype):
        return hlo.unary(b, "chlo.atan", x)
    return hlo.binary(b, "stablehlo.atan2", x, hlo.full_like(b, 1, x))


def _conj(ctx, x):
    b = ctx.b
    if not dtypes.is_complex(x.dtype):
        return x
    re, im = hlo.real(b, x), hlo.imag(b, x)
    return hlo.binary(b, "stablehlo.complex", re, hlo.unary(b, "stablehlo.negate", im),
                      x.dtype)


def _integer_pow(ctx, x, *, y: int):
    b = ctx.b
    if y == 0:
        return hlo.full_like(b, 1, x)
    # repeated squaring, as XLA and the reference do, so integer overflow wraps identically
    acc, base, n = None, x, abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else hlo.mul(b, acc, base)
        n >>= 1
        if n:
            base = hlo.mul(b, base, base)
    return hlo.div(b, hlo.full_like(b, 1, x), acc) if y < 0 else acc


def _complex_minmax(direction: str, name: str):
    """max/min: lexicographic on (real, imag) for complex operands (a NaN wins, as in NumPy)."""
    def rule(ctx, x, y):
        b = ctx.b
        x, y = _bcast(ctx, x, y)
        if not dtypes.is_complex(x.dtype):
            return hlo.binary(b, name, x, y)
        return complex_select(b, direction, x, y)
    return rule


def complex_select(b, direction: str, x: Value, y: Value) -> Value:
    """x where x is lexicographically `direction` (GT or LT) y or NaN (and y is not), else y."""
    rx, ix, ry, iy = hlo.real(b, x), hlo.imag(b, x), hlo.real(b, y), hlo.imag(b, y)
    x_nan = hlo.or_(b, hlo.is_nan(b, rx), hlo.is_nan(b, ix))
    y_nan = hlo.or_(b, hlo.is_nan(b, ry), hlo.is_nan(b, iy))
    wins = hlo.or_(b, hlo.compare(b, rx, ry, direction),
                   hlo.and_(b, hlo.compare(b, rx, ry, "EQ"), hlo.compare(b, ix, iy, direction)))
    pick_x = hlo.or_(b, x_nan, hlo.and_(b, hlo.not_(b, y_nan), wins))
    return hlo.select(b, pick_x, x, y)


def _compare(direction: str):
    def rule(ctx, x, y):
        x, y = _bcast(ctx, x, y)
        return hlo.compare(ctx.b, x, y, direction)
    return rule


def _select_n(ctx, which, *cases):
    b = ctx.b
    if len(cases) == 1:
        return cases[0]
    if which.dtype == hlo.BOOL:
        return hlo.select(b, which, cases[1], cases[0])
    # the chain the reference uses: an out-of-range selector picks case 0
    out = cases[0]
    for i in range(1, len(cases)):
        hit = hlo.compare(b, which, hlo.full_like(b, i, which), "EQ")
        out = hlo.select(b, hit, cases[i], out)
    return out


def _complex(ctx, x, y):
    b, out = ctx.b, ctx.aval_out
    part = hlo._real_dtype(out.dtype)  # 16-bit parts widen: StableHLO has no complex<f16>
    x, y = (hlo.convert(b, v, part) for v in _bcast(ctx, x, y))
    return hlo.binary(b, "stablehlo.complex", x, y, out.dtype)


def _rem(ctx, x, y):
    if dtypes.is_complex(x.dtype):  # XLA crashes on it; JAX refuses complex rem as well
        raise LoweringError(f"rem does not accept complex operands (got {x.dtype.name}) on "
                            "the xla backend")
    x, y = _bcast(ctx, x, y)
    return hlo.binary(ctx.b, "stablehlo.remainder", x, y)


def _clamp(ctx, lo, x, hi):
    return ctx.b.op1("stablehlo.clamp", [lo, x, hi], x.shape, x.dtype)


def convert(b, x: Value, new_dtype: np.dtype) -> Value:
    """convert_element_type's semantics: complex -> real keeps the real part, -> bool is != 0,
    float -> int truncates and saturates with NaN -> 0 (XLA's conversion does exactly that)."""
    new_dtype = np.dtype(new_dtype)
    if x.dtype == new_dtype:
        return x
    if dtypes.is_complex(x.dtype) and not dtypes.is_complex(new_dtype):
        x = hlo.real(b, x)
    if new_dtype == hlo.BOOL:
        return hlo.compare(b, x, hlo.full_like(b, 0, x), "NE")
    if x.dtype == hlo.BOOL and dtypes.is_complex(new_dtype):
        x = hlo.convert(b, x, hlo._real_dtype(new_dtype))
    return hlo.convert(b, x, new_dtype)


def _convert_element_type(ctx, x, *, new_dtype, weak_type=False, sharding=None):
    return convert(ctx.b, x, new_dtype)


def _bitcast(ctx, x, *, new_dtype):
    b = ctx.b
    out = ctx.aval_out
    if dtypes.is_complex(x.dtype) or dtypes.is_complex(new_dtype):
        raise LoweringError("bitcast_convert_type to or from a complex dtype is not supported "
                            "by the xla backend")
    if x.dtype == hlo.BOOL:  # i1 has no bit layout to reinterpret: go through uint8
        x = hlo.convert(b, x, dtypes.uint8)
    if new_dtype == hlo.BOOL:
        u = b.op1("stablehlo.bitcast_convert", [x], out.shape, dtypes.uint8)
        return hlo.compare(b, u, hlo.full_like(b, 0, u), "NE")
    if x.dtype == new_dtype:
        return x
    return b.op1("stablehlo.bitcast_convert", [x], out.shape, new_dtype)


RULES = {
    ew.neg_p: _op("stablehlo.negate"),
    ew.sign_p: _sign,
    ew.floor_p: _op("stablehlo.floor"),
    ew.ceil_p: _op("stablehlo.ceil"),
    ew.round_p: _round,
    ew.is_finite_p: _op("stablehlo.is_finite"),
    ew.exp_p: _op("stablehlo.exponential"),
    ew.exp2_p: _exp2,
    ew.log_p: _op("stablehlo.log"),
    ew.log1p_p: _op("stablehlo.log_plus_one"),
    ew.expm1_p: _op("stablehlo.exponential_minus_one"),
    ew.tanh_p: _op("stablehlo.tanh"),
    ew.logistic_p: _op("stablehlo.logistic"),
    # sin_p, cos_p: lower_trig (a vectorisable lowering on the CPU)
    ew.tan_p: _op("stablehlo.tan"),
    ew.asin_p: _op("chlo.asin"),
    ew.acos_p: _op("chlo.acos"),
    ew.atan_p: _atan,
    ew.sinh_p: _op("chlo.sinh"),
    ew.cosh_p: _op("chlo.cosh"),
    ew.asinh_p: _op("chlo.asinh"),
    ew.acosh_p: _op("chlo.acosh"),
    ew.atanh_p: _op("chlo.atanh"),
    ew.sqrt_p: _op("stablehlo.sqrt"),
    ew.rsqrt_p: _op("stablehlo.rsqrt"),
    ew.cbrt_p: _op("stablehlo.cbrt"),
    ew.abs_p: _op("stablehlo.abs"),
    ew.erf_p: _op("chlo.erf"),
    ew.erfc_p: _op("chlo.erfc"),
    ew.erf_inv_p: _op("chlo.erf_inv"),
    ew.lgamma_p: _op("chlo.lgamma"),
    ew.digamma_p: _op("chlo.digamma"),
    ew.not_p: _op("stablehlo.not"),
    ew.integer_pow_p: _integer_pow,
    ew.population_count_p: _op("stablehlo.popcnt"),
    ew.real_p: _op("stablehlo.real"),
    ew.imag_p: _op("stablehlo.imag"),
    ew.conj_p: _conj,
    ew.add_p: _op("stablehlo.add"),
    ew.sub_p: _op("stablehlo.subtract"),
    ew.mul_p: _op("stablehlo.multiply"),
    ew.div_p: _op("stablehlo.divide"),
    ew.rem_p: _rem,
    ew.pow_p: _op("stablehlo.power"),
    ew.max_p: _complex_minmax("GT", "stablehlo.maximum"),
    ew.min_p: _complex_minmax("LT", "stablehlo.minimum"),
    ew.atan2_p: _op("stablehlo.atan2"),
    ew.nextafter_p: _op("chlo.next_after"),
    ew.and_p: _op("stablehlo.and"),
    ew.or_p: _op("stablehlo.or"),
    ew.xor_p: _op("stablehlo.xor"),
    ew.shift_left_p: _op("stablehlo.shift_left"),
    ew.shift_right_logical_p: _op("stablehlo.shift_right_logical"),
    ew.shift_right_arithmetic_p: _op("stablehlo.shift_right_arithmetic"),
    ew.eq_p: _compare("EQ"),
    ew.ne_p: _compare("NE"),
    ew.lt_p: _compare("LT"),
    ew.le_p: _compare("LE"),
    ew.gt_p: _compare("GT"),
    ew.ge_p: _compare("GE"),
    ew.complex_p: _complex,
    ew.select_n_p: _select_n,
    ew.clamp_p: _clamp,
    ew.convert_element_type_p: _convert_element_type,
    ew.bitcast_convert_type_p: _bitcast,
    ew.stop_gradient_p: _identity,
}
