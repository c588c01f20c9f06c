"""Lowering rules of the special-function primitives: polygamma, zeta and bessel_i1e are CHLO
ops; igamma, igammac, igamma_grad_a, random_gamma_grad, betainc and bessel_i0e have no StableHLO
op and lower as plax functions composed of lax operations (`plax.extend.lower_fun`, traced once
per operand types), as JAX lowers them."""

from __future__ import annotations

from plax import lax
from plax.extend import lower_fun
from plax_xla import special_algorithms as alg
from plax_xla.lower_elementwise import _op


RULES = {
    lax.igamma_p: lower_fun(alg.igamma),
    lax.igammac_p: lower_fun(alg.igammac),
    lax.igamma_grad_a_p: lower_fun(alg.igamma_grad_a),
    lax.random_gamma_grad_p: lower_fun(alg.random_gamma_grad),
    lax.regularized_incomplete_beta_p: lower_fun(alg.betainc),
    lax.bessel_i0e_p: lower_fun(alg.bessel_i0e),
    lax.polygamma_p: _op("chlo.polygamma"),
    lax.zeta_p: _op("chlo.zeta"),
    lax.bessel_i1e_p: _op("chlo.bessel_i1e"),
}
