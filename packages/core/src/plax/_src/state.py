"""Mutable array references (JAX's Ref API: `new_ref`, `empty_ref`, `freeze`, `free_ref`,
`Ref`, `ds`), discharged while tracing.

A `Ref` is a box holding an array value. Reading it (`r[idx]`, `get`) indexes the value;
writing it (`r[idx] = v`, `set`, `swap`, `addupdate`) replaces the value with an updated copy
(`x.at[idx].set(v)`). Eagerly that is all there is. Under tracing, the state is threaded
through the program as ordinary values, so every jaxpr stays functional and every backend
runs it unchanged (JAX's "discharge", done here as the program is traced):

- each `trace_to_jaxpr` pushes a *frame*. A Ref created outside the innermost frame and used
  inside it is *lifted* into every frame in between that takes refs (jit, scan, while, cond
  bodies): its value becomes a new trailing input of that frame's jaxpr, and its last value a
  trailing output, which the caller (jit's call, the control-flow function) feeds from and
  writes back to the Ref. Frames that do not take refs (custom rules, checkpoint, ...) may
  read a closed-over Ref (its value is then a constant of that jaxpr) but not write it.
- a Ref passed to a jitted function becomes an input and an output of the jitted program
  (`plax_transforms.jit`); a Ref passed to `vmap` is batched along its axis.
- writes check what JAX checks: the value's shape and dtype must be those of `ref[idx]`
  exactly, and a value carrying a transformation (a differentiated or batched value) cannot
  be stored in a Ref created outside that transformation.
"""

from __future__ import annotations

import operator
import threading
from typing import Any

import numpy as np

from plax._src import dtypes
from plax._src.core import EVAL_TRACE, ShapedArray, Tracer, _ctx
from plax._src.errors import UnexpectedTracerError

__all__ = ["Ref", "AbstractRef", "new_ref", "empty_ref", "free_ref", "freeze", "get", "set",
           "swap", "addupdate", "ds", "dslice", "Slice"]


# ---------------------------------------------------------------------------------------------
# pl.ds: a slice of static size at a (possibly dynamic) start


class Slice:
    """A slice of `size` elements from `start` (an int or an array) every `stride` elements;
    made by `plax.ds`. As an index it acts like `start:start+size*stride:stride`, with a
    dynamic start clamped so that the slice fits (lax.dynamic_slice's rule)."""

    __slots__ = ("start", "size", "stride")

    def __init__(self, start, size, stride: int = 1):
        if stride < 0:
            raise ValueError("`stride` must be >= 0.")
        self.start, self.size, self.stride = start, size, stride

    def __repr__(self):
        return f"Slice(start={self.start!r}, size={self.size!r}, stride={self.stride})"

    def __eq__(self, other):
        return (type(other) is Slice and self.size == other.size
                and self.stride == other.stride and self.start is other.start
                or (type(other) is Slice and not isinstance(self.start, Tracer)
                    and not isinstance(other.start, Tracer)
                    and (self.start, self.size, self.stride)
                    == (other.start, other.size, other.stride)))

    __hash__ = None


def dslice(start, size=None, stride=None):
    """`plax.ds(i, n)` indexes i:i+n with i possibly traced (n static): `ds(None)` is `:`,
    `ds(n)` is `:n`, `ds(i, n)` is `i:i+n`, `ds(i, n, s)` is `i:i+n*s:s` (as jax.ds)."""
    if start is None:
        return slice(None)
    if stride is None:
        stride = 1
    if not isinstance(stride, (int, np.integer)):
        raise ValueError("Non-static stride in `dslice`")
    if size is None:
        start, size = 0, start
    try:
        size = operator.index(size)
    except TypeError:
        raise TypeError(f"plax.ds: the size must be a static integer, got {size!r:.80}") from None
    return Slice(start, size, int(stride))


ds = dslice


def has_ds(idx) -> bool:
    return type(idx) is Slice or (type(idx) is tuple and any(type(i) is Slice for i in idx))


def _index_ndim(i) -> int:
    """How many axes an index entry consumes (None: 0; a boolean mask: its rank)."""
    if i is None:
        return 0
    if isinstance(i, (slice, Slice, int, np.integer)):
        return 1
    shape = getattr(i, "shape", None)
    if shape is None:
        a = np.asarray(i)
        dt, shape = a.dtype, a.shape
    else:
        dt = i.dtype
    return len(shape) if dt == np.bool_ else 1


def _split_ds(shape, idx):
    """(starts, sizes, rest): a dynamic slice of x taking every `Slice` of `idx`, and the index
    that then selects the rest from it."""
    idx = idx if type(idx) is tuple else (idx,)
    consumed = sum(_index_ndim(i) for i in idx if i is not Ellipsis)
    starts, sizes, rest = [0] * len(shape), list(shape), []
    axis = 0
    for i in idx:
        if i is Ellipsis:
            axis += len(shape) - consumed
            rest.append(i)
            continue
        if type(i) is Slice:
            if axis >= len(shape):
                raise IndexError(f"too many indices for array of shape {shape}")
            window = (i.size - 1) * i.stride + 1 if i.size else 0
            if window > shape[axis]:
                raise IndexError(f"plax.ds slice of size {i.size} and stride {i.stride} does "
                                 f"not fit in axis {axis} of size {shape[axis]}")
            starts[axis], sizes[axis] = i.start, window
            rest.append(slice(None, None, i.stride) if i.stride != 1 else slice(None))
        else:
            rest.append(i)
        axis += _index_ndim(i)
    return starts, sizes, tuple(rest)


def ds_getitem(x, idx):
    """x[idx] where idx holds `plax.ds` slices."""
    from plax import lax
    starts, sizes, rest = _split_ds(np.shape(x), idx)
    sub = lax.dynamic_slice(x, starts, sizes)
    return sub[rest]


def ds_update(x, idx, update, drop: bool = False):
    """`update(sub, rest)` applied to the window of x that idx's `plax.ds` slices select.

    The window's start is clamped so that it fits (as lax.dynamic_update_slice); with `drop`,
    a window that does not fit leaves x unchanged instead (a scatter's out-of-bounds rule,
    which `x.at[ds(i, n)]` follows in JAX)."""
    from plax import lax
    shape = np.shape(x)
    starts, sizes, rest = _split_ds(shape, idx)
    sub = lax.dynamic_slice(x, starts, sizes)
    new = lax.dynamic_update_slice(x, update(sub, rest), starts)
    if drop:
        from plax._src.numpy import ufuncs
        fits = None
        for s, n, d in zip(starts, sizes, shape):
            if isinstance(s, (int, np.integer)):
                if not 0 <= s <= d - n:
                    return x
                continue
            ok = ufuncs.logical_and(ufuncs.greater_equal(s, 0), ufuncs.less_equal(s, d - n))
            fits = ok if fits is None else ufuncs.logical_and(fits, ok)
        if fits is not None:
            new = lax.select(lax.broadcast_in_dim(fits, shape, ()), new, x)
    return new


def _check_static_bounds(shape, idx):
    """A Ref's `plax.ds` slice with a static start must fit (as JAX's Ref indexing)."""
    starts, sizes, _ = _split_ds(shape, idx)
    for s, n, d in zip(starts, sizes, shape):
        if isinstance(s, (int, np.integer)) and not 0 <= s <= d - n:
            raise ValueError(f"Out of bound slice: start={s}, size={n}, dim={d}.")


# ---------------------------------------------------------------------------------------------
# Types


class AbstractRef:
    """The type of a Ref: `Ref{f32[3]}`, wrapping the type of its value (`inner_aval`)."""

    __slots__ = ("inner_aval",)

    def __init__(self, inner_aval: ShapedArray):
        self.inner_aval = inner_aval

    shape = property(lambda self: self.inner_aval.shape)
    dtype = property(lambda self: self.inner_aval.dtype)
    weak_type = property(lambda self: self.inner_aval.weak_type)
    ndim = property(lambda self: len(self.inner_aval.shape))
    size = property(lambda self: self.inner_aval.size)

    def str_short(self) -> str:
        return f"Ref{{{self.inner_aval.str_short()}}}"

    __str__ = __repr__ = str_short

    def __eq__(self, other):
        return type(other) is AbstractRef and self.inner_aval == other.inner_aval

    def __hash__(self):
        return hash((AbstractRef, self.inner_aval))


_LIVE, _FROZEN, _FREED = 0, 1, 2


class RefError(ValueError):
    """Misuse of a Ref: a wrong shape or dtype stored, a frozen or freed Ref used, a Ref used
    where it cannot be (returned from a traced function, written inside a transform it was
    not created in)."""


class Ref:
    """A mutable array reference (as jax.Ref), made by `plax.new_ref(value)`.

    `r[idx]` reads, `r[idx] = v` writes (v must have the shape and dtype of `r[idx]`),
    `r[idx] += v` reads and writes, `r.addupdate(v, idx)` adds in place; `plax.freeze(r)`
    gives the final value. Refs may be closed over or passed to jitted functions and used in
    scan / fori_loop / while_loop / cond bodies; a function that makes a Ref, accumulates into
    it and freezes it can be differentiated and vmapped."""

    __slots__ = ("_val", "_aval", "_frame", "_trace", "_state", "__weakref__")

    def __init__(self, val, aval: AbstractRef):
        # not for users: plax.new_ref makes Refs
        self._val, self._aval = val, aval
        self._frame = _top_frame()
        self._trace = _ctx.trace
        self._state = _LIVE

    aval = property(lambda self: self._aval)
    shape = property(lambda self: self._aval.shape)
    dtype = property(lambda self: self._aval.dtype)
    ndim = property(lambda self: self._aval.ndim)
    size = property(lambda self: self._aval.size)
    weak_type = property(lambda self: self._aval.weak_type)

    def __len__(self):
        if not self._aval.shape:
            raise TypeError("len() of unsized object")
        return self._aval.shape[0]

    def __getitem__(self, idx):
        return get(self, idx)

    def __setitem__(self, idx, value):
        set(self, idx, value)

    def get(self, idx=()):
        return get(self, idx)

    def set(self, value, idx=()):
        set(self, idx, value)

    def swap(self, value, idx=()):
        return swap(self, idx, value)

    def addupdate(self, x, idx=()):
        addupdate(self, idx, x)

    @property
    def at(self):
        raise NotImplementedError("Ref.at (views of a Ref) is not supported; index the Ref "
                                  "directly (r[idx], r[idx] = v)")

    def __repr__(self):
        v = self._val
        if isinstance(v, Tracer):
            return f"Ref<{self._aval.inner_aval.str_short()}>({v!r})"
        r = repr(v)
        return "Ref" + r[5:] if r.startswith("Array") else f"Ref({r})"

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    # a Ref is not an array: NumPy and plax.numpy functions must not take it silently
    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"a Ref ({self._aval}) is not an array; read its value with r[...] "
                        "or plax.freeze(r)")


# ---------------------------------------------------------------------------------------------
# Frames: where a Ref's value lives while functions are traced


class _Frame:
    __slots__ = ("trace", "takes_refs", "name", "lifted")

    def __init__(self, trace, takes_refs: bool, name: str):
        self.trace, self.takes_refs, self.name = trace, takes_refs, name
        # (ref, its value, frame, trace and state outside this frame), in lifting order
        self.lifted: list = []


class _Frames(threading.local):
    def __init__(self):
        self.stack: list[_Frame] = []


_frames = _Frames()


def _top_frame():
    s = _frames.stack
    return s[-1] if s else None


def push_frame(trace, takes_refs: bool, name: str) -> _Frame:
    f = _Frame(trace, takes_refs, name)
    _frames.stack.append(f)
    return f


def pop_frame(frame: _Frame) -> list:
    """End `frame`: each Ref lifted into it gets back its outer value; returns the Refs and
    the values they had at the end of the frame (the frame's extra outputs)."""
    stack = _frames.stack
    while stack and stack[-1] is not frame:  # frames left by an exception deeper down
        _restore(stack.pop())
    if stack:
        stack.pop()
    return _restore(frame)


def _restore(frame: _Frame) -> list:
    finals = [(ref, ref._val) for ref, *_ in frame.lifted]
    for ref, val, f, t, st in reversed(frame.lifted):
        ref._val, ref._frame, ref._trace, ref._state = val, f, t, st
    frame.lifted = []
    return finals


def _acquire(ref: Ref, op: str, write: bool):
    """Make `ref` usable in the innermost frame: lift it into each frame between the one it
    lives in and this one (or fail, naming why)."""
    if type(ref) is not Ref:
        raise TypeError(f"`{op}` must be called on a Ref (made by plax.new_ref), got "
                        f"{type(ref).__name__}")
    if ref._state:
        what = "frozen (plax.freeze)" if ref._state == _FROZEN else "freed (plax.free_ref)"
        raise RefError(f"`{op}` on a Ref of type {ref._aval} that was {what}; a Ref cannot be "
                       "used after it is frozen or freed")
    stack = _frames.stack
    home = ref._frame
    if not stack or stack[-1] is home:
        return
    if home is None:
        start = 0
    else:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k] is home:
                start = k + 1
                break
        else:
            raise UnexpectedTracerError(
                f"a Ref of type {ref._aval} made while tracing {home.name} was used after that "
                "trace ended (a Ref cannot leave the function it was made in)")
    for f in stack[start:]:
        if not f.takes_refs:
            if write:
                raise RefError(
                    f"a Ref of type {ref._aval} made outside {f.name} was written inside it; "
                    f"{f.name} can read Refs it closes over but not write them (pass the value "
                    "in and out instead)")
            continue
        val = ref._val
        f.lifted.append((ref, val, ref._frame, ref._trace, ref._state))
        ref._val = f.trace.new_arg(ref._aval.inner_aval)
        ref._frame, ref._trace = f, f.trace


def _check_value(ref: Ref, op: str, value, expected_shape):
    from plax._src.dispatch import asarray_value
    if not (isinstance(value, Tracer) or hasattr(value, "aval")):
        if type(value) is Ref:
            raise TypeError(f"`{op}`: cannot store a Ref in a Ref; read it with r[...]")
        value = asarray_value(value)
    aval = value.aval
    if tuple(aval.shape) != tuple(expected_shape):
        raise RefError(f"Invalid shape for `{op}`. Ref shape: {ref.shape}. Expected shape: "
                       f"{tuple(expected_shape)}. Value shape: {tuple(aval.shape)}.")
    if aval.dtype != ref.dtype:
        raise RefError(f"Invalid dtype for `{op}`. Ref dtype: {ref.dtype.name}. Value dtype: "
                       f"{aval.dtype.name}.")
    if isinstance(value, Tracer):
        _check_tracer(ref, op, value)
    return value


def _check_tracer(ref: Ref, op: str, value: Tracer):
    """A value of a transformation nested inside the one the Ref belongs to cannot be
    stored in it (it would leak out of that transformation)."""
    home = ref._trace
    t = value._trace
    if t is home:
        return
    inner = t
    while t is not None and t is not home:
        inner = t
        t = getattr(t, "parent", None)
    if t is None and home is not EVAL_TRACE:
        return
    kind = type(inner).__name__
    if "Batch" in kind:
        raise RefError(f"performing a {op} operation with vmapped value on an unbatched array "
                       f"reference of type {ref._aval}. Move the array reference to be an "
                       "argument to the vmapped function?")
    if "JVP" in kind or "PartialEval" in kind or "Linearize" in kind:
        raise RefError(f"performing a {op} operation with a differentiated value on a "
                       f"non-differentiated array reference of type {ref._aval}. Move the "
                       "array reference to be an argument of the differentiated function?")
    raise RefError(f"performing a {op} operation with a value traced by {kind} on an array "
                   f"reference of type {ref._aval} made outside that transformation")


def _match_weak(ref: Ref, value):
    if value.aval.weak_type != ref._aval.weak_type:
        from plax._src.lax.elementwise import _convert_element_type
        value = _convert_element_type(value, ref.dtype, weak_type=ref._aval.weak_type)
    return value


def _is_whole(idx) -> bool:  # (None too, as JAX's Ref indexing: r[None] is r[...])
    return idx is None or idx is Ellipsis or (
        type(idx) is tuple and (not idx or (len(idx) == 1 and idx[0] is Ellipsis)))


def _read(x, idx):
    if _is_whole(idx):
        return x
    if has_ds(idx):
        _check_static_bounds(np.shape(x), idx)
        return ds_getitem(x, idx)
    return x[idx]


def _updated(x, idx, value, accumulate: bool):
    if _is_whole(idx):
        return x + value if accumulate else value
    if has_ds(idx):
        return ds_update(x, idx, lambda sub, rest: (
            sub.at[rest].add(value) if accumulate else sub.at[rest].set(value)))
    return x.at[idx].add(value) if accumulate else x.at[idx].set(value)


# ---------------------------------------------------------------------------------------------
# The API


def new_ref(init_val: Any, *, memory_space: Any = None, kind: Any = None) -> Ref:
    """A mutable array reference holding a copy of `init_val` (as jax.new_ref)."""
    from plax._src.dispatch import asarray_value
    if memory_space is not None:
        raise NotImplementedError("plax.new_ref: memory_space is not supported")
    if kind not in (None, "no_grad_no_remat"):
        raise ValueError(f"plax.new_ref: kind must be None or 'no_grad_no_remat', got {kind!r}")
    if type(init_val) is Ref:
        raise TypeError("plax.new_ref: the initial value is a Ref; read it with r[...]")
    if not (isinstance(init_val, Tracer) or hasattr(init_val, "aval")):
        init_val = asarray_value(init_val)
    aval = init_val.aval
    return Ref(init_val, AbstractRef(ShapedArray(aval.shape, aval.dtype, aval.weak_type)))


def empty_ref(ty, memory_space=None) -> Ref:
    """A Ref of type `ty` (a ShapeDtypeStruct, array or aval) whose contents are unspecified
    (zeros here; JAX gives one only under jit)."""
    from plax import lax
    if memory_space is not None:
        raise NotImplementedError("plax.empty_ref: memory_space is not supported")
    try:
        shape, dtype = tuple(ty.shape), dtypes.canonicalize_dtype(ty.dtype)
    except AttributeError:
        raise TypeError(f"plax.empty_ref takes a type with .shape and .dtype (a "
                        f"ShapeDtypeStruct or array), got {ty!r:.100}") from None
    return new_ref(lax.full(shape, 0, dtype))


def get(ref: Ref, idx=None):
    """ref[idx] (as jax.ref.get)."""
    _acquire(ref, "get", False)
    return _read(ref._val, idx)


def swap(ref: Ref, idx, value):
    """Store `value` at ref[idx] and return what was there (as jax.ref.swap)."""
    _acquire(ref, "swap", True)
    x = ref._val
    old = _read(x, idx)
    value = _check_value(ref, "swap", value, np.shape(old))
    new = _match_weak(ref, _updated(x, idx, value, False))
    ref._val = new
    return old


def set(ref: Ref, idx, value) -> None:  # noqa: A001  (jax.ref.set)
    """ref[idx] = value (as jax.ref.set)."""
    swap(ref, idx, value)


def addupdate(ref: Ref, idx, x) -> None:
    """ref[idx] += x, repeated indices accumulating (as jax.ref.addupdate)."""
    _acquire(ref, "addupdate", True)
    cur = ref._val
    shape = cur.aval.shape if _is_whole(idx) else np.shape(_read(cur, idx))
    x = _check_value(ref, "addupdate", x, shape)
    ref._val = _match_weak(ref, _updated(cur, idx, x, True))


def freeze(ref: Ref):
    """The Ref's final value; under tracing the Ref cannot be used afterwards (as jax.freeze:
    eagerly it stays usable)."""
    _acquire(ref, "freeze", False)
    val = ref._val
    if _ctx.trace is not EVAL_TRACE or _frames.stack:
        ref._state = _FROZEN
    return val


def free_ref(ref: Ref):
    """Invalidate `ref` (under tracing; eagerly a no-op, as jax.free_ref)."""
    _acquire(ref, "free_ref", False)
    if _ctx.trace is not EVAL_TRACE or _frames.stack:
        ref._state = _FREED
    return ()


# ---------------------------------------------------------------------------------------------
# Threading Refs through traced functions (used by jit, vmap and control flow)


class UsesRefs(Exception):
    """Raised by a control-flow function's tracing when the traced function used Refs made
    outside it: the caller traces again with their values threaded through explicitly."""

    def __init__(self, refs):
        super().__init__(f"{len(refs)} Ref(s) used")
        self.refs = refs


def current_values(refs) -> list:
    """The values of `refs` here (lifting them into the frames in between)."""
    out = []
    for r in refs:
        _acquire(r, "get", False)
        out.append(r._val)
    return out


def write_back(refs, vals) -> None:
    """Store the values a traced program computed for `refs` back into them."""
    for r, v in zip(refs, vals):
        _acquire(r, "set", True)
        if isinstance(v, Tracer):
            _check_tracer(r, "set", v)
        r._val = v


class bound:
    """`with bound(refs, vals):` inside a traced function: the Refs hold `vals` (the traced
    function's inputs for them) in the current frame; `.finals()` reads their last values."""

    def __init__(self, refs, vals):
        self.refs, self.vals = list(refs), list(vals)

    def __enter__(self):
        frame, trace = _top_frame(), _ctx.trace
        self.saved = [(r._val, r._frame, r._trace, r._state) for r in self.refs]
        for r, v in zip(self.refs, self.vals):
            r._val, r._frame, r._trace = v, frame, trace
        return self

    def finals(self) -> list:
        return [r._val for r in self.refs]

    def __exit__(self, *exc):
        for r, (v, f, t, s) in zip(self.refs, self.saved):
            r._val, r._frame, r._trace, r._state = v, f, t, s
        return False


def inner_ref(val, aval: AbstractRef) -> Ref:
    """A Ref standing, inside a traced function, for a Ref argument (its value `val`)."""
    return Ref(val, aval)


def is_ref(x) -> bool:
    return type(x) is Ref
