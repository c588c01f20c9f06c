"""Lowering of the staging primitives: `stage` is its operand, `optimization_barrier` is
`stablehlo.optimization_barrier` (XLA keeps computations on either side of it), `dce_sink` emits
nothing (its operand is kept alive by plax's tracing, not by the program)."""

from __future__ import annotations

from plax import lax


def _stage(ctx, x):
    return x


def _barrier(ctx, *xs):
    return ctx.b.op("stablehlo.optimization_barrier", list(xs),
                    [(x.shape, x.dtype) for x in xs])


def _sink(ctx, x, *, prevent_mlir_dce=False):
    return []


RULES = {lax.stage_p: _stage, lax.optimization_barrier_p: _barrier, lax.dce_sink_p: _sink}
