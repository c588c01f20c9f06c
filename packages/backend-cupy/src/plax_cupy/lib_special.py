"""The special-function primitives (igamma, igammac, their a-derivatives, polygamma, zeta,
regularized_incomplete_beta, bessel_i0e/i1e) through xp for the GPU build, with cupyx.scipy.special
in float64 and the reference's edge conventions (NaN where XLA gives NaN). igamma_grad_a and
random_gamma_grad are a Richardson-extrapolated central difference of gammainc, as the
reference computes them. The host build keeps the NumPy/SciPy library call."""

from __future__ import annotations

import numpy as np

from plax_cupy import xp as X


def _f64(fun):
    """Run `fun` on float64 copies of the (broadcast) operands; cast back to their dtype."""
    def rule(*xs):
        xp = X.xp
        dt = xs[0].dtype
        with X.quiet():
            out = fun(*xp.broadcast_arrays(*(xp.asarray(x, np.float64) for x in xs)))
        return xp.asarray(out).astype(dt)
    rule.__name__ = getattr(fun, "__name__", "special")
    return rule


def _dP_da(a, x):
    xp, gammainc = X.xp, X.special("gammainc")
    h = 1e-3 * xp.maximum(xp.minimum(a, 1.0), 1e-300)

    def central(h):
        return (gammainc(a + h, x) - gammainc(a - h, x)) / (2 * h)
    d1, d2 = central(h), central(h / 2)
    d = (4 * d2 - d1) / 3
    return xp.where(x == 0, 0.0, xp.where((a <= 0) | (x < 0), np.nan, d))


def _random_gamma_grad(a, x):
    xp = X.xp
    log_pdf = -x + (a - 1) * xp.log(x) - X.special("gammaln")(a)  # dP/dx: the Gamma(a) pdf
    return xp.where(x == 0, 0.0, -_dP_da(a, x) / xp.exp(log_pdf))


def _incomplete(name):
    def f(a, x):
        return X.xp.where((a == 0) & (x == 0), np.nan, X.special(name)(a, x))
    f.__name__ = name
    return f


def _polygamma(m, x):
    xp = X.xp
    ok = (m >= 0) & (xp.floor(m) == m)
    out = X.special("polygamma")(xp.where(ok, m, 0).astype(np.int64), x)
    pole = (m == 0) & (x <= 0) & (xp.floor(x) == x)  # digamma's poles: NaN, as XLA
    return xp.where(ok & ~pole, out, np.nan)


def _betainc(a, b, x):
    out = X.special("betainc")(a, b, x)
    bad = (a < 0) | (b < 0) | (x < 0) | (x > 1) | ((a == 0) & (b == 0))
    return X.xp.where(bad, np.nan, out)


GPU_RULES = {
    "igamma": _f64(_incomplete("gammainc")),
    "igammac": _f64(_incomplete("gammaincc")),
    "igamma_grad_a": _f64(_dP_da),
    "random_gamma_grad": _f64(_random_gamma_grad),
    "polygamma": _f64(_polygamma),
    "zeta": _f64(lambda x, q: X.special("zeta")(x, q)),
    "regularized_incomplete_beta": _f64(_betainc),
    "bessel_i0e": _f64(lambda x: X.special("i0e")(x)),
    "bessel_i1e": _f64(lambda x: X.special("i1e")(x)),
}
