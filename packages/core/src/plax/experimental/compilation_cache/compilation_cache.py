"""plax.experimental.compilation_cache.compilation_cache (as JAX's): `set_cache_dir(path)` turns
the xla backend's persistent compilation cache on in `path` (plax's `compilation_cache_dir`
option, PLAX_COMPILATION_CACHE_DIR), `reset_cache()` turns it off again (as JAX's tests use
it: back to no cache until set_cache_dir or the option sets one)."""

from __future__ import annotations

import os


def set_cache_dir(path) -> None:
    """Keep compiled executables under `path` (created on first use) and load them from there
    in later processes."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"set_cache_dir: path must be a str or os.PathLike, got "
                        f"{type(path).__name__}")
    from plax import config
    config.update("compilation_cache_dir", os.fspath(path))


def reset_cache() -> None:
    """Turn the persistent cache off (the entries on disk stay)."""
    from plax import config
    config.update("compilation_cache_dir", None)
