"""plax.custom_derivatives (as jax.custom_derivatives): custom_jvp, custom_vjp, custom_gradient,
closure_convert (the same objects as plax.custom_jvp ..., from plax-transforms, loaded on
first use) and linear_call (a linear function with its own transpose), the call primitives
they bind, the symbolic zeros a custom_jvp rule defined with `symbolic_zeros=True` gets
(`SymbolicZero`, `zero_from_primal`), and the primals a custom_vjp fwd rule defined so gets
(`CustomVJPPrimal`, `custom_vjp_primal_tree_values`)."""

from __future__ import annotations

from plax._src import lazy as _lazy

from plax._src.ad_util import (  # noqa: F401
    CustomVJPPrimal, SymbolicZero, custom_vjp_primal_tree_values)
from plax._src.lax.calls import custom_jvp_call_p, custom_vjp_call_p  # noqa: F401

_FROM_TRANSFORMS = ("custom_jvp", "custom_vjp", "custom_gradient", "closure_convert",
                    "linear_call")


def zero_from_primal(val, symbolic_zeros: bool = False):
    """The zero tangent of each leaf of `val`: a SymbolicZero with `symbolic_zeros`, else an
    array of zeros (of the leaf's shape and tangent dtype), as JAX's."""
    from plax._src.ad_util import tangent_aval, zeros_like_aval
    from plax._src.core import get_aval
    from plax.tree_util import tree_map

    def zero(x):
        aval = tangent_aval(get_aval(x))
        return SymbolicZero(aval) if symbolic_zeros else zeros_like_aval(aval)
    return tree_map(zero, val)


# (plax-transforms registers them under their plain names, as plax.custom_jvp reads them)
__getattr__, __dir__ = _lazy.plugin_names(__name__, _FROM_TRANSFORMS, globals(),
                                           key=lambda name: name)
