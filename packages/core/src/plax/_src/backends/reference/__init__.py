"""The NumPy reference backend, registered as the plugin 'reference' through the same
``plax.plugins`` entry point as any third-party backend. Always installed; the oracle every other
backend is tested against."""

from __future__ import annotations

from plax.hookspecs import hookimpl


@hookimpl
def plax_register(registry):
    from plax._src.backends.reference import impls
    from plax._src.backends.reference.backend import ReferenceBackend

    for prim, rule in impls.all_impls().items():
        registry.add_impl("reference", prim, rule)
    registry.register_backend("reference", ReferenceBackend, priority=0)
