"""jvp and batching rules of the special-function primitives (lax.igamma, betainc, ...), as
JAX defines them: derivatives in the shape parameters of betainc and the order of polygamma are
not supported (an error says so), and igamma_grad_a / random_gamma_grad are not differentiated
further."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.rules import elementwise as _ew

JVP: dict = {}
BATCH: dict = {}


def defjvp(prim, *fns):
    _ew.defjvp(prim, *fns)  # the elementwise helper, its rule moved to this module's table
    JVP[prim] = _ew.JVP.pop(prim)


def defjvp_ans(prim, fn):
    _ew.defjvp_ans(prim, fn)
    JVP[prim] = _ew.JVP.pop(prim)


def _not_supported(what):
    def fn(g, *args):
        raise ValueError(f"{what} is not supported (as in JAX)")
    return fn


def _c(x, v):
    return np.asarray(v, get_aval(x).dtype)


def _igamma_dx(g, a, x):
    # the Gamma(a, 1) density at x
    return lax.mul(g, lax.exp(lax.sub(lax.mul(lax.sub(a, _c(a, 1)), lax.log(x)),
                                      lax.add(x, lax.lgamma(a)))))


def _neg(fn):
    return lambda g, *args: lax.neg(fn(g, *args))


def _igamma_da(g, a, x):
    return lax.mul(g, lax.igamma_grad_a(a, x))


def _zeta_dq(g, x, q):
    # d/dq sum (k+q)^-x = -x * zeta(x+1, q)
    return lax.mul(g, lax.neg(lax.mul(x, lax.zeta(lax.add(x, _c(x, 1)), q))))


def _betainc_dx(g, a, b, x):
    lbeta = lax.sub(lax.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(lax.add(a, b)))
    one = _c(x, 1)
    log_density = lax.sub(lax.add(lax.mul(lax.sub(b, one), lax.log1p(lax.neg(x))),
                                  lax.mul(lax.sub(a, one), lax.log(x))), lbeta)
    return lax.mul(g, lax.exp(log_density))


def _i0e_jvp(g, y, x):
    return lax.mul(g, lax.sub(lax.bessel_i1e(x), lax.mul(lax.sign(x), y)))


def _i1e_jvp(g, y, x):
    # d i1e = i0e - y (sign(x) + 1/x); its limit at 0 is 1/2
    eps = float(np.finfo(get_aval(x).dtype).eps) if get_aval(x).dtype.itemsize > 2 else 1e-3
    not_tiny = lax.gt(lax.abs(x), _c(x, eps))
    safe = lax.select(not_tiny, x, lax.full_like(x, eps))
    d = lax.sub(lax.bessel_i0e(safe), lax.mul(y, lax.add(lax.sign(safe),
                                                          lax.div(_c(safe, 1), safe))))
    return lax.mul(g, lax.select(not_tiny, d, lax.full_like(x, 0.5)))


defjvp(lax.igamma_p, _igamma_da, _igamma_dx)
defjvp(lax.igammac_p, _neg(_igamma_da), _neg(_igamma_dx))
defjvp(lax.polygamma_p, _not_supported("the polygamma gradient with respect to m"),
       lambda g, m, x: lax.mul(g, lax.polygamma(lax.add(m, _c(m, 1)), x)))
defjvp(lax.zeta_p, _not_supported("the zeta gradient with respect to x"), _zeta_dq)
defjvp(lax.regularized_incomplete_beta_p,
       _not_supported("the betainc gradient with respect to a and b"),
       _not_supported("the betainc gradient with respect to a and b"), _betainc_dx)
defjvp_ans(lax.bessel_i0e_p, _i0e_jvp)
defjvp_ans(lax.bessel_i1e_p, _i1e_jvp)

for _p in (lax.igamma_p, lax.igammac_p, lax.igamma_grad_a_p, lax.random_gamma_grad_p,
           lax.polygamma_p, lax.zeta_p, lax.regularized_incomplete_beta_p, lax.bessel_i0e_p,
           lax.bessel_i1e_p):
    BATCH[_p] = _ew._elementwise_batch(_p, False)
