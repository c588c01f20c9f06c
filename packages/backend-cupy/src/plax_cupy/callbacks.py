"""Host callbacks and foreign kernels on the cupy backend. pure_callback and debug_callback
synchronise the stream, copy their operands to the host (copies in the host build too, so a
callback may keep what it is given), call the Python function and copy the results back to the
device, eagerly and as a step of a compiled program. ffi_call, an XLA custom call, has no
counterpart here and is refused naming the primitive and the backend; call_exported (an
Exported's StableHLO module) runs on the xla backend, through the host."""

from __future__ import annotations

import numpy as np

from plax.extend import host_results
from plax_cupy import xp as X


def _to_host(bufs) -> list[np.ndarray]:
    X.synchronize()  # the operands' kernels have finished before the host reads them
    return [X.to_numpy(b) if X.on_gpu() else np.array(b, copy=True) for b in bufs]


def _pure_callback(*bufs, callback, result_avals, vmap_method):
    name = f"pure_callback({getattr(callback, '__name__', 'callback')})"
    out = host_results(name, callback(*_to_host(bufs)), result_avals)
    return [X.xp.array(o) for o in out]  # a copy: the callback may reuse its arrays


def _debug_callback(*bufs, callback):
    callback(*_to_host(bufs))
    return []


def _ffi_call(*bufs, target_name, **params):
    from plax.extend import UnsupportedPrimitiveError
    raise UnsupportedPrimitiveError(
        f"backend 'cupy' cannot run primitive 'ffi_call' (target {target_name!r}): an FFI "
        "kernel is an XLA custom call; run it on the xla backend (plax.default_backend('xla') "
        "or jit(..., backend='xla'))")


def _call_exported(*bufs, exported):
    """An Exported's StableHLO module (plax.export) runs on the xla backend: the operands go
    there through the host and the results come back, eagerly and as a step of a program."""
    from plax.export import call_exported_via_xla
    return [X.xp.array(o) for o in call_exported_via_xla(_to_host(bufs), exported, "cupy")]


RULES = {"pure_callback": _pure_callback, "debug_callback": _debug_callback,
         "ffi_call": _ffi_call, "call_exported": _call_exported}
