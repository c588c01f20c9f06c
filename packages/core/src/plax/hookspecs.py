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
have yet, each at most once. The built-in reference backend, plax-transforms and
plax-backend-xla register through exactly this path, using ``plax.extend`` alone. A plugin whose
import or registration fails is skipped with a ``PluginWarning`` naming its distribution and the
cause; what it registered before failing is removed. So is a plugin registering a rule another
plugin registered, or a primitive whose name another plugin's primitive has (name yours
``<plugin>.<op>``): the warning names both, ``python -m plax info`` shows the conflict.
``PLAX_PLUGINS=a,b`` loads only the named third-party plugins; ``PLAX_DISABLE_PLUGINS=a,b`` never
loads the named ones.

A walk through a whole plugin: ``examples/plugin-softclip`` in the plax repository.

1. Define primitives (``plax.extend.Primitive("softclip.softclip", elementwise=True)``) and the
   user functions that bind them.
2. In ``plax_register``, give each an abstract evaluation (``add_abstract_eval``: avals in,
   ShapedArray out; raise naming the bad argument), a reference implementation (``add_impl(
   "reference", ...)``: NumPy in and out), backend lowerings (``add_lowering("xla", ...)``,
   written with the builder ``plax.extend.lowering`` documents, or ``lower_fun(f)`` from a plax
   function), and the transform rules: ``add_jvp`` (tangents may be ``plax.extend.ad.Zero``),
   ``add_transpose`` for linear primitives, ``add_batch`` (``plax.extend.batching`` helps;
   ``elementwise_batch_rule`` for elementwise ones). ``plax.extend.define_primitive`` does all
   of this in one call.
3. Test with the conformance kit: ``pytest_plugins = ["plax.extend.testing"]`` in the tests'
   conftest.py, then ``check_primitive(prim, *example_args, params={...})`` in a test.
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
    ``add_batch``, ``add_partial_eval``, ``add_collective``, ``add_lowering``, ``add_rule``,
    ``register_backend``, ``register_api``, ``on_clear_caches``). Return nothing.
    """
