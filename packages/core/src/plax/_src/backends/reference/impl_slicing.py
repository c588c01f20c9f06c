"""Implementations of gather and the scatters, for XLA's general dimension numbers, on NumPy
or any NumPy-compatible array module (`array_module` of the operands: the cupy backend reuses
these rules on CuPy arrays).

Both work on "rows": one row per index vector (all dimensions of the indices but the last),
each naming a full start position in the operand and a window of elements around it.
"""

from __future__ import annotations

import math

import numpy as np

from plax._src.array_module import array_module
from plax._src.lax import slicing as sl

_Mode = sl.GatherScatterMode


def _starts(xp, operand_shape, indices, index_map, op_bdims, idx_bdims):
    """(rows, operand rank) start positions: index vectors scattered into the operand
    dimensions they index, and each row's position along the batching dimensions."""
    indices = xp.asarray(indices)
    n = indices.shape[-1]
    batch_shape = tuple(indices.shape[:-1])
    if indices.dtype == np.uint64:  # keep huge indices huge (so they clamp or drop)
        indices = xp.minimum(indices, np.uint64(np.iinfo(np.int64).max))
    idx = indices.astype(np.int64).reshape(math.prod(batch_shape), n)
    starts = xp.zeros((idx.shape[0], len(operand_shape)), np.int64)
    for k, d in enumerate(index_map):
        starts[:, d] = idx[:, k]
    if op_bdims:
        pos = xp.indices(batch_shape, dtype=np.int64).reshape(len(batch_shape), idx.shape[0])
        for od, id_ in zip(op_bdims, idx_bdims, strict=True):
            starts[:, od] = pos[id_]
    return starts


def _in_bounds(xp, starts, operand_shape, window, index_map):
    ok = xp.ones(starts.shape[0], bool)
    for d in index_map:
        ok &= (starts[:, d] >= 0) & (starts[:, d] <= operand_shape[d] - window[d])
    return ok


def _clamp(xp, starts, operand_shape, window, index_map):
    starts = starts.copy()
    for d in index_map:
        starts[:, d] = xp.clip(starts[:, d], 0, max(operand_shape[d] - window[d], 0))
    return starts


def _window_offsets(xp, window):
    """(window elements, rank) offsets of every element of a window, row-major."""
    return xp.indices(tuple(window), dtype=np.int64).reshape(len(window), math.prod(window)).T


def _gather(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
            unique_indices, mode, fill_value):
    xp = array_module(operand, indices)
    dn = dimension_numbers
    batch_shape = tuple(indices.shape[:-1])
    starts = _starts(xp, operand.shape, indices, dn.start_index_map, dn.operand_batching_dims,
                     dn.start_indices_batching_dims)
    ok = None
    if mode == _Mode.FILL_OR_DROP:
        ok = _in_bounds(xp, starts, operand.shape, slice_sizes, dn.start_index_map)
    # PROMISE_IN_BOUNDS clamps, as XLA does (and FILL_OR_DROP clamps, then masks)
    starts = _clamp(xp, starts, operand.shape, slice_sizes, dn.start_index_map)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept_window = [s for d, s in enumerate(slice_sizes) if d not in dropped]
    if starts.shape[0] == 0 or math.prod(slice_sizes) == 0:
        values = xp.zeros((starts.shape[0], math.prod(kept_window)), operand.dtype)
    elif operand.ndim == 0:  # every row reads the one element
        values = xp.broadcast_to(operand, (starts.shape[0], 1))
    else:
        full = starts[:, None, :] + _window_offsets(xp, slice_sizes)[None]
        values = operand[tuple(full[..., d] for d in range(operand.ndim))]
    if ok is not None:
        fill = xp.asarray(np.asarray(fill_value).astype(operand.dtype))
        values = xp.where(ok[:, None], values, fill)
    values = values.reshape(batch_shape + tuple(kept_window))
    # move window dimensions to offset_dims, batch dimensions (in order) to the rest
    nb = len(batch_shape)
    out_rank = nb + len(kept_window)
    offset = {d: i for i, d in enumerate(dn.offset_dims)}
    batch_axes = iter(range(nb))
    perm = [nb + offset[j] if j in offset else next(batch_axes) for j in range(out_rank)]
    return xp.transpose(values, perm)


def _scatter_rows(xp, operand, indices, updates, dn, mode):
    """Flat operand positions and update values of every element that is scattered."""
    window_dims = set(dn.update_window_dims)
    scatter_dims = [d for d in range(updates.ndim) if d not in window_dims]
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes = iter(updates.shape[d] for d in dn.update_window_dims)
    window = tuple(1 if d in dropped else next(sizes) for d in range(operand.ndim))
    starts = _starts(xp, operand.shape, indices, dn.scatter_dims_to_operand_dims,
                     dn.operand_batching_dims, dn.scatter_indices_batching_dims)
    vals = xp.transpose(xp.asarray(updates), scatter_dims + list(dn.update_window_dims))
    vals = vals.reshape(starts.shape[0], math.prod(window))
    if mode == _Mode.CLIP:
        starts = _clamp(xp, starts, operand.shape, window, dn.scatter_dims_to_operand_dims)
    else:  # FILL_OR_DROP, and PROMISE_IN_BOUNDS as XLA runs it: drop out-of-bounds windows
        ok = _in_bounds(xp, starts, operand.shape, window, dn.scatter_dims_to_operand_dims)
        starts, vals = starts[ok], vals[ok]
    if starts.shape[0] == 0 or vals.shape[1] == 0:
        return xp.zeros(0, np.int64), vals.reshape(-1)
    if operand.ndim == 0:  # every row writes the one element
        return xp.zeros(vals.size, np.int64), vals.reshape(-1)
    full = starts[:, None, :] + _window_offsets(xp, window)[None]
    flat = xp.ravel_multi_index(tuple(full[..., d].reshape(-1) for d in range(operand.ndim)),
                                operand.shape)
    return flat, vals.reshape(-1)


def _last_wins(xp, flat, vals):
    """One update per position (the last in row-major order) for a replacing scatter."""
    uniq, first_in_reversed = xp.unique(flat[::-1], return_index=True)
    return uniq, vals[len(flat) - 1 - first_in_reversed]


def _combine_at(xp, name: str, out, flat, vals) -> None:
    """out[flat] <name>= vals, unbuffered (duplicate positions combine in row-major order):
    NumPy's ufunc.at; a module whose ufunc has no `at` for this op or dtype (CuPy's multiply,
    its 8/16-bit integers) combines in rounds, each round the next occurrence of every
    position, which keeps the same order."""
    ufunc = getattr(xp, name)
    try:
        ufunc.at(out, flat, vals)
        return
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        if xp is np:
            raise
    while flat.size:
        pos, first = xp.unique(flat, return_index=True)
        out[pos] = ufunc(out[pos], vals[first])
        rest = xp.ones(flat.size, bool)
        rest[first] = False
        flat, vals = flat[rest], vals[rest]


def _scatter_impl(name: str | None):
    def impl(operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices, mode):
        xp = array_module(operand, indices, updates)
        flat, vals = _scatter_rows(xp, operand, indices, updates, dimension_numbers, mode)
        out = xp.array(operand, copy=True).reshape(-1)
        if name is None:
            if flat.size:
                pos, v = _last_wins(xp, flat, vals)
                out[pos] = v
        else:
            with np.errstate(all="ignore"):  # overflow wraps / goes to inf, as XLA
                _combine_at(xp, name, out, flat, vals)
        return out.reshape(operand.shape)
    return impl


IMPLS = {
    sl.gather_p: _gather,
    sl.scatter_p: _scatter_impl(None),
    sl.scatter_add_p: _scatter_impl("add"),
    sl.scatter_sub_p: _scatter_impl("subtract"),
    sl.scatter_mul_p: _scatter_impl("multiply"),
    sl.scatter_min_p: _scatter_impl("minimum"),
    sl.scatter_max_p: _scatter_impl("maximum"),
}
