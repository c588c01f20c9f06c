"""Library implementations of the elementwise primitives through `xp`: the ufuncs and the special
functions (scipy.special on the host, cupyx.scipy.special on the GPU). The primitives whose XLA
semantics NumPy/CuPy lack (integer division by zero, shifts past the bit width, saturating
float -> int conversion, select_n, ...) run the reference backend's rules (`library.SHARED`)."""

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


def _logistic(x):
    if x.dtype.kind == "c":
        return 1 / (1 + X.xp.exp(-x))
    return _special("expit")(x)


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
    "floor": _ufunc("floor"),
    "ceil": _ufunc("ceil"),
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
    "cbrt": _ufunc("cbrt"),
    "abs": _ufunc("abs"),
    "erf": _special("erf"),
    "erfc": _special("erfc"),
    "erf_inv": _special("erfinv"),
    "lgamma": _quiet(_lgamma),
    "digamma": _quiet(_digamma),
    "real": _ufunc("real"),
    "imag": _ufunc("imag"),
    "conj": _ufunc("conj"),
    "add": _ufunc("add", True),
    "sub": _ufunc("subtract", True),
    "mul": _ufunc("multiply", True),
    "pow": _ufunc("power", True),
    "max": _ufunc("maximum", True),
    "min": _ufunc("minimum", True),
    "atan2": _ufunc("arctan2", True),
    "and": _ufunc("bitwise_and"),
    "or": _ufunc("bitwise_or"),
    "xor": _ufunc("bitwise_xor"),
    "eq": _ufunc("equal", True),
    "ne": _ufunc("not_equal", True),
    "lt": _ufunc("less", True),
    "le": _ufunc("less_equal", True),
    "gt": _ufunc("greater", True),
    "ge": _ufunc("greater_equal", True),
    "stop_gradient": _identity,
}
