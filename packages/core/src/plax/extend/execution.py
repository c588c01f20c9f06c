"""The execution module, for plugins that run programs (a transform like jit, a backend's
pmap): placement, buffers, launching with the deleted-buffer check, wrapping results as Arrays
with the NaN check, and donation; the same functions eager dispatch uses."""

from plax._src.array import check_not_deleted
from plax._src.dispatch import (
    Loaded, apply_primitive, buffers, check_outputs, committed_backend, donate, execute,
    launch, load, make_array, pick_backend, to_buffer, wrap, wrap_one)

__all__ = ["Loaded", "apply_primitive", "buffers", "check_not_deleted", "check_outputs",
           "committed_backend",
           "donate", "execute", "launch", "load", "make_array", "pick_backend", "to_buffer",
           "wrap", "wrap_one"]
