"""jax.numpy's ufunc objects: `plax.numpy.ufunc` (the class), `frompyfunc`, and the ufunc
instances JAX exposes (add, multiply, subtract, maximum, minimum, logaddexp, logaddexp2, the
logical and bitwise binaries, negative) with reduce, accumulate, at, reduceat and outer, each
the matching plax reduction where one exists and a loop over the axis otherwise (as JAX)."""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from plax._src import dtypes
from plax._src.numpy import ufuncs as _u
from plax._src.numpy.util import canonicalize_axis, check_arraylike

__all__ = ["ufunc", "frompyfunc", "add", "multiply", "subtract", "maximum", "minimum",
           "logaddexp", "logaddexp2", "logical_and", "logical_or", "logical_xor", "bitwise_and",
           "bitwise_or", "bitwise_xor", "negative"]

_AT_INPLACE = ("plax.numpy.ufunc.at cannot update in place (arrays are immutable): pass "
               "inplace=False and use the returned array, e.g. "
               "`x = plax.numpy.add.at(x, idx, vals, inplace=False)`")


def _pnp():
    from plax import numpy as pnp
    return pnp


class ufunc:
    """A NumPy-style universal function over plax arrays: calling it applies `func`
    elementwise (vectorized over broadcast arguments); binary ufuncs also have reduce,
    accumulate, at, reduceat and outer. Build your own with `frompyfunc`."""

    def __init__(self, func: Callable[..., Any], /, nin: int, nout: int, *,
                 name: str | None = None, nargs: int | None = None, identity: Any = None,
                 call: Callable[..., Any] | None = None, reduce: Callable[..., Any] | None = None,
                 accumulate: Callable[..., Any] | None = None,
                 at: Callable[..., Any] | None = None,
                 reduceat: Callable[..., Any] | None = None):
        if not callable(func):
            raise TypeError(f"ufunc: func must be callable, got {type(func).__name__}")
        self.__doc__ = func.__doc__
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self._props = dict(func=func, nin=operator.index(nin), nout=operator.index(nout),
                           nargs=operator.index(nargs or nin), identity=identity, call=call,
                           reduce=reduce, accumulate=accumulate, at=at, reduceat=reduceat)
        if call is not None:
            try:  # the array API's signature checks look at the wrapped function's
                self.__signature__ = inspect.signature(call)
            except (TypeError, ValueError):
                pass

    _func = property(lambda self: self._props["func"])
    nin = property(lambda self: self._props["nin"])
    nout = property(lambda self: self._props["nout"])
    nargs = property(lambda self: self._props["nargs"])
    identity = property(lambda self: self._props["identity"])

    def _key(self):
        return (self._func, self.__name__, self.identity, self.nin, self.nout, self.nargs)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ufunc) and self._key() == other._key()

    def __repr__(self) -> str:
        return f"<plax.numpy.ufunc '{self.__name__}'>"

    def __call__(self, *args, out=None, where=None):
        if out is not None:
            raise NotImplementedError(f"out argument of {self}")
        if where is not None:
            raise NotImplementedError(f"where argument of {self}")
        call = self._props["call"]
        if call is not None:
            return call(*args)
        check_arraylike(self.__name__, *args)
        return _pnp().vectorize(self._func)(*args)

    def _binary(self, method: str) -> None:
        if self.nin != 2:
            raise ValueError(f"{method} only supported for binary ufuncs")
        if self.nout != 1:
            raise ValueError(f"{method} only supported for functions returning a single value")

    def _result_dtype(self, *args):
        from plax import eval_shape
        ones = [np.ones((), dtypes.dtype(a)) for a in args]
        return eval_shape(self._func, *ones).dtype

    # -- reduce --------------------------------------------------------------------------------

    def reduce(self, a, axis: int | None = 0, dtype=None, out=None, keepdims: bool = False,
               initial=None, where=None):
        """Reduce `a` along `axis` by repeated application (add.reduce is sum, ...)."""
        check_arraylike(f"{self.__name__}.reduce", a)
        self._binary("reduce")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.reduce()")
        if where is not None:
            check_arraylike(f"{self.__name__}.reduce", where)
            if self.identity is None and initial is None:
                raise ValueError(f"reduction operation {self.__name__!r} does not have an "
                                 "identity, so to use a where mask one has to specify "
                                 "'initial'.")
            if dtypes.dtype(where) != dtypes.bool_:
                raise ValueError(f"where argument must have dtype=bool; got "
                                 f"dtype={dtypes.dtype(where)}")
        reduce = self._props["reduce"] or self._reduce_via_loop
        return reduce(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
                      where=where)

    def _reduce_via_loop(self, a, axis=0, dtype=None, keepdims=False, initial=None,
                         where=None):
        from plax import lax
        pnp = _pnp()
        a = pnp.asarray(a)
        if initial is None:
            initial = self.identity
        if dtype is None:
            dtype = self._result_dtype(a, a)
        if where is not None:
            where = pnp.broadcast_to(where, a.shape)
        if isinstance(axis, tuple):
            raise NotImplementedError(f"{self.__name__}.reduce over a tuple of axes")
        if axis is None:
            final = (1,) * a.ndim if keepdims else ()
            a = a.ravel()
            where = None if where is None else where.ravel()
            axis = 0
        else:
            axis = canonicalize_axis(axis, a.ndim, f"{self.__name__}.reduce")
            final = (*a.shape[:axis], *((1,) if keepdims else ()), *a.shape[axis + 1:])
        a = pnp.moveaxis(a, axis, 0)
        where = None if where is None else pnp.moveaxis(where, axis, 0)
        if a.shape[0] == 0:
            if initial is None:
                raise ValueError(f"zero-size array to reduction operation {self.__name__} "
                                 "which has no identity")
            return pnp.full(final, initial, dtype)

        def body(i, val):
            new = self(val, a[i].astype(dtype))
            return new if where is None else pnp.where(where[i], new, val)

        start, init = (1, a[0]) if initial is None else (0, initial)
        init = pnp.broadcast_to(pnp.asarray(init).astype(dtype), a.shape[1:])
        out = lax.fori_loop(start, a.shape[0], body, init)
        return out.reshape(final) if keepdims else out

    # -- accumulate ----------------------------------------------------------------------------

    def accumulate(self, a, axis: int = 0, dtype=None, out=None):
        """The running reduction along `axis` (add.accumulate is cumsum, ...)."""
        self._binary("accumulate")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.accumulate()")
        check_arraylike(f"{self.__name__}.accumulate", a)
        accumulate = self._props["accumulate"] or self._accumulate_via_scan
        return accumulate(a, axis=axis, dtype=dtype)

    def _accumulate_via_scan(self, a, axis=0, dtype=None):
        from plax import lax
        pnp = _pnp()
        a = pnp.asarray(a)
        if dtype is None:
            dtype = self._result_dtype(a, a)
        if axis is None or isinstance(axis, tuple):
            raise ValueError("accumulate does not allow multiple axes")
        axis = canonicalize_axis(axis, a.ndim, f"{self.__name__}.accumulate")
        if a.size == 0:
            return pnp.zeros(a.shape, dtype)
        a = pnp.moveaxis(a, axis, 0).astype(dtype)

        def step(carry, x):
            y = self(carry, x)
            return y, y

        _, rest = lax.scan(step, a[0], a[1:])
        return pnp.moveaxis(pnp.concatenate([a[:1], rest]), 0, axis)

    # -- at ------------------------------------------------------------------------------------

    def at(self, a, indices, b=None, /, *, inplace: bool = True):
        """`a` with the ufunc applied at `indices` (with `b` for binary ufuncs), repeated
        indices applied repeatedly; needs inplace=False (the updated copy is returned)."""
        if inplace:
            raise NotImplementedError(_AT_INPLACE)
        at = self._props["at"] or self._at_via_scan
        return at(a, indices) if b is None else at(a, indices, b)

    def _at_via_scan(self, a, indices, *args):
        from plax import lax
        pnp = _pnp()
        check_arraylike(f"{self.__name__}.at", a, *args)
        dtype = self._result_dtype(a, *args)
        a = pnp.asarray(a).astype(dtype)
        args = tuple(pnp.asarray(x).astype(dtype) for x in args)
        if not isinstance(indices, tuple):
            indices = (indices,)
        if not indices:
            return a
        shapes = [np.shape(i) for i in indices if not isinstance(i, slice)]
        shape = np.broadcast_shapes(*shapes) if shapes else ()
        if not shape:
            return a.at[indices].set(self(a[indices], *args))
        count = math.prod(shape)
        if args:
            x = args[0]
            x = pnp.broadcast_to(x, (*shape, *x.shape[len(shape):]))
            args = (x.reshape(count, *x.shape[len(shape):]),)
        flat = [i if isinstance(i, slice) else pnp.broadcast_to(i, shape).ravel()
                for i in indices]

        def step(carry, i):
            idx = tuple(j if isinstance(j, slice) else j[i] for j in flat)
            return carry.at[idx].set(self(carry[idx], *(x[i] for x in args))), None

        out, _ = lax.scan(step, a, pnp.arange(count))
        return out

    # -- reduceat ------------------------------------------------------------------------------

    def reduceat(self, a, indices, axis: int = 0, dtype=None, out=None):
        """Reductions over the segments [indices[i], indices[i+1]) of `a` along `axis`."""
        self._binary("reduceat")
        if out is not None:
            raise NotImplementedError(f"out argument of {self.__name__}.reduceat()")
        reduceat = self._props["reduceat"] or self._reduceat_via_loop
        return reduceat(a, indices, axis=axis, dtype=dtype)

    def _reduceat_via_loop(self, a, indices, axis=0, dtype=None):
        from plax import lax
        pnp = _pnp()
        check_arraylike(f"{self.__name__}.reduceat", a, indices)
        a, indices = pnp.asarray(a), pnp.asarray(indices)
        if a.ndim == 0:
            raise ValueError(f"reduceat: a must have 1 or more dimension, got a.shape={a.shape}")
        if indices.ndim != 1:
            raise ValueError(f"reduceat: indices must be one-dimensional, got "
                             f"indices.shape={indices.shape}")
        if axis is None or isinstance(axis, (tuple, list)):
            raise ValueError("reduceat requires a single integer axis.")
        axis = canonicalize_axis(axis, a.ndim, f"{self.__name__}.reduceat")
        if dtype is not None:
            a = a.astype(dtype)
        out = pnp.take(a, indices, axis=axis)
        bounds = pnp.append(indices, a.shape[axis])
        shape = [1] * out.ndim
        shape[axis] = bounds.shape[0]
        bounds = bounds.reshape(shape)
        start = lax.slice_in_dim(bounds, 0, bounds.shape[axis] - 1, axis=axis)
        end = lax.slice_in_dim(bounds, 1, bounds.shape[axis], axis=axis)

        def body(i, acc):
            row = pnp.take(a, pnp.reshape(i, (1,)), axis=axis)
            return pnp.where((i > start) & (i < end), self(acc, row), acc)

        return lax.fori_loop(0, a.shape[axis], body, out)

    # -- outer ---------------------------------------------------------------------------------

    def outer(self, A, B, /):
        """self(A[i..., None...], B[None..., j...]): shape A.shape + B.shape."""
        from plax import vmap
        self._binary("outer")
        check_arraylike(f"{self.__name__}.outer", A, B)
        pnp = _pnp()
        A, B = pnp.asarray(A), pnp.asarray(B)
        out = vmap(vmap(self, (None, 0)), (0, None))(A.ravel(), B.ravel())
        return out.reshape(*A.shape, *B.shape)


def frompyfunc(func: Callable[..., Any], /, nin: int, nout: int, *, identity: Any = None
               ) -> ufunc:
    """A ufunc from a function of scalars (applied through plax.numpy.vectorize)."""
    return ufunc(func, nin, nout, identity=identity)


# ---------------------------------------------------------------------------------------------
# The reductions of the built-in ufuncs (JAX's choices)


def _with_dtype(out, dtype):
    return out if dtype is None else out.astype(dtype)


def _sum(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
    return _pnp().sum(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
                      where=where)


def _prod(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
    return _pnp().prod(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial,
                       where=where)


def _extremum(name):
    def reduce(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
        out = getattr(_pnp(), name)(a, axis=axis, keepdims=keepdims, initial=initial,
                                    where=where)
        return _with_dtype(out, dtype)
    return reduce


def _logical(name, combine):
    def reduce(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
        pnp = _pnp()
        out = getattr(pnp, name)(pnp.asarray(a).astype(bool), axis=axis, keepdims=keepdims,
                                 where=where)
        if initial is not None:
            out = combine(out, pnp.asarray(initial).astype(bool))
        return _with_dtype(out, dtype)
    return reduce


def _logaddexp_reduce(base2: bool):
    def reduce(a, axis=0, dtype=None, keepdims=False, initial=None, where=None):
        from plax.nn import logsumexp
        pnp = _pnp()
        a = pnp.asarray(a)
        if not dtypes.is_inexact(a.dtype):
            a = a.astype(dtypes.default_float_dtype())
        ln2 = np.asarray(math.log(2), a.dtype)
        x = a * ln2 if base2 else a
        out = logsumexp(x, axis=axis, keepdims=keepdims, where=where)
        if base2:
            out = out / ln2
        if initial is not None:
            out = (_u.logaddexp2 if base2 else _u.logaddexp)(out, initial)
        return _with_dtype(out, dtype)
    return reduce


def _at(method):
    def at(a, indices, b):
        return getattr(_pnp().asarray(a).at[indices], method)(b)
    return at


def _subtract_at(a, indices, b):
    return _pnp().asarray(a).at[indices].add(-_pnp().asarray(b))


def _cumulative(name):
    def accumulate(a, axis=0, dtype=None):
        return getattr(_pnp(), name)(a, axis=axis, dtype=dtype)
    return accumulate


def _binary(func, identity, **methods):
    return ufunc(func, 2, 1, name=func.__name__, identity=identity, call=func, **methods)


add = _binary(_u.add, 0, reduce=_sum, accumulate=_cumulative("cumsum"), at=_at("add"))
multiply = _binary(_u.multiply, 1, reduce=_prod, accumulate=_cumulative("cumprod"),
                   at=_at("multiply"))
subtract = _binary(_u.subtract, None, at=_subtract_at)
maximum = _binary(_u.maximum, None, reduce=_extremum("max"))
minimum = _binary(_u.minimum, None, reduce=_extremum("min"))
logaddexp = _binary(_u.logaddexp, -np.inf, reduce=_logaddexp_reduce(False))
logaddexp2 = _binary(_u.logaddexp2, -np.inf, reduce=_logaddexp_reduce(True))
logical_and = _binary(_u.logical_and, True, reduce=_logical("all", _u.logical_and))
logical_or = _binary(_u.logical_or, False, reduce=_logical("any", _u.logical_or))
logical_xor = _binary(_u.logical_xor, False)
bitwise_and = _binary(_u.bitwise_and, -1)
bitwise_or = _binary(_u.bitwise_or, 0)
bitwise_xor = _binary(_u.bitwise_xor, 0)
negative = ufunc(_u.negative, 1, 1, name="negative", call=_u.negative)
