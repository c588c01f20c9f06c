"""Lowering rules of the control-flow primitives (cond -> stablehlo.case, while ->
stablehlo.while, scan -> a while over an index that slices xs and writes ys in place) and of
the call-like primitives of custom_jvp, custom_vjp and checkpoint (a call of their jaxpr:
their rules matter to transforms, which have run before lowering)."""

from __future__ import annotations

from plax.extend import dtypes
from plax import lax as cf
from plax.extend import (
    checkpoint_p, custom_jvp_call_p, custom_lin_p, custom_vjp_call_p, custom_vmap_call_p,
    linear_call_p)
from plax_xla import hlo
from plax_xla.lowering import call_closed, i64_array, inline_closed, zeros


def _cond(ctx, index, *args, branches):
    b = ctx.b
    if len(branches) == 1:
        return inline_closed(b, branches[0], args)
    # XLA runs the last branch for any out-of-range index; lax clamps into range instead
    idx = hlo.convert(b, index, dtypes.int32)
    idx = b.op1("stablehlo.clamp", [hlo.scalar(b, 0, dtypes.int32), idx,
                                    hlo.scalar(b, len(branches) - 1, dtypes.int32)])
    regions = [b.region([], lambda sb, br=br: inline_closed(sb, br, args)) for br in branches]
    return b.op("stablehlo.case", [idx], [(a.shape, a.dtype) for a in ctx.avals_out],
                regions=regions)


def _while(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    b = ctx.b
    nc = cond_nconsts + body_nconsts

    def cond(sb, *vals):
        return inline_closed(sb, cond_jaxpr, [*vals[:cond_nconsts], *vals[nc:]])

    def body(sb, *vals):
        new = inline_closed(sb, body_jaxpr, [*vals[cond_nconsts:nc], *vals[nc:]])
        return [*vals[:nc], *new]  # the consts ride along unchanged

    types = [(v.shape, v.dtype) for v in args]
    outs = b.op("stablehlo.while", list(args), types,
                regions=[b.region(types, cond), b.region(types, body)])
    return outs[nc:]


def _scan(ctx, *args, jaxpr, length, reverse, unroll, num_consts, num_carry, **_):
    b = ctx.b
    i32 = dtypes.int32
    y_avals = jaxpr.out_avals[num_carry:]
    ys0 = [zeros(b, (length, *a.shape), a.dtype) for a in y_avals]
    if length == 0:  # the body never runs (and slicing an empty xs would not type-check)
        return [*args[num_consts:num_consts + num_carry], *ys0]
    state = [hlo.scalar(b, 0, i32), *args, *ys0]
    types = [(v.shape, v.dtype) for v in state]

    def cond(sb, i, *_):
        return [hlo.compare(sb, i, hlo.scalar(sb, length, i32), "LT")]

    def body(sb, i, *vals):
        consts, carry = vals[:num_consts], vals[num_consts:num_consts + num_carry]
        xs, ys = vals[num_consts + num_carry:len(args)], vals[len(args):]
        t = hlo.sub(sb, hlo.scalar(sb, length - 1, i32), i) if reverse else i
        zero = hlo.scalar(sb, 0, i32)
        x_t = []
        for x in xs:
            row = sb.op1("stablehlo.dynamic_slice", [x, t] + [zero] * (x.ndim - 1),
                         (1, *x.shape[1:]), x.dtype,
                         attrs=f"slice_sizes = {i64_array((1, *x.shape[1:]))}")
            x_t.append(hlo.reshape(sb, row, x.shape[1:]))
        out = inline_closed(sb, jaxpr, [*consts, *carry, *x_t])
        new_ys = [sb.op1("stablehlo.dynamic_update_slice",
                         [y, hlo.reshape(sb, o, (1, *o.shape)), t] + [zero] * (y.ndim - 1))
                  for y, o in zip(ys, out[num_carry:])]
        i_next = hlo.add(sb, i, hlo.scalar(sb, 1, i32))
        return [i_next, *consts, *out[:num_carry], *xs, *new_ys]

    outs = b.op("stablehlo.while", state, types,
                regions=[b.region(types, cond), b.region(types, body)])
    return outs[1 + num_consts:1 + num_consts + num_carry] + outs[1 + len(args):]


def _call(param: str, label: str):
    def rule(ctx, *args, **params):
        return call_closed(ctx.b, params[param], label, args)
    return rule


def _custom_lin(ctx, *args, **params):
    # custom_lin is transposed in reverse mode and never runs; it runs only when forward mode
    # meets a custom_vjp function, which JAX refuses too
    raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


def _linear_solve(ctx, *args, const_lengths, jaxprs):
    # the solve jaxpr on its consts and b (operands: the four functions' consts, then b), as
    # JAX lowers custom_linear_solve
    n = const_lengths
    start = n.matvec + n.vecmat
    return call_closed(ctx.b, jaxprs.solve, "custom_linear_solve",
                       [*args[start:start + n.solve], *args[sum(n):]])


RULES = {
    cf.cond_p: _cond,
    cf.while_p: _while,
    cf.scan_p: _scan,
    custom_jvp_call_p: _call("call_jaxpr", "custom_jvp_call"),
    custom_vjp_call_p: _call("call_jaxpr", "custom_vjp_call"),
    custom_vmap_call_p: _call("call_jaxpr", "custom_vmap_call"),
    linear_call_p: _call("callee", "linear_call"),
    checkpoint_p: _call("jaxpr", "checkpoint"),
    custom_lin_p: _custom_lin,
    cf.linear_solve_p: _linear_solve,
}
