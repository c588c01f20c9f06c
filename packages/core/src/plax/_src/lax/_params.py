"""Checks of primitive params (used by abstract-eval rules: they raise PlaxTypeError naming the
op) and normalization of user arguments (used by the lax user functions), shared by the
structural, slicing and reduction modules."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from plax._src import core
from plax._src.core import PlaxTypeError


def is_int_param(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_tuple(op: str, what: str, value: Any, nonneg: bool = False) -> tuple[int, ...]:
    """A param that must be a sequence of integers, as a tuple of Python ints."""
    if not isinstance(value, (tuple, list, np.ndarray)):
        raise PlaxTypeError(f"{op}: {what} must be a tuple of integers, got {value!r}")
    if not all(is_int_param(v) for v in value):
        raise PlaxTypeError(f"{op}: {what} must contain only integers, got {value!r}")
    out = tuple(int(v) for v in value)
    if nonneg and any(v < 0 for v in out):
        raise PlaxTypeError(f"{op}: {what} must be nonnegative, got {out}")
    return out


def check_dims(op: str, what: str, dims: tuple[int, ...], ndim: int) -> None:
    """Dimension numbers: unique and in [0, ndim) (lax takes no negative dimensions)."""
    if len(set(dims)) != len(dims):
        raise PlaxTypeError(f"{op}: {what} must be unique, got {dims}")
    if any(not 0 <= d < ndim for d in dims):
        raise PlaxTypeError(f"{op}: {what} {dims} are out of range for an operand of rank "
                            f"{ndim} (valid: 0 to {ndim - 1}; lax takes no negative dimensions)")


def check_no_sharding(op: str, sharding: Any) -> None:
    if sharding is not None:
        raise PlaxTypeError(f"{op}: plax has no sharded arrays; sharding must be None, got "
                            f"{sharding!r}")


def static_int(op: str, what: str, value: Any) -> int:
    """A user argument that must be a concrete integer."""
    try:
        return core.concrete_or_error(operator.index, value, f"{what} of lax.{op}")
    except core.ConcretizationTypeError:
        raise
    except TypeError:
        raise TypeError(f"lax.{op}: {what} must be an integer, got {value!r}") from None


def static_ints(op: str, what: str, value: Any) -> tuple[int, ...]:
    """A user argument that must be a sequence of concrete integers."""
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"lax.{op}: {what} must be a sequence of integers, got {value!r}"
                        ) from None
    return tuple(static_int(op, what, v) for v in items)


def canonicalize_axis(op: str, axis: Any, ndim: int) -> int:
    """A user axis in [-ndim, ndim) as a nonnegative int."""
    axis = static_int(op, "axis", axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.{op}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis + ndim if axis < 0 else axis


def is_array(x: Any) -> bool:
    """An Array or a tracer (what JAX calls a jax.Array): returned as is by no-op calls."""
    return getattr(x, "aval", None) is not None
