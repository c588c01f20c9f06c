"""The library table: LIBRARY[primitive name] = rule(*xp_arrays, **params), one for every core
primitive that is not control flow or a call (those live in `control.py`), collected from the
`lib_*` modules, and the SHARED primitives, whose rules are the reference backend's (written
once for any array module). Everything runs through it before and without fusion: eagerly, and
for every eqn of a compiled program that the planner leaves as a LibraryStep."""

from __future__ import annotations

import importlib

from plax_cupy import xp as X

_MODULES = ("lib_elementwise", "lib_structural", "lib_reductions", "lib_sorting", "lib_linalg",
            "lib_rng")

# the reference backend's rules that compute with their operands' array module
# (plax.extend.array_module): the same code runs on NumPy (host build) and CuPy (GPU)
SHARED = frozenset({
    "gather", "scatter", "scatter-add", "scatter-sub", "scatter-mul", "scatter-min",
    "scatter-max", "sign", "round", "rsqrt", "not", "integer_pow", "population_count", "div",
    "rem", "shift_left", "shift_right_logical", "shift_right_arithmetic", "select_n", "clamp",
    "convert_element_type", "bitcast_convert_type", "complex", "nextafter"})


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


def shared_rule(prim):
    """The reference backend's rule of a SHARED primitive (public through
    plax.extend.registry), run as it is on this build's arrays."""
    from plax.extend import registry
    return registry.impl_table("reference").get(prim)


def numpy_rule(prim):
    """The NumPy library call of a primitive with no xp rule here (from the reference backend's
    table, public through plax.extend.registry): in the host build it is the library call
    itself; on the GPU its operands go to the host and the result comes back (a sync; these
    primitives are listed by `host_primitives()`). None when no NumPy rule exists either."""
    from plax.extend import registry
    ref = registry.impl_table("reference").get(prim)
    if ref is None:
        return None
    multi = prim.multiple_results

    def rule(*bufs, **params):
        with X.quiet():
            out = ref(*[X.to_host(b) for b in bufs], **params)
        if not X.on_gpu():
            return out
        return [X.asarray(o) for o in out] if multi else X.asarray(out)
    rule.__name__ = f"numpy_{prim.name}"
    rule.numpy_fallback = True
    return rule
