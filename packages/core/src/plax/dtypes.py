"""plax.dtypes: dtype queries with JAX's semantics (as jax.dtypes): finfo/iinfo (bfloat16 and
the float8 types included), issubdtype, result_type with JAX's promotion lattice and weak types,
canonicalize_dtype (32-bit unless x64), float0 (the tangent dtype of integer inputs), and the
`extended`/`prng_key` markers of typed PRNG key dtypes."""

from __future__ import annotations

from typing import Any

import ml_dtypes as _ml_dtypes
import numpy as _np

from plax._src import dtypes as _dtypes

__all__ = ["TypePromotionError", "bfloat16", "canonicalize_dtype", "extended", "finfo",
           "float0", "iinfo", "issubdtype", "itemsize_bits", "prng_key", "result_type",
           "scalar_type_of"]

bfloat16 = _dtypes.bfloat16.type
# the dtype of the cotangent of an integer or boolean input: zero-sized, carries no data
float0 = _np.dtype([("float0", _np.void, 0)])


class TypePromotionError(ValueError):
    """Raised when two dtypes have no promotion under the current promotion rules."""


class extended(_np.generic):  # noqa: N801 - JAX's name
    """Abstract base of the extended (non-NumPy) dtypes, such as typed PRNG keys; use with
    `issubdtype(dt, plax.dtypes.extended)`."""


class prng_key(extended):  # noqa: N801 - JAX's name
    """Abstract scalar type of typed PRNG key arrays (`issubdtype(key.dtype, prng_key)`)."""


def _is_key_dtype(dt) -> bool:
    return getattr(dt, "_plax_key_dtype", False)


def _any_dtype(x: Any) -> _np.dtype:
    """The dtype of `x`, also for ml_dtypes types plax arrays cannot hold (float8, int4)."""
    try:
        return _dtypes.dtype(x)
    except TypeError:
        return _np.dtype(x)


def finfo(dtype: Any):
    """Machine limits of a floating (or complex: its real part's) dtype."""
    dt = _any_dtype(dtype)
    if _dtypes.is_complex(dt):
        dt = _np.dtype(_np.float64 if dt == _dtypes.complex128 else _np.float32)
    return _ml_dtypes.finfo(dt)


def iinfo(int_type: Any):
    """Machine limits of an integer dtype."""
    return _ml_dtypes.iinfo(_any_dtype(int_type))


def issubdtype(a: Any, b: Any) -> bool:
    """NumPy's issubdtype extended to bfloat16, the float8 types and key dtypes."""
    if _is_key_dtype(a):
        return b in (extended, prng_key, _np.generic) or a == b
    if b in (extended, prng_key):
        return False
    if isinstance(a, _np.dtype) and a == float0:
        return b in (float0, _np.void, _np.generic) or _np.dtype(b) == float0
    return _dtypes.issubdtype(a, b)


def result_type(*args: Any, return_weak_type_flag: bool = False):
    """The dtype of an operation on `args` (arrays, scalars, dtypes) under JAX's promotion."""
    dt, weak = _dtypes.result_type_with_weak(*args)
    return (dt, weak) if return_weak_type_flag else dt


def canonicalize_dtype(dtype: Any, allow_extended_dtype: bool = False):
    """The dtype arrays of `dtype` get: 64-bit kinds become 32-bit unless x64 is enabled."""
    if _is_key_dtype(dtype):
        if not allow_extended_dtype:
            raise ValueError(f"Internal: canonicalize_dtype called on extended dtype {dtype} "
                             "with allow_extended_dtype=False")
        return dtype
    return _dtypes.canonicalize_dtype(dtype)


def itemsize_bits(dtype: Any) -> int:
    """The size of one element of `dtype` in bits (4 for int4, 1 for bool as JAX counts it)."""
    dt = _any_dtype(dtype)
    if dt == _dtypes.bool_:
        return 8
    if dt.name in ("int4", "uint4", "float4_e2m1fn"):
        return 4
    if dt.name in ("int2", "uint2"):
        return 2
    return dt.itemsize * 8


def scalar_type_of(x: Any) -> type:
    """The Python scalar type (bool, int, float, complex) matching the dtype of `x`."""
    dt = _dtypes.dtype(x)
    if dt == _dtypes.bool_:
        return bool
    if _dtypes.is_int(dt):
        return int
    if _dtypes.is_float(dt):
        return float
    if _dtypes.is_complex(dt):
        return complex
    raise TypeError(f"scalar_type_of: no Python scalar type for dtype {dt}")
