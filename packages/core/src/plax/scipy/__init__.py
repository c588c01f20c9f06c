"""plax.scipy: SciPy's numerical functions on plax arrays (as jax.scipy): traced, transformed
and run on any backend. Submodules load on first use (`plax.scipy.special` or
`import plax.scipy.special`)."""

from plax._src import lazy as _lazy

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


__getattr__, __dir__ = _lazy.submodules(__name__, _SUBMODULES, globals())
