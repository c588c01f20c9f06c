"""Lowering of the staging primitives: `stage` is its operand, `optimization_barrier` is
`stablehlo.optimization_barrier` (XLA keeps computations on either side of it), `dce_sink` emits
nothing (its operand is kept alive by plax's tracing, not by the program); `create_token` and
`after_all` are `stablehlo.create_token` / `stablehlo.after_all` on `!stablehlo.token`s.
checkify's `debug_check` also emits nothing (only checkify, which rewrites it before any
lowering, gives it a meaning)."""

from __future__ import annotations

from plax import lax
from plax.checkify import debug_check_p
from plax_xla.lowering import TOKEN


def _stage(ctx, x):
    return x


def _barrier(ctx, *xs):
    return ctx.b.op("stablehlo.optimization_barrier", list(xs),
                    [(x.shape, x.dtype) for x in xs])


def _sink(ctx, x, *, prevent_mlir_dce=False):
    return []


def _dropped(ctx, *args, **params):
    return []


def _create_token(ctx):
    return ctx.b.op("stablehlo.create_token", [], [(TOKEN, None)])[0]


def _after_all(ctx, *tokens):
    return ctx.b.op("stablehlo.after_all", list(tokens), [(TOKEN, None)])[0]


RULES = {lax.stage_p: _stage, lax.optimization_barrier_p: _barrier, lax.dce_sink_p: _sink,
         debug_check_p: _dropped,
         lax.create_token_p: _create_token, lax.after_all_p: _after_all}
