"""The gamma sampler of plax.random: Marsaglia and Tsang's rejection method ("A simple method
for generating gamma variables", 2000) run for every element at once, each element drawing from
its own key (the sampler's key split once per element, as JAX does), so one key gives JAX's
numbers. Differentiable in the shape `a` by implicit reparameterisation: d sample / d a =
-(dF/da) / (dF/dx) at the sample, F the gamma CDF (lax.random_gamma_grad)."""

from __future__ import annotations

import functools
import math

import numpy as np

from plax import lax
from plax._src import dtypes, prng
from plax._src.config import config
from plax._src.core import get_aval
from plax._src.lax import elementwise as ew
from plax._src.registry import get_api

_u32 = np.uint32


def _split(k1, k2, num: int):
    """`num` keys from each key (k1[i], k2[i]): JAX's split, element by element (in the
    threefry layout config.threefry_partitionable picks)."""
    if config.threefry_partitionable:
        return [prng.threefry2x32(k1, k2, _u32(0), _u32(j)) for j in range(num)]
    # JAX's original layout: word i of the flat hash of 0 .. 2 num - 1 is the first output of
    # the pair (i, num + i) for i < num, else the second one of (i - num, i)
    pairs = [prng.threefry2x32(k1, k2, _u32(m), _u32(num + m)) for m in range(num)]
    words = [pairs[i][0] if i < num else pairs[i - num][1] for i in range(2 * num)]
    return [(words[2 * j], words[2 * j + 1]) for j in range(num)]


def _threefry_bits(k1, k2, rng_bits: int):
    """The `rng_bits` random bits of JAX's `uniform(key, ())` per key (k1[i], k2[i])."""
    if not config.threefry_partitionable:  # the original layout's one or two words
        b1, b2 = prng.threefry2x32(k1, k2, _u32(0), _u32(1 if rng_bits == 64 else 0))
        if rng_bits == 64:
            hi, lo = (ew.convert_element_type(b, dtypes.uint64) for b in (b1, b2))
            bits = ew.bitwise_or(ew.shift_left(hi, np.uint64(32)), lo)
        else:
            bits = b1
    else:
        b1, b2 = prng.threefry2x32(k1, k2, _u32(0), _u32(0))
    if rng_bits == 64:
        if config.threefry_partitionable:
            hi, lo = (ew.convert_element_type(b, dtypes.uint64) for b in (b1, b2))
            bits = ew.bitwise_or(ew.shift_left(hi, np.uint64(32)), lo)
    elif config.threefry_partitionable:
        bits = ew.bitwise_xor(b1, b2)
    if rng_bits < 32:
        bits = ew.convert_element_type(bits, prng.UINT_DTYPES[rng_bits])
    return bits


def _uniform(k1, k2, dtype, minval=0.0, maxval=1.0, rbg=False):
    """One uniform float in [minval, maxval) per key (JAX's `uniform(key, ())`, batched); with
    `rbg`, k1 is one rbg-family key's uint32[4] data and the result a float[1]."""
    finfo = dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    rng_bits = 8 if nmant < 8 else nbits
    uint = prng.UINT_DTYPES[nbits]
    if rbg:
        bits = prng.rbg_random_bits(k1, rng_bits, (1,))
        shape = (1,)
    else:
        bits = _threefry_bits(k1, k2, rng_bits)
        shape = get_aval(k1).shape
    if rng_bits != nbits:
        bits = ew.convert_element_type(bits, uint)
    fbits = ew.shift_right_logical(bits, np.asarray(rng_bits - nmant, uint))
    fbits = ew.bitwise_or(fbits, np.asarray(1.0, dtype).view(uint))
    floats = ew.sub(ew.bitcast_convert_type(fbits, dtype), np.asarray(1.0, dtype))
    lo = lax.full(shape, minval, dtype)
    hi = lax.full(shape, maxval, dtype)
    return ew.max(lo, ew.add(ew.mul(floats, ew.sub(hi, lo)), lo))


def _normal(k1, k2, dtype, rbg=False):
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = _uniform(k1, k2, dtype, lo, 1.0, rbg)
    return ew.mul(np.asarray(math.sqrt(2), dtype), ew.erf_inv(u))


def _any(pred):
    return lax.reduce_or(pred, (0,))


class _RbgKey:
    """_gamma_one's key operations for one rbg-family key (its uint32[4] data as k1; k2 an
    unused placeholder) and an alpha of shape (1,): JAX's scalar _gamma_one, run by lax.map
    over the elements for keys other than threefry ones."""

    def __init__(self, impl: str):
        self.impl = impl

    def split(self, k1, k2, num: int):
        keys = prng.rbg_split(k1, (num,), self.impl)
        return [(lax.reshape(lax.slice(keys, (j, 0), (j + 1, 4)), (4,)), k2)
                for j in range(num)]

    @staticmethod
    def select(pred, a, b):
        if get_aval(a).shape == ():  # the placeholder k2
            return a
        if get_aval(a).shape == (4,):  # a key: the one element's predicate for all its words
            pred = lax.broadcast_in_dim(lax.reshape(pred, ()), (4,), ())
        return ew.select(pred, a, b)


class _ThreefryKey:
    split = staticmethod(_split)
    select = staticmethod(ew.select)


_THREEFRY = _ThreefryKey()


def _gamma_one(k1, k2, alpha, log_space: bool, ops=_THREEFRY):
    """Marsaglia-Tsang for a vector of shapes `alpha`, one key (k1[i], k2[i]) each (`ops`:
    _RbgKey for one rbg-family key and alpha of shape (1,))."""
    dt = get_aval(alpha).dtype
    rbg = ops is not _THREEFRY
    _split = ops.split  # noqa: N806 - shadows the threefry split

    def c(v):
        return np.asarray(v, dt)

    boost_mask = ew.ge(alpha, c(1))
    alpha_orig = alpha
    # a < 1: sample Gamma(a + 1) and scale by U**(1/a)
    alpha = ew.select(boost_mask, alpha, ew.add(alpha, c(1)))
    d = ew.sub(alpha, c(1 / 3))
    cc = ew.div(c(1 / 3), ew.sqrt(d))

    def reject(X, V, U):
        return ew.bitwise_and(
            ew.ge(U, ew.sub(c(1), ew.mul(c(0.0331), ew.mul(X, X)))),
            ew.ge(ew.log(U), ew.add(ew.mul(X, c(0.5)),
                                    ew.mul(d, ew.add(ew.sub(c(1), V), ew.log(V))))))

    def body(carry):
        k1, k2, X, V, U = carry
        active = reject(X, V, U)
        (n1, n2), (x1, x2), (u1, u2) = _split(k1, k2, 3)

        def inner_body(kxv):
            a1, a2, x, v = kxv
            redo = ew.le(v, c(0))
            (b1, b2), (s1, s2) = _split(a1, a2, 2)
            xn = _normal(s1, s2, dt, rbg)
            vn = ew.add(c(1), ew.mul(xn, cc))
            return (ops.select(redo, b1, a1), ops.select(redo, b2, a2),
                    ew.select(redo, xn, x), ew.select(redo, vn, v))

        zero = lax.full_like(alpha, 0)
        init = (x1, x2, zero, lax.full_like(alpha, -1))
        _, _, x, v = lax.while_loop(lambda kxv: _any(ew.le(kxv[3], c(0))), inner_body, init)
        Xn = ew.mul(x, x)
        Vn = ew.mul(ew.mul(v, v), v)
        Un = _uniform(u1, u2, dt, rbg=rbg)
        new = (n1, n2, Xn, Vn, Un)
        return tuple(ops.select(active, a, b) for a, b in zip(new, carry))

    (k1, k2), (s1, s2) = _split(k1, k2, 2)
    # the initial state is rejected, so every element draws at least once
    init = (k1, k2, lax.full_like(alpha, 0), lax.full_like(alpha, 1), lax.full_like(alpha, 2))
    _, _, _, V, _ = lax.while_loop(lambda s: _any(reject(*s[2:])), body, init)
    if log_space:
        u = _uniform(s1, s2, dt, rbg=rbg)
        log_samples = ew.neg(ew.neg(ew.log1p(ew.neg(u))))
        keep = ew.bitwise_or(boost_mask, ew.eq(log_samples, c(0)))
        log_boost = ew.select(keep, lax.full_like(alpha, 0),
                              ew.mul(log_samples, ew.div(c(1), alpha_orig)))
        return ew.add(ew.add(ew.log(d), ew.log(V)), log_boost)
    samples = ew.sub(c(1), _uniform(s1, s2, dt, rbg=rbg))
    boost = ew.select(boost_mask, lax.full_like(alpha, 1),
                      ew.pow(samples, ew.div(c(1), alpha_orig)))
    return ew.mul(ew.mul(d, V), boost)


def _gamma_grad(sample, alpha, log_space: bool):
    if not log_space:
        return lax.random_gamma_grad(alpha, sample)
    x = ew.exp(sample)
    dt = get_aval(x).dtype
    x = ew.select(ew.eq(x, np.asarray(0, dt)), lax.full_like(x, dtypes.finfo(dt).tiny), x)
    return ew.div(lax.random_gamma_grad(alpha, x), x)


def _gamma_rbg(alpha, keys, k2, log_space: bool, impl: str):
    """JAX's gamma for rbg-family keys: its scalar sampler over the elements in turn
    (lax.map), element i drawing from keys[i]."""
    ops = _RbgKey(impl)

    def one(args):
        key, a = args
        return lax.reshape(_gamma_one(key, k2, lax.reshape(a, (1,)), log_space, ops), ())

    return lax.map(one, (keys, alpha))


def _gamma_rbg_keys(alpha, keys, log_space: bool, impl: str):
    """_gamma_rbg of the flat `alpha` with one rbg-family key per element, batched by a loop
    (sequential_vmap): JAX's random_gamma primitive maps a batch of keys key by key (a
    batched rng_bit_generator draws other bits than one key at a time), so vmap over keys
    gives the loop's samples, as JAX's does."""
    def draw(a, k):
        return _gamma_rbg(a, k, _u32(0), log_space, impl)

    sequential = get_api("custom_batching.sequential_vmap")
    return (sequential(draw) if sequential is not None else draw)(alpha, keys)


@functools.lru_cache(maxsize=None)
def _differentiable(log_space: bool, impl: str = "threefry2x32"):
    """_gamma_one with the implicit-reparameterisation derivative in alpha."""
    def fun(alpha, k1, k2):
        if impl != "threefry2x32":  # k1: one rbg-family key per element, k2 unused
            return _gamma_rbg_keys(alpha, k1, log_space, impl)
        return _gamma_one(k1, k2, alpha, log_space)

    custom_jvp = get_api("custom_jvp")
    if custom_jvp is None:
        return fun
    f = custom_jvp(fun)

    @f.defjvp
    def _jvp(primals, tangents):
        alpha, k1, k2 = primals
        out = f(alpha, k1, k2)
        return out, ew.mul(tangents[0], _gamma_grad(out, alpha, log_space))
    return f


def gamma_samples(parts, alpha, log_space: bool = False):
    """Samples of Gamma(alpha, 1) (their logs with `log_space`), alpha's shape and dtype,
    from the key words `parts`."""
    aval = get_aval(alpha)
    n = math.prod(aval.shape)
    if n == 0:
        return lax.full(aval.shape, 0, aval.dtype)
    flat = lax.reshape(alpha, (n,))
    if isinstance(parts, prng.RbgParts):
        keys = prng.rbg_split(parts.data, (n,), parts.impl)
        out = _differentiable(log_space, parts.impl)(flat, keys, _u32(0))
    else:
        k1, k2 = prng.split_words(parts, (n,))
        out = _differentiable(log_space)(flat, k1, k2)
    return lax.reshape(out, aval.shape)
