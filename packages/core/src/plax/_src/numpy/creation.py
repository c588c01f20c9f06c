"""Array creation and conversion in plax.numpy: array/asarray (host values and nested lists,
tracers included), zeros/ones/full/empty and their *_like forms, arange, linspace, logspace,
eye/identity/tri/tril/triu, meshgrid, astype. Dtypes and weak types follow JAX.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plax import lax
from plax._src import dispatch, dtypes
from plax._src.array import Array
from plax._src.compiled import compiled
from plax._src.core import ShapedArray, Tracer, concrete_or_error
from plax._src.numpy.util import (
    unwrap, broadcast_to, canonicalize_axis, canonicalize_shape, check_arraylike, convert,
    ensure_array, promote_dtypes_inexact, shape, static_int)

__all__ = [
    "array", "asarray", "astype", "copy", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace", "eye",
    "identity", "tri", "tril", "triu", "meshgrid",
]


def _dtype_arg(dtype: Any) -> np.dtype | None:
    return None if dtype is None else dtypes.canonicalize_dtype(dtype)


def _make(value: np.ndarray, dt: np.dtype, weak: bool = False) -> Array:
    value = np.asarray(value, dtype=dt)
    return dispatch.make_array(value, ShapedArray(value.shape, dt, weak))


def _check_int_range(host: np.ndarray, dt: np.dtype) -> None:
    """Python ints that do not fit the canonical int dtype are an error, as in JAX."""
    if host.dtype.kind in "iu" and dt.kind in "iu" and host.size:
        info = np.iinfo(dt)
        lo, hi = host.min(), host.max()
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise OverflowError(f"Python int {bad} too large to convert to {dt.name}")


def _leaves(obj) -> list:
    if isinstance(obj, (list, tuple)):
        return [leaf for item in obj for leaf in _leaves(item)]
    return [obj]


def _stack_nested(obj, dt: np.dtype):
    """A nested list holding tracers/Arrays as one array: each level is stacked."""
    from plax._src.numpy.shape import stack
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise ValueError("array: cannot stack an empty list next to arrays")
        return stack([_stack_nested(o, dt) for o in obj])
    return ensure_array(convert(obj, dt))


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K",
          ndmin: int = 0, *, device=None) -> Any:
    """An array from `object` (array, scalar, nested list/tuple, or anything with __array__).

    Python scalars stay weakly typed; lists get their values' common dtype (canonicalized:
    float32/int32 unless x64 is on). Tracers inside lists are stacked."""
    if order not in (None, "K", "C", "A"):
        raise NotImplementedError(f"array: order={order!r} is not supported; plax arrays are "
                                  "row-major")
    dt = _dtype_arg(dtype)
    ndmin = static_int(ndmin, "the ndmin argument of array")
    obj = unwrap(object)
    if isinstance(obj, (Array, Tracer)):
        out = obj if dt is None else lax._convert_element_type(obj, dt, False)
    elif isinstance(obj, (list, tuple)):
        leaves = [unwrap(v) for v in _leaves(obj)]
        if any(isinstance(v, (Array, Tracer)) for v in leaves):
            check_arraylike("array", *leaves)
            out = _stack_nested(obj, dt or dtypes.result_type(*leaves))
        else:
            try:
                host = np.array(obj)
            except ValueError as e:
                raise ValueError(f"array: cannot make an array from a ragged nested sequence "
                                 f"({e})") from None
            if host.dtype == np.object_:
                raise TypeError(f"array: cannot convert {obj!r:.100} to an array")
            target = dt or dtypes.canonicalize_dtype(host.dtype)
            if not leaves or all(type(v) is int for v in leaves):
                _check_int_range(host, target)
            out = _make(host, target)
    elif type(obj) in (bool, int, float, complex):
        weak = dt is None and type(obj) is not bool
        target = dt or dtypes.scalar_dtype(obj)
        if type(obj) is int:
            _check_int_range(np.asarray(obj), target)
        if type(obj) is complex and not dtypes.is_complex(target) and target != dtypes.bool_:
            raise TypeError(f"array: cannot convert the complex scalar {obj!r} to "
                            f"{target.name}; take its real part first")
        out = _make(np.asarray(obj), target, weak)
    else:
        if not isinstance(obj, (np.ndarray, np.generic)):
            if not hasattr(obj, "__array__"):
                raise TypeError(f"array: cannot convert a {type(obj).__name__} to an array")
            obj = np.asarray(obj)
        if obj.dtype == np.object_:
            raise TypeError(f"array: cannot convert {obj!r:.100} (dtype object) to an array")
        out = _make(obj, dt or dtypes.canonicalize_dtype(obj.dtype))
    nd = len(shape(out))
    if nd < ndmin:
        out = lax.expand_dims(out, tuple(range(ndmin - nd)))
    return out


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, copy: bool | None = None,
            device=None) -> Any:
    """Like `array`; arrays of the right dtype come back as they are."""
    return array(a, dtype=dtype, copy=bool(copy), order=order)


def astype(x: Any, dtype: Any, /, *, copy: bool = False, device=None) -> Any:
    """`x` cast to `dtype` (complex to real keeps the real part; to bool tests != 0)."""
    check_arraylike("astype", x)
    return lax.convert_element_type(x, dtypes.canonicalize_dtype(dtype))


def copy(a: Any, order: str | None = None) -> Any:
    """Arrays are immutable: a copy is the same values as an array."""
    return array(a, copy=True, order=order)


# ---------------------------------------------------------------------------------------------
# Filled arrays


def full(shape: Any, fill_value: Any, dtype: Any = None, *, device=None) -> Any:
    """An array of `shape` filled with `fill_value` (which may be an array to broadcast)."""
    s = canonicalize_shape(shape, "full")
    dt = _dtype_arg(dtype)
    if len(np.shape(fill_value)) == 0 and not isinstance(fill_value, (list, tuple)):
        check_arraylike("full", fill_value)
        return lax.full(s, fill_value, dt)
    return broadcast_to(asarray(fill_value, dtype=dt), s, "full")


def zeros(shape: Any, dtype: Any = None, *, device=None) -> Any:
    return lax.full(canonicalize_shape(shape, "zeros"), 0,
                    _dtype_arg(dtype) or dtypes.default_float_dtype())


def ones(shape: Any, dtype: Any = None, *, device=None) -> Any:
    return lax.full(canonicalize_shape(shape, "ones"), 1,
                    _dtype_arg(dtype) or dtypes.default_float_dtype())


def empty(shape: Any, dtype: Any = None, *, device=None) -> Any:
    """Like zeros: there is no uninitialized memory to hand out."""
    return zeros(shape, dtype)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None, *,
              device=None) -> Any:
    check_arraylike("full_like", a)
    s = None if shape is None else canonicalize_shape(shape, "full_like")
    dt = _dtype_arg(dtype)
    if len(np.shape(fill_value)) == 0 and not isinstance(fill_value, (list, tuple)):
        check_arraylike("full_like", fill_value)
        return lax.full_like(a, fill_value, dt, s)
    target = np.shape(a) if s is None else s
    return broadcast_to(asarray(fill_value, dtype=dt or ensure_array(a).dtype), target,
                        "full_like")


def zeros_like(a: Any, dtype: Any = None, shape: Any = None, *, device=None) -> Any:
    return full_like(a, 0, dtype, shape)


def ones_like(a: Any, dtype: Any = None, shape: Any = None, *, device=None) -> Any:
    return full_like(a, 1, dtype, shape)


def empty_like(prototype: Any, dtype: Any = None, shape: Any = None, *, device=None) -> Any:
    return full_like(prototype, 0, dtype, shape)


# ---------------------------------------------------------------------------------------------
# Ranges


def _concrete_scalar(x: Any, fun_name: str, argname: str):
    x = unwrap(x)
    value = concrete_or_error(np.asarray, x, f"the {argname} argument of {fun_name}")
    if value.ndim:
        raise ValueError(f"{fun_name}: {argname} must be a scalar, got shape {value.shape}")
    return value[()]


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None, *,
           device=None) -> Any:
    """Evenly spaced values in [start, stop). Bounds must be concrete (the size is static)."""
    args = [a for a in (start, stop, step) if a is not None]
    check_arraylike("arange", *args)
    dt = _dtype_arg(dtype) or dtypes.result_type(*args)
    vals = [_concrete_scalar(a, "arange", n) if a is not None else None
            for a, n in ((start, "start"), (stop, "stop"), (step, "step"))]
    start_v, stop_v, step_v = vals
    if stop_v is None:
        start_v, stop_v = 0, start_v
    step_v = 1 if step_v is None else step_v
    if step_v == 0:
        raise ValueError("arange: step must not be zero")
    if dtypes.is_int(dt) and all(float(v) == int(v) for v in (start_v, stop_v, step_v)):
        start_i, stop_i, step_i = int(start_v), int(stop_v), int(step_v)
        n = len(range(start_i, stop_i, step_i))
        out = lax.iota(dt, n)
        if step_i != 1:
            out = lax.mul(out, convert(step_i, dt))
        if start_i != 0:
            out = lax.add(out, convert(start_i, dt))
        return out
    # float ranges are computed on the host like NumPy (the count is static anyway)
    host = np.arange(start_v, stop_v, step_v,
                     dtype=np.float64 if dtypes.is_float(dt) else None)
    return _make(host, dt)


@compiled("num", "endpoint", "retstep", "dtype", "axis", "device")
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *, device=None):
    """`num` evenly spaced values from start to stop (arrays of bounds broadcast together;
    the new axis goes at `axis`)."""
    check_arraylike("linspace", start, stop)
    num = static_int(num, "the num argument of linspace")
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    out_dt = _dtype_arg(dtype)
    start, stop = promote_dtypes_inexact(start, stop)
    start, stop = ensure_array(start), ensure_array(stop)
    if out_dt is None:
        out_dt = start.dtype
    # JAX's formula, for the same bits: computed in the inexact form of the output dtype as
    # start * (1 - t) + stop * t with t = i / div (which recovers both endpoints)
    work = out_dt if dtypes.is_inexact(out_dt) else dtypes.default_float_dtype()
    start, stop = convert(start, work, False), convert(stop, work, False)
    bshape = tuple(np.broadcast_shapes(start.shape, stop.shape))
    start, stop = broadcast_to(start, bshape, "linspace"), broadcast_to(stop, bshape, "linspace")
    axis = canonicalize_axis(axis, len(bshape) + 1, "linspace")
    keep = tuple(d for d in range(len(bshape) + 1) if d != axis)
    div = (num - 1) if endpoint else num
    if num > 1:
        step = lax.div(lax.sub(stop, start), convert(div, work))
        real = dtypes.finfo(work).dtype  # the real dtype (for complex bounds)
        shape = bshape[:axis] + (div,) + bshape[axis:]
        t = lax.div(lax.broadcasted_iota(real, shape, axis), convert(div, real))
        t = lax.convert_element_type(t, work)
        one = lax.full((), 1, work)
        out = lax.add(lax.mul(lax.broadcast_in_dim(start, shape, keep), lax.sub(one, t)),
                      lax.mul(lax.broadcast_in_dim(stop, shape, keep), t))
        if endpoint:  # the last value is exactly stop, as NumPy
            out = lax.concatenate([out, lax.expand_dims(stop, (axis,))], axis)
    elif num == 1:
        step = convert(np.nan, work) if endpoint else lax.sub(stop, start)
        out = lax.expand_dims(start, (axis,))
    else:
        step = convert(np.nan, work)
        out = lax.full(bshape[:axis] + (0,) + bshape[axis:], 0, work)
    if dtypes.is_int(out_dt):
        out = lax.floor(out)
    out = lax.convert_element_type(out, out_dt)
    return (out, step) if retstep else out


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0):
    """base ** linspace(start, stop)."""
    from plax._src.numpy.ufuncs import power
    check_arraylike("logspace", start, stop, base)
    out_dt = _dtype_arg(dtype)
    start, stop = promote_dtypes_inexact(start, stop)
    work = ensure_array(start).dtype
    lin = linspace(start, stop, num, endpoint=endpoint, axis=axis)
    base = convert(base, work, True) if len(np.shape(base)) == 0 else lax.expand_dims(
        ensure_array(base).astype(work), (canonicalize_axis(axis, len(np.shape(base)) + 1),))
    out = power(base, lin)
    return out if out_dt is None else lax.convert_element_type(out, out_dt)


# ---------------------------------------------------------------------------------------------
# Matrices


def _diag_mask(n: int, m: int, k: int, cmp) -> Any:
    rows = lax.broadcasted_iota(dtypes.int32, (n, m), 0)
    cols = lax.broadcasted_iota(dtypes.int32, (n, m), 1)
    return cmp(lax.add(rows, np.int32(k)), cols) if k else cmp(rows, cols)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None, *, device=None) -> Any:
    n = static_int(N, "the N argument of eye")
    m = n if M is None else static_int(M, "the M argument of eye")
    k = static_int(k, "the k argument of eye")
    if n < 0 or m < 0:
        raise ValueError(f"eye: negative dimensions are not allowed, got N={n}, M={m}")
    dt = _dtype_arg(dtype) or dtypes.default_float_dtype()
    if not -n < k < m:  # no diagonal inside the matrix (k may exceed int32, as in JAX)
        return lax.full((n, m), 0, dt)
    return lax.convert_element_type(_diag_mask(n, m, k, lax.eq), dt)


def identity(n: int, dtype: Any = None) -> Any:
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """Ones at and below the k-th diagonal."""
    n = static_int(N, "the N argument of tri")
    m = n if M is None else static_int(M, "the M argument of tri")
    k = static_int(k, "the k argument of tri")
    dt = _dtype_arg(dtype) or dtypes.default_float_dtype()
    return lax.convert_element_type(_diag_mask(n, m, k, lax.ge), dt)


def _tri_select(fun_name: str, m: Any, k: Any, keep_cmp) -> Any:
    check_arraylike(fun_name, m)
    m = ensure_array(m)
    if m.ndim < 2:
        raise ValueError(f"{fun_name}: the argument must be at least 2-D, got shape {m.shape}")
    k = static_int(k, f"the k argument of {fun_name}")
    n_, m_ = m.shape[-2:]
    mask = lax.broadcast_in_dim(_diag_mask(n_, m_, k, keep_cmp), m.shape,
                                (m.ndim - 2, m.ndim - 1))
    return lax.select(mask, m, lax.full_like(m, 0))


def tril(m: Any, k: int = 0) -> Any:
    """`m` with the elements above the k-th diagonal zeroed (last two axes)."""
    return _tri_select("tril", m, k, lax.ge)


def triu(m: Any, k: int = 0) -> Any:
    """`m` with the elements below the k-th diagonal zeroed (last two axes)."""
    return _tri_select("triu", m, k - 1, lambda a, b: lax.lt(a, b))


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    """Coordinate arrays from 1-D coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    check_arraylike("meshgrid", *xi)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrs = [ensure_array(x) for x in xi]
    for i, a in enumerate(arrs):
        if a.ndim != 1:
            raise ValueError(f"meshgrid requires 1-D inputs; argument {i} has shape {a.shape}")
    sizes = [a.shape[0] for a in arrs]
    if indexing == "xy" and len(arrs) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, a in enumerate(arrs):
        d = i
        if indexing == "xy" and len(arrs) >= 2 and i < 2:
            d = 1 - i
        if sparse:
            s = [1] * len(arrs)
            s[d] = a.shape[0]
            out.append(lax.reshape(a, tuple(s)))
        else:
            out.append(lax.broadcast_in_dim(a, tuple(sizes), (d,)))
    return out

