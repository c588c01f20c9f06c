"""The registry, for plugins (the object passed to the `plax_register` hook).

Register every kind of rule one way: `add_abstract_eval`, `add_jvp`, `add_transpose`,
`add_batch`, `add_partial_eval`, `add_collective`, `add_composition` (a plax function any
backend without its own rule runs or lowers), `add_impl(backend, ...)`,
`add_lowering(backend, ...)`, or `add_rule(table, ...)` for a table a plugin names. Look them
up one way: `get_rule(table, prim)`, or `rules(table)` (a read-only live view to keep for hot
paths). Rules record the plugin that registered them (`owner_of`).
"""

from plax._src.registry import (
    add_abstract_eval, add_batch, add_collective, add_composition, add_impl, add_jvp,
    add_lowering, add_partial_eval, add_rule, add_transpose, backend_names,
    BackendUnavailableError, check_registrations, default_backends, describe_primitive,
    get_api, get_backend, get_rule, impl_table, is_default_backend, lowering_table,
    missing_rule_error,
    on_clear_caches, owner_of, PluginInfo, plugins, primitive_owner, primitives, register_api,
    register_backend, register_primitive, RegistrationError, RULE_KINDS, rules,
    started_backends)

__all__ = [
    "add_abstract_eval", "add_batch", "add_collective", "add_composition", "add_impl",
    "add_jvp", "add_lowering", "add_partial_eval", "add_rule", "add_transpose",
    "backend_names", "BackendUnavailableError", "check_registrations", "default_backends",
    "describe_primitive",
    "get_api", "get_backend", "get_rule", "impl_table", "is_default_backend", "lowering_table",
    "missing_rule_error", "on_clear_caches", "owner_of", "PluginInfo", "plugins",
    "primitive_owner", "primitives", "register_api", "register_backend", "register_primitive",
    "RegistrationError", "RULE_KINDS", "rules", "started_backends",
]
