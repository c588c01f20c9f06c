"""Typed PRNG keys (`plax.random.key` gives a `key<fry>[]` array, as jax.random.key): dtype and
shape, key_data/wrap_key_data/key_impl/key_dtype, split/fold_in keep the key kind, samplers take
typed keys and give the raw keys' numbers (JAX's), and typed keys pass through jit, vmap, grad
and indexing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.dtypes as pd
import plax.random as pr


def _data(k):
    return np.asarray(pr.key_data(k))


@requires_jax
def test_typed_keys_match_jax():
    import jax.dtypes as jd
    import jax.random as jr
    k, jk = pr.key(7), jr.key(7)
    assert k.shape == jk.shape == () and str(k.dtype) == str(jk.dtype) == "key<fry>"
    assert pd.issubdtype(k.dtype, pd.prng_key) and jd.issubdtype(jk.dtype, jd.prng_key)
    assert pd.issubdtype(k.dtype, pd.extended) and not pd.issubdtype(np.float32, pd.prng_key)
    np.testing.assert_array_equal(_data(k), np.asarray(jr.key_data(jk)))
    ks, jks = pr.split(k, 3), jr.split(jk, 3)
    assert ks.shape == (3,) and isinstance(ks, type(k))
    np.testing.assert_array_equal(_data(ks), np.asarray(jr.key_data(jks)))
    np.testing.assert_array_equal(_data(pr.fold_in(k, 5)),
                                  np.asarray(jr.key_data(jr.fold_in(jk, 5))))
    # the typed key gives the raw key's numbers (JAX's, to the reference backend's few ulps)
    np.testing.assert_array_equal(np.asarray(pr.normal(ks[1], (4,))),
                                  np.asarray(pr.normal(pr.key_data(ks)[1], (4,))))
    assert_close(pr.normal(ks[1], (4,)), np.asarray(jr.normal(jks[1], (4,))), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(pr.gamma(k, np.float32([1.5, 3.0]))),
                                  np.asarray(pr.gamma(pr.PRNGKey(7), np.float32([1.5, 3.0]))))
    assert pr.key_impl(k) == "threefry2x32" and pr.key_dtype() == k.dtype


def test_wrap_index_iterate_and_errors():
    raw = pr.split(pr.PRNGKey(0), 4)
    typed = pr.wrap_key_data(raw)
    assert typed.shape == (4,) and len(typed) == 4 and typed.reshape(2, 2).shape == (2, 2)
    np.testing.assert_array_equal(_data(typed[2]), np.asarray(raw)[2])
    assert [k.shape for k in typed] == [()] * 4
    assert pr.key_data(raw) is raw  # raw keys are their own data
    c = pr.clone(typed)  # a new key array (fresh to the key-reuse checker), the same data
    assert c is not typed and pr.key_data(c) is pr.key_data(typed)
    assert pr.clone(raw) is raw
    with pytest.raises(TypeError, match="key_data"):
        np.asarray(typed)
    with pytest.raises(TypeError, match="typed key array already"):
        pr.wrap_key_data(typed)
    with pytest.raises(ValueError, match="single key"):
        pr.normal(typed)
    with pytest.raises(TypeError, match="len"):
        len(pr.key(0))


def test_transforms(backend):
    keys = pr.split(pr.key(1), 3)
    batched = plax.vmap(lambda k: pr.uniform(k, (2,)))(keys)
    loop = np.stack([np.asarray(pr.uniform(k, (2,))) for k in keys])
    np.testing.assert_array_equal(np.asarray(batched), loop)
    new = plax.jit(lambda k: pr.split(k))(pr.key(1))
    assert new.shape == (2,) and str(new.dtype) == "key<fry>"
    np.testing.assert_array_equal(_data(new), _data(pr.split(pr.key(1))))
    g = plax.grad(lambda a, k: pr.gamma(k, a).sum())(np.float32([2.0]), pr.key(2))
    assert np.isfinite(np.asarray(g)).all()
