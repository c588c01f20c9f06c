"""plax.scipy: SciPy's API with JAX's semantics (as jax.scipy). Each submodule named below
loads on first use (`plax.scipy.linalg` or `import plax.scipy.linalg`)."""

import importlib as _importlib

_SUBMODULES = (
    "linalg",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'plax.scipy' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
