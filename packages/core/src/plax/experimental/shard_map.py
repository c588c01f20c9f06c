"""plax.experimental.shard_map (as jax.experimental.shard_map, JAX's older home of
jax.shard_map): `shard_map` is plax.shard_map."""

from __future__ import annotations


def __getattr__(name: str):
    if name == "shard_map":
        import plax
        return plax.shard_map
    raise AttributeError(f"module 'plax.experimental.shard_map' has no attribute '{name}'")


def __dir__():
    return ["shard_map"]
