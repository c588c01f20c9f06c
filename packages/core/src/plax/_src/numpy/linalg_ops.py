"""Products of plax.numpy: matmul, dot, vdot, vecdot, inner, outer, tensordot, kron, each one
lax.dot_general (or a broadcast multiply) after JAX's dtype promotion; einsum lives in `einsum`.
"""

from __future__ import annotations

from typing import Any, Sequence

from plax import lax
from plax._src import dtypes
from plax._src.numpy import shape as shape_ops
from plax._src.numpy import ufuncs
from plax._src.numpy.util import (
    ShapeMismatchError, broadcast_shapes, broadcast_to, canonicalize_axis, check_arraylike,
    ensure_array, promote_dtypes, static_int)

__all__ = ["matmul", "dot", "vdot", "vecdot", "inner", "outer", "tensordot", "kron", "cross"]

# contracted dimensions of different sizes: TypeError as JAX's, still the former ValueError
_ShapeErr = ShapeMismatchError


def _promoted(fun_name: str, *args):
    check_arraylike(fun_name, *args)
    return [ensure_array(a) for a in promote_dtypes(*args)]


def _pet(preferred_element_type, dt):
    return dt if preferred_element_type is None else dtypes.canonicalize_dtype(
        preferred_element_type)


def _dot(a, b, contract, batch, precision, preferred_element_type):
    pet = _pet(preferred_element_type, a.dtype)
    return lax.dot_general(a, b, (contract, batch), precision=precision,
                           preferred_element_type=pet)


def matmul(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Matrix product over the last two axes, broadcasting the leading (batch) axes; a 1-D
    argument is a vector (its axis is removed from the result)."""
    a, b = _promoted("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: inputs must be at least 1-D, got shapes {a.shape} and "
                         f"{b.shape}")
    ka, kb_dim = a.ndim - 1, (0 if b.ndim == 1 else b.ndim - 2)
    if a.shape[ka] != b.shape[kb_dim]:
        raise _ShapeErr(f"matmul: contracting dimensions do not match: {a.shape} @ {b.shape} "
                         f"({a.shape[ka]} != {b.shape[kb_dim]})")
    a_batch, b_batch = a.shape[:-2], b.shape[:-2]
    if a_batch and b_batch:
        batch = broadcast_shapes(a_batch, b_batch, fun_name="matmul")
        a = broadcast_to(a, batch + a.shape[-2:], "matmul")
        b = broadcast_to(b, batch + b.shape[-2:], "matmul")
        nb = len(batch)
        bdims = tuple(range(nb))
        return _dot(a, b, ((a.ndim - 1,), (nb,)), (bdims, bdims), precision,
                    preferred_element_type)
    out = _dot(a, b, ((ka,), (kb_dim,)), ((), ()), precision, preferred_element_type)
    if b_batch and a.ndim == 2:
        # dot_general put a's row axis first: move it after b's batch axes
        nb = len(b_batch)
        perm = tuple(range(1, nb + 1)) + (0,) + tuple(range(nb + 1, out.ndim))
        out = lax.transpose(out, perm)
    return out


def dot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """NumPy's dot: scalars multiply, 1-D . 1-D is the inner product, otherwise the last axis
    of `a` is contracted with the second-to-last of `b` (the only axis of a 1-D `b`)."""
    a, b = _promoted("dot", a, b)
    if a.ndim == 0 or b.ndim == 0:
        out = ufuncs.multiply(a, b)
        return out if preferred_element_type is None else lax.convert_element_type(
            out, preferred_element_type)
    kb = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[kb]:
        raise _ShapeErr(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[kb]} (dim {kb})")
    return _dot(a, b, ((a.ndim - 1,), (kb,)), ((), ()), precision, preferred_element_type)


def vdot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Dot product of the flattened arrays, conjugating the first."""
    a, b = _promoted("vdot", a, b)
    if a.size != b.size:
        raise _ShapeErr(f"vdot: the arrays must have the same size, got shapes {a.shape} and "
                         f"{b.shape}")
    return dot(ufuncs.conjugate(shape_ops.ravel(a)), shape_ops.ravel(b), precision=precision,
               preferred_element_type=preferred_element_type)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Any:
    """sum(conj(x1) * x2) along `axis`, broadcasting the other axes."""
    from plax._src.numpy.einsum import einsum
    x1, x2 = _promoted("vecdot", x1, x2)
    if x1.ndim == 0 or x2.ndim == 0:
        raise ValueError("vecdot: inputs must be at least 1-D")
    s = broadcast_shapes(x1.shape, x2.shape, fun_name="vecdot")
    ax = canonicalize_axis(axis, len(s), "vecdot")
    x1 = shape_ops.moveaxis(broadcast_to(ufuncs.conjugate(x1), s, "vecdot"), ax, -1)
    x2 = shape_ops.moveaxis(broadcast_to(x2, s, "vecdot"), ax, -1)
    return einsum("...i,...i->...", x1, x2, precision=precision,
                  preferred_element_type=preferred_element_type)


def inner(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Contract the last axes of a and b (scalars multiply)."""
    a, b = _promoted("inner", a, b)
    if a.ndim == 0 or b.ndim == 0:
        return ufuncs.multiply(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise _ShapeErr(f"inner: the last dimensions must match, got shapes {a.shape} and "
                         f"{b.shape}")
    return _dot(a, b, ((a.ndim - 1,), (b.ndim - 1,)), ((), ()), precision,
                preferred_element_type)


def outer(a: Any, b: Any, out: None = None) -> Any:
    """outer(a, b)[i, j] = a.ravel()[i] * b.ravel()[j]."""
    if out is not None:
        raise NotImplementedError("outer: the out argument is not supported")
    a, b = _promoted("outer", a, b)
    a, b = shape_ops.ravel(a), shape_ops.ravel(b)
    s = (a.shape[0], b.shape[0])
    return ufuncs.multiply(lax.broadcast_in_dim(a, s, (0,)), lax.broadcast_in_dim(b, s, (1,)))


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2, *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Contract the axes `axes` of a with those of b: an int N means a's last N with b's
    first N; a pair of sequences names them."""
    a, b = _promoted("tensordot", a, b)
    if isinstance(axes, (int,)) or (hasattr(axes, "__index__") and not isinstance(axes, (
            list, tuple))):
        n = static_int(axes, "the axes argument of tensordot")
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} is out of range for shapes {a.shape} and "
                             f"{b.shape}")
        ca, cb = tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of sequences, got "
                             f"{axes!r}") from None
        ax_a = (ax_a,) if isinstance(ax_a, int) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, int) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: the axes lists {ax_a} and {ax_b} must have the same "
                             "length")
        ca = tuple(canonicalize_axis(i, a.ndim, "tensordot") for i in ax_a)
        cb = tuple(canonicalize_axis(i, b.ndim, "tensordot") for i in ax_b)
    for i, j in zip(ca, cb):
        if a.shape[i] != b.shape[j]:
            raise _ShapeErr(f"tensordot: shape mismatch along contracted axes: {a.shape} axis "
                             f"{i} vs {b.shape} axis {j}")
    return _dot(a, b, (ca, cb), ((), ()), precision, preferred_element_type)


def kron(a: Any, b: Any) -> Any:
    """Kronecker product: blocks of b scaled by each element of a."""
    a, b = _promoted("kron", a, b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    inter = tuple(x for pair in zip(sa, sb) for x in pair)
    ab = lax.broadcast_in_dim(lax.reshape(a, sa), inter, tuple(range(0, 2 * nd, 2)))
    bb = lax.broadcast_in_dim(lax.reshape(b, sb), inter, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(ufuncs.multiply(ab, bb), tuple(x * y for x, y in zip(sa, sb)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """Cross products of the 2- or 3-vectors along axisa of a and axisb of b (other axes
    broadcast); 2-vectors give the z component only, as NumPy."""
    a, b = _promoted("cross", a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("cross: inputs must be at least 1-D")
    a = shape_ops.moveaxis(a, canonicalize_axis(axisa, a.ndim, "cross"), -1)
    b = shape_ops.moveaxis(b, canonicalize_axis(axisb, b.ndim, "cross"), -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(f"cross: the vector axes must have size 2 or 3, got {a.shape[-1]} and "
                         f"{b.shape[-1]}")

    def comp(v, i):  # component i, 0 for the missing z of a 2-vector
        if i < v.shape[-1]:
            return lax.index_in_dim(v, i, v.ndim - 1, keepdims=False)
        return lax.full(v.shape[:-1], 0, v.dtype)
    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    z = ufuncs.subtract(ufuncs.multiply(a0, b1), ufuncs.multiply(a1, b0))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return z
    x = ufuncs.subtract(ufuncs.multiply(a1, b2), ufuncs.multiply(a2, b1))
    y = ufuncs.subtract(ufuncs.multiply(a2, b0), ufuncs.multiply(a0, b2))
    out = shape_ops.stack(shape_ops.broadcast_arrays(x, y, z), -1)
    return shape_ops.moveaxis(out, -1, canonicalize_axis(axisc, out.ndim, "cross"))
