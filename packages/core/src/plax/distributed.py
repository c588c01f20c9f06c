"""plax.distributed: one program run by many processes (as jax.distributed). Call
`initialize(...)` first thing in every process; then `plax.devices()` lists every process's
devices, `plax.process_index()` says which process this is, and pmap runs across them all."""

from plax._src.distributed import (  # noqa: F401
    DistributedError, DistributedSettings, initialize, is_initialized, settings, shutdown)

__all__ = ["DistributedError", "DistributedSettings", "initialize", "is_initialized",
           "settings", "shutdown"]
