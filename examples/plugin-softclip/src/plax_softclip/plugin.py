"""The plugin module named by the entry point: one hook, registering every rule."""

from plax.extend import hookimpl


@hookimpl
def plax_register(registry):
    from plax_softclip import primitives
    primitives.register(registry)
    registry.register_api("softclip", primitives.softclip)
