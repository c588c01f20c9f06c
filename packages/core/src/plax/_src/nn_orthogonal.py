"""The orthogonal initializers of plax.nn.initializers (as jax.nn.initializers): orthogonal
(a Haar-random orthogonal matrix, plax.random.orthogonal, reshaped to the weight's shape) and
delta_orthogonal (an orthogonal matrix at the centre of a convolution kernel), and the
Initializer protocol."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from plax import numpy as pnp
from plax import random
from plax._src import dtypes


class Initializer(Protocol):
    """What an initializer is: init(key, shape, dtype) -> array."""

    def __call__(self, key: Any, shape: Any, dtype: Any = None) -> Any: ...


def _dtype(dtype):
    return dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)


def orthogonal(scale=1.0, column_axis: int = -1, dtype=None) -> Initializer:
    """Weights whose columns (along `column_axis`) or rows are orthonormal, times `scale`."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        if out_sharding is not None:
            raise NotImplementedError("orthogonal initializer: out_sharding")
        dt = _dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        if any(d == 0 for d in shape):
            return pnp.zeros(shape, dtype=dt)
        n_rows, n_cols = math.prod(shape) // shape[column_axis], shape[column_axis]
        q = random.orthogonal(key, n_rows, (), dt, n_cols)
        q = pnp.reshape(q, tuple(np.delete(shape, column_axis)) + (shape[column_axis],))
        q = pnp.moveaxis(q, -1, column_axis)
        return pnp.asarray(scale, dt) * q
    return init


def delta_orthogonal(scale=1.0, column_axis: int = -1, dtype=None) -> Initializer:
    """Convolution kernels (3-d to 5-d) that are zero except an orthogonal matrix at the
    centre of the spatial axes (Xiao et al. 2018)."""
    def init(key, shape, dtype=dtype, out_sharding=None):
        if out_sharding is not None:
            raise NotImplementedError("delta_orthogonal initializer: out_sharding")
        dt = _dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        ortho = orthogonal(scale=scale, column_axis=column_axis, dtype=dt)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return pnp.zeros(shape, dtype=dt).at[centre].set(ortho)
    return init
