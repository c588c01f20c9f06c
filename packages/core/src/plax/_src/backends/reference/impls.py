"""NumPy implementations of the core primitives, collected for the reference backend.

Each module of this package named `impl_*.py` defines `IMPLS = {primitive: rule}` where
rule(*numpy_arrays, **params) returns a NumPy array (a list for multiple-result primitives).
"""

from __future__ import annotations

import importlib
import pkgutil


def all_impls() -> dict:
    import plax._src.backends.reference as pkg
    table: dict = {}
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("impl_"):
            m = importlib.import_module(f"{pkg.__name__}.{mod.name}")
            for prim, rule in m.IMPLS.items():
                if prim in table:
                    raise RuntimeError(f"two reference implementations of '{prim}'")
                table[prim] = rule
    return table
