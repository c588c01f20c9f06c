"""The threefry2x32 counter-based hash and the key operations built on it (seed, split, fold_in,
random bits). Written in plax.lax ops, so it traces, transforms and runs on every backend, and
gives the same bits as JAX's default threefry implementation (`jax_threefry_partitionable`);
and JAX's rbg and unsafe_rbg implementations (uint32[4] keys, bits from lax.rng_bit_generator).

A threefry key is a raw uint32[2] array (JAX's legacy `PRNGKey` layout); a batch of keys is
uint32[..., 2]. Inside the samplers an rbg-family key travels as `RbgParts` (data and name).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.config import config
from plax._src.core import canonicalize_shape, get_aval
from plax._src.lax import elementwise as ew

_u32 = np.uint32
UINT_DTYPES = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


# ---------------------------------------------------------------------------------------------
# The hash

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotate_left(x, d: int):
    return ew.bitwise_or(ew.shift_left(x, _u32(d)), ew.shift_right_logical(x, _u32(32 - d)))


def threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2,
    3") of the counter pair (x1, x2) under key (k1, k2). All uint32; k1, k2 are scalars and x1,
    x2 scalars or arrays of one shape. Returns the pair of hashed words."""
    ks = (k1, k2, ew.bitwise_xor(ew.bitwise_xor(k1, k2), _u32(0x1BD11BDA)))
    # counters' high words are usually the constant 0: skip adding it
    x0 = ks[0] if isinstance(x1, np.generic) and x1 == 0 else ew.add(x1, ks[0])
    x1 = ew.add(x2, ks[1])
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = ew.add(x0, x1)
            x1 = ew.bitwise_xor(x0, _rotate_left(x1, r))
        # key injection: the constant is folded into the (scalar) key word first; uint32
        # addition wraps, so the bits equal those of adding the two separately
        x0 = ew.add(x0, ks[(i + 1) % 3])
        x1 = ew.add(x1, ew.add(ks[(i + 2) % 3], _u32(i + 1)))
    return x0, x1


# ---------------------------------------------------------------------------------------------
# Keys


_NOT_CONSUMING = frozenset({"key_data", "wrap_key_data", "key_impl", "fold_in", "clone"})

IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
KEY_WORDS = {"threefry2x32": 2, "rbg": 4, "unsafe_rbg": 4}  # uint32 words of one key


def check_impl(impl) -> str:
    """The implementation name `impl` names (None: the default_prng_impl option's); a clear
    error for any other."""
    if impl is None:
        return config.default_prng_impl
    impl = getattr(impl, "impl", impl)  # a key dtype (key<rbg>) names its implementation
    if impl not in IMPLS:
        raise ValueError(f"unrecognized PRNG implementation {impl!r}: plax.random implements "
                         f"{', '.join(map(repr, IMPLS))}")
    return impl


class RbgParts:
    """A single key of the rbg family inside the samplers (what `key_parts` gives for it, as a
    threefry key gives its two words): its uint32[4] data and implementation name."""

    __slots__ = ("data", "impl")

    def __init__(self, data, impl: str):
        self.data, self.impl = data, impl


def _register_rbg_parts():
    from plax._src import tree_util
    tree_util.register_pytree_node(RbgParts, lambda p: ((p.data,), p.impl),
                                   lambda impl, children: RbgParts(children[0], impl))


_register_rbg_parts()


def key_info(name: str, key, allow_batched: bool = False, _stacklevel: int = 3):
    """Validates the key argument of the random function `name`: (its uint32[..., n] data, its
    implementation name). A typed key carries its implementation; a raw key is taken to be of
    the default_prng_impl option's, as in JAX."""
    from plax._src.prng_keys import PRNGKeyArray
    if isinstance(key, RbgParts):
        return key.data, key.impl
    if isinstance(key, PRNGKeyArray):
        impl = key.impl
        if config.debug_key_reuse and name not in _NOT_CONSUMING:
            from plax._src.prng_keys import consume
            consume(name, key)
        key = key._data
    else:
        impl = config.default_prng_impl
        if name != "wrap_key_data" and config.legacy_prng_key != "allow":
            msg = ("Legacy uint32 key array passed as key to plax.random function. Please "
                   "create keys using plax.random.key(). If use of a raw key array was "
                   'intended, set legacy_prng_key="allow".')
            if config.legacy_prng_key == "error":
                raise ValueError(msg)
            warnings.warn(msg, stacklevel=_stacklevel)
        elif name != "wrap_key_data" and config.enable_custom_prng:
            warnings.warn("Raw arrays as random keys to plax.random functions are deprecated. "
                          "Assuming valid threefry2x32 key for now.", FutureWarning,
                          stacklevel=_stacklevel)
    if not (hasattr(key, "aval") or isinstance(key, np.ndarray)):
        raise TypeError(f"random.{name}: expected a PRNG key (a typed key from "
                        f"plax.random.key, or uint32 key data from PRNGKey or split), got "
                        f"{type(key).__name__}")
    aval = get_aval(key)
    n = KEY_WORDS[impl]
    if aval.dtype != dtypes.uint32 or aval.shape[-1:] != (n,):
        raise TypeError(f"random.{name}: invalid PRNG key data for the {impl} implementation: "
                        f"expected a uint32 array whose last dimension is {n}, got "
                        f"{aval.str_short()}")
    if not allow_batched and aval.shape != (n,):
        raise ValueError(f"random.{name} accepts a single key, but was given a key array of "
                         f"shape {aval.shape[:-1]} != (). Use plax.vmap for batching.")
    return key, impl


def check_key(name: str, key, allow_batched: bool = False):
    """Validates the key argument of the random function `name`; returns a threefry key's
    uint32[..., 2] data (a typed key is unwrapped), or an rbg-family key as `RbgParts`."""
    data, impl = key_info(name, key, allow_batched, 4)
    return data if impl == "threefry2x32" else RbgParts(data, impl)


def key_parts(key):
    """The two uint32 scalar words of a single threefry key (an rbg-family key's RbgParts as
    they are)."""
    if isinstance(key, RbgParts):
        return key
    return tuple(lax.reshape(lax.slice(key, (i,), (i + 1,)), ()) for i in (0, 1))


def _stack_last(a, b):
    shape = tuple(np.shape(a)) if not hasattr(a, "aval") else a.aval.shape
    return lax.concatenate([lax.reshape(a, shape + (1,)), lax.reshape(b, shape + (1,))],
                           len(shape))


def host_seed(name: str, seed):
    """A Python int seed as the NumPy integer JAX makes of it (other seeds as they are)."""
    if type(seed) is int:
        if not -2**63 <= seed < 2**63:
            raise OverflowError(f"{name}: the seed {seed} does not fit in 64 bits (int64), the "
                                "widest seed a key can be made from")
        return np.int64(seed).astype(dtypes.canonicalize_dtype(np.int64))
    return seed


def host_fold_data(data):
    """A Python int fold_in datum as a uint32 (range-checked; other data as they are)."""
    if type(data) is int:
        if not 0 <= data < 2**32:
            raise OverflowError(f"random.fold_in: data {data} is out of bounds for uint32")
        return _u32(data)
    return data


def seed_to_key(name: str, seed):
    """JAX's threefry seeding: the seed's 64 bits as (high word, low word); a seed of 32 bits
    or fewer gets a zero high word. Python ints go through int64 first, then are canonicalized
    (wrapping to int32 when x64 is off), as `jax.random.PRNGKey` does."""
    seed = host_seed(name, seed)
    try:
        aval = get_aval(seed)
    except TypeError:
        raise TypeError(f"{name}: the seed must be an integer scalar, got "
                        f"{type(seed).__name__}") from None
    if aval.shape:
        raise TypeError(f"{name} accepts a scalar seed, but was given an array of shape "
                        f"{aval.shape} != (). Use plax.vmap for batching")
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f"{name}: the seed must be an integer, got dtype {aval.dtype.name}")
    if aval.dtype.itemsize == 8:
        hi = ew.convert_element_type(ew.shift_right_logical(seed, np.asarray(32, aval.dtype)),
                                     dtypes.uint32)
    else:
        hi = _u32(0)
    lo = ew.convert_element_type(seed, dtypes.uint32)  # the low 32 bits (wrapping conversion)
    return _stack_last(hi, lo)


def iota_counts(shape: tuple[int, ...]):
    """The row-major index of each element of `shape` as a uint32 array (the low word of
    JAX's 64-bit counter; the high word is 0 for every array that fits in memory)."""
    size = math.prod(shape)
    if size >= 2**32:
        raise NotImplementedError(f"random bits for an array of {size} elements (2**32 or more)")
    if not shape:
        return _u32(0)
    return lax.reshape(lax.iota(dtypes.uint32, size), shape)


def hash_counts(parts, shape: tuple[int, ...]):
    """The hash of every counter of `shape` under the key words `parts`: two uint32 arrays."""
    k1, k2 = parts
    return threefry2x32(k1, k2, _u32(0), iota_counts(shape))


# threefry_partitionable=False: JAX's original layout, the hash of one flat counter run
# 0 .. n-1 split in two halves (its split and random_bits before the partitionable default)


def _threefry_flat(parts, n: int):
    """JAX's `threefry_2x32(key, iota(n))`: the first half of the counters as the low words,
    the second half as the high ones (padded with a 0 to an even count), hashed, concatenated
    and cut back to `n`."""
    if n >= 2**32 - 1:
        raise NotImplementedError(f"random bits for {n} 32-bit words (2**32 - 1 or more) with "
                                  "threefry_partitionable=False")
    if n == 0:
        return lax.full((0,), 0, dtypes.uint32)
    half = (n + 1) // 2
    count = lax.iota(dtypes.uint32, 2 * half)
    if n % 2:  # the pad counter is 0, as in JAX
        count = ew.select(ew.eq(count, _u32(n)), lax.full((2 * half,), 0, dtypes.uint32), count)
    x1, x2 = threefry2x32(parts[0], parts[1], lax.slice(count, (0,), (half,)),
                          lax.slice(count, (half,), (2 * half,)))
    return lax.slice(lax.concatenate([x1, x2], 0), (0,), (n,))


def split_words(parts, shape: tuple[int, ...]):
    """The two key words of each of `shape` new keys: uint32 arrays of `shape` (JAX's split,
    in either threefry layout); threefry keys only."""
    assert not isinstance(parts, RbgParts), "split_words takes threefry key words"
    if config.threefry_partitionable:
        return hash_counts(parts, shape)
    flat = lax.reshape(_threefry_flat(parts, 2 * math.prod(shape)), tuple(shape) + (2,))
    n = len(shape)
    return tuple(lax.reshape(lax.slice(flat, (0,) * n + (i,), tuple(shape) + (i + 1,)), shape)
                 for i in (0, 1))


def split(key, shape, impl: str = "threefry2x32"):
    """`shape` new keys (uint32[*shape, 2], rbg-family: uint32[*shape, 4]) from one key."""
    shape = canonicalize_shape(shape, "split's num")
    if any(d < 0 for d in shape):
        raise ValueError(f"random.split: the number of keys must be non-negative, got {shape}")
    if impl != "threefry2x32":
        return rbg_split(key, shape, impl)
    return _stack_last(*split_words(key_parts(key), shape))


def split_parts(parts, num: int) -> list[tuple]:
    """`split` for the samplers: `num` keys, each as its pair of scalar words (an rbg-family
    key's: each as RbgParts)."""
    if isinstance(parts, RbgParts):
        keys = rbg_split(parts.data, (num,), parts.impl)
        return [RbgParts(lax.reshape(lax.slice(keys, (i, 0), (i + 1, 4)), (4,)), parts.impl)
                for i in range(num)]
    b1, b2 = split_words(parts, (num,))

    def word(b, i):
        return lax.reshape(lax.slice(b, (i,), (i + 1,)), ())

    return [(word(b1, i), word(b2, i)) for i in range(num)]


def fold_in(key, data, impl: str = "threefry2x32"):
    """A new key that is a deterministic function of `key` and the 32-bit integer `data`."""
    data = host_fold_data(data)
    aval = get_aval(data)
    if aval.shape:
        raise TypeError(f"random.fold_in accepts a scalar, but was given an array of shape "
                        f"{aval.shape} != (). Use plax.vmap for batching.")
    if aval.dtype != dtypes.uint32:
        data = ew.convert_element_type(data, dtypes.uint32)
    if impl != "threefry2x32":
        return rbg_fold_in(key, data, impl)
    k1, k2 = key_parts(key)
    return _stack_last(*threefry2x32(k1, k2, _u32(0), data))


def random_bits(parts, bit_width: int, shape: tuple[int, ...]):
    """Uniform random unsigned integers of `bit_width` bits and `shape` from key words `parts`."""
    if bit_width not in UINT_DTYPES:
        raise TypeError(f"random bits need an 8, 16, 32 or 64-bit width, got {bit_width}")
    if isinstance(parts, RbgParts):
        return rbg_random_bits(parts.data, bit_width, shape)
    if not config.threefry_partitionable:
        return _random_bits_original(parts, bit_width, shape)
    b1, b2 = hash_counts(parts, shape)
    if bit_width == 64:
        u64 = dtypes.canonicalize_dtype(dtypes.uint64)
        if u64 != dtypes.uint64:
            raise TypeError("64-bit random bits need x64 mode (plax.enable_x64())")
        hi, lo = (ew.convert_element_type(b, u64) for b in (b1, b2))
        return ew.bitwise_or(ew.shift_left(hi, np.uint64(32)), lo)
    bits = ew.bitwise_xor(b1, b2)
    if bit_width == 32:
        return bits
    return ew.convert_element_type(bits, UINT_DTYPES[bit_width])  # keeps the low bits


def _random_bits_original(parts, bit_width: int, shape: tuple[int, ...]):
    """random_bits in JAX's original threefry layout (threefry_partitionable=False): the
    flat hash of 0 .. ceil(bit_width * size / 32) - 1, its words cut into `bit_width` pieces
    (low bits first) for 8 and 16 bits, the two halves as high and low words for 64."""
    size = math.prod(shape)
    words = -(-bit_width * size // 32)
    bits = _threefry_flat(parts, words)
    dt = UINT_DTYPES[bit_width]
    if bit_width == 64:
        u64 = dtypes.canonicalize_dtype(dtypes.uint64)
        if u64 != dtypes.uint64:
            raise TypeError("64-bit random bits need x64 mode (plax.enable_x64())")
        hi, lo = (ew.convert_element_type(lax.slice(bits, (a,), (b,)), u64)
                  for a, b in ((0, size), (size, 2 * size)))
        bits = ew.bitwise_or(ew.shift_left(hi, np.uint64(32)), lo)
    elif bit_width in (8, 16):
        per = 32 // bit_width
        shifts = lax.broadcast_in_dim(
            ew.mul(lax.iota(dtypes.uint32, per), _u32(bit_width)), (per, words), (0,))
        pieces = ew.bitwise_and(
            ew.shift_right_logical(lax.broadcast_in_dim(bits, (per, words), (1,)), shifts),
            _u32(np.iinfo(dt).max))
        flat = lax.reshape(lax.transpose(pieces, (1, 0)), (per * words,))
        bits = lax.slice(ew.convert_element_type(flat, dt), (0,), (size,))
    return lax.reshape(bits, tuple(shape))


# ---------------------------------------------------------------------------------------------
# The rbg family (JAX's "rbg" and "unsafe_rbg"): a uint32[4] key, two threefry keys for
# seeding (and, for rbg, split and fold_in); the bits from XLA's rng_bit_generator (its
# platform default algorithm, as JAX's)


def rbg_seed(seed, name: str = "key"):
    """JAX's rbg seeding: the threefry key of `seed`, twice."""
    half = seed_to_key(name, seed)
    return lax.concatenate([half, half], 0)


def _halves(key):
    """The two threefry keys (as word pairs) of an rbg key."""
    return [tuple(lax.reshape(lax.slice(key, (i,), (i + 1,)), ()) for i in (j, j + 1))
            for j in (0, 2)]


def rbg_split(key, shape: tuple[int, ...], impl: str):
    """`shape` new rbg-family keys (uint32[*shape, 4]) from one: rbg splits each threefry half
    (in the threefry layout config.threefry_partitionable picks); unsafe_rbg takes every tenth
    row of rng_bit_generator's uint32[10 * n, 4] bits."""
    if impl == "rbg":
        words = [w for half in _halves(key) for w in split_words(half, shape)]
        n = len(shape)
        return lax.concatenate([lax.reshape(w, tuple(shape) + (1,)) for w in words], n)
    num = math.prod(shape)
    _, rows = lax.rng_bit_generator(key, (10 * num, 4), dtype=dtypes.uint32)
    return lax.reshape(lax.slice(rows, (0, 0), (10 * num, 4), (10, 1)), tuple(shape) + (4,))


def rbg_fold_in(key, data, impl: str):
    """An rbg-family key folded with the uint32 scalar `data`: rbg folds each threefry half;
    unsafe_rbg xors the key with the last row of the bits of the rbg key seeded by `data`."""
    if impl == "rbg":
        halves = [_stack_last(*threefry2x32(k1, k2, _u32(0), data)) for k1, k2 in _halves(key)]
        return lax.concatenate(halves, 0)
    _, rows = lax.rng_bit_generator(rbg_seed(data), (10, 4), dtype=dtypes.uint32)
    return ew.bitwise_xor(key, lax.reshape(lax.slice(rows, (9, 0), (10, 4)), (4,)))


def rbg_random_bits(key, bit_width: int, shape: tuple[int, ...]):
    """rng_bit_generator's bits of `bit_width` and `shape` from an rbg-family key."""
    dt = UINT_DTYPES[bit_width]
    if bit_width == 64 and dtypes.canonicalize_dtype(dt) != dt:
        raise TypeError("64-bit random bits need x64 mode (plax.enable_x64())")
    return lax.rng_bit_generator(key, tuple(shape), dtype=dt)[1]
