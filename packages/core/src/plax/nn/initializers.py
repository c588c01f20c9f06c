"""Parameter initializers (as jax.nn.initializers): each builder returns `init(key, shape,
dtype)`. The variance-scaling family (glorot/he/lecun, uniform or truncated normal) draws the
same numbers as JAX for the same key."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from plax import numpy as pnp
from plax import random
from plax._src import dtypes
from plax._src.core import canonicalize_shape

__all__ = ["zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "Initializer", "orthogonal", "delta_orthogonal"]


def _dtype(dtype):
    return dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)


def zeros(key, shape, dtype=None):
    """Zeros (the key is ignored)."""
    return pnp.zeros(canonicalize_shape(shape), _dtype(dtype))


def ones(key, shape, dtype=None):
    """Ones (the key is ignored)."""
    return pnp.ones(canonicalize_shape(shape), _dtype(dtype))


def constant(value, dtype=None):
    def init(key, shape, dtype=dtype):
        return pnp.full(canonicalize_shape(shape), value, dtype=_dtype(dtype))
    return init


def uniform(scale=1e-2, dtype=None):
    """Uniform in [0, scale)."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.uniform(key, shape, dt) * pnp.asarray(scale, dt)
    return init


def normal(stddev=1e-2, dtype=None):
    """Normal with mean 0 and standard deviation `stddev`."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.normal(key, shape, dt) * pnp.asarray(stddev, dt)
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """A standard normal truncated to (lower, upper), then scaled by `stddev`."""
    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype)
        return random.truncated_normal(key, lower, upper, shape, dt) * pnp.asarray(stddev, dt)
    return init


def _axes_size(shape, axes) -> int:
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _compute_fans(shape: tuple, in_axis, out_axis, batch_axis) -> tuple[float, float]:
    """Fan-in and fan-out of a weight tensor; axes not named are a convolution's receptive
    field and multiply both."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"cannot compute the fan-in and fan-out of a {len(shape)}-dimensional "
                         "weight tensor with the default in_axis; it must be at least 2-D, or "
                         "give in_axis explicitly")
    in_size = _axes_size(shape, in_axis)
    out_size = _axes_size(shape, out_axis)
    batch_size = _axes_size(shape, batch_axis)
    receptive_field_size = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field_size, out_size * receptive_field_size


# standard deviation of a unit normal truncated to (-2, 2), and of a complex normal whose
# modulus is truncated at 2: dividing by them restores the requested variance
_TRUNC_STD_REAL = .87962566103423978
_TRUNC_STD_COMPLEX = .95311164380491208


def variance_scaling(scale, mode: str, distribution: str, in_axis: int | Sequence[int] = -2,
                     out_axis: int | Sequence[int] = -1, batch_axis: int | Sequence[int] = (),
                     dtype=None):
    """Samples of variance scale / n, n the fan-in, fan-out, their mean ("fan_avg") or
    geometric mean ("fan_geo_avg"), from a "truncated_normal" (at 2 standard deviations),
    "normal" or "uniform" distribution (a uniform disk for complex dtypes)."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"invalid distribution for variance scaling initializer: "
                         f"{distribution}")

    def init(key, shape, dtype=dtype):
        shape = canonicalize_shape(shape)
        dt = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = pnp.asarray(scale / denominator, dtype=dt)
        complex_ = dtypes.is_complex(dt)
        if distribution == "truncated_normal":
            if not complex_:
                stddev = pnp.sqrt(variance) / pnp.asarray(_TRUNC_STD_REAL, dt)
                return random.truncated_normal(key, -2, 2, shape, dt) * stddev
            stddev = pnp.sqrt(variance) / pnp.asarray(_TRUNC_STD_COMPLEX, dt)
            return _complex_truncated_normal(key, 2, shape, dt) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dt) * pnp.sqrt(variance)
        if not complex_:
            return random.uniform(key, shape, dt, -1) * pnp.sqrt(3 * variance)
        return _complex_uniform(key, shape, dt) * pnp.sqrt(variance)

    return init


def _real_dtype(dt):
    return np.dtype(np.array(0, dt).real.dtype)


def _complex_uniform(key, shape, dtype):
    """Uniform on the disk of radius sqrt(2) (zero mean, unit variance)."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    r = pnp.sqrt(2 * random.uniform(key_r, shape, real)).astype(dtype)
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(dtype)
    return r * pnp.exp(1j * theta)


def _complex_truncated_normal(key, upper, shape, dtype):
    """A complex normal of unit variance with modulus truncated at `upper`."""
    key_r, key_theta = random.split(key)
    real = _real_dtype(dtype)
    t = ((1 - pnp.exp(pnp.asarray(-(upper ** 2), dtype)))
         * random.uniform(key_r, shape, real).astype(dtype))
    r = pnp.sqrt(-pnp.log(1 - t))
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(dtype)
    return r * pnp.exp(1j * theta)


def _variant(scale: float, mode: str, distribution: str, doc: str):
    def builder(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(scale, mode, distribution, in_axis=in_axis, out_axis=out_axis,
                                batch_axis=batch_axis, dtype=dtype)
    builder.__doc__ = doc
    return builder


glorot_uniform = _variant(1.0, "fan_avg", "uniform", "Glorot (Xavier) uniform initializer.")
glorot_normal = _variant(1.0, "fan_avg", "truncated_normal",
                         "Glorot (Xavier) truncated-normal initializer.")
lecun_uniform = _variant(1.0, "fan_in", "uniform", "LeCun uniform initializer.")
lecun_normal = _variant(1.0, "fan_in", "truncated_normal", "LeCun truncated-normal initializer.")
he_uniform = _variant(2.0, "fan_in", "uniform", "He (Kaiming) uniform initializer.")
he_normal = _variant(2.0, "fan_in", "truncated_normal",
                     "He (Kaiming) truncated-normal initializer.")
glorot_uniform.__name__, glorot_normal.__name__ = "glorot_uniform", "glorot_normal"
lecun_uniform.__name__, lecun_normal.__name__ = "lecun_uniform", "lecun_normal"
he_uniform.__name__, he_normal.__name__ = "he_uniform", "he_normal"
xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


from plax._src.nn_orthogonal import Initializer, delta_orthogonal, orthogonal  # noqa: E402,F401
