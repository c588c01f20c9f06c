"""Gather and scatter with XLA's general dimension numbers (batching dimensions included), and
the out-of-bounds modes of JAX (`GatherScatterMode`). The index vector is always the last
dimension of the indices, as in JAX.
"""

from __future__ import annotations

import enum
import math
import operator
from typing import Any, NamedTuple

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, canonicalize_shape, get_aval
from plax._src.registry import add_abstract_eval

__all__ = [
    "GatherDimensionNumbers", "ScatterDimensionNumbers", "GatherScatterMode",
    "gather", "scatter", "scatter_add", "scatter_sub", "scatter_mul", "scatter_min",
    "scatter_max",
    "gather_p", "scatter_p", "scatter_add_p", "scatter_sub_p", "scatter_mul_p", "scatter_min_p",
    "scatter_max_p",
]


class GatherDimensionNumbers(NamedTuple):
    """How the dimensions of a gather's operand, start_indices and output relate (as XLA's).

    offset_dims: output dimensions (sorted) holding the sliced window, one per operand dimension
      not collapsed and not batching; collapsed_slice_dims: operand dimensions (sorted, slice
      size 1) with no output dimension; start_index_map: the operand dimension each entry of the
      index vector starts; operand_batching_dims / start_indices_batching_dims: paired dimensions
      of operand and indices that are batched over (slice size 1, no index needed).
    """
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the dimensions of a scatter's operand, scatter_indices and updates relate (as XLA's).

    update_window_dims: updates dimensions (sorted) that are window dimensions;
    inserted_window_dims: operand dimensions (sorted) with an implicit window of size 1;
    scatter_dims_to_operand_dims: the operand dimension each entry of the index vector indexes;
    operand_batching_dims / scatter_indices_batching_dims: paired batched dimensions.
    """
    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


class GatherScatterMode(enum.Enum):
    """What a gather or scatter does with out-of-bounds indices.

    CLIP: start indices are clamped so the whole window is in bounds.
    FILL_OR_DROP: a gathered window that is partly out of bounds is returned filled with
      fill_value; a scattered window that is partly out of bounds is dropped.
    PROMISE_IN_BOUNDS: the caller promises indices are in bounds; as XLA does, gathers clamp
      and scatters drop.
    """
    CLIP = enum.auto()
    FILL_OR_DROP = enum.auto()
    PROMISE_IN_BOUNDS = enum.auto()

    @staticmethod
    def from_any(s: "str | GatherScatterMode | None") -> "GatherScatterMode":
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f"unknown gather/scatter mode {s!r}; use 'clip', 'fill', 'drop', "
                         "'promise_in_bounds' or a GatherScatterMode")


# ---------------------------------------------------------------------------------------------
# Checking dimension numbers (shared by gather and scatter)


def _index_tuple(op: str, name: str, dims: Any) -> tuple[int, ...]:
    try:
        return tuple(operator.index(d) for d in dims)
    except TypeError:
        raise TypeError(f"{op}: dimension_numbers.{name} must be a sequence of integers, "
                        f"got {dims!r}") from None


def _check_dims(op: str, name: str, dims, rank: int, what: str, *, sorted_: bool) -> None:
    """`dims` must be distinct, in [0, rank) and (if `sorted_`) increasing."""
    if len(set(dims)) != len(dims):
        raise PlaxTypeError(f"{op}: {name} must not repeat a dimension, got {dims}")
    if sorted_ and list(dims) != sorted(dims):
        raise PlaxTypeError(f"{op}: {name} must be sorted in increasing order, got {dims}")
    for d in dims:
        if not 0 <= d < rank:
            raise PlaxTypeError(f"{op}: {name} has dimension {d}, out of range for {what} "
                                f"(valid: [0, {rank})); got {name}={dims}")


def _check_disjoint(op: str, name1: str, dims1, name2: str, dims2) -> None:
    common = sorted(set(dims1) & set(dims2))
    if common:
        raise PlaxTypeError(f"{op}: {name1} {dims1} and {name2} {dims2} must be disjoint; "
                            f"both contain {common}")


def _check_indices(op: str, argname: str, indices: ShapedArray) -> None:
    if not dtypes.is_int(indices.dtype):
        raise PlaxTypeError(f"{op}: {argname} must have an integer dtype, got "
                            f"{indices.dtype.name}")
    if indices.ndim == 0:
        raise PlaxTypeError(
            f"{op}: {argname} must have rank >= 1 (its last dimension is the index vector; "
            "for scalar indices add a trailing dimension of size 1), got a 0-d array")


def _check_batching(op: str, operand: ShapedArray, indices: ShapedArray, op_bdims, idx_bdims,
                    idx_bdims_name: str) -> None:
    _check_dims(op, "operand_batching_dims", op_bdims, operand.ndim, "the operand", sorted_=True)
    # the index vector dimension (the last) cannot be a batching dimension
    _check_dims(op, idx_bdims_name, idx_bdims, indices.ndim - 1,
                "the indices' batch dimensions (all but the last, the index vector)",
                sorted_=False)
    if len(op_bdims) != len(idx_bdims):
        raise PlaxTypeError(f"{op}: operand_batching_dims {op_bdims} and {idx_bdims_name} "
                            f"{idx_bdims} must have the same length")
    op_shape = tuple(operand.shape[d] for d in op_bdims)
    idx_shape = tuple(indices.shape[d] for d in idx_bdims)
    if op_shape != idx_shape:
        raise PlaxTypeError(f"{op}: the operand's batching dimensions {op_bdims} have sizes "
                            f"{op_shape} but the indices' {idx_bdims_name} {idx_bdims} have "
                            f"sizes {idx_shape}; they must be equal")


# ---------------------------------------------------------------------------------------------
# gather

gather_p = Primitive("gather", linear_in=(0,))


def _gather_abstract(operand, indices, *, dimension_numbers, slice_sizes, indices_are_sorted,
                     unique_indices, mode, fill_value):
    op = "gather"
    dn = dimension_numbers
    if not isinstance(dn, GatherDimensionNumbers):
        raise PlaxTypeError(f"gather: dimension_numbers must be a GatherDimensionNumbers, got "
                            f"{type(dn).__name__}")
    if not isinstance(mode, GatherScatterMode):
        raise PlaxTypeError(f"gather: mode must be a GatherScatterMode, got {mode!r}")
    _check_indices(op, "start_indices", indices)
    batch_shape = indices.shape[:-1]
    out_rank = len(dn.offset_dims) + len(batch_shape)
    _check_dims(op, "offset_dims", dn.offset_dims, out_rank,
                f"the output of rank {out_rank} (len(offset_dims) + start_indices.ndim - 1)",
                sorted_=True)
    if len(dn.start_index_map) != indices.shape[-1]:
        raise PlaxTypeError(
            f"gather: start_index_map {dn.start_index_map} has {len(dn.start_index_map)} "
            f"entries but the index vector (last dimension of start_indices, shape "
            f"{indices.shape}) has size {indices.shape[-1]}; they must be equal")
    _check_dims(op, "start_index_map", dn.start_index_map, operand.ndim, "the operand",
                sorted_=False)
    _check_dims(op, "collapsed_slice_dims", dn.collapsed_slice_dims, operand.ndim,
                "the operand", sorted_=True)
    _check_batching(op, operand, indices, dn.operand_batching_dims,
                    dn.start_indices_batching_dims, "start_indices_batching_dims")
    _check_disjoint(op, "collapsed_slice_dims", dn.collapsed_slice_dims,
                    "operand_batching_dims", dn.operand_batching_dims)
    _check_disjoint(op, "start_index_map", dn.start_index_map,
                    "operand_batching_dims", dn.operand_batching_dims)
    if len(slice_sizes) != operand.ndim:
        raise PlaxTypeError(f"gather: slice_sizes {slice_sizes} must have one entry per operand "
                            f"dimension ({operand.ndim} for operand shape {operand.shape})")
    n_window = len(dn.offset_dims) + len(dn.collapsed_slice_dims) + len(dn.operand_batching_dims)
    if n_window != operand.ndim:
        raise PlaxTypeError(
            f"gather: every operand dimension must be an offset, collapsed or batching "
            f"dimension: len(offset_dims)={len(dn.offset_dims)} + len(collapsed_slice_dims)="
            f"{len(dn.collapsed_slice_dims)} + len(operand_batching_dims)="
            f"{len(dn.operand_batching_dims)} must equal the operand rank {operand.ndim}")
    empty = math.prod(batch_shape) == 0  # nothing is read: sizes need not fit (as XLA)
    for i, (s, d) in enumerate(zip(slice_sizes, operand.shape, strict=True)):
        if s < 0 or (s > d and not empty):
            raise PlaxTypeError(f"gather: slice_sizes[{i}]={s} is out of range for operand "
                                f"dimension {i} of size {d} (valid: [0, {d}])")
    for d in dn.collapsed_slice_dims:
        if slice_sizes[d] != 1:
            raise PlaxTypeError(f"gather: collapsed_slice_dims contains dimension {d} whose "
                                f"slice size is {slice_sizes[d]}; collapsed dimensions need "
                                "slice size 1")
    for d in dn.operand_batching_dims:
        if slice_sizes[d] != 1 and not (slice_sizes[d] == 0 and operand.shape[d] == 0):
            raise PlaxTypeError(f"gather: operand_batching_dims contains dimension {d} whose "
                                f"slice size is {slice_sizes[d]}; batching dimensions need "
                                "slice size 1")
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window = iter(s for i, s in enumerate(slice_sizes) if i not in dropped)
    batch = iter(batch_shape)
    offset = set(dn.offset_dims)
    shape = tuple(next(window) if i in offset else next(batch) for i in range(out_rank))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


add_abstract_eval(gather_p, _gather_abstract)


# ---------------------------------------------------------------------------------------------
# scatter and its combining variants


def _scatter_abstract(op: str):
    def rule(operand, indices, updates, *, dimension_numbers, indices_are_sorted,
             unique_indices, mode):
        dn = dimension_numbers
        if not isinstance(dn, ScatterDimensionNumbers):
            raise PlaxTypeError(f"{op}: dimension_numbers must be a ScatterDimensionNumbers, "
                                f"got {type(dn).__name__}")
        if not isinstance(mode, GatherScatterMode):
            raise PlaxTypeError(f"{op}: mode must be a GatherScatterMode, got {mode!r}")
        _check_indices(op, "scatter_indices", indices)
        if operand.dtype != updates.dtype:
            raise PlaxTypeError(f"{op}: operand and updates must have the same dtype, got "
                                f"{operand.dtype.name} and {updates.dtype.name}")
        batch_shape = indices.shape[:-1]
        want_rank = len(batch_shape) + len(dn.update_window_dims)
        if updates.ndim != want_rank:
            raise PlaxTypeError(
                f"{op}: updates must have rank {want_rank} (scatter_indices.ndim - 1 + "
                f"len(update_window_dims)), got shape {updates.shape}")
        _check_dims(op, "update_window_dims", dn.update_window_dims, updates.ndim,
                    "the updates", sorted_=True)
        _check_dims(op, "inserted_window_dims", dn.inserted_window_dims, operand.ndim,
                    "the operand", sorted_=True)
        _check_batching(op, operand, indices, dn.operand_batching_dims,
                        dn.scatter_indices_batching_dims, "scatter_indices_batching_dims")
        _check_disjoint(op, "inserted_window_dims", dn.inserted_window_dims,
                        "operand_batching_dims", dn.operand_batching_dims)
        _check_disjoint(op, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                        "operand_batching_dims", dn.operand_batching_dims)
        n_window = (len(dn.update_window_dims) + len(dn.inserted_window_dims)
                    + len(dn.operand_batching_dims))
        if n_window != operand.ndim:
            raise PlaxTypeError(
                f"{op}: every operand dimension must be a window, inserted or batching "
                f"dimension: len(update_window_dims)={len(dn.update_window_dims)} + "
                f"len(inserted_window_dims)={len(dn.inserted_window_dims)} + "
                f"len(operand_batching_dims)={len(dn.operand_batching_dims)} must equal the "
                f"operand rank {operand.ndim}")
        if len(dn.scatter_dims_to_operand_dims) != indices.shape[-1]:
            raise PlaxTypeError(
                f"{op}: scatter_dims_to_operand_dims {dn.scatter_dims_to_operand_dims} has "
                f"{len(dn.scatter_dims_to_operand_dims)} entries but the index vector (last "
                f"dimension of scatter_indices, shape {indices.shape}) has size "
                f"{indices.shape[-1]}; they must be equal")
        _check_dims(op, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims,
                    operand.ndim, "the operand", sorted_=False)
        dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        window_operand_dims = [d for d in range(operand.ndim) if d not in dropped]
        for u, d in zip(dn.update_window_dims, window_operand_dims, strict=True):
            if updates.shape[u] > operand.shape[d]:
                raise PlaxTypeError(
                    f"{op}: window dimension {u} of updates (shape {updates.shape}) has size "
                    f"{updates.shape[u]}, larger than the corresponding operand dimension {d} "
                    f"of size {operand.shape[d]}")
        scatter_dims = [d for d in range(updates.ndim) if d not in set(dn.update_window_dims)]
        upd_batch = tuple(updates.shape[d] for d in scatter_dims)
        if upd_batch != batch_shape:
            raise PlaxTypeError(
                f"{op}: the scatter dimensions {tuple(scatter_dims)} of updates (shape "
                f"{updates.shape}) have sizes {upd_batch}, but scatter_indices (shape "
                f"{indices.shape}) has batch sizes {batch_shape}; they must be equal")
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)
    return rule


def _scatter_primitive(name: str, user_name: str, linear_in: tuple[int, ...]) -> Primitive:
    p = Primitive(name, linear_in=linear_in)  # JAX's primitive names, e.g. 'scatter-add'
    add_abstract_eval(p, _scatter_abstract(user_name))
    return p


# scatter (replace) is linear in operand and updates jointly; scatter-mul only in operand
scatter_p = _scatter_primitive("scatter", "scatter", (0, 2))
scatter_add_p = _scatter_primitive("scatter-add", "scatter_add", (0, 2))
scatter_sub_p = _scatter_primitive("scatter-sub", "scatter_sub", (0, 2))
scatter_mul_p = _scatter_primitive("scatter-mul", "scatter_mul", (0,))
scatter_min_p = _scatter_primitive("scatter-min", "scatter_min", ())
scatter_max_p = _scatter_primitive("scatter-max", "scatter_max", ())


# ---------------------------------------------------------------------------------------------
# User-facing functions


def _gather_dnums(dn: Any) -> GatherDimensionNumbers:
    if not isinstance(dn, GatherDimensionNumbers):
        raise TypeError(f"gather: dimension_numbers must be a lax.GatherDimensionNumbers, got "
                        f"{type(dn).__name__}: {dn!r}")
    return GatherDimensionNumbers(*(_index_tuple("gather", f, v)
                                    for f, v in zip(dn._fields, dn, strict=True)))


def _scatter_dnums(op: str, dn: Any) -> ScatterDimensionNumbers:
    if not isinstance(dn, ScatterDimensionNumbers):
        raise TypeError(f"{op}: dimension_numbers must be a lax.ScatterDimensionNumbers, got "
                        f"{type(dn).__name__}: {dn!r}")
    return ScatterDimensionNumbers(*(_index_tuple(op, f, v)
                                     for f, v in zip(dn._fields, dn, strict=True)))


def _default_fill_value(dtype: np.dtype):
    """JAX's fill for out-of-bounds gathers: NaN, the most negative signed integer, the
    largest unsigned integer, True."""
    if dtypes.is_inexact(dtype):
        return np.nan
    if dtypes.is_signed(dtype):
        return int(np.iinfo(dtype).min)
    if dtypes.is_unsigned(dtype):
        return int(np.iinfo(dtype).max)
    return True


def _static_scalar(op: str, x: Any):
    if isinstance(x, (bool, int, float, complex)):
        return x
    if isinstance(x, (np.generic, np.ndarray)) and np.ndim(x) == 0:
        return x.item()
    raise TypeError(f"{op}: fill_value must be a Python or NumPy scalar (a static value), got "
                    f"{type(x).__name__}")


def gather(operand, start_indices, dimension_numbers: GatherDimensionNumbers, slice_sizes, *,
           unique_indices: bool = False, indices_are_sorted: bool = False, mode=None,
           fill_value=None):
    """XLA's Gather: slices of `slice_sizes` from `operand` starting at `start_indices`.

    mode None is PROMISE_IN_BOUNDS (as jax.lax.gather); under FILL_OR_DROP ('fill') a window
    that is partly out of bounds is `fill_value` (default NaN for inexact dtypes, the most
    negative/largest integer for signed/unsigned, True for bool)."""
    mode = (GatherScatterMode.PROMISE_IN_BOUNDS if mode is None
            else GatherScatterMode.from_any(mode))
    if mode == GatherScatterMode.FILL_OR_DROP:
        fill_value = (_default_fill_value(get_aval(operand).dtype) if fill_value is None
                      else _static_scalar("gather", fill_value))
    else:
        fill_value = None
    return gather_p.bind(operand, start_indices, dimension_numbers=_gather_dnums(dimension_numbers),
                         slice_sizes=canonicalize_shape(slice_sizes, "gather's slice_sizes"),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices), mode=mode, fill_value=fill_value)


def _scatter_fn(prim: Primitive, name: str, what: str):
    def fn(operand, scatter_indices, updates, dimension_numbers: ScatterDimensionNumbers, *,
           indices_are_sorted: bool = False, unique_indices: bool = False, mode=None):
        return prim.bind(operand, scatter_indices, updates,
                         dimension_numbers=_scatter_dnums(name, dimension_numbers),
                         indices_are_sorted=bool(indices_are_sorted),
                         unique_indices=bool(unique_indices),
                         mode=GatherScatterMode.from_any(mode))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"XLA's Scatter, {what}. mode None is FILL_OR_DROP (as jax.lax.{name}): a "
                  "window that is partly out of bounds is dropped; 'clip' clamps the indices.")
    return fn


scatter = _scatter_fn(scatter_p, "scatter",
                      "replacing operand values (with duplicate indices one update wins)")
scatter_add = _scatter_fn(scatter_add_p, "scatter_add", "adding updates (duplicates accumulate)")
scatter_sub = _scatter_fn(scatter_sub_p, "scatter_sub", "subtracting updates")
scatter_mul = _scatter_fn(scatter_mul_p, "scatter_mul", "multiplying by updates")
scatter_min = _scatter_fn(scatter_min_p, "scatter_min", "taking the minimum with updates")
scatter_max = _scatter_fn(scatter_max_p, "scatter_max", "taking the maximum with updates")
