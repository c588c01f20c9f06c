"""plax.export (as jax.export): serialize a staged program and call it back.

`exp = plax.export.export(plax.jit(f))(*arg_specs)` lowers `f` for arguments of those shapes
and dtypes (ShapeDtypeStructs or arrays) to StableHLO with the xla backend; `exp.serialize()`
gives bytes (plax's own versioned format; `vjp_order=n` includes n orders of the VJP) that
`plax.export.deserialize` turns back into an Exported; `exp.call(*args)` runs it eagerly,
inside jit, and under grad when its VJP is available. Shape polymorphism (`symbolic_shape`,
`symbolic_args_specs`, `SymbolicScope`) and multi-platform export are not implemented: they
raise NotImplementedError. `call_exported_p` is the primitive an `Exported.call` binds (the
backends' rules import it from here without loading the rest, which loads on first use), and
`call_exported_via_xla` runs it through the xla backend for a backend that cannot."""

from __future__ import annotations

from plax._src.export_call import call_exported_p  # noqa: F401
# for backends without a StableHLO compiler: an Exported run on the xla backend
from plax._src.export_call import call_exported_via_xla  # noqa: F401

# the names from plax._src.export, loaded on first access
_LAZY = frozenset({
    "DisabledSafetyCheck", "Exported", "export", "deserialize",
    "register_pytree_node_serialization", "register_namedtuple_serialization",
    "maximum_supported_calling_convention_version",
    "minimum_supported_calling_convention_version", "default_export_platform",
    "SymbolicScope", "is_symbolic_dim", "symbolic_shape", "symbolic_args_specs"})


def __getattr__(name: str):
    if name in _LAZY:
        from plax._src import export as _impl
        value = getattr(_impl, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'plax.export' has no attribute '{name}'")


def __dir__():
    return sorted({n for n in globals() if not n.startswith("_")} - {"annotations"} | _LAZY)
