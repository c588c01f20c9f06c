"""The library table: LIBRARY[primitive name] = rule(*xp_arrays, **params), one for every core
primitive that is not control flow or a call (those live in `control.py`), collected from the
`lib_*` modules. Everything runs through it before and without fusion: eagerly, and for every
eqn of a compiled program that the planner leaves as a LibraryStep."""

from __future__ import annotations

import importlib

_MODULES = ("lib_elementwise", "lib_structural", "lib_gather", "lib_reductions", "lib_sorting",
            "lib_linalg")


def _collect() -> dict:
    table: dict = {}
    for name in _MODULES:
        module = importlib.import_module(f"plax_cupy.{name}")
        for prim, rule in module.LIBRARY.items():
            if prim in table:
                raise RuntimeError(f"plax_cupy: two library rules for '{prim}'")
            table[prim] = rule
    return table


LIBRARY = _collect()
