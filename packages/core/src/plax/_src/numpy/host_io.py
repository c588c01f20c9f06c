"""jax.numpy's reading of host files: `fromfile` is refused as JAX refuses it (reading a file
is a side effect a traced program cannot repeat); NumPy reads, plax.numpy.asarray converts."""

from __future__ import annotations

__all__ = ["fromfile"]


def fromfile(*args, **kwargs):
    """Not supported, as in JAX: use plax.numpy.asarray(numpy.fromfile(...)) outside traced
    code."""
    raise NotImplementedError(
        "plax.numpy.fromfile() is not implemented because reading a file is a side effect, "
        "unsafe under jit and the other transformations. Use "
        "plax.numpy.asarray(numpy.fromfile(...)) instead, outside transformed functions.")
