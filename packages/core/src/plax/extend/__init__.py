"""plax.extend: the stable API for plugin authors (new primitives, rules, transforms, backends).

The promise: names exported here keep their meaning and signature within a major version of
plax-core; anything under `plax._src` may change without notice. A plugin that uses only this
module and `plax.lax` / `plax.numpy` keeps working across minor releases.
"""

from plax._src.backend import Backend, Device, Executable, UnsupportedPrimitiveError, iter_eqns
from plax._src.core import (
    ClosedJaxpr, ConcretizationTypeError, EVAL_TRACE, EvalTrace, Jaxpr, JaxprEqn, JaxprTypeError,
    Literal, PlaxTypeError, Primitive, ShapedArray, Trace, Tracer, UnexpectedTracerError, Var,
    abstract_eval, bind, check_jaxpr, current_trace, eval_jaxpr, get_aval, jaxpr_as_fun,
    set_current_trace)
from plax._src.dispatch import apply_primitive, make_array
from plax._src.lax.calls import (
    JVP_OF_CUSTOM_VJP, checkpoint_p, custom_jvp_call_p, custom_lin_p, custom_vjp_call_p, jit_p)
from plax._src.lax.parallel import (
    COLLECTIVES, all_gather_p, axis_index_p, pmax_p, pmin_p, ppermute_p, psum_p)
from plax._src.array import Array
from plax._src.registry import RegistrationError, PluginWarning
from plax._src.tracing import JaxprTrace, JaxprTracer, convert_constvars_jaxpr, trace_to_jaxpr
from plax.extend import registry
from plax.hookspecs import hookimpl

__all__ = [
    "COLLECTIVES", "JVP_OF_CUSTOM_VJP", "all_gather_p", "axis_index_p", "checkpoint_p",
    "custom_jvp_call_p", "custom_lin_p", "custom_vjp_call_p", "jit_p", "pmax_p", "pmin_p",
    "ppermute_p", "psum_p",
    "Array", "Backend", "ClosedJaxpr", "ConcretizationTypeError", "Device", "EVAL_TRACE",
    "EvalTrace", "Executable", "Jaxpr", "JaxprEqn", "JaxprTrace", "JaxprTracer",
    "JaxprTypeError", "Literal", "PlaxTypeError", "PluginWarning", "Primitive",
    "RegistrationError", "ShapedArray", "Trace", "Tracer", "UnexpectedTracerError",
    "UnsupportedPrimitiveError", "Var", "abstract_eval", "apply_primitive", "bind",
    "check_jaxpr", "convert_constvars_jaxpr", "current_trace", "eval_jaxpr", "get_aval",
    "hookimpl", "iter_eqns", "jaxpr_as_fun", "make_array", "registry", "set_current_trace",
    "trace_to_jaxpr",
]
