"""plax.custom_batching (as jax.custom_batching): `custom_vmap` gives a function its own vmap
rule, `sequential_vmap` batches a function by a loop. Both come from plax-transforms (the
`custom_vmap_call` primitive's batch and jvp rules live there) and load with it on first use."""

from __future__ import annotations

_NAMES = ("custom_vmap", "sequential_vmap")


def __getattr__(name: str):
    if name in _NAMES:
        from plax._src import registry
        obj = registry.get_api(f"custom_batching.{name}")
        if obj is None:
            raise AttributeError(f"plax.custom_batching.{name} is provided by the "
                                 "plax-transforms distribution: pip install plax-transforms")
        globals()[name] = obj
        return obj
    raise AttributeError(f"module 'plax.custom_batching' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
