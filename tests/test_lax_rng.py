"""lax.rng_bit_generator bit for bit against jax.lax.rng_bit_generator (XLA CPU) on every backend:
ThreeFry, Philox and RNG_DEFAULT, uint8..uint64, several shapes, counters that wrap, the new
key, jit, vmap (JAX's rule) and grad through the bits; lax.rng_uniform by its distribution."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from conftest import requires_jax

KEY = np.array([0x12345678, 0x9ABCDEF0, 0xFFFFFFF0, 0x00000001], np.uint32)
KEYS = [KEY, np.array([1, 2, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32),  # the counter wraps
        np.array([0xFFFFFFFF] * 4, np.uint32), np.zeros(4, np.uint32)]
# every dtype, and shapes for each way the generators lay out bits: a scalar, odd and even
# lengths, no even dimension (split along the longest), an even dimension after odd ones
CASES = [((), np.uint32), ((1,), np.uint64), ((5,), np.uint8), ((4,), np.uint16),
         ((3, 5), np.uint32), ((2, 3), np.uint8), ((3, 1, 5), np.uint64), ((4, 6, 2), np.uint16),
         ((7, 9), np.uint32), ((3, 4), np.uint64), ((), np.uint64)]
ALGORITHMS = ["RNG_DEFAULT", "RNG_THREE_FRY", "RNG_PHILOX"]


def _jax_bits(key, shape, dtype, alg):
    return _jax_many(key, [(shape, dtype)], alg)[0]


def _jax_many(key, cases, alg):
    """JAX's (key, bits) of each (shape, dtype) case, in one compiled program."""
    import jax
    a = jax.lax.RandomAlgorithm[alg]
    with jax.enable_x64(True):
        outs = jax.jit(lambda k: [jax.lax.rng_bit_generator(k, s, d, a) for s, d in cases])(key)
        return [(np.asarray(k), np.asarray(v)) for k, v in outs]


def _plax_many(key, cases, alg, jit=False):
    a = plax.lax.RandomAlgorithm[alg]

    def f(k):
        return [plax.lax.rng_bit_generator(k, s, d, a) for s, d in cases]
    return (plax.jit(f) if jit else f)(key)


def _same(got, want):
    for g, w in zip(got, want, strict=True):
        g = np.asarray(g)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_array_equal(g, w)


@requires_jax
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_bits_identical_to_xla_cpu(alg, reference):
    # RNG_DEFAULT is Philox on XLA CPU: a few cases show it
    cases = CASES[:4] if alg == "RNG_DEFAULT" else CASES
    with plax.config.override("enable_x64", True):
        for got, want in zip(_plax_many(KEY, cases, alg), _jax_many(KEY, cases, alg)):
            _same(got, want)


@requires_jax
@pytest.mark.parametrize("alg", ["RNG_THREE_FRY", "RNG_PHILOX"])
def test_counter_overflow_and_u64_key(alg, reference):
    with plax.config.override("enable_x64", True):
        cases = [((), np.uint32), ((3, 5), np.uint64), ((16,), np.uint32)]
        for key in KEYS[1:]:
            for got, want in zip(_plax_many(key, cases, alg), _jax_many(key, cases, alg)):
                _same(got, want)
        k64 = KEYS[1].view(np.uint64)  # the uint64[2] spelling of the state
        _same(plax.lax.rng_bit_generator(k64, (3, 4), np.uint32, plax.lax.RandomAlgorithm[alg]),
              _jax_bits(k64, (3, 4), np.uint32, alg))


@requires_jax
def test_each_backend_under_jit(backend):
    cases = [((3, 5), np.uint8), ((4, 6), np.uint16), ((7,), np.uint32)]
    for alg in ALGORITHMS:
        want = _jax_many(KEY, cases, alg)
        for got, w in zip(_plax_many(KEY, cases, alg, jit=True), want):
            _same(got, w)
    # eagerly, one operation at a time
    _same(plax.lax.rng_bit_generator(KEY, (3, 5), np.uint8, plax.lax.RandomAlgorithm[alg]),
          want[0])
    with plax.config.override("enable_x64", True):
        _same(plax.jit(lambda k: plax.lax.rng_bit_generator(k, (3, 5), np.uint64))(KEY),
              _jax_bits(KEY, (3, 5), np.uint64, "RNG_DEFAULT"))


@requires_jax
def test_uint64_without_x64_is_uint32_as_jax(reference):
    import jax
    k, bits = plax.lax.rng_bit_generator(KEY, (3,), np.uint64)
    jk, jbits = jax.lax.rng_bit_generator(KEY, (3,), np.uint64)
    assert bits.dtype == jbits.dtype == np.uint32
    _same((k, bits), (np.asarray(jk), np.asarray(jbits)))


@requires_jax
def test_vmap_and_grad_as_jax(reference):
    import jax
    import jax.numpy as jnp
    keys = np.stack([KEY, KEY + 1, KEY + 7])
    for in_axes, ks in [(0, keys), (1, keys.T)]:
        got = plax.vmap(lambda k: plax.lax.rng_bit_generator(k, (2, 3), np.uint32),
                        in_axes=in_axes)(ks)
        want = jax.vmap(lambda k: jax.lax.rng_bit_generator(k, (2, 3), np.uint32),
                        in_axes=in_axes)(ks)
        _same(got, [np.asarray(w) for w in want])

    def f(lax, np_, x):
        _, bits = lax.rng_bit_generator(KEY, (4,), np.uint32)
        return np_.sum(np_.sin(x) * (bits >> 24).astype(np.float32))
    x = np.linspace(0.1, 0.9, 4, dtype=np.float32)
    g = plax.grad(lambda x: f(plax.lax, plax.numpy, x))(x)
    np.testing.assert_allclose(g, jax.grad(lambda x: f(jax.lax, jnp, x))(x), rtol=1e-6)
    # the key takes JAX's float0 tangent; the bits have none (zeros here, float0 in JAX)
    (pk, pb), (tk, tb) = plax.jvp(lambda k: plax.lax.rng_bit_generator(k, (3,), np.uint32),
                                  (KEY,), (np.zeros(4, plax.dtypes.float0),))
    _same((pk, pb), _jax_bits(KEY, (3,), np.uint32, "RNG_DEFAULT"))
    assert not np.asarray(tk).any() and not np.asarray(tb).any()
    # forward mode through the bits
    out, t = plax.jvp(lambda x: plax.lax.rng_bit_generator(KEY, (2,), np.uint32)[1]
                      .astype(np.float32) * x, (np.float32(2.0),), (np.float32(1.0),))
    np.testing.assert_array_equal(t, np.asarray(out) / 2)


@requires_jax
def test_errors_as_jax():
    import jax
    for call in [lambda lax: lax.rng_bit_generator(KEY, (3,), np.int32),
                 lambda lax: lax.rng_bit_generator(KEY, (3,), np.float32)]:
        with pytest.raises(TypeError) as want:
            call(jax.lax)
        with pytest.raises(TypeError, match=str(want.value)):
            call(plax.lax)
    with pytest.raises(TypeError, match=r"uint32\[4\]"):
        plax.lax.rng_bit_generator(KEY[:2], (3,))
    for a, b in [(np.float32(0), np.int32(1)), (np.zeros(2, np.float32), np.float32(1))]:
        with pytest.raises(ValueError) as want:
            jax.lax.rng_uniform(a, b, (3,))
        with pytest.raises(ValueError, match=str(want.value).split(";")[0].split(",")[0]):
            plax.lax.rng_uniform(a, b, (3,))


def test_rng_uniform_distribution(backend):
    from scipy import stats
    n = 20000
    u = np.asarray(plax.jit(lambda: plax.lax.rng_uniform(np.float32(-2.0), np.float32(3.0),
                                                         (n,)))())
    assert u.dtype == np.float32 and u.shape == (n,)
    assert u.min() >= -2.0 and u.max() < 3.0
    assert len(np.unique(u)) > n // 2  # not a constant, not a few repeated values
    assert abs(u.mean() - 0.5) < 0.05 and abs(u.var() - 25 / 12) < 0.1
    assert stats.kstest(u, stats.uniform(loc=-2.0, scale=5.0).cdf).pvalue > 1e-4
    e = np.asarray(plax.lax.rng_uniform(np.float32(0.0), np.float32(1.0), (4, 5)))
    assert e.shape == (4, 5) and ((e >= 0) & (e < 1)).all()
    i = np.asarray(plax.lax.rng_uniform(np.int32(3), np.int32(9), (6000,)))
    assert i.dtype == np.int32 and set(np.unique(i)) == set(range(3, 9))
    counts = np.bincount(i - 3)
    assert stats.chisquare(counts).pvalue > 1e-4
