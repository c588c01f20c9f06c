"""Lowering rules of the structural and static-size slicing primitives: each is one StableHLO
op (dynamic slices clamp their start indices in XLA exactly as lax specifies)."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as so
from plax import lax as st
from plax_xla import hlo
from plax_xla.lowering import i64_array


def _broadcast_in_dim(ctx, x, *, shape, broadcast_dimensions, sharding=None):
    return hlo.broadcast_in_dim(ctx.b, x, shape, broadcast_dimensions)


def _reshape(ctx, x, *, new_sizes, dimensions=None, sharding=None):
    if dimensions is not None:
        x = hlo.transpose(ctx.b, x, dimensions)
    return hlo.reshape(ctx.b, x, new_sizes)


def _transpose(ctx, x, *, permutation):
    return hlo.transpose(ctx.b, x, permutation)


def _squeeze(ctx, x, *, dimensions):
    return hlo.reshape(ctx.b, x, ctx.aval_out.shape)


def _rev(ctx, x, *, dimensions):
    return hlo.rev(ctx.b, x, dimensions)


def _concatenate(ctx, *xs, dimension):
    # empty operands contribute nothing (and an all-empty result never reaches a rule)
    kept = [x for x in xs if x.shape[dimension]] or [xs[0]]
    return hlo.concatenate(ctx.b, kept, dimension)


def _pad(ctx, x, padding_value, *, padding_config):
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    return ctx.b.op1("stablehlo.pad", [x, padding_value], ctx.aval_out.shape, x.dtype,
                     attrs=f"edge_padding_low = {i64_array(lo)}, edge_padding_high = "
                           f"{i64_array(hi)}, interior_padding = {i64_array(interior)}")


def _iota(ctx, *, dtype, shape, dimension, sharding=None):
    b = ctx.b
    if dtypes.is_complex(dtype):
        ramp = hlo.iota(b, shape, hlo._real_dtype(dtype), dimension)
        return hlo.convert(b, ramp, dtype)
    return hlo.iota(b, shape, dtype, dimension)


def _slice(ctx, x, *, start_indices, limit_indices, strides=None):
    return hlo.slice_(ctx.b, x, start_indices, limit_indices, strides)


def _dynamic_slice(ctx, x, *idx, slice_sizes):
    return ctx.b.op1("stablehlo.dynamic_slice", [x, *idx], ctx.aval_out.shape, x.dtype,
                     attrs=f"slice_sizes = {i64_array(slice_sizes)}")


def _dynamic_update_slice(ctx, x, update, *idx):
    if 0 in update.shape:
        return x
    return ctx.b.op1("stablehlo.dynamic_update_slice", [x, update, *idx], x.shape, x.dtype)


RULES = {
    st.broadcast_in_dim_p: _broadcast_in_dim,
    st.reshape_p: _reshape,
    st.transpose_p: _transpose,
    st.squeeze_p: _squeeze,
    st.rev_p: _rev,
    st.concatenate_p: _concatenate,
    st.pad_p: _pad,
    st.iota_p: _iota,
    so.slice_p: _slice,
    so.dynamic_slice_p: _dynamic_slice,
    so.dynamic_update_slice_p: _dynamic_update_slice,
}
