"""NumPy indexing with JAX's semantics: x[idx] (out-of-bounds indices clamp), x.at[idx].set/
add/... as one scatter (out-of-bounds updates are dropped), take, take_along_axis and the index
array helpers. How an index becomes slice/gather/scatter ops is in `index_plan`."""

from __future__ import annotations

from typing import Callable

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.numpy import util
from plax._src.numpy.index_plan import (
    Adv, GatherScatterMode, Slice, as_index_array, basic_getitem, dynamic_scalar_getitem,
    is_basic, is_dynamic_scalar, make_plan, parse, parse_mode)
from plax._src.numpy.util import canonicalize_axis, check_arraylike, ensure_array
from plax._src.state import ds_getitem, ds_update, has_ds

__all__ = ["getitem", "IndexUpdateHelper", "take", "take_along_axis", "unravel_index",
           "indices", "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
           "diag_indices"]


def _gather(x, entries, mode, fill_value, indices_are_sorted, unique_indices, normalize,
            where):
    x = ensure_array(x)
    plan = make_plan(x.aval.shape, entries, normalize, where)
    y = lax.expand_dims(x, plan.new_axes) if plan.new_axes else x
    if 0 in plan.result_shape:
        return lax.full(plan.result_shape, 0, x.dtype)
    if 0 in y.aval.shape and plan.index_dims:
        raise IndexError(f"{where}: cannot index into a zero-size dimension of shape "
                         f"{x.aval.shape} with a non-empty index")
    slice_sizes = tuple(1 if d in plan.index_dims else n for d, n in enumerate(y.aval.shape))
    dnums = lax.GatherDimensionNumbers(offset_dims=plan.window_pos,
                                       collapsed_slice_dims=plan.index_dims,
                                       start_index_map=plan.index_dims)
    return lax.gather(y, plan.indices, dnums, slice_sizes,
                      indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                      mode=parse_mode(mode, GatherScatterMode.CLIP), fill_value=fill_value)


def rewriting_take(x, idx, *, mode=None, fill_value=None, indices_are_sorted=False,
                   unique_indices=False, normalize=True):
    """x[idx] with an explicit out-of-bounds `mode` (None: clamp)."""
    x = ensure_array(x)
    if has_ds(idx):  # plax.ds slices: a dynamic slice, then the rest of the index
        return ds_getitem(x, idx)
    where = "indexing"
    entries = parse(x.aval.shape, idx, where, normalize)
    if is_basic(entries):
        return basic_getitem(x, entries)
    clamping = parse_mode(mode, GatherScatterMode.CLIP) != GatherScatterMode.FILL_OR_DROP
    if is_dynamic_scalar(entries) and clamping and normalize:
        return dynamic_scalar_getitem(x, entries)
    return _gather(x, entries, mode, fill_value, indices_are_sorted, unique_indices, normalize,
                   where)


def getitem(x, idx):
    """x[idx] with NumPy's basic and advanced indexing; out-of-bounds indices clamp."""
    return rewriting_take(x, idx)


# ---------------------------------------------------------------------------------------------
# Updates: x.at[idx].set(v) and friends


def _scatter(x, idx, values, scatter_fn: Callable | None, combine: Callable, fun_name: str, *,
             mode, indices_are_sorted, unique_indices, normalize):
    """One scatter of `values` (broadcast to x[idx].shape, cast to x's dtype) into x.

    `combine(old, new)` is the elementwise update used when the index selects everything."""
    x = ensure_array(x)
    check_arraylike(fun_name, values)
    if has_ds(idx):  # plax.ds slices: update the window they select
        return ds_update(x, idx, lambda sub, rest: _scatter(
            sub, rest, values, scatter_fn, combine, fun_name, mode=mode,
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
            normalize=normalize),
            drop=parse_mode(mode, GatherScatterMode.FILL_OR_DROP) == GatherScatterMode.FILL_OR_DROP)
    where = f"x.at[...].{fun_name}"
    entries = parse(x.aval.shape, idx, where, normalize)
    everything = all(isinstance(e, Slice) and e.full for e in entries)
    plan = None if everything else make_plan(x.aval.shape, entries, normalize, where)
    vals = util.convert(values, x.dtype, False)
    if plan is None:  # every element is selected
        return combine(x, util.broadcast_to(ensure_array(vals), x.aval.shape, where))
    vals = util.broadcast_to(ensure_array(vals), plan.result_shape, where)
    y = lax.expand_dims(x, plan.new_axes) if plan.new_axes else x
    if 0 in plan.result_shape:
        return x
    if plan.indices is None:
        out = combine(y, vals if vals.aval.shape == y.aval.shape else lax.reshape(
            vals, y.aval.shape))
    else:
        dnums = lax.ScatterDimensionNumbers(update_window_dims=plan.window_pos,
                                            inserted_window_dims=plan.index_dims,
                                            scatter_dims_to_operand_dims=plan.index_dims)
        out = scatter_fn(y, plan.indices, vals, dnums, indices_are_sorted=indices_are_sorted,
                         unique_indices=unique_indices,
                         mode=parse_mode(mode, GatherScatterMode.FILL_OR_DROP))
    return lax.reshape(out, x.aval.shape) if plan.new_axes else out


def _update_method(name: str, doc: str, scatter_fn: Callable | None, ufunc: str | None):
    """An `x.at[idx].<name>(values, ...)` method: one scatter with `scatter_fn` (or, without
    one, x <ufunc> (ones with values multiplied in at idx)); `ufunc` names the plax.numpy
    function that combines old and new values when the index selects everything."""
    def method(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
               wrap_negative_indices=True):
        if ufunc is None:
            combine = _take_new
        else:
            from plax._src.numpy import ufuncs
            combine = getattr(ufuncs, ufunc)
        if scatter_fn is None:
            return self._via_factor(combine, values, dict(
                indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                mode=mode, wrap_negative_indices=wrap_negative_indices))
        return _scatter(self.array, self.index, values, scatter_fn, combine, name, mode=mode,
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                        normalize=wrap_negative_indices)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


def _take_new(old, new):
    return new


class _IndexUpdateRef:
    """`x.at[idx]`: pure versions of the in-place updates `x[idx] = v`, `x[idx] += v`, ...

    Each method takes `indices_are_sorted`, `unique_indices` (promises that may speed things
    up), `mode` ('drop' by default: out-of-bounds updates are ignored; 'clip' clamps) and
    `wrap_negative_indices` (True: negative indices count from the end)."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None, wrap_negative_indices=True):
        """x[idx]; mode='fill' gives `fill_value` (default NaN, or the extreme integer) for
        out-of-bounds indices instead of clamping."""
        return rewriting_take(self.array, self.index, mode=mode, fill_value=fill_value,
                              indices_are_sorted=indices_are_sorted,
                              unique_indices=unique_indices, normalize=wrap_negative_indices)

    def _via_factor(self, op, values, kw):
        # x[idx] /= v is x / (ones with v multiplied in at idx), as JAX does it
        from plax._src.numpy.creation import ones_like
        ref = _IndexUpdateRef(ones_like(self.array), self.index)
        return op(self.array, ref.multiply(values, **kw))

    set = _update_method("set", "x[idx] = values (with repeated indices, one of the updates "
                         "wins).", lax.scatter, None)
    add = _update_method("add", "x[idx] += values (repeated indices accumulate).",
                         lax.scatter_add, "add")
    subtract = _update_method("subtract", "x[idx] -= values.", lax.scatter_sub, "subtract")
    multiply = _update_method("multiply", "x[idx] *= values.", lax.scatter_mul, "multiply")
    mul = multiply
    divide = _update_method("divide", "x[idx] /= values.", None, "divide")
    power = _update_method("power", "x[idx] **= values.", None, "power")
    min = _update_method("min", "x[idx] = minimum(x[idx], values).", lax.scatter_min,
                         "minimum")
    max = _update_method("max", "x[idx] = maximum(x[idx], values).", lax.scatter_max,
                         "maximum")

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None,
              wrap_negative_indices=True):
        """x[idx] = func(x[idx]). A repeated index gets func applied once (JAX applies it once
        per repetition); with unique indices the two agree."""
        get_mode = "clip" if mode is None else mode
        vals = self.get(mode=get_mode, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices,
                        wrap_negative_indices=wrap_negative_indices)
        return self.set(func(vals), indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices, mode=mode,
                        wrap_negative_indices=wrap_negative_indices)


class IndexUpdateHelper:
    """The object behind `x.at`: `x.at[idx]` is an _IndexUpdateRef."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"IndexUpdateHelper({self.array!r})"


# ---------------------------------------------------------------------------------------------
# take, take_along_axis


def _take_mode(fun_name, mode):
    if mode is None:
        return "fill"
    if mode == "raise":
        raise NotImplementedError(f"{fun_name}: mode='raise' is not supported (it needs a "
                                  "value-dependent error); use 'fill', 'clip' or 'wrap'")
    if mode not in ("fill", "clip", "wrap", "drop", "promise_in_bounds") and not isinstance(
            mode, GatherScatterMode):
        raise ValueError(f"{fun_name}: invalid mode {mode!r}; use 'fill', 'clip' or 'wrap'")
    return mode


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of `a` at `indices` along `axis` (of the flattened array when axis is None).

    Out-of-bounds indices give `fill_value` by default (mode='fill', as JAX); 'clip' clamps
    and 'wrap' wraps around."""
    util.check_no_out("take", out)
    check_arraylike("take", a, indices)
    a = ensure_array(a)
    if axis is None:
        a, axis = lax.reshape(a, (a.aval.size,)), 0
    axis = canonicalize_axis(axis, a.ndim, "take")
    mode = _take_mode("take", mode)
    idx = as_index_array(indices if not isinstance(indices, (int, np.integer)) else
                          np.asarray(indices), "take")
    if util.dtype_of(idx) == np.bool_:
        raise IndexError("take: indices must be integers, got booleans")
    if mode == "wrap":
        from plax._src.numpy.ufuncs import remainder
        n = a.shape[axis]
        if n == 0:
            raise IndexError("take: cannot wrap indices into an empty axis")
        idx = np.mod(idx, n) if isinstance(idx, np.ndarray) else remainder(idx, n)
        mode = "clip"
    entries = [Slice(0, n, 1, n) for n in a.shape]
    entries[axis] = Adv(idx)
    # as JAX (and NumPy): 'clip' clamps negative indices to 0 rather than wrapping them
    return _gather(a, entries, mode, fill_value, indices_are_sorted, unique_indices,
                   mode != "clip", "take")


def take_along_axis(arr, indices, axis=-1, mode=None, fill_value=None):
    """out[..., j, ...] = arr[..., indices[..., j, ...], ...] along `axis`; the other
    dimensions of arr and indices broadcast. Out of bounds gives `fill_value` by default.
    `axis` defaults to -1 as in the array API (JAX requires it; None flattens arr)."""
    check_arraylike("take_along_axis", arr, indices)
    arr = ensure_array(arr)
    idx = as_index_array(indices, "take_along_axis")
    if util.dtype_of(idx) == np.bool_:
        raise IndexError("take_along_axis: indices must be integers, got booleans")
    if axis is None:
        if np.ndim(idx) != 1:
            raise ValueError(f"take_along_axis: with axis=None, indices must be 1-D, got shape "
                             f"{np.shape(idx)}")
        arr, axis = lax.reshape(arr, (arr.aval.size,)), 0
    if np.ndim(idx) != arr.ndim:
        raise ValueError(f"take_along_axis: indices and arr must have the same number of "
                         f"dimensions; got indices of shape {np.shape(idx)} and arr of shape "
                         f"{arr.shape}")
    axis = canonicalize_axis(axis, arr.ndim, "take_along_axis")
    mode = _take_mode("take_along_axis", mode)
    ishape = list(np.shape(idx))
    ashape = list(arr.shape)
    ishape[axis] = ashape[axis] = 1
    try:
        bshape = list(np.broadcast_shapes(tuple(ishape), tuple(ashape)))
    except ValueError:
        raise ValueError(f"take_along_axis: shapes {arr.shape} and {np.shape(idx)} do not "
                         "broadcast outside the axis") from None
    bshape[axis] = np.shape(idx)[axis]
    out_shape = tuple(bshape)
    if mode == "wrap":
        from plax._src.numpy.ufuncs import remainder
        idx = remainder(idx, arr.shape[axis])
        mode = "clip"
    entries = []
    for d in range(arr.ndim):
        if d == axis:
            i = idx if isinstance(idx, np.ndarray) else ensure_array(idx)
            entries.append(Adv(np.broadcast_to(i, out_shape) if isinstance(i, np.ndarray)
                                else util.broadcast_to(i, out_shape, "take_along_axis")))
        elif arr.shape[d] == 1:
            entries.append(Adv(np.zeros(out_shape, dtypes.default_int_dtype())))
        else:
            entries.append(Adv(lax.broadcasted_iota(dtypes.default_int_dtype(), out_shape,
                                                     d)))
    return _gather(arr, entries, mode, fill_value, False, False, True, "take_along_axis")


# ---------------------------------------------------------------------------------------------
# Index arrays


def unravel_index(indices, shape):
    """Flat indices as a tuple of coordinate arrays for `shape` (row-major). Negative indices
    count from the end, and out-of-bounds ones are clamped (as JAX; NumPy raises)."""
    check_arraylike("unravel_index", indices)
    shape = util.canonicalize_shape(shape, "unravel_index")
    idx = ensure_array(indices)
    if not dtypes.is_int(idx.dtype):
        raise TypeError(f"unravel_index: indices must be integers, got {idx.dtype.name}")
    size = int(np.prod(shape))
    if size == 0:
        raise ValueError(f"unravel_index: cannot unravel into the empty shape {shape}")
    idx = lax.convert_element_type(idx, dtypes.default_int_dtype())
    n = util.convert(size, idx.dtype)
    idx = util.select(lax.lt(idx, util.convert(0, idx.dtype)), lax.add(idx, n), idx)
    idx = lax.max(lax.min(idx, util.convert(size - 1, idx.dtype)), util.convert(0, idx.dtype))
    out, stride = [], size
    for d in shape:
        stride //= d
        coord = lax.div(idx, util.convert(stride, idx.dtype)) if stride != 1 else idx
        out.append(lax.rem(coord, util.convert(d, idx.dtype)) if out else coord)
    return tuple(out)


def indices(dimensions, dtype=None, sparse=False):
    """Coordinate grids of `dimensions`: stacked (len(dimensions), *dimensions), or a tuple of
    broadcastable arrays when sparse."""
    dims = util.canonicalize_shape(dimensions, "indices")
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else dtypes.default_int_dtype()
    grids = []
    for i, d in enumerate(dims):
        if sparse:
            s = [1] * len(dims)
            s[i] = d
            grids.append(lax.broadcasted_iota(dt, tuple(s), i))
        else:
            grids.append(lax.broadcasted_iota(dt, (1,) + dims, i + 1))
    if sparse:
        return tuple(grids)
    return lax.concatenate(grids, 0) if grids else lax.full((0,), 0, dt)


def _static_index_arrays(arrays) -> tuple:
    return tuple(ensure_array(np.asarray(a, dtypes.default_int_dtype())) for a in arrays)


def tril_indices(n, k=0, m=None):
    """The (row, column) indices of the lower triangle of an (n, m) array."""
    n = util.static_int(n, "the n argument of tril_indices")
    k = util.static_int(k, "the k argument of tril_indices")
    m = n if m is None else util.static_int(m, "the m argument of tril_indices")
    return _static_index_arrays(np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    """The (row, column) indices of the upper triangle of an (n, m) array."""
    n = util.static_int(n, "the n argument of triu_indices")
    k = util.static_int(k, "the k argument of triu_indices")
    m = n if m is None else util.static_int(m, "the m argument of triu_indices")
    return _static_index_arrays(np.triu_indices(n, k, m))


def tril_indices_from(arr, k=0):
    s = util.shape(arr)
    if len(s) != 2:
        raise ValueError(f"tril_indices_from: the array must be 2-D, got shape {s}")
    return tril_indices(s[0], k, s[1])


def triu_indices_from(arr, k=0):
    s = util.shape(arr)
    if len(s) != 2:
        raise ValueError(f"triu_indices_from: the array must be 2-D, got shape {s}")
    return triu_indices(s[0], k, s[1])


def diag_indices(n, ndim=2):
    """Indices of the main diagonal of an n x n x ... array of `ndim` dimensions."""
    n = util.static_int(n, "the n argument of diag_indices")
    ndim = util.static_int(ndim, "the ndim argument of diag_indices")
    return _static_index_arrays([np.arange(n)] * ndim)
