"""Lowering rules of the window reductions: stablehlo.reduce_window (one operand with an
add/max/min region, or n operands with the user's computation inlined in the region, or an
(operand, tangent) pair choosing the tangent at the extreme for select_and_gather_add) and
stablehlo.select_and_scatter for select_and_scatter_add. 16-bit floats are summed in float32."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as wd
from plax_xla import hlo
from plax_xla.lowering import dense_i64, i64_array, inline_closed


def _window_attrs(window_dimensions, window_strides, padding, base_dilation=None,
                  window_dilation=None) -> str:
    nd = len(window_dimensions)
    attrs = [f"window_dimensions = {i64_array(window_dimensions)}",
             f"window_strides = {i64_array(window_strides)}"]
    if base_dilation is not None:
        attrs.append(f"base_dilations = {i64_array(base_dilation)}")
    if window_dilation is not None:
        attrs.append(f"window_dilations = {i64_array(window_dilation)}")
    attrs.append(f"padding = {dense_i64(padding, 2) if nd else dense_i64([], 2)}")
    return ", ".join(attrs)


def _reduce_window(b, operands, inits, out_shape, body, **window):
    region = b.region([((), x.dtype) for x in inits] * 2, body)
    return b.op("stablehlo.reduce_window", [*operands, *inits],
                [(out_shape, x.dtype) for x in inits], attrs=_window_attrs(**window),
                regions=[region])


def _monoid(op_name: str, identity, widen: bool):
    def rule(ctx, x, **window):
        b = ctx.b
        narrow = widen and dtypes.is_float(x.dtype) and x.dtype.itemsize < 4
        w = hlo.convert(b, x, dtypes.float32) if narrow else x
        init = hlo.scalar(b, identity(w.dtype), w.dtype)
        out, = _reduce_window(b, [w], [init], ctx.aval_out.shape, hlo.binary_region(op_name),
                              **window)
        return hlo.convert(b, out, x.dtype)
    return rule


def _zero(dt):
    return 0


def _generic(ctx, *args, jaxpr, **window):
    b = ctx.b
    n = len(args) // 2
    xs, inits = args[:n], args[n:]

    def body(sb, *scalars):
        return inline_closed(sb, jaxpr, list(scalars))

    return _reduce_window(b, list(xs), list(inits), ctx.avals_out[0].shape, body, **window)


def _select_and_gather_add(ctx, t, x, *, select_prim, **window):
    b = ctx.b
    direction = "GE" if select_prim == "ge" else "LE"
    extreme = hlo.lowest(x.dtype) if select_prim == "ge" else hlo.highest(x.dtype)
    inits = [hlo.scalar(b, extreme, x.dtype), hlo.scalar(b, 0, t.dtype)]

    def body(sb, ax, at, bx, bt):
        pick_a = hlo.compare(sb, ax, bx, direction)
        return [hlo.select(sb, pick_a, ax, bx), hlo.select(sb, pick_a, at, bt)]

    _, out = _reduce_window(b, [x, t], inits, ctx.aval_out.shape, body, **window)
    return out


def _select_and_scatter_add(ctx, source, x, *, select_prim, window_dimensions, window_strides,
                            padding):
    """As JAX on CPUs and GPUs: the operand padded with the lowest ('ge'; highest for 'le')
    value first, so that padding is an element a window can select (XLA's own padding is
    never selected), then select_and_scatter without padding, and the padding sliced off."""
    b = ctx.b
    direction = "GE" if select_prim == "ge" else "LE"
    scalar = [((), x.dtype)] * 2
    select = b.region(scalar, lambda sb, p, q: [hlo.compare(sb, p, q, direction)])
    scatter = b.region([((), source.dtype)] * 2, hlo.binary_region("stablehlo.add"))
    init = hlo.scalar(b, 0, source.dtype)
    shape = x.shape
    padded = any(lo or hi for lo, hi in padding)
    if padded:
        extreme = hlo.lowest(x.dtype) if select_prim == "ge" else hlo.highest(x.dtype)
        lo, hi = [p[0] for p in padding], [p[1] for p in padding]
        shape = tuple(n + a + c for n, a, c in zip(x.shape, lo, hi))
        x = b.op1("stablehlo.pad", [x, hlo.scalar(b, extreme, x.dtype)], shape, x.dtype,
                  attrs=f"edge_padding_low = {i64_array(lo)}, edge_padding_high = "
                        f"{i64_array(hi)}, interior_padding = {i64_array([0] * len(lo))}")
        padding = [(0, 0)] * len(padding)
    attrs = _window_attrs(window_dimensions, window_strides, padding)
    out = b.op1("stablehlo.select_and_scatter", [x, source, init], shape, source.dtype,
                attrs=attrs, regions=[select, scatter])
    if not padded:
        return out
    return hlo.slice_(b, out, lo, [a + n for a, n in zip(lo, ctx.aval_out.shape)])


RULES = {
    wd.reduce_window_sum_p: _monoid("stablehlo.add", _zero, widen=True),
    wd.reduce_window_max_p: _monoid("stablehlo.maximum", hlo.lowest, widen=False),
    wd.reduce_window_min_p: _monoid("stablehlo.minimum", hlo.highest, widen=False),
    wd.reduce_window_p: _generic,
    wd.select_and_gather_add_p: _select_and_gather_add,
    wd.select_and_scatter_add_p: _select_and_scatter_add,
}
