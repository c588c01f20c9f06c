"""plax.custom_derivatives (as jax.custom_derivatives): custom_jvp, custom_vjp, custom_gradient
and closure_convert (the same objects as plax.custom_jvp ..., from plax-transforms, loaded on
first use) and the call primitives they bind."""

from __future__ import annotations

from plax._src.lax.calls import custom_jvp_call_p, custom_vjp_call_p  # noqa: F401

_FROM_TRANSFORMS = ("custom_jvp", "custom_vjp", "custom_gradient", "closure_convert")


def __getattr__(name: str):
    if name in _FROM_TRANSFORMS:
        import plax
        obj = getattr(plax, name)
        globals()[name] = obj
        return obj
    raise AttributeError(f"module 'plax.custom_derivatives' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_FROM_TRANSFORMS))
