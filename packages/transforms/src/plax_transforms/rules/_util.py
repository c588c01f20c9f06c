"""Helpers shared by the rule modules: linear jvps, symbolic-zero handling in transposes, index
arithmetic for batching rules, and the gather that inverts a scatter's dimension numbers."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, instantiate
from plax_transforms.batching import bdim_at_front


def shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def ndim(x) -> int:
    return get_aval(x).ndim


def dtype(x) -> np.dtype:
    return get_aval(x).dtype


def zeros(shape_, dtype_):
    return lax.full(tuple(shape_), 0, dtype_)


def linear_unary_jvp(prim):
    """jvp of a primitive linear in its only operand: the primitive applied to the tangent."""
    def rule(primals, tangents, **params):
        return prim.bind(*primals, **params), prim.bind(*tangents, **params)
    return rule


def zero_jvp(prim):
    """jvp of a primitive whose outputs have no derivative (integer results, bit ops)."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [Zero(get_aval(o)) for o in out]
        return out, Zero(get_aval(out))
    return rule


def linear_jvp_with_static_rest(prim, n_linear: int):
    """jvp of a primitive linear (jointly) in its first `n_linear` operands, the rest being
    integer operands such as indices: the primitive applied to the instantiated tangents."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        lin = tangents[:n_linear]
        if all(type(t) is Zero for t in lin):
            return out, Zero(get_aval(out))
        ts = [instantiate(t) for t in lin]
        return out, prim.bind(*ts, *primals[n_linear:], **params)
    return rule


def skip_zero_ct(rule):
    """Decorate a transpose rule: a symbolic-zero cotangent gives no cotangent to anyone."""
    def wrapped(ct, *args, **params):
        if type(ct) is Zero:
            return [None] * len(args)
        return rule(ct, *args, **params)
    wrapped.__name__ = rule.__name__
    return wrapped


def shift_dims(dims, by: int = 1) -> tuple[int, ...]:
    return tuple(int(d) + by for d in dims)


def stack_scalar_indices(idx, dims, size: int):
    """Stack scalar (possibly batched) start indices into a (size, len(idx)) index array."""
    cols = []
    for i, d in zip(idx, dims, strict=True):
        col = bdim_at_front(i, d, size)  # (size,)
        cols.append(lax.reshape(col, (size, 1)))
    if len(cols) == 1:
        return cols[0]
    return lax.concatenate(cols, 1)


def inverse_gather_dnums(dn: lax.ScatterDimensionNumbers):
    """The gather dimension numbers that read back, per update, what a scatter with `dn`
    addresses."""
    return lax.GatherDimensionNumbers(
        offset_dims=dn.update_window_dims,
        collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)


def inverse_gather_slice_sizes(dn: lax.ScatterDimensionNumbers, operand_ndim: int,
                               updates_shape) -> tuple[int, ...]:
    """Slice sizes of that gather: 1 on inserted and batching dims, the update window elsewhere."""
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window = iter(updates_shape[d] for d in dn.update_window_dims)
    return tuple(1 if i in dropped else next(window) for i in range(operand_ndim))


def scatter_dnums_of_gather(dn: lax.GatherDimensionNumbers):
    """The scatter dimension numbers that write back, per gathered window, where it came from."""
    return lax.ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims,
        inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def take_along(x, idx, axis: int):
    """x[..., idx, ...] elementwise along `axis` (idx of x's shape but for that axis): a gather
    batched over every other dimension, as JAX's sort and top_k jvps do it."""
    nd = ndim(x)
    others = tuple(d for d in range(nd) if d != axis)
    dn = lax.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=(axis,), start_index_map=(axis,),
        operand_batching_dims=others, start_indices_batching_dims=others)
    indices = lax.reshape(idx, (*shape(idx), 1))
    return lax.gather(x, indices, dn, (1,) * nd, indices_are_sorted=False,
                      unique_indices=False, mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)
