"""Testing helpers for users and plugin authors (as jax.test_util)."""

from __future__ import annotations


def check_grads(f, args, order: int, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check derivatives of `f` at `args` against finite differences, up to `order`.
    Needs the transforms plugin (plax-transforms)."""
    from plax._src import registry
    impl = registry.get_api("check_grads")
    if impl is None:
        raise RuntimeError("check_grads needs the plax-transforms plugin: "
                           "pip install plax-transforms")
    return impl(f, args, order, modes, atol, rtol, eps)
