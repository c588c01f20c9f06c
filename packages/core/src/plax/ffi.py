"""Foreign kernels as XLA custom calls (as jax.ffi): `register_ffi_target` a handler (a
PyCapsule) under a name, then `ffi_call` it from plax code, eagerly or under jit, vmap (by its
`vmap_method`, as JAX's) and grad's primal; the xla backend compiles it, the reference and
cupy backends refuse it with a clear error."""

from __future__ import annotations

from plax._src.ffi import ffi_call, register_ffi_target, registered_targets

__all__ = ["ffi_call", "register_ffi_target", "registered_targets"]
