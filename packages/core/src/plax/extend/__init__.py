"""plax.extend: the whole API for plugin authors (new primitives, rules, transforms, backends).

The built-in plugins (plax-transforms, plax-backend-xla, the reference backend) use nothing
else: what they need is here, so it is enough for a third party too. What it holds:

- `define_primitive`: a primitive with its abstract eval, impls and rules in one call
  (elementwise primitives batched by default; `composition=f` for one computed by a plax
  function f, like JAX's `mlir.lower_fun`);
- primitives and the jaxpr: `Primitive` (traits: elementwise, reduction, linear_in, effectful,
  call_primitive), `ShapedArray`, `AbstractToken` (its one instance `abstract_token`, the type
  of `Token`s, printed `Tok`), `get_aval`, `abstract_eval`, `Jaxpr`, `ClosedJaxpr`,
  `JaxprEqn`, `Var`, `Literal` (`literal_value`: what one stands for), `eval_jaxpr`,
  `check_jaxpr`, `trace_to_jaxpr`, `dce_jaxpr`;
  every core primitive is `plax.lax.<name>_p`, and the call, custom-rule, checkpoint and
  collective primitives are here too (`jit_p`, `custom_jvp_call_p`, `psum_p`, ...), and
  `known_axis_sizes` (the axis sizes collectives get while a mapped function is traced);
- traces: `Trace`, `Tracer`, `current_trace`, `set_current_trace`, `trace_context`;
- `registry`: register and look up every kind of rule, backends, plugin API names;
- `ad` (symbolic zeros, UndefinedPrimal), `batching` (helpers for batch rules), `dtypes`,
  `execution` (placement, buffers, launching, Array wrapping, for runners of programs),
  `pmap` (what a multi-device pmap shares: reading the mapped arguments, tracing the
  per-device function with its collectives, the vmap-semantics fallback);
  `state` (Refs made by plax.new_ref, for transforms that trace functions);
- the backend contract: `Backend`, `Device`, `Executable`, `UnsupportedPrimitiveError`;
- `lowering`: `lower_fun` (a rule from a plax composition, any backend) and the documented
  context and builder an xla lowering rule receives;
- `config` (define options with `config.define`), `tree_util`, `hookimpl`;
- `array_module(*arrays)`: NumPy, or the NumPy-compatible module (CuPy) of the arrays given.
  The reference backend's rules for gather, the scatters and the elementwise primitives whose
  semantics NumPy lacks (integer division and shifts, saturating conversions, select_n, ...)
  compute with it, so a backend on such a module runs the same rules on its own arrays:
  `registry.impl_table("reference")[prim]` (the cupy backend does, on NumPy and CuPy).

Stability promise: a name exported here (and from its submodules) keeps its meaning and
signature within a major version of plax-core. A change that could break a plugin (a new
required Backend member, a changed rule signature) comes with a major version, and a rename
keeps the old name working, with a DeprecationWarning, for at least one minor release. New
names, new optional Backend members (with a default) and new rule tables may come in any
minor release. Anything under `plax._src` may change without notice: plugins must not import it
(the built-ins are checked by a lint rule and a test).
"""

from plax import tree_util
from plax._src.array import Array
from plax._src.array_module import array_module
from plax._src.authoring import define_primitive, elementwise_batch_rule
from plax._src.callback import host_results
from plax._src.composition import Composition, lower_fun
from plax._src.backend import Backend, Device, Executable, UnsupportedPrimitiveError, iter_eqns
from plax._src.config import config
from plax._src.core import (
    EVAL_TRACE, AbstractToken, ClosedJaxpr, ConcretizationTypeError, EvalTrace, Jaxpr, JaxprEqn,
    JaxprTypeError, Literal, PlaxTypeError, Primitive, ShapedArray, Token, Trace, Tracer,
    UnexpectedTracerError, Var, abstract_eval, abstract_token, bind, check_jaxpr, current_trace,
    eval_jaxpr, get_aval, jaxpr_as_fun, literal_value, set_current_trace)
from plax._src.core import _ctx as trace_context
from plax._src.dispatch import apply_primitive, make_array
from plax._src.lax.calls import (
    JVP_OF_CUSTOM_VJP, checkpoint_p, custom_jvp_call_p, custom_lin_p, custom_vjp_call_p,
    custom_vmap_call_p, jit_p, linear_call_p)
from plax._src.lax.control_flow import _dce as dce_jaxpr
from plax._src.lax.parallel import (
    COLLECTIVES, all_gather_p, axis_index_p, known_axis_sizes, pmax_p, pmin_p, ppermute_p,
    psum_p, ragged_receive)
from plax._src.registry import PluginWarning, RegistrationError
from plax._src.tracing import JaxprTrace, JaxprTracer, convert_constvars_jaxpr, trace_to_jaxpr
from plax._src import prng_keys as key_reuse  # the key-reuse checker's boundary helpers
from plax._src.distributed import check_thread_guard
from plax.extend import ad, batching, dtypes, execution, lowering, pmap, registry, state
from plax.hookspecs import hookimpl

__all__ = [
    "AbstractToken", "abstract_token", "Token",
    "abstract_eval", "ad", "all_gather_p", "apply_primitive", "Array", "array_module",
    "axis_index_p",
    "Backend", "batching", "bind", "check_jaxpr", "check_thread_guard", "checkpoint_p",
    "ClosedJaxpr", "COLLECTIVES",
    "Composition", "ConcretizationTypeError", "config", "convert_constvars_jaxpr",
    "current_trace", "custom_jvp_call_p", "custom_lin_p", "custom_vjp_call_p",
    "custom_vmap_call_p", "dce_jaxpr", "linear_call_p",
    "define_primitive", "Device", "dtypes", "elementwise_batch_rule", "eval_jaxpr",
    "EVAL_TRACE", "EvalTrace", "Executable", "execution", "get_aval", "hookimpl", "host_results",
    "iter_eqns",
    "Jaxpr", "jaxpr_as_fun", "JaxprEqn", "JaxprTrace", "JaxprTracer", "JaxprTypeError",
    "jit_p", "JVP_OF_CUSTOM_VJP", "key_reuse", "known_axis_sizes", "Literal", "literal_value",
    "lower_fun",
    "lowering", "make_array", "pmap",
    "PlaxTypeError", "PluginWarning", "pmax_p", "pmin_p", "ppermute_p", "Primitive", "psum_p",
    "ragged_receive",
    "RegistrationError", "registry", "set_current_trace", "ShapedArray", "state", "Trace",
    "trace_context", "trace_to_jaxpr", "Tracer", "tree_util", "UnexpectedTracerError",
    "UnsupportedPrimitiveError", "Var",
]
