"""JAX's rbg and unsafe_rbg PRNG implementations in plax.random (uint32[4] keys: seeded and, for
rbg, split and folded as two threefry keys; bits from lax.rng_bit_generator): keys, split,
fold_in and samplers give JAX's bits eagerly, under jit and under vmap (where, as in JAX,
rng_bit_generator's batching rule draws the whole batch from the first key), on every backend;
the default_prng_impl option and context manager pick the implementation of PRNGKey/key and of
raw keys, and are part of jit's trace context."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.random as pr

IMPLS = ("rbg", "unsafe_rbg")
TAGS = {"rbg": "key<rbg>", "unsafe_rbg": "key<urbg>"}


def _data(k):
    return np.asarray(pr.key_data(k))


def _eq(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@requires_jax
@pytest.mark.parametrize("impl", IMPLS)
def test_keys_and_samplers_match_jax(backend, impl):
    import jax.random as jr
    k, jk = pr.key(2**40 + 5, impl=impl), jr.key(2**40 + 5, impl=impl)
    assert str(k.dtype) == str(jk.dtype) == TAGS[impl] and k.shape == ()
    assert pr.key_impl(k) == jr.key_impl(jk) == impl
    assert pr.key_dtype(impl) == k.dtype and "key<" in repr(k)
    _eq(_data(k), jr.key_data(jk))
    _eq(pr.PRNGKey(-3, impl=impl), jr.PRNGKey(-3, impl=impl))
    ks, jks = pr.split(k, (2, 3)), jr.split(jk, (2, 3))
    assert ks.shape == (2, 3) and str(ks.dtype) == TAGS[impl]
    _eq(_data(ks), jr.key_data(jks))
    _eq(_data(pr.fold_in(ks[1, 2], 77)), jr.key_data(jr.fold_in(jks[1, 2], 77)))
    k, jk = ks[0, 1], jks[0, 1]
    _eq(pr.bits(k, (5,)), jr.bits(jk, (5,)))
    _eq(pr.bits(k, (3, 2), "uint8"), jr.bits(jk, (3, 2), "uint8"))
    _eq(pr.uniform(k, (6,)), jr.uniform(jk, (6,)))
    _eq(pr.randint(k, (6,), -5, 50), jr.randint(jk, (6,), -5, 50))
    _eq(pr.bernoulli(k, 0.3, (8,)), jr.bernoulli(jk, 0.3, (8,)))
    _eq(pr.permutation(k, 7), jr.permutation(jk, 7))
    assert_close(pr.normal(k, (4,)), np.asarray(jr.normal(jk, (4,))), rtol=1e-6)
    # under jit: the key's implementation is static, its data the argument
    jitted = plax.jit(lambda key: (pr.split(key, 2), pr.uniform(key, (3,))))
    new, u = jitted(k)
    assert str(new.dtype) == TAGS[impl]
    _eq(_data(new), jr.key_data(jr.split(jk, 2)))
    _eq(u, jr.uniform(jk, (3,)))


@requires_jax
@pytest.mark.parametrize("impl", IMPLS)
def test_vmap_as_jax(impl):
    """vmap over rbg keys: split and fold_in map key by key (rbg) or draw from the first key
    (unsafe_rbg), and the samplers draw the whole batch from the first key, as in JAX."""
    import jax
    import jax.random as jr
    ks, jks = pr.split(pr.key(3, impl=impl), 3), jr.split(jr.key(3, impl=impl), 3)
    _eq(plax.vmap(lambda k: pr.uniform(k, (2,)))(ks), jax.vmap(lambda k: jr.uniform(k, (2,)))(jks))
    _eq(_data(plax.vmap(lambda k: pr.split(k, 2))(ks)),
        jr.key_data(jax.vmap(lambda k: jr.split(k, 2))(jks)))
    _eq(_data(plax.vmap(pr.fold_in, (0, None))(ks, 9)),
        jr.key_data(jax.vmap(jr.fold_in, (0, None))(jks, 9)))
    seeds = np.arange(3, dtype=np.int32)
    _eq(_data(plax.vmap(lambda s: pr.key(s, impl=impl))(seeds)),
        jr.key_data(jax.vmap(lambda s: jr.key(s, impl=impl))(seeds)))


@requires_jax
@pytest.mark.parametrize("impl", IMPLS)
def test_gamma_family_binomial_multinomial_as_jax(impl):
    """JAX draws gamma from rbg keys by its scalar sampler over the elements in turn
    (lax.map); binomial and multinomial carry the key through their loops."""
    import jax
    import jax.random as jr
    a = np.float32([0.4, 2.0, 9.0])
    k, jk = pr.key(8, impl=impl), jr.key(8, impl=impl)
    # the reference backend's log/exp (NumPy's) may differ from XLA's in the last bits
    assert_close(pr.gamma(k, a), np.asarray(jr.gamma(jk, a)), rtol=1e-6)
    assert_close(pr.loggamma(k, a[:2]), np.asarray(jr.loggamma(jk, a[:2])), rtol=1e-6)
    assert_close(pr.beta(k, 2.0, 3.0, (2,)), np.asarray(jr.beta(jk, 2.0, 3.0, (2,))),
                 rtol=1e-6)
    g = plax.grad(lambda a, k: pr.gamma(k, a).sum())(a, k)
    assert_close(g, np.asarray(jax.grad(lambda a, k: jr.gamma(k, a).sum())(a, jk)), rtol=1e-6)
    n, p = np.float32([5.0, 60.0]), np.float32([0.3, 0.8])
    _eq(pr.binomial(k, n, p), jr.binomial(jk, n, p))
    _eq(pr.multinomial(k, 10.0, np.float32([0.2, 0.3, 0.5])),
        jr.multinomial(jk, 10.0, np.float32([0.2, 0.3, 0.5])))
    # vmap over keys (and alphas): JAX's random_gamma primitive maps key by key (rbg: the
    # loop's samples; unsafe_rbg: the batch's split, then key by key), so does plax; its
    # gradient in alpha under vmap too
    ks, jks = pr.split(k, 3), jr.split(jk, 3)
    aa = np.float32([[0.4, 2.0], [1.5, 3.0], [7.0, 0.9]])
    assert_close(plax.vmap(pr.gamma)(ks, aa), np.asarray(jax.vmap(jr.gamma)(jks, aa)),
                 rtol=1e-6)
    assert_close(plax.jit(plax.vmap(lambda kk: pr.beta(kk, 2.0, 3.0, (2,))))(ks),
                 np.asarray(jax.vmap(lambda kk: jr.beta(kk, 2.0, 3.0, (2,)))(jks)), rtol=1e-6)
    assert_close(plax.vmap(plax.grad(lambda a, kk: pr.gamma(kk, a).sum()))(aa, ks),
                 np.asarray(jax.vmap(jax.grad(lambda a, kk: jr.gamma(kk, a).sum()))(aa, jks)),
                 rtol=1e-5)


@requires_jax
def test_rbg_split_follows_threefry_layout():
    import jax
    import jax.random as jr
    with plax.threefry_partitionable(False), jax.threefry_partitionable(False):
        _eq(_data(pr.split(pr.key(11, impl="rbg"), 3)),
            jr.key_data(jr.split(jr.key(11, impl="rbg"), 3)))


@requires_jax
@pytest.mark.parametrize("impl", IMPLS)
def test_default_prng_impl_as_jax(impl):
    import jax
    import jax.random as jr
    with plax.default_prng_impl(impl), jax.default_prng_impl(impl):
        key, jkey = pr.PRNGKey(4), jr.PRNGKey(4)
        assert key.shape == (4,) and str(pr.key(0).dtype) == TAGS[impl]
        _eq(key, jkey)  # raw keys are taken to be of the default implementation
        assert pr.key_impl(key) == impl
        _eq(pr.split(key), jr.split(jkey))
        _eq(pr.uniform(key, (3,)), jr.uniform(jkey, (3,)))
        _eq(_data(pr.wrap_key_data(key)), key)
        assert str(pr.wrap_key_data(key).dtype) == TAGS[impl]
    assert plax.config.default_prng_impl == "threefry2x32"
    # part of jit's trace context: the same jitted function retraces
    make = plax.jit(lambda: pr.PRNGKey(0))
    assert make().shape == (2,)
    with plax.default_prng_impl(impl):
        assert make().shape == (4,)


def test_errors():
    with pytest.raises(ValueError, match="unrecognized PRNG implementation 'philox4x32'"):
        pr.key(0, impl="philox4x32")
    with pytest.raises(ValueError, match="default_prng_impl"):
        with plax.default_prng_impl("threefry4x32"):
            pass
    with pytest.raises(TypeError, match="rbg implementation: expected a uint32 array whose "
                                        "last dimension is 4"):
        pr.wrap_key_data(pr.PRNGKey(0), impl="rbg")
    with plax.default_prng_impl("rbg"), pytest.raises(TypeError, match="last dimension is 4"):
        pr.uniform(np.zeros(2, np.uint32))
    with pytest.raises(NotImplementedError, match="only implemented for the threefry2x32 RNG, "
                                                  "not unsafe_rbg"):  # JAX's error
        pr.poisson(pr.key(0, impl="unsafe_rbg"), 2.0)
    with pytest.raises(ValueError, match="both"):
        pr.key(0, impl="rbg", dtype="rbg")
