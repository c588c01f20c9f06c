"""Rules of core's `ffi_call` (plax.ffi): vmap by the call's `vmap_method`, as JAX's (a scan of
single calls, or one call on operands given a leading batch axis, the layouts moved past it),
and differentiation refused with a pointer to custom_jvp/custom_vjp (a kernel is opaque)."""

from __future__ import annotations

from plax import lax
from plax.extend import ShapedArray, get_aval
from plax.extend.batching import moveaxis
from plax.lax import ffi_call_p


def _with_batch_axis(layout):
    # minor-to-major: every dimension moves one out, the new leading axis is the most major
    return None if layout is None else tuple(n + 1 for n in layout) + (0,)


def _ffi_call_batch(vals, dims, *, target_name, vmap_method, result_avals, input_layouts,
                    output_layouts, **params):
    if vmap_method is None:
        raise NotImplementedError(
            f"vmap of ffi_call({target_name!r}) needs a vmap_method: 'sequential', "
            "'sequential_unrolled', 'expand_dims', 'broadcast_all' or 'legacy_vectorized' "
            "(ffi_call(..., vmap_method=...)), as in JAX")
    size = next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
    vals = [v if d is None else moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    params = dict(params, target_name=target_name, vmap_method=vmap_method)
    if vmap_method in ("sequential", "sequential_unrolled"):
        batched = [d is not None for d in dims]

        def one(carry, xs):
            it = iter(xs)
            args = [next(it) if b else v for v, b in zip(vals, batched)]
            return carry, ffi_call_p.bind(*args, result_avals=result_avals,
                                          input_layouts=input_layouts,
                                          output_layouts=output_layouts, **params)
        xs = [v for v, b in zip(vals, batched) if b]
        _, outs = lax.scan(one, (), xs, unroll=vmap_method == "sequential_unrolled")
        return list(outs), [0] * len(outs)
    if vmap_method == "legacy_vectorized":  # unbatched operands go in as they are
        if input_layouts is not None:
            input_layouts = tuple(lay if d is None else _with_batch_axis(lay)
                                  for lay, d in zip(input_layouts, dims))
    else:  # expand_dims: a leading axis of 1; broadcast_all: of the batch size
        n = size if vmap_method == "broadcast_all" else 1
        vals = [v if d is not None else
                lax.broadcast_in_dim(v, (n, *get_aval(v).shape),
                                     tuple(range(1, get_aval(v).ndim + 1)))
                for v, d in zip(vals, dims)]
        if input_layouts is not None:
            input_layouts = tuple(_with_batch_axis(lay) for lay in input_layouts)
    if output_layouts is not None:
        output_layouts = tuple(_with_batch_axis(lay) for lay in output_layouts)
    avals = tuple(ShapedArray((size, *a.shape), a.dtype) for a in result_avals)
    outs = ffi_call_p.bind(*vals, result_avals=avals, input_layouts=input_layouts,
                           output_layouts=output_layouts, **params)
    return outs, [0] * len(outs)


def _ffi_call_jvp(primals, tangents, *, target_name, **_):
    raise NotImplementedError(
        f"ffi_call({target_name!r}) cannot be differentiated: plax cannot see inside a foreign "
        "kernel (as JAX); wrap it in a custom_jvp or custom_vjp")


BATCH = {ffi_call_p: _ffi_call_batch}
JVP = {ffi_call_p: _ffi_call_jvp}
