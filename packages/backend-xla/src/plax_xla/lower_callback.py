"""Lowering of the host callbacks (pure_callback, debug_callback) inside compiled programs: a
custom call of jaxlib's Python CPU callback target (`xla_ffi_python_cpu_callback`, as JAX's
`emit_python_callback`), whose `index` attribute picks the module's callback; the callbacks are
handed to the compiler with the module and kept alive by the executable (lowering.py, backend.py).

Eagerly the xla backend runs them through the host (backend.py), as one bind each."""

from __future__ import annotations

import numpy as np

from plax.extend import host_results
from plax.lax import debug_callback_p, pure_callback_p

TARGET = "xla_ffi_python_cpu_callback"


def _custom_call(ctx, operands, results, index: int, side_effect: bool):
    attrs = (f'call_target_name = "{TARGET}", has_side_effect = {str(side_effect).lower()}, '
             f'backend_config = "", mhlo.backend_config = {{index = {index} : ui64}}')
    return ctx.b.op("stablehlo.custom_call", list(operands), results, attrs=attrs)


def _host_pure(callback, result_avals):
    name = f"pure_callback({getattr(callback, '__name__', 'callback')})"

    def host(*xs):
        out = callback(*[np.array(x) for x in xs])  # copies: the inputs live in XLA's buffers
        return tuple(np.ascontiguousarray(o) for o in host_results(name, out, result_avals))
    return host


def _pure_callback(ctx, *args, callback, result_avals, vmap_method):
    index = ctx.module.add_host_callback(_host_pure(callback, result_avals))
    results = [(a.shape, a.dtype) for a in result_avals]
    return _custom_call(ctx, args, results, index, side_effect=False)


def _debug_callback(ctx, *args, callback):
    def host(*xs):
        callback(*[np.array(x) for x in xs])
        return ()
    index = ctx.module.add_host_callback(host)
    _custom_call(ctx, args, [], index, side_effect=True)
    return []


RULES = {pure_callback_p: _pure_callback, debug_callback_p: _debug_callback}
