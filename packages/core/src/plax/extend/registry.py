"""The registry, for plugins (the object passed to the `plax_register` hook).

Register every kind of rule one way: `add_abstract_eval`, `add_jvp`, `add_transpose`,
`add_batch`, `add_partial_eval`, `add_collective`, `add_impl(backend, ...)`,
`add_lowering(backend, ...)`, or `add_rule(table, ...)` for a table a plugin names. Look them
up one way: `get_rule(table, prim)`, or `rules(table)` (a read-only live view to keep for hot
paths). Rules record the plugin that registered them (`owner_of`).
"""

from plax._src.registry import (
    RULE_KINDS, BackendUnavailableError, PluginInfo, RegistrationError, add_abstract_eval,
    add_batch, add_collective, add_impl, add_jvp, add_lowering, add_partial_eval, add_rule,
    add_transpose, backend_names, get_api, get_backend, get_rule, impl_table,
    is_default_backend, lowering_table, on_clear_caches, owner_of, plugins, primitives,
    register_api, register_backend, register_primitive, rules, started_backends)

__all__ = [
    "RULE_KINDS", "BackendUnavailableError", "PluginInfo", "RegistrationError",
    "add_abstract_eval", "add_batch", "add_collective", "add_impl", "add_jvp", "add_lowering",
    "add_partial_eval", "add_rule", "add_transpose", "backend_names", "get_api", "get_backend",
    "get_rule", "impl_table", "is_default_backend", "lowering_table", "on_clear_caches",
    "owner_of", "plugins", "primitives", "register_api", "register_backend",
    "register_primitive", "rules", "started_backends",
]
