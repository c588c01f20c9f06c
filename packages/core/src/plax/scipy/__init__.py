"""plax.scipy: SciPy's numerical functions on plax arrays (as jax.scipy): traced, transformed
and run on any backend. Submodules load on first use (`plax.scipy.special` or
`import plax.scipy.special`)."""

import importlib as _importlib

_SUBMODULES = {
    "cluster",
    "fft",
    "integrate",
    "interpolate",
    "linalg",
    "ndimage",
    "optimize",
    "signal",
    "sparse",
    "special",
    "stats",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        mod = _importlib.import_module(f"plax.scipy.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'plax.scipy' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
