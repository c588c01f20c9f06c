"""Registration functions for plugins (the object passed to the `plax_register` hook)."""

from plax._src.registry import (
    BackendUnavailableError, RegistrationError, add_abstract_eval, add_batch, add_impl,
    add_jvp, add_lowering, add_rule, add_transpose, backend_names, get_backend, impl_table,
    lowering_table, on_clear_caches, owner_of, primitives, register_api, register_backend,
    register_primitive, rules)

__all__ = [
    "BackendUnavailableError", "RegistrationError", "add_abstract_eval", "add_batch",
    "add_impl", "add_jvp", "add_lowering", "add_rule", "add_transpose", "backend_names",
    "get_backend", "impl_table", "lowering_table", "on_clear_caches", "owner_of", "primitives",
    "register_api", "register_backend", "register_primitive", "rules",
]
