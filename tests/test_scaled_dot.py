"""Microscaling products against JAX: lax.scaled_dot (JAX's CPU decomposition, float8 operands
and e8m0 scales given as host arrays) on every backend under jit and vmap; jax.nn's
scaled_matmul, scaled_dot_general and get_scaled_dot_general_config. JAX runs the nn ones only
through cuDNN, so their oracle is JAX's own quantizer (jax._src.cudnn's `quantize`, which runs
on CPU) followed by the documented dequantize-then-contract in JAX, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.nn as pnn
from plax import lax

R = np.random.RandomState(17)


def _f32(*shape, scale=1.0):
    return (scale * R.randn(*shape)).astype(np.float32)


def _exact(out, expected):
    out, expected = np.asarray(out), np.asarray(expected)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out.astype(np.float32), expected.astype(np.float32))


def _close(out, expected):
    """float32 sums of the same exactly quantized terms (an operand off by one quantization
    step would be off by ~1e-2), in another order."""
    out, expected = np.asarray(out), np.asarray(expected)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert_close(out, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# lax.scaled_dot

@requires_jax
def test_scaled_dot_against_jax(backend):
    import jax
    import jax.numpy as jnp
    from jax import lax as jl
    a, b = _f32(4, 64), _f32(64, 3)
    sa, sb = np.abs(_f32(4, 2)) + 0.5, np.abs(_f32(2, 3)) + 0.5
    f = plax.jit(lambda *x: lax.scaled_dot(x[0], x[1], lhs_scale=x[2], rhs_scale=x[3]))
    _exact(f(a, b, sa, sb), jl.scaled_dot(a, b, lhs_scale=sa, rhs_scale=sb))
    _exact(plax.jit(lambda a, b: lax.scaled_dot(a, b))(a, b), jl.scaled_dot(a, b))
    # batched 3-d operands, float32 result (the products rounded to bfloat16 as JAX's)
    A, B = _f32(2, 4, 64), _f32(2, 64, 3)
    SA, SB = np.abs(_f32(2, 4, 4)), np.abs(_f32(2, 4, 3))
    g = plax.jit(lambda *x: lax.scaled_dot(x[0], x[1], lhs_scale=x[2], rhs_scale=x[3],
                                           preferred_element_type=np.float32))
    assert_close(g(A, B, SA, SB), np.asarray(jl.scaled_dot(
        A, B, lhs_scale=SA, rhs_scale=SB, preferred_element_type=np.float32)),
        rtol=1e-5, atol=1e-5)
    v = plax.vmap(lambda x: lax.scaled_dot(x, b, lhs_scale=sa, rhs_scale=sb))(A)
    _exact(v, jax.vmap(lambda x: jl.scaled_dot(x, b, lhs_scale=sa, rhs_scale=sb))(A))
    # the MX types as host arrays (plax arrays do not hold them)
    a8 = np.asarray(jnp.asarray(a).astype(jnp.float8_e4m3fn))
    b8 = np.asarray(jnp.asarray(b).astype(jnp.float8_e5m2))
    sa8 = np.asarray(jnp.asarray(sa).astype(jnp.float8_e8m0fnu))
    sb8 = np.asarray(jnp.asarray(sb).astype(jnp.float8_e8m0fnu))
    _exact(lax.scaled_dot(a8, b8, lhs_scale=sa8, rhs_scale=sb8,
                          preferred_element_type=np.float32),
           jl.scaled_dot(a8, b8, lhs_scale=sa8, rhs_scale=sb8,
                         preferred_element_type=jnp.float32))


def test_scaled_dot_errors():
    a, b = _f32(4, 64), _f32(64, 3)
    with pytest.raises(TypeError, match="0-rank and 1-rank"):
        lax.scaled_dot(a[0], b[:, 0])
    with pytest.raises(TypeError, match="must be divisible"):
        lax.scaled_dot(a, b, lhs_scale=np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match="at least 2"):
        lax.scaled_dot(a, b, lhs_scale=np.ones((4, 64), np.float32))
    with pytest.raises(TypeError, match="does not match scale dim size"):
        lax.scaled_dot(a, b, rhs_scale=np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="does not match RHS contracting"):
        lax.scaled_dot(a, b[:32])


# ---------------------------------------------------------------------------------------------
# jax.nn: scaled_matmul, scaled_dot_general, get_scaled_dot_general_config

def _deq(q, s, bs):
    import jax.numpy as jnp
    return q.astype(jnp.float32) * jnp.repeat(s.astype(jnp.float32), bs, axis=-1)


def _oracle(x3, y3, cfg):
    """JAX's quantizer on both (B, M, K) / (B, N, K) operands, then the documented product
    (one jitted JAX program)."""
    import jax
    import jax.numpy as jnp
    from jax._src.cudnn.scaled_matmul_stablehlo import quantize

    def f(x3, y3):
        (xq, xs), (yq, ys) = quantize(x3, cfg), quantize(y3, cfg)
        return jnp.einsum("bmk,bnk->bmn", _deq(xq, xs, cfg.block_size),
                          _deq(yq, ys, cfg.block_size))
    return jax.jit(f)(jnp.asarray(x3), jnp.asarray(y3))


@requires_jax
def test_scaled_matmul_against_formula(backend):
    import jax.numpy as jnp
    a, b = _f32(2, 4, 64), _f32(2, 3, 64)
    sa, sb = np.abs(_f32(2, 4, 2)), np.abs(_f32(2, 3, 2))
    out = plax.jit(pnn.scaled_matmul)(a, b, sa, sb)
    expected = jnp.einsum("bmk,bnk->bmn", a * jnp.repeat(sa, 32, -1), b * jnp.repeat(sb, 32, -1))
    assert out.dtype == np.float32
    assert_close(out, np.asarray(expected), rtol=1e-5, atol=1e-5)
    loop = np.stack([np.asarray(pnn.scaled_matmul(a[i:i + 1], b[i:i + 1], sa[i:i + 1],
                                                  sb[i:i + 1]))[0] for i in range(2)])
    assert_close(plax.vmap(lambda *x: pnn.scaled_matmul(*(t[None] for t in x))[0])(a, b, sa, sb),
                 loop, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="3-dimensional"):
        pnn.scaled_matmul(a[0], b[0], sa[0], sb[0])
    with pytest.raises(ValueError, match="matching batch"):
        pnn.scaled_matmul(a, b[:, :, :32], sa, sb)


@requires_jax
@pytest.mark.parametrize("mode", ["mxfp8", "nvfp4"])
def test_scaled_dot_general_against_jax_quantizer(mode):
    import jax.nn as jnn
    cfg, pcfg = jnn.get_scaled_dot_general_config(mode), pnn.get_scaled_dot_general_config(mode)
    assert (pcfg.mode, pcfg.block_size, pcfg.data_type, pcfg.scale_type) == (
        cfg.mode, cfg.block_size, cfg.data_type, cfg.scale_type)
    for scale in (1.0, 1e-3, 300.0):
        a, b = _f32(2, 32, 64, scale=scale), _f32(2, 16, 64)
        dn = (((2,), (2,)), ((0,), (0,)))
        out = pnn.scaled_dot_general(a, b, dn, configs=[pcfg] * 3)
        _close(out, _oracle(a, b, cfg))
    # no batch dimension, contracting dims first on rhs, bfloat16 result
    a, b = _f32(16, 64), _f32(64, 32)
    out = pnn.scaled_dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=
                                 np.dtype("bfloat16"), configs=[pcfg] * 3)
    expected = _oracle(a[None], b.T[None], cfg)[0]
    assert out.dtype == np.dtype("bfloat16")
    assert_close(np.asarray(out, np.float32), np.asarray(expected), rtol=1e-2, atol=1e-2)


@requires_jax
def test_scaled_dot_general_grads_and_jit(backend):
    """JAX's gradient rule: the cotangent and the other operand quantized by the configs,
    contracted over the output's other dimension."""
    import jax.numpy as jnp
    import jax.nn as jnn
    cfg, pcfg = jnn.get_scaled_dot_general_config("mxfp8"), pnn.get_scaled_dot_general_config(
        "mxfp8")
    a, b, g = _f32(2, 32, 64), _f32(2, 32, 64), _f32(2, 32, 32)
    dn = (((2,), (2,)), ((0,), (0,)))
    f = plax.jit(lambda a, b: pnn.scaled_dot_general(a, b, dn, configs=[pcfg] * 3))
    _close(f(a, b), _oracle(a, b, cfg))
    def pullback(a, b, g):
        return plax.vjp(lambda a, b: pnn.scaled_dot_general(a, b, dn, configs=[pcfg] * 3),
                        a, b)[1](g)
    ga, gb = plax.jit(pullback)(a, b, g)
    # d lhs[b,m,k] = sum_n g[b,m,n] rhs[b,n,k]: g and rhs^T quantized along n
    _close(ga, _oracle(g, jnp.swapaxes(b, 1, 2), cfg))
    _close(gb, _oracle(jnp.swapaxes(g, 1, 2), jnp.swapaxes(a, 1, 2), cfg))


def test_scaled_dot_general_fallback_and_errors():
    a, b = _f32(4, 64), _f32(64, 3)
    dn = (((1,), (0,)), ((), ()))
    assert_close(pnn.scaled_dot_general(a, b, dn), lax.dot_general(a, b, dn))
    cfg = pnn.get_scaled_dot_general_config("mxfp8")
    with pytest.raises(TypeError, match="preferred_element_type"):
        pnn.scaled_dot_general(a, b, dn, preferred_element_type=np.int32, configs=[cfg] * 3)
    with pytest.raises(ValueError, match="multiple of the block size 32"):
        pnn.scaled_dot_general(a[:, :48], b[:48], dn, configs=[cfg] * 3)
    with pytest.raises(ValueError, match="Unsupported mode"):
        pnn.get_scaled_dot_general_config("mxfp4")
