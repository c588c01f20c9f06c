"""plax.scipy.ndimage (as jax.scipy.ndimage): map_coordinates, interpolating an array at
arbitrary coordinates (nearest or linear) with SciPy's boundary modes."""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Sequence

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes

__all__ = ["map_coordinates"]


def _mirror(index, size):
    s = size - 1  # a triangle wave of half-period s
    return pnp.abs((index + s) % (2 * s) - s)


def _reflect(index, size):
    return pnp.floor_divide(_mirror(2 * index + 1, 2 * size + 1) - 1, 2)


_FIXERS = {"constant": lambda i, n: i, "nearest": lambda i, n: pnp.clip(i, 0, n - 1),
           "wrap": lambda i, n: i % n, "mirror": _mirror, "reflect": _reflect}


def _round(a):
    return a if dtypes.is_int(a.dtype) else lax.round(a)


def _nodes(coordinate, order):
    """[(index, weight)] of the 1-D interpolation at each coordinate."""
    if order == 0:
        return [(_round(coordinate).astype(np.int32), coordinate.dtype.type(1))]
    lower = pnp.floor(coordinate)
    upper_w = coordinate - lower
    index = lower.astype(np.int32)
    return [(index, 1 - upper_w), (index + 1, upper_w)]


def map_coordinates(input, coordinates: Sequence, order: int, mode: str = "constant",
                    cval=0.0):
    """input interpolated at the points whose coordinates along each axis are
    coordinates[axis]: order 0 (nearest, half away from zero) or 1 (linear); outside the
    array by `mode` ('constant' with cval, 'nearest', 'wrap', 'mirror', 'reflect')."""
    arr = pnp.asarray(input)
    coords = [pnp.asarray(c) for c in coordinates]
    cval = pnp.asarray(cval, arr.dtype)
    if len(coords) != arr.ndim:
        raise ValueError(f"coordinates must be a sequence of length input.ndim, but "
                         f"{len(coords)} != {arr.ndim}")
    if mode not in _FIXERS:
        raise NotImplementedError(f"plax.scipy.ndimage.map_coordinates does not support mode "
                                  f"{mode}; the supported modes are {sorted(_FIXERS)}")
    if order not in (0, 1):
        raise NotImplementedError("plax.scipy.ndimage.map_coordinates requires order <= 1")
    per_axis = []
    for c, size in zip(coords, arr.shape):
        nodes = []
        for index, weight in _nodes(c, order):
            valid = ((index >= 0) & (index < size)) if mode == "constant" else None
            nodes.append((_FIXERS[mode](index, size), valid, weight))
        per_axis.append(nodes)
    total = None
    for items in itertools.product(*per_axis):
        indices = tuple(i for i, _, _ in items)
        valids = [v for _, v, _ in items if v is not None]
        value = arr[indices]
        if valids:
            value = pnp.where(functools.reduce(operator.and_, valids), value, cval)
        term = functools.reduce(operator.mul, [w for _, _, w in items]) * value
        total = term if total is None else total + term
    if dtypes.is_int(arr.dtype):
        total = _round(total)
    return total.astype(arr.dtype)
