"""XLA's own random number operations, as jax.lax: `rng_bit_generator` (stateless: a key in,
the advanced key and random bits out, by ThreeFry-2x32 or Philox-4x32; RNG_DEFAULT is the
platform's choice, Philox on XLA CPU) and `rng_uniform` (stateful: a new draw on every run,
uniform in [a, b)).

The key is a uint32[4] (JAX's spelling, the two uint64 words of XLA's state: the algorithm's
key, then its counter) or a uint64[2]. The reference backend computes exactly the bits XLA CPU
does (plax._src.backends.reference.impl_rng), so both backends agree bit for bit.
"""

from __future__ import annotations

import enum
import operator
from typing import Sequence

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray
from plax._src.registry import add_abstract_eval

__all__ = ["RandomAlgorithm", "rng_bit_generator", "rng_uniform", "rng_bit_generator_p",
           "rng_uniform_p"]

rng_bit_generator_p = Primitive("rng_bit_generator", multiple_results=True)
rng_uniform_p = Primitive("rng_uniform")


class RandomAlgorithm(enum.IntEnum):
    """The bit generator of rng_bit_generator (XLA's RandomAlgorithm)."""

    RNG_DEFAULT = 0
    "The platform's default algorithm (Philox on XLA CPU)."

    RNG_THREE_FRY = 1
    "The Threefry-2x32 PRNG algorithm."

    RNG_PHILOX = 2
    "The Philox-4x32 PRNG algorithm."

    def __str__(self):
        return self.name


_BIT_DTYPES = tuple(np.dtype(d) for d in ("uint8", "uint16", "uint32", "uint64"))


def _shape_tuple(shape, what: str) -> tuple[int, ...]:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what}: shape must be a sequence of integers, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"{what}: shape must have non-negative dimensions, got {dims}")
    return dims


def rng_bit_generator(key, shape: Sequence[int], dtype=np.uint32,
                      algorithm: RandomAlgorithm = RandomAlgorithm.RNG_DEFAULT, *,
                      out_sharding=None):
    """(new_key, bits): uniformly distributed random bits of `shape` and unsigned `dtype` from
    XLA's stateless bit generator, and the key advanced past them."""
    shape = _shape_tuple(shape, "rng_bit_generator")
    dtype = dtypes.canonicalize_dtype(np.dtype(dtype))
    if dtype not in _BIT_DTYPES:
        raise TypeError(f"rng_bit_generator: unsupported dtype {dtype}")
    algorithm = RandomAlgorithm(algorithm)
    return tuple(rng_bit_generator_p.bind(key, shape=shape, dtype=dtype, algorithm=algorithm,
                                          out_sharding=out_sharding))


def _rbg_abstract_eval(key, *, shape, dtype, algorithm, out_sharding):
    ok = ((key.shape == (4,) and key.dtype == np.uint32)
          or (key.shape == (2,) and key.dtype == np.uint64))
    if not ok:
        raise PlaxTypeError(f"rng_bit_generator: the key must be a uint32[4] (or a uint64[2]), "
                            f"got {key.str_short()}")
    return [ShapedArray(key.shape, key.dtype, key.weak_type),
            ShapedArray(tuple(shape), np.dtype(dtype))]


add_abstract_eval(rng_bit_generator_p, _rbg_abstract_eval)


def rng_uniform(a, b, shape: Sequence[int]):
    """Stateful: numbers uniformly distributed in [a, b) (undefined when b <= a), a new draw on
    every run, as XLA's Rng. jax.random is the reproducible choice."""
    shape = _shape_tuple(shape, "rng_uniform")
    return rng_uniform_p.bind(a, b, shape=shape)


def _rng_uniform_abstract_eval(a, b, *, shape):
    if a.dtype != b.dtype:
        raise ValueError(f"Arguments to rng_uniform must have identical dtypes, got {a.dtype} "
                         f"and {b.dtype}.")
    if a.shape != () or b.shape != ():
        raise ValueError(f"Arguments to rng_uniform must be scalars; got shapes {a.shape} and "
                         f"{b.shape}.")
    if not (dtypes.is_float(a.dtype) or dtypes.is_int(a.dtype)) or a.dtype == np.bool_:
        raise TypeError(f"rng_uniform: arguments must be floating-point or integer scalars, "
                        f"got {a.dtype}")
    return ShapedArray(tuple(shape), a.dtype, a.weak_type and b.weak_type)


add_abstract_eval(rng_uniform_p, _rng_uniform_abstract_eval)
