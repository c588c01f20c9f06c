"""Tracing Python functions to jaxprs: the dynamic jaxpr trace behind make_jaxpr and jit.

Every bind under a `JaxprTrace` appends an equation. Values that are not this trace's tracers
become constants: scalars are inlined as Literals, other arrays become constvars, and tracers of
enclosing (still active) traces become constvars too, so closures are converted into inputs.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from plax._src import dtypes, state
from plax._src.core import (
    ClosedJaxpr, Jaxpr, JaxprEqn, Literal, PlaxTypeError, ShapedArray, Trace, Tracer,
    UnexpectedTracerError, Var, _ctx, abstract_eval, abstract_token, get_aval,
    set_current_trace)


class JaxprTracer(Tracer):
    __slots__ = ("_aval", "_var")

    def __init__(self, trace: "JaxprTrace", aval: ShapedArray, var: Var):
        self._trace, self._aval, self._var = trace, aval, var

    @property
    def aval(self):
        return self._aval


_LITERAL_TYPES = (bool, int, float, complex, np.generic)


class JaxprTrace(Trace):
    __slots__ = ("eqns", "invars", "constvars", "consts", "_const_ids", "_valid", "name")

    def __init__(self, name: str = "make_jaxpr"):
        self.eqns: list[JaxprEqn] = []
        self.invars: list[Var] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, Var] = {}
        self._valid = True
        self.name = name

    @property
    def is_valid(self):
        return self._valid

    def invalidate(self):
        self._valid = False

    def new_arg(self, aval: ShapedArray) -> JaxprTracer:
        v = Var(aval)
        self.invars.append(v)
        return JaxprTracer(self, aval, v)

    def atom(self, x: Any):
        """The Var or Literal standing for `x` inside this trace."""
        if isinstance(x, JaxprTracer) and x._trace is self:
            return x._var
        if isinstance(x, Tracer):
            if not x._trace.is_valid:
                raise UnexpectedTracerError(
                    f"an escaped tracer {x.aval.str_short()} from a finished "
                    f"{type(x._trace).__name__} was used while tracing {self.name}")
            return self._constvar(x)
        aval = get_aval(x)
        if aval is abstract_token:  # a concrete Token closed over: a constvar `Tok`
            return self._constvar(x)
        if not aval.shape and (type(x) in (bool, int, float, complex)
                               or isinstance(x, np.generic)
                               or (isinstance(x, np.ndarray))):
            return Literal(np.asarray(x, dtype=aval.dtype)[()], aval)
        if not aval.shape and getattr(x, "_buf", None) is not None:  # a concrete 0-d Array
            return Literal(np.asarray(x)[()], aval)
        return self._constvar(x)

    def _constvar(self, x: Any) -> Var:
        v = self._const_ids.get(id(x))
        if v is None:
            v = Var(get_aval(x))
            self._const_ids[id(x)] = v
            self.constvars.append(v)
            self.consts.append(x)
        return v

    def process_primitive(self, prim, args, params):
        atoms = [self.atom(a) for a in args]
        avals = [a.aval for a in atoms]
        out = abstract_eval(prim, avals, params)
        if prim.multiple_results:
            outvars = [Var(a) for a in out]
            self.eqns.append(JaxprEqn(atoms, outvars, prim, params, _ctx.name_stack))
            return [JaxprTracer(self, v.aval, v) for v in outvars]
        v = Var(out)
        self.eqns.append(JaxprEqn(atoms, [v], prim, params, _ctx.name_stack))
        return JaxprTracer(self, out, v)

    def to_jaxpr(self, outs: Sequence[Any]) -> tuple[Jaxpr, list[Any]]:
        outvars = [self.atom(x) for x in outs]
        jaxpr = Jaxpr(self.constvars, self.invars, outvars, self.eqns)
        return jaxpr, list(self.consts)


def trace_to_jaxpr(fun: Callable, in_avals: Sequence[ShapedArray], name: str = "make_jaxpr",
                   *, refs: bool = False):
    """Trace `fun` (flat arguments -> flat list of outputs) on abstract inputs.

    Returns (jaxpr, consts, outs) where `outs` is what fun returned (its tracers). With
    `refs=True` the trace takes the Refs (plax.new_ref) that `fun` uses without making them:
    each becomes a trailing input of the jaxpr and its last value a trailing output, and the
    result is (jaxpr, consts, outs, refs) with those Refs in order (plax._src.state)."""
    trace = JaxprTrace(name)
    args = [trace.new_arg(a) for a in in_avals]
    # equation names are relative to the jaxpr traced here (a jit's call equation carries the
    # caller's scope; its body starts afresh), as JAX's name stacks
    outer_names, _ctx.name_stack = _ctx.name_stack, ""
    frame = state.push_frame(trace, refs, name)
    try:
        with set_current_trace(trace):
            outs = fun(*args)
        outs = list(outs)
        for i, o in enumerate(outs):
            if not (isinstance(o, Tracer) or getattr(o, "aval", None) is not None
                    or isinstance(o, (np.ndarray,) + _LITERAL_TYPES)) or state.is_ref(o):
                if state.is_ref(o):
                    raise state.RefError(
                        f"output {i} of {name} is a mutable array reference of type {o.aval}, "
                        "but mutable array references cannot be returned")
                raise PlaxTypeError(
                    f"output {i} of {name} is a {type(o).__name__} ({o!r:.100}), which is not a "
                    "valid plax type; functions must return arrays or pytrees of arrays")
        lifted = state.pop_frame(frame)
        frame = None
        outs += [v for _, v in lifted]
        jaxpr, consts = trace.to_jaxpr(outs)
    finally:
        if frame is not None:
            state.pop_frame(frame)
        _ctx.name_stack = outer_names
        trace.invalidate()
    if refs:
        return jaxpr, consts, outs, [r for r, _ in lifted]
    return jaxpr, consts, outs


def close_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any]) -> ClosedJaxpr:
    return ClosedJaxpr(jaxpr, consts)


def convert_constvars_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """The same jaxpr with its constvars moved to the front of its invars."""
    return Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars, jaxpr.eqns)


def shaped_abstractify(x: Any) -> ShapedArray:
    """The aval a traced argument gets: an Array's aval, or a Python/NumPy value's."""
    aval = get_aval(x)
    return aval


def weak_scalar_aval(x: Any) -> ShapedArray:
    return ShapedArray((), dtypes.scalar_dtype(x), type(x) is not bool)
