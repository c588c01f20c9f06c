"""Lowering rules of the special-function primitives: polygamma, zeta and bessel_i1e are CHLO
ops; igamma, igammac, igamma_grad_a, random_gamma_grad, betainc and bessel_i0e have no StableHLO
op and lower as plax functions (`lower_fun`: traced once per operand types, emitted as a private
function) composed of lax operations, as JAX lowers them."""

from __future__ import annotations

from plax import lax
from plax.extend import ClosedJaxpr, trace_to_jaxpr
from plax._src.lax import special_algorithms as alg
from plax_xla.lower_elementwise import _op
from plax_xla.lowering import call_closed


def lower_fun(fun, name: str):
    """A lowering rule that traces `fun(*operands, **params)` (plax operations, one result) on
    the operands' types and calls the lowered jaxpr (one private function per module)."""
    cache: dict = {}

    def rule(ctx, *args, **params):
        key = (tuple((a.shape, a.dtype, a.weak_type) for a in ctx.avals_in),
               tuple(sorted(params.items())))
        closed = cache.get(key)
        if closed is None:
            jaxpr, consts, _ = trace_to_jaxpr(lambda *xs: [fun(*xs, **params)],
                                              list(ctx.avals_in), name=name)
            closed = cache[key] = ClosedJaxpr(jaxpr, consts)
        return call_closed(ctx.b, closed, name, args)[0]

    rule.__name__ = name
    return rule


RULES = {
    lax.igamma_p: lower_fun(alg.igamma, "igamma"),
    lax.igammac_p: lower_fun(alg.igammac, "igammac"),
    lax.igamma_grad_a_p: lower_fun(alg.igamma_grad_a, "igamma_grad_a"),
    lax.random_gamma_grad_p: lower_fun(alg.random_gamma_grad, "random_gamma_grad"),
    lax.regularized_incomplete_beta_p: lower_fun(alg.betainc, "betainc"),
    lax.bessel_i0e_p: lower_fun(alg.bessel_i0e, "bessel_i0e"),
    lax.polygamma_p: _op("chlo.polygamma"),
    lax.zeta_p: _op("chlo.zeta"),
    lax.bessel_i1e_p: _op("chlo.bessel_i1e"),
}
