"""Lowering rules of the special-function primitives that are CHLO ops (polygamma, zeta,
bessel_i1e). igamma, igammac, igamma_grad_a, random_gamma_grad, betainc and bessel_i0e have no
StableHLO op: core registers their algorithms (plax functions, as JAX lowers them) as their
compositions, which the xla backend lowers where it has no rule (one private function per
module)."""

from __future__ import annotations

from plax import lax
from plax_xla.lower_elementwise import _op


RULES = {
    lax.polygamma_p: _op("chlo.polygamma"),
    lax.zeta_p: _op("chlo.zeta"),
    lax.bessel_i1e_p: _op("chlo.bessel_i1e"),
}
