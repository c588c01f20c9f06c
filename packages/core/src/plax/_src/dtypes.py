"""Dtypes with JAX's semantics: canonicalization (32-bit unless x64), weak types, promotion.

The promotion lattice is JAX's (bool < weak int < {u8, i8} ... < weak float < floats < weak
complex < complexes); `promote_types` is its least upper bound, then canonicalized.
"""

from __future__ import annotations

import functools
from typing import Any

import ml_dtypes
import numpy as np

from plax._src import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

_SIGNED = (int8, int16, int32, int64)
_UNSIGNED = (uint8, uint16, uint32, uint64)
_FLOATS = (bfloat16, float16, float32, float64)
_COMPLEX = (complex64, complex128)
SUPPORTED = (bool_, *_SIGNED, *_UNSIGNED, *_FLOATS, *_COMPLEX)
_SUPPORTED_SET = frozenset(SUPPORTED)

# Weak types are the Python scalar kinds: an int, float or complex whose width is not fixed.
WEAK_INT, WEAK_FLOAT, WEAK_COMPLEX = "i*", "f*", "c*"

_64_TO_32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}

_SHORT = {
    bool_: "bool", int8: "i8", int16: "i16", int32: "i32", int64: "i64", uint8: "u8",
    uint16: "u16", uint32: "u32", uint64: "u64", bfloat16: "bf16", float16: "f16",
    float32: "f32", float64: "f64", complex64: "c64", complex128: "c128",
}


def short_name(dtype: np.dtype) -> str:
    return _SHORT.get(dtype, str(dtype))


def x64_enabled() -> bool:
    return config.config.enable_x64


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """The dtype an array of `dtype` gets: 64-bit kinds become 32-bit unless x64 is on."""
    dt = _as_dtype(dtype)
    if not x64_enabled():
        return _64_TO_32.get(dt, dt)
    return dt


@functools.lru_cache(maxsize=None)
def _as_dtype_cached(dtype: Any) -> np.dtype:
    if dtype is float:
        return float64
    if dtype is int:
        return int64
    if dtype is complex:
        return complex128
    if dtype is bool:
        return bool_
    if isinstance(dtype, str) and dtype in ("bfloat16", "bf16"):
        return bfloat16
    dt = np.dtype(dtype)
    if dt not in _SUPPORTED_SET:
        raise TypeError(f"plax does not support dtype {dt}; supported dtypes are "
                        f"{', '.join(str(d) for d in SUPPORTED)}")
    return dt


def _as_dtype(dtype: Any) -> np.dtype:
    if type(dtype) is np.dtype and dtype in _SUPPORTED_SET:
        return dtype
    if dtype is None:
        raise TypeError("dtype must not be None here")
    try:
        return _as_dtype_cached(dtype)
    except TypeError as e:
        if "plax does not support" in str(e):
            raise
        # unhashable or not understood by NumPy
        raise TypeError(f"{dtype!r} is not a valid dtype") from None


def dtype(x: Any) -> np.dtype:
    """The (non-canonical) dtype of a value or dtype-like, as jax.numpy.dtype does."""
    if isinstance(x, (bool, np.bool_)) and not isinstance(x, np.ndarray):
        return bool_
    if type(x) is int:
        return int64
    if type(x) is float:
        return float64
    if type(x) is complex:
        return complex128
    if hasattr(x, "dtype") and not isinstance(x, type):  # np.float32 (a type) has .dtype too
        return _as_dtype(x.dtype)
    return _as_dtype(x)


def is_python_scalar(x: Any) -> bool:
    return type(x) in (int, float, complex, bool)


def is_weakly_typed(x: Any) -> bool:
    if type(x) in (int, float, complex):
        return True
    aval = getattr(x, "aval", None)
    return bool(getattr(aval, "weak_type", False))


def issubdtype(a: Any, b: Any) -> bool:
    if b in (np.floating, np.inexact, np.integer, np.signedinteger, np.unsignedinteger,
             np.complexfloating, np.number, np.generic, np.bool_):
        a = _as_dtype(a) if not isinstance(a, type) or not issubclass(a, np.generic) else a
        if a == bfloat16:
            return b in (np.floating, np.inexact, np.number, np.generic)
        return np.issubdtype(a, b)
    return np.issubdtype(_as_dtype(a), _as_dtype(b))


def is_float(dt: np.dtype) -> bool:
    return dt in _FLOATS


def is_inexact(dt: np.dtype) -> bool:
    return dt in _FLOATS or dt in _COMPLEX


def is_complex(dt: np.dtype) -> bool:
    return dt in _COMPLEX


def is_int(dt: np.dtype) -> bool:
    return dt in _SIGNED or dt in _UNSIGNED


def is_signed(dt: np.dtype) -> bool:
    return dt in _SIGNED


def is_unsigned(dt: np.dtype) -> bool:
    return dt in _UNSIGNED


def finfo(dt: Any):
    return ml_dtypes.finfo(_as_dtype(dt))


def iinfo(dt: Any):
    return np.iinfo(_as_dtype(dt))


# ---------------------------------------------------------------------------------------------
# The promotion lattice: each node maps to the nodes immediately above it.

_LATTICE: dict[Any, tuple] = {
    bool_: (WEAK_INT,),
    WEAK_INT: (uint8, int8),
    uint8: (int16, uint16),
    uint16: (int32, uint32),
    uint32: (int64, uint64),
    uint64: (WEAK_FLOAT,),
    int8: (int16,),
    int16: (int32,),
    int32: (int64,),
    int64: (WEAK_FLOAT,),
    WEAK_FLOAT: (bfloat16, float16, WEAK_COMPLEX),
    bfloat16: (float32,),
    float16: (float32,),
    float32: (float64, complex64),
    float64: (complex128,),
    WEAK_COMPLEX: (complex64,),
    complex64: (complex128,),
    complex128: (),
}
# Without x64 no promotion may form a 64-bit type from narrower inputs; the only such edge is
# u32 v i32 -> i64, which becomes i32 (as in JAX).
_LATTICE_X32 = {**_LATTICE, uint32: (int32, uint64)}


def _upper_sets(lattice: dict) -> dict[Any, frozenset]:
    ups: dict[Any, frozenset] = {}

    def up(n):
        if n not in ups:
            s = {n}
            for m in lattice[n]:
                s |= up(m)
            ups[n] = frozenset(s)
        return ups[n]

    for n in lattice:
        up(n)
    return ups


_UPPER = {True: _upper_sets(_LATTICE), False: _upper_sets(_LATTICE_X32)}
_WEAK_NODES = (WEAK_INT, WEAK_FLOAT, WEAK_COMPLEX)
_PY_TYPE_NODES = {int: WEAK_INT, float: WEAK_FLOAT, complex: WEAK_COMPLEX}
_WEAK_NODE_DTYPE = {WEAK_INT: int64, WEAK_FLOAT: float64, WEAK_COMPLEX: complex128}


def _join(nodes, x64: bool):
    ups = _UPPER[x64]
    common = frozenset.intersection(*(ups[n] for n in nodes))
    # the least upper bound is the common element that all other common elements are above
    for c in common:
        if common <= ups[c]:
            return c
    raise TypeError(f"no common type for {nodes}")  # pragma: no cover - lattice is complete


def _weak_node(dt: np.dtype):
    if dt == bool_:
        return bool_
    if is_int(dt):
        return WEAK_INT
    if is_float(dt):
        return WEAK_FLOAT
    return WEAK_COMPLEX


def _canon(dt: np.dtype, x64: bool) -> np.dtype:
    return dt if x64 else _64_TO_32.get(dt, dt)


def _default_of_kind(dt: np.dtype, x64: bool) -> np.dtype:
    """The dtype a weakly-typed result of `dt`'s kind gets (JAX: default int/uint/float/complex)."""
    if dt == bool_:
        return bool_
    kind = int64 if is_signed(dt) else uint64 if is_unsigned(dt) else (
        float64 if is_float(dt) else complex128)
    return _canon(kind, x64)


@functools.lru_cache(maxsize=4096)
def _promote(pairs: tuple, x64: bool) -> tuple[np.dtype, bool]:
    """JAX's promotion of (canonical dtype, weak) pairs."""
    dts = {d for d, _ in pairs}
    weaks = [w for _, w in pairs]
    if len(pairs) == 1:
        dt, weak = pairs[0]
    elif len(dts) == 1 and not all(weaks):
        dt, weak = pairs[0][0], False
    elif all(weaks):
        # all weak: promote the strong counterparts, and the result stays weak
        dt, weak = _canon(_join(dts, x64), x64), True
    else:
        node = _join({_weak_node(d) if w else d for d, w in pairs}, x64)
        if node in _WEAK_NODES:
            dt, weak = _canon(_WEAK_NODE_DTYPE[node], x64), True
        else:
            dt, weak = _canon(node, x64), False
    if weak:
        dt = _default_of_kind(dt, x64)
    return dt, weak and dt != bool_


def _dtype_and_weak(x: Any, x64: bool) -> tuple[np.dtype, bool]:
    """Canonical dtype of a value or dtype-like, and whether it is weakly typed: Python scalars
    and the types int/float/complex are weak; arrays and tracers keep their aval's dtype."""
    t = type(x)
    if t is bool or x is bool:
        return bool_, False
    node = _PY_TYPE_NODES.get(t) or (_PY_TYPE_NODES.get(x) if t is type else None)
    if node is not None:
        return _canon(_WEAK_NODE_DTYPE[node], x64), True
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval.dtype, aval.weak_type
    if t is not type and not isinstance(x, (str, np.dtype)) and hasattr(x, "dtype"):
        x = x.dtype
    return _canon(_as_dtype(x), x64), False


def result_type_with_weak(*args: Any) -> tuple[np.dtype, bool]:
    """JAX's result type of `args` (values or dtypes) and whether the result is weakly typed."""
    if not args:
        raise ValueError("at least one array or dtype is required")
    x64 = x64_enabled()
    pairs = tuple(_dtype_and_weak(a, x64) for a in args)
    if len(pairs) > 1 and config.config.numpy_dtype_promotion == "strict":
        _check_strict(pairs)
    return _promote(pairs, x64)


@functools.lru_cache(maxsize=1024)
def _check_strict(pairs: tuple) -> None:
    """numpy_dtype_promotion='strict' (JAX's strict lattice): strong dtypes promote only to
    themselves, a weak int to any int/float/complex, a weak float to any float/complex, a weak
    complex to any complex; no least upper bound is JAX's TypePromotionError."""
    strong = {d for d, w in pairs if not w}
    weak = {_weak_node(d) for d, w in pairs if w}
    ok = len(strong) <= 1
    if ok and strong:
        (dt,) = strong
        ok = all(dt != bool_ and (n == WEAK_INT and (is_int(dt) or is_inexact(dt)) or
                                  n == WEAK_FLOAT and is_inexact(dt) or
                                  n == WEAK_COMPLEX and is_complex(dt)) for n in weak)
    elif ok:
        ok = bool_ not in weak
    if not ok:
        from plax.dtypes import TypePromotionError
        names = tuple(str(d) if not w else {WEAK_INT: "int", WEAK_FLOAT: "float",
                                             WEAK_COMPLEX: "complex"}.get(_weak_node(d), str(d))
                      for d, w in pairs)
        raise TypePromotionError(
            f"Input dtypes {names} have no available implicit dtype promotion path when "
            "numpy_dtype_promotion=strict. Try explicitly casting inputs to the desired "
            "output type, or set numpy_dtype_promotion=standard.")


def result_type(*args: Any) -> np.dtype:
    return result_type_with_weak(*args)[0]


def promote_types(a: Any, b: Any) -> np.dtype:
    """Promotion of two dtypes, as jax.numpy.promote_types: the result is not canonicalized,
    and the Python types int/float/complex are weak (they keep the other side's width)."""
    x64 = x64_enabled()
    # look Python types up only by identity: np.dtype('int64') == int is True in NumPy
    node = _join({(_PY_TYPE_NODES.get(d) if type(d) is type else None) or _as_dtype(d)
                  for d in (a, b)}, x64)
    return _WEAK_NODE_DTYPE.get(node, node)


def scalar_dtype(x: Any) -> np.dtype:
    """Canonical dtype of a Python scalar (the default for its weak kind)."""
    t = type(x)
    if t is bool:
        return bool_
    node = _PY_TYPE_NODES.get(t)
    if node is not None:
        return canonicalize_dtype(_WEAK_NODE_DTYPE[node])
    raise TypeError(f"{x!r} is not a Python scalar")


def default_float_dtype() -> np.dtype:
    return float64 if x64_enabled() else float32


def default_int_dtype() -> np.dtype:
    return int64 if x64_enabled() else int32
