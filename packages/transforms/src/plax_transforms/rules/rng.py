"""Rules of XLA's random number operations, as JAX's: rng_bit_generator's bits and key have
no tangent (integers); its batching rule is JAX's (one draw of the batch's bits from the first
key, which alone advances); rng_uniform has no rules, as in JAX."""

from __future__ import annotations

from plax import lax
from plax_transforms.batching import moveaxis
from plax_transforms.rules._util import zero_jvp


def _rbg_batch(vals, dims, *, shape, dtype, algorithm, out_sharding):
    (keys,), (d,) = vals, dims
    keys = moveaxis(keys, d, 0)
    size = keys.shape[0]
    key = lax.index_in_dim(keys, 0, 0, keepdims=False)
    new_key, bits = lax.rng_bit_generator_p.bind(key, shape=(size, *shape), dtype=dtype,
                                                 algorithm=algorithm, out_sharding=out_sharding)
    new_keys = lax.dynamic_update_index_in_dim(keys, new_key, 0, 0)
    return [new_keys, bits], [0, 0]


JVP = {lax.rng_bit_generator_p: zero_jvp(lax.rng_bit_generator_p)}
BATCH = {lax.rng_bit_generator_p: _rbg_batch}
