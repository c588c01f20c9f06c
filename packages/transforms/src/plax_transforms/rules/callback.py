"""Rules of the host callbacks (core's pure_callback and debug_callback): vmap as JAX's
`vmap_method`s (under a vmap-style pmap: once per mapped member, as on devices), and
differentiation (none for pure_callback, as JAX; debug_callback sees the primal values and has
no tangents)."""

from __future__ import annotations

import numpy as np

from plax.extend import ShapedArray, get_aval
from plax.extend.batching import bdim_at_front, is_pmap_axis, moveaxis, needs_trace
from plax.lax import debug_callback_p, pure_callback_p


def _batch_size(vals, dims) -> int:
    return next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)


@needs_trace
def _pure_callback_batch(trace, vals, dims, *, callback, result_avals, vmap_method):
    name = getattr(callback, "__name__", "callback")
    method = vmap_method
    if is_pmap_axis(trace):
        method = "sequential"  # pmap: once per mapped member, as once per device in JAX
    if method is None:
        raise NotImplementedError(
            f"vmap of pure_callback({name}) needs a vmap_method: 'sequential', 'expand_dims' "
            "or 'broadcast_all' (pure_callback(..., vmap_method=...)), as in JAX")
    size = _batch_size(vals, dims)
    if method in ("expand_dims", "legacy_vectorized"):
        from plax import lax
        vals = [moveaxis(v, d, 0) if d is not None else v if method == "legacy_vectorized" else
                lax.reshape(v, (1, *get_aval(v).shape)) for v, d in zip(vals, dims)]
        new_cb = callback
    else:
        vals = [bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
        if method in ("sequential", "sequential_unrolled"):
            def new_cb(*xs):
                outs = [callback(*[x[i] for x in xs]) for i in range(size)]
                return [np.stack([o[k] for o in outs]) for k in range(len(result_avals))]
            new_cb.__name__ = name
        else:
            new_cb = callback
    avals = tuple(ShapedArray((size, *a.shape), a.dtype) for a in result_avals)
    outs = pure_callback_p.bind(*vals, callback=new_cb, result_avals=avals,
                                vmap_method=method)  # outer vmaps: the same way
    return outs, [0] * len(outs)


def _pure_callback_jvp(primals, tangents, *, callback, **_):
    raise NotImplementedError(
        f"pure_callback({getattr(callback, '__name__', 'callback')}) cannot be differentiated: "
        "plax cannot see inside host code (as JAX); wrap it in a custom_jvp or custom_vjp")


def _debug_callback_batch(vals, dims, *, callback):
    size = _batch_size(vals, dims)
    vals = [bdim_at_front(v, d, size) for v, d in zip(vals, dims)]

    def per_member(*xs):
        for i in range(size):
            callback(*[x[i] for x in xs])
    per_member.__name__ = getattr(callback, "__name__", "callback")
    return debug_callback_p.bind(*vals, callback=per_member), []


def _debug_callback_jvp(primals, tangents, *, callback):
    debug_callback_p.bind(*primals, callback=callback)  # it sees the primal values
    return [], []


BATCH = {pure_callback_p: _pure_callback_batch, debug_callback_p: _debug_callback_batch}
JVP = {pure_callback_p: _pure_callback_jvp, debug_callback_p: _debug_callback_jvp}
