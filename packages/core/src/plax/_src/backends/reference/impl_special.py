"""NumPy/SciPy implementations of the special-function primitives (lax.igamma, zeta, ...),
computed in float64 and rounded to the operands' dtype. scipy.special has no derivative of
P(a, x) in a: igamma_grad_a and random_gamma_grad use a Richardson-extrapolated central
difference of gammainc in float64 (error ~1e-10 relative, far below float32's resolution)."""

from __future__ import annotations

import numpy as np

from plax._src.lax import special as sp


def _sc():
    import scipy.special  # imported on first use: it costs ~200 ms
    return scipy.special


def _f64(fun):
    """Run `fun` on float64 copies of the (broadcast) operands; cast back to their dtype."""
    def rule(*xs):
        dt = xs[0].dtype
        with np.errstate(all="ignore"):
            out = fun(*np.broadcast_arrays(*(np.asarray(x, np.float64) for x in xs)))
        return np.asarray(out).astype(dt)
    rule.__name__ = getattr(fun, "__name__", "special")
    return rule


def _dP_da(a, x):
    gammainc = _sc().gammainc
    h = 1e-3 * np.maximum(np.minimum(a, 1.0), 1e-300)

    def central(h):
        return (gammainc(a + h, x) - gammainc(a - h, x)) / (2 * h)

    d1, d2 = central(h), central(h / 2)
    d = (4 * d2 - d1) / 3
    return np.where(x == 0, 0.0, np.where((a <= 0) | (x < 0), np.nan, d))


def _igamma_grad_a(a, x):
    return _dP_da(a, x)


def _random_gamma_grad(a, x):
    # dP/dx is the Gamma(a, 1) density at x
    log_pdf = -x + (a - 1) * np.log(x) - _sc().gammaln(a)
    out = -_dP_da(a, x) / np.exp(log_pdf)
    return np.where(x == 0, 0.0, out)


def _igamma(a, x):
    out = _sc().gammainc(a, x)
    return np.where((a == 0) & (x == 0), np.nan, out)


def _igammac(a, x):
    out = _sc().gammaincc(a, x)
    return np.where((a == 0) & (x == 0), np.nan, out)


def _polygamma(m, x):
    ok = (m >= 0) & (np.floor(m) == m)
    sc = _sc()
    out = sc.polygamma(np.where(ok, m, 0).astype(np.int64), x)
    # digamma's poles are NaN in XLA (and so in JAX), not -+inf
    pole = (m == 0) & (x <= 0) & (np.floor(x) == x)
    return np.where(ok & ~pole, out, np.nan)


def _zeta(x, q):
    return _sc().zeta(x, q)


def _betainc(a, b, x):
    out = _sc().betainc(a, b, x)
    bad = (a < 0) | (b < 0) | (x < 0) | (x > 1) | ((a == 0) & (b == 0))
    return np.where(bad, np.nan, out)


IMPLS = {
    sp.igamma_p: _f64(_igamma),
    sp.igammac_p: _f64(_igammac),
    sp.igamma_grad_a_p: _f64(_igamma_grad_a),
    sp.random_gamma_grad_p: _f64(_random_gamma_grad),
    sp.polygamma_p: _f64(_polygamma),
    sp.zeta_p: _f64(_zeta),
    sp.regularized_incomplete_beta_p: _f64(_betainc),
    sp.bessel_i0e_p: _f64(lambda x: _sc().i0e(x)),
    sp.bessel_i1e_p: _f64(lambda x: _sc().i1e(x)),
}
