"""Lowering rules of gather and the scatters: stablehlo.gather/scatter with the full dimension
numbers (batching dimensions included). Out-of-bounds modes are made explicit: CLIP and
PROMISE_IN_BOUNDS gathers clamp the start indices so windows fit; FILL_OR_DROP gathers also
mask rows whose window does not fit with the fill value. Scatters drop such windows (XLA's
own rule) unless CLIP clamps them in first."""

from __future__ import annotations

import numpy as np

from plax.extend import dtypes
from plax import lax as sl
from plax_xla import hlo
from plax_xla.lower_elementwise import complex_select
from plax_xla.lowering import Value, i64_array

_Mode = sl.GatherScatterMode


def _dims_attr(kind: str, fields, index_vector_dim: int) -> str:
    """A #stablehlo.gather / #stablehlo.scatter dimension-numbers attribute."""
    # empty lists are left out, as StableHLO prints them
    parts = [f"{k} = [{', '.join(str(int(d)) for d in v)}]" for k, v in fields if v]
    parts.append(f"index_vector_dim = {index_vector_dim}")
    return f"#stablehlo.{kind}<{', '.join(parts)}>"


def _bounds(indices: Value, index_map, operand_shape, window) -> list[int]:
    """The largest in-bounds start per index-vector entry, capped to the index dtype."""
    cap = np.iinfo(indices.dtype).max
    return [min(operand_shape[d] - window[d], cap) for d in index_map]


def _clamp_indices(b, indices: Value, bounds) -> Value:
    """Each index-vector entry clamped into [0, bound] (computed in the index dtype)."""
    if not bounds:
        return indices
    hi = b.const(np.array(bounds).astype(indices.dtype))
    hi = hlo.broadcast_in_dim(b, hi, indices.shape, (indices.ndim - 1,))
    lo = hlo.full_like(b, 0, indices)
    return b.op1("stablehlo.clamp", [lo, indices, hi], indices.shape, indices.dtype)


def _in_bounds(b, indices: Value, bounds) -> Value | None:
    """Per row (all index dimensions but the last): whether every entry is in [0, bound]."""
    if not bounds:
        return None
    hi = hlo.broadcast_in_dim(b, b.const(np.array(bounds).astype(indices.dtype)),
                              indices.shape, (indices.ndim - 1,))
    ok = hlo.compare(b, indices, hi, "LE")
    if dtypes.is_signed(indices.dtype):
        ok = hlo.and_(b, ok, hlo.compare(b, indices, hlo.full_like(b, 0, indices), "GE"))
    true = hlo.scalar(b, True, hlo.BOOL)
    out, = hlo.reduce(b, [ok], [true], (indices.ndim - 1,), hlo.binary_region("stablehlo.and"))
    return out


def _gather(ctx, operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
            unique_indices, mode, fill_value):
    b, dn, out = ctx.b, dimension_numbers, ctx.aval_out
    bounds = _bounds(indices, dn.start_index_map, operand.shape, slice_sizes)
    ok = _in_bounds(b, indices, bounds) if mode == _Mode.FILL_OR_DROP else None
    # explicit clamping (XLA clamps too, but reads unsigned indices as signed)
    clamped = _clamp_indices(b, indices, bounds)
    attrs = ("dimension_numbers = " + _dims_attr("gather", [
        ("offset_dims", dn.offset_dims), ("collapsed_slice_dims", dn.collapsed_slice_dims),
        ("operand_batching_dims", dn.operand_batching_dims),
        ("start_indices_batching_dims", dn.start_indices_batching_dims),
        ("start_index_map", dn.start_index_map)], indices.ndim - 1)
        + f", slice_sizes = {i64_array(slice_sizes)}, "
        + f"indices_are_sorted = {'true' if indices_are_sorted else 'false'}")
    g = b.op1("stablehlo.gather", [operand, clamped], out.shape, operand.dtype, attrs=attrs)
    if ok is None:
        return g
    batch_dims = [d for d in range(out.ndim) if d not in set(dn.offset_dims)]
    mask = hlo.broadcast_in_dim(b, ok, out.shape, batch_dims)
    fill = hlo.full_like(b, np.asarray(fill_value).astype(operand.dtype), g)
    return hlo.select(b, mask, g, fill)


def _combine(kind: str):
    """The scatter's update region: (current operand value, update) -> new value."""
    def body(sb, cur, upd):
        if kind == "replace":
            return [upd]
        if kind in ("max", "min") and dtypes.is_complex(cur.dtype):
            return [complex_select(sb, "GT" if kind == "max" else "LT", cur, upd)]
        name = {"add": "stablehlo.add", "sub": "stablehlo.subtract", "mul": "stablehlo.multiply",
                "max": "stablehlo.maximum", "min": "stablehlo.minimum"}[kind]
        if cur.dtype == hlo.BOOL and kind in ("add", "sub"):
            name = "stablehlo.or" if kind == "add" else "stablehlo.xor"
        return [hlo.binary(sb, name, cur, upd)]
    return body


def _scatter(kind: str):
    def rule(ctx, operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices, mode):
        b, dn = ctx.b, dimension_numbers
        if 0 in updates.shape:
            return operand
        if operand.ndim == 0:
            # XLA's scatter simplifier rejects a rank-0 operand: scatter into a (1,) array
            flat = hlo.reshape(b, operand, (1,))
            out = rule(ctx, flat, indices, updates, mode=mode,
                       dimension_numbers=sl.ScatterDimensionNumbers((), (0,), ()),
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
            return hlo.reshape(b, out, ())
        free = [d for d in range(operand.ndim) if d not in set(dn.operand_batching_dims)]
        if indices.shape[-1] == 0 and free:
            # XLA combines the rows of an empty index vector wrongly (only the last lands):
            # index the first non-batching dimension at 0 explicitly instead
            zero = hlo.full(b, 0, indices.shape[:-1] + (1,), indices.dtype)
            indices = hlo.concatenate(b, [indices, zero], indices.ndim - 1)
            dn = dn._replace(scatter_dims_to_operand_dims=(free[0],))
        if mode == _Mode.CLIP:
            dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
            sizes = iter(updates.shape[d] for d in dn.update_window_dims)
            window = [1 if d in dropped else next(sizes) for d in range(operand.ndim)]
            indices = _clamp_indices(b, indices, _bounds(
                indices, dn.scatter_dims_to_operand_dims, operand.shape, window))
        attrs = ("scatter_dimension_numbers = " + _dims_attr("scatter", [
            ("update_window_dims", dn.update_window_dims),
            ("inserted_window_dims", dn.inserted_window_dims),
            ("input_batching_dims", dn.operand_batching_dims),
            ("scatter_indices_batching_dims", dn.scatter_indices_batching_dims),
            ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims)], indices.ndim - 1)
            + ", "
            + f"indices_are_sorted = {'true' if indices_are_sorted else 'false'}, "
            + f"unique_indices = {'true' if unique_indices else 'false'}")
        region = b.region([((), operand.dtype)] * 2, _combine(kind))
        return b.op1("stablehlo.scatter", [operand, indices, updates], operand.shape,
                     operand.dtype, attrs=attrs, regions=[region])
    return rule


RULES = {
    sl.gather_p: _gather,
    sl.scatter_p: _scatter("replace"),
    sl.scatter_add_p: _scatter("add"),
    sl.scatter_sub_p: _scatter("sub"),
    sl.scatter_mul_p: _scatter("mul"),
    sl.scatter_min_p: _scatter("min"),
    sl.scatter_max_p: _scatter("max"),
}
