"""NumPy implementations of the elementwise primitives (XLA's semantics where NumPy differs).

The rules with semantics of their own (integer division, shifts, conversions, select, ...)
compute with `array_module` of their operands, so a backend on a NumPy-compatible module (the
cupy backend on CuPy) reuses them through `plax.extend.registry.impl_table("reference")`."""

from __future__ import annotations

import numpy as np

from plax._src import dtypes
from plax._src.array_module import array_module
from plax._src.lax import elementwise as ew

_ERR = dict(all="ignore")


def _quiet(f):
    def g(*args, **kw):
        with np.errstate(**_ERR):
            return f(*args, **kw)
    g.__name__ = getattr(f, "__name__", "impl")
    return g


def _special(name: str):
    """scipy.special's `name`, imported on first use (importing scipy.special costs ~200 ms,
    and every plax program that uses the xla backend loads this plugin too)."""
    def f(x):
        import scipy.special
        return getattr(scipy.special, name)(x)
    f.__name__ = name
    return f


def _via_f32(f):
    """scipy.special has no 16-bit kernels: compute in float32 and cast back."""
    def g(x):
        if x.dtype.itemsize == 2:
            return f(x.astype(np.float32)).astype(x.dtype)
        return f(x)
    return _quiet(g)


def _sign(x):
    xp = array_module(x)
    if x.dtype.kind == "c":
        a = xp.abs(x)
        return xp.where(a == 0, 0, x / xp.where(a == 0, 1, a)).astype(x.dtype)
    if dtypes.is_unsigned(x.dtype):
        return (x != 0).astype(x.dtype)
    return xp.sign(x)


def _round(x, rounding_method=0):
    xp = array_module(x)
    if rounding_method in (1, "TO_NEAREST_EVEN"):
        return xp.round(x)
    return (xp.sign(x) * xp.floor(xp.abs(x) + 0.5)).astype(x.dtype)  # half away from zero


def _logistic(x):
    if np.iscomplexobj(x):
        return 1 / (1 + np.exp(-x))
    return _via_f32(_special("expit"))(x)


def _rsqrt(x):
    return 1 / array_module(x).sqrt(x)


def _not(x):
    xp = array_module(x)
    return xp.logical_not(x) if x.dtype == np.bool_ else xp.invert(x)


def _integer_pow(x, *, y):
    xp = array_module(x)
    if y == 0:
        return xp.ones_like(x)
    if y < 0:
        return 1 / xp.power(x, -y)
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
    xp = array_module(x)
    u = xp.ascontiguousarray(x).view(np.dtype(f"u{x.dtype.itemsize}"))
    if xp is np:
        bits = np.unpackbits(u.reshape(-1, 1).view(np.uint8), axis=1).sum(axis=1)
        return bits.reshape(x.shape).astype(x.dtype)
    count = xp.zeros(x.shape, np.uint8)
    for i in range(8 * x.dtype.itemsize):
        count += ((u >> i) & 1).astype(np.uint8)
    return count.astype(x.dtype)


def _div(a, b):
    xp = array_module(a, b)
    if dtypes.is_int(a.dtype):
        # C semantics: truncate toward zero; x / 0 is -1 for signed (all ones) as XLA,
        # INT_MIN / -1 wraps to INT_MIN; magnitudes divide unsigned (|INT_MIN| fits there)
        zero = b == 0
        bs = xp.where(zero, 1, b).astype(a.dtype)
        if dtypes.is_signed(a.dtype):
            udt = np.dtype(f"u{a.dtype.itemsize}")
            q = (xp.abs(a).astype(udt) // xp.abs(bs).astype(udt)).astype(a.dtype)
            q = xp.where((a < 0) != (bs < 0), -q, q)
            return xp.where(zero, -1, q).astype(a.dtype)
        return xp.where(zero, a.dtype.type(np.iinfo(a.dtype).max), a // bs).astype(a.dtype)
    return xp.true_divide(a, b)


def _rem(a, b):
    xp = array_module(a, b)
    if dtypes.is_int(a.dtype):
        zero = b == 0
        r = xp.fmod(a, xp.where(zero, 1, b).astype(a.dtype))
        return xp.where(zero, a, r).astype(a.dtype)
    return xp.fmod(a, b)


def _max(a, b):
    return np.maximum(a, b)


def _min(a, b):
    return np.minimum(a, b)


def _nbits(dt):
    return dt.itemsize * 8


def _udt(dt):
    return np.dtype(f"u{dt.itemsize}")


def _shift_left(a, b):
    xp = array_module(a, b)
    n = _nbits(a.dtype)
    ub = b.astype(_udt(a.dtype))
    out = xp.left_shift(a, xp.minimum(ub, n - 1).astype(a.dtype))
    return xp.where(ub >= n, 0, out).astype(a.dtype)


def _shift_right_logical(a, b):
    xp = array_module(a, b)
    n = _nbits(a.dtype)
    udt = _udt(a.dtype)
    ua, ub = xp.asarray(a).view(udt), b.astype(udt)
    out = xp.right_shift(ua, xp.minimum(ub, n - 1))
    return xp.asarray(xp.where(ub >= n, 0, out).astype(udt)).view(a.dtype)


def _shift_right_arithmetic(a, b):
    xp = array_module(a, b)
    n = _nbits(a.dtype)
    ub = b.astype(_udt(a.dtype))
    if dtypes.is_unsigned(a.dtype):
        sa = xp.asarray(a).view(np.dtype(f"i{a.dtype.itemsize}"))
        out = xp.right_shift(sa, xp.minimum(ub, n - 1).astype(sa.dtype))
        return xp.asarray(out).view(a.dtype)
    return xp.right_shift(a, xp.minimum(ub, n - 1).astype(a.dtype))


def _select_n(which, *cases):
    if len(cases) == 1:
        return cases[0]
    xp = array_module(which, *cases)
    if which.dtype == np.bool_:
        return xp.where(which, cases[1], cases[0])
    out = cases[0]
    for i in range(1, len(cases)):
        out = xp.where(which == i, cases[i], out)
    return out


def _clamp(lo, x, hi):
    xp = array_module(lo, x, hi)
    return xp.minimum(xp.maximum(x, lo), hi)


def float_to_int(x, new_dtype, xp=np):
    """float -> int as XLA CPU/GPU convert: truncate toward zero, NaN -> 0, out of range
    (the infinities included) saturates at the integer type's bounds. The comparisons are in
    float64, where the 64-bit bounds round to 2**63 and 2**64, so `>= max` means "no int64 /
    uint64 holds it" (a plain clip-then-cast overflows there)."""
    info = np.iinfo(new_dtype)
    xf = xp.trunc(x.astype(np.float64))
    hi, lo = xf >= float(info.max), xf <= float(info.min)
    safe = xp.where(hi | lo | xp.isnan(xf), 0.0, xf).astype(new_dtype)
    t = np.dtype(new_dtype).type  # typed bounds: a Python 2**64 - 1 overflows CuPy's int64
    return xp.where(hi, t(info.max), xp.where(lo, t(info.min), safe)).astype(new_dtype)


def _convert_element_type(x, *, new_dtype, weak_type=False, sharding=None):
    new_dtype = np.dtype(new_dtype)
    if x.dtype == new_dtype:
        return x
    if x.dtype.kind == "c" and not dtypes.is_complex(new_dtype):
        x = x.real
    if new_dtype == np.bool_:
        return x != 0
    if dtypes.is_int(new_dtype) and dtypes.is_inexact(x.dtype):
        xp = array_module(x)
        return float_to_int(xp.asarray(x), new_dtype, xp)
    return x.astype(new_dtype)


def _bitcast(x, *, new_dtype):
    xp = array_module(x)
    new_dtype = np.dtype(new_dtype)
    x = xp.ascontiguousarray(x).reshape(x.shape)
    if x.dtype.itemsize > new_dtype.itemsize:
        return x.view(new_dtype).reshape(x.shape + (x.dtype.itemsize // new_dtype.itemsize,))
    if x.dtype.itemsize == new_dtype.itemsize:
        return x.view(new_dtype).reshape(x.shape)
    return x.view(new_dtype).reshape(x.shape[:-1])


def _complex(a, b):
    # not a + 1j*b: 1j * inf would make the real part nan
    xp = array_module(a, b)
    a, b = xp.broadcast_arrays(a, b)
    out = xp.empty(a.shape, np.complex128 if a.dtype == np.float64 else np.complex64)
    out.real, out.imag = a, b
    return out


def _is_finite(x):
    return np.isfinite(x)


def _nextafter(a, b):
    xp = array_module(a, b)
    if a.dtype != dtypes.bfloat16:
        return xp.nextafter(a, b)
    # no bfloat16 kernel: step the bit pattern (as XLA does), one ulp towards b
    a, b = xp.broadcast_arrays(a, b)
    bits = a.view(np.uint16).astype(np.int32)
    tiny = xp.where(b > a, 1, 0x8001).astype(np.int32)  # the smallest subnormal, signed
    step = xp.where((b > a) == (a > 0), 1, -1)
    out = xp.where(a == 0, tiny, bits + step)
    out = xp.where(a == b, b.view(np.uint16).astype(np.int32), out)
    res = out.astype(np.uint16).view(dtypes.bfloat16)
    return xp.where(xp.isnan(a) | xp.isnan(b), xp.asarray(np.nan, a.dtype), res)


def _lgamma(x):
    # XLA (and so JAX) gives +inf at -inf; scipy's gammaln gives -inf there
    out = _via_f32(_special("gammaln"))(x)
    return np.where(np.isneginf(x), np.asarray(np.inf, out.dtype), out)


def _digamma(x):
    # poles at 0 and the negative integers: NaN in XLA (and so JAX), +-inf in scipy
    out = _via_f32(_special("digamma"))(x)
    pole = (x <= 0) & (np.floor(x) == x)
    return np.where(pole, np.asarray(np.nan, out.dtype), out)


IMPLS = {
    ew.neg_p: np.negative,
    ew.sign_p: _sign,
    ew.floor_p: np.floor,
    ew.ceil_p: np.ceil,
    ew.round_p: _round,
    ew.is_finite_p: _is_finite,
    ew.exp_p: _quiet(np.exp),
    ew.exp2_p: _quiet(np.exp2),
    ew.log_p: _quiet(np.log),
    ew.log1p_p: _quiet(np.log1p),
    ew.expm1_p: _quiet(np.expm1),
    ew.tanh_p: np.tanh,
    ew.logistic_p: _logistic,
    ew.sin_p: _quiet(np.sin),
    ew.cos_p: _quiet(np.cos),
    ew.tan_p: _quiet(np.tan),
    ew.asin_p: _quiet(np.arcsin),
    ew.acos_p: _quiet(np.arccos),
    ew.atan_p: np.arctan,
    ew.sinh_p: _quiet(np.sinh),
    ew.cosh_p: _quiet(np.cosh),
    ew.asinh_p: np.arcsinh,
    ew.acosh_p: _quiet(np.arccosh),
    ew.atanh_p: _quiet(np.arctanh),
    ew.sqrt_p: _quiet(np.sqrt),
    ew.rsqrt_p: _quiet(_rsqrt),
    ew.cbrt_p: np.cbrt,
    ew.abs_p: np.abs,
    ew.erf_p: _via_f32(_special("erf")),
    ew.erfc_p: _via_f32(_special("erfc")),
    ew.erf_inv_p: _via_f32(_special("erfinv")),
    ew.lgamma_p: _quiet(_lgamma),
    ew.digamma_p: _quiet(_digamma),
    ew.not_p: _not,
    ew.integer_pow_p: _quiet(_integer_pow),
    ew.population_count_p: _population_count,
    ew.real_p: np.real,
    ew.imag_p: np.imag,
    ew.conj_p: np.conj,
    ew.add_p: np.add,
    ew.sub_p: np.subtract,
    ew.mul_p: np.multiply,
    ew.div_p: _quiet(_div),
    ew.rem_p: _quiet(_rem),
    ew.pow_p: _quiet(np.power),
    ew.max_p: _max,
    ew.min_p: _min,
    ew.atan2_p: np.arctan2,
    ew.nextafter_p: _quiet(_nextafter),
    ew.and_p: np.bitwise_and,
    ew.or_p: np.bitwise_or,
    ew.xor_p: np.bitwise_xor,
    ew.shift_left_p: _shift_left,
    ew.shift_right_logical_p: _shift_right_logical,
    ew.shift_right_arithmetic_p: _shift_right_arithmetic,
    ew.eq_p: np.equal,
    ew.ne_p: np.not_equal,
    ew.lt_p: np.less,
    ew.le_p: np.less_equal,
    ew.gt_p: np.greater,
    ew.ge_p: np.greater_equal,
    ew.complex_p: _complex,
    ew.select_n_p: _select_n,
    ew.clamp_p: _clamp,
    ew.convert_element_type_p: _quiet(_convert_element_type),
    ew.bitcast_convert_type_p: _bitcast,
    ew.stop_gradient_p: lambda x: x,
}
