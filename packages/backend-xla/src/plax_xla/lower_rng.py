"""Lowering of XLA's random number operations: rng_bit_generator -> stablehlo.rng_bit_generator
(a uint32[4] key is bitcast to the uint64[2] state XLA takes, and back), rng_uniform ->
stablehlo.rng with a uniform distribution."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax_xla import hlo

_ALGORITHMS = {lax.RandomAlgorithm.RNG_DEFAULT: "DEFAULT",
               lax.RandomAlgorithm.RNG_THREE_FRY: "THREE_FRY",
               lax.RandomAlgorithm.RNG_PHILOX: "PHILOX"}


def _rng_bit_generator(ctx, key, *, shape, dtype, algorithm, out_sharding):
    b = ctx.b
    u32 = key.dtype == np.uint32
    state = key
    if u32:
        state = b.op1("stablehlo.bitcast_convert", [hlo.reshape(b, key, (2, 2))], (2,),
                      np.dtype(np.uint64))
    attr = f"rng_algorithm = #stablehlo<rng_algorithm {_ALGORITHMS[algorithm]}>"
    new_state, bits = b.op("stablehlo.rng_bit_generator", [state],
                           [(state.shape, state.dtype), (tuple(shape), np.dtype(dtype))],
                           attrs=attr)
    if u32:
        pairs = b.op1("stablehlo.bitcast_convert", [new_state], (2, 2), np.dtype(np.uint32))
        new_state = hlo.reshape(b, pairs, (4,))
    return [new_state, bits]


def _rng_uniform(ctx, a, b_, *, shape):
    b = ctx.b
    dims = b.const(np.array(shape, np.int64))
    return b.op1("stablehlo.rng", [a, b_, dims], tuple(shape), a.dtype,
                 attrs="rng_distribution = #stablehlo<rng_distribution UNIFORM>")


RULES = {
    lax.rng_bit_generator_p: _rng_bit_generator,
    lax.rng_uniform_p: _rng_uniform,
}
