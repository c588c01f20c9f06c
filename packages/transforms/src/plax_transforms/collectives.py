"""Rules of the collectives shard_map brings: psum_scatter and all_to_all (their tiled forms;
core defines them) under vmap/pmap with their axis (a reduction or data movement over the batch
axis), passing through other axes, and their jvp and transpose (all_gather and psum_scatter
transpose to each other, all_to_all to itself with the axes swapped); and all_gather's
transpose. Also pbroadcast (transpose: the summed cotangent on the source member), pcast (the
identity; its cotangent is a per-member part, as every cotangent in a shard_map body) and
ragged_all_to_all (transpose: the reverse exchange, as JAX's)."""

from __future__ import annotations

from plax import lax
from plax.extend import get_aval
import numpy as np

from plax.lax import (
    all_gather_p, all_to_all_p, axis_index_p, pbroadcast_p, pcast_p, psum_p, psum_scatter_p,
    ragged_all_to_all_p)
from plax.extend import ragged_receive
from plax_transforms import batching
from plax_transforms.ad import Zero, instantiate, is_undefined


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
    # where the concat dim sits among y's dims: c + 1 whether it is before the split dim
    # (shifted by j in front) or after it (shifted by the reshape's extra dim)
    cpos = c + 1
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


# --- pbroadcast, pcast ----------------------------------------------------------------------
def _pbroadcast_collective(trace, vals, dims, *, axis_name, source):
    (x,), (d,) = vals, dims
    if d is None:
        return x, None
    if not 0 <= source < trace.axis_size:
        raise ValueError(f"pbroadcast: source {source} is not an index of axis '{axis_name}' "
                         f"of size {trace.axis_size}")
    return lax.index_in_dim(x, source, axis=d, keepdims=False), None


def _pbroadcast_transpose(ct, x, *, axis_name, source):
    ct = instantiate(ct)
    total = psum_p.bind(ct, axes=(axis_name,), axis_index_groups=None)[0]
    here = lax.eq(axis_index_p.bind(axis_name=axis_name), np.int32(source))
    return [lax.select(lax.broadcast_in_dim(here, get_aval(ct).shape, ()), total,
                       lax.full_like(ct, 0))]


def _identity_collective(trace, vals, dims, **params):
    return vals[0], dims[0]


def _pcast_transpose(ct, x, *, axes, to):
    return [instantiate(ct)]


# --- ragged_all_to_all ------------------------------------------------------------------------
def _ragged_collective(trace, vals, dims, *, axis_name, axis_index_groups=None,
                       axis_size=None):
    n = trace.axis_size
    vals = [batching.bdim_at_front(v, d, n) for v, d in zip(vals, dims)]
    operand, output, in_off, send, out_off, recv = vals

    def member(out_j, recv_j, j):
        return ragged_receive(operand, out_j, in_off, send, out_off, recv_j, j)
    idx = lax.iota(np.int32, n)
    return batching.vmap(member)(output, recv, idx), 0


def _ragged_batch(trace, vals, dims, *, axis_name, axis_index_groups=None, axis_size=None):
    """vmap over another axis: the batch merged into the rows, each batch member's offsets
    moved to its own block of rows (as JAX's rule)."""
    b = trace.axis_size
    operand, output = (batching.bdim_at_front(v, d, b) for v, d in zip(vals[:2], dims[:2]))
    n_rows, m_rows = get_aval(operand).shape[1], get_aval(output).shape[1]

    def per_slot(v, d):  # [K, B], flattened slot-major
        v = batching.bdim_at_front(v, d, b)
        return lax.transpose(v, (1, 0))

    in_off, send, out_off, recv = (per_slot(v, d) for v, d in zip(vals[2:], dims[2:]))
    shift = lax.iota(get_aval(in_off).dtype, b)
    in_off = lax.add(in_off, lax.mul(lax.broadcast_in_dim(shift, get_aval(in_off).shape, (1,)),
                                     lax.full((), n_rows, get_aval(in_off).dtype)))
    oshift = lax.iota(get_aval(out_off).dtype, b)
    out_off = lax.add(out_off, lax.mul(lax.broadcast_in_dim(oshift, get_aval(out_off).shape,
                                                            (1,)),
                                       lax.full((), m_rows, get_aval(out_off).dtype)))

    def merge(v):
        shape = get_aval(v).shape
        return lax.reshape(v, (shape[0] * shape[1],) + tuple(shape[2:]))

    out = ragged_all_to_all_p.bind(*(merge(v) for v in (operand, output, in_off, send, out_off,
                                                          recv)),
                                   axis_name=axis_name, axis_index_groups=axis_index_groups,
                                   axis_size=axis_size)
    return lax.reshape(out, (b, m_rows) + tuple(get_aval(out).shape[1:])), 0


def _ragged_jvp(primals, tangents, **params):
    out = ragged_all_to_all_p.bind(*primals, **params)
    t_op, t_out = tangents[:2]
    if type(t_op) is Zero and type(t_out) is Zero:
        return out, Zero(get_aval(out))
    return out, ragged_all_to_all_p.bind(instantiate(t_op), instantiate(t_out), *primals[2:],
                                         **params)


def _ragged_transpose(ct, operand, output, in_off, send, out_off, recv, *, axis_name,
                      axis_index_groups=None, axis_size=None):
    op_aval = operand.aval if is_undefined(operand) else get_aval(operand)
    if type(ct) is Zero:
        return [Zero(op_aval) if is_undefined(operand) else None,
                Zero(output.aval) if is_undefined(output) else None] + [None] * 4
    a2a = dict(axis_name=axis_name, split_axis=0, concat_axis=0, axis_size=axis_size)
    out_off_here = all_to_all_p.bind(out_off, **a2a)  # where this member's rows came in
    in_off_there = all_to_all_p.bind(in_off, **a2a)  # where the senders took them from
    op_t = ragged_all_to_all_p.bind(ct, lax.full(op_aval.shape, 0, op_aval.dtype),
                                    out_off_here, recv, in_off_there, send,
                                    axis_name=axis_name, axis_index_groups=axis_index_groups,
                                    axis_size=axis_size)
    m = get_aval(ct).shape[0]
    rows = lax.broadcasted_iota(np.int32, (get_aval(recv).shape[0], m), 1)
    start = lax.broadcast_in_dim(lax.convert_element_type(out_off_here, np.int32),
                                 get_aval(rows).shape, (0,))
    stop = lax.add(start, lax.broadcast_in_dim(lax.convert_element_type(recv, np.int32),
                                               get_aval(rows).shape, (0,)))
    written = lax.reduce_or(lax.bitwise_and(lax.ge(rows, start), lax.lt(rows, stop)), (0,))
    written = lax.broadcast_in_dim(written, get_aval(ct).shape, (0,))
    out_t = lax.select(written, lax.full_like(ct, 0), ct)
    return [op_t if is_undefined(operand) else None,
            out_t if is_undefined(output) else None] + [None] * 4


def register(reg) -> None:
    reg.add_collective(pbroadcast_p, _pbroadcast_collective)
    reg.add_collective(pcast_p, _identity_collective)
    reg.add_collective(ragged_all_to_all_p, _ragged_collective)
    reg.add_batch(pbroadcast_p, batching.needs_trace(_nonmatching(pbroadcast_p, dict)))
    reg.add_batch(pcast_p, batching.needs_trace(_identity_collective))
    reg.add_batch(ragged_all_to_all_p, batching.needs_trace(_ragged_batch))
    for p in (pbroadcast_p, pcast_p):
        reg.add_jvp(p, _linear_jvp(p))
    reg.add_jvp(ragged_all_to_all_p, _ragged_jvp)
    reg.add_transpose(pbroadcast_p, _pbroadcast_transpose)
    reg.add_transpose(pcast_p, _pcast_transpose)
    reg.add_transpose(ragged_all_to_all_p, _ragged_transpose)
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
