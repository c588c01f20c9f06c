"""The call-like primitives: `jit` (a nested jit: one equation carrying its jaxpr), the
custom-rule calls of custom_jvp / custom_vjp (`custom_jvp_call`, `custom_vjp_call`, and
`custom_lin`, custom_vjp's tangent), checkpoint's `remat2` and `linear_call`
(plax.custom_derivatives.linear_call: a linear function with its own transpose).

Core defines them so that every backend can run them without the transforms package: their
abstract evaluations are here, their reference implementations run the carried jaxpr as a
reference plan. Their jvp / transpose / batch / partial-eval rules live in plax-transforms.
"""

from __future__ import annotations

from plax._src.core import Primitive, _typecompat
from plax._src.registry import add_abstract_eval

__all__ = ["jit_p", "custom_jvp_call_p", "custom_vjp_call_p", "custom_lin_p", "checkpoint_p",
           "custom_vmap_call_p", "linear_call_p",
           "CALL_PRIMITIVES"]

jit_p = Primitive("jit", multiple_results=True, call_primitive=True)
custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_lin_p = Primitive("custom_lin", multiple_results=True)
checkpoint_p = Primitive("remat2", multiple_results=True)  # JAX's name
# custom_vmap's call (plax.custom_batching): its jaxpr runs as is; vmap calls the user's rule
custom_vmap_call_p = Primitive("custom_vmap_call", multiple_results=True)
# linear_call: `callee` (consts, residuals, linear inputs -> outputs) runs as is; its transpose
# is a linear_call of the user's transpose function (`transpose_thunk()` traces it)
linear_call_p = Primitive("linear_call", multiple_results=True)

# the primitives whose single jaxpr-valued param is the whole computation (param name)
CALL_PRIMITIVES = {jit_p: "jaxpr", custom_jvp_call_p: "call_jaxpr",
                   custom_vjp_call_p: "call_jaxpr", checkpoint_p: "jaxpr",
                   custom_vmap_call_p: "call_jaxpr", linear_call_p: "callee"}


def _jit_abstract_eval(*avals, jaxpr, name: str, **_):
    expected = jaxpr.in_avals
    if len(avals) != len(expected):
        raise TypeError(f"jit call '{name}' got {len(avals)} arguments, its jaxpr takes "
                        f"{len(expected)}")
    for i, (a, e) in enumerate(zip(avals, expected)):
        if not _typecompat(a, e):
            raise TypeError(f"jit call '{name}': argument {i} is {a.str_short()}, the jaxpr "
                            f"expects {e.str_short()}")
    return jaxpr.out_avals


def _call_abstract(*avals, call_jaxpr, **_):
    return call_jaxpr.out_avals


def _linear_call_abstract(*avals, callee, **_):
    return callee.out_avals


def _checkpoint_abstract(*avals, jaxpr, **_):
    return jaxpr.out_avals


def _custom_lin_abstract(*avals, num_res, bwd_fun, out_avals):
    return list(out_avals)


add_abstract_eval(jit_p, _jit_abstract_eval)
add_abstract_eval(custom_jvp_call_p, _call_abstract)
add_abstract_eval(custom_vjp_call_p, _call_abstract)
add_abstract_eval(custom_vmap_call_p, _call_abstract)
add_abstract_eval(linear_call_p, _linear_call_abstract)
add_abstract_eval(custom_lin_p, _custom_lin_abstract)
add_abstract_eval(checkpoint_p, _checkpoint_abstract)

JVP_OF_CUSTOM_VJP = "can't apply forward-mode autodiff (jvp) to a custom_vjp function."
