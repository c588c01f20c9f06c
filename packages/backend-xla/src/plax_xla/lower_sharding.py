"""Lowering of `sharding_constraint`: in a program partitioned over a mesh, the `@Sharding`
custom call carrying the layout as an `mhlo.sharding` attribute (relative to the program's
partitions); in a one-device program, the value itself."""

from __future__ import annotations

from plax import lax


def sharding_call(b, x, text: str, target: str = "Sharding", shape=None):
    """`stablehlo.custom_call @target(x) {mhlo.sharding = text}`."""
    return b.op1("stablehlo.custom_call", [x], shape, x.dtype,
                 attrs=f'call_target_name = "{target}", backend_config = "", '
                       f'mhlo.sharding = "{text}"')


def _constraint(ctx, x, *, sharding):
    spmd = ctx.module.spmd
    if spmd is None:
        return x
    return sharding_call(ctx.b, x, spmd.sharding_text(sharding, x.ndim))


RULES = {lax.sharding_constraint_p: _constraint}
