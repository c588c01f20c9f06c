"""jvp, transpose and batching rules of the structural primitives, all linear in their array
operands (each jvp applies the primitive to the tangents). iota has no operands, so no tangent or
batch axis ever reaches it: it needs no rules."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import instantiate, is_undefined
from plax_transforms.batching import bdim_at_front, moveaxis
from plax_transforms.rules._util import (
    dtype, linear_jvp_with_static_rest, linear_unary_jvp, ndim, shape,
    shift_dims, skip_zero_ct, stack_scalar_indices, zeros)

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


def _batch_size(vals, dims) -> int:
    return next(shape(v)[d] for v, d in zip(vals, dims, strict=True) if d is not None)


# ---------------------------------------------------------------------------------------------
# broadcast_in_dim


@skip_zero_ct
def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions, sharding=None):
    in_shape = x.aval.shape
    bdims = tuple(broadcast_dimensions)
    # summed: new target dims, and operand dims of size 1 that were stretched
    stretched = [i for i, d in enumerate(bdims) if in_shape[i] == 1 and shape[d] != 1]
    summed = sorted({d for d in range(len(shape)) if d not in bdims}
                    | {bdims[i] for i in stretched})
    out = lax.reduce_sum(ct, tuple(summed)) if summed else ct
    kept = [i for i in range(len(in_shape)) if i not in stretched]
    in_result_order = sorted(kept, key=lambda i: bdims[i])
    if in_result_order != kept:  # broadcast_dimensions need not be increasing
        out = lax.transpose(out, tuple(in_result_order.index(i) for i in kept))
    return [lax.reshape(out, in_shape)]


def _broadcast_in_dim_batch(vals, dims, *, shape, broadcast_dimensions, sharding=None):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    out = lax.broadcast_in_dim_p.bind(
        x, shape=(get_aval(x).shape[0], *shape),
        broadcast_dimensions=(0, *shift_dims(broadcast_dimensions)), sharding=sharding)
    return out, 0


JVP[lax.broadcast_in_dim_p] = linear_unary_jvp(lax.broadcast_in_dim_p)
TRANSPOSE[lax.broadcast_in_dim_p] = _broadcast_in_dim_transpose
BATCH[lax.broadcast_in_dim_p] = _broadcast_in_dim_batch


# ---------------------------------------------------------------------------------------------
# reshape, transpose, squeeze, rev


@skip_zero_ct
def _reshape_transpose(ct, x, *, new_sizes, dimensions=None, sharding=None):
    if dimensions is None:
        return [lax.reshape(ct, x.aval.shape)]
    # reshape with `dimensions` transposes first: undo the reshape, then the transpose
    permuted = lax.reshape(ct, tuple(x.aval.shape[d] for d in dimensions))
    return [lax.transpose(permuted, tuple(int(i) for i in np.argsort(dimensions)))]


def _reshape_batch(vals, dims, *, new_sizes, dimensions=None, sharding=None):
    x = moveaxis(vals[0], dims[0], 0)
    out = lax.reshape_p.bind(
        x, new_sizes=(shape(x)[0], *new_sizes),
        dimensions=None if dimensions is None else (0, *shift_dims(dimensions)),
        sharding=sharding)
    return out, 0


JVP[lax.reshape_p] = linear_unary_jvp(lax.reshape_p)
TRANSPOSE[lax.reshape_p] = _reshape_transpose
BATCH[lax.reshape_p] = _reshape_batch


@skip_zero_ct
def _transpose_transpose(ct, x, *, permutation):
    return [lax.transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    # the batch axis stays in place and comes out first
    perm = (d, *(p if p < d else p + 1 for p in permutation))
    return lax.transpose_p.bind(x, permutation=perm), 0


JVP[lax.transpose_p] = linear_unary_jvp(lax.transpose_p)
TRANSPOSE[lax.transpose_p] = _transpose_transpose
BATCH[lax.transpose_p] = _transpose_batch


@skip_zero_ct
def _squeeze_transpose(ct, x, *, dimensions):
    return [lax.reshape(ct, x.aval.shape)]


def _squeeze_batch(vals, dims, *, dimensions):
    x = moveaxis(vals[0], dims[0], 0)
    return lax.squeeze_p.bind(x, dimensions=shift_dims(dimensions)), 0


JVP[lax.squeeze_p] = linear_unary_jvp(lax.squeeze_p)
TRANSPOSE[lax.squeeze_p] = _squeeze_transpose
BATCH[lax.squeeze_p] = _squeeze_batch


@skip_zero_ct
def _rev_transpose(ct, x, *, dimensions):
    return [lax.rev_p.bind(ct, dimensions=dimensions)]


def _rev_batch(vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    return lax.rev_p.bind(x, dimensions=tuple(r if r < d else r + 1 for r in dimensions)), d


JVP[lax.rev_p] = linear_unary_jvp(lax.rev_p)
TRANSPOSE[lax.rev_p] = _rev_transpose
BATCH[lax.rev_p] = _rev_batch


# ---------------------------------------------------------------------------------------------
# concatenate, pad


def _concatenate_jvp(primals, tangents, *, dimension):
    out = lax.concatenate_p.bind(*primals, dimension=dimension)
    return out, lax.concatenate_p.bind(*map(instantiate, tangents), dimension=dimension)


@skip_zero_ct
def _concatenate_transpose(ct, *xs, dimension):
    cts, start = [], 0
    for x in xs:
        n = x.aval.shape[dimension] if is_undefined(x) else shape(x)[dimension]
        cts.append(lax.slice_in_dim(ct, start, start + n, axis=dimension)
                   if is_undefined(x) else None)
        start += n
    return cts


def _concatenate_batch(vals, dims, *, dimension):
    size = _batch_size(vals, dims)
    xs = [bdim_at_front(x, d, size) for x, d in zip(vals, dims, strict=True)]
    return lax.concatenate_p.bind(*xs, dimension=dimension + 1), 0


JVP[lax.concatenate_p] = _concatenate_jvp
TRANSPOSE[lax.concatenate_p] = _concatenate_transpose
BATCH[lax.concatenate_p] = _concatenate_batch


def _pad_jvp(primals, tangents, *, padding_config):
    out = lax.pad_p.bind(*primals, padding_config=padding_config)
    return out, lax.pad_p.bind(*map(instantiate, tangents), padding_config=padding_config)


@skip_zero_ct
def _pad_transpose(ct, x, padding_value, *, padding_config):
    lo, hi, interior = zip(*padding_config, strict=True) if padding_config else ((), (), ())
    zero = np.zeros((), dtype(ct))
    # undo low/high padding (a negative one had cropped: it comes back as zeros), then take
    # every (interior + 1)-th element
    unpadded = lax.pad_p.bind(ct, zero, padding_config=tuple(
        (-a, -b, 0) for a, b in zip(lo, hi, strict=True)))
    ct_x = lax.slice_p.bind(unpadded, start_indices=(0,) * len(lo),
                            limit_indices=shape(unpadded),
                            strides=tuple(i + 1 for i in interior))
    ct_pv = None
    if is_undefined(padding_value):
        # every output element not taken from the operand is the padding value
        every = tuple(range(ndim(ct)))
        ct_pv = lax.sub(lax.reduce_sum(ct, every), lax.reduce_sum(ct_x, every))
    return [ct_x if is_undefined(x) else None, ct_pv]


def _pad_batch(vals, dims, *, padding_config):
    (x, pv), (dx, dpv) = vals, dims
    size = shape(x)[dx] if dx is not None else shape(pv)[dpv]
    config = ((0, 0, 0), *padding_config)
    x = bdim_at_front(x, dx, size)
    if dpv is None:
        return lax.pad_p.bind(x, pv, padding_config=config), 0
    # a batched padding value: pad with zeros, then select it where the operand is not
    padded = lax.pad_p.bind(x, np.zeros((), dtype(x)), padding_config=config)
    mask = lax.pad_p.bind(lax.full(shape(x)[1:], True, np.bool_), np.bool_(False),
                          padding_config=padding_config)
    out_shape = shape(padded)
    mask = lax.broadcast_in_dim(mask, out_shape, tuple(range(1, len(out_shape))))
    pv = lax.broadcast_in_dim(moveaxis(pv, dpv, 0), out_shape, (0,))
    return lax.select(mask, padded, pv), 0


JVP[lax.pad_p] = _pad_jvp
TRANSPOSE[lax.pad_p] = _pad_transpose
BATCH[lax.pad_p] = _pad_batch


# ---------------------------------------------------------------------------------------------
# slice, dynamic_slice, dynamic_update_slice


@skip_zero_ct
def _slice_transpose(ct, x, *, start_indices, limit_indices, strides=None):
    in_shape = x.aval.shape
    steps = strides or (1,) * len(in_shape)
    config = []
    for s, st, n, d in zip(start_indices, steps, shape(ct), in_shape, strict=True):
        used = (n - 1) * st + 1 if n else 0  # operand elements spanned by the slice
        config.append((s, d - s - used, st - 1))
    return [lax.pad_p.bind(ct, np.zeros((), dtype(ct)), padding_config=tuple(config))]


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides=None):
    (x,), (d,) = vals, dims
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(d, 0)
    limits.insert(d, shape(x)[d])
    steps = None
    if strides is not None:
        steps = list(strides)
        steps.insert(d, 1)
        steps = tuple(steps)
    return lax.slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                            strides=steps), d


JVP[lax.slice_p] = linear_unary_jvp(lax.slice_p)
TRANSPOSE[lax.slice_p] = _slice_transpose
BATCH[lax.slice_p] = _slice_batch


@skip_zero_ct
def _dynamic_slice_transpose(ct, x, *idx, slice_sizes):
    assert not any(map(is_undefined, idx)), "dynamic_slice is not linear in its indices"
    out = lax.dynamic_update_slice_p.bind(zeros(x.aval.shape, dtype(ct)), ct, *idx)
    return [out] + [None] * len(idx)


def _index_zero(idx):
    """A static 0 of the start indices' dtype, for a batch dimension's start."""
    return np.zeros((), dtype(idx[0]) if idx else np.int32)


def _dynamic_slice_batch(vals, dims, *, slice_sizes):
    x, *idx = vals
    dx, *didx = dims
    if all(d is None for d in didx):
        # the batch axis is sliced whole, from 0
        idx.insert(dx, _index_zero(idx))
        sizes = list(slice_sizes)
        sizes.insert(dx, shape(x)[dx])
        return lax.dynamic_slice_p.bind(x, *idx, slice_sizes=tuple(sizes)), dx
    # batched start indices: a gather of one window per batch element, clamped as
    # dynamic_slice clamps
    size = _batch_size(idx, didx)
    starts = stack_scalar_indices(idx, didx, size)
    n = len(idx)
    if dx is None:
        dn = lax.GatherDimensionNumbers(offset_dims=tuple(range(1, n + 1)),
                                        collapsed_slice_dims=(),
                                        start_index_map=tuple(range(n)))
        sizes = tuple(slice_sizes)
    else:
        x = moveaxis(x, dx, 0)
        dn = lax.GatherDimensionNumbers(offset_dims=tuple(range(1, n + 1)),
                                        collapsed_slice_dims=(),
                                        start_index_map=tuple(range(1, n + 1)),
                                        operand_batching_dims=(0,),
                                        start_indices_batching_dims=(0,))
        sizes = (1, *slice_sizes)
    return lax.gather(x, starts, dn, sizes, indices_are_sorted=False, unique_indices=False,
                      mode=lax.GatherScatterMode.CLIP), 0


JVP[lax.dynamic_slice_p] = linear_jvp_with_static_rest(lax.dynamic_slice_p, 1)
TRANSPOSE[lax.dynamic_slice_p] = _dynamic_slice_transpose
BATCH[lax.dynamic_slice_p] = _dynamic_slice_batch


@skip_zero_ct
def _dynamic_update_slice_transpose(ct, x, update, *idx):
    assert not any(map(is_undefined, idx)), "dynamic_update_slice is not linear in its indices"
    upd_shape = update.aval.shape if is_undefined(update) else shape(update)
    ct_x = ct_upd = None
    if is_undefined(x):
        # the overwritten block of the operand does not reach the output
        ct_x = lax.dynamic_update_slice_p.bind(ct, zeros(upd_shape, dtype(ct)), *idx)
    if is_undefined(update):
        ct_upd = lax.dynamic_slice_p.bind(ct, *idx, slice_sizes=upd_shape)
    return [ct_x, ct_upd] + [None] * len(idx)


def _dynamic_update_slice_batch(vals, dims):
    x, upd, *idx = vals
    dx, dupd, *didx = dims
    size = _batch_size(vals, dims)
    x, upd = bdim_at_front(x, dx, size), bdim_at_front(upd, dupd, size)
    if all(d is None for d in didx):
        return lax.dynamic_update_slice_p.bind(x, upd, _index_zero(idx), *idx), 0
    # batched start indices: a scatter of one window per batch element, clamped as
    # dynamic_update_slice clamps; windows of different batch elements never overlap
    starts = stack_scalar_indices(idx, didx, size)
    n = len(idx)
    dn = lax.ScatterDimensionNumbers(update_window_dims=tuple(range(1, n + 1)),
                                     inserted_window_dims=(),
                                     scatter_dims_to_operand_dims=tuple(range(1, n + 1)),
                                     operand_batching_dims=(0,),
                                     scatter_indices_batching_dims=(0,))
    return lax.scatter(x, starts, upd, dn, indices_are_sorted=True, unique_indices=True,
                       mode=lax.GatherScatterMode.CLIP), 0


JVP[lax.dynamic_update_slice_p] = linear_jvp_with_static_rest(lax.dynamic_update_slice_p, 2)
TRANSPOSE[lax.dynamic_update_slice_p] = _dynamic_update_slice_transpose
BATCH[lax.dynamic_update_slice_p] = _dynamic_update_slice_batch

