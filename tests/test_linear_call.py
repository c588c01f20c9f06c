"""plax.custom_derivatives.linear_call (as JAX's): a function linear in its linear arguments
whose transpose is the user's function, on every backend; JAX's documented examples and a
matrix case against JAX where importable."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.numpy as jnp
from plax.custom_derivatives import linear_call


def _div(r, x):
    return x / r


def _div_t(r, t):
    return t / r


def div_add(x, denom):
    return x + linear_call(_div, _div_t, denom, x)


def custom_id(x):
    return linear_call(lambda _, x: x, lambda _, t: 7.0 * jnp.ones_like(t), (), x)


def transpose(fn, example):
    def transposed(y):
        x, = plax.linear_transpose(fn, example)(y)
        return x
    return transposed


def test_jax_documented_examples(backend):
    assert float(div_add(9.0, 3.0)) == 12.0
    assert float(transpose(functools.partial(div_add, denom=3.0), 1.0)(18.0)) == 24.0
    assert float(transpose(lambda x: x + x / 3.0, 1.0)(18.0)) == 24.0  # the reference
    # transposing twice is the function again; three times the custom transpose
    assert float(custom_id(1.0)) == 1.0
    assert float(transpose(custom_id, 1.0)(1.0)) == 7.0
    assert float(transpose(transpose(custom_id, 1.0), 1.0)(1.0)) == 1.0
    assert float(transpose(transpose(transpose(custom_id, 1.0), 1.0), 1.0)(1.0)) == 7.0


def _mat_fun(r, lin):
    a, s = r
    x, y = lin["x"], lin["y"]
    return {"u": a @ x * s, "v": jnp.sum(y, axis=0)}


def _mat_transpose(r, ct):
    a, s = r  # deliberately not the true transpose: the custom rule must be what runs
    return {"x": 2.0 * (a.T @ ct["u"]) * s, "y": jnp.broadcast_to(ct["v"], (3, 4))}


A = np.arange(6.0, dtype=np.float32).reshape(2, 3) / 6
X = np.linspace(-1, 1, 3, dtype=np.float32)
Y = np.arange(12.0, dtype=np.float32).reshape(3, 4) / 12


def mat_loss(x, y, a=A, s=np.float32(1.5)):
    out = linear_call(_mat_fun, _mat_transpose, (a, s), {"x": x, "y": y})
    return jnp.sum(jnp.sin(out["u"])) + jnp.sum(out["v"] ** 2)


def _expected_grads():
    u = (A @ X) * 1.5
    v = Y.sum(0)
    ct_u, ct_v = np.cos(u), 2 * v
    return 2.0 * (A.T @ ct_u) * 1.5, np.broadcast_to(ct_v, (3, 4))


def test_grad_uses_the_custom_transpose_eagerly_and_under_jit(backend):
    gx, gy = _expected_grads()
    for f in (plax.grad(mat_loss, argnums=(0, 1)), plax.jit(plax.grad(mat_loss, argnums=(0, 1)))):
        dx, dy = f(X, Y)
        assert_close(dx, gx, rtol=1e-5)
        assert_close(dy, gy, rtol=1e-5)
    value = mat_loss(X, Y)
    assert_close(plax.jit(mat_loss)(X, Y), value, rtol=1e-6)


def test_forward_mode_is_the_function_on_tangents(backend):
    tx, ty = np.ones(3, np.float32), np.full((3, 4), 0.5, np.float32)
    f = functools.partial(linear_call, _mat_fun, _mat_transpose, (A, np.float32(1.5)))
    out, tan = plax.jvp(lambda x, y: f({"x": x, "y": y}), (X, Y), (tx, ty))
    assert_close(tan["u"], (A @ tx) * 1.5, rtol=1e-6)
    assert_close(tan["v"], ty.sum(0), rtol=1e-6)
    assert_close(out["u"], (A @ X) * 1.5, rtol=1e-6)


def test_errors_name_the_problem(backend):
    with pytest.raises(TypeError, match="residual_args is not supported"):
        plax.grad(lambda r: div_add(2.0, r))(3.0)
    with pytest.raises(NotImplementedError, match="vmap of linear_call"):
        plax.vmap(custom_id)(jnp.ones(3))
    with pytest.raises(TypeError, match="structure of linear_args"):
        plax.grad(lambda x: linear_call(lambda r, x: x, lambda r, t: (t, t), (), x))(1.0)
    with pytest.raises(TypeError, match=r"output 0 is f32\[2\].*f32\[3\]"):
        plax.grad(lambda x: jnp.sum(linear_call(lambda r, x: x, lambda r, t: t[:2], (), x)))(X)
    with pytest.raises(TypeError, match="callable"):
        linear_call(3, _div_t, 1.0, 1.0)


@requires_jax
def test_matches_jax():
    import jax
    import jax.numpy as jjnp
    from jax.custom_derivatives import linear_call as jlinear_call

    def jmat_fun(r, lin):
        a, s = r
        return {"u": a @ lin["x"] * s, "v": jjnp.sum(lin["y"], axis=0)}

    def jmat_transpose(r, ct):
        a, s = r
        return {"x": 2.0 * (a.T @ ct["u"]) * s, "y": jjnp.broadcast_to(ct["v"], (3, 4))}

    def jloss(x, y):
        out = jlinear_call(jmat_fun, jmat_transpose, (A, np.float32(1.5)), {"x": x, "y": y})
        return jjnp.sum(jjnp.sin(out["u"])) + jjnp.sum(out["v"] ** 2)

    ours = plax.grad(mat_loss, argnums=(0, 1))(X, Y)
    theirs = jax.grad(jloss, argnums=(0, 1))(X, Y)
    for o, t in zip(ours, theirs):
        assert_close(o, np.asarray(t), rtol=1e-5)
    assert_close(mat_loss(X, Y), np.asarray(jloss(X, Y)), rtol=1e-6)
