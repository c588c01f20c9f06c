"""plax.nn.dot_product_attention and log1mexp against jax.nn on every backend: grouped-query
heads, bias, boolean and causal masks, local windows, sequence lengths, unbatched inputs,
residuals, gradients, vmap."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.nn as pn

R = np.random.RandomState(0)
Q = np.float32(R.randn(2, 5, 4, 8))
K = np.float32(R.randn(2, 6, 2, 8))
V = np.float32(R.randn(2, 6, 2, 8))
BIAS = np.float32(R.randn(2, 4, 5, 6))
MASK = R.rand(2, 1, 5, 6) > 0.3
KWS = [dict(), dict(is_causal=True), dict(bias=BIAS, mask=MASK),
       dict(query_seq_lengths=np.int32([3, 5]), key_value_seq_lengths=np.int32([6, 2])),
       dict(local_window_size=(1, 2), scale=0.3)]


@requires_jax
@pytest.mark.parametrize("kw", KWS, ids=["plain", "causal", "bias_mask", "seqlens", "window"])
def test_attention_against_jax(backend, kw):
    import jax.nn as jn
    out = pn.dot_product_attention(Q, K, V, **kw)
    assert_close(out, np.asarray(jn.dot_product_attention(Q, K, V, **kw)), rtol=1e-5,
                 atol=1e-5)


@requires_jax
def test_unbatched_residual_and_grad(backend):
    import jax
    import jax.nn as jn
    out, lse = pn.dot_product_attention(Q[0], K[0], V[0], is_causal=True, return_residual=True)
    jout, jlse = jn.dot_product_attention(Q[0], K[0], V[0], is_causal=True,
                                          return_residual=True)
    assert_close(out, np.asarray(jout), rtol=1e-5, atol=1e-5)
    assert_close(lse, np.asarray(jlse), rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda q, k: (f(q, k, V, bias=BIAS, is_causal=True) ** 2).sum()
    g = plax.grad(loss(pn.dot_product_attention), argnums=(0, 1))(Q, K)
    jg = jax.grad(loss(jn.dot_product_attention), argnums=(0, 1))(Q, K)
    for a, b in zip(g, jg):
        assert_close(a, np.asarray(b), rtol=1e-4, atol=1e-4)
    batched = plax.vmap(lambda q: pn.dot_product_attention(q, K[0], V[0]))(Q[:, :, :, :])
    assert_close(batched, np.stack([np.asarray(pn.dot_product_attention(q, K[0], V[0]))
                                    for q in Q]), rtol=1e-5, atol=1e-6)


@requires_jax
def test_log1mexp(backend):
    import jax
    import jax.nn as jn
    x = np.float32([1e-4, 0.5, 1.0, 5.0, 30.0])
    assert_close(pn.log1mexp(x), np.asarray(jn.log1mexp(x)), rtol=1e-6)
    g = plax.grad(lambda x: pn.log1mexp(x).sum())(x)
    assert_close(g, np.asarray(jax.grad(lambda x: jn.log1mexp(x).sum())(x)), rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="multiple"):
        pn.dot_product_attention(Q[:, :, :3], K, V)
    with pytest.raises(ValueError, match="boolean"):
        pn.dot_product_attention(Q, K, V, mask=np.ones((2, 1, 5, 6), np.float32))
    with pytest.raises(NotImplementedError, match="cudnn"):
        pn.dot_product_attention(Q, K, V, implementation="cudnn")
