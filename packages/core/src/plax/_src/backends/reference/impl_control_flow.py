"""NumPy execution of cond, while and scan: their jaxprs run as cached reference plans."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from plax._src.lax import control_flow as cf

# Eager control flow traces a new jaxpr per call, so the cache is bounded (least recently used
# out first) rather than growing with every call of an eager loop.
_MAX_PLANS = 512
_plans: OrderedDict = OrderedDict()


def plan(closed):
    """The reference executable of a const-free ClosedJaxpr, compiled once per jaxpr."""
    key = id(closed)
    entry = _plans.get(key)
    if entry is None or entry[0] is not closed:
        from plax._src.backends.reference.backend import PlanExecutable
        from plax._src.registry import get_backend
        entry = _plans[key] = (closed, PlanExecutable(get_backend("reference"), closed))
        if len(_plans) > _MAX_PLANS:
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(key)
    return entry[1]


def _cond(index, *args, branches):
    # the index is clamped by switch already; clip anyway, as XLA's conditional does
    i = int(np.clip(index, 0, len(branches) - 1))
    return plan(branches[i])(list(args))


def _while(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc = list(args[:cond_nconsts])
    bc = list(args[cond_nconsts:cond_nconsts + body_nconsts])
    carry = list(args[cond_nconsts + body_nconsts:])
    cond, body = plan(cond_jaxpr), plan(body_jaxpr)
    while bool(cond(cc + carry)[0]):
        carry = body(bc + carry)
    return carry


def _scan(*args, jaxpr, length, reverse, unroll, num_consts, num_carry, **_):
    consts = list(args[:num_consts])
    carry = list(args[num_consts:num_consts + num_carry])
    xs = args[num_consts + num_carry:]
    body = plan(jaxpr)
    y_avals = jaxpr.out_avals[num_carry:]
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    for step in range(length):
        i = length - 1 - step if reverse else step
        out = body(consts + carry + [x[i] for x in xs])
        carry = out[:num_carry]
        for y, o in zip(ys, out[num_carry:]):
            y[i] = o
    return carry + ys


IMPLS = {cf.cond_p: _cond, cf.while_p: _while, cf.scan_p: _scan}
