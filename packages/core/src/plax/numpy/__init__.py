"""plax.numpy: NumPy's API with JAX's semantics (dtype promotion with weak types, 32-bit
defaults unless x64 is on, immutable arrays updated through `x.at[...]`), written only with
plax.lax operations, so it works eagerly and under every transform and backend."""

from __future__ import annotations

import numpy as _np

from plax._src import dtypes as _dtypes
from plax._src.array import Array
from plax._src.numpy.creation import *  # noqa: F401,F403
from plax._src.numpy.einsum import *  # noqa: F401,F403
from plax._src.numpy.functions import *  # noqa: F401,F403
from plax._src.numpy.indexing import (  # noqa: F401
    diag_indices, indices, take, take_along_axis, tril_indices, tril_indices_from, triu_indices,
    triu_indices_from, unravel_index)
from plax._src.numpy.linalg_ops import *  # noqa: F401,F403
from plax._src.numpy.logic import *  # noqa: F401,F403
from plax._src.numpy.padding import *  # noqa: F401,F403
from plax._src.numpy.reductions import *  # noqa: F401,F403
from plax._src.numpy.shape import *  # noqa: F401,F403
from plax._src.numpy.sorting import *  # noqa: F401,F403
from plax._src.numpy.ufuncs import *  # noqa: F401,F403

ndarray = Array

# --- dtypes ------------------------------------------------------------------------------------
bool_ = _dtypes.bool_.type
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
bfloat16 = _dtypes.bfloat16.type
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
int_ = _np.int64
uint = _np.uint64
float_ = _np.float64
complex_ = _np.complex128
# the abstract scalar classes, for issubdtype
generic, number, inexact, floating, complexfloating = (
    _np.generic, _np.number, _np.inexact, _np.floating, _np.complexfloating)
integer, signedinteger, unsignedinteger = _np.integer, _np.signedinteger, _np.unsignedinteger
bool = _dtypes.bool_.type  # noqa: A001  (jnp.bool, as the array API spells it)

dtype = _np.dtype
iinfo = _dtypes.iinfo
finfo = _dtypes.finfo
issubdtype = _dtypes.issubdtype
result_type = _dtypes.result_type
promote_types = _dtypes.promote_types


def can_cast(from_, to, casting="safe") -> bool:
    """NumPy's casting rules between (canonical) dtypes."""
    return _np.can_cast(_dtypes.dtype(from_), _dtypes.dtype(to), casting=casting)


def iscomplexobj(x) -> bool:
    """True if x's dtype is complex (whatever its values)."""
    if isinstance(x, complex):
        return True
    return _dtypes.is_complex(_as_dtype(x)) if hasattr(x, "dtype") else _np.iscomplexobj(x)


def isrealobj(x) -> bool:
    return not iscomplexobj(x)


_DTYPE_KINDS = {"bool": lambda d: d == _dtypes.bool_, "signed integer": _dtypes.is_signed,
                "unsigned integer": _dtypes.is_unsigned, "integral": _dtypes.is_int,
                "real floating": _dtypes.is_float, "complex floating": _dtypes.is_complex,
                "numeric": lambda d: d != _dtypes.bool_}


def isdtype(dtype, kind) -> bool:
    """The array API's dtype test: `kind` is a dtype, a kind name, or a tuple of them."""
    dt = _as_dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if k not in _DTYPE_KINDS:
                raise ValueError(f"isdtype: unknown kind {k!r}; use one of {list(_DTYPE_KINDS)}")
            if _DTYPE_KINDS[k](dt):
                return True
        elif dt == _as_dtype(k):
            return True
    return False


def _as_dtype(x):
    # scalar types such as np.float32 carry a `dtype` descriptor, not a dtype
    return _np.dtype(x) if isinstance(x, (type, str, _np.dtype)) else _dtypes.dtype(x)


def isscalar(element):
    """True for Python/NumPy scalars and 0-d arrays, as jax.numpy.isscalar."""
    if isinstance(element, (Array,)) or hasattr(element, "aval"):
        return element.ndim == 0
    return _np.isscalar(element)


# --- constants ---------------------------------------------------------------------------------
pi = _np.pi
e = _np.e
euler_gamma = _np.euler_gamma
inf = _np.inf
nan = _np.nan
newaxis = None
from plax.numpy import fft  # noqa: E402,F401  (the plax.numpy.fft submodule)
from plax.numpy import linalg  # noqa: E402,F401  (the plax.numpy.linalg submodule)
from plax._src.numpy.surface import *  # noqa: E402,F401,F403  (the rest of jax.numpy)
from plax._src.numpy.ufunc_api import *  # noqa: E402,F401,F403  (ufunc objects: add.reduce, ...)
from plax._src.numpy.host_io import *  # noqa: E402,F401,F403  (fromfile, refused as JAX)
from plax._src.numpy.array_api import *  # noqa: E402,F401,F403  (array API inspection)
