"""Defining a primitive in one call: `plax.extend.define_primitive(name, abstract_eval, impl=...,
jvp=..., ...)` makes the Primitive and registers everything given (for the plugin being loaded:
call it at import of the plugin module or inside its `plax_register` hook).

Two shortcuts: an `elementwise` primitive without a batch rule gets the elementwise one (batch
axes moved to the front, unbatched operands broadcast); a `composition` (a plax function of the
operands, params as keyword arguments) gives the abstract evaluation, the implementation on
every backend (the registry's "composition" table, which backends fall back to) and the jvp,
transpose and batch rules, by tracing or transforming that function.
"""

from __future__ import annotations

from typing import Callable

from plax._src import registry
from plax._src.ad_util import instantiate, is_undefined, zeros_like_aval
from plax._src.batching_util import bdim_at_front
from plax._src.composition import Composition
from plax._src.core import Primitive, get_aval


def elementwise_batch_rule(prim: Primitive) -> Callable:
    """The batch rule of an elementwise primitive (operands of one shape): every batch axis
    moved to the front, unbatched operands broadcast to the batch, the result batched at 0."""
    def rule(vals, dims, **params):
        size = next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
        vals = [bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
        out = prim.bind(*vals, **params)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return rule


def _api(name: str):
    fn = registry.get_api(name)
    if fn is None:
        raise RuntimeError(f"this rule needs plax.{name}, which the plax-transforms plugin "
                           "provides: pip install plax-transforms")
    return fn


def _composition_rules(prim: Primitive, comp: Composition):
    fun, multi = comp.fun, comp.multiple_results

    def abstract(*avals, **params):
        out = comp.jaxpr(avals, params).out_avals
        return list(out) if multi else out[0]

    def jvp(primals, tangents, **params):
        f = lambda *xs: fun(*xs, **params)  # noqa: E731
        return _api("jvp")(f, tuple(primals), tuple(instantiate(t) for t in tangents))

    def transpose(ct, *args, **params):
        lin = [is_undefined(a) for a in args]

        def f(*xs):
            it = iter(xs)
            return fun(*[next(it) if u else a for a, u in zip(args, lin)], **params)

        zeros = [zeros_like_aval(a.aval) for a, u in zip(args, lin) if u]
        _, pullback = _api("vjp")(f, *zeros)
        cts = iter(pullback([instantiate(c) for c in ct] if multi else instantiate(ct)))
        return [next(cts) if u else None for u in lin]

    def batch(vals, dims, **params):
        f = lambda *xs: fun(*xs, **params)  # noqa: E731
        out = _api("vmap")(f, in_axes=tuple(dims))(*vals)
        return out, ([0] * len(out) if multi else 0)

    return abstract, jvp, transpose, batch


def define_primitive(name: str, abstract_eval: Callable | None = None, *,
                     impl: Callable | None = None, impls: dict | None = None,
                     lowerings: dict | None = None, jvp: Callable | None = None,
                     transpose: Callable | None = None, batch: Callable | None = None,
                     partial_eval: Callable | None = None,
                     composition: Callable | None = None, multiple_results: bool = False,
                     elementwise: bool = False, reduction: bool = False,
                     linear_in: tuple[int, ...] = (), effectful: bool = False) -> Primitive:
    """Define primitive `name` (name it '<plugin>.<op>') and register what is given.

    abstract_eval(*avals, **params) -> ShapedArray (a list with multiple_results); `impl` is the
    reference (NumPy) implementation, `impls` / `lowerings` map other backend names to their
    rules; jvp, transpose, batch and partial_eval are the rules of those tables (see
    plax.extend.registry). `composition`: a plax function the primitive computes, giving every
    rule not given. Returns the Primitive (bind it: `prim.bind(x, **params)`)."""
    prim = Primitive(name, multiple_results=multiple_results, elementwise=elementwise,
                     reduction=reduction, linear_in=linear_in, effectful=effectful)
    impls = dict(impls or {})
    if impl is not None:
        impls["reference"] = impl
    if composition is not None:
        comp = composition if isinstance(composition, Composition) else \
            Composition(composition, multiple_results)
        c_abstract, c_jvp, c_transpose, c_batch = _composition_rules(prim, comp)
        abstract_eval = abstract_eval or c_abstract
        registry.add_composition(prim, comp)
        jvp = jvp or c_jvp
        batch = batch or c_batch
        if linear_in:
            transpose = transpose or c_transpose
    if abstract_eval is None:
        raise TypeError(f"define_primitive('{name}'): give abstract_eval or composition")
    if batch is None and elementwise:
        batch = elementwise_batch_rule(prim)
    registry.add_abstract_eval(prim, abstract_eval)
    for backend, rule in impls.items():
        registry.add_impl(backend, prim, rule)
    for backend, rule in (lowerings or {}).items():
        registry.add_lowering(backend, prim, rule)
    for add, rule in ((registry.add_jvp, jvp), (registry.add_transpose, transpose),
                      (registry.add_batch, batch), (registry.add_partial_eval, partial_eval)):
        if rule is not None:
            add(prim, rule)
    return prim
