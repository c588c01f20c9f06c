"""How a NumPy index becomes lax ops: basic indexing is static slice/rev/reshape (one
dynamic_slice for traced integers); advanced indexing is one gather/scatter plan, with NumPy's
rule for where the advanced dimensions go. Out-of-bounds integers are left to the mode (JAX)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.array import Array
from plax._src.core import ConcretizationTypeError, Tracer
from plax._src.errors import NonConcreteBooleanIndexError
from plax._src.numpy import util
from plax._src.numpy.util import ensure_array

GatherScatterMode = lax.GatherScatterMode


# ---------------------------------------------------------------------------------------------
# Parsing an index into one entry per consumed dimension


class Slice(NamedTuple):
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


class Static(NamedTuple):
    value: int  # normalized, in bounds


class Adv(NamedTuple):
    index: Any  # integer array (NumPy, Array or tracer), possibly 0-d


class BoolScalar(NamedTuple):
    value: bool  # x[True] / x[False]: a new axis of size 1 or 0


class Mask(NamedTuple):
    mask: Any  # a concrete boolean array, expanded into one Adv per dimension it covers


NEWAXIS = "newaxis"


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


def as_index_array(i, where: str):
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


def parse(shape: tuple[int, ...], idx: Any, where: str, normalize: bool = True) -> list:
    """One entry per item of the index: NEWAXIS, Slice, Static, Adv, or ('mask', array,
    ndim) for a boolean array; Ellipsis expanded, trailing dimensions filled with full slices."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    items = []
    for i in idx:
        if i is None or i is Ellipsis or isinstance(i, slice):
            items.append(i)
        elif isinstance(i, (bool, np.bool_)):
            items.append(BoolScalar(bool(i)))
        elif _is_int_scalar(i):
            items.append(int(i))
        elif isinstance(i, (list, tuple, np.ndarray, Array, Tracer)) or hasattr(
                i, "__jax_array__"):
            arr = as_index_array(util.unwrap(i), where)
            dt = arr.dtype
            if dt == np.bool_:
                if np.ndim(arr) == 0:
                    if isinstance(arr, Tracer):
                        raise IndexError(f"{where}: a traced boolean scalar cannot be an index")
                    items.append(BoolScalar(bool(np.asarray(arr))))
                else:
                    items.append(Mask(arr))
            else:
                items.append(arr)
        else:
            raise IndexError(
                f"{where}: only integers, slices (`:`), ellipsis (`...`), None and integer or "
                f"boolean arrays are valid indices, got {i!r:.80} of type {type(i).__name__}")
    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError(f"{where}: an index can only have a single ellipsis ('...')")

    def consumed(i):
        if i is None or i is Ellipsis or isinstance(i, BoolScalar):
            return 0
        if isinstance(i, Mask):
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
            entries.append(NEWAXIS)
        elif isinstance(i, BoolScalar):
            entries.append(i)
        elif isinstance(i, Mask):
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
            if isinstance(mask, Tracer) and mask.to_concrete_value() is not None:
                mask = mask.to_concrete_value()  # known, as under grad outside jit (as JAX)
            if isinstance(mask, Tracer):
                raise NonConcreteBooleanIndexError(
                    f"{where}: boolean indices must be concrete; got a traced boolean array "
                    f"{mask.aval.str_short()}. Under tracing use plax.numpy.where(mask, x, 0) "
                    "or nonzero(mask, size=...) for a static output size")
            for nz in np.nonzero(np.asarray(mask)):
                entries.append(Adv(nz.astype(dtypes.default_int_dtype())))
            dim += k
        elif isinstance(i, slice):
            n = shape[dim]
            start, stop, step = (_slice_bound(i.start, "start"), _slice_bound(i.stop, "stop"),
                                 _slice_bound(i.step, "step"))
            if step == 0:
                raise ValueError(f"{where}: slice step cannot be zero")
            entries.append(Slice(*slice(start, stop, step).indices(n), n))
            dim += 1
        elif isinstance(i, int):
            n = shape[dim]
            # out of bounds is not an error in JAX: getitem clamps it, scatters drop it
            lo = -n if normalize else 0
            entries.append(Static(i + n if i < 0 else i) if lo <= i < n
                           else Adv(np.asarray(i)))
            dim += 1
        else:
            entries.append(Adv(i))
            dim += 1
    return entries


# ---------------------------------------------------------------------------------------------
# Basic indexing: static slices, reversals and one reshape


def basic_getitem(x, entries: list):
    shape = x.aval.shape
    starts, limits, strides, rev_dims, out_shape = [], [], [], [], []
    dim = 0
    for e in entries:
        if e is NEWAXIS:
            out_shape.append(1)
            continue
        n = shape[dim]
        if isinstance(e, Static):
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


def dynamic_scalar_getitem(x, entries: list):
    """Basic indexing where some integers are traced: static slicing (keeping every
    dimension), then one dynamic_slice (which clamps, as JAX's indexing does), then a reshape."""
    pre, sizes = [], iter(x.aval.shape)
    for e in entries:
        if e is NEWAXIS:
            pre.append(e)
            continue
        n = next(sizes)
        pre.append(Slice(e.value, e.value + 1, 1, n) if isinstance(e, Static)
                   else Slice(0, n, 1, n) if isinstance(e, Adv) else e)
    y = basic_getitem(x, pre)
    starts, slice_sizes, out_shape = [], [], []
    for e, n in zip(entries, y.aval.shape):
        if isinstance(e, Adv):
            starts.append(e.index)  # lax.dynamic_slice counts negative ones from the end
            slice_sizes.append(1)
        else:
            starts.append(np.int32(0))
            slice_sizes.append(n)
            if not isinstance(e, Static):
                out_shape.append(n)
    y = lax.dynamic_slice(y, starts, slice_sizes)
    return lax.reshape(y, tuple(out_shape))


# ---------------------------------------------------------------------------------------------
# Advanced indexing: one gather or scatter


class Plan(NamedTuple):
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


def make_plan(shape: tuple[int, ...], entries: list, normalize: bool, where: str) -> Plan:
    # None and boolean scalars become size-1 operand axes, indexed by a full slice or by
    # [0] / [] (a scalar True/False is a 0-d mask: nonzero of it indexes the new axis)
    new_axes, flat = [], []
    for pos, e in enumerate(entries):
        if e is NEWAXIS:
            new_axes.append(pos)
            flat.append(Slice(0, 1, 1, 1))
        elif isinstance(e, BoolScalar):
            new_axes.append(pos)
            flat.append(Adv(np.zeros(1 if e.value else 0, dtypes.default_int_dtype())))
        else:
            flat.append(e)
    ex_shape = list(shape)
    for p in new_axes:
        ex_shape.insert(p, 1)
    ex_shape = tuple(ex_shape)

    # every integer becomes an advanced 0-d index once an array is present (NumPy's rule)
    flat = [Adv(np.asarray(e.value, dtypes.default_int_dtype())) if isinstance(e, Static)
            else e for e in flat]
    adv_dims = [d for d, e in enumerate(flat) if isinstance(e, Adv)] or [-1]
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
        if isinstance(e, Adv):
            if adjacent and d == adv_dims[0]:
                block_start = len(result)
                result.extend(bshape)
        else:
            slice_pos[d] = len(result)
            result.append(e.count)
    if not adjacent:
        block_start = 0
    window_dims = tuple(d for d, e in enumerate(flat) if isinstance(e, Slice) and e.full)
    window_pos = tuple(slice_pos[d] for d in window_dims)
    batch_pos = [p for p in range(len(result)) if p not in window_pos]
    batch_shape = tuple(result[p] for p in batch_pos)

    comps, index_dims = [], []
    for d, e in enumerate(flat):
        if isinstance(e, Slice) and e.full:
            continue
        index_dims.append(d)
        if isinstance(e, Adv):
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
    return Plan(tuple(new_axes), ex_shape, indices, tuple(index_dims), window_dims,
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


def parse_mode(mode, default: GatherScatterMode) -> GatherScatterMode:
    if mode is None:
        return default
    try:
        return GatherScatterMode.from_any(mode)
    except ValueError:
        raise ValueError(f"invalid indexing mode {mode!r}; use 'clip', 'fill', 'drop' or "
                         "'promise_in_bounds'") from None


def is_basic(entries) -> bool:
    return not any(isinstance(e, (Adv, BoolScalar)) for e in entries)


def is_dynamic_scalar(entries) -> bool:
    return all(not isinstance(e, Adv) or (np.ndim(e.index) == 0 and not isinstance(
        e.index, np.ndarray)) for e in entries) and not any(
        isinstance(e, BoolScalar) for e in entries)
