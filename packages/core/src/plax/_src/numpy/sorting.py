"""Sorting, searching and counting in plax.numpy: sort/argsort (stable, descending=), lexsort,
searchsorted, isin, and the functions whose output size depends on values (nonzero, argwhere,
flatnonzero, unique, bincount): they need a static size under tracing, as in JAX, and find it
eagerly otherwise.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.core import ConcretizationTypeError, Tracer
from plax._src.numpy import ufuncs
from plax._src.numpy.util import (
    canonicalize_axis, check_arraylike, convert, ensure_array, promote_dtypes, select,
    static_int)

__all__ = ["sort", "argsort", "lexsort", "searchsorted", "nonzero", "argwhere", "flatnonzero",
           "unique", "unique_values", "unique_counts", "bincount", "isin",
           "partition", "argpartition"]


def _prepare(fun_name, a, axis, kind, order):
    check_arraylike(fun_name, a)
    if order is not None:
        raise NotImplementedError(f"{fun_name}: the order argument (structured arrays) is not "
                                  "supported")
    a = ensure_array(a)
    if axis is None:
        a, axis = lax.reshape(a, (a.size,)), 0
    if a.ndim == 0:
        raise ValueError(f"{fun_name}: cannot sort a 0-d array; give axis=None to flatten")
    return a, canonicalize_axis(axis, a.ndim, fun_name)


def sort(a: Any, axis: int | None = -1, *, kind: str | None = None, order: Any = None,
         stable: bool = True, descending: bool = False) -> Any:
    """Sorted copy along `axis` (flattened when None); NaNs go last (first if descending)."""
    a, axis = _prepare("sort", a, axis, kind, order)
    if descending:
        return lax.rev(lax.sort(lax.rev(a, (axis,)), dimension=axis, is_stable=stable),
                       (axis,))
    return lax.sort(a, dimension=axis, is_stable=stable)


def argsort(a: Any, axis: int | None = -1, *, kind: str | None = None, order: Any = None,
            stable: bool = True, descending: bool = False) -> Any:
    """Indices that sort `a` along `axis`; stable, so equal elements keep their order (also
    when descending)."""
    a, axis = _prepare("argsort", a, axis, kind, order)
    idx_dt = dtypes.default_int_dtype()
    n = a.shape[axis]
    iota = lax.broadcasted_iota(idx_dt, a.shape, axis)
    if not descending:
        return lax.sort((a, iota), dimension=axis, is_stable=stable, num_keys=1)[1]
    # sort the reversed array ascending, map positions back, and reverse: ties keep their order
    _, idx = lax.sort((lax.rev(a, (axis,)), iota), dimension=axis, is_stable=stable,
                      num_keys=1)
    return lax.rev(lax.sub(convert(n - 1, idx_dt), idx), (axis,))


def lexsort(keys: Any, axis: int = -1) -> Any:
    """Indices sorting by several keys, the last key being the primary one."""
    if isinstance(keys, (list, tuple)):
        ks = list(keys)
    else:
        k = ensure_array(keys)
        ks = [lax.index_in_dim(k, i, 0, keepdims=False) for i in range(k.shape[0])]
    if not ks:
        raise TypeError("lexsort: need at least one key")
    check_arraylike("lexsort", *ks)
    ks = [ensure_array(k) for k in ks]
    shp = ks[0].shape
    if any(k.shape != shp for k in ks):
        raise ValueError("lexsort: all keys must have the same shape, got "
                         + ", ".join(str(k.shape) for k in ks))
    if not shp:
        raise ValueError("lexsort: keys must be at least 1-D")
    axis = canonicalize_axis(axis, len(shp), "lexsort")
    iota = lax.broadcasted_iota(dtypes.default_int_dtype(), shp, axis)
    return lax.sort(tuple(ks[::-1]) + (iota,), dimension=axis, is_stable=True,
                    num_keys=len(ks))[-1]


def _lt_total(x, y):
    """x < y with NaN above everything (the order sort uses)."""
    lt = ufuncs.less(x, y)
    if dtypes.is_inexact(x.dtype):
        lt = ufuncs.logical_or(lt, ufuncs.logical_and(ufuncs.logical_not(ufuncs.isnan(x)),
                                                      ufuncs.isnan(y)))
    return lt


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "compare_all") -> Any:
    """Insertion points of `v` in the sorted 1-D `a` (left: before equal elements, right:
    after). Computed by comparing every pair, so it suits moderate sizes."""
    from plax._src.numpy.indexing import take
    from plax._src.numpy.reductions import sum as _sum
    check_arraylike("searchsorted", a, v)
    a, v = (ensure_array(x) for x in promote_dtypes(a, v))
    if a.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {a.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = take(a, sorter, mode="clip")
    if a.shape[0] == 0:
        return lax.full(v.shape, 0, dtypes.default_int_dtype())
    full = v.shape + a.shape
    ab = lax.broadcast_in_dim(a, full, (v.ndim,))
    vb = lax.broadcast_in_dim(v, full, tuple(range(v.ndim)))
    before = _lt_total(ab, vb) if side == "left" else ufuncs.logical_not(_lt_total(vb, ab))
    return _sum(before, axis=-1, dtype=dtypes.default_int_dtype())


# ---------------------------------------------------------------------------------------------
# Value-dependent output sizes


def _size_or_count(fun_name: str, a, count, size) -> int:
    if size is not None:
        size = static_int(size, f"the size argument of {fun_name}")
        if size < 0:
            raise ValueError(f"{fun_name}: size must be non-negative, got {size}")
        return size
    if isinstance(a, Tracer) or isinstance(count, Tracer):
        raise ConcretizationTypeError(
            f"{fun_name}: the output size depends on the values of a traced array; pass "
            f"size=... (and optionally fill_value=...) to {fun_name} to fix it statically")
    return int(np.asarray(count))


def _first_true(mask, size: int):
    """Positions of the first `size` True entries of a 1-D mask, in order; past the number of
    True entries come the other positions (or 0 beyond the mask's length), which callers mask.
    A stable argsort of `not mask` puts the True positions first."""
    idx_dt = dtypes.default_int_dtype()
    n = mask.shape[0]
    order = argsort(ufuncs.logical_not(mask), stable=True) if n else lax.full((0,), 0, idx_dt)
    if size > n:
        order = lax.concatenate([order, lax.full((size - n,), 0, idx_dt)], 0)
    order = lax.slice_in_dim(order, 0, size)
    return order


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple:
    """Indices of the nonzero elements, one array per dimension. With `size` the result has
    exactly that length: cut, or padded with `fill_value` (default 0; a tuple gives one per
    dimension)."""
    check_arraylike("nonzero", a)
    a = ensure_array(a)
    if a.ndim == 0:
        raise ValueError("nonzero is not allowed on 0-d arrays; use atleast_1d first")
    from plax._src.numpy.reductions import sum as _sum
    mask = lax.reshape(a if a.dtype == dtypes.bool_ else ufuncs.not_equal(a, convert(
        0, a.dtype)), (a.size,))
    count = _sum(mask, dtype=dtypes.default_int_dtype())
    size = _size_or_count("nonzero", a, count, size)
    idx_dt = dtypes.default_int_dtype()
    flat = _first_true(mask, size)
    valid = lax.lt(lax.iota(idx_dt, size), count)
    fills = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value] * a.ndim
    if len(fills) != a.ndim:
        raise ValueError(f"nonzero: fill_value must be a scalar or have one entry per dimension "
                         f"({a.ndim}), got {fill_value!r}")
    out, stride = [], 1
    strides = []
    for n in reversed(a.shape):
        strides.append(stride)
        stride *= n
    strides = strides[::-1]
    for d, (n, st) in enumerate(zip(a.shape, strides)):
        coord = flat
        if st != 1:
            coord = lax.div(coord, convert(st, idx_dt))
        if d > 0:
            coord = lax.rem(coord, convert(n, idx_dt))
        fill = 0 if fills[d] is None else fills[d]
        out.append(select(valid, coord, convert(fill, idx_dt)))
    return tuple(out)


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    check_arraylike("flatnonzero", a)
    return nonzero(lax.reshape(ensure_array(a), (ensure_array(a).size,)), size=size,
                   fill_value=fill_value)[0]


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Any:
    """Indices of the nonzero elements as rows of a (count, ndim) array."""
    check_arraylike("argwhere", a)
    a = ensure_array(a)
    if a.ndim == 0:
        res = nonzero(lax.reshape(a, (1,)), size=size, fill_value=fill_value)
        return lax.slice_in_dim(lax.reshape(res[0], (res[0].shape[0], 1)), 0, 0, axis=1)
    res = nonzero(a, size=size, fill_value=fill_value)
    return lax.concatenate([lax.reshape(r, (r.shape[0], 1)) for r in res], 1)


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True):  # noqa: A002
    """Sorted unique values of the flattened array, optionally with the first index of each,
    the inverse (shaped like `ar`) and the counts. `size` fixes the length (padding with
    `fill_value`, default the smallest value); under tracing it is required."""
    check_arraylike("unique", ar)
    if axis is not None:
        raise NotImplementedError("unique: only axis=None is supported")
    ar = ensure_array(ar)
    shape = ar.shape
    a = lax.reshape(ar, (ar.size,))
    n = a.shape[0]
    idx_dt = dtypes.default_int_dtype()
    perm = argsort(a) if n else lax.full((0,), 0, idx_dt)
    from plax._src.numpy.indexing import take
    from plax._src.numpy.reductions import cumsum, sum as _sum
    s = take(a, perm, mode="clip") if n else a
    if n:
        differs = ufuncs.not_equal(lax.slice_in_dim(s, 1, n), lax.slice_in_dim(s, 0, n - 1))
        if equal_nan and dtypes.is_inexact(a.dtype):
            both_nan = ufuncs.logical_and(ufuncs.isnan(lax.slice_in_dim(s, 1, n)),
                                          ufuncs.isnan(lax.slice_in_dim(s, 0, n - 1)))
            differs = ufuncs.logical_and(differs, ufuncs.logical_not(both_nan))
        first = lax.concatenate([np.ones((1,), bool), differs], 0)
    else:
        first = lax.full((0,), False, dtypes.bool_)
    count = _sum(first, dtype=idx_dt)
    size_ = _size_or_count("unique", ar, count, size)
    # one start more than needed: where the group after the last one kept begins (or n)
    valid_ext = lax.lt(lax.iota(idx_dt, size_ + 1), count)
    starts_ext = _first_true(first, size_ + 1)
    valid = lax.slice_in_dim(valid_ext, 0, size_)
    # padding entries point at the smallest value (as JAX)
    starts = select(valid, lax.slice_in_dim(starts_ext, 0, size_), convert(0, idx_dt))
    if n:
        values = take(s, starts, mode="clip")
        fill = lax.index_in_dim(s, 0, 0, keepdims=False) if fill_value is None else convert(
            fill_value, a.dtype)
        values = select(valid, values, fill)
    else:
        values = lax.full((size_,), 0 if fill_value is None else fill_value, a.dtype)
    outs = [values]
    if return_index:
        outs.append(take(perm, starts, mode="clip") if n else lax.full((size_,), 0, idx_dt))
    if return_inverse:
        if n:
            group = lax.sub(cumsum(first, dtype=idx_dt), convert(1, idx_dt))
            inv = lax.full((n,), 0, idx_dt).at[perm].set(group)
        else:
            inv = lax.full((0,), 0, idx_dt)
        outs.append(lax.reshape(inv, shape))
    if return_counts:
        ends = select(valid_ext, starts_ext, convert(n, idx_dt))
        ends = lax.slice_in_dim(ends, 1, size_ + 1)
        outs.append(select(valid, lax.sub(ends, starts), convert(0, idx_dt)))  # padding: 0
    return outs[0] if len(outs) == 1 else tuple(outs)


def unique_values(x: Any, /, *, size: int | None = None, fill_value: Any = None) -> Any:
    return unique(x, size=size, fill_value=fill_value)


class _UniqueCounts(NamedTuple):
    values: Any
    counts: Any


def unique_counts(x: Any, /, *, size: int | None = None, fill_value: Any = None) -> tuple:
    """(values, counts) as a named tuple, as jax.numpy and the array API."""
    return _UniqueCounts(*unique(x, return_counts=True, size=size, fill_value=fill_value))


# ---------------------------------------------------------------------------------------------
# Counting and membership


def bincount(x: Any, weights: Any = None, minlength: int = 0, *, length: int | None = None
             ) -> Any:
    """Occurrences (or summed weights) of each non-negative integer in 1-D `x`. The output
    length is max(x) + 1 (at least minlength) and must be static: under tracing pass
    `length`. Negative values count as 0 and values >= length are dropped (as JAX)."""
    check_arraylike("bincount", x)
    x = ensure_array(x)
    if x.ndim != 1 or not (dtypes.is_int(x.dtype) or x.dtype == dtypes.bool_):
        raise ValueError(f"bincount: x must be a 1-D integer array, got "
                         f"{x.dtype.name}{list(x.shape)}")
    minlength = static_int(minlength, "the minlength argument of bincount")
    if length is None:
        from plax._src.numpy.reductions import max as _max
        top = _max(x) if x.size else -1
        length = builtins.max(_size_or_count("bincount", x, top, None) + 1, minlength)
    else:
        length = static_int(length, "the length argument of bincount")
    idx = lax.max(lax.convert_element_type(x, dtypes.default_int_dtype()),
                  convert(0, dtypes.default_int_dtype()))
    if weights is None:
        dt, vals = dtypes.default_int_dtype(), convert(1, dtypes.default_int_dtype())
    else:
        check_arraylike("bincount", weights)
        vals = ensure_array(weights)
        dt = vals.dtype
    return lax.full((length,), 0, dt).at[idx].add(vals, mode="drop")


def isin(element: Any, test_elements: Any, assume_unique: bool = False,
         invert: bool = False) -> Any:
    """Whether each element of `element` occurs in `test_elements` (compared all against all)."""
    check_arraylike("isin", element, test_elements)
    e, t = (ensure_array(v) for v in promote_dtypes(element, test_elements))
    t = lax.reshape(t, (t.size,))
    full = e.shape + t.shape
    hits = ufuncs.equal(lax.broadcast_in_dim(e, full, tuple(range(e.ndim))),
                        lax.broadcast_in_dim(t, full, (e.ndim,)))
    from plax._src.numpy.reductions import any as _any
    found = _any(hits, axis=-1)
    return ufuncs.logical_not(found) if invert else found


# ---------------------------------------------------------------------------------------------
# Partial sorts


def _partition_prep(fun_name, a, kth, axis):
    check_arraylike(fun_name, a)
    a = ensure_array(a)
    if dtypes.is_complex(a.dtype):
        raise NotImplementedError(f"plax.numpy.{fun_name} for complex dtype is not implemented.")
    if a.ndim == 0:
        raise ValueError(f"{fun_name}: a must be at least 1-D, got a 0-d array")
    axis = canonicalize_axis(axis, a.ndim, fun_name)
    kth = static_int(kth, f"the kth argument of {fun_name}")
    kth = canonicalize_axis(kth, a.shape[axis], fun_name)
    perm = list(range(a.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return lax.transpose(a, tuple(perm)), kth, tuple(perm)


def _neg_for_top_k(a):
    """A key whose top_k are a's smallest values (unsigned: -(a + 1), as JAX)."""
    if dtypes.is_unsigned(a.dtype):
        return lax.neg(lax.add(a, convert(1, a.dtype)))
    return lax.neg(a)


def partition(a: Any, kth: int, axis: int = -1) -> Any:
    """The array with its kth element (along `axis`) where a full sort puts it, smaller ones
    before and larger ones after. As JAX (two lax.top_k calls): the first kth + 1 values come
    out sorted ascending and the rest sorted descending; kth must be static."""
    arr, kth, perm = _partition_prep("partition", a, kth, axis)
    bottom = _neg_for_top_k(lax.top_k(_neg_for_top_k(arr), kth + 1)[0])
    top = lax.top_k(arr, arr.shape[-1] - kth - 1)[0]
    return lax.transpose(lax.concatenate([bottom, top], arr.ndim - 1), perm)


def argpartition(a: Any, kth: int, axis: int = -1) -> Any:
    """Indices that partition `a` (see partition), as JAX computes them: the indices of the
    kth + 1 smallest values in ascending order of value, then the other indices in increasing
    order (not by value, unlike partition's values); int32, kth must be static."""
    arr, kth, perm = _partition_prep("argpartition", a, kth, axis)
    n = arr.shape[-1]
    bottom_ind = lax.top_k(_neg_for_top_k(arr), kth + 1)[1]
    # the others, in top_k order of a proxy that is 0 at bottom_ind and 1 elsewhere (JAX's)
    iota = lax.broadcasted_iota(bottom_ind.dtype, arr.shape + (kth + 1,), arr.ndim - 1)
    taken = lax.broadcast_in_dim(bottom_ind, arr.shape + (kth + 1,),
                                 tuple(range(arr.ndim - 1)) + (arr.ndim,))
    hit = lax.reduce_or(lax.eq(iota, taken), (arr.ndim,))
    proxy = lax.select(hit, lax.full(arr.shape, 0.0, np.float32),
                       lax.full(arr.shape, 1.0, np.float32))
    top_ind = lax.top_k(proxy, n - kth - 1)[1]
    return lax.transpose(lax.concatenate([bottom_ind, top_ind], arr.ndim - 1), perm)
