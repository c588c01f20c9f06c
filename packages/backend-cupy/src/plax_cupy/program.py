"""The executor: a closed jaxpr planned once into steps over numbered slots, then walked per call.

`planner.plan(jaxpr)` gives FusedGroup steps (one generated kernel each, run by
`fused.FusedRunner`) and LibraryStep steps (one eqn, run by its library or control rule). Slots
hold constants and literals (filled once, in a template) and every value; a call copies the
template, stores the inputs, runs the steps and drops each intermediate after its last use so the
memory pool can recycle it at once. No jaxpr walking per call."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from plax.extend import ClosedJaxpr, Executable, Literal, abstract_token
from plax_cupy import fused as _fused
from plax_cupy import planner as _planner
from plax_cupy import xp as X

_LIBRARY, _MULTI, _FUSED = 0, 1, 2


class _LibraryStep:
    __slots__ = ("eqn",)

    def __init__(self, eqn):
        self.eqn = eqn


def plan(jaxpr) -> list:
    """The planner's steps, or one library step per eqn with fusion off."""
    if not fusion_enabled():
        return [_LibraryStep(e) for e in jaxpr.eqns]
    return _planner.plan(jaxpr)


def fusion_enabled() -> bool:
    import plax
    return bool(plax.config.value("cupy_fusion"))


def fix(out: Any, aval):
    """Library results as xp arrays of the aval's dtype (NumPy returns scalars for 0-d math)."""
    xp = X.xp
    if type(out) is xp.ndarray and out.dtype == aval.dtype:
        return out
    if aval is abstract_token:  # a token: a unit value (None)
        return None
    return xp.asarray(out, dtype=aval.dtype)


class Program(Executable):
    """A compiled closed jaxpr of the cupy backend (its `runner`, jit's hot path, is itself)."""

    __slots__ = ("closed", "steps", "template", "in_slots", "out_slots", "donated", "groups")

    def __init__(self, backend, closed, donate_argnums: Sequence[int] = (), build: bool = True):
        jaxpr = closed.jaxpr
        self.closed = closed
        slots: dict = {}
        template: list = []

        def slot_of(x):
            if isinstance(x, Literal):
                template.append(X.asarray(np.asarray(x.val, dtype=x.aval.dtype)))
                return len(template) - 1
            s = slots.get(x)
            if s is None:
                s = slots[x] = len(template)
                template.append(None)
            return s

        for v, c in zip(jaxpr.constvars, closed.consts):
            template.append(X.asarray(np.asarray(c, dtype=v.aval.dtype)))
            slots[v] = len(template) - 1
        self.in_slots = [slot_of(v) for v in jaxpr.invars]
        steps, groups = [], []
        for step in plan(jaxpr):
            eqn = getattr(step, "eqn", None)
            if eqn is not None:
                ins = tuple(slot_of(x) for x in eqn.invars)
                outs = tuple(slot_of(v) for v in eqn.outvars)
                avals = tuple(v.aval for v in eqn.outvars)
                rule = backend.rule(eqn.primitive)
                kind = _MULTI if eqn.primitive.multiple_results else _LIBRARY
                steps.append([kind, rule, ins, outs, eqn.params, avals, (), ()])
            else:
                ins = tuple(slot_of(x) for x in step.in_vars)
                outs = tuple(slot_of(v) for v in step.out_vars)
                runner = _fused.FusedRunner(step)
                groups.append((step, runner))
                steps.append([_FUSED, runner, ins, outs, None,
                              tuple(v.aval for v in step.out_vars), (), ()])
        self.groups = groups
        if build:  # one host compile for its kernels and those of every sub-jaxpr it may run
            runners = self.runners(backend)
            if runners:
                _fused.build(runners)
        self.out_slots = [slot_of(x) for x in jaxpr.outvars]
        self.template = template
        # free each intermediate after its last use (inputs, outputs and template slots stay)
        keep = set(self.out_slots) | {i for i, t in enumerate(template) if t is not None}
        last: dict = {}
        for k, st in enumerate(steps):
            for s in st[2]:
                last[s] = k
        self.donated = tuple(sorted(set(donate_argnums)))
        reused = _donations(steps, jaxpr, self.in_slots, self.donated, keep, last)
        frees: list[list[int]] = [[] for _ in steps]
        for s, k in last.items():
            if s not in keep and s not in reused:
                frees[k].append(s)
        for st, f in zip(steps, frees):
            st[6] = tuple(f)
        self.steps = [tuple(st) for st in steps]

    def __call__(self, buffers: Sequence[Any]) -> list:
        env = self.template.copy()
        for s, b in zip(self.in_slots, buffers):
            env[s] = b
        for kind, fn, ins, outs, params, avals, frees, donated in self.steps:
            if kind == _FUSED:
                if donated:
                    res = fn([env[i] for i in ins], _given(env, len(outs), donated))
                else:
                    res = fn([env[i] for i in ins])
                for s, o in zip(outs, res):
                    env[s] = o
            elif kind == _LIBRARY:
                env[outs[0]] = fix(fn(*[env[i] for i in ins], **params), avals[0])
            else:
                res = fn(*[env[i] for i in ins], **params)
                for s, o, a in zip(outs, res, avals):
                    env[s] = fix(o, a)
            for s in frees:
                env[s] = None
        return [env[s] for s in self.out_slots]

    def as_text(self) -> str:
        """The program as it runs: each fused group with its CUDA source, each library call."""
        from plax.extend import registry
        from plax_cupy.lowering import plan_text
        return plan_text(registry.get_backend("cupy"), self.closed)

    def runners(self, backend) -> list:
        """The fused runners of this program and of its sub-programs (control flow branches
        and bodies, calls), created now through `backend.program(..., build=False)`."""
        out = [r for _, r in self.groups]
        for eqn in self.closed.jaxpr.eqns:
            for v in eqn.params.values():
                for sub in (v if isinstance(v, tuple) else (v,)):
                    if isinstance(sub, ClosedJaxpr):
                        out += backend.program(sub, build=False).runners(backend)
        return out

    def launches_per_call(self) -> int:
        """Kernels this program launches per call from fused groups (library calls aside)."""
        return len(self.groups)


def _donations(steps, jaxpr, in_slots, donated, keep, last) -> set:
    """Give each donated input's buffer to one later fused step as an output buffer (same
    shape and dtype): preferably a step after the input's last read, else the reading step
    itself (whose runner refuses a buffer that overlaps its own inputs when that is unsafe). Only
    inputs read by fused steps alone are given: a library call may have returned a view of
    the buffer that is still alive. Records `(output index, slot)` pairs in each step;
    returns the slots given away."""
    lib_read = {s for st in steps if st[0] != _FUSED for s in st[2]}
    free = []
    for i in donated:
        if i < len(in_slots):
            s = in_slots[i]
            if s not in keep and s not in lib_read and s in last and \
                    in_slots.count(s) == 1:
                free.append((s, jaxpr.invars[i].aval))
    given = set()
    # first to a step after the last read (always usable), then to the reading step itself
    for usable in (lambda last_read, k: last_read < k, lambda last_read, k: last_read == k):
        for k, st in enumerate(steps):
            if st[0] != _FUSED or not free:
                continue
            taken = {j for j, _ in st[7]}
            pairs = list(st[7])
            for j, aval in enumerate(st[5]):
                if j in taken:
                    continue
                for n, (s, a) in enumerate(free):
                    if usable(last[s], k) and a.shape == aval.shape and a.dtype == aval.dtype:
                        pairs.append((j, s))
                        given.add(s)
                        del free[n]
                        break
            st[7] = tuple(pairs)
    return given


def _given(env, n: int, donated) -> list:
    """The output buffers of a fused step: donated inputs where planned, else None."""
    out = [None] * n
    for j, s in donated:
        out[j], env[s] = env[s], None
    return out
