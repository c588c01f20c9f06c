"""plax.random: counter-based pseudo-random numbers (as jax.random), with JAX's default
threefry2x32 algorithms (and its rbg and unsafe_rbg ones: ``key(seed, impl="rbg")``, or the
default_prng_impl option), so a key gives the numbers JAX gives for it.

``key(seed)`` returns a typed key (``key<fry>[]``, JAX's new style) and ``PRNGKey(seed)`` a raw
``uint32[2]`` array (JAX's legacy layout); every function takes either, and ``split``/``fold_in``
return keys of the kind they were given. ``key_data`` gives a typed key's uint32[..., 2] data,
``wrap_key_data`` wraps such data. Keys are values: split them, never reuse one for two draws.

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
from plax._src.config import config as _config
from plax._src.prng_keys import KEY_DTYPES as _KEY_DTYPES, PRNGKeyArray as _Typed
from plax._src.compiled import compiled as _compiled
from plax._src.random import (  # noqa: F401
    bernoulli, bits, categorical, choice, exponential, gumbel, normal, permutation, randint,
    truncated_normal, uniform)
from plax._src.random_samplers import *  # noqa: F401,F403
from plax._src.random_samplers import __all__ as _samplers

__all__ = ["PRNGKey", "key", "key_data", "wrap_key_data", "key_impl", "key_dtype", "split",
           "fold_in",
           "bits", "uniform", "normal", "randint", "bernoulli", "categorical", "permutation",
           "choice", "truncated_normal", "exponential", "gumbel", *_samplers]

# compiled once per signature (one program eagerly, one nested jit under transformations)
_seed_to_key = _compiled("name")(_prng.seed_to_key)
_rbg_seed = _compiled("name")(_prng.rbg_seed)
_split = _compiled("shape", "impl")(_prng.split)
_fold_in = _compiled("impl")(_prng.fold_in)


def _seed(name: str, seed, impl):
    impl = _prng.check_impl(impl)
    seed = _prng.host_seed(name, seed)
    if impl == "threefry2x32":
        return _seed_to_key(name, seed), impl
    return _rbg_seed(seed, name), impl


def PRNGKey(seed, *, impl=None):  # noqa: N802 - JAX's name
    """A raw key from an integer seed: threefry2x32 (the default_prng_impl option's default)
    gives uint32[2], the seed's high and low 32-bit words; rbg and unsafe_rbg give uint32[4],
    those words twice. Python ints are taken as int64 (wrapping to int32 when x64 is off), as
    in JAX."""
    data, impl = _seed("PRNGKey", seed, impl)
    return _Typed(data, impl) if _config.enable_custom_prng else data


def key(seed, *, impl=None, dtype=None):
    """A typed key (a `key<fry>[]` array; `key<rbg>[]`, `key<urbg>[]` for impl="rbg",
    "unsafe_rbg") from an integer seed (the bits of `PRNGKey`)."""
    if dtype is not None:
        if impl is not None:
            raise ValueError("Cannot specify both `impl` and `dtype` arguments to "
                             "plax.random.key")
        impl = dtype
    return _Typed(*_seed("key", seed, impl))


def key_data(keys):
    """The uint32[..., n] data of a typed key array (a raw key array is returned as is)."""
    return _prng.key_info("key_data", keys, allow_batched=True)[0]


def wrap_key_data(key_bits_array, *, impl=None):
    """A typed key array from uint32[..., n] key data (n = 2 for threefry2x32, 4 for rbg and
    unsafe_rbg; impl=None: the default_prng_impl option's)."""
    impl = _prng.check_impl(impl)
    if isinstance(key_bits_array, _Typed):
        raise TypeError("wrap_key_data: the argument is a typed key array already; pass its "
                        "key_data")
    with _config.override("default_prng_impl", impl):
        data, _ = _prng.key_info("wrap_key_data", key_bits_array, allow_batched=True)
    return _Typed(data, impl)


def key_dtype(impl=None):
    """The dtype of typed keys of an implementation (`key<fry>`, `key<rbg>`, `key<urbg>`)."""
    return _KEY_DTYPES[_prng.check_impl(impl)]


def _like(key, data, impl):
    """`data` as a key of the kind `key` is (typed or raw; typed with enable_custom_prng)."""
    return _Typed(data, impl) if isinstance(key, _Typed) or _config.enable_custom_prng else data


def key_impl(keys) -> str:
    """The name of the keys' implementation ('threefry2x32', 'rbg', 'unsafe_rbg'), as JAX's."""
    return _prng.key_info("key_impl", keys, allow_batched=True)[1]


def split(key, num=2):
    """`num` new keys (an int, or a shape tuple) as a uint32[*num, n] array."""
    data, impl = _prng.key_info("split", key)
    return _like(key, _split(data, tuple(num) if isinstance(num, list) else num, impl), impl)


def fold_in(key, data):
    """A new key that is a deterministic function of `key` and the 32-bit integer `data`."""
    raw, impl = _prng.key_info("fold_in", key)
    return _like(key, _fold_in(raw, _prng.host_fold_data(data), impl), impl)
