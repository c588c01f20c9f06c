"""NumPy execution of the call-like primitives (jit, custom_jvp_call, custom_vjp_call, remat2:
their jaxpr as a cached reference plan), of the host callbacks, and of the collectives outside
any mapped axis (an error naming the unbound axis)."""

from __future__ import annotations

from plax._src.backends.reference.impl_control_flow import plan
from plax._src import callback as cb
from plax._src.export_call import call_exported_p, reference_impl as _call_exported
from plax._src.ffi import ffi_call_p
from plax._src.lax import calls, parallel, sharding_ops, solves, staging


def _call(param: str):
    def impl(*bufs, **params):
        return plan(params[param])(list(bufs))
    return impl


def _linear_solve(*bufs, const_lengths, jaxprs):
    return solves.run_solve(bufs, const_lengths, jaxprs, lambda c, a: plan(c)(a))


def _custom_lin(*args, **params):
    # custom_lin only runs when a tangent is pushed forward (jvp), never in reverse mode,
    # where it is transposed instead
    raise TypeError(calls.JVP_OF_CUSTOM_VJP)


def _unbound(prim):
    def impl(*args, **params):
        raise parallel.unbound_axis_error(prim, params.get("axes") or (params.get("axis_name"),))
    return impl


def _pure_callback(*args, callback, result_avals, vmap_method):
    return cb.host_results(f"pure_callback({callback.__name__})", callback(*args),
                           result_avals)


def _debug_callback(*args, callback):
    callback(*args)
    return []


IMPLS = {prim: _call(param) for prim, param in calls.CALL_PRIMITIVES.items()}
def _ffi_call(*args, target_name, **_):
    from plax._src.backend import UnsupportedPrimitiveError
    raise UnsupportedPrimitiveError(
        f"ffi_call({target_name!r}): the reference backend has no FFI (foreign XLA kernels); "
        "run it on the xla backend (plax.default_backend('xla'))")


IMPLS[ffi_call_p] = _ffi_call
IMPLS[call_exported_p] = _call_exported  # through the xla backend, else refused
IMPLS[cb.pure_callback_p] = _pure_callback
IMPLS[cb.debug_callback_p] = _debug_callback
IMPLS[calls.custom_lin_p] = _custom_lin
IMPLS[solves.linear_solve_p] = _linear_solve
IMPLS.update({p: _unbound(p) for p in parallel.COLLECTIVES})
IMPLS[sharding_ops.sharding_constraint_p] = lambda x, *, sharding: x  # one device: the value
IMPLS[staging.stage_p] = lambda x: x
IMPLS[staging.optimization_barrier_p] = lambda *xs: list(xs)
IMPLS[staging.dce_sink_p] = lambda x, *, prevent_mlir_dce=False: []
# a token is a unit value: None is its buffer here
IMPLS[staging.create_token_p] = lambda: None
IMPLS[staging.after_all_p] = lambda *tokens: None
