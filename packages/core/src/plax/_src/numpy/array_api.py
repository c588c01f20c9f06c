"""The Python array API standard's inspection surface of plax.numpy, as jax.numpy has it:
`__array_api_version__`, `__array_namespace_info__()` (devices, capabilities, the dtypes that
exist now: no 64-bit ones unless x64 is on), `from_dlpack`, and the array methods
`__array_namespace__` / `to_device`."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from plax._src import dtypes

__all__ = ["__array_api_version__", "__array_namespace_info__", "from_dlpack"]

__array_api_version__ = "2024.12"  # the revision jax.numpy 0.10.2 declares

_ARRAY_API_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                     "uint64", "float32", "float64", "complex64", "complex128")
_64_BIT = frozenset({"int64", "uint64", "float64", "complex128"})
_KINDS = {
    "bool": lambda d: d == np.bool_,
    "signed integer": dtypes.is_signed,
    "unsigned integer": dtypes.is_unsigned,
    "integral": dtypes.is_int,
    "real floating": dtypes.is_float,
    "complex floating": dtypes.is_complex,
    "numeric": lambda d: d != np.bool_,
}


def array_namespace(api_version: str | None = None) -> ModuleType:
    """plax.numpy, the namespace of `x.__array_namespace__(api_version=...)`."""
    if api_version is not None and api_version != __array_api_version__:
        raise ValueError(f"__array_namespace__: api_version={api_version!r} is not available; "
                         f"plax.numpy implements {__array_api_version__!r}")
    import plax.numpy
    return plax.numpy


class ArrayNamespaceInfo:
    """What `plax.numpy.__array_namespace_info__()` reports (array API 2023.12 inspection)."""

    _capabilities = {
        "boolean indexing": False,  # not inside jit/vmap: shapes must be static
        "data-dependent shapes": False,
        "max dimensions": 64,  # XLA's limit, as in JAX
    }

    def capabilities(self) -> dict:
        return dict(self._capabilities)

    def default_device(self):
        # None: uncommitted, placed on the default backend's first device (as in JAX)
        return None

    def devices(self) -> list:
        import plax
        return [None, *plax.devices()]

    def default_dtypes(self, *, device: Any = None) -> dict:
        del device  # the same on every device
        return {"real floating": dtypes.default_float_dtype(),
                "complex floating": dtypes.canonicalize_dtype(np.complex128),
                "integral": dtypes.default_int_dtype(),
                "indexing": dtypes.default_int_dtype()}

    def dtypes(self, *, device: Any = None, kind: str | tuple | None = None) -> dict:
        del device
        names = [n for n in _ARRAY_API_DTYPES if dtypes.x64_enabled() or n not in _64_BIT]
        kinds = ("numeric", "bool") if kind is None else (
            kind if isinstance(kind, tuple) else (kind,))
        for k in kinds:
            if k not in _KINDS:
                raise ValueError(f"dtypes: unknown kind {k!r}; use one of {list(_KINDS)}")
        return {n: np.dtype(n) for n in names
                if any(_KINDS[k](np.dtype(n)) for k in kinds)}


def __array_namespace_info__() -> ArrayNamespaceInfo:
    return ArrayNamespaceInfo()


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Any:
    """An array from any object implementing the DLPack protocol (`__dlpack__` and
    `__dlpack_device__`), placed on `device` when given. The data is copied onto the device
    (plax arrays are immutable, so a copy is never observable); `copy=False` is accepted."""
    import plax
    from plax._src.array import Array
    from plax._src.numpy.creation import asarray
    if isinstance(x, Array):
        out = x
    else:
        if not hasattr(x, "__dlpack__"):
            raise TypeError(f"from_dlpack: expected an object with a __dlpack__ method, got "
                            f"{type(x).__name__}")
        out = asarray(np.from_dlpack(x))
    return out if device is None else plax.device_put(out, device)
