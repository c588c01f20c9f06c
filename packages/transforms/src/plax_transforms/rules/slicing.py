"""jvp, transpose and batching rules of gather and the scatters, as JAX's: gather and scatter_add
transpose into each other, a scatter with repeated indices learns its winners by scattering ids,
scatter_min/max split tangents among ties; batching adds gather/scatter batching dimensions."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, instantiate, is_undefined
from plax_transforms.batching import bdim_at_front, moveaxis
from plax_transforms.rules._util import (
    dtype, inverse_gather_dnums, inverse_gather_slice_sizes, ndim, shape,
    shift_dims, skip_zero_ct, scatter_dnums_of_gather, zeros)

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}

_Mode = lax.GatherScatterMode


# ---------------------------------------------------------------------------------------------
# gather


def _gather_jvp(primals, tangents, *, dimension_numbers, slice_sizes, indices_are_sorted,
                unique_indices, mode, fill_value):
    operand, indices = primals
    params = dict(dimension_numbers=dimension_numbers, slice_sizes=slice_sizes,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    out = lax.gather_p.bind(operand, indices, fill_value=fill_value, **params)
    # out-of-bounds windows are constant (the fill value): their tangent is 0
    t_fill = 0 if mode == _Mode.FILL_OR_DROP else None
    return out, lax.gather_p.bind(tangents[0], indices, fill_value=t_fill, **params)


@skip_zero_ct
def _gather_transpose(ct, operand, indices, *, dimension_numbers, slice_sizes,
                      indices_are_sorted, unique_indices, mode, fill_value):
    assert is_undefined(operand) and not is_undefined(indices)
    out = lax.scatter_add(zeros(operand.aval.shape, dtype(ct)), indices, ct,
                          scatter_dnums_of_gather(dimension_numbers),
                          indices_are_sorted=indices_are_sorted,
                          unique_indices=unique_indices, mode=mode)
    return [out, None]


def _gather_batch(vals, dims, *, dimension_numbers, slice_sizes, indices_are_sorted,
                  unique_indices, mode, fill_value):
    (operand, indices), (d_op, d_idx) = vals, dims
    dn = dimension_numbers
    params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode, fill_value=fill_value)
    if d_idx is None:
        # the batch axis becomes the first window dimension of every slice
        operand = moveaxis(operand, d_op, 0)
        new = lax.GatherDimensionNumbers(
            offset_dims=(0, *shift_dims(dn.offset_dims)),
            collapsed_slice_dims=shift_dims(dn.collapsed_slice_dims),
            start_index_map=shift_dims(dn.start_index_map),
            operand_batching_dims=shift_dims(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims)
        sizes = (shape(operand)[0], *slice_sizes)
        return lax.gather_p.bind(operand, indices, dimension_numbers=new, slice_sizes=sizes,
                                 **params), 0
    indices = moveaxis(indices, d_idx, 0)
    if d_op is None:
        # one more batch dimension of the indices: the output's first
        new = lax.GatherDimensionNumbers(
            offset_dims=shift_dims(dn.offset_dims),
            collapsed_slice_dims=dn.collapsed_slice_dims,
            start_index_map=dn.start_index_map,
            operand_batching_dims=dn.operand_batching_dims,
            start_indices_batching_dims=shift_dims(dn.start_indices_batching_dims))
        return lax.gather_p.bind(operand, indices, dimension_numbers=new,
                                 slice_sizes=slice_sizes, **params), 0
    # both batched: pair the two batch axes as gather batching dimensions
    operand = moveaxis(operand, d_op, 0)
    new = lax.GatherDimensionNumbers(
        offset_dims=shift_dims(dn.offset_dims),
        collapsed_slice_dims=shift_dims(dn.collapsed_slice_dims),
        start_index_map=shift_dims(dn.start_index_map),
        operand_batching_dims=(0, *shift_dims(dn.operand_batching_dims)),
        start_indices_batching_dims=(0, *shift_dims(dn.start_indices_batching_dims)))
    return lax.gather_p.bind(operand, indices, dimension_numbers=new,
                             slice_sizes=(1, *slice_sizes), **params), 0


JVP[lax.gather_p] = _gather_jvp
TRANSPOSE[lax.gather_p] = _gather_transpose
BATCH[lax.gather_p] = _gather_batch


# ---------------------------------------------------------------------------------------------
# scatters: shared pieces


def _inverse_gather(x, indices, dn, updates_shape, mode=None, fill_value=None):
    """Per update element, the element of `x` (operand-shaped) that the scatter addresses."""
    sizes = inverse_gather_slice_sizes(dn, ndim(x), updates_shape)
    return lax.gather(x, indices, inverse_gather_dnums(dn), sizes, mode=mode,
                      fill_value=fill_value)


def _scatter_batch(prim):
    def rule(vals, dims, *, dimension_numbers, indices_are_sorted, unique_indices, mode):
        (operand, indices, updates), (d_op, d_idx, d_upd) = vals, dims
        dn = dimension_numbers
        size = next(shape(v)[d] for v, d in zip(vals, dims, strict=True) if d is not None)
        operand = bdim_at_front(operand, d_op, size)
        updates = bdim_at_front(updates, d_upd, size)
        if d_idx is None:
            # the batch axis is a window dimension of every update
            new = lax.ScatterDimensionNumbers(
                update_window_dims=(0, *shift_dims(dn.update_window_dims)),
                inserted_window_dims=shift_dims(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=shift_dims(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=shift_dims(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:
            indices = moveaxis(indices, d_idx, 0)
            new = lax.ScatterDimensionNumbers(
                update_window_dims=shift_dims(dn.update_window_dims),
                inserted_window_dims=shift_dims(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=shift_dims(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0, *shift_dims(dn.operand_batching_dims)),
                scatter_indices_batching_dims=(0, *shift_dims(dn.scatter_indices_batching_dims)))
        out = prim.bind(operand, indices, updates, dimension_numbers=new,
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                        mode=mode)
        return out, 0
    return rule


for _p in (lax.scatter_p, lax.scatter_add_p, lax.scatter_sub_p, lax.scatter_mul_p,
           lax.scatter_min_p, lax.scatter_max_p):
    BATCH[_p] = _scatter_batch(_p)


def _both_zero(tangents):
    return type(tangents[0]) is Zero and type(tangents[2]) is Zero


# ---------------------------------------------------------------------------------------------
# scatter_add, scatter_sub: linear in operand and updates


def _scatter_linear_jvp(prim):
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if _both_zero(tangents):
            return out, Zero(get_aval(out))
        return out, prim.bind(instantiate(tangents[0]), primals[1], instantiate(tangents[2]),
                              **params)
    return rule


def _scatter_add_transpose(negate: bool):
    @skip_zero_ct
    def rule(ct, operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices, mode):
        assert not is_undefined(indices)
        ct_op = ct if is_undefined(operand) else None
        ct_upd = None
        if is_undefined(updates):
            # dropped (out-of-bounds) updates never reached the output: cotangent 0
            ct_upd = _inverse_gather(ct, indices, dimension_numbers, updates.aval.shape,
                                     mode=mode, fill_value=0)
            if negate:
                ct_upd = lax.neg(ct_upd)
        return [ct_op, None, ct_upd]
    return rule


JVP[lax.scatter_add_p] = _scatter_linear_jvp(lax.scatter_add_p)
TRANSPOSE[lax.scatter_add_p] = _scatter_add_transpose(negate=False)
JVP[lax.scatter_sub_p] = _scatter_linear_jvp(lax.scatter_sub_p)
TRANSPOSE[lax.scatter_sub_p] = _scatter_add_transpose(negate=True)


# ---------------------------------------------------------------------------------------------
# scatter (replace)


def _scatter_jvp(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices,
                 mode):
    operand, indices, updates = primals
    dn = dimension_numbers
    params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if _both_zero(tangents):
        out = lax.scatter_p.bind(operand, indices, updates, **params)
        return out, Zero(get_aval(out))
    t_op, t_upd = instantiate(tangents[0]), instantiate(tangents[2])
    if unique_indices:
        return (lax.scatter_p.bind(operand, indices, updates, **params),
                lax.scatter_p.bind(t_op, indices, t_upd, **params))
    # Which of several updates of one element wins is unspecified: scatter a distinct id per
    # update (window elements share their update's id), read back the winning id per update,
    # keep only winners (and operand elements nobody overwrote), then combine with scatter_add.
    upd_shape = shape(updates)
    ids_shape = tuple(1 if d in dn.update_window_dims else s for d, s in enumerate(upd_shape))
    n_ids = int(np.prod(ids_shape))
    id_dtype = np.uint32 if n_ids < np.iinfo(np.uint32).max else np.uint64
    ids = lax.add(lax.reshape(lax.iota(id_dtype, n_ids), ids_shape),
                  lax.full(upd_shape, 1, id_dtype))
    scattered = lax.scatter_p.bind(lax.full(shape(operand), 0, id_dtype), indices, ids,
                                   **params)
    won = lax.eq(ids, _inverse_gather(scattered, indices, dn, upd_shape))
    kept = lax.eq(scattered, lax.full(shape(scattered), 0, id_dtype))

    def keep(mask, x):
        return lax.select(mask, x, lax.full_like(x, 0))

    out = lax.scatter_add_p.bind(keep(kept, operand), indices, keep(won, updates), **params)
    t_out = lax.scatter_add_p.bind(keep(kept, t_op), indices, keep(won, t_upd), **params)
    return out, t_out


@skip_zero_ct
def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers, indices_are_sorted,
                       unique_indices, mode):
    # reached only for unique indices: otherwise the jvp above uses scatter_add
    if not unique_indices:
        raise NotImplementedError("scatter transpose is only implemented where "
                                  "unique_indices=True")
    dn = dimension_numbers
    upd_shape = updates.aval.shape if is_undefined(updates) else shape(updates)
    ct_op = ct_upd = None
    if is_undefined(operand):
        ct_op = lax.scatter_p.bind(ct, indices, zeros(upd_shape, dtype(ct)),
                                   dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                                   unique_indices=True, mode=mode)
    if is_undefined(updates):
        ct_upd = _inverse_gather(ct, indices, dn, upd_shape, mode=mode, fill_value=0)
    return [ct_op, None, ct_upd]


JVP[lax.scatter_p] = _scatter_jvp
TRANSPOSE[lax.scatter_p] = _scatter_transpose


# ---------------------------------------------------------------------------------------------
# scatter_mul: linear in the operand; in the updates only for unique indices (as JAX)


def _scatter_mul_jvp(primals, tangents, **params):
    operand, indices, updates = primals
    t_op, _, t_upd = tangents
    out = lax.scatter_mul_p.bind(operand, indices, updates, **params)
    acc = None
    if type(t_op) is not Zero:
        acc = lax.scatter_mul_p.bind(t_op, indices, updates, **params)
    if type(t_upd) is not Zero:
        if not params["unique_indices"]:
            raise NotImplementedError(
                "scatter_mul gradients are only implemented if `unique_indices=True`")
        term = lax.mul(operand, lax.scatter_add_p.bind(
            lax.full_like(operand, 0), indices, t_upd, **params))
        acc = term if acc is None else lax.add(acc, term)
    return out, (Zero(get_aval(out)) if acc is None else acc)


@skip_zero_ct
def _scatter_mul_transpose(ct, operand, indices, updates, *, dimension_numbers,
                           indices_are_sorted, unique_indices, mode):
    params = dict(dimension_numbers=dimension_numbers, indices_are_sorted=indices_are_sorted,
                  unique_indices=unique_indices, mode=mode)
    if is_undefined(operand) and is_undefined(updates):
        raise ValueError("scatter_mul is not linear in its operand and updates at once")
    if is_undefined(operand):
        return [lax.scatter_mul_p.bind(ct, indices, updates, **params), None, None]
    # linear in the updates (operand fixed) only when no two updates meet
    if not unique_indices:
        raise NotImplementedError(
            "scatter_mul gradients are only implemented if `unique_indices=True`")
    ct_upd = _inverse_gather(lax.mul(ct, operand), indices, dimension_numbers,
                             updates.aval.shape, mode=mode, fill_value=0)
    return [None, None, ct_upd]


JVP[lax.scatter_mul_p] = _scatter_mul_jvp
TRANSPOSE[lax.scatter_mul_p] = _scatter_mul_transpose


# ---------------------------------------------------------------------------------------------
# scatter_min, scatter_max: the tangent of the winner, averaged over ties (with the operand's
# own element when it ties too)


def _scatter_extremal_jvp(prim):
    def rule(primals, tangents, *, dimension_numbers, indices_are_sorted, unique_indices, mode):
        operand, indices, updates = primals
        dn = dimension_numbers
        params = dict(dimension_numbers=dn, indices_are_sorted=indices_are_sorted,
                      unique_indices=unique_indices, mode=mode)
        out = prim.bind(operand, indices, updates, **params)
        if _both_zero(tangents):
            return out, Zero(get_aval(out))
        t_op, t_upd = instantiate(tangents[0]), instantiate(tangents[2])
        upd_shape = shape(updates)

        def back(x):  # per update, the operand-shaped x at the element it addresses
            return _inverse_gather(x, indices, dn, upd_shape)

        # (JAX counts with a dropping scatter whatever the mode; counting with the scatter's
        # own mode differs only for out-of-bounds indices under 'clip', where it is right)
        def count(mask):  # per operand element, how many updates address it with mask set
            ones = lax.convert_element_type(mask, dtype(operand))
            return lax.scatter_add_p.bind(lax.full_like(operand, 0), indices, ones,
                                          **params)

        initial, target = back(operand), back(out)
        successful = lax.eq(updates, target)
        retained = lax.eq(initial, target)
        one = np.array(1, dtype(operand))
        n_upd = back(count(successful))
        n_refs = back(count(lax.full(upd_shape, True, np.bool_)))
        n_upd_plus = lax.add(n_upd, one)
        upd_norm = lax.select(retained, lax.div(one, n_upd_plus), lax.div(one, n_upd))
        upd_coef = lax.select(successful, upd_norm, lax.full_like(upd_norm, 0))
        op_norm = lax.select(retained, lax.div(one, n_upd_plus), lax.full_like(n_upd, 0))
        # every update addressing an element removes a share of the operand's tangent there
        op_coef = lax.div(lax.sub(op_norm, one), n_refs)
        t_updates = lax.add(lax.mul(back(t_op), op_coef), lax.mul(t_upd, upd_coef))
        return out, lax.scatter_add_p.bind(t_op, indices, t_updates, **params)
    return rule


JVP[lax.scatter_min_p] = _scatter_extremal_jvp(lax.scatter_min_p)
JVP[lax.scatter_max_p] = _scatter_extremal_jvp(lax.scatter_max_p)
