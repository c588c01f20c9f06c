"""Eager execution: run one primitive on concrete values on a backend, and make Arrays."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from plax._src import dtypes, registry
from plax._src.array import Array, check_not_deleted
from plax._src.config import config
from plax._src.core import PlaxTypeError, ShapedArray, abstract_eval, get_aval

# (backend, primitive, input avals, params) -> (output aval(s), the backend's runner)
_eager_cache: dict = {}
_EAGER_CACHE_LIMIT = 8192  # (runners can hold compiled programs)


def _committed_backend(args: Sequence[Any]):
    """The backend the committed Array arguments live on, or None if none is committed."""
    backend = None
    for a in args:
        if type(a) is Array and a._committed:
            if backend is not None and a._backend is not backend:
                raise ValueError(
                    f"arguments are committed to different backends ({backend.name} and "
                    f"{a._backend.name}); move them with plax.device_put first")
            backend = a._backend
    return backend


def _pick_backend(args: Sequence[Any]):
    backend = _committed_backend(args)
    return backend if backend is not None else registry.get_backend()


def to_buffer(x: Any, backend) -> tuple[Any, ShapedArray]:
    """A value of any accepted kind as a (buffer on `backend`, aval) pair."""
    if type(x) is Array:
        if x._backend is backend:
            return x._buf, x.aval
        check_not_deleted([x])
        return backend.put(np.asarray(x._backend.to_numpy(x._buf))), x.aval
    aval = get_aval(x)  # raises PlaxTypeError for invalid values
    if isinstance(x, Array):  # a subclass
        return to_buffer(Array(x._buf, x.aval, x._backend, x._committed), backend)
    return backend.put(np.asarray(x, dtype=aval.dtype)), aval


def apply_primitive(prim, args: Sequence[Any], params: dict):
    backend = _committed_backend(args)
    # as in JAX, placement is sticky: results of committed arguments are committed too
    committed = backend is not None
    if backend is None:
        backend = registry.get_backend()
    bufs, avals = [], []
    for a in args:
        if type(a) is Array and a._backend is backend:  # the common case, without a call
            bufs.append(a._buf)
            avals.append(a.aval)
        else:
            b, av = to_buffer(a, backend)
            bufs.append(b)
            avals.append(av)
    avals = tuple(avals)
    try:
        key = (backend, prim, avals, tuple(params.items()))
        hit = _eager_cache.get(key)
    except TypeError:  # unhashable params: no caching
        key = hit = None
    if hit is None:
        out_aval = abstract_eval(prim, avals, params)
        run = backend.eager_runner(prim, avals, out_aval, params)
        if key is not None:
            if len(_eager_cache) >= _EAGER_CACHE_LIMIT:
                _eager_cache.clear()
            _eager_cache[key] = out_aval, run
    else:
        out_aval, run = hit
    if config.checks:
        from plax._src import eager_checks
        eager_checks.check(prim, args, params)
    try:
        out = run(bufs)
    except Exception:
        check_not_deleted(args)  # a clear error for a donated or deleted Array
        raise
    if prim.multiple_results:
        res = [Array(o, a, backend, committed) for o, a in zip(out, out_aval)]
        if config.debug_nans:
            for r in res:
                _check_nans(prim, r)
        return res
    res = Array(out, out_aval, backend, committed)
    if config.debug_nans:
        _check_nans(prim, res)
    return res


def _check_nans(prim, x: Array) -> None:
    if dtypes.is_inexact(x.aval.dtype) and np.isnan(np.asarray(x._value())).any():
        raise FloatingPointError(f"invalid value (nan) encountered in '{prim.name}' "
                                 f"(output {x.aval.str_short()}; debug_nans is on)")


def make_array(value: np.ndarray, aval: ShapedArray, backend=None, device=None,
               committed: bool = False) -> Array:
    backend = backend or registry.get_backend()
    return Array(backend.put(value, device), aval, backend, committed)


def asarray_value(x: Any, dtype=None, weak_type: bool | None = None) -> Array:
    """A concrete Python/NumPy value as an Array on the default backend."""
    if dtype is not None:
        dt = dtypes.canonicalize_dtype(dtype)
        weak = False if weak_type is None else weak_type
    else:
        try:
            aval = get_aval(x)
        except PlaxTypeError:
            aval = get_aval(np.asarray(x))
        dt, weak = aval.dtype, aval.weak_type if weak_type is None else weak_type
    value = np.asarray(x, dtype=dt)
    return make_array(value, ShapedArray(value.shape, dt, weak))
