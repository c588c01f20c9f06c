"""grad / value_and_grad / vjp with allow_int: integer and boolean inputs get JAX's float0
cotangents (NumPy arrays of dtype float0, also out of jit); jacrev keeps JAX's integer zeros."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from conftest import requires_jax


def _f(x, n):
    return (x * n).sum().astype(x.dtype)


def _same_float0(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == plax.dtypes.float0 == b.dtype and a.shape == b.shape
    assert not isinstance(a, plax.Array)


@requires_jax
@pytest.mark.parametrize("wrap", ["eager", "jit"])
def test_grad_allow_int_float0(wrap):
    import jax
    import jax.numpy as jnp
    x, n = np.arange(3.0, dtype=np.float32), np.arange(3, dtype=np.int32)
    g = plax.grad(_f, argnums=(0, 1), allow_int=True)
    gj = jax.grad(_f, argnums=(0, 1), allow_int=True)
    if wrap == "jit":
        g, gj = plax.jit(g), jax.jit(gj)
    (gx, gn), (jx, jn) = g(pnp.asarray(x), pnp.asarray(n)), gj(jnp.asarray(x), jnp.asarray(n))
    np.testing.assert_allclose(np.asarray(gx), np.asarray(jx))
    _same_float0(gn, jn)
    # an integer argument alone, and a boolean one
    _same_float0(plax.grad(_f, 1, allow_int=True)(x, n), jax.grad(_f, 1, allow_int=True)(x, n))
    b = np.array([True, False])
    h = lambda x, b: (x * b).sum()  # noqa: E731
    _same_float0(plax.grad(h, 1, allow_int=True)(x[:2], b),
                 jax.grad(h, 1, allow_int=True)(x[:2], b))


@requires_jax
def test_value_and_grad_and_vjp_float0():
    import jax
    x, n = np.arange(3.0, dtype=np.float32), np.arange(3, dtype=np.int32)
    (v, a), (vj, aj) = (plax.value_and_grad(_f, 1, allow_int=True)(x, n),
                        jax.value_and_grad(_f, 1, allow_int=True)(x, n))
    np.testing.assert_allclose(v, vj)
    _same_float0(a, aj)
    out, vf = plax.vjp(lambda x, n: x * n, x, n)
    outj, vfj = jax.vjp(lambda x, n: x * n, x, n)
    (cx, cn), (jx, jn) = vf(out), vfj(outj)
    np.testing.assert_allclose(np.asarray(cx), np.asarray(jx))
    _same_float0(cn, jn)
    with pytest.raises(TypeError, match="allow_int"):
        plax.grad(_f, 1)(x, n)


@requires_jax
def test_jacrev_allow_int_integer_zeros():
    import jax
    x, n = np.arange(3.0, dtype=np.float32), np.arange(3, dtype=np.int32)
    j = plax.jacrev(lambda x, n: x * n, 1, allow_int=True)(x, n)
    jj = jax.jacrev(lambda x, n: x * n, 1, allow_int=True)(x, n)
    assert j.dtype == jj.dtype and j.shape == jj.shape
    np.testing.assert_array_equal(np.asarray(j), np.asarray(jj))


@requires_jax
def test_jvp_takes_float0_tangents_of_integer_primals():
    import jax
    x, n = np.float32(2.0), np.int32(3)
    t0 = np.zeros((), plax.dtypes.float0)
    (p, t), (pj, tj) = (plax.jvp(lambda x, n: x * n, (x, n), (np.float32(1.0), t0)),
                        jax.jvp(lambda x, n: x * n, (x, n), (np.float32(1.0), t0)))
    np.testing.assert_allclose(np.asarray(p), np.asarray(pj))
    np.testing.assert_allclose(np.asarray(t), np.asarray(tj))
    with pytest.raises(TypeError, match="float0"):  # a float0 tangent for a float primal
        plax.jvp(lambda x, n: x * n, (x, n), (t0, t0))
