"""Library implementations of gather and the scatters through `xp`, for XLA's general
dimension numbers. Both work on rows: one row per index vector, each naming a full start
position in the operand and a window of elements around it."""

from __future__ import annotations

import math

import numpy as np

from plax_cupy import xp as X

# GatherScatterMode values as plax.lax defines them (an enum; compared by name)
def _mode(mode) -> str:
    return getattr(mode, "name", str(mode))


def _starts(operand_shape, indices, index_map, op_bdims, idx_bdims):
    """(rows, operand rank) start positions: index vectors scattered into the operand
    dimensions they index, and each row's position along the batching dimensions."""
    xp = X.xp
    n = indices.shape[-1]
    batch_shape = indices.shape[:-1]
    if indices.dtype == np.uint64:  # keep huge indices huge (so they clamp or drop)
        indices = xp.minimum(indices, np.uint64(np.iinfo(np.int64).max))
    idx = indices.astype(np.int64).reshape(math.prod(batch_shape), n)
    starts = xp.zeros((idx.shape[0], len(operand_shape)), np.int64)
    for k, d in enumerate(index_map):
        starts[:, d] = idx[:, k]
    if op_bdims:
        pos = xp.indices(batch_shape, dtype=np.int64).reshape(len(batch_shape), idx.shape[0])
        for od, id_ in zip(op_bdims, idx_bdims):
            starts[:, od] = pos[id_]
    return starts


def _in_bounds(starts, operand_shape, window, index_map):
    ok = X.xp.ones(starts.shape[0], bool)
    for d in index_map:
        ok &= (starts[:, d] >= 0) & (starts[:, d] <= operand_shape[d] - window[d])
    return ok


def _clamp(starts, operand_shape, window, index_map):
    starts = starts.copy()
    for d in index_map:
        starts[:, d] = X.xp.clip(starts[:, d], 0, max(operand_shape[d] - window[d], 0))
    return starts


def _window_offsets(window):
    """(window elements, rank) offsets of every element of a window, row-major."""
    return X.xp.indices(tuple(window), dtype=np.int64).reshape(len(window),
                                                               math.prod(window)).T


def _gather(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
            unique_indices, mode, fill_value):
    xp = X.xp
    dn = dimension_numbers
    batch_shape = indices.shape[:-1]
    starts = _starts(operand.shape, indices, dn.start_index_map, dn.operand_batching_dims,
                     dn.start_indices_batching_dims)
    ok = None
    if _mode(mode) == "FILL_OR_DROP":
        ok = _in_bounds(starts, operand.shape, slice_sizes, dn.start_index_map)
    # PROMISE_IN_BOUNDS clamps, as XLA does (and FILL_OR_DROP clamps, then masks)
    starts = _clamp(starts, operand.shape, slice_sizes, dn.start_index_map)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept_window = [s for d, s in enumerate(slice_sizes) if d not in dropped]
    if starts.shape[0] == 0 or math.prod(slice_sizes) == 0:
        values = xp.zeros((starts.shape[0], math.prod(kept_window)), operand.dtype)
    elif operand.ndim == 0:  # every row reads the one element
        values = xp.broadcast_to(operand, (starts.shape[0], 1))
    else:
        full = starts[:, None, :] + _window_offsets(slice_sizes)[None]
        values = operand[tuple(full[..., d] for d in range(operand.ndim))]
    if ok is not None:
        fill = xp.asarray(np.asarray(fill_value).astype(operand.dtype))
        values = xp.where(ok[:, None], values, fill)
    values = values.reshape(tuple(batch_shape) + tuple(kept_window))
    # window dimensions to offset_dims, batch dimensions (in order) to the rest
    nb = len(batch_shape)
    out_rank = nb + len(kept_window)
    offset = {d: i for i, d in enumerate(dn.offset_dims)}
    batch_axes = iter(range(nb))
    perm = [nb + offset[j] if j in offset else next(batch_axes) for j in range(out_rank)]
    return xp.transpose(values, perm)


def _scatter_rows(operand, indices, updates, dn, mode):
    """Flat operand positions and update values of every element that is scattered."""
    xp = X.xp
    window_dims = set(dn.update_window_dims)
    scatter_dims = [d for d in range(updates.ndim) if d not in window_dims]
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes = iter(updates.shape[d] for d in dn.update_window_dims)
    window = tuple(1 if d in dropped else next(sizes) for d in range(operand.ndim))
    starts = _starts(operand.shape, indices, dn.scatter_dims_to_operand_dims,
                     dn.operand_batching_dims, dn.scatter_indices_batching_dims)
    vals = xp.transpose(updates, scatter_dims + list(dn.update_window_dims))
    vals = vals.reshape(starts.shape[0], math.prod(window))
    if _mode(mode) == "CLIP":
        starts = _clamp(starts, operand.shape, window, dn.scatter_dims_to_operand_dims)
    else:  # FILL_OR_DROP, and PROMISE_IN_BOUNDS as XLA runs it: drop out-of-bounds windows
        ok = _in_bounds(starts, operand.shape, window, dn.scatter_dims_to_operand_dims)
        starts, vals = starts[ok], vals[ok]
    if starts.shape[0] == 0 or vals.shape[1] == 0:
        return xp.zeros(0, np.int64), vals.reshape(-1)
    if operand.ndim == 0:  # every row writes the one element
        return xp.zeros(vals.size, np.int64), vals.reshape(-1)
    full = starts[:, None, :] + _window_offsets(window)[None]
    flat = xp.ravel_multi_index(tuple(full[..., d].reshape(-1) for d in range(operand.ndim)),
                                operand.shape)
    return flat, vals.reshape(-1)


def _last_wins(flat, vals):
    """One update per position (the last in row-major order) for a replacing scatter."""
    uniq, first_in_reversed = X.xp.unique(flat[::-1], return_index=True)
    return uniq, vals[len(flat) - 1 - first_in_reversed]


def _scatter_impl(op: str | None):
    def impl(operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices, mode):
        flat, vals = _scatter_rows(operand, indices, updates, dimension_numbers, mode)
        out = X.xp.array(operand, copy=True).reshape(-1)
        if op is None:
            if flat.size:
                pos, v = _last_wins(flat, vals)
                out[pos] = v
        else:
            with X.quiet():  # overflow wraps / goes to inf, as XLA
                X.ufunc_at(op, out, flat, vals)
        return out.reshape(operand.shape)
    return impl


LIBRARY = {
    "gather": _gather,
    "scatter": _scatter_impl(None),
    "scatter-add": _scatter_impl("add"),
    "scatter-sub": _scatter_impl("subtract"),
    "scatter-mul": _scatter_impl("multiply"),
    "scatter-min": _scatter_impl("minimum"),
    "scatter-max": _scatter_impl("maximum"),
}
