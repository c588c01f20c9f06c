"""Rules of the collectives shard_map brings: psum_scatter and all_to_all (their tiled forms;
core defines them) under vmap/pmap with their axis (a reduction or data movement over the batch
axis), passing through other axes, and their jvp and transpose (all_gather and psum_scatter
transpose to each other, all_to_all to itself with the axes swapped); and all_gather's
transpose."""

from __future__ import annotations

from plax import lax
from plax.extend import get_aval
from plax.lax import all_gather_p, all_to_all_p, psum_scatter_p
from plax_transforms import batching
from plax_transforms.ad import Zero, instantiate


def _psum_scatter_collective(trace, vals, dims, *, axis_name, scatter_dimension,
                             axis_size=None):
    (x,), (d,) = vals, dims
    n = trace.axis_size
    x = batching.bdim_at_front(x, d, n)
    total = lax.reduce_sum(x, (0,))
    s = scatter_dimension
    shape = get_aval(total).shape
    split = lax.reshape(total, shape[:s] + (n, shape[s] // n) + shape[s + 1:])
    return batching.moveaxis(split, s, 0), 0


def _all_to_all_collective(trace, vals, dims, *, axis_name, split_axis, concat_axis,
                           axis_size=None):
    (x,), (d,) = vals, dims
    n = trace.axis_size
    x = batching.bdim_at_front(x, d, n)  # [i, ...]: member i's value
    shape = get_aval(x).shape
    s, c = split_axis + 1, concat_axis + 1
    y = lax.reshape(x, shape[:s] + (n, shape[s] // n) + shape[s + 1:])  # [i, .., j, blk, ..]
    y = batching.moveaxis(y, s, 0)  # [j, i, ...]: what member j receives from member i
    # put i just before the concat dim (per-member coordinates, after j), then merge them
    ishape = get_aval(y).shape
    rest = list(range(2, len(ishape)))
    cpos = c if c < s else c + 1  # where the concat dim sits among y's dims
    order = [0] + [r for r in rest if r < cpos] + [1] + [r for r in rest if r >= cpos]
    y = lax.transpose(y, tuple(order))
    k = order.index(1)
    yshape = get_aval(y).shape
    merged = yshape[:k] + (yshape[k] * yshape[k + 1],) + yshape[k + 2:]
    return lax.reshape(y, merged), 0


def _nonmatching(prim, shift_params):
    def rule(trace, vals, dims, **params):
        (x,), (d,) = vals, dims
        x = batching.bdim_at_front(x, d, trace.axis_size)
        return prim.bind(x, **{**params, **shift_params(params)}), 0
    return rule


def _linear_jvp(prim):
    def rule(primals, tangents, **params):
        out = prim.bind(primals[0], **params)
        t = tangents[0]
        return out, (t if type(t) is Zero else prim.bind(instantiate(t), **params))
    return rule


def _psum_scatter_transpose(ct, x, *, axis_name, scatter_dimension, axis_size=None):
    return [all_gather_p.bind(instantiate(ct), axis_name=axis_name,
                              all_gather_dimension=scatter_dimension, tiled=True,
                              axis_size=axis_size)]


def _all_gather_transpose(ct, x, *, axis_name, all_gather_dimension, tiled, axis_size=None):
    ct = instantiate(ct)
    d = all_gather_dimension
    out = psum_scatter_p.bind(ct, axis_name=axis_name, scatter_dimension=d,
                              axis_size=axis_size)
    if not tiled:
        shape = get_aval(out).shape
        out = lax.reshape(out, shape[:d] + shape[d + 1:])
    return [out]


def _all_to_all_transpose(ct, x, *, axis_name, split_axis, concat_axis, axis_size=None):
    return [all_to_all_p.bind(instantiate(ct), axis_name=axis_name, split_axis=concat_axis,
                              concat_axis=split_axis, axis_size=axis_size)]


def register(reg) -> None:
    reg.add_collective(psum_scatter_p, _psum_scatter_collective)
    reg.add_collective(all_to_all_p, _all_to_all_collective)
    reg.add_batch(psum_scatter_p, batching.needs_trace(_nonmatching(
        psum_scatter_p, lambda p: {"scatter_dimension": p["scatter_dimension"] + 1})))
    reg.add_batch(all_to_all_p, batching.needs_trace(_nonmatching(
        all_to_all_p, lambda p: {"split_axis": p["split_axis"] + 1,
                                 "concat_axis": p["concat_axis"] + 1})))
    for p in (psum_scatter_p, all_to_all_p):
        reg.add_jvp(p, _linear_jvp(p))
    reg.add_transpose(psum_scatter_p, _psum_scatter_transpose)
    reg.add_transpose(all_to_all_p, _all_to_all_transpose)
    reg.add_transpose(all_gather_p, _all_gather_transpose)
