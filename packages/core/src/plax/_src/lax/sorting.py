"""Sorting primitives: `sort` (several operands, lexicographic on the first `num_keys`) and
`top_k`. Orders are JAX's: sort puts NaNs last and treats -0.0 and 0.0 as equal; top_k uses
the IEEE total order (NaN largest, -NaN smallest, 0.0 above -0.0), ties to the lower index.
"""

from __future__ import annotations

import operator

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval

__all__ = ["sort", "sort_key_val", "top_k", "sort_p", "top_k_p"]


def _canonicalize_axis(op: str, argname: str, axis, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: {argname}={axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------------------------
# sort

sort_p = Primitive("sort", multiple_results=True)


def _sort_abstract(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise PlaxTypeError("sort needs at least one operand")
    shapes = {a.shape for a in operands}
    if len(shapes) > 1:
        raise PlaxTypeError("sort: all operands must have the same shape, got "
                            + ", ".join(str(a.shape) for a in operands))
    ndim = operands[0].ndim
    if not 0 <= dimension < ndim:
        raise PlaxTypeError(f"sort: dimension={dimension} is out of range for operands of "
                            f"shape {operands[0].shape} (valid: [0, {ndim}))")
    if not 1 <= num_keys <= len(operands):
        raise PlaxTypeError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                            f"operands, {len(operands)}")
    return list(operands)


add_abstract_eval(sort_p, _sort_abstract)


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sorts along `dimension`. Given a sequence of arrays, sorts them together
    lexicographically by the first `num_keys` and returns a tuple; given one array, returns it
    sorted. NaNs go last, -0.0 and 0.0 are equal, complex numbers order by (real, imag)."""
    if isinstance(operand, (list, tuple)):
        if not operand:
            raise TypeError("sort needs at least one operand")
        if not 1 <= num_keys <= len(operand):
            raise ValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                             f"operands, {len(operand)}")
        dim = _canonicalize_axis("sort", "dimension", dimension, get_aval(operand[0]).ndim)
        return tuple(sort_p.bind(*operand, dimension=dim, is_stable=bool(is_stable),
                                 num_keys=int(num_keys)))
    if num_keys != 1:
        raise ValueError(f"sort: num_keys={num_keys} must be 1 for a single operand")
    dim = _canonicalize_axis("sort", "dimension", dimension, get_aval(operand).ndim)
    return sort_p.bind(operand, dimension=dim, is_stable=bool(is_stable), num_keys=1)[0]


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """Sorts `keys` along `dimension` and applies the same permutation to `values`."""
    dim = _canonicalize_axis("sort_key_val", "dimension", dimension, get_aval(keys).ndim)
    k, v = sort_p.bind(keys, values, dimension=dim, is_stable=bool(is_stable), num_keys=1)
    return k, v


# ---------------------------------------------------------------------------------------------
# top_k

top_k_p = Primitive("top_k", multiple_results=True)


def _top_k_abstract(operand, *, k, axis):
    if dtypes.is_complex(operand.dtype):
        raise PlaxTypeError(f"top_k does not accept complex operands, got "
                            f"{operand.dtype.name}")
    if operand.ndim == 0:
        raise PlaxTypeError("top_k: operand must have rank >= 1, got a 0-d array")
    if not 0 <= axis < operand.ndim:
        raise PlaxTypeError(f"top_k: axis={axis} is out of range for operand of shape "
                            f"{operand.shape} (valid: [0, {operand.ndim}))")
    if not 0 <= k <= operand.shape[axis]:
        raise PlaxTypeError(f"top_k: k={k} must be in [0, {operand.shape[axis]}] (the size of "
                            f"axis {axis} of operand shape {operand.shape})")
    shape = operand.shape[:axis] + (k,) + operand.shape[axis + 1:]
    # as JAX: the indices keep the operand's weak_type flag
    return [ShapedArray(shape, operand.dtype, operand.weak_type),
            ShapedArray(shape, dtypes.int32, operand.weak_type)]


add_abstract_eval(top_k_p, _top_k_abstract)


def top_k(operand, k: int, *, axis: int = -1):
    """The `k` largest entries along `axis` (descending) and their int32 indices; equal
    entries keep their order (lower index first)."""
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"top_k: k must be nonnegative, got {k}")
    ndim = get_aval(operand).ndim
    if ndim == 0:
        raise PlaxTypeError("top_k: operand must have rank >= 1, got a 0-d array")
    return tuple(top_k_p.bind(operand, k=k, axis=_canonicalize_axis("top_k", "axis", axis, ndim)))

