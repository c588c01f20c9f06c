"""The plugin hook of plax-transforms: the public API names and every rule table entry."""

from __future__ import annotations

import importlib
import pkgutil

from plax.hookspecs import hookimpl


def _rule_modules():
    import plax_transforms.rules as pkg
    for m in pkgutil.iter_modules(pkg.__path__):
        yield importlib.import_module(f"{pkg.__name__}.{m.name}")


@hookimpl
def plax_register(registry):
    from plax_transforms import (
        ad, batching, collectives, custom, custom_batching, jit, pmap, shard_map, test_util_impl)

    for mod in _rule_modules():
        for prim, rule in getattr(mod, "JVP", {}).items():
            registry.add_jvp(prim, rule)
        for prim, rule in getattr(mod, "TRANSPOSE", {}).items():
            registry.add_transpose(prim, rule)
        for prim, rule in getattr(mod, "BATCH", {}).items():
            registry.add_batch(prim, rule)
        for prim, rule in getattr(mod, "PARTIAL_EVAL", {}).items():
            registry.add_partial_eval(prim, rule)
        for prim, rule in getattr(mod, "ABSTRACT_EVAL", {}).items():
            registry.add_abstract_eval(prim, rule)
        for prim, rule in getattr(mod, "REFERENCE_IMPL", {}).items():
            registry.add_impl("reference", prim, rule)
    jit.register(registry)
    registry.on_clear_caches(jit.clear_caches)
    custom.register(registry)
    custom_batching.register(registry)
    pmap.register(registry)
    shard_map.register(registry)
    collectives.register(registry)

    api = {
        "jvp": ad.jvp, "vjp": ad.vjp, "fwd_and_bwd": ad.fwd_and_bwd, "linearize": ad.linearize,
        "grad": ad.grad,
        "value_and_grad": ad.value_and_grad, "jacfwd": ad.jacfwd, "jacrev": ad.jacrev,
        "jacobian": ad.jacrev, "hessian": ad.hessian, "linear_transpose": ad.linear_transpose,
        "vmap": batching.vmap, "jit": jit.jit, "pmap": pmap.pmap,
        "check_grads": test_util_impl.check_grads,
        "shard_map": shard_map.shard_map, "smap": shard_map.smap,
    }
    for name, obj in api.items():
        registry.register_api(name, obj)
