"""Lowering rule of dot_general: 16-bit float operands of one dtype go to stablehlo.dot_general
as they are (as JAX's); otherwise both operands are converted to the computation type (float32
for 16-bit float results, int32 for boolean ones, else the result type), one
stablehlo.dot_general, and the result converted back. Under a dot algorithm (a
lax.DotAlgorithmPreset or lax.DotAlgorithm as `precision`) the operands are converted to the
algorithm's types, the dot carries its `algorithm` attribute and accumulates in its type (as
JAX lowers it); on CPU only the presets XLA CPU runs are accepted."""

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


def _algorithm_attr(precision, lt, rt, acc) -> str | None:
    if precision is la.DotAlgorithmPreset.DEFAULT:
        return None
    if isinstance(precision, la.DotAlgorithmPreset):
        name = precision.name
        if name.startswith("ANY_F8"):
            counts, imprecise = (1, 1, 1), name == "ANY_F8_ANY_F8_F32_FAST_ACCUM"
            lhs_t, rhs_t, acc_t = dtypes.short_name(lt), dtypes.short_name(rt), "f32"
        else:
            parts = name.split("_")
            passes = int(parts[3][1:]) if len(parts) > 3 else 1
            counts, imprecise = (1, 1, passes), False
            lhs_t, rhs_t, acc_t = (p.lower() for p in parts[:3])
    else:
        counts = (precision.lhs_component_count, precision.rhs_component_count,
                  precision.num_primitive_operations)
        imprecise = precision.allow_imprecise_accumulation
        lhs_t, rhs_t, acc_t = (dtypes.short_name(d) for d in (lt, rt, acc))
    return (f"algorithm = #stablehlo.dot_algorithm<lhs_precision_type = {lhs_t}, "
            f"rhs_precision_type = {rhs_t}, accumulation_type = {acc_t}, "
            f"lhs_component_count = {counts[0]}, rhs_component_count = {counts[1]}, "
            f"num_primitive_operations = {counts[2]}, "
            f"allow_imprecise_accumulation = {str(imprecise).lower()}>")


def _dot_algorithm(ctx, lhs, rhs, dimension_numbers, precision):
    from plax_xla import lower_trig
    b, out = ctx.b, ctx.aval_out
    precision.check_platform(lower_trig.platform)
    lt, rt, acc = precision.compute_dtypes(ctx.avals_in[0].dtype, ctx.avals_in[1].dtype,
                                           out.dtype)
    attrs = _dims_attr(dimension_numbers)
    attrs += ", precision_config = [#stablehlo<precision DEFAULT>, #stablehlo<precision DEFAULT>]"
    alg = _algorithm_attr(precision, lt, rt, acc)
    if alg:
        attrs += ", " + alg
    res = b.op1("stablehlo.dot_general", [hlo.convert(b, lhs, lt), hlo.convert(b, rhs, rt)],
                out.shape, acc, attrs=attrs)
    return hlo.convert(b, res, out.dtype)


def _dims_attr(dimension_numbers) -> str:
    (lc, rc), (lb, rb) = dimension_numbers
    fields = [("lhs_batching_dimensions", lb), ("rhs_batching_dimensions", rb),
              ("lhs_contracting_dimensions", lc), ("rhs_contracting_dimensions", rc)]
    dims = ", ".join(f"{k} = [{', '.join(str(int(d)) for d in v)}]" for k, v in fields if v)
    return f"dot_dimension_numbers = #stablehlo.dot<{dims}>"


def _dot_general(ctx, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    if isinstance(precision, (la.DotAlgorithm, la.DotAlgorithmPreset)):
        return _dot_algorithm(ctx, lhs, rhs, dimension_numbers, precision)
    b, out = ctx.b, ctx.aval_out
    attrs = _dims_attr(dimension_numbers)
    if precision is not None:
        attrs += (", precision_config = ["
                  + ", ".join(f"#stablehlo<precision {p.name}>" for p in precision) + "]")
    if (lhs.dtype == rhs.dtype and dtypes.is_float(lhs.dtype) and lhs.dtype.itemsize < 4
            and dtypes.is_float(out.dtype)):
        # 16-bit float operands go to the dot as they are (as JAX emits it, the result type
        # the output's): converted first, XLA CPU would fold a bfloat16 product's rounding
        # into the float32 conversion (its excess-precision rewrite) and differ from JAX
        return b.op1("stablehlo.dot_general", [lhs, rhs], out.shape, out.dtype, attrs=attrs)
    ct = _compute_dtype(out.dtype)
    res = b.op1("stablehlo.dot_general", [hlo.convert(b, lhs, ct), hlo.convert(b, rhs, ct)],
                out.shape, ct, attrs=attrs)
    if out.dtype == dtypes.bool_:
        return hlo.compare(b, res, hlo.full_like(b, 0, res), "NE")
    return hlo.convert(b, res, out.dtype)


RULES = {
    la.dot_general_p: _dot_general,
}
