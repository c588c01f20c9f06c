"""Lowering rule of dot_general: both operands converted to the computation type (float32 for
16-bit float results, int32 for boolean ones, else the result type), one
stablehlo.dot_general, and the result converted back."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as la
from plax_xla import hlo


def _compute_dtype(out):
    if dtypes.is_float(out) and out.itemsize < 4:
        return dtypes.float32
    if out == dtypes.bool_:
        return dtypes.int32  # a boolean product is an OR of ANDs: count, then test != 0
    return out


def _dot_general(ctx, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    b, out = ctx.b, ctx.aval_out
    (lc, rc), (lb, rb) = dimension_numbers
    ct = _compute_dtype(out.dtype)
    fields = [("lhs_batching_dimensions", lb), ("rhs_batching_dimensions", rb),
              ("lhs_contracting_dimensions", lc), ("rhs_contracting_dimensions", rc)]
    dims = ", ".join(f"{k} = [{', '.join(str(int(d)) for d in v)}]" for k, v in fields if v)
    attrs = f"dot_dimension_numbers = #stablehlo.dot<{dims}>"
    if precision is not None:
        attrs += (", precision_config = ["
                  + ", ".join(f"#stablehlo<precision {p.name}>" for p in precision) + "]")
    res = b.op1("stablehlo.dot_general", [hlo.convert(b, lhs, ct), hlo.convert(b, rhs, ct)],
                out.shape, ct, attrs=attrs)
    if out.dtype == dtypes.bool_:
        return hlo.compare(b, res, hlo.full_like(b, 0, res), "NE")
    return hlo.convert(b, res, out.dtype)


RULES = {
    la.dot_general_p: _dot_general,
}
