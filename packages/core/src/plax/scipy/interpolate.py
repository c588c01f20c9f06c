"""plax.scipy.interpolate (as jax.scipy.interpolate): RegularGridInterpolator, linear or
nearest-neighbour interpolation on a rectilinear grid of any dimension, following SciPy's
algorithm as JAX does (each axis must be strictly increasing; points outside the grid get
fill_value, or are extrapolated linearly when it is None; bounds_error is not supported,
since it would need a data-dependent error under jit). The interpolator is a pytree (grid,
values and fill_value its leaves), so it passes through jit, vmap and grad."""

from __future__ import annotations

import itertools

import numpy as np

import plax.numpy as pnp
from plax._src.numpy.util import check_arraylike, promote_dtypes_inexact
from plax.tree_util import register_pytree_node

__all__ = ["RegularGridInterpolator"]

_METHODS = ("linear", "nearest")


def _ndim_coords(points, ndim: int):
    """The sample points as one (..., ndim) array: a tuple of coordinate arrays is broadcast
    and stacked (in the default float dtype), a 1-D array read as rows of ndim coordinates."""
    if isinstance(points, tuple) and len(points) == 1:
        points = points[0]
    if isinstance(points, tuple):
        check_arraylike("RegularGridInterpolator", *points)
        parts = pnp.broadcast_arrays(*points)
        return pnp.stack([pnp.asarray(p, dtype=float) for p in parts], axis=-1)
    check_arraylike("RegularGridInterpolator", points)
    points = pnp.asarray(points)
    if points.ndim == 1:
        points = points.reshape(-1, ndim)
    return points


class RegularGridInterpolator:
    """Interpolate on a regular (rectilinear) grid (as
    jax.scipy.interpolate.RegularGridInterpolator).

    points: N 1-D arrays, the strictly increasing grid coordinates of each axis; values: an
    array whose first N axes match them (more axes are interpolated as vectors); method:
    "linear" or "nearest"; bounds_error: must be False (True raises NotImplementedError, as in
    JAX); fill_value: the value outside the grid (NaN by default; None extrapolates).
    Calling it with xi (an (..., N) array, or a tuple of N coordinate arrays) returns the
    interpolated values, of shape xi.shape[:-1] + values.shape[N:]."""

    def __init__(self, points, values, method="linear", bounds_error=False,
                 fill_value=np.nan):
        if method not in _METHODS:
            raise ValueError(f"RegularGridInterpolator: method {method!r} is not defined; "
                             f"use one of {_METHODS}")
        self.method = method
        self.bounds_error = bounds_error
        if bounds_error:
            raise NotImplementedError(
                "RegularGridInterpolator: bounds_error=True is not supported (an error that "
                "depends on the values cannot be raised under jit); use fill_value")
        check_arraylike("RegularGridInterpolator", values)
        if len(points) > np.ndim(values):
            raise ValueError(f"RegularGridInterpolator: there are {len(points)} point arrays, "
                             f"but values has {np.ndim(values)} dimensions")
        values, = promote_dtypes_inexact(pnp.asarray(values))
        if fill_value is not None:
            check_arraylike("RegularGridInterpolator", fill_value)
            fill_value = pnp.asarray(fill_value)
            if not pnp.can_cast(fill_value.dtype, values.dtype, casting="same_kind"):
                raise ValueError("RegularGridInterpolator: fill_value must be either None or "
                                 f"of a type compatible with values ({values.dtype}), got "
                                 f"{fill_value.dtype}")
        self.fill_value = fill_value
        check_arraylike("RegularGridInterpolator", *points)
        self.grid = tuple(pnp.asarray(p) for p in points)
        for axis, g in enumerate(self.grid):
            if g.ndim != 1 or g.shape[0] != values.shape[axis]:
                raise ValueError(f"RegularGridInterpolator: points[{axis}] must be 1-D with "
                                 f"values.shape[{axis}] = {values.shape[axis]} entries, got "
                                 f"shape {g.shape}")
        self.values = values

    def __call__(self, xi, method=None):
        method = self.method if method is None else method
        if method not in _METHODS:
            raise ValueError(f"RegularGridInterpolator: method {method!r} is not defined; "
                             f"use one of {_METHODS}")
        ndim = len(self.grid)
        xi = _ndim_coords(xi, ndim)
        if xi.shape[-1] != ndim:
            raise ValueError(f"RegularGridInterpolator: the requested sample points xi have "
                             f"dimension {xi.shape[-1]}, but this interpolator has dimension "
                             f"{ndim}")
        xi_shape = xi.shape
        xi = xi.reshape(-1, xi_shape[-1])
        indices, distances, out_of_bounds = self._find_indices(xi.T)
        if method == "linear":
            result = self._evaluate_linear(indices, distances)
        else:
            result = self._evaluate_nearest(indices, distances)
        if self.fill_value is not None:
            bshape = result.shape[:1] + (1,) * (result.ndim - 1)
            result = pnp.where(out_of_bounds.reshape(bshape), self.fill_value, result)
        return result.reshape(xi_shape[:-1] + self.values.shape[ndim:])

    def _evaluate_linear(self, indices, distances):
        # the weighted sum over the 2**N corners of each point's cell
        vslice = (slice(None),) + (None,) * (self.values.ndim - len(indices))
        out = pnp.asarray(0.0)
        for corner in itertools.product(*[[i, i + 1] for i in indices]):
            weight = pnp.asarray(1.0)
            for ei, i, yi in zip(corner, indices, distances):
                weight = weight * ((1 - yi) if ei is i else yi)
            out = out + self.values[corner] * weight[vslice]
        return out

    def _evaluate_nearest(self, indices, distances):
        return self.values[tuple(pnp.where(yi <= 0.5, i, i + 1)
                                 for i, yi in zip(indices, distances))]

    def _find_indices(self, xi):
        """Per axis: the index of each point's cell (clamped to the grid), the distance from
        the cell's lower edge in units of its width, and whether the point is outside."""
        indices, distances = [], []
        out_of_bounds = pnp.zeros((xi.shape[1],), dtype=bool)
        for x, g in zip(xi, self.grid):
            i = pnp.searchsorted(g, x) - 1
            i = pnp.where(i < 0, 0, i)
            i = pnp.where(i > g.size - 2, g.size - 2, i)
            indices.append(i)
            distances.append((x - g[i]) / (g[i + 1] - g[i]))
            out_of_bounds = out_of_bounds | (x < g[0]) | (x > g[-1])
        return indices, distances, out_of_bounds


register_pytree_node(
    RegularGridInterpolator,
    lambda obj: ((obj.grid, obj.values, obj.fill_value), (obj.method, obj.bounds_error)),
    lambda aux, children: RegularGridInterpolator(*children[:2], *aux, *children[2:]))
