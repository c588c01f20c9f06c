"""jit: trace once per (function, static args, input avals and tree), compile on a backend, cache.

Called with concrete arguments, a jitted function looks up its cache and runs the compiled
executable directly on the arguments' buffers (the hot path). Under another transformation it
binds `jit_p`, a call primitive carrying the traced jaxpr, so nested jit stays one equation.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import weakref
from typing import Callable

from optree import tree_unflatten as _optree_unflatten
from optree._C import flatten as _optree_flatten  # the C entry point: no Python wrapper

from plax.extend.registry import default_backends as _default_backends
from plax.extend.registry import get_backend as _get_backend
from plax import monitoring, profiler
from plax.extend import Array
from plax.extend import config
from plax.extend import EVAL_TRACE, Token, abstract_token, current_trace
from plax_transforms._leaks import check_leaks
from plax.extend import trace_context as _ctx
from plax.tree_util import register_pytree_node, tree_flatten, tree_map, tree_unflatten
from plax.dtypes import float0 as _FLOAT0
from plax.extend import execution
from plax.extend import key_reuse, state
from plax.extend import (
    ClosedJaxpr, convert_constvars_jaxpr, eval_jaxpr, get_aval, jit_p, trace_to_jaxpr)

def closed_call_jaxpr(fun: Callable, avals, name: str, refs: bool = False):
    """Trace flat `fun` to a const-free ClosedJaxpr; its consts come back as leading args.
    With `refs=True`, also the Refs `fun` closes over (trailing inputs and outputs)."""
    if refs:
        jaxpr, consts, _, lifted = trace_to_jaxpr(fun, avals, name=name, refs=True)
        return ClosedJaxpr(convert_constvars_jaxpr(jaxpr), []), consts, lifted
    jaxpr, consts, _ = trace_to_jaxpr(fun, avals, name=name)
    return ClosedJaxpr(convert_constvars_jaxpr(jaxpr), []), consts


def jaxpr_fun(closed: ClosedJaxpr) -> Callable:
    return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


_MISS = object()  # arguments on more than one backend
_NO_LAST = ((None,), None, _MISS, None, None, None, _MISS, _MISS, False, None, None)  # unset _last
_live: weakref.WeakSet = weakref.WeakSet()  # every JitFunction, for clear_caches()
logger = logging.getLogger("plax.jit")  # log_compiles and explain_cache_misses write here


def _drop_loaded() -> None:
    """A profile starts: every entry's hot-path launcher is dropped, so that calls go through
    `_execute`, which times them (and keeps none while the profile lasts)."""
    empty = execution.Loaded(None, None, (), [])
    for jf in list(_live):
        jf._last = _NO_LAST
        for entry in list(jf._cache.values()) + list(jf._fast_cache.values()):
            entry.last = empty


profiler.add_start_listener(_drop_loaded)


def _log_level() -> int:
    return logging.WARNING if config.log_compiles else logging.DEBUG


def _outputs(entry, outs, backend, committed: bool):
    """The output buffers of a run as the Arrays (in the output tree) the caller gets."""
    if entry.single_out:
        return execution.wrap_one(outs[0], entry.out_avals[0], backend, committed, jit_p)
    return _optree_unflatten(entry.out_tree, execution.wrap(outs, entry.out_avals, backend,
                                                            committed, jit_p))


def _with_tokens(outs, avals):
    """A program's results with a Token at each token output (the backend's buffer there, an
    Array of type Tok, carries nothing)."""
    return [Token() if a is abstract_token else o for o, a in zip(outs, avals)]


class _Float0Out:
    """A float0 output (an integer input's cotangent, a NumPy array of no bits) kept out of the
    traced program: a pytree node with no leaves, rebuilt as that NumPy array when the outputs
    are unflattened, as JAX's jit returns it."""
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


def _float0_to_node(x):
    from plax.dtypes import float0
    if getattr(x, "dtype", None) == float0 and not isinstance(x, Array):
        return _Float0Out(tuple(x.shape))
    return x


def _float0_unflatten(shape, _children):
    import numpy as np
    from plax.dtypes import float0
    return np.zeros(shape, float0)


register_pytree_node(_Float0Out, lambda n: ((), n.shape), _float0_unflatten)


class _Entry:
    __slots__ = ("closed", "consts", "out_tree", "out_avals", "executables", "concrete",
                 "last", "donated", "single_out", "ref_pos", "lifted", "tokens", "key_sinks",
                 "key_forwards")

    def __init__(self, closed, consts, out_tree):
        self.closed, self.consts, self.out_tree = closed, consts, out_tree
        self.out_avals = closed.out_avals
        self.executables: dict = {}
        # one-slot cache for the hot path: the executable of the last call's backend, loaded
        # (execution.Loaded: backend, runner, donated leaves, consts as that backend's
        # buffers); one tuple, replaced whole, so threads never see halves of two
        self.last: tuple = execution.Loaded(None, None, (), [])
        self.donated: tuple[int, ...] = ()
        self.single_out = out_tree.num_leaves == 1 and out_tree.is_leaf()
        from plax.extend import Tracer
        self.concrete = not any(isinstance(c, Tracer) for c in consts)
        # Refs: the positions of Ref arguments among the leaves, and the Refs the function
        # closes over; both are extra trailing outputs ((out, finals) is the out_tree then),
        # the closed-over ones extra trailing inputs
        self.ref_pos: tuple[int, ...] = ()
        self.lifted: list = []
        # some outputs are tokens (Token values, not Arrays): never on the hot path
        self.tokens = abstract_token in self.out_avals
        # traced with debug_key_reuse on: the key leaves (typed keys as leaves) of the
        # arguments the function consumes, and (output, argument) positions of the keys it
        # returns unchanged; None when traced with it off
        self.key_sinks: tuple[int, ...] | None = None
        self.key_forwards: tuple[tuple[int, int], ...] = ()


def _check_argspec(fun, sig, positional, static_argnums, static_argnames, donate_argnums,
                   donate_argnames) -> None:
    """Argument numbers and names that `fun`'s signature cannot take fail at jit(), naming
    the option and the offending entries (as JAX's jit)."""
    kinds = {p.kind for p in sig.parameters.values()}
    name = getattr(fun, "__name__", "fun")
    if inspect.Parameter.VAR_POSITIONAL not in kinds:
        n = len(positional)
        for option, nums in (("static_argnums", static_argnums),
                             ("donate_argnums", donate_argnums)):
            bad = tuple(i for i in nums if not -n <= i < n)
            if bad:
                raise ValueError(f"jit({name}) has {option}={bad}, but {name} only accepts "
                                 f"{n} positional argument{'s' if n != 1 else ''} "
                                 f"({', '.join(positional) or 'none'})")
    if inspect.Parameter.VAR_KEYWORD not in kinds:
        for option, names in (("static_argnames", static_argnames),
                              ("donate_argnames", donate_argnames)):
            bad = sorted(set(names) - set(sig.parameters))
            if bad:
                raise ValueError(f"jit({name}) has invalid {option} {bad}: {name} takes no "
                                 f"argument of that name (its parameters: "
                                 f"{', '.join(sig.parameters) or 'none'})")


class _PyCall:
    """`JitFunction.__call__` in Python: without the C accelerator (plax_transforms._fastjit,
    built by pip when a C compiler is present), or with PLAX_JIT_PURE_PYTHON=1."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        # The hottest path: one Array, of the aval and backend of the last call, under the
        # same options (config.jit_state: x64 mode, default backend, no slow path or NaN
        # check, compared by identity). _fastjit.c does the same in C: keep them alike.
        hot = self._last
        if len(args) == 1 and not kwargs:
            x = args[0]
            if type(x) is Array and x.aval is hot[6] and x._backend is hot[2] and \
                    config.jit_state is hot[7] and _ctx.trace is EVAL_TRACE:
                committed = x._committed or hot[8]  # (jit(backend=...): committed)
                # uncommitted: only if its backend is the default one (else it moves there)
                if committed or _default_backends.get(hot[9]) is hot[2]:
                    try:
                        outs = hot[3]([x._buf] if hot[5] is None else [*hot[5], x._buf])
                    except Exception:
                        self._hot_failed(hot, args)
                        raise
                    if hot[4] is not None:  # one output
                        return Array(outs[0], hot[4], hot[2], committed)
                    return _outputs(hot[1], outs, hot[2], committed)
        return self._call_arrays(args, kwargs)


def _jit_base():
    import os
    if os.environ.get("PLAX_JIT_PURE_PYTHON", "").strip() not in ("", "0"):
        return _PyCall
    try:
        from plax_transforms import _fastjit
    except ImportError:
        return _PyCall
    _fastjit.setup(Array, config, _ctx, EVAL_TRACE, _default_backends)
    return _fastjit.JitBase


_JitBase = _jit_base()
ACCELERATED = _JitBase is not _PyCall  # jit's hot path runs in C


class JitFunction(_JitBase):
    """The callable `jit(f)` returns."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(), donate_argnums=(),
                 backend: str | None = None, device=None, inline: bool = False,
                 donate_argnames=()):
        self.fun = fun
        self.static_argnums = _as_tuple(static_argnums)
        self.static_argnames = _as_tuple(static_argnames)
        self.donate_argnums = _as_tuple(donate_argnums)
        self.donate_argnames = _as_tuple(donate_argnames)
        try:
            sig = inspect.signature(fun)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:  # names <-> positions, so either way of passing an argument counts
            params = list(sig.parameters)
            positional = [n for n in params if sig.parameters[n].kind in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            for n in self.static_argnames:
                if n in positional and params.index(n) not in self.static_argnums:
                    self.static_argnums += (params.index(n),)
            for n in self.donate_argnames:
                if n in positional and params.index(n) not in self.donate_argnums:
                    self.donate_argnums += (params.index(n),)
            for i in self.donate_argnums:
                if 0 <= i < len(positional) and positional[i] not in self.donate_argnames:
                    self.donate_argnames += (positional[i],)
            _check_argspec(fun, sig, positional, self.static_argnums, self.static_argnames,
                           self.donate_argnums, self.donate_argnames)
        both = set(self.static_argnums) & set(self.donate_argnums)
        if both or set(self.static_argnames) & set(self.donate_argnames):
            raise ValueError(f"jit({getattr(fun, '__name__', 'fun')}): an argument cannot be "
                             "both static and donated (static_argnums/argnames and "
                             "donate_argnums/argnames intersect)")
        self.backend = backend if backend is not None else (
            device.backend_name if device is not None else None)
        self.device = device
        self.inline = inline
        self.name = getattr(fun, "__name__", "fun")
        _live.add(self)
        self._cache: dict = {}
        self._fast_cache: dict = {}
        self._flat_cache: dict = {}  # (tree, x64, *avals) -> entry, when the leaves are Arrays
        self._last: tuple = _NO_LAST  # the last flat-cache hit, for the hot path (_warm)
        self._simple = not self.static_argnums and not self.static_argnames
        # updated=(): fun.__dict__ must not overwrite this object's own attributes
        functools.update_wrapper(self, fun, updated=())

    # --- tracing and the cache ----------------------------------------------------------
    def _split(self, args, kwargs):
        nargs = len(args)
        static_pos = {i % nargs for i in self.static_argnums if -nargs <= i < nargs}
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        static_vals = tuple((i, args[i]) for i in sorted(static_pos))
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        static_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in self.static_argnames))
        statics = (static_vals, static_kw)
        try:
            hash(statics)
        except TypeError:
            bad = [f"argument {i}" for i, v in static_vals if not _hashable(v)]
            bad += [f"argument '{k}'" for k, v in static_kw if not _hashable(v)]
            raise ValueError(f"static arguments of jit({self.name}) must be hashable; "
                             f"{', '.join(bad)} is not") from None
        return dyn_args, dyn_kwargs, statics, static_pos

    def _entry(self, args, kwargs):
        dyn_args, dyn_kwargs, statics, static_pos = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(map(get_aval, leaves))
        key = (in_tree, statics, avals, config.trace_context)  # x64 and the like change traces
        entry = self._cache.get(key)
        if entry is None:
            if config.explain_cache_misses:
                self._explain_miss(key, args, kwargs, static_pos)
            if any(type(a) is state.AbstractRef for a in avals):
                self._check_ref_aliases(leaves)
            entry = self._trace(args, kwargs, static_pos, statics, in_tree, avals)
            if entry.concrete:
                self._cache[key] = entry
        return entry, leaves

    def _trace(self, args, kwargs, static_pos, statics, in_tree, avals):
        if config.no_tracing:
            raise RuntimeError(f"re-tracing function {self.name} at {_defined_at(self.fun)} "
                               "for `jit`, but 'no_tracing' is set")
        fun, nargs = self.fun, len(args)
        static_kw = dict(statics[1])
        out_box, trace_box, key_box = [], [], []
        leaks = config.check_tracer_leaks
        key_reuse_on = config.debug_key_reuse

        ref_pos = tuple(i for i, a in enumerate(avals) if type(a) is state.AbstractRef)
        if ref_pos:  # a Ref argument: its value goes in, its last value comes out
            avals = [a.inner_aval if i in ref_pos else a for i, a in enumerate(avals)]

        def flat_fun(*flat):
            if leaks:
                trace_box.append(weakref.ref(current_trace()))
            if ref_pos:
                flat = list(flat)
                for i in ref_pos:
                    flat[i] = state.inner_ref(flat[i], state.AbstractRef(avals[i]))
            d_args, d_kwargs = tree_unflatten(in_tree, flat)
            it = iter(d_args)
            full = [args[i] if i in static_pos else next(it) for i in range(nargs)]
            out = fun(*full, **d_kwargs, **static_kw)
            if key_reuse_on:  # the key arguments consumed, the ones returned unchanged
                ins, outs = key_reuse.key_leaves((d_args, d_kwargs)), key_reuse.key_leaves(out)
                key_box.append((key_reuse.consumed_positions((d_args, d_kwargs)), tuple(
                    (j, i) for j, o in enumerate(outs) if key_reuse.is_key(o)
                    for i, x in enumerate(ins) if x is o)))
            out_leaves, out_tree = tree_flatten(out)
            if any(getattr(x, "dtype", None) == _FLOAT0 for x in out_leaves):
                out_leaves, out_tree = tree_flatten(tree_unflatten(
                    out_tree, [_float0_to_node(x) for x in out_leaves]))
            out_box.append(out_tree)
            return out_leaves + [flat[i]._val for i in ref_pos]

        t0 = time.perf_counter()
        with profiler.record("trace", f"jit({self.name})"):
            closed, consts, lifted = closed_call_jaxpr(flat_fun, list(avals),
                                                       f"jit({self.name})", refs=True)
        if trace_box:
            check_leaks(trace_box.pop(), f"the function {self.name} at "
                                         f"{_defined_at(self.fun)} for jit")
        if logger.isEnabledFor(_log_level()):
            logger.log(_log_level(), "Finished tracing jit(%s) in %.4f s", self.name,
                       time.perf_counter() - t0)
        out_tree = out_box[-1]
        if ref_pos or lifted:
            n = len(ref_pos) + len(lifted)
            out_tree = tree_flatten((tree_unflatten(out_tree, [0] * out_tree.num_leaves),
                                     [0] * n))[1]
        entry = _Entry(closed, consts, out_tree)
        entry.ref_pos, entry.lifted = ref_pos, lifted
        if key_box:
            entry.key_sinks, entry.key_forwards = key_box[-1]
        entry.donated = self._donated_leaves(args, kwargs, static_pos)
        return entry

    def _donated_leaves(self, args, kwargs, static_pos) -> tuple[int, ...]:
        """Leaf indices (among the dynamic leaves: positional arguments, then keyword arguments
        in sorted order, as they flatten) of the donated arguments."""
        if not (self.donate_argnums or self.donate_argnames):
            return ()
        nargs = len(args)
        donate = {i % nargs for i in self.donate_argnums if -nargs <= i < nargs}
        out, offset = [], 0
        for i, a in enumerate(args):
            if i in static_pos:
                continue
            n = len(tree_flatten(a)[0])
            if i in donate:
                out.extend(range(offset, offset + n))
            offset += n
        for k in sorted(k for k in kwargs if k not in self.static_argnames):
            n = len(tree_flatten(kwargs[k])[0])
            if k in self.donate_argnames:
                out.extend(range(offset, offset + n))
            offset += n
        return tuple(out)

    # --- calling ----------------------------------------------------------------------------
    # __call__: _PyCall's or _fastjit's (the hottest path), then these
    def _hot_failed(self, hot, args) -> None:
        """The hot path's launch failed: the plax error for a deleted (donated) Array among
        the consts or arguments, if that is why."""
        execution.check_not_deleted(hot[1].consts)
        execution.check_not_deleted(args)

    def _hot_outputs(self, hot, outs, committed):
        return _outputs(hot[1], outs, hot[2], committed)

    def _call_arrays(self, args, kwargs):
        """The hot path of calls of several Arrays or a pytree of them (flat, as
        `__call__`): every leaf an Array, a cache hit, all of them on the backend of the last
        call."""
        if kwargs or not self._simple or _ctx.trace is not EVAL_TRACE or config.jit_slow_path:
            return self._call(args, kwargs)
        hot = self._last
        avals, bufs, committed, backend = [], [], False, None
        leaves, in_tree = args, None
        for x in args:
            if type(x) is not Array:  # a pytree (or a Python/NumPy value): flatten it
                in_tree = hot[0][0]
                try:  # the last call's tree: its leaves in ~0.3 us (a full flatten: ~2.5)
                    leaves = in_tree.flatten_up_to(args)
                    flat = None  # (not flat yet where a leaf is still a subtree)
                except Exception:  # another tree (or None: the arguments were leaves)
                    leaves, in_tree = _optree_flatten(args, None, False, "plax")
                    flat = (leaves, in_tree)
                avals, bufs, committed, backend = [], [], False, None
                for y in leaves:
                    if type(y) is not Array:
                        return self._call(args, kwargs, flat)
                    avals.append(y.aval)
                    bufs.append(y._buf)
                    if y._committed:
                        committed = True
                    if y._backend is not backend:
                        backend = y._backend if backend is None else _MISS
                break
            avals.append(x.aval)
            bufs.append(x._buf)
            if x._committed:
                committed = True
            if x._backend is not backend:
                backend = x._backend if backend is None else _MISS
        key = (in_tree, config.trace_context, *avals)  # x64 and the like change traces
        if key != hot[0] or backend is not hot[2]:  # same tree and aval objects: no hashing
            return self._warm(key, args, kwargs, leaves, backend)
        if not committed and self.backend is None:
            # uncommitted: the default backend runs it (registry.is_default_backend, inlined;
            # get_backend refills the cache the one-Array path reads after a backend change)
            name = config.backend
            default = _default_backends.get(name)
            if backend is not (default if default is not None else _get_backend(name)):
                return self._execute(hot[1], leaves)
        else:
            committed = True
        if hot[5]:
            bufs[:0] = hot[5]  # the consts' buffers
        try:
            outs = hot[3](bufs)
        except Exception:
            execution.check_not_deleted(hot[1].consts)
            execution.check_not_deleted(leaves)
            raise
        if hot[4] is not None:  # one output
            if config.debug_nans or config.debug_infs:
                return execution.wrap_one(outs[0], hot[4], backend, committed, jit_p)
            return Array(outs[0], hot[4], backend, committed)
        return _outputs(hot[1], outs, backend, committed)

    def _warm(self, key, args, kwargs, leaves, backend):
        """A call of Arrays that missed the one-slot `_last`: the flat cache, else the full
        path; a hit becomes the new `_last` (key, entry, backend, runner, the single output's
        aval or None, the consts' buffers, then for `__call__`'s path of one Array: its aval,
        config.jit_state (trace context, backend, slow path, NaN/inf checks), whether
        jit(backend=...) commits, the config's backend, the runner's `launch` or None), one tuple
        replaced whole, so threads never see halves of two."""
        entry = self._flat_cache.get(key)
        if entry is None:
            return self._call(args, kwargs)
        out = self._execute(entry, leaves)
        last = entry.last
        if last.backend is backend:
            # a call of one Array under these options (not with debug_nans/infs: checked below)
            one = key[0] is None and len(key) == 3 and not (config.debug_nans or config.debug_infs)
            self._last = (key, entry, backend, last.run,
                          entry.out_avals[0] if entry.single_out else None,
                          last.const_bufs if entry.consts else None,
                          key[2] if one else _MISS, config.jit_state if one else _MISS,
                          self.backend is not None, config.backend, last.launch)
        return out

    def _execute(self, entry, leaves, avals=None):
        """Run `entry`'s executable on concrete leaves (compiling it for the backend once)."""
        if config.no_execution:
            raise RuntimeError(f"plax tried to execute function jit({self.name}), but the "
                               "no_execution config option is set")
        backend, committed = execution.pick_backend(leaves, self.backend)
        last = entry.last
        prof = profiler.state.active
        if backend is not last.backend:
            exe = entry.executables.get(backend.name) or self._compile(entry, backend)
            last = execution.load(backend, exe, entry.consts)
            if prof is None:  # while profiling, calls keep coming here to be timed
                entry.last = last
        if prof is not None:
            with prof.record("execute", f"jit({self.name})"):
                outs = execution.execute(last, entry.consts, leaves, entry.out_avals,
                                         committed, jit_p, avals,
                                         donated_to=f"jit({self.name})")
                for o in outs:
                    o.block_until_ready()
        else:
            outs = execution.execute(last, entry.consts, leaves, entry.out_avals, committed,
                                     jit_p, avals, donated_to=f"jit({self.name})")
        if entry.tokens:
            outs = _with_tokens(outs, entry.out_avals)
        if entry.single_out:
            return outs[0]
        return _optree_unflatten(entry.out_tree, outs)

    def _call(self, args, kwargs, flat=None):
        """Every call that is not the hot path's (`flat`: the arguments already flattened)."""
        if config.disable_jit or (self.inline and _ctx.trace is not EVAL_TRACE):
            return self.fun(*args, **kwargs)  # inline: traced into the caller, no equation
        avals = None  # known on the signature-keyed path: passed on to skip recomputing
        if self._simple and not kwargs:
            leaves, in_tree = flat if flat is not None else tree_flatten(args)
            avals = tuple(map(get_aval, leaves))
            key = (in_tree, avals, config.trace_context)
            entry = self._fast_cache.get(key)
            if entry is None:
                entry, leaves = self._entry(args, kwargs)
                if entry.concrete:
                    self._fast_cache[key] = entry
                    # the hot path's key: no tree when the arguments are the leaves (a
                    # donating call marks its arguments deleted: not on the hot path)
                    if not entry.donated and not entry.lifted and not entry.tokens and all(
                            type(x) is Array for x in leaves):
                        tree = None if all(type(x) is Array for x in args) else in_tree
                        self._flat_cache[(tree, key[2], *key[1])] = entry
        else:
            entry, leaves = self._entry(args, kwargs)
        if entry.key_sinks is not None:  # traced with debug_key_reuse on
            return self._call_keys(entry, args, kwargs, leaves, avals)
        return self._run(entry, leaves, avals)

    def _call_keys(self, entry, args, kwargs, leaves, avals):
        """A call under the key-reuse checker: the key arguments the function consumes are
        consumed (KeyReuseError for one consumed already); a key it returns unchanged comes
        back as consumed as its argument is."""
        dyn = self._split(args, kwargs)[:2]
        key_reuse.consume_positions(dyn, entry.key_sinks)
        out = self._run(entry, leaves, avals)
        if entry.key_forwards:
            ins, outs = key_reuse.key_leaves(dyn), key_reuse.key_leaves(out)
            for j, i in entry.key_forwards:
                outs[j]._consumed = ins[i]._consumed
        return out

    def _run(self, entry, leaves, avals):
        if entry.ref_pos or entry.lifted:  # Ref values in, last values stored back
            refs, leaves = _ref_inputs(entry, leaves)
            self._check_ref_aliases(refs[:len(entry.ref_pos)])
            out, finals = self._dispatch(entry, leaves, None)
            state.write_back(refs, finals)
            return out
        return self._dispatch(entry, leaves, avals)

    def _dispatch(self, entry, leaves, avals):
        if _ctx.trace is EVAL_TRACE and entry.concrete and not config.checks:
            return self._execute(entry, leaves, avals)
        # under a transformation, or with the `checks` option (eager dispatch runs the program
        # checkified then, as every call-like primitive it is handed): one jit equation
        if self.backend is not None and _ctx.trace is EVAL_TRACE:
            with config.override("backend", self.backend):  # jit(backend=...) still holds
                res = jit_p.bind(*entry.consts, *leaves, jaxpr=entry.closed, name=self.name)
        else:
            res = jit_p.bind(*entry.consts, *leaves, jaxpr=entry.closed, name=self.name)
        return tree_unflatten(entry.out_tree, res)

    def _check_ref_aliases(self, leaves):
        refs = [x for x in leaves if type(x) is state.Ref]
        for k, r in enumerate(refs):
            if any(r is q for q in refs[:k]):
                raise ValueError(
                    f"only one reference to a mutable array may be passed as an argument to a "
                    f"function, but when tracing {self.name} for jit the mutable array "
                    f"reference of type {r.aval} appeared more than once")

    def _pick_backend(self, leaves):
        return execution.pick_backend(leaves, self.backend)[0]

    def _compile(self, entry, backend):
        nconst = len(entry.consts)
        donate = tuple(nconst + i for i in entry.donated)
        level = _log_level()
        if logger.isEnabledFor(level):
            shapes = ", ".join(a.str_short() for a in entry.closed.in_avals[nconst:])
            logger.log(level, "Compiling jit(%s) with shapes and types [%s] on backend '%s'",
                       self.name, shapes, backend.name)
        t0 = time.perf_counter()
        wall0 = time.time()
        with profiler.record("compile", f"jit({self.name})"):
            exe = backend.compile(entry.closed, device=self.device, donate_argnums=donate)
        if monitoring._has_compile_listeners():  # as JAX's backend_compile_duration event
            fun_name = f"jit({self.name})"
            monitoring.record_event_duration_secs(
                monitoring.BACKEND_COMPILE_EVENT, time.perf_counter() - t0, fun_name=fun_name)
            monitoring.record_event_time_span(monitoring.BACKEND_COMPILE_EVENT, wall0,
                                              time.time(), fun_name=fun_name)
        if logger.isEnabledFor(level):
            logger.log(level, "Finished compiling jit(%s) in %.4f s", self.name,
                       time.perf_counter() - t0)
        entry.executables[backend.name] = exe
        return exe

    def _explain_miss(self, key, args, kwargs, static_pos) -> None:
        """explain_cache_misses: log why `key` is not in the cache (the closest key seen)."""
        where = _caller()
        if not self._cache:
            logger.warning("TRACING CACHE MISS at %s because: never seen function jit(%s) "
                           "(defined at %s)", where, self.name, _defined_at(self.fun))
            return
        tree, statics, avals, x64 = key
        best, best_score = None, None
        for old in self._cache:  # the closest previous key: fewest differing parts
            score = ((old[0] != tree) * 1000 + (old[1] != statics) * 100 + (old[3] != x64)
                     * 100 + sum(a != b for a, b in zip(old[2], avals)))
            if best_score is None or score < best_score:
                best, best_score = old, score
        reasons = []
        if best[0] != tree:
            reasons.append(f"the tree structure of the arguments changed: before {best[0]}, "
                           f"now {tree}")
        if best[1] != statics:
            before, now = _static_map(best[1]), _static_map(statics)
            names = self._positional_names()
            for k in sorted(set(before) | set(now), key=str):
                if before.get(k, _MISS) != now.get(k, _MISS):
                    label = (f"'{k}'" if isinstance(k, str) else
                             f"'{names[k]}'" if k < len(names) else f"{k}")
                    reasons.append(f"static argument {label} changed from "
                                   f"{before.get(k, '<absent>')!r} to "
                                   f"{now.get(k, '<absent>')!r}")
        if best[3] != x64:
            reasons.extend(config.trace_context_changes(best[3], x64))
        if best[0] == tree:
            labels = self._leaf_labels(args, kwargs, static_pos)
            for i, (a, b) in enumerate(zip(best[2], avals)):
                if a == b:
                    continue
                if a is abstract_token or b is abstract_token:
                    label = labels[i] if i < len(labels) else f"leaf {i}"
                    reasons.append(f"argument {label} changed type: {a.str_short()} -> "
                                   f"{b.str_short()}")
                    continue
                what = [w for w, x, y in (("shape", a.shape, b.shape),
                                          ("dtype", a.dtype, b.dtype),
                                          ("weak type", a.weak_type, b.weak_type)) if x != y]
                label = labels[i] if i < len(labels) else f"leaf {i}"
                reasons.append(f"argument {label} changed {' and '.join(what)}: "
                               f"{a.str_short()} -> {b.str_short()}")
        logger.warning("TRACING CACHE MISS at %s because: for jit(%s) defined at %s, "
                       "%d earlier signature%s, the closest differs: %s", where, self.name,
                       _defined_at(self.fun), len(self._cache),
                       "" if len(self._cache) == 1 else "s",
                       "; ".join(reasons) or "(no difference found)")

    def _positional_names(self) -> list[str]:
        try:
            params = inspect.signature(self.fun).parameters.values()
        except (TypeError, ValueError):
            return []
        return [p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                     inspect.Parameter.POSITIONAL_OR_KEYWORD)]

    def _leaf_labels(self, args, kwargs, static_pos) -> list[str]:
        """A name per dynamic leaf, in flattening order: `x`, `params[0][1]`, `y` ..."""
        from plax.tree_util import keystr, tree_flatten_with_path
        names = self._positional_names()
        labels = []
        for i, a in enumerate(args):
            if i in static_pos:
                continue
            base = names[i] if i < len(names) else f"args[{i}]"
            labels += [base + keystr(p) for p, _ in tree_flatten_with_path(a)[0]]
        for k in sorted(k for k in kwargs if k not in self.static_argnames):
            labels += [k + keystr(p) for p, _ in tree_flatten_with_path(kwargs[k])[0]]
        return [f"'{x}'" for x in labels]

    # --- AOT -------------------------------------------------------------------------------
    def lower(self, *args, **kwargs) -> "Lowered":
        entry, leaves = self._entry(args, kwargs)
        dyn_args, dyn_kwargs, _, _ = self._split(args, kwargs)
        in_tree = tree_flatten((dyn_args, dyn_kwargs))[1]
        return Lowered(self, entry, self._pick_backend(leaves), leaves, in_tree)

    def trace(self, *args, **kwargs) -> "Traced":
        """The traced program for these arguments (`.jaxpr`, `.out_info`, `.lower()`), as
        JAX's `jit(f).trace(...)`."""
        entry, leaves = self._entry(args, kwargs)
        dyn_args, dyn_kwargs, _, _ = self._split(args, kwargs)
        in_tree = tree_flatten((dyn_args, dyn_kwargs))[1]
        return Traced(self, entry, leaves, in_tree)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast_cache.clear()
        self._flat_cache.clear()
        self._last = _NO_LAST

    def _cache_size(self) -> int:
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<jit({self.name})>"


class Traced:
    """`jit(f).trace(*args)`: the program traced for one signature (its ClosedJaxpr as
    `.jaxpr`), before lowering."""

    def __init__(self, jf: JitFunction, entry: _Entry, leaves, in_tree):
        self._jf, self._entry, self._leaves, self._in_tree = jf, entry, leaves, in_tree
        self.args_info = _args_info(in_tree, leaves, entry.donated)

    @property
    def jaxpr(self) -> ClosedJaxpr:
        return self._entry.closed

    @property
    def fun_name(self) -> str:
        return self._jf.name

    @property
    def in_avals(self):
        return _in_avals(self.args_info)

    @property
    def out_info(self):
        """The outputs as a tree of ShapeDtypeStructs."""
        return _out_info(self._entry)

    @property
    def out_avals(self):
        return tree_unflatten(self._entry.out_tree, list(self._entry.out_avals))

    @property
    def in_tree(self):
        """The PyTreeDef of the (args, kwargs) of non-static arguments."""
        return self._in_tree

    @property
    def out_tree(self):
        """The PyTreeDef of the result."""
        return self._entry.out_tree

    @property
    def consts(self) -> list:
        """The values `.jaxpr` takes as its leading inputs, before the argument leaves (the
        arrays the function closes over)."""
        return list(self._entry.consts)

    @property
    def has_refs(self) -> bool:
        """Whether the function takes or closes over Refs (extra trailing inputs/outputs)."""
        return bool(self._entry.ref_pos or self._entry.lifted)

    def lower(self) -> "Lowered":
        return Lowered(self._jf, self._entry, self._jf._pick_backend(self._leaves),
                       self._leaves, self._in_tree)

    def __call__(self, *args, **kwargs):
        """Call the jitted function (static arguments included, as the trace was made)."""
        return self._jf(*args, **kwargs)

    def __repr__(self):
        return f"Traced({self.fun_name}):\n{self._entry.closed}"


class Lowered:
    """`jit(f).lower(*args)`: the traced program for one signature, before compilation."""

    def __init__(self, jf: JitFunction, entry: _Entry, backend, leaves=(), in_tree=None):
        self._jf, self._entry, self._backend = jf, entry, backend
        # the layouts of arguments over several devices (the program is partitioned for them)
        shardings = [_multi_device_sharding(x) for x in leaves]
        self._shardings = [None] * len(entry.consts) + shardings \
            if any(s is not None for s in shardings) else None
        self._args_info = None if in_tree is None else _args_info(in_tree, leaves,
                                                                  entry.donated)
        self._in_tree, self._avals = in_tree, tuple(map(get_aval, leaves))

    @property
    def args_info(self):
        """(args, kwargs) of the non-static arguments as a tree of plax.stages.ArgInfo (aval
        and whether donated), as JAX's Lowered.args_info."""
        return self._args_info

    @property
    def out_info(self):
        """The outputs as a tree of ShapeDtypeStructs, as JAX's Lowered.out_info."""
        return _out_info(self._entry)

    @property
    def in_avals(self):
        """The avals of the non-static arguments, in their (args, kwargs) tree."""
        return _in_avals(self._args_info)

    def _kw(self) -> dict:
        return {"arg_shardings": self._shardings} if self._shardings is not None else {}

    def as_text(self, dialect: str | None = None, *, debug_info: bool = False) -> str:
        """The lowered program as text (xla: StableHLO, or `dialect="hlo"` the HLO module
        before optimization); `debug_info=True` adds its source locations (the
        `plax.named_scope` paths, as JAX's `as_text(debug_info=True)`). For arguments over
        several devices, the partitioned program, their shardings on its parameters."""
        kw = self._kw()
        if debug_info:
            kw["debug_info"] = True
        if dialect is not None:
            kw["dialect"] = dialect
        return self._backend.lower_text(self._entry.closed, **kw)

    def compiler_ir(self, dialect: str | None = None):
        """The lowered program as the compiler's object (xla: a jaxlib.mlir Module, or with
        `dialect="hlo"` an XlaComputation; backends without a language of their own: the
        ClosedJaxpr); None where the backend has none, as JAX's."""
        kw = self._kw()
        if dialect is not None:
            kw["dialect"] = dialect
        try:
            return self._backend.compiler_ir(self._entry.closed, **kw)
        except NotImplementedError:
            return None

    def cost_analysis(self):
        """The compiler's cost estimates before compiling (xla: a dict with "flops",
        "transcendentals", "bytes accessed"...); None where the backend has none, as JAX's."""
        try:
            return self._backend.lowered_cost_analysis(self._entry.closed, **self._kw())
        except NotImplementedError:
            return None

    def jaxpr(self) -> ClosedJaxpr:
        return self._entry.closed

    def compile(self) -> "Compiled":
        exe = self._entry.executables.get(self._backend.name) or \
            self._jf._compile(self._entry, self._backend)
        compiled = Compiled(self._jf, self._entry, self._backend, exe)
        compiled.args_info = self._args_info
        compiled._in_tree, compiled._avals = self._in_tree, self._avals
        # inputs over several devices: the program partitioned for their layouts
        compiled._view = exe.specialize(self._shardings) if self._shardings else exe
        return compiled


def _multi_device_sharding(x):
    if type(x) is not Array or x.is_deleted():
        return None
    s = x.sharding
    return s if len(s.device_set) > 1 else None


def _ref_inputs(entry, leaves):
    """(the Refs a call of `entry` reads and writes back: its Ref arguments, then the Refs the
    function closes over; the leaves with the Ref arguments' current values in their place and
    the closed-over Refs' values appended)."""
    refs = [leaves[i] for i in entry.ref_pos] + list(entry.lifted)
    leaves = list(leaves)
    for i in entry.ref_pos:
        leaves[i] = state.current_values([leaves[i]])[0]
    leaves += state.current_values(entry.lifted)
    return refs, leaves


def _args_info(in_tree, leaves, donated):
    from plax.stages import ArgInfo
    return tree_unflatten(in_tree, [ArgInfo(get_aval(x), i in donated)
                                    for i, x in enumerate(leaves)])


def _in_avals(args_info):
    from plax.stages import ArgInfo
    return tree_map(lambda a: a._aval, args_info, is_leaf=lambda a: isinstance(a, ArgInfo))


def _out_info(entry):
    from plax import ShapeDtypeStruct
    structs = [ShapeDtypeStruct(a.shape, a.dtype) if hasattr(a, "shape") else a
               for a in entry.out_avals]
    out = tree_unflatten(entry.out_tree, structs)
    return out[0] if entry.ref_pos or entry.lifted else out


class Compiled:
    def __init__(self, jf, entry, backend, exe):
        self._jf, self._entry, self._backend, self._exe = jf, entry, backend, exe
        self._view = exe  # what its reports describe (Lowered.compile: the partitioned one)
        self.args_info = None  # set by Lowered.compile: the Lowered's args_info

    @property
    def out_info(self):
        """The outputs as a tree of ShapeDtypeStructs, as JAX's Compiled.out_info."""
        return _out_info(self._entry)

    def __call__(self, *args, **kwargs):
        """Run the program on its non-static arguments (the static ones were fixed when it
        was lowered and are not passed again, as JAX's), of the shapes and dtypes it was
        lowered for."""
        entry = self._entry
        leaves, tree = tree_flatten((args, kwargs))
        if tree != self._in_tree:
            raise TypeError(
                f"jit({self._jf.name}) was compiled for arguments {self._in_tree} and called "
                f"with {tree}; a Compiled function takes the non-static arguments only (static "
                "ones were fixed when it was lowered)")
        for i, (x, want) in enumerate(zip(leaves, self._avals)):
            have = get_aval(x)
            if have != want and (getattr(have, "shape", None), getattr(have, "dtype", None)) \
                    != (getattr(want, "shape", None), getattr(want, "dtype", None)):
                from plax.tree_util import keystr, tree_flatten_with_path
                path = keystr(tree_flatten_with_path((args, kwargs))[0][i][0])
                raise TypeError(
                    f"argument {path} of compiled jit({self._jf.name}) is {have.str_short()}, "
                    f"but it was compiled for {want.str_short()}")
        refs = []
        if entry.ref_pos or entry.lifted:  # Ref values in, last values stored back (as _run)
            refs, leaves = _ref_inputs(entry, leaves)
        loaded = execution.load(self._backend, self._exe, entry.consts)
        outs = execution.execute(loaded, entry.consts, leaves, entry.out_avals, False, jit_p,
                                 donated_to=f"jit({self._jf.name})")
        if entry.tokens:
            outs = _with_tokens(outs, entry.out_avals)
        out = tree_unflatten(entry.out_tree, outs)
        if refs:
            out, finals = out
            state.write_back(refs, finals)
        return out

    @property
    def in_avals(self):
        """The avals of the non-static arguments, in their (args, kwargs) tree."""
        return _in_avals(self.args_info)

    def as_text(self) -> str:
        """The program as compiled (xla: the optimized HLO module, after fusion and layout
        assignment, partitioned for inputs over several devices, as JAX's Compiled.as_text;
        reference: the jaxpr it runs; cupy: the fused kernels' CUDA and the library calls)."""
        return self._view.as_text()

    def cost_analysis(self) -> dict:
        """The compiler's cost estimates of the compiled program (xla: "flops",
        "transcendentals", "bytes accessed"...). NotImplementedError where the backend has
        none, as JAX's."""
        return self._view.cost_analysis()

    def memory_analysis(self):
        """The compiler's memory figures (xla: CompiledMemoryStats with argument, output,
        temporary and generated-code sizes in bytes). NotImplementedError where the backend
        has none, as JAX's."""
        return self._view.memory_analysis()

    def runtime_executable(self):
        """The runtime's object for the program (xla: jaxlib's LoadedExecutable)."""
        return self._view.runtime_executable()

    def _shardings(self):
        got = self._view.shardings()
        if got is None:  # the backend's default device throughout
            from plax.sharding import SingleDeviceSharding
            one = SingleDeviceSharding(self._backend.default_device())
            got = ([one] * (len(self._entry.consts) + len(self._avals)),
                   [one] * len(self._entry.out_avals))
        return got

    @property
    def input_shardings(self):
        """The non-static arguments' shardings, in their (args, kwargs) tree, as JAX's."""
        ins = self._shardings()[0]
        return tree_unflatten(self._in_tree, list(ins[len(ins) - len(self._avals):]))

    @property
    def output_shardings(self):
        """The outputs' shardings, in the output tree, as JAX's."""
        entry = self._entry
        out = tree_unflatten(entry.out_tree, list(self._shardings()[1]))
        return out[0] if entry.ref_pos or entry.lifted else out


def _static_map(statics) -> dict:
    pos, kw = statics
    return {**dict(pos), **dict(kw)}


def _caller() -> str:
    """file:line of the user's call (the first frame outside plax's own packages)."""
    import sys
    f = sys._getframe(1)
    while f is not None and ("/plax_transforms/" in f.f_code.co_filename
                             or "/plax/" in f.f_code.co_filename):
        f = f.f_back
    return f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else "<unknown>"


def _defined_at(fun) -> str:
    code = getattr(inspect.unwrap(fun), "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else "<unknown>"


def _hashable(v) -> bool:
    try:
        hash(v)
        return True
    except TypeError:
        return False


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, (int, str)):
        return (x,)
    return tuple(x)


def jit(fun: Callable | None = None, *, static_argnums=(), static_argnames=(),
        donate_argnums=(), donate_argnames=(), backend: str | None = None, device=None,
        inline: bool = False, keep_unused: bool = False, abstracted_axes=None,
        in_shardings=None, out_shardings=None):
    """Compile `fun` for the backend: traced once per input signature, then cached.

    With `inline`, a call under another trace is traced into it (no nested jit equation);
    eagerly it is still one compiled program. `keep_unused` is accepted for JAX compatibility:
    plax never prunes unused arguments. `in_shardings` / `out_shardings` (a Sharding, or one
    per argument / a pytree of them) lay the arguments and results out over a mesh; XLA's SPMD
    partitioner splits the program (plax_transforms.sharded_jit)."""
    if abstracted_axes is not None:
        raise NotImplementedError("jit(abstracted_axes=...): plax has no dynamic shapes; every "
                                  "new input shape is traced and compiled on its own")
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames, donate_argnums=donate_argnums,
                                 donate_argnames=donate_argnames, backend=backend,
                                 device=device, inline=inline, in_shardings=in_shardings,
                                 out_shardings=out_shardings)
    if not callable(fun):
        raise TypeError(f"jit expects a callable, got {fun!r}")
    if in_shardings is not None or out_shardings is not None:
        from plax_transforms.sharded_jit import sharded_jit
        return sharded_jit(fun, in_shardings, out_shardings, static_argnums,
                           dict(static_argnames=static_argnames, donate_argnums=donate_argnums,
                                donate_argnames=donate_argnames, backend=backend,
                                device=device, inline=inline))
    options = (static_argnums, static_argnames, donate_argnums, donate_argnames, backend,
               device, inline)
    try:
        per_fun = _by_fun.get(fun)
        if per_fun is None:
            per_fun = _by_fun[fun] = {}
        state = per_fun.get(options)
    except TypeError:  # an unhashable option or function, or one without weak references
        return JitFunction(fun, static_argnums, static_argnames, donate_argnums, backend,
                           device, inline, donate_argnames)
    if state is None:
        jf = JitFunction(fun, static_argnums, static_argnames, donate_argnums, backend, device,
                         inline, donate_argnames)
        per_fun[options] = {k: v for k, v in jf.__dict__.items() if k not in _OWN}
        return jf
    # JAX keys its caches on the function: a new wrapper of the same function (with the same
    # options) shares the first one's traces and executables, so `jit(f)(x)` in a loop traces
    # once, and a global that `f` read while tracing keeps the value it had then
    new = object.__new__(JitFunction)
    new.__dict__.update(state)
    new.fun = new.__wrapped__ = fun
    new._last = _NO_LAST
    _live.add(new)  # its one-slot `_last` is its own: clear_caches() must reach it
    return new


# What a JitFunction does not share with other wrappers of its function: the function itself
# (the shared state must not keep it alive: `_by_fun` holds it weakly) and the one-slot cache.
_OWN = frozenset({"fun", "__wrapped__", "_last"})
# function -> {jit options -> the state its wrappers share}
_by_fun: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def clear_caches() -> None:
    """Forget every jitted function's traces and programs (registered with core's
    `plax.clear_caches`, which also clears the eager caches and each started backend's)."""
    for jf in list(_live):
        jf.clear_cache()
    _by_fun.clear()


# ---------------------------------------------------------------------------------------------
# Rules of jit_p


def _jit_jvp(primals, tangents, *, jaxpr: ClosedJaxpr, name: str, **params):
    from plax_transforms.ad import Zero, jvp_flat
    n = len(primals)
    nz = [type(t) is not Zero for t in tangents]
    t_avals = [t.aval if type(t) is Zero else get_aval(t) for t in tangents]

    def f(*args):
        ps, ts_nz = args[:n], iter(args[n:])
        ts = [next(ts_nz) if z else Zero(a) for z, a in zip(nz, t_avals)]
        out_p, out_t = jvp_flat(jaxpr_fun(jaxpr), ps, ts)
        return [*out_p, *out_t]

    avals = [get_aval(p) for p in primals] + [a for z, a in zip(nz, t_avals) if z]
    closed, consts = closed_call_jaxpr(f, avals, f"jvp({name})")
    outs = jit_p.bind(*consts, *primals, *[t for t in tangents if type(t) is not Zero],
                      jaxpr=closed, name=f"jvp({name})")
    m = len(jaxpr.out_avals)
    return outs[:m], outs[m:]


def _jit_batch(trace, vals, dims, *, jaxpr: ClosedJaxpr, name: str, **params):
    from plax_transforms.batching import batch_flat
    size = trace.axis_size
    in_avals = [get_aval(v) for v in vals]

    def f(*xs):
        return batch_flat(jaxpr_fun(jaxpr), xs, dims, size, trace.axis_name)

    closed, consts = closed_call_jaxpr(f, in_avals, f"vmap({name})")
    outs = jit_p.bind(*consts, *vals, jaxpr=closed, name=name)
    return outs, [None if a is abstract_token else 0 for a in closed.out_avals]


def _jit_transpose(cts, *args, jaxpr: ClosedJaxpr, name: str, **params):
    from plax_transforms.ad import backward_pass
    return backward_pass(jaxpr.jaxpr, jaxpr.consts, args, cts)


def register(reg) -> None:
    from plax_transforms.batching import needs_trace
    # plax.stages' types (as jax.stages: jit(f), .trace(...), .lower(...), .compile())
    for name, cls in (("Wrapped", JitFunction), ("Traced", Traced), ("Lowered", Lowered),
                      ("Compiled", Compiled)):
        reg.register_api(f"stages.{name}", cls)
    reg.add_jvp(jit_p, _jit_jvp)
    reg.add_transpose(jit_p, _jit_transpose)
    reg.add_batch(jit_p, needs_trace(_jit_batch))
