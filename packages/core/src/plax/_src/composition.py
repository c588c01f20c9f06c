"""Rules given as plax functions (`plax.extend.lower_fun`, like JAX's `mlir.lower_fun`): a
primitive whose implementation or lowering is a composition of existing primitives.

A `Composition` traces `fun(*args, **params)` once per (input avals, params) to a closed jaxpr.
Every backend accepts one wherever it takes a rule: registered as an impl it runs that jaxpr
(`rule(*buffers, **params)`, on the backend the buffers belong to), registered as a lowering the
backend lowers that jaxpr in place of the equation.
"""

from __future__ import annotations

from typing import Callable

from plax._src.core import ClosedJaxpr, get_aval


class Composition:
    """`fun` (a plax function of the operands, with the params as keyword arguments) as a rule."""

    __slots__ = ("fun", "multiple_results", "_cache", "__name__")

    def __init__(self, fun: Callable, multiple_results: bool = False):
        if not callable(fun):
            raise TypeError(f"lower_fun expects a callable, got {fun!r}")
        self.fun, self.multiple_results = fun, multiple_results
        self._cache: dict = {}
        self.__name__ = getattr(fun, "__name__", "composition")

    def jaxpr(self, avals_in, params: dict) -> ClosedJaxpr:
        """The const-free closed jaxpr of `fun` on inputs of `avals_in` with `params`."""
        try:
            key = (tuple(avals_in), tuple(sorted(params.items())))
            hit = self._cache.get(key)
        except TypeError:
            key = hit = None
        if hit is not None:
            return hit
        from plax._src.tracing import convert_constvars_jaxpr, trace_to_jaxpr
        fun, multi = self.fun, self.multiple_results

        def flat(*xs):
            out = fun(*xs, **params)
            return list(out) if multi else [out]

        jaxpr, consts, _ = trace_to_jaxpr(flat, list(avals_in), name=self.__name__)
        closed = ClosedJaxpr(convert_constvars_jaxpr(jaxpr), [])
        if consts:  # values the function closed over: folded into the jaxpr as constants
            closed = ClosedJaxpr(jaxpr, list(consts))
        if key is not None:
            self._cache[key] = closed
        return closed

    def __call__(self, *buffers, **params):
        """As a reference impl: the composition run on NumPy buffers by a reference plan.
        (Another backend given a Composition as an impl compiles `self.jaxpr(...)` itself.)"""
        from plax._src.backends.reference.impl_control_flow import plan
        closed = self.jaxpr([get_aval(b) for b in buffers], params)
        outs = plan(closed)(list(buffers))
        return outs if self.multiple_results else outs[0]

    def __repr__(self):
        return f"lower_fun({self.__name__})"


def lower_fun(fun: Callable, multiple_results: bool = False) -> Composition:
    """A rule (impl or lowering, for any backend) computing a primitive as the plax function
    `fun(*operands, **params)`: `registry.add_lowering("xla", p, lower_fun(f))`."""
    return Composition(fun, multiple_results)
