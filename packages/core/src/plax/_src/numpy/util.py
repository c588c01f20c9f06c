"""Helpers shared by plax.numpy: argument checks, JAX's dtype promotion (weak types kept) and
NumPy broadcasting written with lax ops, and axis normalization with NumPy's error messages.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any, Sequence

import numpy as np

from plax import lax
from plax._src import dispatch, dtypes
from plax._src.array import Array
from plax._src.config import config
from plax._src.core import ShapedArray, Tracer, concrete_or_error, get_aval

_PY_SCALARS = (bool, int, float, complex)
AxisError = np.exceptions.AxisError


# ---------------------------------------------------------------------------------------------
# What counts as an array argument


def is_arraylike(x: Any) -> bool:
    return (isinstance(x, (Array, Tracer, np.ndarray, np.generic)) or type(x) in _PY_SCALARS
            or hasattr(x, "__jax_array__"))


def check_arraylike(fun_name: str, *args: Any) -> None:
    """Lists and tuples are refused, as in JAX: converting them silently hides a host copy."""
    for i, a in enumerate(args):
        if not is_arraylike(a):
            hint = (f"; use plax.numpy.asarray to convert a {type(a).__name__}"
                    if isinstance(a, (list, tuple)) else "")
            raise TypeError(f"{fun_name} requires ndarray or scalar arguments, got "
                            f"{type(a).__name__} at position {i}{hint}")


def unwrap(x: Any) -> Any:
    """Objects with __jax_array__ stand for the array it returns."""
    while hasattr(x, "__jax_array__") and not isinstance(x, (Array, Tracer)):
        x = x.__jax_array__()
    return x


def shape(x: Any) -> tuple[int, ...]:
    return get_aval(unwrap(x)).shape


def ndim(x: Any) -> int:
    return len(shape(x))


def dtype_of(x: Any) -> np.dtype:
    return get_aval(unwrap(x)).dtype


def _host_value(x: Any, dtype: np.dtype) -> np.ndarray:
    """A concrete Python/NumPy value as a NumPy array of `dtype`, refusing lossy Python ints."""
    if type(x) is int and dtypes.is_int(dtype):
        info = np.iinfo(dtype)
        if not info.min <= x <= info.max:
            raise OverflowError(f"Python int {x} too large to convert to {dtype.name}")
    return np.asarray(x, dtype=dtype)


def ensure_array(x: Any, fun_name: str = "asarray") -> Any:
    """`x` as an Array or tracer (host values become Arrays with their JAX dtype and weak type)."""
    x = unwrap(x)
    if isinstance(x, (Array, Tracer)):
        return x
    check_arraylike(fun_name, x)
    aval = get_aval(x)
    return dispatch.make_array(_host_value(x, aval.dtype), aval)


def convert(x: Any, dtype: np.dtype, weak: bool = False) -> Any:
    """`x` as a lax operand of dtype `dtype`.

    Arrays and tracers of that dtype are returned as they are: a weak-type mismatch does not
    matter to lax, whose result is weak only when every operand is. Host values are converted
    on the host, so `x_f16 + 1.0` records `add a 1.0:f16[]` with no convert equation.
    """
    x = unwrap(x)
    if isinstance(x, (Array, Tracer)):
        if x.aval.dtype == dtype:
            return x
        return lax._convert_element_type(x, dtype, weak)
    aval = get_aval(x)
    if type(x) in _PY_SCALARS and aval.dtype == dtype and aval.weak_type == weak:
        return x  # its aval is already the scalar wanted
    value = _host_value(x, dtype)
    if weak:
        return dispatch.make_array(value, ShapedArray(value.shape, dtype, True))
    return value


# ---------------------------------------------------------------------------------------------
# Dtype promotion


def promote_dtypes(*args: Any) -> list:
    """Convert args to their common JAX result type (weak if every arg is weak)."""
    if not args:
        return []
    dt, weak = dtypes.result_type_with_weak(*map(unwrap, args))
    return [convert(a, dt, weak) for a in args]


def to_inexact(dt: np.dtype) -> np.dtype:
    return dt if dtypes.is_inexact(dt) else dtypes.default_float_dtype()


def promote_dtypes_inexact(*args: Any) -> list:
    """Like promote_dtypes, then integers and bools become the default float (as JAX)."""
    dt, weak = dtypes.result_type_with_weak(*map(unwrap, args))
    dt = to_inexact(dt)
    return [convert(a, dt, weak) for a in args]


def promote_dtypes_numeric(*args: Any) -> list:
    """Like promote_dtypes, then bool becomes the default int (as JAX)."""
    dt, weak = dtypes.result_type_with_weak(*map(unwrap, args))
    if dt == dtypes.bool_:
        dt = dtypes.default_int_dtype()
    return [convert(a, dt, weak) for a in args]


def to_complex(dt: np.dtype) -> np.dtype:
    if dtypes.is_complex(dt):
        return dt
    if dt == dtypes.float64 or (not dtypes.is_float(dt) and dtypes.x64_enabled()):
        return dtypes.complex128
    return dtypes.complex64


def promote_dtypes_complex(*args: Any) -> list:
    dt, weak = dtypes.result_type_with_weak(*map(unwrap, args))
    dt = to_complex(dt)
    return [convert(a, dt, weak) for a in args]


# ---------------------------------------------------------------------------------------------
# Broadcasting


class ShapeMismatchError(TypeError, ValueError):
    """Operands of an operation with incompatible shapes (elementwise operands that do not
    broadcast, contracted dimensions of different sizes): a TypeError, as JAX's (a program's
    `except TypeError:` catches it), and still the ValueError plax raised before."""


def broadcast_shapes(*shapes: Sequence[int], fun_name: str = "broadcast_shapes",
                     error: type = ValueError) -> tuple[int, ...]:
    """NumPy's broadcast of `shapes`; `error` (ValueError, as jnp.broadcast_shapes) naming them
    all when they are incompatible."""
    shapes = [tuple(operator.index(d) for d in s) for s in shapes]
    if not shapes:
        return ()
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise error(f"{fun_name}: incompatible shapes for broadcasting: "
                             + ", ".join(str(s) for s in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to_rank(x: Any, rank: int) -> Any:
    """Prepend size-1 dimensions (lax broadcasts size-1 dimensions and scalars itself)."""
    s = shape(x)
    if len(s) >= rank:
        return x
    new_shape = (1,) * (rank - len(s)) + s
    if isinstance(x, np.ndarray):
        return x.reshape(new_shape)
    return lax.broadcast_in_dim(x, new_shape, tuple(range(rank - len(s), rank)))


def broadcast_to(x: Any, target: Sequence[int], fun_name: str = "broadcast_to") -> Any:
    """`x` broadcast to exactly `target` (NumPy rules; it may not change x's own shape)."""
    x = ensure_array(x, fun_name)
    target = tuple(target)
    s = x.aval.shape
    if s == target:
        return x
    lead = len(target) - len(s)
    if lead < 0 or any(d != 1 and d != target[lead + i] for i, d in enumerate(s)):
        raise ValueError(f"{fun_name}: cannot broadcast an array of shape {s} to shape "
                         f"{target}")
    # lax.broadcast_in_dim stretches size-1 operand dimensions itself
    return lax.broadcast_in_dim(x, target, tuple(range(lead, len(target))))


def promote_shapes(fun_name: str, *args: Any) -> list:
    """Make args acceptable to a lax elementwise op: rank-promote the non-scalar ones."""
    if len(args) < 2:
        return list(args)
    shapes = [shape(a) for a in args]
    if len({s for s in shapes if s}) <= 1:  # equal shapes, or scalars: lax takes them as is
        return list(args)
    # an operation's operands: TypeError, as JAX's lax ops raise
    result = broadcast_shapes(*shapes, fun_name=fun_name, error=ShapeMismatchError)
    if len({len(s) for s in shapes if s}) > 1 and config.numpy_rank_promotion != "allow":
        _rank_promotion_warning_or_error(fun_name, shapes)
    return [a if not s else broadcast_to_rank(a, len(result)) for a, s in zip(args, shapes)]


def _rank_promotion_warning_or_error(fun_name: str, shapes) -> None:
    """numpy_rank_promotion 'warn' or 'raise': JAX's warning or ValueError, same words."""
    shown = " ".join(map(str, shapes))
    if config.numpy_rank_promotion == "warn":
        warnings.warn(f"Following NumPy automatic rank promotion for {fun_name} on shapes "
                      f"{shown}. Set the plax numpy_rank_promotion config option to 'allow' "
                      "to disable this warning.", stacklevel=4)
    else:
        raise ValueError(f"Operands could not be broadcast together for {fun_name} on shapes "
                         f"{shown} and with the config option numpy_rank_promotion='raise'.")


def promote_args(fun_name: str, *args: Any) -> list:
    if len(args) == 2:  # fast path: two arrays of one type and shape need nothing
        a, b = getattr(args[0], "aval", None), getattr(args[1], "aval", None)
        if a is not None and (a is b or b is not None and a == b):
            return list(args)
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes(*args))


def promote_args_inexact(fun_name: str, *args: Any) -> list:
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_inexact(*args))


def promote_args_numeric(fun_name: str, *args: Any) -> list:
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_numeric(*args))


# ---------------------------------------------------------------------------------------------
# Axes and static arguments


def static_int(x: Any, what: str) -> int:
    """A Python int from a static argument (a tracer here is an error saying so)."""
    return concrete_or_error(operator.index, x, what)


def canonicalize_axis(axis: Any, ndim_: int, fun_name: str = "") -> int:
    axis = static_int(axis, f"the axis argument of {fun_name or 'this function'}")
    if not -ndim_ <= axis < ndim_:
        raise AxisError(axis, ndim_, msg_prefix=fun_name or None)
    return axis % ndim_


def canonicalize_axes(axis: Any, ndim_: int, fun_name: str = "") -> tuple[int, ...]:
    """`axis` (None, an int, or a sequence of ints) as a tuple of distinct non-negative axes,
    in the order given; None means all axes."""
    if axis is None:
        return tuple(range(ndim_))
    if isinstance(axis, (list, tuple)):
        axes = tuple(canonicalize_axis(a, ndim_, fun_name) for a in axis)
    else:
        axes = (canonicalize_axis(axis, ndim_, fun_name),)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fun_name}: repeated axis in {axis!r}")
    return axes


def canonicalize_shape(s: Any, fun_name: str) -> tuple[int, ...]:
    if isinstance(s, (int, np.integer)) or (hasattr(s, "aval") and not s.aval.shape):
        s = (s,)
    try:
        out = tuple(static_int(d, f"the shape argument of {fun_name}") for d in s)
    except TypeError as e:
        if type(e) is not TypeError:
            raise
        raise TypeError(f"{fun_name}: shape must be an int or a sequence of ints, got "
                        f"{s!r}") from None
    for d in out:
        if d < 0:
            raise ValueError(f"{fun_name}: negative dimensions are not allowed, got shape "
                             f"{out}")
    return out


def check_no_out(fun_name: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(f"{fun_name}: the 'out' argument is not supported; plax "
                                  "arrays are immutable, use the return value")


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """lax.select with NumPy broadcasting of all three operands (of one dtype already); a
    scalar predicate stays scalar."""
    on_true, on_false = ensure_array(on_true), ensure_array(on_false)
    s = broadcast_shapes(shape(pred), on_true.aval.shape, on_false.aval.shape,
                         fun_name="where")
    if shape(pred):
        pred = broadcast_to(pred, s)
    return lax.select(pred, broadcast_to(on_true, s), broadcast_to(on_false, s))
