"""Library implementations of the elementwise primitives through `xp` (XLA's semantics where
NumPy/CuPy differ: integer division by zero, shifts past the bit width, saturating float -> int
conversion, NaN-propagating max/min, round half to even or away from zero)."""

from __future__ import annotations

import numpy as np

from plax_cupy import xp as X


def _is_int(dt) -> bool:
    return np.dtype(dt).kind in "iu"


def _is_bf16(dt) -> bool:
    return np.dtype(dt).name == "bfloat16"


def _is_half(dt) -> bool:
    dt = np.dtype(dt)
    return dt.itemsize == 2 and (dt.kind == "f" or _is_bf16(dt))


def _quiet(f):
    def g(*args, **kw):
        with X.quiet():
            return f(*args, **kw)
    g.__name__ = getattr(f, "__name__", "rule")
    return g


def _ufunc(name: str, quiet: bool = False):
    """`xp.<name>` looked up at call time (the build is chosen when the backend starts)."""
    def f(*args):
        return getattr(X.xp, name)(*args)
    f.__name__ = name
    return _quiet(f) if quiet else f


def _special(name: str):
    """A scipy.special function; 16-bit floats computed in float32 and rounded once."""
    def g(x):
        fn = X.special(name)
        if _is_half(x.dtype):
            return fn(x.astype(np.float32)).astype(x.dtype)
        return fn(x)
    g.__name__ = name
    return _quiet(g)


def _sign(x):
    xp = X.xp
    if x.dtype.kind == "c":
        a = xp.abs(x)
        return xp.where(a == 0, 0, x / xp.where(a == 0, 1, a)).astype(x.dtype)
    if x.dtype.kind == "u":
        return (x != 0).astype(x.dtype)
    return xp.sign(x)


def _round(x, rounding_method=0):
    xp = X.xp
    if rounding_method in (1, "TO_NEAREST_EVEN"):
        return xp.round(x)
    return (xp.sign(x) * xp.floor(xp.abs(x) + 0.5)).astype(x.dtype)  # half away from zero


def _logistic(x):
    if x.dtype.kind == "c":
        return 1 / (1 + X.xp.exp(-x))
    return _special("expit")(x)


def _rsqrt(x):
    return 1 / X.xp.sqrt(x)


def _not(x):
    return X.xp.logical_not(x) if x.dtype == np.bool_ else X.xp.invert(x)


def _integer_pow(x, *, y):
    if y == 0:
        return X.xp.ones_like(x)
    if y < 0:
        return 1 / _integer_pow(x, y=-y)
    # repeated squaring, as XLA does, so integer overflow wraps the same way
    acc, base, n = None, x, y
    while n:
        if n & 1:
            acc = base if acc is None else acc * base
        n >>= 1
        if n:
            base = base * base
    return acc


def _population_count(x):
    xp = X.xp
    u = xp.ascontiguousarray(x).view(np.dtype(f"u{x.dtype.itemsize}"))
    count = xp.zeros(x.shape, np.uint8)
    for i in range(8 * x.dtype.itemsize):
        count += ((u >> i) & 1).astype(np.uint8)
    return count.astype(x.dtype)


def _div(a, b):
    xp = X.xp
    if _is_int(a.dtype):
        # C semantics: truncate toward zero; x / 0 is -1 for signed (all ones) as XLA,
        # INT_MIN / -1 wraps to INT_MIN
        zero = b == 0
        bs = xp.where(zero, 1, b).astype(a.dtype)
        if a.dtype.kind == "i":
            ua = xp.abs(a).astype(np.dtype(f"u{a.dtype.itemsize}"))
            ub = xp.abs(bs).astype(ua.dtype)
            q = (ua // ub).astype(a.dtype)
            q = xp.where((a < 0) != (bs < 0), -q, q)
            return xp.where(zero, -1, q).astype(a.dtype)
        return xp.where(zero, np.iinfo(a.dtype).max, a // bs).astype(a.dtype)
    return xp.true_divide(a, b)


def _rem(a, b):
    xp = X.xp
    if _is_int(a.dtype):
        zero = b == 0
        r = xp.fmod(a, xp.where(zero, 1, b).astype(a.dtype))
        return xp.where(zero, a, r).astype(a.dtype)
    return xp.fmod(a, b)


def _nbits(dt):
    return dt.itemsize * 8


def _udt(dt):
    return np.dtype(f"u{dt.itemsize}")


def _shift_left(a, b):
    xp = X.xp
    n = _nbits(a.dtype)
    ub = b.astype(_udt(a.dtype))
    out = xp.left_shift(a, xp.minimum(ub, n - 1).astype(a.dtype))
    return xp.where(ub >= n, 0, out).astype(a.dtype)


def _shift_right_logical(a, b):
    xp = X.xp
    n = _nbits(a.dtype)
    udt = _udt(a.dtype)
    ua, ub = xp.asarray(a).view(udt), b.astype(udt)
    out = xp.right_shift(ua, xp.minimum(ub, n - 1))
    return xp.asarray(xp.where(ub >= n, 0, out).astype(udt)).view(a.dtype)


def _shift_right_arithmetic(a, b):
    xp = X.xp
    n = _nbits(a.dtype)
    ub = b.astype(_udt(a.dtype))
    if a.dtype.kind == "u":
        sa = xp.asarray(a).view(np.dtype(f"i{a.dtype.itemsize}"))
        out = xp.right_shift(sa, xp.minimum(ub, n - 1).astype(sa.dtype))
        return xp.asarray(out).view(a.dtype)
    return xp.right_shift(a, xp.minimum(ub, n - 1).astype(a.dtype))


def _select_n(which, *cases):
    xp = X.xp
    if len(cases) == 1:
        return cases[0]
    if which.dtype == np.bool_:
        return xp.where(which, cases[1], cases[0])
    out = cases[0]
    for i in range(1, len(cases)):
        out = xp.where(which == i, cases[i], out)
    return out


def _clamp(lo, x, hi):
    return X.xp.minimum(X.xp.maximum(x, lo), hi)


def _convert_element_type(x, *, new_dtype, weak_type=False, sharding=None):
    xp = X.xp
    new_dtype = np.dtype(new_dtype)
    if x.dtype == new_dtype:
        return x
    if x.dtype.kind == "c" and new_dtype.kind != "c":
        x = x.real
    if new_dtype == np.bool_:
        return x != 0
    if _is_int(new_dtype) and x.dtype.kind in "fcV":
        # float -> int: truncate; NaN -> 0; out of range saturates (XLA's behaviour), compared
        # in float64 where the 64-bit bounds are 2**63 / 2**64 (a clip then cast overflows)
        info = np.iinfo(new_dtype)
        xf = xp.trunc(x.astype(np.float64))
        hi, lo = xf >= float(info.max), xf <= float(info.min)
        safe = xp.where(hi | lo | xp.isnan(xf), 0.0, xf).astype(new_dtype)
        return xp.where(hi, info.max, xp.where(lo, info.min, safe)).astype(new_dtype)
    return x.astype(new_dtype)


def _bitcast(x, *, new_dtype):
    xp = X.xp
    new_dtype = np.dtype(new_dtype)
    x = xp.ascontiguousarray(x).reshape(x.shape)
    if x.dtype.itemsize > new_dtype.itemsize:
        return x.view(new_dtype).reshape(x.shape + (x.dtype.itemsize // new_dtype.itemsize,))
    if x.dtype.itemsize == new_dtype.itemsize:
        return x.view(new_dtype).reshape(x.shape)
    return x.view(new_dtype).reshape(x.shape[:-1])


def _complex(a, b):
    # not a + 1j*b: 1j * inf would make the real part nan
    xp = X.xp
    a, b = xp.broadcast_arrays(a, b)
    out = xp.empty(a.shape, np.complex128 if a.dtype == np.float64 else np.complex64)
    out.real, out.imag = a, b
    return out


def _nextafter(a, b):
    xp = X.xp
    if not _is_bf16(a.dtype):
        return xp.nextafter(a, b)
    # no bfloat16 kernel: step the bit pattern (as XLA does), one ulp towards b
    a, b = xp.broadcast_arrays(a, b)
    bits = a.view(np.uint16).astype(np.int32)
    tiny = xp.where(b > a, 1, 0x8001).astype(np.int32)  # the smallest subnormal, signed
    step = xp.where((b > a) == (a > 0), 1, -1)
    out = xp.where(a == 0, tiny, bits + step)
    out = xp.where(a == b, b.view(np.uint16).astype(np.int32), out)
    res = out.astype(np.uint16).view(a.dtype)
    return xp.where(xp.isnan(a) | xp.isnan(b), xp.asarray(np.nan, a.dtype), res)


def _lgamma(x):
    # XLA (and so JAX) gives +inf at -inf; scipy's gammaln gives -inf there
    out = _special("gammaln")(x)
    return X.xp.where(X.xp.isneginf(x), X.xp.asarray(np.inf, out.dtype), out)


def _digamma(x):
    # poles at 0 and the negative integers: NaN in XLA (and so JAX), +-inf in scipy
    xp = X.xp
    out = _special("digamma")(x)
    pole = (x <= 0) & (xp.floor(x) == x)
    return xp.where(pole, xp.asarray(np.nan, out.dtype), out)


def _identity(x):
    return x


LIBRARY = {
    "neg": _ufunc("negative"),
    "sign": _sign,
    "floor": _ufunc("floor"),
    "ceil": _ufunc("ceil"),
    "round": _round,
    "is_finite": _ufunc("isfinite"),
    "exp": _ufunc("exp", True),
    "exp2": _ufunc("exp2", True),
    "log": _ufunc("log", True),
    "log1p": _ufunc("log1p", True),
    "expm1": _ufunc("expm1", True),
    "tanh": _ufunc("tanh"),
    "logistic": _quiet(_logistic),
    "sin": _ufunc("sin", True),
    "cos": _ufunc("cos", True),
    "tan": _ufunc("tan", True),
    "asin": _ufunc("arcsin", True),
    "acos": _ufunc("arccos", True),
    "atan": _ufunc("arctan"),
    "sinh": _ufunc("sinh", True),
    "cosh": _ufunc("cosh", True),
    "asinh": _ufunc("arcsinh"),
    "acosh": _ufunc("arccosh", True),
    "atanh": _ufunc("arctanh", True),
    "sqrt": _ufunc("sqrt", True),
    "rsqrt": _quiet(_rsqrt),
    "cbrt": _ufunc("cbrt"),
    "abs": _ufunc("abs"),
    "erf": _special("erf"),
    "erfc": _special("erfc"),
    "erf_inv": _special("erfinv"),
    "lgamma": _quiet(_lgamma),
    "digamma": _quiet(_digamma),
    "not": _not,
    "integer_pow": _quiet(_integer_pow),
    "population_count": _population_count,
    "real": _ufunc("real"),
    "imag": _ufunc("imag"),
    "conj": _ufunc("conj"),
    "add": _ufunc("add", True),
    "sub": _ufunc("subtract", True),
    "mul": _ufunc("multiply", True),
    "div": _quiet(_div),
    "rem": _quiet(_rem),
    "pow": _ufunc("power", True),
    "max": _ufunc("maximum", True),
    "min": _ufunc("minimum", True),
    "atan2": _ufunc("arctan2", True),
    "nextafter": _quiet(_nextafter),
    "and": _ufunc("bitwise_and"),
    "or": _ufunc("bitwise_or"),
    "xor": _ufunc("bitwise_xor"),
    "shift_left": _shift_left,
    "shift_right_logical": _shift_right_logical,
    "shift_right_arithmetic": _shift_right_arithmetic,
    "eq": _ufunc("equal", True),
    "ne": _ufunc("not_equal", True),
    "lt": _ufunc("less", True),
    "le": _ufunc("less_equal", True),
    "gt": _ufunc("greater", True),
    "ge": _ufunc("greater_equal", True),
    "complex": _complex,
    "select_n": _select_n,
    "clamp": _quiet(_clamp),
    "convert_element_type": _quiet(_convert_element_type),
    "bitcast_convert_type": _bitcast,
    "stop_gradient": _identity,
}
