"""The hooks a plax plugin implements: the plugin author's documentation.

A plugin is a module named by an entry point in the group ``plax.plugins`` of an installed
distribution::

    # pyproject.toml of the distribution "plax-myext"
    [project.entry-points."plax.plugins"]
    myext = "plax_myext.plugin"

The module defines hook implementations marked with ``plax.extend.hookimpl``::

    from plax.extend import hookimpl

    @hookimpl
    def plax_register(registry):
        registry.add_abstract_eval(softplus_p, _softplus_abstract)
        registry.add_impl("reference", softplus_p, _softplus_numpy)
        registry.add_jvp(softplus_p, _softplus_jvp)

Plugins are loaded lazily, the first time plax needs a backend, a transform or a rule it does not
have yet, each at most once. The built-in reference backend and the plax-transforms package
register through exactly this path. A plugin whose import or registration fails is skipped with
a warning naming its distribution and the cause; what it registered before failing is removed.
Registering a rule that another plugin already registered raises ``plax.extend.RegistrationError``
naming both plugins (the later plugin's registrations are removed). ``PLAX_PLUGINS=a,b`` loads only
the named third-party plugins; ``PLAX_DISABLE_PLUGINS=a,b`` never loads the named ones.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("plax")
hookimpl = pluggy.HookimplMarker("plax")


@hookspec
def plax_register(registry):
    """Register primitives' rules, backends and transforms.

    ``registry`` is the ``plax.extend.registry`` module: call its ``add_*`` and ``register_*``
    functions (``add_abstract_eval``, ``add_impl``, ``add_jvp``, ``add_transpose``,
    ``add_batch``, ``add_lowering``, ``register_backend``, ``register_api``). Return nothing.
    """
