"""NumPy indexing for plax arrays and tracers, with JAX's semantics.

`x[idx]`: basic indexing (ints, slices of any step, None, Ellipsis) becomes lax slice, rev and
reshape (a traced integer becomes a dynamic_slice); advanced indexing (integer arrays, boolean
masks, which must be concrete, and mixes) becomes one gather, with NumPy's rule for where the
advanced dimensions go. Out-of-bounds indices are clamped by default. `x.at[idx].set(v)` and its
siblings become one scatter (out-of-bounds updates are dropped by default). Also take and
take_along_axis.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.array import Array
from plax._src.core import ConcretizationTypeError, Tracer
from plax._src.numpy import util
from plax._src.numpy.util import canonicalize_axis, check_arraylike, ensure_array

__all__ = ["getitem", "IndexUpdateHelper", "take", "take_along_axis"]

GatherScatterMode = lax.GatherScatterMode


# ---------------------------------------------------------------------------------------------
# Parsing an index into one entry per consumed dimension


class _Slice(NamedTuple):
    start: int
    stop: int
    step: int
    size: int  # the dimension's size

    @property
    def count(self) -> int:
        return len(range(self.start, self.stop, self.step))

    @property
    def full(self) -> bool:
        return self.start == 0 and self.step == 1 and self.stop == self.size


class _Static(NamedTuple):
    value: int  # normalized, in bounds


class _Adv(NamedTuple):
    index: Any  # integer array (NumPy, Array or tracer), possibly 0-d


class _BoolScalar(NamedTuple):
    value: bool  # x[True] / x[False]: a new axis of size 1 or 0


class _Mask(NamedTuple):
    mask: Any  # a concrete boolean array, expanded into one _Adv per dimension it covers


_NEWAXIS = "newaxis"


def _is_int_scalar(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _slice_bound(v, what: str):
    if v is None:
        return None
    if isinstance(v, Tracer):
        raise ConcretizationTypeError(
            f"slice {what} must be static, got a traced value {v.aval.str_short()}; use "
            "plax.lax.dynamic_slice for slices at traced positions")
    try:
        return int(v.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"slice {what} must be an integer or None, got {v!r}") from None


def _as_index_array(i, where: str):
    """Lists, NumPy arrays, Arrays and tracers used as an index, checked to be int or bool."""
    if isinstance(i, (list, tuple)):
        try:
            i = np.asarray(i)
        except ValueError:
            raise IndexError(f"{where}: a ragged nested list cannot be an index") from None
        if i.dtype == np.float64 and i.size == 0:
            i = i.astype(np.int32)  # x[[]] selects nothing, as in NumPy
    dt = util.dtype_of(i) if not isinstance(i, np.ndarray) else i.dtype
    if not (np.issubdtype(dt, np.integer) or dt == np.bool_):
        raise IndexError(f"{where}: arrays used as indices must be of integer or boolean type, "
                         f"got dtype {np.dtype(dt).name}")
    return i


def _parse(shape: tuple[int, ...], idx: Any, where: str, normalize: bool = True) -> list:
    """One entry per item of the index: _NEWAXIS, _Slice, _Static, _Adv, or ('mask', array,
    ndim) for a boolean array; Ellipsis expanded, trailing dimensions filled with full slices."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = []
    for i in idx:
        if i is None or i is Ellipsis or isinstance(i, slice):
            items.append(i)
        elif isinstance(i, (bool, np.bool_)):
            items.append(_BoolScalar(bool(i)))
        elif _is_int_scalar(i):
            items.append(int(i))
        elif isinstance(i, (list, tuple, np.ndarray, Array, Tracer)) or hasattr(
                i, "__jax_array__"):
            arr = _as_index_array(util._unwrap(i), where)
            dt = arr.dtype
            if dt == np.bool_:
                if np.ndim(arr) == 0:
                    if isinstance(arr, Tracer):
                        raise IndexError(f"{where}: a traced boolean scalar cannot be an index")
                    items.append(_BoolScalar(bool(np.asarray(arr))))
                else:
                    items.append(_Mask(arr))
            else:
                items.append(arr)
        else:
            raise IndexError(
                f"{where}: only integers, slices (`:`), ellipsis (`...`), None and integer or "
                f"boolean arrays are valid indices, got {i!r:.80} of type {type(i).__name__}")
    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError(f"{where}: an index can only have a single ellipsis ('...')")

    def consumed(i):
        if i is None or i is Ellipsis or isinstance(i, _BoolScalar):
            return 0
        if isinstance(i, _Mask):
            return np.ndim(i.mask)
        return 1

    used = sum(consumed(i) for i in items)
    if used > len(shape):
        raise IndexError(f"{where}: too many indices for array: array is {len(shape)}-"
                         f"dimensional, but {used} were indexed")
    fill = [slice(None)] * (len(shape) - used)
    if Ellipsis in [i for i in items if i is Ellipsis]:
        k = next(n for n, i in enumerate(items) if i is Ellipsis)
        items = items[:k] + fill + items[k + 1:]
    else:
        items = items + fill

    entries, dim = [], 0
    for i in items:
        if i is None:
            entries.append(_NEWAXIS)
        elif isinstance(i, _BoolScalar):
            entries.append(i)
        elif isinstance(i, _Mask):
            mask = i.mask
            k = np.ndim(mask)
            dims = shape[dim:dim + k]
            mshape = np.shape(mask)
            for a, (n, m) in enumerate(zip(dims, mshape)):
                if n != m:
                    raise IndexError(
                        f"{where}: boolean index did not match indexed array along axis "
                        f"{dim + a}; size of axis is {n} but size of corresponding boolean axis "
                        f"is {m}")
            if isinstance(mask, Tracer):
                raise IndexError(
                    f"{where}: boolean indices must be concrete; got a traced boolean array "
                    f"{mask.aval.str_short()}. Under tracing use plax.numpy.where(mask, x, 0) "
                    "or nonzero(mask, size=...) for a static output size")
            for nz in np.nonzero(np.asarray(mask)):
                entries.append(_Adv(nz.astype(dtypes.default_int_dtype())))
            dim += k
        elif isinstance(i, slice):
            n = shape[dim]
            start, stop, step = (_slice_bound(i.start, "start"), _slice_bound(i.stop, "stop"),
                                 _slice_bound(i.step, "step"))
            if step == 0:
                raise ValueError(f"{where}: slice step cannot be zero")
            entries.append(_Slice(*slice(start, stop, step).indices(n), n))
            dim += 1
        elif isinstance(i, int):
            n = shape[dim]
            # out of bounds is not an error in JAX: getitem clamps it, scatters drop it
            lo = -n if normalize else 0
            entries.append(_Static(i + n if i < 0 else i) if lo <= i < n
                           else _Adv(np.asarray(i)))
            dim += 1
        else:
            entries.append(_Adv(i))
            dim += 1
    return entries


# ---------------------------------------------------------------------------------------------
# Basic indexing: static slices, reversals and one reshape


def _basic_getitem(x, entries: list):
    shape = x.aval.shape
    starts, limits, strides, rev_dims, out_shape = [], [], [], [], []
    dim = 0
    for e in entries:
        if e is _NEWAXIS:
            out_shape.append(1)
            continue
        n = shape[dim]
        if isinstance(e, _Static):
            starts.append(e.value)
            limits.append(e.value + 1)
            strides.append(1)
        else:
            count = e.count
            if e.step > 0:
                start, step = e.start, e.step
            else:  # read the reversed dimension forward
                rev_dims.append(dim)
                start, step = n - 1 - e.start, -e.step
            starts.append(start if count else 0)
            limits.append(start + (count - 1) * step + 1 if count else 0)
            strides.append(step)
            out_shape.append(count)
        dim += 1
    y = lax.rev(x, tuple(rev_dims)) if rev_dims else x
    if (tuple(starts) != (0,) * len(shape) or tuple(limits) != shape
            or any(s != 1 for s in strides)):
        y = lax.slice(y, tuple(starts), tuple(limits),
                      None if all(s == 1 for s in strides) else tuple(strides))
    if y.aval.shape != tuple(out_shape):
        y = lax.reshape(y, tuple(out_shape))
    return y


def _dynamic_scalar_getitem(x, entries: list):
    """Basic indexing where some integers are traced: static slicing (keeping every
    dimension), then one dynamic_slice (which clamps, as JAX's indexing does), then a reshape."""
    pre, sizes = [], iter(x.aval.shape)
    for e in entries:
        if e is _NEWAXIS:
            pre.append(e)
            continue
        n = next(sizes)
        pre.append(_Slice(e.value, e.value + 1, 1, n) if isinstance(e, _Static)
                   else _Slice(0, n, 1, n) if isinstance(e, _Adv) else e)
    y = _basic_getitem(x, pre)
    starts, slice_sizes, out_shape = [], [], []
    for e, n in zip(entries, y.aval.shape):
        if isinstance(e, _Adv):
            starts.append(e.index)  # lax.dynamic_slice counts negative ones from the end
            slice_sizes.append(1)
        else:
            starts.append(np.int32(0))
            slice_sizes.append(n)
            if not isinstance(e, _Static):
                out_shape.append(n)
    y = lax.dynamic_slice(y, starts, slice_sizes)
    return lax.reshape(y, tuple(out_shape))


# ---------------------------------------------------------------------------------------------
# Advanced indexing: one gather or scatter


class _Plan(NamedTuple):
    """How an advanced index maps onto gather/scatter: the operand gets `new_axes` inserted
    (for None and boolean scalars); `indices` has shape batch_shape + (len(index_dims),);
    `result_shape` is x[idx].shape; `window_pos` are the result positions of the full-slice
    dimensions (the windows) and `window_dims` their operand dimensions."""
    new_axes: tuple[int, ...]
    expanded_shape: tuple[int, ...]
    indices: Any
    index_dims: tuple[int, ...]
    window_dims: tuple[int, ...]
    window_pos: tuple[int, ...]
    result_shape: tuple[int, ...]


def _normalize_adv(i, n: int, normalize: bool):
    """An integer index array as the default int, negative entries counted from the end."""
    idx_dt = dtypes.default_int_dtype()
    if isinstance(i, np.ndarray):
        i = i.astype(np.int64)
        if normalize:
            i = np.where(i < 0, i + n, i)
        info = np.iinfo(idx_dt)
        return np.asarray(np.clip(i, info.min, info.max), idx_dt)  # far out of bounds stays so
    i = ensure_array(i)
    signed = dtypes.is_signed(i.dtype)
    i = lax.convert_element_type(i, idx_dt)
    if normalize and signed:
        i = lax.select(lax.lt(i, util.convert(0, idx_dt)), lax.add(i, util.convert(n, idx_dt)),
                       i)
    return i


def _plan(shape: tuple[int, ...], entries: list, normalize: bool, where: str) -> _Plan:
    # None and boolean scalars become size-1 operand axes, indexed by a full slice or by
    # [0] / [] (a scalar True/False is a 0-d mask: nonzero of it indexes the new axis)
    new_axes, flat = [], []
    for pos, e in enumerate(entries):
        if e is _NEWAXIS:
            new_axes.append(pos)
            flat.append(_Slice(0, 1, 1, 1))
        elif isinstance(e, _BoolScalar):
            new_axes.append(pos)
            flat.append(_Adv(np.zeros(1 if e.value else 0, dtypes.default_int_dtype())))
        else:
            flat.append(e)
    ex_shape = list(shape)
    for p in new_axes:
        ex_shape.insert(p, 1)
    ex_shape = tuple(ex_shape)

    # every integer becomes an advanced 0-d index once an array is present (NumPy's rule)
    flat = [_Adv(np.asarray(e.value, dtypes.default_int_dtype())) if isinstance(e, _Static)
            else e for e in flat]
    adv_dims = [d for d, e in enumerate(flat) if isinstance(e, _Adv)] or [-1]
    try:
        bshape = np.broadcast_shapes(*(np.shape(flat[d].index) for d in adv_dims if d >= 0))
    except ValueError:
        raise IndexError(f"{where}: shape mismatch: indexing arrays could not be broadcast "
                         "together with shapes "
                         + " ".join(str(np.shape(flat[d].index)) for d in adv_dims
                                    if d >= 0)) from None
    adjacent = adv_dims == list(range(adv_dims[0], adv_dims[-1] + 1))
    # the result's dimensions: slices in order, the broadcast block at the first advanced
    # position if the advanced indices are adjacent, else first
    result, slice_pos = [], {}
    if not adjacent:
        result.extend(bshape)
    for d, e in enumerate(flat):
        if isinstance(e, _Adv):
            if adjacent and d == adv_dims[0]:
                block_start = len(result)
                result.extend(bshape)
        else:
            slice_pos[d] = len(result)
            result.append(e.count)
    if not adjacent:
        block_start = 0
    window_dims = tuple(d for d, e in enumerate(flat) if isinstance(e, _Slice) and e.full)
    window_pos = tuple(slice_pos[d] for d in window_dims)
    batch_pos = [p for p in range(len(result)) if p not in window_pos]
    batch_shape = tuple(result[p] for p in batch_pos)

    comps, index_dims = [], []
    for d, e in enumerate(flat):
        if isinstance(e, _Slice) and e.full:
            continue
        index_dims.append(d)
        if isinstance(e, _Adv):
            i = _normalize_adv(e.index, ex_shape[d], normalize)
            lead = len(bshape) - np.ndim(i)
            dims = tuple(batch_pos.index(block_start + lead + k) for k in range(np.ndim(i)))
        else:  # a partial or strided slice: its positions, along its own result dimension
            i = np.arange(e.start, e.stop, e.step, dtype=dtypes.default_int_dtype())
            dims = (batch_pos.index(slice_pos[d]),)
        comps.append(_bcast(i, batch_shape, dims))
    if comps:
        indices = _stack_last(comps, batch_shape)
    else:
        indices = None
    return _Plan(tuple(new_axes), ex_shape, indices, tuple(index_dims), window_dims,
                 window_pos, tuple(result))


def _bcast(i, shape: tuple, dims: tuple):
    """Index component `i` broadcast to `shape`, its dimension k going to dims[k]."""
    if isinstance(i, np.ndarray):
        full = [1] * len(shape)
        for src, k in enumerate(dims):
            full[k] = i.shape[src]
        return np.broadcast_to(i.reshape(full), shape)
    if i.aval.shape == tuple(shape) and dims == tuple(range(len(shape))):
        return i
    return lax.broadcast_in_dim(i, shape, dims)


def _stack_last(comps: list, batch_shape: tuple):
    if all(isinstance(c, np.ndarray) for c in comps):
        return np.stack(comps, axis=-1)
    out_shape = batch_shape + (1,)
    parts = [lax.reshape(ensure_array(c), out_shape) for c in comps]
    return lax.concatenate(parts, len(batch_shape))


def _parse_mode(mode, default: GatherScatterMode) -> GatherScatterMode:
    if mode is None:
        return default
    try:
        return GatherScatterMode.from_any(mode)
    except ValueError:
        raise ValueError(f"invalid indexing mode {mode!r}; use 'clip', 'fill', 'drop' or "
                         "'promise_in_bounds'") from None


def _gather(x, entries, mode, fill_value, indices_are_sorted, unique_indices, normalize,
            where):
    x = ensure_array(x)
    plan = _plan(x.aval.shape, entries, normalize, where)
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
                      mode=_parse_mode(mode, GatherScatterMode.CLIP), fill_value=fill_value)


def _is_basic(entries) -> bool:
    return not any(isinstance(e, (_Adv, _BoolScalar)) for e in entries)


def _is_dynamic_scalar(entries) -> bool:
    return all(not isinstance(e, _Adv) or (np.ndim(e.index) == 0 and not isinstance(
        e.index, np.ndarray)) for e in entries) and not any(
        isinstance(e, _BoolScalar) for e in entries)


def rewriting_take(x, idx, *, mode=None, fill_value=None, indices_are_sorted=False,
                   unique_indices=False, normalize=True):
    """x[idx] with an explicit out-of-bounds `mode` (None: clamp)."""
    x = ensure_array(x)
    where = "indexing"
    entries = _parse(x.aval.shape, idx, where, normalize)
    if _is_basic(entries):
        return _basic_getitem(x, entries)
    clamping = _parse_mode(mode, GatherScatterMode.CLIP) != GatherScatterMode.FILL_OR_DROP
    if _is_dynamic_scalar(entries) and clamping and normalize:
        return _dynamic_scalar_getitem(x, entries)
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
    where = f"x.at[...].{fun_name}"
    entries = _parse(x.aval.shape, idx, where, normalize)
    everything = all(isinstance(e, _Slice) and e.full for e in entries)
    plan = None if everything else _plan(x.aval.shape, entries, normalize, where)
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
                         mode=_parse_mode(mode, GatherScatterMode.FILL_OR_DROP))
    return lax.reshape(out, x.aval.shape) if plan.new_axes else out


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

    def _update(self, name, scatter_fn, combine, values, kw):
        return _scatter(self.array, self.index, values, scatter_fn, combine, name,
                        mode=kw.get("mode"), indices_are_sorted=kw.get("indices_are_sorted",
                                                                       False),
                        unique_indices=kw.get("unique_indices", False),
                        normalize=kw.get("wrap_negative_indices", True))

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """x[idx] = values (with repeated indices, one of the updates wins)."""
        return self._update("set", lax.scatter, lambda old, new: new, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """x[idx] += values (repeated indices accumulate)."""
        from plax._src.numpy.ufuncs import add
        return self._update("add", lax.scatter_add, add, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
                 wrap_negative_indices=True):
        from plax._src.numpy.ufuncs import subtract
        return self._update("subtract", lax.scatter_sub, subtract, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
                 wrap_negative_indices=True):
        from plax._src.numpy.ufuncs import multiply
        return self._update("multiply", lax.scatter_mul, multiply, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    mul = multiply

    def _via_factor(self, op, values, kw):
        # x[idx] /= v is x / (ones with v multiplied in at idx), as JAX does it
        from plax._src.numpy.creation import ones_like
        ref = _IndexUpdateRef(ones_like(self.array), self.index)
        return op(self.array, ref.multiply(values, **kw))

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
               wrap_negative_indices=True):
        from plax._src.numpy.ufuncs import divide
        return self._via_factor(divide, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
              wrap_negative_indices=True):
        from plax._src.numpy.ufuncs import power
        return self._via_factor(power, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        """x[idx] = minimum(x[idx], values)."""
        from plax._src.numpy.ufuncs import minimum
        return self._update("min", lax.scatter_min, minimum, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None,
            wrap_negative_indices=True):
        from plax._src.numpy.ufuncs import maximum
        return self._update("max", lax.scatter_max, maximum, values, dict(
            indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode,
            wrap_negative_indices=wrap_negative_indices))

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
    idx = _as_index_array(indices if not isinstance(indices, (int, np.integer)) else
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
    entries = [_Slice(0, n, 1, n) for n in a.shape]
    entries[axis] = _Adv(idx)
    # as JAX (and NumPy): 'clip' clamps negative indices to 0 rather than wrapping them
    return _gather(a, entries, mode, fill_value, indices_are_sorted, unique_indices,
                   mode != "clip", "take")


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """out[..., j, ...] = arr[..., indices[..., j, ...], ...] along `axis`; the other
    dimensions of arr and indices broadcast. Out of bounds gives `fill_value` by default."""
    check_arraylike("take_along_axis", arr, indices)
    arr = ensure_array(arr)
    idx = _as_index_array(indices, "take_along_axis")
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
            entries.append(_Adv(np.broadcast_to(i, out_shape) if isinstance(i, np.ndarray)
                                else util.broadcast_to(i, out_shape, "take_along_axis")))
        elif arr.shape[d] == 1:
            entries.append(_Adv(np.zeros(out_shape, dtypes.default_int_dtype())))
        else:
            entries.append(_Adv(lax.broadcasted_iota(dtypes.default_int_dtype(), out_shape,
                                                     d)))
    return _gather(arr, entries, mode, fill_value, False, False, True, "take_along_axis")
