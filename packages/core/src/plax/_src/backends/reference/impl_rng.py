"""NumPy implementations of rng_bit_generator and rng_uniform.

rng_bit_generator computes the bits XLA CPU computes (its RngBitGeneratorExpander and bit
generators), so the reference and xla backends agree bit for bit:
- the state is two uint64 words (a uint32[4] key is their little-endian halves): the
  algorithm's key, then a counter; the new state keeps the key and advances the counter;
- ThreeFry-2x32 (20 rounds) of the 64-bit counters state+0, state+1, ...: 64-bit outputs take
  both words of one block (counter advances by the element count); 32-bit (and narrower,
  truncated) outputs take both words of a block for two neighbours along the first even
  dimension (else the longest), so the counter advances by half the element count (rounded
  up along that dimension);
- Philox-4x32 (10 rounds) of 128-bit counters whose low word is the state's counter and whose
  high word is the key word; its four output words fill four consecutive 32-bit elements (two
  64-bit ones), and the counter advances by the number of blocks;
- RNG_DEFAULT is Philox, as on XLA CPU.
rng_uniform draws from a NumPy generator seeded by the OS: a new draw on every call.
"""

from __future__ import annotations

import numpy as np

from plax._src.lax import rng as lr

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_PHILOX_M = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))


def _words(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) uint32 halves of uint64 values."""
    return (c & _M32).astype(np.uint32), (c >> _S32).astype(np.uint32)


def _join(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo.astype(np.uint64) | (hi.astype(np.uint64) << _S32)


def _rotl(v: np.ndarray, d: int) -> np.ndarray:
    return (v << np.uint32(d)) | (v >> np.uint32(32 - d))


def threefry2x32(x0: np.ndarray, x1: np.ndarray, key: int):
    """Threefry-2x32 with 20 rounds of the blocks (x0, x1) under the 64-bit `key`."""
    k = [np.uint32(key & 0xFFFFFFFF), np.uint32(key >> 32)]
    k.append(np.uint32(0x1BD11BDA) ^ k[0] ^ k[1])
    x0, x1 = x0 + k[0], x1 + k[1]
    for i in range(5):
        for r in _THREEFRY_ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + k[(i + 1) % 3]
        x1 = x1 + k[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def philox4x32(x: list, key: int) -> list:
    """Philox-4x32 with 10 rounds of the blocks x (four uint32 arrays) under the 64-bit key."""
    k0, k1 = key & 0xFFFFFFFF, key >> 32
    for _ in range(10):
        hi0, lo0 = _words(x[0].astype(np.uint64) * _PHILOX_M[0])[::-1]
        hi1, lo1 = _words(x[2].astype(np.uint64) * _PHILOX_M[1])[::-1]
        x = [hi1 ^ x[1] ^ np.uint32(k0), lo1, hi0 ^ x[3] ^ np.uint32(k1), lo0]
        k0, k1 = (k0 + _PHILOX_W[0]) & 0xFFFFFFFF, (k1 + _PHILOX_W[1]) & 0xFFFFFFFF
    return x


def _counters(start: int, n: int) -> np.ndarray:
    return np.uint64(start) + np.arange(n, dtype=np.uint64)  # wraps modulo 2**64


def _threefry_bits(key: int, counter: int, shape: tuple, wide: bool):
    if wide:
        n = int(np.prod(shape, dtype=np.int64))
        x0, x1 = threefry2x32(*_words(_counters(counter, n)), key)
        return _join(x0, x1).reshape(shape), counter + n
    if not shape:
        x0, _ = threefry2x32(*_words(_counters(counter, 1)), key)
        return x0.reshape(()), counter + 1
    split = next((i for i, d in enumerate(shape) if d % 2 == 0), None)
    if split is None:
        split = int(np.argmax(shape))
    half = list(shape)
    half[split] = -(-shape[split] // 2)
    n = int(np.prod(half, dtype=np.int64))
    x0, x1 = threefry2x32(*_words(_counters(counter, n)), key)
    pairs = np.stack([x0.reshape(half), x1.reshape(half)], axis=split + 1)
    half[split] *= 2
    out = pairs.reshape(half)[tuple(slice(0, d) for d in shape)]
    return out, counter + n


def _philox_bits(key: int, counter: int, shape: tuple, wide: bool):
    n = int(np.prod(shape, dtype=np.int64))
    blocks = -(-(2 * n if wide else n) // 4)
    lo = _counters(counter, blocks)
    hi = np.where(lo < np.uint64(counter), np.uint64((key + 1) % 2**64), np.uint64(key))
    x = philox4x32([*_words(lo), *_words(hi)], key)
    if wide:
        vals = np.stack([_join(x[0], x[1]), _join(x[2], x[3])], axis=1)
    else:
        vals = np.stack(x, axis=1)
    return vals.reshape(-1)[:n].reshape(shape), counter + blocks


def _rng_bit_generator(key, *, shape, dtype, algorithm, out_sharding):
    key = np.asarray(key)
    state = key.view(np.uint64) if key.dtype == np.uint32 else key  # little-endian halves
    k, counter = int(state[0]), int(state[1])
    dtype = np.dtype(dtype)
    wide = dtype.itemsize == 8
    if algorithm == lr.RandomAlgorithm.RNG_THREE_FRY:
        bits, counter = _threefry_bits(k, counter, tuple(shape), wide)
    else:  # RNG_PHILOX, and RNG_DEFAULT: Philox on XLA CPU
        bits, counter = _philox_bits(k, counter, tuple(shape), wide)
    new_state = np.array([k, counter % 2**64], np.uint64)
    new_key = new_state.view(np.uint32) if key.dtype == np.uint32 else new_state
    return [new_key.astype(key.dtype), np.array(bits, dtype)]


_GENERATOR: list = []


def _generator() -> np.random.Generator:
    if not _GENERATOR:
        _GENERATOR.append(np.random.default_rng())
    return _GENERATOR[0]


def _rng_uniform(a, b, *, shape):
    dt = np.asarray(a).dtype
    g = _generator()
    if dt.kind in "iu":
        lo, hi = int(a), int(b)
        if hi <= lo:  # undefined in XLA: a
            return np.full(shape, lo, dt)
        return g.integers(lo, hi, size=shape, endpoint=False).astype(dt)
    lo, hi = float(a), float(b)
    out = (lo + (hi - lo) * g.random(size=shape)).astype(dt)
    # rounding to the dtype may reach b: keep the interval half-open
    return np.where(out >= np.asarray(b, dt), np.asarray(a, dt), out).astype(dt)


IMPLS = {
    lr.rng_bit_generator_p: _rng_bit_generator,
    lr.rng_uniform_p: _rng_uniform,
}
