"""plax.version (as jax.version): the installed plax's version string."""

from __future__ import annotations

from plax import __version__  # noqa: F401

_version = __version__
__version_info__ = tuple(int(p) for p in __version__.split(".")[:3])
