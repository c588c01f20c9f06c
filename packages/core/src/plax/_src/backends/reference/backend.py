"""The reference backend: NumPy arrays as buffers; compiled jaxprs run as a precomputed plan."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from plax._src import registry
from plax._src.backend import Backend, Device, Executable, UnsupportedPrimitiveError
from plax._src.backends.reference.impl_elementwise import _quiet
from plax._src.core import ClosedJaxpr, Literal, abstract_token


def _fix(out: Any, aval) -> np.ndarray:
    """NumPy sometimes returns a scalar or another dtype (float16 math, weak promotions)."""
    if type(out) is np.ndarray and out.dtype == aval.dtype:
        return out
    if aval is abstract_token:  # a token: a unit value (None)
        return None
    return np.asarray(out, dtype=aval.dtype)


def _half_float(avals) -> bool:
    """16-bit floats overflow (and ml_dtypes' NaN comparisons warn) in everyday use: their
    rules run with NumPy's floating-point warnings off, as XLA (and so JAX) gives none. Other
    dtypes skip the ~1 us an errstate costs per operation (the transcendental rules are quiet
    already)."""
    return any(a is not None and a is not abstract_token and a.dtype.kind in "fV"
               and a.dtype.itemsize == 2 for a in avals)


class _ImplsOrCompositions:
    """The reference impls, falling back to a primitive's composition (a Composition runs its
    jaxpr on NumPy buffers, as an impl)."""

    __slots__ = ("impls", "compositions")

    def __init__(self, impls, compositions):
        self.impls, self.compositions = impls, compositions

    def get(self, prim, default=None):
        rule = self.impls.get(prim)
        return rule if rule is not None else self.compositions.get(prim, default)

    def __contains__(self, prim):
        return prim in self.impls or prim in self.compositions

    def __getitem__(self, prim):
        rule = self.get(prim)
        if rule is None:
            raise KeyError(prim)
        return rule


class ReferenceBackend(Backend):
    name = "reference"
    platform = "cpu"

    def __init__(self):
        self._impl = _ImplsOrCompositions(registry.impl_table("reference"),
                                          registry.rules("composition"))
        self._devices = [Device("reference", "cpu", 0, "numpy")]

    def devices(self):
        return self._devices

    def put(self, x, device=None):
        return np.array(x, copy=True) if isinstance(x, np.ndarray) else np.asarray(x)

    def to_numpy(self, buf):
        return buf

    def supports(self, prim, params=None):
        return prim in self._impl

    def execute_primitive(self, prim, buffers, avals_in, avals_out, params):
        rule = self._impl.get(prim)
        if rule is None:
            raise UnsupportedPrimitiveError(
                f"the reference backend has no implementation of primitive '{prim.name}'")
        if _half_float(avals_in):
            rule = _quiet(rule)
        out = rule(*buffers, **params)
        if prim.multiple_results:
            return [_fix(o, a) for o, a in zip(out, avals_out)]
        return _fix(out, avals_out)

    def eager_runner(self, prim, avals_in, avals_out, params):
        rule = self._impl.get(prim)
        if rule is None or prim.multiple_results:
            return super().eager_runner(prim, avals_in, avals_out, params)
        if avals_out is abstract_token:
            return lambda buffers: None
        dtype = avals_out.dtype
        if _half_float(avals_in):
            rule = _quiet(rule)

        def run(buffers):
            out = rule(*buffers, **params)
            return out if type(out) is np.ndarray and out.dtype == dtype else \
                np.asarray(out, dtype=dtype)
        return run

    def compile(self, closed_jaxpr, *, device=None, donate_argnums=()):
        self.check_supported(closed_jaxpr)
        return PlanExecutable(self, closed_jaxpr)


class PlanExecutable(Executable):
    """A jaxpr flattened once into a list of steps over numbered slots.

    Slots hold constants and literals (filled once, in a template) and every variable; a call
    copies the template, stores the inputs and runs the steps. No jaxpr walking per call."""

    __slots__ = ("template", "in_slots", "out_slots", "steps", "jaxpr")

    def as_text(self) -> str:
        """The jaxpr this executable interprets (the reference backend compiles to nothing
        else)."""
        return str(self.jaxpr)

    def __init__(self, backend: ReferenceBackend, closed: ClosedJaxpr):
        jaxpr = closed.jaxpr
        self.jaxpr = closed
        slots: dict = {}
        template: list = []

        def slot_of(x):
            if isinstance(x, Literal):
                template.append(np.asarray(x.val, dtype=x.aval.dtype))
                return len(template) - 1
            s = slots.get(x)
            if s is None:
                s = slots[x] = len(template)
                template.append(None)
            return s

        for v, c in zip(jaxpr.constvars, closed.consts):
            template.append(np.asarray(c))
            slots[v] = len(template) - 1
        self.in_slots = [slot_of(v) for v in jaxpr.invars]
        steps = []
        impl = backend._impl
        for eqn in jaxpr.eqns:
            ins = tuple(slot_of(x) for x in eqn.invars)
            outs = tuple(slot_of(v) for v in eqn.outvars)
            avals = tuple(v.aval for v in eqn.outvars)
            rule = impl[eqn.primitive]
            if _half_float([getattr(x, "aval", None) for x in eqn.invars]):
                rule = _quiet(rule)
            steps.append((rule, ins, outs, eqn.params, avals, eqn.primitive.multiple_results))
        self.steps = steps
        self.out_slots = [slot_of(x) for x in jaxpr.outvars]
        self.template = template

    def __call__(self, buffers: Sequence[Any]) -> list:
        env = self.template.copy()
        for s, b in zip(self.in_slots, buffers):
            env[s] = b
        for rule, ins, outs, params, avals, multi in self.steps:
            out = rule(*[env[i] for i in ins], **params)
            if multi:
                for s, o, a in zip(outs, out, avals):
                    env[s] = _fix(o, a)
            else:
                env[outs[0]] = _fix(out, avals[0])
        return [env[s] for s in self.out_slots]
