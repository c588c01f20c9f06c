"""The one execution module: placement (which backend runs a call), buffers (moving values
there), launching (with the deleted-buffer check), wrapping results as Arrays (with the NaN
check) and donation, for eager dispatch (`apply_primitive`) and jit's compiled executables alike.
jit is trace + cache key + `load` / `execute` from here.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, Sequence

import numpy as np

from plax._src import dtypes, registry
from plax._src.array import Array, DeletedBuffer, check_not_deleted
from plax._src.config import config
from plax._src.core import (
    PlaxTypeError, ShapedArray, Token, Tracer, abstract_eval, abstract_token, get_aval)
from plax._src.errors import UnexpectedTracerError
from plax._src.registry import default_backends as _default_backends

# (backend, primitive, input avals, params) -> (output aval(s), the backend's runner)
_eager_cache: dict = {}
# primitive -> [backend, input avals, params items, output aval(s), runner] of its last run
_last_eager: dict = {}
_EAGER_CACHE_LIMIT = 8192  # (runners can hold compiled programs)


def _forget_eager(name: str) -> None:
    if name == "allow_f16_reductions":  # an option abstract evaluation reads
        _eager_cache.clear()
        _last_eager.clear()


config.on_change(_forget_eager)


# ---------------------------------------------------------------------------------------------
# Placement and buffers


def committed_backend(args: Sequence[Any]):
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


_committed_backend = committed_backend  # the name it had


def pick_backend(args: Sequence[Any], name: str | None = None):
    """(backend, committed): where a call on `args` runs, and whether its results are committed
    to it. A requested backend (`jit(f, backend=...)`) wins, then the backend of committed
    arguments (placement is sticky, as in JAX), then the default backend (uncommitted)."""
    committed = committed_backend(args)
    if name is not None:
        return registry.get_backend(name), True
    if committed is not None:
        return committed, True
    return registry.get_backend(), False


def _pick_backend(args: Sequence[Any]):
    return pick_backend(args)[0]


_transfer_logger = logging.getLogger("plax.transfer")


def guard_transfer(direction: str, aval: ShapedArray, dst, explicit: bool = False) -> None:
    """The transfer guard (`with plax.transfer_guard("disallow"):`, as JAX's) on one transfer
    of `aval` in `direction` (host_to_device, device_to_host, device_to_device) to `dst`:
    'log'/'disallow' act on implicit transfers, 'log_explicit'/'disallow_explicit' on all."""
    if not config.any_transfer_guard:  # the common case: one derived flag
        return
    level = config.value("transfer_guard_" + direction)
    if level == "allow" or explicit and not level.endswith("_explicit"):
        return
    what = (f"{'explicit ' if explicit else ''}{direction.replace('_', '-')} transfer: "
            f"aval={aval.str_short()}, dst={dst}")
    if level.startswith("log"):
        _transfer_logger.warning(what)
    else:
        raise RuntimeError(f"Disallowed {what} (transfer_guard_{direction}={level!r})")


def to_buffer(x: Any, backend, aval: ShapedArray | None = None,
              explicit: bool = False) -> tuple[Any, ShapedArray]:
    """A value of any accepted kind as a (buffer on `backend`, aval) pair; a known `aval` of a
    host value skips recomputing it. Moves are implicit transfers (the transfer guard's)
    unless `explicit` (device_put)."""
    if type(x) is Array:
        if x._backend is backend:
            return x._buf, x.aval
        check_not_deleted([x])
        guard_transfer("device_to_device", x.aval, backend.name, explicit)
        return backend.put(np.asarray(x._backend.to_numpy(x._buf))), x.aval
    if type(x) is Token:  # a unit value: no data to move; the backend's runner takes None
        return None, abstract_token
    if aval is None:
        aval = get_aval(x)  # raises PlaxTypeError for invalid values
        if isinstance(x, Array):  # a subclass
            return to_buffer(Array(x._buf, x.aval, x._backend, x._committed), backend,
                             explicit=explicit)
    guard_transfer("host_to_device", aval, backend.name, explicit)
    return backend.put(np.asarray(x, dtype=aval.dtype)), aval


def buffers(values: Sequence[Any], backend, avals: Sequence[Any] | None = None) -> list:
    """Each value's buffer on `backend` (Arrays already there are not touched)."""
    if avals is None:
        return [x._buf if type(x) is Array and x._backend is backend
                else to_buffer(x, backend)[0] for x in values]
    return [x._buf if type(x) is Array and x._backend is backend
            else to_buffer(x, backend, a)[0] for x, a in zip(values, avals)]


# ---------------------------------------------------------------------------------------------
# Launching and wrapping


def launch(run, bufs: list, *holders: Sequence[Any]):
    """`run(bufs)`; if the backend rejects them, the plax error for a deleted (donated) Array
    among `holders` (the values the buffers came from) instead of the backend's own."""
    try:
        return run(bufs)
    except Exception:
        for h in holders:
            check_not_deleted(h)
        raise


def wrap(bufs: Sequence[Any], avals: Sequence[ShapedArray], backend, committed: bool,
         what) -> list[Array]:
    """Output buffers as Arrays; with debug_nans (debug_infs) on, a FloatingPointError naming
    `what` (a primitive or a name) if one holds a NaN (an inf)."""
    res = [Array(b, a, backend, committed) for b, a in zip(bufs, avals)]
    if config.debug_nans or config.debug_infs:
        for r in res:
            _check_nans(what, r)
    return res


def wrap_one(buf: Any, aval: ShapedArray, backend, committed: bool, what) -> Array:
    res = Array(buf, aval, backend, committed)
    if config.debug_nans or config.debug_infs:
        _check_nans(what, res)
    return res


def _check_nans(what, x: Array) -> None:
    if x.aval is abstract_token or not dtypes.is_inexact(x.aval.dtype):
        return
    v = np.asarray(x._value())
    for on, kind, test in ((config.debug_nans, "nan", np.isnan),
                           (config.debug_infs, "inf", np.isinf)):
        if on and test(v).any():
            name = getattr(what, "name", what)
            raise FloatingPointError(f"invalid value ({kind}) encountered in '{name}' "
                                     f"(output {x.aval.str_short()}; debug_{kind}s is on)")


def donate(values: Sequence[Any], positions: Sequence[int], backend, reason: str) -> None:
    """Mark the Arrays at `positions` of `values` deleted: an executable took their buffers."""
    for i in positions:
        x = values[i]
        if type(x) is Array and x._backend is backend:
            x._buf = DeletedBuffer(reason)


# ---------------------------------------------------------------------------------------------
# Compiled executables


class Loaded(NamedTuple):
    """An executable made ready to run on its backend: its hot-path runner, the argument
    positions (after the consts) it takes over, the consts as that backend's buffers, and the
    runner's `launch` (see Executable.runner) where it names a well-formed one, else None."""
    backend: Any
    run: Any
    donated: tuple
    const_bufs: list
    launch: Any = None


def _launch(run):
    launch = getattr(run, "launch", None)
    if type(launch) is tuple and len(launch) == 3 and type(launch[1]) is str and \
            callable(launch[0]):
        return launch
    return None


def load(backend, exe, consts: Sequence[Any] = ()) -> Loaded:
    """`exe` (compiled on `backend` for inputs consts + arguments) ready for `execute`."""
    n = len(consts)
    run = exe.runner
    return Loaded(backend, run, tuple(i - n for i in exe.donated if i >= n),
                  buffers(consts, backend), _launch(run))


def execute(loaded: Loaded, consts: Sequence[Any], args: Sequence[Any], out_avals,
            committed: bool, what, avals: Sequence[Any] | None = None,
            donated_to: str = "a compiled program") -> list[Array]:
    """Run a loaded executable on `args` (Arrays or host values; `avals`, if known, skip
    recomputing those of host values): buffers, launch, donation, Arrays."""
    backend = loaded.backend
    bufs = list(loaded.const_bufs) if consts else []
    bufs += buffers(args, backend, avals)
    outs = launch(loaded.run, bufs, consts, args)
    if loaded.donated:
        donate(args, loaded.donated, backend,
               f"it was donated to {donated_to} (donate_argnums/donate_argnames), whose output "
               "now owns its memory; use that output instead")
    return wrap(outs, out_avals, backend, committed, what)


def check_outputs(prim, backend, bufs, avals) -> None:
    """With the `checks` option: each result buffer against the abstract evaluation."""
    from plax._src import registry as reg
    if len(bufs) != len(avals):
        raise RuntimeError(f"the {backend.name} implementation of '{prim.name}' (plugin "
                           f"{reg.owner_of(f'impl[{backend.name}]', prim)}) returned "
                           f"{len(bufs)} results; the abstract evaluation says {len(avals)}")
    for i, (b, a) in enumerate(zip(bufs, avals)):
        if a is abstract_token:
            continue
        got = backend.buffer_shape_dtype(b)
        if got is not None and (tuple(got[0]) != a.shape or got[1] != a.dtype):
            owner = reg.owner_of(f"impl[{backend.name}]", prim)
            raise RuntimeError(
                f"the {backend.name} implementation of '{prim.name}' (plugin '{owner}') "
                f"returned {np.dtype(got[1]).name}{list(got[0])} for output {i}; its abstract "
                f"evaluation says {a.str_short()} (the `checks` option is on)")


def clear_caches() -> None:
    """Forget the eager per-primitive runners."""
    _eager_cache.clear()
    _last_eager.clear()


# ---------------------------------------------------------------------------------------------
# Eager dispatch


def apply_primitive(prim, args: Sequence[Any], params: dict):
    """Run `prim` on concrete `args` on the backend placement picks; Arrays out."""
    return eval_primitive(None, prim, args, params)


def eval_primitive(trace, prim, args: Sequence[Any], params: dict):
    """`EvalTrace.process_primitive` (core installs it on first use: one frame per eager op
    fewer): `apply_primitive`, written out flat for the hot path. Tracers of a finished
    transformation among `args` are an UnexpectedTracerError."""
    checks = config.any_checks  # checks, check_rules or debug_nans: one read per op for all
    if checks and config.no_execution:
        raise RuntimeError(f"plax tried to execute {prim.name} eagerly, but the no_execution "
                           "config option is set")
    if checks and config.checks:
        from plax._src import eager_checks
        done = eager_checks.check(prim, args, params)
        if done is not None:  # a program (jit, control flow) it ran checkified: its outputs
            return done
    # the common case in one pass: Arrays of one backend, committed or on the default one
    bufs, avals = [], []
    backend, committed = None, False
    for a in args:
        if type(a) is not Array or a._backend is not backend and backend is not None:
            backend = None
            break
        backend = a._backend
        if a._committed:
            committed = True
        bufs.append(a._buf)
        avals.append(a.aval)
    if backend is not None and not committed:
        name = config.backend
        default = _default_backends.get(name)  # registry.get_backend(name), inlined
        if backend is not (default if default is not None else registry.get_backend(name)):
            backend = None  # uncommitted Arrays elsewhere: they move to the default backend
    placed = backend is None  # (only calls placed here can take or make tokens)
    if placed:
        backend, committed, bufs, avals = _place(prim, args)
    avals = tuple(avals)
    items = tuple(params.items()) if params else ()
    # the last hit of each primitive first: a chain of eager ops passes the aval objects of
    # earlier results, so this compares by identity without hashing
    last = _last_eager.get(prim)
    if last is not None and last[0] is backend and last[1] == avals and last[2] == items:
        out_aval, run = last[3], last[4]
        last[1] = avals  # equal, maybe not the same objects: the next call compares by identity
    else:
        try:
            key = (backend, prim, avals, items)
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
        if key is not None:
            # a list: a hit swaps in its own (equal) avals, so threads never see a mismatch
            _last_eager[prim] = [backend, avals, items, out_aval, run]
    try:
        out = run(bufs)
    except Exception:
        check_not_deleted(args)  # the plax error for a donated or deleted Array
        raise
    if placed and (out_aval is abstract_token or prim.multiple_results
                   and any(a is abstract_token for a in out_aval)):
        return tokens_out(out if prim.multiple_results else [out],
                          out_aval if prim.multiple_results else [out_aval],
                          backend, committed, prim.multiple_results)
    if checks:  # results against the abstract evaluation, then for NaNs
        multi = prim.multiple_results
        if config.checks or config.check_rules:
            check_outputs(prim, backend, out if multi else [out],
                          out_aval if multi else [out_aval])
        if config.debug_nans or config.debug_infs:
            return wrap(out, out_aval, backend, committed, prim) if multi else \
                wrap_one(out, out_aval, backend, committed, prim)
    if prim.multiple_results:
        return [Array(b, a, backend, committed) for b, a in zip(out, out_aval)]
    return Array(out, out_aval, backend, committed)


def tokens_out(bufs, avals, backend, committed: bool, multiple: bool = True):
    """Results of a run some of which are tokens: a Token for each (whatever buffer the
    backend gave for it), an Array for the others."""
    res = [Token() if a is abstract_token else Array(b, a, backend, committed)
           for b, a in zip(bufs, avals)]
    return res if multiple else res[0]


def _place(prim, args: Sequence[Any]) -> tuple[Any, bool, list, list]:
    """(backend, committed, buffers, avals) of eager `args` in general: the committed Arrays'
    backend, else the default one; other values (host values, Arrays elsewhere) moved there."""
    backend = None
    for a in args:
        if type(a) is Array and a._committed:
            if backend is None:
                backend = a._backend
            elif a._backend is not backend:
                committed_backend(args)  # raises, naming both
    committed = backend is not None
    if backend is None:
        backend = registry.get_backend()
    bufs, avals = [], []
    for a in args:
        if type(a) is Array and a._backend is backend:
            bufs.append(a._buf)
            avals.append(a.aval)
        else:
            if isinstance(a, Tracer):
                raise _escaped_tracer(prim, a)
            b, av = to_buffer(a, backend)
            bufs.append(b)
            avals.append(av)
    return backend, committed, bufs, avals


def _escaped_tracer(prim, a) -> UnexpectedTracerError:
    return UnexpectedTracerError(
        f"an escaped tracer ({a.aval.str_short()}, from a {type(a._trace).__name__} that has "
        f"finished) was passed to '{prim.name}' outside of its transformation. A traced value "
        "was probably stored in a global or a closure and used after the transformed function "
        "returned.")


def make_array(value: np.ndarray, aval: ShapedArray, backend=None, device=None,
               committed: bool = False) -> Array:
    backend = backend or registry.get_backend()
    guard_transfer("host_to_device", aval, backend.name)
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
