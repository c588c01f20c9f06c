"""Lowering rule of fft: one stablehlo.fft over the trailing fft_lengths dimensions."""

from __future__ import annotations

from plax import lax as lf
from plax_xla.lowering import i64_array


def _fft(ctx, x, *, fft_type, fft_lengths):
    out = ctx.aval_out
    attrs = (f"fft_type = #stablehlo<fft_type {lf.FftType(fft_type).name}>, "
             f"fft_length = {i64_array(fft_lengths)}")
    return ctx.b.op1("stablehlo.fft", [x], out.shape, out.dtype, attrs=attrs)


RULES = {
    lf.fft_p: _fft,
}
