"""plax.scipy.sparse (as jax.scipy.sparse): `linalg`, the Krylov solvers cg, gmres and
bicgstab for linear operators given as matrices or functions. It loads on first use."""

from plax._src import lazy as _lazy

_SUBMODULES = {"linalg"}


__getattr__, __dir__ = _lazy.submodules(__name__, _SUBMODULES, globals())
