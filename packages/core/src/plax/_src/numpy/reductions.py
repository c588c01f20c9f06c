"""Reductions of plax.numpy with NumPy's axis/keepdims/where/initial arguments and JAX's dtypes:
sums and products of small integers accumulate in the default int, 16-bit floats accumulate in
float32, means and variances of integers are floats, and results are never weakly typed.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.numpy import ufuncs
from plax._src.numpy.util import (
    broadcast_to, canonicalize_axes, canonicalize_axis, check_arraylike, check_no_out, convert,
    ensure_array, promote_dtypes_inexact, select, static_int, to_inexact)

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "all", "any", "mean", "var", "std",
    "argmax", "argmin", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nancumsum",
    "nancumprod", "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd",
    "count_nonzero", "ptp", "average", "median", "nanmedian", "nanargmax", "nanargmin", "diff",
    "quantile", "nanquantile", "percentile", "nanpercentile",
]


def _upcast_16(dt: np.dtype) -> np.dtype:
    # 16-bit floats accumulate in float32 (as JAX), then the result is cast back
    return dtypes.float32 if dt in (dtypes.float16, dtypes.bfloat16) else dt


def _promote_integers(dt: np.dtype) -> np.dtype:
    """Sums and products of bools and small integers give the default int (as JAX)."""
    if dt == dtypes.bool_:
        return dtypes.default_int_dtype()
    default = dtypes.default_int_dtype()
    if dtypes.is_signed(dt) and dt.itemsize < default.itemsize:
        return default
    if dtypes.is_unsigned(dt) and dt.itemsize < default.itemsize:
        return np.dtype(f"uint{default.itemsize * 8}")
    return dt


def _keepdims(x, axes: tuple, keepdims: bool):
    return lax.expand_dims(x, sorted(axes)) if keepdims and axes else x


def _where_mask(where, shape: tuple, fun_name: str):
    check_arraylike(fun_name, where)
    w = ensure_array(where)
    if w.dtype != dtypes.bool_:
        raise TypeError(f"{fun_name}: where must be a boolean array, got dtype {w.dtype.name}")
    return broadcast_to(w, shape, fun_name)


def _reduce(fun_name: str, a, axis, dtype, keepdims, initial, where, *, reducer, identity,
            combine, result_dtype, upcast: bool, mask_value=None):
    """The common skeleton: mask with `where`, reduce `axes`, fold in `initial`, keep dims.

    `identity(dtype)` is the reduction's identity (None if it has none: then `where` needs
    `initial`, and masked elements get `mask_value(dtype)`, which never wins)."""
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    out_dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else result_dtype(a.dtype)
    work = _upcast_16(out_dt) if upcast else out_dt
    axes = canonicalize_axes(axis, a.ndim, fun_name)
    if identity is None:
        if where is not None and initial is None:
            raise ValueError(f"reduction operation {fun_name} with where requires initial")
        if initial is None and builtins.any(a.shape[i] == 0 for i in axes):
            raise ValueError(f"zero-size array to reduction operation {fun_name} which has no "
                             "identity")
    x = lax._convert_element_type(a, work, False)
    if where is not None:
        fill = (identity or mask_value)(work)
        x = select(_where_mask(where, a.shape, fun_name), x, convert(fill, work))
    out = reducer(x, axes) if axes else x
    if initial is not None:
        check_arraylike(fun_name, initial)
        if np.ndim(initial) != 0:
            raise ValueError(f"{fun_name}: initial must be a scalar, got shape "
                             f"{np.shape(initial)}")
        out = combine(out, convert(initial, work))
    out = _keepdims(out, axes, keepdims)
    return lax._convert_element_type(out, out_dt, False)


def _max_identity(dt):
    if dt == dtypes.bool_:
        return False
    if dtypes.is_int(dt):
        return np.iinfo(dt).min
    return -np.inf


def _min_identity(dt):
    if dt == dtypes.bool_:
        return True
    if dtypes.is_int(dt):
        return np.iinfo(dt).max
    return np.inf


def _sum_reducer(x, axes):
    if x.dtype == dtypes.bool_:
        return lax.reduce_or(x, axes)
    return lax.reduce_sum(x, axes)


def _prod_reducer(x, axes):
    if x.dtype == dtypes.bool_:
        return lax.reduce_and(x, axes)
    return lax.reduce_prod(x, axes)


def sum(a: Any, axis: Any = None, dtype: Any = None, out: None = None,  # noqa: A001
        keepdims: bool = False, initial: Any = None, where: Any = None,
        promote_integers: bool = True) -> Any:
    check_no_out("sum", out)
    return _reduce("sum", a, axis, dtype, keepdims, initial, where,
                   reducer=_sum_reducer, identity=lambda dt: 0, upcast=True,
                   combine=lambda x, y: ufuncs.add(x, y),
                   result_dtype=_promote_integers if promote_integers else (lambda d: d))


def prod(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, initial: Any = None, where: Any = None,
         promote_integers: bool = True) -> Any:
    check_no_out("prod", out)
    return _reduce("prod", a, axis, dtype, keepdims, initial, where,
                   reducer=_prod_reducer, identity=lambda dt: 1, upcast=True,
                   combine=lambda x, y: ufuncs.multiply(x, y),
                   result_dtype=_promote_integers if promote_integers else (lambda d: d))


def max(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    """The maximum; NaNs propagate (see nanmax)."""
    check_no_out("max", out)
    return _reduce("max", a, axis, None, keepdims, initial, where,
                   reducer=lax.reduce_max, identity=None, upcast=False, combine=lax.max,
                   result_dtype=lambda d: d, mask_value=_max_identity)


def min(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Any:
    check_no_out("min", out)
    return _reduce("min", a, axis, None, keepdims, initial, where,
                   reducer=lax.reduce_min, identity=None, upcast=False, combine=lax.min,
                   result_dtype=lambda d: d, mask_value=_min_identity)


amax, amin = max, min


def _bool_reduce(fun_name, reducer, identity, a, axis, out, keepdims, where):
    check_no_out(fun_name, out)
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if a.dtype != dtypes.bool_:
        a = ufuncs.not_equal(a, convert(0, a.dtype))
    return _reduce(fun_name, a, axis, None, keepdims, None, where, reducer=reducer,
                   identity=lambda dt: identity, upcast=False, combine=None,
                   result_dtype=lambda d: dtypes.bool_)


def all(a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *,  # noqa: A001
        where: Any = None) -> Any:
    return _bool_reduce("all", lax.reduce_and, True, a, axis, out, keepdims, where)


def any(a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *,  # noqa: A001
        where: Any = None) -> Any:
    return _bool_reduce("any", lax.reduce_or, False, a, axis, out, keepdims, where)


# ---------------------------------------------------------------------------------------------
# Means and variances


def _count(fun_name, a, axes, where, work):
    """How many elements each reduction sees: static without `where`, else a sum of the mask."""
    if where is None:
        return convert(math.prod(a.shape[i] for i in axes), work)
    mask = lax.convert_element_type(_where_mask(where, a.shape, fun_name), work)
    return lax.reduce_sum(mask, axes) if axes else mask


def mean(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: Any = None) -> Any:
    """Arithmetic mean (integers give the default float; 16-bit floats accumulate in f32)."""
    check_no_out("mean", out)
    check_arraylike("mean", a)
    a = ensure_array(a)
    out_dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else to_inexact(a.dtype)
    work = _upcast_16(to_inexact(out_dt))  # an integer dtype= still averages in floats
    axes = canonicalize_axes(axis, a.ndim, "mean")
    total = sum(a, axis=axes, dtype=work, where=where)
    result = lax.div(total, _count("mean", a, axes, where, work))
    return lax._convert_element_type(_keepdims(result, axes, keepdims), out_dt, False)


def _real_dtype(dt):
    return {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)


def var(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: Any = None) -> Any:
    """Variance with `ddof` (or `correction`) degrees of freedom removed; NaN when no degrees
    of freedom are left. Complex inputs give the real variance of |a - mean|."""
    check_no_out("var", out)
    if correction is not None:
        if ddof != 0:
            raise ValueError("var: ddof and correction cannot both be given")
        ddof = correction
    check_arraylike("var", a)
    a = ensure_array(a)
    if dtype is not None:
        out_dt = dtypes.canonicalize_dtype(dtype)
        if not dtypes.is_inexact(out_dt):
            raise ValueError(f"var: dtype must be inexact, got {out_dt.name}")
    else:
        out_dt = _real_dtype(to_inexact(a.dtype))
    work = _upcast_16(to_inexact(a.dtype))
    axes = canonicalize_axes(axis, a.ndim, "var")
    x = lax._convert_element_type(a, work, False)
    centered = ufuncs.subtract(x, mean(x, axis=axes, keepdims=True, where=where))
    if dtypes.is_complex(work):
        sq = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        sq = lax.mul(centered, centered)
    real_work = _real_dtype(work)
    n = _count("var", a, axes, where, real_work)
    dof = ufuncs.subtract(n, ddof)
    total = sum(sq, axis=axes, where=where)
    result = select(ufuncs.greater(dof, convert(0, real_work)), lax.div(total, dof),
                    convert(np.nan, real_work))
    return lax._convert_element_type(_keepdims(result, axes, keepdims), out_dt, False)


def std(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: Any = None) -> Any:
    return ufuncs.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where,
                           correction=correction))


# ---------------------------------------------------------------------------------------------
# argmax / argmin


def _complex_arg(lax_fn, a, axis: int, idx_dt):
    """argmax/argmin of complex values in (real, imag) order: the first element whose real
    part is extreme and whose imaginary part is extreme among those."""
    reduce_, fill = ((lax.reduce_max, -np.inf) if lax_fn is lax.argmax
                     else (lax.reduce_min, np.inf))
    re, im = lax.real(a), lax.imag(a)
    keep = tuple(d for d in range(a.ndim) if d != axis)
    best_re = lax.broadcast_in_dim(reduce_(re, (axis,)), a.shape, keep)
    on = lax.eq(re, best_re)
    im_on = select(on, im, convert(fill, im.dtype))
    best_im = lax.broadcast_in_dim(reduce_(im_on, (axis,)), a.shape, keep)
    return lax.argmax(lax.bitwise_and(on, lax.eq(im, best_im)), axis, idx_dt)


def _arg_extreme(fun_name, lax_fn, a, axis, out, keepdims):
    check_no_out(fun_name, out)
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if dtypes.is_complex(a.dtype):
        inner = lax_fn
        lax_fn = lambda x, ax, dt: _complex_arg(inner, x, ax, dt)  # noqa: E731
    if axis is None:
        if a.size == 0:
            raise ValueError(f"attempt to get {fun_name} of an empty sequence")
        res = lax_fn(lax.reshape(a, (a.size,)), 0, dtypes.default_int_dtype())
        return lax.reshape(res, (1,) * a.ndim) if keepdims else res
    ax = canonicalize_axis(axis, a.ndim, fun_name)
    if a.shape[ax] == 0:
        raise ValueError(f"attempt to get {fun_name} of an empty sequence (axis {ax} of shape "
                         f"{a.shape})")
    res = lax_fn(a, ax, dtypes.default_int_dtype())
    return lax.expand_dims(res, (ax,)) if keepdims else res


def argmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
           ) -> Any:
    """Index of the first maximum (of the first NaN, if any) along `axis`."""
    return _arg_extreme("argmax", lax.argmax, a, axis, out, keepdims)


def argmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
           ) -> Any:
    return _arg_extreme("argmin", lax.argmin, a, axis, out, keepdims)


# ---------------------------------------------------------------------------------------------
# Cumulative reductions


def _cumulative(fun_name, lax_fn, a, axis, dtype, nan_fill=None):
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if axis is None:
        a, axis = lax.reshape(a, (a.size,)), 0
    ax = canonicalize_axis(axis, a.ndim, fun_name)
    if dtype is not None:
        dt = dtypes.canonicalize_dtype(dtype)
    else:  # bool counts in the default int; other dtypes keep theirs (as JAX)
        dt = dtypes.default_int_dtype() if a.dtype == dtypes.bool_ else a.dtype
    x = lax._convert_element_type(a, dt, False)
    if nan_fill is not None and dtypes.is_inexact(dt):
        x = select(ufuncs.isnan(x), convert(nan_fill, dt), x)
    if dt == dtypes.bool_:  # sum/prod of bools with dtype=bool: or/and
        x = lax.convert_element_type(x, dtypes.int32)
        return lax.convert_element_type(lax_fn(x, ax), dtypes.bool_)
    return lax_fn(x, ax)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    check_no_out("cumsum", out)
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype)


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    check_no_out("cumprod", out)
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype)


def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    check_no_out("nancumsum", out)
    return _cumulative("nancumsum", lax.cumsum, a, axis, dtype, nan_fill=0)


def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    check_no_out("nancumprod", out)
    return _cumulative("nancumprod", lax.cumprod, a, axis, dtype, nan_fill=1)


def _cumulative_api(fun_name, fn, identity, x, axis, dtype, include_initial):
    x = ensure_array(x)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{fun_name}: axis must be given for arrays of more than one "
                             "dimension")
        axis = 0
    out = fn(x, axis=axis, dtype=dtype)
    if include_initial:
        ax = canonicalize_axis(axis, out.ndim, fun_name)
        s = out.shape[:ax] + (1,) + out.shape[ax + 1:]
        out = lax.concatenate([lax.full(s, identity, out.dtype), out], ax)
    return out


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    # sums of bools and small integers give the default (u)int, as sum (and JAX's); products
    # keep the input dtype (also JAX's, though the array API asks for the default there too)
    if dtype is None:
        dtype = _promote_integers(dtypes.dtype(x))
    return _cumulative_api("cumulative_sum", cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    return _cumulative_api("cumulative_prod", cumprod, 1, x, axis, dtype, include_initial)


# ---------------------------------------------------------------------------------------------
# NaN-ignoring reductions


def _nan_to(a, value):
    a = ensure_array(a)
    if not dtypes.is_inexact(a.dtype):
        return a
    return select(ufuncs.isnan(a), convert(value, a.dtype), a)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    check_arraylike("nansum", a)
    return sum(_nan_to(a, 0), axis, dtype, out, keepdims, initial, where)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: Any = None, where: Any = None) -> Any:
    check_arraylike("nanprod", a)
    return prod(_nan_to(a, 1), axis, dtype, out, keepdims, initial, where)


def _nan_extreme(fun_name, reducer, fill, a, axis, out, keepdims, initial, where):
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if not dtypes.is_inexact(a.dtype):
        return reducer(a, axis, out, keepdims, initial, where)
    nan = ufuncs.isnan(a)
    res = reducer(select(nan, convert(fill, a.dtype), a), axis, out, keepdims, initial, where)
    all_nan = all(nan, axis=axis, keepdims=keepdims)
    return select(all_nan, convert(np.nan, a.dtype), res)


def nanmax(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    """The maximum ignoring NaNs (NaN where every value is NaN)."""
    return _nan_extreme("nanmax", max, -np.inf, a, axis, out, keepdims, initial, where)


def nanmin(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Any:
    return _nan_extreme("nanmin", min, np.inf, a, axis, out, keepdims, initial, where)


def _not_nan_mask(a, where):
    a = ensure_array(a)
    if not dtypes.is_inexact(a.dtype):
        return where
    ok = ufuncs.logical_not(ufuncs.isnan(a))
    return ok if where is None else ufuncs.logical_and(ok, where)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, *, where: Any = None) -> Any:
    check_arraylike("nanmean", a)
    return mean(a, axis, dtype, out, keepdims, where=_not_nan_mask(a, where))


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = None) -> Any:
    check_arraylike("nanvar", a)
    return var(a, axis, dtype, out, ddof, keepdims, where=_not_nan_mask(a, where))


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, *, where: Any = None) -> Any:
    check_arraylike("nanstd", a)
    return std(a, axis, dtype, out, ddof, keepdims, where=_not_nan_mask(a, where))


# ---------------------------------------------------------------------------------------------
# Others


def count_nonzero(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    check_arraylike("count_nonzero", a)
    a = ensure_array(a)
    nz = a if a.dtype == dtypes.bool_ else ufuncs.not_equal(a, convert(0, a.dtype))
    return sum(nz, axis=axis, dtype=dtypes.default_int_dtype(), keepdims=keepdims)


def ptp(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Any:
    """Peak to peak: max - min."""
    check_no_out("ptp", out)
    return ufuncs.subtract(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """Weighted mean; with returned=True also the sum of the weights."""
    check_arraylike("average", a)
    a = ensure_array(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        axes = canonicalize_axes(axis, a.ndim, "average")
        n = math.prod(a.shape[i] for i in axes)
        return avg, lax.full_like(avg, n)
    check_arraylike("average", weights)
    w = ensure_array(weights)
    a, w = (ensure_array(v) for v in promote_dtypes_inexact(a, w))
    if w.shape != a.shape:
        if axis is None or isinstance(axis, (tuple, list)):
            raise ValueError(f"average: weights of shape {w.shape} differ from a's shape "
                             f"{a.shape}; give a single axis for 1-D weights")
        ax = canonicalize_axis(axis, a.ndim, "average")
        if w.shape != (a.shape[ax],):
            raise ValueError(f"average: 1-D weights must have length {a.shape[ax]} (axis {ax} "
                             f"of shape {a.shape}), got shape {w.shape}")
        w = lax.broadcast_in_dim(w, a.shape, (ax,))
    wsum = sum(w, axis, keepdims=keepdims)
    avg = ufuncs.true_divide(sum(ufuncs.multiply(a, w), axis, keepdims=keepdims), wsum)
    if returned:
        return avg, broadcast_to(wsum, avg.shape) if wsum.shape != avg.shape else wsum
    return avg


def median(a: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """The median along `axis` (NaN if the values include NaN); integers give floats."""
    check_no_out("median", out)
    check_arraylike("median", a)
    a = ensure_array(a)
    if dtypes.is_complex(a.dtype):
        raise ValueError("median does not support complex inputs")
    axes = canonicalize_axes(axis, a.ndim, "median")
    work = to_inexact(a.dtype)
    x = lax._convert_element_type(a, work, False)
    # move the reduced axes to the end and merge them into one
    keep = [i for i in range(a.ndim) if i not in axes]
    x = lax.transpose(x, tuple(keep) + tuple(sorted(axes)))
    n = math.prod(a.shape[i] for i in axes)
    x = lax.reshape(x, tuple(a.shape[i] for i in keep) + (n,))
    if n == 0:
        res = lax.full(x.shape[:-1], np.nan, work)
    else:
        s = lax.sort(x, dimension=x.ndim - 1)
        lo = lax.index_in_dim(s, (n - 1) // 2, x.ndim - 1, keepdims=False)
        hi = lax.index_in_dim(s, n // 2, x.ndim - 1, keepdims=False)
        res = lax.mul(lax.add(lo, hi), convert(0.5, work))
        has_nan = lax.reduce_or(ufuncs.isnan(x), (x.ndim - 1,))
        res = select(has_nan, convert(np.nan, work), res)
    if keepdims:
        res = lax.reshape(res, tuple(1 if i in axes else d for i, d in enumerate(a.shape)))
    return res


def nanargmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
              ) -> Any:
    """argmax ignoring NaNs; -1 where every value is NaN (as JAX)."""
    return _nan_arg("nanargmax", argmax, -np.inf, a, axis, out, keepdims)


def nanargmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool | None = None
              ) -> Any:
    return _nan_arg("nanargmin", argmin, np.inf, a, axis, out, keepdims)


def _nan_arg(fun_name, fn, fill, a, axis, out, keepdims):
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if not dtypes.is_inexact(a.dtype):
        return fn(a, axis, out, keepdims)
    nan = ufuncs.isnan(a)
    res = fn(select(nan, convert(fill, a.dtype), a), axis, out, keepdims)
    return select(all(nan, axis=axis, keepdims=bool(keepdims)), convert(-1, res.dtype), res)


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The n-th discrete difference along `axis` (for bools: where neighbours differ)."""
    from plax._src.numpy.shape import concatenate
    check_arraylike("diff", a)
    a = ensure_array(a)
    n = static_int(n, "the n argument of diff")
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    if a.ndim == 0:
        raise ValueError("diff requires an input that is at least one dimensional")
    axis = canonicalize_axis(axis, a.ndim, "diff")
    parts = []
    for extra in (prepend, a, append):
        if extra is None:
            continue
        e = ensure_array(extra)
        if e.ndim == 0:  # a scalar stands for a slab of width 1
            s = list(a.shape)
            s[axis] = 1
            e = broadcast_to(e, tuple(s), "diff")
        parts.append(e)
    a = concatenate(parts, axis) if len(parts) > 1 else a
    for _ in range(n):
        m = a.shape[axis]
        hi = lax.slice_in_dim(a, builtins.min(1, m), m, axis=axis)
        lo = lax.slice_in_dim(a, 0, builtins.max(m - 1, 0), axis=axis)
        a = ufuncs.not_equal(hi, lo) if a.dtype == dtypes.bool_ else ufuncs.subtract(hi, lo)
    return a


# ---------------------------------------------------------------------------------------------
# Quantiles

_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile(fun_name, a, q, axis, method, keepdims, ignore_nan):
    """Quantiles q (scalar or array, in [0, 1]) over `axis`: the reduced axes are merged and
    sorted (NaNs last); positions q * (count - 1) are read with take_along_axis. The result
    has q's dimensions first, as NumPy."""
    from plax._src.numpy.indexing import take_along_axis
    check_arraylike(fun_name, a, q)
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"{fun_name}: method must be one of {_QUANTILE_METHODS}, got "
                         f"{method!r}")
    a = ensure_array(a)
    if dtypes.is_complex(a.dtype):
        raise ValueError(f"{fun_name} does not support complex inputs")
    work = to_inexact(a.dtype)
    q = ensure_array(convert(q, work) if not hasattr(q, "aval") else
                     lax.convert_element_type(q, work))
    axes = canonicalize_axes(axis, a.ndim, fun_name)
    keep = [i for i in range(a.ndim) if i not in axes]
    n = math.prod(a.shape[i] for i in axes)
    x = lax.transpose(lax._convert_element_type(a, work, False),
                      tuple(keep) + tuple(sorted(axes)))
    kshape = tuple(a.shape[i] for i in keep)
    x = lax.sort(lax.reshape(x, kshape + (n,)), dimension=len(kshape))
    nq = q.size
    if ignore_nan:
        count = sum(ufuncs.logical_not(ufuncs.isnan(x)), axis=-1, keepdims=True, dtype=work)
    else:
        count = convert(n, work)
    pos = ufuncs.multiply(lax.reshape(q, (1,) * len(kshape) + (nq,)),
                          ufuncs.subtract(count, convert(1, work)))
    pos = ufuncs.minimum(ufuncs.maximum(pos, 0.0), float(builtins.max(n - 1, 0)))
    lo, hi = ufuncs.floor(pos), ufuncs.ceil(pos)
    idx_dt = dtypes.default_int_dtype()

    def read(p):
        i = broadcast_to(lax.convert_element_type(p, idx_dt), kshape + (nq,), fun_name)
        return take_along_axis(x, i, axis=-1, mode="clip")
    if n == 0:  # nothing to take a quantile of
        res = lax.full(kshape + (nq,), np.nan, work)
    elif method == "lower":
        res = read(lo)
    elif method == "higher":
        res = read(hi)
    elif method == "nearest":
        res = read(ufuncs.rint(pos))
    else:
        vlo, vhi = read(lo), read(hi)
        frac = (ufuncs.subtract(pos, lo) if method == "linear"
                else convert(0.5, work))
        res = ufuncs.add(vlo, ufuncs.multiply(ufuncs.subtract(vhi, vlo), frac))
        res = select(ufuncs.equal(lo, hi), vlo, res)
    if n:
        bad = (ufuncs.equal(count, convert(0, work)) if ignore_nan
               else any(ufuncs.isnan(x), axis=-1, keepdims=True))
        res = select(bad, convert(np.nan, work), res)
    # (kept dims..., q) -> (q dims..., kept dims...), then keepdims
    res = lax.transpose(res, (len(kshape),) + tuple(range(len(kshape))))
    res = lax.reshape(res, q.shape + kshape)
    if keepdims:
        res = lax.reshape(res, q.shape + tuple(1 if i in axes else d
                                               for i, d in enumerate(a.shape)))
    return res


def quantile(a: Any, q: Any, axis: Any = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False
             ) -> Any:
    """The q-th quantiles (q in [0, 1]) over `axis`; NaN if the values include NaN."""
    check_no_out("quantile", out)
    return _quantile("quantile", a, q, axis, method, keepdims, ignore_nan=False)


def nanquantile(a: Any, q: Any, axis: Any = None, out: None = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False
                ) -> Any:
    check_no_out("nanquantile", out)
    return _quantile("nanquantile", a, q, axis, method, keepdims, ignore_nan=True)


def percentile(a: Any, q: Any, axis: Any = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False
               ) -> Any:
    """The q-th percentiles (q in [0, 100])."""
    check_no_out("percentile", out)
    check_arraylike("percentile", q)
    return _quantile("percentile", a, ufuncs.true_divide(q, 100), axis, method, keepdims,
                     ignore_nan=False)


def nanpercentile(a: Any, q: Any, axis: Any = None, out: None = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False) -> Any:
    check_no_out("nanpercentile", out)
    check_arraylike("nanpercentile", q)
    return _quantile("nanpercentile", a, ufuncs.true_divide(q, 100), axis, method, keepdims,
                     ignore_nan=True)


def nanmedian(a: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    check_no_out("nanmedian", out)
    return _quantile("nanmedian", a, 0.5, axis, "linear", keepdims, ignore_nan=True)
