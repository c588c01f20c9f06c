"""plax.random: counter-based pseudo-random numbers (as jax.random), with JAX's default
threefry2x32 algorithms, so a key gives the numbers JAX gives for it.

Keys are raw ``uint32[2]`` arrays, JAX's legacy layout: ``key(seed)`` and ``PRNGKey(seed)`` both
return one, ``split`` returns ``uint32[num, 2]``. There is no typed key dtype; ``key_data`` and
``wrap_key_data`` exist for code written against JAX's typed keys and validate/return the raw
array. Keys are values: split them, never reuse one for two draws.

Every sampler runs as one compiled program per signature (as in JAX), so on the xla backend a
key gives exactly JAX's numbers for every sampler (checked for uniform with bounds and normal).
On the reference backend bits, keys, uniform on [0, 1), randint, bernoulli, permutation and choice
without `p` are bit-identical too; samplers that go through erf_inv/log (normal,
truncated_normal, exponential, gumbel; NumPy's functions and XLA's differ in the last bits) or
scale ``u * (maxval - minval) + minval`` (one fused multiply-add in XLA, two roundings in NumPy)
match JAX to a few ulps there; categorical and choice with `p` pick the same indices unless two
candidates are within those ulps of each other.
"""

from __future__ import annotations

from plax._src import prng as _prng
from plax._src.compiled import compiled as _compiled
from plax._src.random import (  # noqa: F401
    bernoulli, bits, categorical, choice, exponential, gumbel, normal, permutation, randint,
    truncated_normal, uniform)
from plax._src.random_samplers import *  # noqa: F401,F403
from plax._src.random_samplers import __all__ as _samplers

__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "key_impl", "split", "fold_in",
           "bits", "uniform", "normal", "randint", "bernoulli", "categorical", "permutation",
           "choice", "truncated_normal", "exponential", "gumbel", *_samplers]

_IMPL = "threefry2x32"

# compiled once per signature (one program eagerly, one nested jit under transformations)
_seed_to_key = _compiled("name")(_prng.seed_to_key)
_split = _compiled("shape")(_prng.split)
_fold_in = _compiled()(_prng.fold_in)


def _check_impl(impl) -> None:
    if impl is not None and impl != _IMPL:
        raise ValueError(f"plax.random implements only the {_IMPL!r} PRNG, got impl={impl!r}")


def PRNGKey(seed, *, impl=None):  # noqa: N802 - JAX's name
    """A key (uint32[2]) from an integer seed: the seed's high and low 32-bit words. Python
    ints are taken as int64 (wrapping to int32 when x64 is off), as in JAX."""
    _check_impl(impl)
    return _seed_to_key("PRNGKey", _prng.host_seed("PRNGKey", seed))


def key(seed, *, impl=None):
    """Same as `PRNGKey`: plax keys are raw uint32[2] arrays (no typed key dtype)."""
    _check_impl(impl)
    return _seed_to_key("key", _prng.host_seed("key", seed))


def key_data(keys):
    """The uint32[..., 2] data of a key or key array (plax keys are that data already)."""
    return _prng.check_key("key_data", keys, allow_batched=True)


def wrap_key_data(key_bits_array, *, impl=None):
    """A key array from uint32[..., 2] data (validated, returned as is)."""
    _check_impl(impl)
    return _prng.check_key("wrap_key_data", key_bits_array, allow_batched=True)


def key_impl(keys) -> str:
    _prng.check_key("key_impl", keys, allow_batched=True)
    return _IMPL


def split(key, num=2):
    """`num` new keys (an int, or a shape tuple) as a uint32[*num, 2] array."""
    key = _prng.check_key("split", key)
    return _split(key, tuple(num) if isinstance(num, list) else num)


def fold_in(key, data):
    """A new key that is a deterministic function of `key` and the 32-bit integer `data`."""
    key = _prng.check_key("fold_in", key)
    return _fold_in(key, _prng.host_fold_data(data))
