"""plax.typing (as jax.typing): annotations for plax's array-accepting APIs. `ArrayLike` is what
converts implicitly to a plax Array (an Array, a tracer of one, a NumPy array or a scalar; not
lists or strings), `DTypeLike` what names a dtype. Both are Unions usable with isinstance."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Union

import numpy as np

from plax._src.array import Array
from plax._src.backend import Device
from plax._src.core import Tracer

__all__ = ["ArrayLike", "DTypeLike", "DType", "Shape", "DeviceLike", "SupportsDType"]

DType = np.dtype


class SupportsDType(abc.ABC):
    """Anything whose class has a `dtype` attribute (plax.numpy.float32's scalar types, arrays):
    an ABC, not a Protocol, so that isinstance works on the Unions below too."""

    @property
    @abc.abstractmethod
    def dtype(self) -> DType: ...

    @classmethod
    def __subclasshook__(cls, other):
        if cls is SupportsDType:
            return any("dtype" in vars(base) for base in other.__mro__) or NotImplemented
        return NotImplemented


# a Union of plain classes, so that isinstance(x, ArrayLike) works (plax's tracers are no
# Array subclass, so they are named here: a traced value is as array-like as a concrete one)
ArrayLike = Union[Array, Tracer, np.ndarray, np.bool_, np.number, bool, int, float, complex]

DTypeLike = Union[str, type, np.dtype, SupportsDType]

Shape = Sequence[int]


# a device, or the name of a backend or platform ("xla", "cpu", "gpu")
DeviceLike = Union[str, Device]
