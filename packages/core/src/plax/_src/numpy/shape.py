"""Shape manipulation in plax.numpy: reshape/ravel/transpose/squeeze/expand_dims, broadcasting,
joining and splitting, tile/repeat, flips and rolls, and diagonals. Shapes are static, so most
of these check their arguments on the host and emit a few lax structural ops.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.core import ConcretizationTypeError, Tracer
from plax._src.numpy import util
from plax._src.numpy.util import (
    canonicalize_axes, canonicalize_axis, check_arraylike, ensure_array, promote_dtypes,
    static_int)

__all__ = [
    "shape", "ndim", "size", "reshape", "ravel", "transpose", "permute_dims",
    "matrix_transpose", "swapaxes", "moveaxis", "squeeze", "expand_dims", "broadcast_to",
    "broadcast_arrays", "broadcast_shapes", "atleast_1d", "atleast_2d", "atleast_3d",
    "concatenate", "concat", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack",
    "append", "split", "array_split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "flip",
    "fliplr", "flipud", "roll", "rot90", "diagonal", "diag", "diagflat", "trace",
]


def _arr(fun_name: str, a: Any):
    check_arraylike(fun_name, a)
    return ensure_array(a)


def shape(a: Any) -> tuple[int, ...]:
    return util.shape(a)


def ndim(a: Any) -> int:
    return util.ndim(a)


def size(a: Any, axis: int | None = None) -> int:
    s = util.shape(a)
    if axis is None:
        return math.prod(s)
    return s[canonicalize_axis(axis, len(s), "size")]


# ---------------------------------------------------------------------------------------------
# Reshaping and axes


def _resolve_shape(fun_name: str, a_shape: tuple, newshape: Any) -> tuple[int, ...]:
    if isinstance(newshape, (int, np.integer)) or (hasattr(newshape, "aval")
                                                  and not newshape.aval.shape):
        newshape = (newshape,)
    dims = [static_int(d, f"the shape argument of {fun_name}") for d in newshape]
    total = math.prod(a_shape)
    unknown = [i for i, d in enumerate(dims) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in dims):
        raise ValueError(f"{fun_name}: invalid shape {tuple(dims)}: at most one dimension may "
                         "be -1 and the others must be non-negative")
    if unknown:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"{fun_name}: cannot reshape array of size {total} into shape "
                             f"{tuple(dims)}")
        dims[unknown[0]] = total // known
    if math.prod(dims) != total:
        raise ValueError(f"{fun_name}: cannot reshape array of size {total} into shape "
                         f"{tuple(dims)}")
    return tuple(dims)


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: bool | None = None) -> Any:
    """`a` with a new shape of the same size (one dimension may be -1); order 'F' reads and
    writes the elements in column-major order."""
    a = _arr("reshape", a)
    if shape is None:
        if newshape is None:
            raise TypeError("reshape() missing the required argument 'shape'")
        shape = newshape
    new = _resolve_shape("reshape", a.shape, shape)
    if order == "F":
        rev_in = tuple(range(a.ndim))[::-1]
        out = lax.reshape(lax.transpose(a, rev_in), new[::-1])
        return lax.transpose(out, tuple(range(len(new)))[::-1])
    if order not in ("C", "A", None):
        raise ValueError(f"reshape: order must be 'C', 'F' or 'A', got {order!r}")
    return lax.reshape(a, new)


def ravel(a: Any, order: str = "C") -> Any:
    a = _arr("ravel", a)
    return reshape(a, (a.size,), order=order)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    a = _arr("transpose", a)
    if axes is None:
        return lax.transpose(a, tuple(range(a.ndim))[::-1])
    perm = tuple(canonicalize_axis(i, a.ndim, "transpose") for i in axes)
    if sorted(perm) != list(range(a.ndim)):
        raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                         f"{a.ndim} axes of an array of shape {a.shape}")
    return lax.transpose(a, perm)


def permute_dims(a: Any, /, axes: Sequence[int]) -> Any:
    return transpose(a, axes)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes."""
    x = _arr("matrix_transpose", x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose requires at least 2 dimensions, got shape {x.shape}")
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return lax.transpose(x, perm)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    a = _arr("swapaxes", a)
    i, j = canonicalize_axis(axis1, a.ndim, "swapaxes"), canonicalize_axis(axis2, a.ndim,
                                                                          "swapaxes")
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, tuple(perm))


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    a = _arr("moveaxis", a)
    src = canonicalize_axes(source, a.ndim, "moveaxis")
    dst = canonicalize_axes(destination, a.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         f"elements, got {source!r} and {destination!r}")
    rest = [i for i in range(a.ndim) if i not in src]
    perm = [None] * a.ndim
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return lax.transpose(a, tuple(perm))


def squeeze(a: Any, axis: Any = None) -> Any:
    """Remove size-1 axes (all of them, or those named, which must have size 1)."""
    a = _arr("squeeze", a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = canonicalize_axes(axis, a.ndim, "squeeze")
        for i in axes:
            if a.shape[i] != 1:
                raise ValueError(f"squeeze: cannot select axis {i} to squeeze out, it has size "
                                 f"{a.shape[i]} (shape {a.shape})")
    return lax.squeeze(a, axes) if axes else a


def expand_dims(a: Any, axis: Any) -> Any:
    """Insert size-1 axes at the positions `axis` of the result."""
    a = _arr("expand_dims", a)
    out_nd = a.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = canonicalize_axes(axis, out_nd, "expand_dims")
    return lax.expand_dims(a, axes)


# ---------------------------------------------------------------------------------------------
# Broadcasting


def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    return util.broadcast_shapes(*[(s,) if isinstance(s, (int, np.integer)) else s
                                   for s in shapes])


def broadcast_to(array: Any, shape: Any) -> Any:
    array = _arr("broadcast_to", array)
    target = util.canonicalize_shape(shape, "broadcast_to")
    return util.broadcast_to(array, target)


def broadcast_arrays(*args: Any) -> list:
    check_arraylike("broadcast_arrays", *args)
    s = util.broadcast_shapes(*(util.shape(a) for a in args), fun_name="broadcast_arrays")
    return [util.broadcast_to(a, s, "broadcast_arrays") for a in args]


def _atleast(fun_name: str, n: int, arys: tuple, place) -> Any:
    check_arraylike(fun_name, *arys)
    out = []
    for a in arys:
        a = ensure_array(a)
        if a.ndim < n:
            a = lax.reshape(a, place(a.shape))
        out.append(a)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    return _atleast("atleast_1d", 1, arys, lambda s: (1,))


def atleast_2d(*arys: Any) -> Any:
    return _atleast("atleast_2d", 2, arys, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*arys: Any) -> Any:
    # NumPy: 0-d -> (1,1,1), 1-d (n,) -> (1,n,1), 2-d (m,n) -> (m,n,1)
    return _atleast("atleast_3d", 3, arys,
                    lambda s: (1, 1, 1) if not s else (1, s[0], 1) if len(s) == 1 else s + (1,))


# ---------------------------------------------------------------------------------------------
# Joining


def _as_list(fun_name: str, arrays: Any) -> list:
    if hasattr(arrays, "aval") or isinstance(arrays, np.ndarray):  # split along axis 0
        a = ensure_array(arrays)
        if a.ndim == 0:
            raise ValueError(f"{fun_name}: a 0-d array is not a sequence of arrays")
        return [lax.index_in_dim(a, i, 0, keepdims=False) for i in range(a.shape[0])]
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"{fun_name}: need at least one array to join")
    check_arraylike(fun_name, *arrays)
    return arrays


def concatenate(arrays: Any, axis: int | None = 0, dtype: Any = None) -> Any:
    """Join arrays along an existing axis (axis=None: flatten them first)."""
    arrs = _as_list("concatenate", arrays)
    if dtype is not None:
        arrs = [util.convert(a, dtypes.canonicalize_dtype(dtype)) for a in arrs]
    arrs = [ensure_array(a) for a in promote_dtypes(*arrs)]
    if axis is None:
        arrs = [ravel(a) for a in arrs]
        axis = 0
    nd = arrs[0].ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = canonicalize_axis(axis, nd, "concatenate")
    for i, a in enumerate(arrs):
        if a.ndim != nd:
            raise ValueError(f"concatenate: all the input arrays must have the same number of "
                             f"dimensions, but array 0 has shape {arrs[0].shape} and array {i} "
                             f"has shape {a.shape}")
        if any(d0 != d for k, (d0, d) in enumerate(zip(arrs[0].shape, a.shape)) if k != axis):
            raise ValueError(f"concatenate: the array dimensions except axis {axis} must match "
                             f"exactly, but array 0 has shape {arrs[0].shape} and array {i} has "
                             f"shape {a.shape}")
    return lax.concatenate(arrs, axis)


def concat(arrays: Any, /, *, axis: int | None = 0) -> Any:
    return concatenate(arrays, axis=axis)


def stack(arrays: Any, axis: int = 0, out: None = None, dtype: Any = None) -> Any:
    """Join arrays of one shape along a new axis."""
    util.check_no_out("stack", out)
    arrs = [ensure_array(a) for a in _as_list("stack", arrays)]
    s0 = arrs[0].shape
    for i, a in enumerate(arrs):
        if a.shape != s0:
            raise ValueError(f"stack: all input arrays must have the same shape, but array 0 "
                             f"has shape {s0} and array {i} has shape {a.shape}")
    axis = canonicalize_axis(axis, len(s0) + 1, "stack")
    new = s0[:axis] + (1,) + s0[axis:]
    return concatenate([lax.reshape(a, new) for a in arrs], axis, dtype=dtype)


def hstack(tup: Any, dtype: Any = None) -> Any:
    arrs = [atleast_1d(a) for a in _as_list("hstack", tup)]
    return concatenate(arrs, 0 if arrs[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup: Any, dtype: Any = None) -> Any:
    return concatenate([atleast_2d(a) for a in _as_list("vstack", tup)], 0, dtype=dtype)


row_stack = vstack


def dstack(tup: Any, dtype: Any = None) -> Any:
    return concatenate([atleast_3d(a) for a in _as_list("dstack", tup)], 2, dtype=dtype)


def column_stack(tup: Any) -> Any:
    arrs = []
    for a in _as_list("column_stack", tup):
        a = ensure_array(a)
        arrs.append(lax.reshape(a, (a.size, 1)) if a.ndim < 2 else a)
    return concatenate(arrs, 1)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


# ---------------------------------------------------------------------------------------------
# Splitting


def _split(fun_name: str, ary: Any, indices_or_sections: Any, axis: int, equal: bool) -> list:
    a = _arr(fun_name, ary)
    axis = canonicalize_axis(axis, a.ndim, fun_name)
    n = a.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)) or (
            hasattr(indices_or_sections, "aval") and not indices_or_sections.aval.shape):
        sections = static_int(indices_or_sections, f"the sections argument of {fun_name}")
        if sections <= 0:
            raise ValueError(f"{fun_name}: number of sections must be larger than 0, got "
                             f"{sections}")
        if equal and n % sections:
            raise ValueError(f"{fun_name}: array split does not result in an equal division "
                             f"({n} elements along axis {axis} into {sections} sections)")
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
        bounds = np.cumsum([0] + sizes).tolist()
    else:
        idx = [static_int(i, f"the indices argument of {fun_name}")
               for i in np.asarray(indices_or_sections).reshape(-1).tolist()] \
            if not isinstance(indices_or_sections, (list, tuple)) else \
            [static_int(i, f"the indices argument of {fun_name}") for i in indices_or_sections]
        bounds = [0] + [min(max(i + n if i < 0 else i, 0), n) for i in idx] + [n]
    return [lax.slice_in_dim(a, lo, max(lo, hi), axis=axis)
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into equal sections, or at the given indices."""
    return _split("split", ary, indices_or_sections, axis, equal=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Like split, but sections may differ in size by one."""
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def hsplit(ary: Any, indices_or_sections: Any) -> list:
    a = _arr("hsplit", ary)
    if a.ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(a, indices_or_sections, 0 if a.ndim == 1 else 1)


def vsplit(ary: Any, indices_or_sections: Any) -> list:
    a = _arr("vsplit", ary)
    if a.ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(a, indices_or_sections, 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list:
    a = _arr("dsplit", ary)
    if a.ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(a, indices_or_sections, 2)


# ---------------------------------------------------------------------------------------------
# Tiling and repetition


def tile(A: Any, reps: Any) -> Any:
    a = _arr("tile", A)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    reps = tuple(static_int(r, "the reps argument of tile") for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    nd = max(a.ndim, len(reps))
    s = (1,) * (nd - a.ndim) + a.shape
    reps = (1,) * (nd - len(reps)) + reps
    a = lax.reshape(a, s)
    # each dimension d becomes (reps[d], s[d]) then the pairs merge
    inter = tuple(x for pair in zip(reps, s) for x in pair)
    b = lax.broadcast_in_dim(a, inter, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(b, tuple(r * d for r, d in zip(reps, s)))


def repeat(a: Any, repeats: Any, axis: int | None = None, *,
           total_repeat_length: int | None = None) -> Any:
    """Repeat each element `repeats` times along `axis` (flattened when axis is None).

    Traced `repeats` need `total_repeat_length` (the output size must be static); the output
    is then cut, or padded with the last element, to that length."""
    from plax._src.numpy.indexing import take
    a = _arr("repeat", a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = canonicalize_axis(axis, a.ndim, "repeat")
    n = a.shape[axis]
    if total_repeat_length is not None:
        total_repeat_length = static_int(total_repeat_length,
                                         "the total_repeat_length argument of repeat")
    if isinstance(repeats, Tracer):
        if total_repeat_length is None:
            raise ConcretizationTypeError(
                "repeat: traced repeats need total_repeat_length, since the output size must "
                "be known while tracing")
        return take(a, _traced_repeat_indices(repeats, n, total_repeat_length), axis=axis,
                    mode="clip")
    reps = np.asarray(repeats)
    if reps.ndim > 1 or (reps.ndim == 1 and reps.shape[0] not in (1, n)):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not fit {n} elements "
                         f"along axis {axis}")
    if reps.dtype.kind not in "iub" or (reps < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    if reps.ndim == 0 or reps.shape[0] == 1:
        r = int(reps.reshape(-1)[0])
        out_shape = a.shape[:axis] + (n * r,) + a.shape[axis + 1:]
        inter = a.shape[:axis + 1] + (r,) + a.shape[axis + 1:]
        dims = tuple(range(axis + 1)) + tuple(range(axis + 2, a.ndim + 1))
        out = lax.reshape(lax.broadcast_in_dim(a, inter, dims), out_shape)
        if total_repeat_length is None or total_repeat_length == n * r:
            return out
        reps = np.full(n, r)
    idx = np.repeat(np.arange(n), reps)
    if total_repeat_length is not None:
        last = idx[-1] if idx.size else 0
        idx = np.concatenate([idx, np.full(max(0, total_repeat_length - idx.size), last)])
        idx = idx[:total_repeat_length]
    return take(a, idx.astype(np.int32), axis=axis, mode="clip")


def _traced_repeat_indices(repeats, n: int, length: int):
    """Output position j takes element #{k : cumsum(repeats)[k] <= j}: mark each block end
    with a scatter-add and count the marks with a cumulative sum."""
    from plax._src.numpy.creation import zeros
    from plax._src.numpy.reductions import cumsum
    r = util.broadcast_to(ensure_array(repeats).astype(dtypes.default_int_dtype()), (n,),
                          "repeat")
    ends = cumsum(r)
    marks = zeros(length + 1, dtypes.default_int_dtype()).at[ends].add(1, mode="drop")
    return lax.slice_in_dim(cumsum(marks), 0, length)


# ---------------------------------------------------------------------------------------------
# Flips and rolls


def flip(m: Any, axis: Any = None) -> Any:
    m = _arr("flip", m)
    axes = canonicalize_axes(axis, m.ndim, "flip")
    return lax.rev(m, axes) if axes else m


def fliplr(m: Any) -> Any:
    m = _arr("fliplr", m)
    if m.ndim < 2:
        raise ValueError(f"fliplr: the input must be at least 2-D, got shape {m.shape}")
    return flip(m, 1)


def flipud(m: Any) -> Any:
    m = _arr("flipud", m)
    if m.ndim < 1:
        raise ValueError("flipud: the input must be at least 1-D")
    return flip(m, 0)


def _roll_axis(a, shift, axis: int):
    n = a.shape[axis]
    if n == 0:
        return a
    if isinstance(shift, Tracer):
        from plax._src.numpy.ufuncs import negative, remainder
        start = remainder(negative(shift), n)  # out[j] = a[(j - shift) mod n]
        return lax.dynamic_slice_in_dim(lax.concatenate([a, a], axis), start, n, axis)
    s = static_int(shift, "the shift argument of roll") % n
    if s == 0:
        return a
    return lax.concatenate([lax.slice_in_dim(a, n - s, n, axis=axis),
                            lax.slice_in_dim(a, 0, n - s, axis=axis)], axis)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Shift elements along `axis` cyclically (flattened when axis is None)."""
    a = _arr("roll", a)
    if axis is None:
        return lax.reshape(roll(ravel(a), shift, 0), a.shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shifts = (shift,) if np.ndim(shift) == 0 else tuple(
        shift if isinstance(shift, (list, tuple)) else np.asarray(shift).tolist())
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} must have the same length")
    for s, ax in zip(shifts, axes):
        a = _roll_axis(a, s, canonicalize_axis(ax, a.ndim, "roll"))
    return a


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    """Rotate by 90 degrees k times in the plane of `axes` (from the first toward the second)."""
    m = _arr("rot90", m)
    if len(axes) != 2:
        raise ValueError("rot90: axes must be a pair of axes")
    ax0, ax1 = (canonicalize_axis(ax, m.ndim, "rot90") for ax in axes)
    if ax0 == ax1:
        raise ValueError("rot90: the axes must be different")
    k = static_int(k, "the k argument of rot90") % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, ax0), ax1)
    perm = list(range(m.ndim))
    perm[ax0], perm[ax1] = perm[ax1], perm[ax0]
    if k == 1:
        return lax.transpose(flip(m, ax1), tuple(perm))
    return flip(lax.transpose(m, tuple(perm)), ax1)


# ---------------------------------------------------------------------------------------------
# Diagonals


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The `offset` diagonal of the (axis1, axis2) planes, as the last axis of the result."""
    a = _arr("diagonal", a)
    if a.ndim < 2:
        raise ValueError(f"diagonal requires an array of at least two dimensions, got shape "
                         f"{a.shape}")
    i, j = canonicalize_axis(axis1, a.ndim, "diagonal"), canonicalize_axis(axis2, a.ndim,
                                                                          "diagonal")
    if i == j:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    offset = static_int(offset, "the offset argument of diagonal")
    a = moveaxis(a, (i, j), (-2, -1))
    rows, cols = a.shape[-2:]
    r0, c0 = max(-offset, 0), max(offset, 0)
    n = max(0, min(rows - r0, cols - c0))
    from plax._src.numpy.indexing import getitem
    idx = np.arange(n, dtype=np.int32)
    return getitem(a, (Ellipsis, idx + r0, idx + c0))


def diag(v: Any, k: int = 0) -> Any:
    """The k-th diagonal of a 2-D array, or a 2-D array with 1-D `v` on its k-th diagonal."""
    v = _arr("diag", v)
    k = static_int(k, "the k argument of diag")
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: the input must be 1-D or 2-D, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    from plax._src.numpy.creation import eye
    pad = lax.full((abs(k),), 0, v.dtype)
    padded = lax.concatenate([v, pad], 0) if k else v
    # entry (i, i+k) is v[i] (k >= 0) and entry (j-k, j) is v[j] (k < 0)
    vals = lax.broadcast_in_dim(padded, (n, n), (0,) if k >= 0 else (1,))
    mask = eye(n, k=k, dtype=bool)
    return lax.select(mask, vals, lax.full_like(vals, 0))


def diagflat(v: Any, k: int = 0) -> Any:
    return diag(ravel(v), k)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Any:
    from plax._src.numpy.reductions import sum as _sum
    util.check_no_out("trace", out)
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)
