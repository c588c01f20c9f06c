"""plax.export (as jax.export): serialize a staged program and call it back.

`exp = plax.export.export(plax.jit(f))(*arg_specs)` lowers `f` for arguments of those shapes
and dtypes (ShapeDtypeStructs or arrays) to StableHLO with the xla backend; `exp.serialize()`
gives bytes (plax's own versioned format; `vjp_order=n` includes n orders of the VJP) that
`plax.export.deserialize` turns back into an Exported; `exp.call(*args)` runs it eagerly,
inside jit, and under grad when its VJP is available. Shape polymorphism (`symbolic_shape`,
`symbolic_args_specs`, `SymbolicScope`) and multi-platform export are not implemented: they
raise NotImplementedError. `call_exported_p` is the primitive an `Exported.call` binds."""

from __future__ import annotations

from plax._src.export import (  # noqa: F401
    DisabledSafetyCheck, Exported, SymbolicScope, call_exported_p, default_export_platform,
    deserialize, export, is_symbolic_dim, maximum_supported_calling_convention_version,
    minimum_supported_calling_convention_version, register_namedtuple_serialization,
    register_pytree_node_serialization, symbolic_args_specs, symbolic_shape)

__all__ = ["DisabledSafetyCheck", "Exported", "export", "deserialize",
           "register_pytree_node_serialization", "register_namedtuple_serialization",
           "maximum_supported_calling_convention_version",
           "minimum_supported_calling_convention_version", "default_export_platform",
           "SymbolicScope", "is_symbolic_dim", "symbolic_shape", "symbolic_args_specs",
           "call_exported_p"]
