"""Lowering rule of conv_general_dilated: one stablehlo.convolution, its dimension numbers in
the compact `[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]` form (one letter or spatial index per
dimension). 16-bit float results are computed in float32, as dot_general's."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as cv
from plax_xla import hlo
from plax_xla.lowering import dense_i64, i64_array


def _layout(spec, first: str, second: str) -> str:
    """'[b, f, 0, 1]': for each dimension, its role in `spec` (first, second, then spatial)."""
    roles = [""] * len(spec)
    roles[spec[0]], roles[spec[1]] = first, second
    for k, d in enumerate(spec[2:]):
        roles[d] = str(k)
    return "[" + ", ".join(roles) + "]"


def _compute_dtype(out):
    return dtypes.float32 if dtypes.is_float(out) and out.itemsize < 4 else out


def _conv(ctx, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
          dimension_numbers, feature_group_count, batch_group_count, precision,
          preferred_element_type, out_sharding=None):
    b, out = ctx.b, ctx.aval_out
    ls, rs, os_ = dimension_numbers
    ct = _compute_dtype(out.dtype)
    dn = (f"#stablehlo.conv<{_layout(ls, 'b', 'f')}x{_layout(rs, 'o', 'i')}->"
          f"{_layout(os_, 'b', 'f')}>")
    n_sp = len(window_strides)
    attrs = [f"dimension_numbers = {dn}",
             f"feature_group_count = {feature_group_count} : i64",
             f"batch_group_count = {batch_group_count} : i64"]
    if n_sp:
        attrs += [f"window_strides = {i64_array(window_strides)}",
                  f"padding = {dense_i64(padding, 2)}",
                  f"lhs_dilation = {i64_array(lhs_dilation)}",
                  f"rhs_dilation = {i64_array(rhs_dilation)}"]
    if precision is not None:
        attrs.append("precision_config = ["
                     + ", ".join(f"#stablehlo<precision {p.name}>" for p in precision) + "]")
    res = b.op1("stablehlo.convolution", [hlo.convert(b, lhs, ct), hlo.convert(b, rhs, ct)],
                out.shape, ct, attrs=", ".join(attrs))
    return hlo.convert(b, res, out.dtype)


RULES = {
    cv.conv_general_dilated_p: _conv,
}
