"""Autodiff helpers for jvp and transpose rules: symbolic zeros (`Zero`, `instantiate`,
`add_tangents`), `UndefinedPrimal` (the linear inputs a transpose rule gets) and tangent avals.

A jvp rule is rule(primals, tangents, **params) -> (primal_out, tangent_out), where a tangent
may be a `Zero`; a transpose rule is rule(cotangent, *args, **params) -> one cotangent per arg
(None for non-linear args), where the linear args are `UndefinedPrimal`s."""

from plax._src.ad_util import (
    SymbolicZero, UndefinedPrimal, Zero, add_tangents, instantiate, instantiate_symbolic,
    is_differentiable, is_undefined, tangent_aval, zeros_like_aval)

__all__ = ["SymbolicZero", "UndefinedPrimal", "Zero", "add_tangents", "instantiate",
           "instantiate_symbolic", "is_differentiable", "is_undefined", "tangent_aval",
           "zeros_like_aval"]
