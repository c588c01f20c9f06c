"""Elementwise math of plax.numpy (the NumPy ufuncs) written with lax ops, with JAX's dtype rules:
arguments are promoted (weak types kept), integer inputs of transcendental functions become the
default float, and NumPy broadcasting is made explicit for lax.
"""

from __future__ import annotations

import operator

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.core import Tracer
from plax._src.numpy.util import (
    check_arraylike, check_no_out, convert, dtype_of, ensure_array, promote_args,
    promote_args_inexact, promote_args_numeric, select, static_int)

__all__ = [
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "exp", "exp2",
    "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square", "reciprocal", "sign",
    "floor", "ceil", "trunc", "fix", "rint", "round", "around", "isnan", "isinf", "isfinite",
    "isposinf", "isneginf", "signbit", "negative", "positive", "abs", "absolute", "fabs",
    "deg2rad", "rad2deg", "degrees", "radians", "sinc", "conjugate", "conj", "real", "imag",
    "angle", "invert", "bitwise_not", "bitwise_invert", "logical_not",
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod",
    "fmod", "divmod", "power", "pow", "float_power", "maximum", "minimum", "fmax", "fmin",
    "hypot", "arctan2", "atan2", "logaddexp", "logaddexp2", "copysign", "nextafter",
    "heaviside", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
    "bitwise_xor", "left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "frexp", "ldexp",
]


def _const(x, value, weak=True):
    """A scalar `value` in the dtype of `x`; weak (the default) so it never changes x's type."""
    return convert(value, dtype_of(x), weak)


def _keep_weak(x, out):
    """lax's abs/real/imag drop the weak type of their operand; JAX's keep it."""
    if dtypes.is_weakly_typed(x) and not out.aval.weak_type:
        return lax._convert_element_type(out, out.aval.dtype, True)
    return out


def _zeros_like(x, dtype=None):
    weak = dtype is None and dtypes.is_weakly_typed(x)
    dtype = dtype_of(x) if dtype is None else dtype
    return lax.broadcast_in_dim(convert(0, dtype, weak), x.aval.shape, ())


def _full_bool(x, value: bool):
    return lax.broadcast_in_dim(np.bool_(value), ensure_array(x).aval.shape, ())


def _is_array_or_tracer(x) -> bool:
    return isinstance(x, Tracer) or hasattr(x, "aval")


def _reject(fun_name: str, x, what: str):
    raise TypeError(f"{fun_name} does not accept dtype {dtype_of(x).name}; it needs {what}")


def _unary(name: str, fn, promote=promote_args_inexact, doc: str = ""):
    def f(x, /):
        x, = promote(name, x)
        return fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc or f"Elementwise {name}, as numpy.{name} (integer inputs give floats)."
    return f


def _log_base(base):
    def fn(x):  # a strongly typed constant: log2/log10 of a weak value is not weak (as JAX)
        return lax.div(lax.log(x), lax.log(_const(x, base, weak=False)))
    return fn


# --- the array API standard's values at infinite and NaN parts (C99 Annex G) ----------------------
# XLA's complex algorithms (and so jax.numpy's) give other values on some infinite or NaN parts;
# plax.numpy follows the standard there (README "Array API" lists each departure). Each fix is a
# few compares and selects on the parts, added for complex inputs only: finite points (and so their
# derivatives) are untouched.

def _isinf_(x):
    return lax.eq(lax.abs(x), _const(x, np.inf))


def _isnan_(x):
    return lax.ne(x, x)


def _and(*masks):
    out = masks[0]
    for m in masks[1:]:
        out = lax.bitwise_and(out, m)
    return out


def _or(*masks):
    out = masks[0]
    for m in masks[1:]:
        out = lax.bitwise_or(out, m)
    return out


def _pick(mask, if_true, if_false, like):
    """select between two Python scalars (weak, in the dtype of `like`) by `mask`."""
    return select(mask, _const(like, if_true), _const(like, if_false))


def _copysign_const(value, x):
    """`value` (a Python float >= 0) with the sign bit of x."""
    return _pick(signbit(x), -value, value, x)


def _standard_complex(fn, fixes):
    """`fn` with, for complex operands, the standard's value where `fixes(a, b)` (real and
    imaginary parts) says: a list of (mask, real part, imaginary part), the first mask wins."""
    def f(x):
        out = fn(x)
        if not dtypes.is_complex(dtype_of(x)):
            return out
        a, b = lax.real(x), lax.imag(x)
        for mask, re, im in reversed(fixes(a, b)):
            re, im = (ensure_array(_const(a, v, False)) if isinstance(v, float) else v
                      for v in (re, im))
            out = select(mask, lax.complex(*_broadcast_pair(re, im)), out)
        return _keep_weak(x, out)
    return f


def _broadcast_pair(re, im):
    s = re.aval.shape if len(re.aval.shape) >= len(im.aval.shape) else im.aval.shape
    return tuple(v if v.aval.shape == s else lax.broadcast_in_dim(v, s, ()) for v in (re, im))


_NAN, _INF, _HALF_PI = float("nan"), float("inf"), float(np.pi / 2)


def _nan_real_zero_imag(a, b):
    # f(NaN +- 0j) = NaN +- 0j for exp, expm1, sinh, cosh, tanh (a fused cupy kernel's
    # NaN * sin(0) gives NaN)
    return (_and(_isnan_(a), lax.eq(b, _const(b, 0))), _NAN, b)


def _exp_fixes(at_minus_inf):
    # b infinite or NaN: exp(+inf + bj) = inf + NaN j, exp(-inf + bj) = 0 + 0j (expm1: -1 + 0j);
    # b = +-0: exp(+inf +- 0j) = +inf +- 0j (the reference's expm1 gives NaN there)
    def fixes(a, b):
        pos = lax.gt(a, _const(a, 0))
        return [(_and(_isinf_(a), lax.bitwise_not(lax.is_finite(b))),
                 _pick(pos, _INF, at_minus_inf, a), _pick(pos, _NAN, 0.0, a)),
                (_and(lax.eq(a, _const(a, np.inf)), lax.eq(b, _const(b, 0))), _INF, b),
                _nan_real_zero_imag(a, b)]
    return fixes


def _log_fixes(a, b):
    # one part infinite, the other NaN: +inf + NaN j
    return [(_and(_or(_isinf_(a), _isinf_(b)), _or(_isnan_(a), _isnan_(b))), _INF, _NAN)]


def _sqrt_fixes(a, b):
    # b infinite: inf + bj (a NaN too); sqrt(+inf + NaN j) = +inf + NaN j,
    # sqrt(-inf + NaN j) = NaN + inf j
    pos = lax.gt(a, _const(a, 0))
    return [(_isinf_(b), _INF, b),
            (_and(_isinf_(a), _isnan_(b)), _pick(pos, _INF, _NAN, a), _pick(pos, _NAN, _INF, a))]


def _sinh_fixes(a, b):
    # a = +-0 or +-inf, b infinite or NaN: a + NaN j
    return [(_and(_or(lax.eq(a, _const(a, 0)), _isinf_(a)), lax.bitwise_not(lax.is_finite(b))),
             a, _NAN), _nan_real_zero_imag(a, b)]


def _cosh_fixes(a, b):
    # b infinite or NaN: a = +-0 gives NaN + 0j, a = +-inf gives inf + NaN j
    zero = lax.eq(a, _const(a, 0))
    return [(_and(_or(zero, _isinf_(a)), lax.bitwise_not(lax.is_finite(b))),
             _pick(zero, _NAN, _INF, a), _pick(zero, 0.0, _NAN, a)), _nan_real_zero_imag(a, b)]


def _tanh_fixes(a, b):
    # a = +-0, b infinite or NaN: a + NaN j; a = +-inf: +-1 + 0j (the zero with b's sign)
    return [(_and(lax.eq(a, _const(a, 0)), lax.bitwise_not(lax.is_finite(b))), a, _NAN),
            (_isinf_(a), _pick(lax.gt(a, _const(a, 0)), 1.0, -1.0, a), _copysign_const(0.0, b)),
            _nan_real_zero_imag(a, b)]


def _atanh_fixes(a, b):
    # a NaN part gives NaN + NaN j except: a = +-0 or +-inf with b NaN gives +-0 + NaN j, a NaN
    # with b infinite gives 0 +- pi/2 j
    a_nan, b_nan = _isnan_(a), _isnan_(b)
    zero_re = _or(_and(_or(lax.eq(a, _const(a, 0)), _isinf_(a)), b_nan),
                  _and(a_nan, _isinf_(b)))
    return [(_or(a_nan, b_nan), select(zero_re, _copysign_const(0.0, a), _const(a, _NAN, False)),
             select(_and(a_nan, _isinf_(b)), _copysign_const(_HALF_PI, b),
                    _const(b, _NAN, False)))]


def _asinh_fixes(a, b):
    # a NaN: b = +-0 gives NaN +- 0j, b infinite gives inf + NaN j, else NaN + NaN j
    return [(_isnan_(a), _pick(_isinf_(b), _INF, _NAN, a),
             select(lax.eq(b, _const(b, 0)), b, _const(b, _NAN, False)))]


def _acos_fixes(a, b):
    # a NaN part gives NaN + NaN j except: acos(+-0 + NaN j) = pi/2 + NaN j,
    # acos(+-inf + NaN j) = NaN + inf j, acos(NaN +- inf j) = NaN -+ inf j
    a_nan, b_nan = _isnan_(a), _isnan_(b)
    return [(_or(a_nan, b_nan), _pick(_and(lax.eq(a, _const(a, 0)), b_nan), _HALF_PI, _NAN, a),
             select(_and(_isinf_(a), b_nan), _const(b, _INF, False),
                    select(_and(a_nan, _isinf_(b)), lax.neg(b), _const(b, _NAN, False))))]


def _acosh_fixes(a, b):
    # a finite, b NaN: NaN + pi/2 j for a = +-0, else NaN + NaN j
    return [(_and(lax.is_finite(a), _isnan_(b)), _NAN,
             _pick(lax.eq(a, _const(a, 0)), _HALF_PI, _NAN, a))]


sin = _unary("sin", lax.sin)
cos = _unary("cos", lax.cos)
tan = _unary("tan", lax.tan)
arcsin = _unary("arcsin", lax.asin)
arccos = _unary("arccos", _standard_complex(lax.acos, _acos_fixes))
arctan = _unary("arctan", lax.atan)
sinh = _unary("sinh", _standard_complex(lax.sinh, _sinh_fixes))
cosh = _unary("cosh", _standard_complex(lax.cosh, _cosh_fixes))
tanh = _unary("tanh", _standard_complex(lax.tanh, _tanh_fixes))
arcsinh = _unary("arcsinh", _standard_complex(lax.asinh, _asinh_fixes))
arccosh = _unary("arccosh", _standard_complex(lax.acosh, _acosh_fixes))
arctanh = _unary("arctanh", _standard_complex(lax.atanh, _atanh_fixes))
asin, acos, atan, asinh, acosh, atanh = arcsin, arccos, arctan, arcsinh, arccosh, arctanh
exp = _unary("exp", _standard_complex(lax.exp, _exp_fixes(0.0)))
exp2 = _unary("exp2", lax.exp2)
expm1 = _unary("expm1", _standard_complex(lax.expm1, _exp_fixes(-1.0)))
log = _unary("log", _standard_complex(lax.log, _log_fixes))
log2 = _unary("log2", _log_base(2.0))
log10 = _unary("log10", _log_base(10.0))
log1p = _unary("log1p", _standard_complex(lax.log1p, _log_fixes))
sqrt = _unary("sqrt", _standard_complex(lax.sqrt, _sqrt_fixes))
reciprocal = _unary("reciprocal", lambda x: lax.integer_pow(x, -1))
deg2rad = _unary("deg2rad", lambda x: lax.mul(x, _const(x, np.pi / 180)))
rad2deg = _unary("rad2deg", lambda x: lax.mul(x, _const(x, 180 / np.pi)))
radians, degrees = deg2rad, rad2deg


def cbrt(x, /):
    """Real cube root (complex inputs are refused, as in JAX)."""
    x, = promote_args_inexact("cbrt", x)
    if dtypes.is_complex(dtype_of(x)):
        _reject("cbrt", x, "a real dtype")
    return lax.cbrt(x)


def square(x, /):
    x, = promote_args_numeric("square", x)
    return lax.integer_pow(x, 2)


def sinc(x, /):
    """sin(pi x) / (pi x), with sinc(0) = 1."""
    x, = promote_args_inexact("sinc", x)
    is_zero = lax.eq(x, _const(x, 0))
    safe = select(is_zero, _const(x, 1), lax.mul(x, _const(x, np.pi)))
    return select(is_zero, _const(x, 1), lax.div(lax.sin(safe), safe))


# --- sign, rounding, absolute value -------------------------------------------------------------

def negative(x, /):
    x, = promote_args("negative", x)
    if dtype_of(x) == dtypes.bool_:
        _reject("negative", x, "a numeric dtype (use logical_not or ~ for booleans)")
    return lax.neg(x)


def positive(x, /):
    x, = promote_args("positive", x)
    return ensure_array(x)


def abs(x, /):  # noqa: A001
    x, = promote_args("abs", x)
    dt = dtype_of(x)
    if dt == dtypes.bool_ or dtypes.is_unsigned(dt):
        return ensure_array(x)
    return _keep_weak(x, lax.abs(x))


absolute = abs


def fabs(x, /):
    x, = promote_args_inexact("fabs", x)
    if dtypes.is_complex(dtype_of(x)):
        _reject("fabs", x, "a real dtype")
    return _keep_weak(x, lax.abs(x))


def sign(x, /):
    x, = promote_args("sign", x)
    if dtype_of(x) == dtypes.bool_:
        _reject("sign", x, "a numeric dtype")
    out = lax.sign(x)
    if dtypes.is_inexact(dtype_of(x)):
        # sign(-0) is +0 (the standard's; jax.numpy gives -0): 0 for every zero
        out = select(lax.eq(x, _const(x, 0)), _const(out, 0), out)
    return out


def _int_passthrough(name: str, float_fn):
    """Rounding functions: integers and bools are already integral and come back unchanged."""
    def f(x, /):
        x, = promote_args(name, x)
        dt = dtype_of(x)
        if dt == dtypes.bool_ or dtypes.is_int(dt):
            return ensure_array(x)
        if dtypes.is_complex(dt):
            _reject(name, x, "a real dtype")
        return float_fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name}; integer inputs are returned unchanged (as JAX)."
    return f


def _trunc(x):
    return select(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x))


floor = _int_passthrough("floor", lax.floor)
ceil = _int_passthrough("ceil", lax.ceil)
trunc = _int_passthrough("trunc", _trunc)
fix = _int_passthrough("fix", _trunc)


def _round_even(x):
    if dtypes.is_complex(dtype_of(x)):
        return _keep_weak(x, lax.complex(_round_even(lax.real(x)), _round_even(lax.imag(x))))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def rint(x, /):
    """Round to the nearest integer, halves to even; integers give floats (as JAX)."""
    x, = promote_args("rint", x)
    dt = dtype_of(x)
    if not dtypes.is_inexact(dt):
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    return _round_even(x)


def round(a, decimals=0, out=None):  # noqa: A001
    """Round to `decimals` places, halves to even (NumPy's rule)."""
    check_no_out("round", out)
    a, = promote_args("round", a)
    decimals = static_int(decimals, "the decimals argument of round")
    dt = dtype_of(a)
    weak = dtypes.is_weakly_typed(a)
    if dt == dtypes.bool_:
        raise ValueError("round does not support boolean inputs")
    if dtypes.is_int(dt):
        if decimals >= 0:
            return ensure_array(a)
        # the nearest multiple of f = 10**-decimals, halves to even, in the integer dtype
        f = 10 ** (-decimals)
        if f > np.iinfo(dt).max:  # |a| < f / 2 for every value of the dtype
            return _zeros_like(ensure_array(a))
        q = floor_divide(a, _const(a, f))
        r = lax.sub(a, lax.mul(q, _const(a, f)))  # 0 <= r < f
        rest = lax.sub(_const(r, f), r)  # compare r with f - r: 2 * r might overflow
        odd = lax.ne(remainder(q, _const(q, 2)), _const(q, 0))
        up = lax.bitwise_or(lax.gt(r, rest), lax.bitwise_and(lax.eq(r, rest), odd))
        return lax.mul(select(up, lax.add(q, _const(q, 1)), q), _const(a, f))
    if decimals == 0:
        return _round_even(a)
    # scale in float32 at least: 10**decimals is not representable enough in 16 bits
    work = dtypes.float32 if dt in (dtypes.float16, dtypes.bfloat16) else dt
    x = convert(a, work, weak)
    factor = _const(x, 10.0 ** decimals)
    return convert(lax.div(_round_even(lax.mul(x, factor)), factor), dt, weak)


around = round


# --- classification ----------------------------------------------------------------------------

def isnan(x, /):
    x, = promote_args("isnan", x)
    if dtypes.is_inexact(dtype_of(x)):
        return lax.ne(x, x)
    return _full_bool(x, False)


def isinf(x, /):
    x, = promote_args("isinf", x)
    dt = dtype_of(x)
    if dtypes.is_complex(dt):
        return lax.bitwise_or(isinf(lax.real(x)), isinf(lax.imag(x)))
    if dtypes.is_float(dt):
        return lax.eq(lax.abs(x), _const(x, np.inf))
    return _full_bool(x, False)


def isfinite(x, /):
    x, = promote_args("isfinite", x)
    dt = dtype_of(x)
    if dtypes.is_complex(dt):
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    if dtypes.is_float(dt):
        return lax.is_finite(x)
    return _full_bool(x, True)


def _is_signed_inf(name, value):
    def f(x, /):
        x, = promote_args(name, x)
        dt = dtype_of(x)
        if dtypes.is_complex(dt):
            _reject(name, x, "a real dtype")
        if dtypes.is_float(dt):
            return lax.eq(x, _const(x, value))
        return _full_bool(x, False)
    f.__name__ = f.__qualname__ = name
    return f


isposinf = _is_signed_inf("isposinf", np.inf)
isneginf = _is_signed_inf("isneginf", -np.inf)


def signbit(x, /):
    """True where the sign bit is set (so also for -0.0 and negative NaNs)."""
    x, = promote_args("signbit", x)
    dt = dtype_of(x)
    if dtypes.is_signed(dt):
        return lax.lt(x, _const(x, 0))
    if dt == dtypes.bool_ or dtypes.is_unsigned(dt):
        return _full_bool(x, False)
    if dtypes.is_complex(dt):
        _reject("signbit", x, "a real dtype")
    bits = lax.bitcast_convert_type(x, np.dtype(f"int{dt.itemsize * 8}"))
    return lax.lt(bits, _const(bits, 0))


# --- complex parts -------------------------------------------------------------------------------

def conjugate(x, /):
    x, = promote_args("conjugate", x)
    return lax.conj(x) if dtypes.is_complex(dtype_of(x)) else ensure_array(x)


conj = conjugate


def real(val, /):
    val, = promote_args("real", val)
    return _keep_weak(val, lax.real(val)) if dtypes.is_complex(dtype_of(val)) else \
        ensure_array(val)


def imag(val, /):
    val, = promote_args("imag", val)
    if dtypes.is_complex(dtype_of(val)):
        return _keep_weak(val, lax.imag(val))
    return _zeros_like(ensure_array(val))


def angle(z, deg=False):
    """The argument of complex `z` (pi for negative reals), in radians unless deg=True."""
    z, = promote_args_inexact("angle", z)
    if dtypes.is_complex(dtype_of(z)):
        re, im = lax.real(z), lax.imag(z)
    else:
        z = ensure_array(z)
        re, im = z, _zeros_like(z)
    out = lax.atan2(im, re)
    return lax.mul(out, _const(out, 180 / np.pi)) if deg else out


# --- logical and bitwise -------------------------------------------------------------------------

def _check_int_or_bool(fun_name, *args):
    for a in args:
        dt = dtype_of(a)
        if not (dt == dtypes.bool_ or dtypes.is_int(dt)):
            _reject(fun_name, a, "integer or boolean dtypes")


def invert(x, /):
    x, = promote_args("invert", x)
    _check_int_or_bool("invert", x)
    return lax.bitwise_not(x)


bitwise_not = bitwise_invert = invert


def _to_bool(x):
    return x if dtype_of(x) == dtypes.bool_ else lax.ne(x, _const(x, 0))


def logical_not(x, /):
    x, = promote_args("logical_not", x)
    return lax.bitwise_not(_to_bool(x))


def _logical(name, fn):
    def f(x1, x2, /):
        check_arraylike(name, x1, x2)
        # each side becomes bool first: logical ops never promote their inputs together
        x1, x2 = (_to_bool(*promote_args(name, a)) for a in (x1, x2))
        x1, x2 = promote_args(name, x1, x2)
        return fn(x1, x2)
    f.__name__ = f.__qualname__ = name
    return f


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)


def _bitwise(name, fn, ints_only=False):
    def f(x1, x2, /):
        # shifts take bools as the default int (as JAX); and/or/xor keep bools
        x1, x2 = (promote_args_numeric if ints_only else promote_args)(name, x1, x2)
        if ints_only:
            for a in (x1, x2):
                if not dtypes.is_int(dtype_of(a)):
                    _reject(name, a, "integer dtypes")
        else:
            _check_int_or_bool(name, x1, x2)
        return fn(x1, x2)
    f.__name__ = f.__qualname__ = name
    return f


def _right_shift(x1, x2):
    if dtypes.is_unsigned(dtype_of(x1)):
        return lax.shift_right_logical(x1, x2)
    return lax.shift_right_arithmetic(x1, x2)


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and)
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor)
left_shift = _bitwise("left_shift", lax.shift_left, ints_only=True)
right_shift = _bitwise("right_shift", _right_shift, ints_only=True)
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


# --- comparisons ---------------------------------------------------------------------------------

def _compare(name, fn, ordered=False):
    def f(x1, x2, /):
        x1, x2 = promote_args(name, x1, x2)
        if ordered and dtypes.is_complex(dtype_of(x1)):
            # lax orders reals only; complex numbers compare by (real, imag), as NumPy/JAX
            r1, r2, i1, i2 = lax.real(x1), lax.real(x2), lax.imag(x1), lax.imag(x2)
            return lax.bitwise_or(lax.bitwise_and(lax.ne(r1, r2), fn(r1, r2)),
                                  lax.bitwise_and(lax.eq(r1, r2), fn(i1, i2)))
        return fn(x1, x2)
    f.__name__ = f.__qualname__ = name
    return f


equal = _compare("equal", lax.eq)
not_equal = _compare("not_equal", lax.ne)
less = _compare("less", lax.lt, True)
less_equal = _compare("less_equal", lax.le, True)
greater = _compare("greater", lax.gt, True)
greater_equal = _compare("greater_equal", lax.ge, True)


# --- arithmetic ----------------------------------------------------------------------------------

def add(x1, x2, /):
    x1, x2 = promote_args("add", x1, x2)
    aval = getattr(x1, "aval", None)  # (dtype_of without its calls: the operator's hot path)
    if (aval.dtype if aval is not None else dtype_of(x1)) == dtypes.bool_:
        return lax.bitwise_or(x1, x2)
    return lax.add(x1, x2)


def subtract(x1, x2, /):
    x1, x2 = promote_args("subtract", x1, x2)
    if dtype_of(x1) == dtypes.bool_:
        _reject("subtract", x1, "numeric dtypes (use logical_xor for booleans)")
    return lax.sub(x1, x2)


def multiply(x1, x2, /):
    x1, x2 = promote_args("multiply", x1, x2)
    return lax.bitwise_and(x1, x2) if dtype_of(x1) == dtypes.bool_ else lax.mul(x1, x2)


def true_divide(x1, x2, /):
    """x1 / x2 in floating point: integer inputs give the default float (as JAX)."""
    x1, x2 = promote_args_inexact("true_divide", x1, x2)
    return lax.div(x1, x2)


divide = true_divide


def _float_floor_divide(x1, x2):
    """Python's float floor division (the remainder takes the divisor's sign, the quotient is
    exact), with the array API standard's special cases: where x1 is +-0 or +-inf, or x2 is 0 or
    +-inf, the quotient is x1 / x2 (so -0 // 2 = -0, inf // 2 = inf, -3 // inf = -0, where
    NumPy and jax.numpy give 0, NaN and -1)."""
    mod = lax.rem(x1, x2)
    zero = _const(x2, 0)
    as_divide = _or(lax.eq(x2, zero), lax.eq(x1, zero), _isinf_(x1), _isinf_(x2))
    div = lax.div(select(as_divide, x1, lax.sub(x1, mod)), x2)
    fix_ = _and(lax.ne(mod, zero), lax.ne(lax.sign(x2), lax.sign(mod)),
                lax.bitwise_not(as_divide))
    div = select(fix_, lax.sub(div, _const(div, 1)), div)
    return _round_even(div)


def floor_divide(x1, x2, /):
    x1, x2 = promote_args_numeric("floor_divide", x1, x2)
    dt = dtype_of(x1)
    if dtypes.is_unsigned(dt):
        return lax.div(x1, x2)
    if dtypes.is_int(dt):
        quot = lax.div(x1, x2)  # rounds toward zero: one too high when signs differ
        adjust = lax.bitwise_and(lax.ne(lax.sign(x1), lax.sign(x2)),
                                 lax.ne(lax.rem(x1, x2), _const(x1, 0)))
        return select(adjust, lax.sub(quot, _const(quot, 1)), quot)
    if dtypes.is_complex(dt):
        _reject("floor_divide", x1, "real dtypes")
    return _float_floor_divide(x1, x2)


def remainder(x1, x2, /):
    """x1 mod x2 with the sign of x2 (Python's %)."""
    x1, x2 = promote_args_numeric("remainder", x1, x2)
    if dtypes.is_complex(dtype_of(x1)):
        _reject("remainder", x1, "real dtypes")
    if dtypes.is_int(dtype_of(x2)) and (_is_array_or_tracer(x2) or np.any(np.asarray(x2) == 0)):
        x2 = select(lax.eq(x2, _const(x2, 0)), _const(x2, 1), x2)  # x % 0 is 0 (as JAX)
    r = lax.rem(x1, x2)
    zero = _const(r, 0)
    x2_neg = lax.lt(x2, zero)
    wrong_sign = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), x2_neg))
    r = select(wrong_sign, lax.add(r, x2), r)
    if dtypes.is_float(dtype_of(r)):
        # a zero remainder takes the divisor's sign (the standard's -0 % 2 = +0, 0 % -2 = -0;
        # jax.numpy keeps the dividend's)
        r = select(lax.eq(r, zero), _pick(x2_neg, -0.0, 0.0, r), r)
    return r


mod = remainder


def fmod(x1, x2, /):
    """x1 mod x2 with the sign of x1 (C's fmod)."""
    x1, x2 = promote_args_numeric("fmod", x1, x2)
    if dtypes.is_complex(dtype_of(x1)):
        _reject("fmod", x1, "real dtypes")
    return lax.rem(x1, x2)


def divmod(x1, x2, /):  # noqa: A001
    return floor_divide(x1, x2), remainder(x1, x2)


def _int_power(x1, x2):
    """Integer power by binary exponentiation over all bits of the exponent; a negative
    exponent gives the power's reciprocal rounded toward zero (+-1 for x1 = +-1, else 0)."""
    dt = dtype_of(x1)
    one, zero = _const(x1, 1), _const(x1, 0)
    acc = select(True, one, zero)
    base, e = x1, x2
    for _ in range(dt.itemsize * 8 - (1 if dtypes.is_signed(dt) else 0)):
        acc = select(lax.ne(lax.bitwise_and(e, one), zero), lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.shift_right_logical(e, one)
    if dtypes.is_signed(dt):
        odd = lax.ne(lax.bitwise_and(x2, one), zero)
        small = select(lax.eq(x1, one), one,
                       select(lax.eq(x1, lax.neg(one)), select(odd, lax.neg(one), one), zero))
        acc = select(lax.lt(x2, zero), small, acc)
    return acc


def power(x1, x2, /):
    """x1 ** x2. A static Python int exponent uses lax.integer_pow (exact for integers);
    integer arrays use binary exponentiation."""
    check_arraylike("power", x1, x2)
    if not isinstance(x2, Tracer):  # a concrete integer exponent: exact repeated squaring
        try:
            n = operator.index(x2)
        except TypeError:
            pass
        else:
            x1, = promote_args_numeric("power", x1)
            if dtypes.is_int(dtype_of(x1)) and n < 0:
                raise ValueError("power: integers to negative integer powers are not allowed")
            return lax.integer_pow(x1, n)
    weak = dtypes.result_type_with_weak(x1, x2)[1]
    x1, x2 = promote_args_numeric("power", x1, x2)
    if dtypes.is_int(dtype_of(x1)):
        out = _int_power(x1, x2)
        return lax._convert_element_type(out, out.aval.dtype, weak)
    return lax.pow(x1, x2)


pow = power  # noqa: A001


def float_power(x1, x2, /):
    """x1 ** x2 computed in the widest float (float32 unless x64 is on) or complex."""
    check_arraylike("float_power", x1, x2)
    dt, weak = dtypes.result_type_with_weak(x1, x2)
    target = (dtypes.canonicalize_dtype(dtypes.complex128) if dtypes.is_complex(dt)
              else dtypes.canonicalize_dtype(dtypes.float64))
    x1, x2 = convert(x1, target), convert(x2, target)
    x1, x2 = promote_args("float_power", x1, x2)
    return lax.pow(x1, x2)


def maximum(x1, x2, /):
    """Elementwise maximum; NaN wins (use fmax to ignore NaNs)."""
    x1, x2 = promote_args("maximum", x1, x2)
    return lax.max(x1, x2)


def minimum(x1, x2, /):
    x1, x2 = promote_args("minimum", x1, x2)
    return lax.min(x1, x2)


def _nan_ignoring(name, fn):
    def f(x1, x2, /):
        x1, x2 = promote_args(name, x1, x2)
        out = fn(x1, x2)
        if dtypes.is_inexact(dtype_of(x1)):
            out = select(lax.ne(x2, x2), x1, select(lax.ne(x1, x1), x2, out))
        return out
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name}: a NaN loses to a number (NaN only if both are NaN)."
    return f


fmax = _nan_ignoring("fmax", lax.max)
fmin = _nan_ignoring("fmin", lax.min)


def _real_inexact(name, *args):
    args = promote_args_inexact(name, *args)
    for a in args:
        if dtypes.is_complex(dtype_of(a)):
            _reject(name, a, "real dtypes")
    return args


def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow or underflow in the squares."""
    x1, x2 = _real_inexact("hypot", x1, x2)
    a, b = _keep_weak(x1, lax.abs(x1)), _keep_weak(x2, lax.abs(x2))
    big, small = lax.max(a, b), lax.min(a, b)
    safe = select(lax.eq(big, _const(big, 0)), _const(big, 1), big)
    ratio = lax.div(small, safe)
    r = lax.mul(big, lax.sqrt(lax.add(_const(ratio, 1), lax.mul(ratio, ratio))))
    # inf beats NaN, and inf/inf above would be NaN
    inf_ = lax.bitwise_or(lax.eq(a, _const(a, np.inf)), lax.eq(b, _const(b, np.inf)))
    return select(inf_, _const(r, np.inf), r)


def arctan2(x1, x2, /):
    x1, x2 = _real_inexact("arctan2", x1, x2)
    return lax.atan2(x1, x2)


atan2 = arctan2


def _wrap_angle(x, half_turn):
    """x moved into [-half_turn, half_turn) by whole turns."""
    return lax.sub(remainder(lax.add(x, _const(x, half_turn)), _const(x, 2 * half_turn)),
                   _const(x, half_turn))


def _logaddexp(name, exp_fn, log1p_scale):
    def f(x1, x2, /):
        x1, x2 = promote_args_inexact(name, x1, x2)
        amax = lax.max(x1, x2)
        if dtypes.is_complex(dtype_of(x1)):
            # log(e^a + e^b) = max + log1p(e^(min - max)), the imaginary part taken mod 2 pi
            delta = lax.sub(lax.add(x1, x2), lax.mul(amax, _const(amax, 2)))
            soft = lax.log1p(exp_fn(delta))
            if log1p_scale is not None:
                soft = lax.mul(soft, _const(soft, log1p_scale))
            out = lax.add(amax, soft)
            half_turn = np.pi if log1p_scale is None else np.pi * log1p_scale
            return lax.complex(lax.real(out), _wrap_angle(lax.imag(out), half_turn))
        delta = lax.sub(x1, x2)
        # delta is NaN when both are the same infinity (or a NaN): x1 + x2 is then right
        soft = lax.log1p(exp_fn(lax.neg(lax.abs(delta))))
        if log1p_scale is not None:
            soft = lax.mul(soft, _const(soft, log1p_scale))
        return select(lax.ne(delta, delta), lax.add(x1, x2), lax.add(amax, soft))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{name}(x1, x2): log of the sum of exponentials, without overflow."
    return f


logaddexp = _logaddexp("logaddexp", lax.exp, None)
logaddexp2 = _logaddexp("logaddexp2", lax.exp2, 1 / np.log(2))


def copysign(x1, x2, /):
    x1, x2 = _real_inexact("copysign", x1, x2)
    mag = lax.abs(x1)
    return select(signbit(x2), lax.neg(mag), mag)


def nextafter(x1, x2, /):
    x1, x2 = _real_inexact("nextafter", x1, x2)
    return lax.nextafter(x1, x2)


def heaviside(x1, x2, /):
    """0 where x1 < 0, 1 where x1 > 0, x2 elsewhere (as JAX)."""
    x1, x2 = _real_inexact("heaviside", x1, x2)
    zero, one = _const(x1, 0), _const(x1, 1)
    return select(lax.lt(x1, zero), zero, select(lax.gt(x1, zero), one, x2))


# ---------------------------------------------------------------------------------------------
# Mantissa and exponent

_INT_OF_BITS = {16: np.int16, 32: np.int32, 64: np.int64}


def frexp(x, /):
    """(mantissa, exponent) with x == mantissa * 2**exponent, |mantissa| in [0.5, 1) and an
    int32 exponent; 0, inf and nan give (x, 0). Integers become the default float (as JAX).
    The mantissa is read from the bits, and its derivative is 2**-exponent (as JAX's
    custom JVP)."""
    x, = promote_args_inexact("frexp", x)
    dt = dtype_of(x)
    if dtypes.is_complex(dt):
        raise TypeError("frexp does not support complex-valued inputs")
    x = ensure_array(x)
    info = dtypes.finfo(dt)
    int_dt = np.dtype(_INT_OF_BITS[info.bits])
    mask = (1 << info.nexp) - 1
    bias = 1 - info.minexp
    xs = lax.stop_gradient(x)
    # subnormals are scaled into the normal range first
    tiny = lax.lt(lax.abs(xs), _const(xs, info.tiny))
    scaled = select(tiny, lax.mul(xs, _const(xs, float(1 << info.nmant))), xs)
    bits = lax.bitcast_convert_type(scaled, int_dt)
    e = select(tiny, convert(-info.nmant, int_dt), convert(0, int_dt))
    biased = lax.bitwise_and(lax.shift_right_logical(bits, convert(info.nmant, int_dt)),
                             convert(mask, int_dt))
    e = lax.add(e, lax.sub(biased, convert(bias - 1, int_dt)))
    bits = lax.bitwise_and(bits, convert(~(mask << info.nmant), int_dt))
    bits = lax.bitwise_or(bits, convert((bias - 1) << info.nmant, int_dt))
    m = lax.bitcast_convert_type(bits, dt)
    special = lax.bitwise_or(lax.bitwise_or(isinf(xs), isnan(xs)), lax.eq(xs, _const(xs, 0)))
    e = select(special, convert(0, int_dt), e)
    # the derivative: m = x * 2**-e, so dm/dx = m / x (finite away from the special values)
    scale = lax.div(m, select(special, _const(xs, 1), xs))
    scale = select(lax.bitwise_or(special, lax.bitwise_not(isfinite(scale))),
                   _const(xs, 0), scale)
    x_safe = select(special, _const(xs, 0), x)  # inf - inf would be nan
    m_with_grad = lax.add(m, lax.mul(lax.sub(x_safe, lax.stop_gradient(x_safe)), scale))
    return select(special, x, m_with_grad), lax.convert_element_type(e, np.int32)


def ldexp(x1, x2, /):
    """x1 * 2**x2, computed as JAX does (through frexp, so no intermediate overflows); x2 must
    be an integer array and x1 real."""
    check_arraylike("ldexp", x1, x2)
    d1, d2 = dtype_of(x1), dtype_of(x2)
    if dtypes.is_complex(d1) or dtypes.is_inexact(d2):
        raise ValueError(f"ldexp not supported for input types {(d1, d2)}")
    x1, = promote_args_inexact("ldexp", x1)
    x1 = ensure_array(x1)
    dt = dtype_of(x1)
    x2 = lax.convert_element_type(ensure_array(x2), dt)
    m, e = frexp(x1)
    e = add(lax.convert_element_type(e, dt), x2)
    pos = greater(e, 0)
    m = _where(pos, multiply(m, 2), m)
    e = _where(pos, subtract(e, 1), e)
    x = multiply(m, power(2, lax.convert_element_type(e, dtype_of(m))))
    return _where(logical_or(isinf(x1), equal(x1, 0)), x1, x)


def _where(c, x, y):
    from plax._src.numpy.logic import where
    return where(c, x, y)
