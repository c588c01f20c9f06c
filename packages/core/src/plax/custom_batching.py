"""plax.custom_batching (as jax.custom_batching): `custom_vmap` gives a function its own vmap
rule, `sequential_vmap` batches a function by a loop. Both come from plax-transforms (the
`custom_vmap_call` primitive's batch and jvp rules live there) and load with it on first use."""

from __future__ import annotations

from plax._src import lazy as _lazy

_NAMES = ("custom_vmap", "sequential_vmap")


__getattr__, __dir__ = _lazy.plugin_names(__name__, _NAMES, globals(),
                                           key=lambda name: f"custom_batching.{name}")
