"""plax.scipy.sparse (as jax.scipy.sparse): `linalg`, the Krylov solvers cg, gmres and
bicgstab for linear operators given as matrices or functions. It loads on first use."""

import importlib as _importlib

_SUBMODULES = {"linalg"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        mod = _importlib.import_module(f"plax.scipy.sparse.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'plax.scipy.sparse' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
