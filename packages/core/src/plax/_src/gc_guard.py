"""array_garbage_collection_guard (JAX's jax_array_garbage_collection_guard): an Array freed
by Python's cycle collector (it was part of a reference cycle) rather than by reference
counting is logged ('log': logger 'plax.array', level ERROR) or aborts the process ('fatal',
as JAX's LOG(FATAL)). Off ('allow', the default) it costs nothing: Array gets its __del__
only while some level other than 'allow' is set, and gc.callbacks tells __del__ whether the
collector is running."""

from __future__ import annotations

import gc
import logging
import os
import sys
import traceback

from plax._src.config import config

OPTION = "array_garbage_collection_guard"
MESSAGE = ("`plax.Array` was deleted by the Python garbage collector instead of reference "
           "counting. Break the reference cycle that delays the deletion of this `plax.Array` "
           "to avoid hogging memory. Traceback: \n")
logger = logging.getLogger("plax.array")
_collecting = [False]


def _gc_phase(phase: str, info: dict) -> None:
    _collecting[0] = phase == "start"


def _array_del(self) -> None:
    if not _collecting[0]:  # freed by reference counting
        return
    level = config.array_garbage_collection_guard
    if level == "allow":
        return
    msg = MESSAGE + "".join(traceback.format_stack()[:-1])
    if level == "fatal":
        sys.stderr.write("F plax: " + msg)
        sys.stderr.flush()
        os.abort()
    logger.error(msg)


def sync(name: str | None = None) -> None:
    """Installs the guard while a level other than 'allow' is set (in any thread), removes it
    when none is."""
    if name is not None and name != OPTION:
        return
    from plax._src.array import Array
    on = config.array_garbage_collection_guard != "allow" or bool(
        config._active_overrides.get(OPTION))
    if on and Array.__dict__.get("__del__") is not _array_del:
        Array.__del__ = _array_del
        if _gc_phase not in gc.callbacks:
            gc.callbacks.append(_gc_phase)
    elif not on and "__del__" in Array.__dict__:
        del Array.__del__
        if _gc_phase in gc.callbacks:
            gc.callbacks.remove(_gc_phase)
        _collecting[0] = False
