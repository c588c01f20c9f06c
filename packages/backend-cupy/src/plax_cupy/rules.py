"""The rule of every primitive the cupy backend runs, by name: the library (`lib_*`), control
flow and calls (`control.py`), host callbacks and ffi_call (`callbacks.py`), the collectives
(outside pmap: an unbound-axis error), and NumPy library calls for the core primitives without
an xp rule. Light to import (NumPy only): the plugin hook reads it to register the backend's
coverage."""

from __future__ import annotations

from plax_cupy.callbacks import RULES as CALLBACK_RULES
from plax_cupy.control import control_rules
from plax_cupy.library import LIBRARY, SHARED, numpy_rule, shared_rule


def _collective_error(name):
    def rule(*args, **params):
        names = params.get("axes") or (params.get("axis_name"),)
        raise NameError(f"unbound axis name: {names[0]} (in '{name}'; collectives run only "
                        "inside pmap, or vmap with axis_name set to it)")
    return rule


COLLECTIVES = ("psum", "pmax", "pmin", "all_gather", "ppermute", "axis_index", "psum_scatter",
               "all_to_all", "pbroadcast", "pcast", "ragged_all_to_all")


def rule_table(program) -> dict:
    """{primitive name: rule} of everything this backend runs through xp: the library,
    control flow and calls (through `program`), and the collectives (outside pmap an
    unbound-axis error). Other primitives fall back to `library.numpy_rule`."""
    table = dict(LIBRARY)
    table.update(control_rules(program))
    table.update(CALLBACK_RULES)
    for name in COLLECTIVES:
        table[name] = _collective_error(name)
    return table


def core_primitives() -> set:
    """Every primitive plax-core defines (plax.lax.<name>_p and plax.lax.linalg's)."""
    import plax.lax
    import plax.lax.linalg
    return {v for m in (plax.lax, plax.lax.linalg) for k, v in vars(m).items()
            if k.endswith("_p") and hasattr(v, "bind")}


def composition_rule(prim, comp, program):
    """A primitive defined as a composition of others (plax.extend.define_primitive(
    composition=...)): its jaxpr for the operands' avals, run as a program of this backend
    (planned and fused like any other; cached per signature)."""
    from plax.extend import ShapedArray
    multi = prim.multiple_results

    def rule(*bufs, **params):
        avals = [ShapedArray(tuple(b.shape), b.dtype) for b in bufs]
        out = program(comp.jaxpr(avals, params))(list(bufs))
        return out if multi else out[0]
    rule.__name__ = f"composition_{prim.name}"
    return rule


def rules_for(primitives: dict, program) -> dict:
    """{Primitive: rule} for every primitive in `primitives` ({name: Primitive}) that this
    backend runs: through xp (its own rules, or the reference's SHARED ones); as its
    composition when it was defined as one; for the core primitives left, as NumPy library
    calls. (A third party's primitive with only a reference
    impl runs eagerly through the host, but a jit that uses it fails naming it, as on xla.)"""
    from plax.extend import registry
    table = rule_table(program)
    compositions = registry.rules("composition")
    core = core_primitives()
    out = {}
    for name, prim in primitives.items():
        rule = table.get(name)
        if rule is None and name in SHARED:
            rule = shared_rule(prim)
        if rule is None and prim in compositions:
            rule = composition_rule(prim, compositions[prim], program)
        if rule is None and prim in core:
            rule = numpy_rule(prim)
        if rule is not None:
            out[prim] = rule
    return out
