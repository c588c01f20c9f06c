"""The eager checks of `plax.config.update("checks", True)`: before an indexing primitive or an
integer division runs eagerly, its operands are checked on the host, and a violation raises
naming the operation, the offending index, the axis and the bound (checkify's checks, eagerly).
A program handed to eager dispatch whole (a jit call, control flow) runs checkified instead
(index, division and user checks, as plax.checkify, compiled once per signature), and its first
failure raises after it.
"""

from __future__ import annotations

import numpy as np


def check(prim, args, params):
    """Raise if `prim` on `args` breaks a check; for a program, run it checkified and return
    its outputs (None otherwise: the caller runs the primitive)."""
    if prim.name in _PROGRAMS:
        return _run_checkified(prim, args, params)
    rule = _RULES.get(prim.name)
    if rule is not None:
        rule(prim.name, args, params)
    return None


_PROGRAMS = frozenset({"jit", "cond", "while", "scan"})  # what checkify looks inside
_checkified: dict = {}  # (primitive, avals, params) -> its checkified program, jitted
_CACHE_LIMIT = 256


def _run_checkified(prim, args, params):
    from plax._src import checkify as ck
    from plax._src import registry
    from plax._src.config import config
    from plax._src.core import get_aval
    try:
        key = (prim, tuple(get_aval(a) for a in args), tuple(params.items()))
        fn = _checkified.get(key)
    except TypeError:  # unhashable params
        key = fn = None
    if fn is None:
        def run(*xs):
            out = prim.bind(*xs, **params)
            return list(out) if prim.multiple_results else [out]
        errors = ck.index_checks | ck.div_checks | ck.user_checks
        fn = registry.get_api("jit")(ck.checkify(run, errors))
        if key is not None:
            if len(_checkified) >= _CACHE_LIMIT:
                _checkified.clear()
            _checkified[key] = fn
    with config.override("checks", False):  # the checkified program itself runs plainly
        err, outs = fn(*args)
    exc = err.get_exception()
    if exc is not None:
        where = f"jit({params['name']})" if prim.name == "jit" else f"'{prim.name}'"
        raise type(exc)(f"{exc} (inside {where}; plax checks are on (plax.config 'checks'), "
                        "without them the program would go on)")
    return outs if prim.multiple_results else outs[0]


def clear_caches() -> None:
    _checkified.clear()


def _host(x) -> np.ndarray:
    return np.asarray(x)


def _in_bounds(name, idx, axis: int, size: int, hi: int, shape, what: str) -> None:
    idx = _host(idx)
    bad = (idx < 0) | (idx > hi)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0]) if idx.ndim else ()
        at = f" at position {pos} of the indices" if pos else ""
        raise IndexError(
            f"{name}: {what} {int(idx[pos] if pos else idx)}{at} is out of bounds for axis "
            f"{axis} of size {size} (operand shape {tuple(shape)}; valid: 0 to {hi}); "
            "plax checks are on (plax.config 'checks'), without them the index would clamp")


def _gather(name, args, params):
    operand, indices = args
    shape, dn, sizes = np.shape(operand), params["dimension_numbers"], params["slice_sizes"]
    idx = _host(indices)
    for k, axis in enumerate(dn.start_index_map):
        _in_bounds(name, idx[..., k], axis, shape[axis], shape[axis] - sizes[axis], shape,
                   "index")


def _scatter(name, args, params):
    operand, indices, updates = args[:3]
    shape, ushape, dn = np.shape(operand), np.shape(updates), params["dimension_numbers"]
    window_axes = [d for d in range(len(shape)) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    window = dict(zip(window_axes, (ushape[d] for d in dn.update_window_dims)))
    idx = _host(indices)
    for k, axis in enumerate(dn.scatter_dims_to_operand_dims):
        _in_bounds(name, idx[..., k], axis, shape[axis], shape[axis] - window.get(axis, 1),
                   shape, "index")


def _dynamic_slice(name, args, params):
    operand, *starts = args
    shape = np.shape(operand)
    for axis, (s, size) in enumerate(zip(starts, params["slice_sizes"])):
        _in_bounds(name, s, axis, shape[axis], shape[axis] - size, shape, "start index")


def _dynamic_update_slice(name, args, params):
    operand, update, *starts = args
    shape, ushape = np.shape(operand), np.shape(update)
    for axis, s in enumerate(starts):
        _in_bounds(name, s, axis, shape[axis], shape[axis] - ushape[axis], shape,
                   "start index")


def _div(name, args, params):
    y = _host(args[1])
    if y.dtype.kind in "iu" and (y == 0).any():
        pos = tuple(int(i) for i in np.argwhere(y == 0)[0]) if y.ndim else ()
        at = f" at position {pos} of the divisor" if pos else ""
        raise ZeroDivisionError(f"{name}: integer division by zero{at} (divisor shape "
                                f"{y.shape}); plax checks are on (plax.config 'checks')")


_RULES = {"gather": _gather, "dynamic_slice": _dynamic_slice,
          "dynamic_update_slice": _dynamic_update_slice, "div": _div, "rem": _div,
          **{n: _scatter for n in ("scatter", "scatter-add", "scatter-mul", "scatter-min",
                                   "scatter-max")}}
