"""plax.custom_gradient and plax.closure_convert against jax's: values, gradients (eager, jit,
vmap, pytrees, values closed over by the gradient function) and the hoisted constants."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from conftest import assert_close, requires_jax

pytestmark = [requires_jax, pytest.mark.usefixtures("reference")]


def _apis(which):
    if which == "jax":
        import jax
        import jax.numpy as jnp
        return jax, jnp
    return plax, pnp


def scaled_sin(which):
    api, np_ = _apis(which)

    @api.custom_gradient
    def f(x, y):
        s = np_.sin(x)  # the gradient closes over a value of the forward pass
        return s * y, lambda g: (g * np_.cos(x) * y * 10.0, g * s)
    return f


def test_custom_gradient_against_jax():
    import jax
    fp, fj = scaled_sin("plax"), scaled_sin("jax")
    x, y = np.float32(0.3), np.float32(2.0)
    assert_close(fp(x, y), fj(x, y))
    for argnums in (0, 1, (0, 1)):
        gp, gj = plax.grad(fp, argnums)(x, y), jax.grad(fj, argnums)(x, y)
        for a, b in zip(np.atleast_1d(gp), np.atleast_1d(gj)):
            assert_close(a, b)
    jit_g = plax.jit(plax.grad(fp, (0, 1)))(x, y)
    for a, b in zip(jit_g, jax.grad(fj, (0, 1))(x, y)):
        assert_close(a, b)
    xs = np.linspace(0.1, 1.0, 4, dtype=np.float32)
    assert_close(plax.vmap(plax.grad(fp))(xs, xs), jax.vmap(jax.grad(fj))(xs, xs))
    # the weak types of JAX's docstring example
    gp = plax.grad(plax.custom_gradient(lambda x, y: (x * y, lambda g: (g * y, g * x))),
                   (0, 1))(3.0, 4.0)
    gj = jax.grad(jax.custom_gradient(lambda x, y: (x * y, lambda g: (g * y, g * x))),
                  (0, 1))(3.0, 4.0)
    for a, b in zip(gp, gj):
        assert_close(a, b)
        assert a.dtype == b.dtype and a.weak_type == b.weak_type


def test_custom_gradient_pytrees_and_errors():
    import jax

    def make(which):
        api, np_ = _apis(which)

        @api.custom_gradient
        def g(p):
            out = {"prod": p["a"] * p["b"], "sum": p["a"] + p["b"]}
            return out, lambda c: ({"a": c["prod"] * 3.0 + c["sum"], "b": c["prod"] * 4.0},)
        return g

    p = {"a": np.float32(1.0), "b": np.float32(2.0)}

    def loss(g, p):
        out = g(p)
        return out["prod"] * 2.0 + out["sum"]
    gp = plax.grad(lambda p: loss(make("plax"), p))(p)
    gj = jax.grad(lambda p: loss(make("jax"), p))(p)
    assert gp.keys() == gj.keys()
    for k in gp:
        assert_close(gp[k], gj[k])
    # a gradient function returning a bare value for a one-argument function: as JAX, a tuple
    bare = plax.custom_gradient(lambda x: (x * x, lambda g: g * 5.0))
    assert_close(plax.grad(bare)(np.float32(2.0)),
                 jax.grad(jax.custom_gradient(lambda x: (x * x, lambda g: g * 5.0)))(2.0))
    wrong = plax.custom_gradient(lambda x, y: (x * y, lambda g: (g,)))
    with pytest.raises(TypeError, match="cotangent"):
        plax.grad(wrong)(np.float32(1.0), np.float32(2.0))


def _minimize(which):
    """JAX's closure_convert example: a custom_vjp function taking the objective as a
    nondiff argument, its closed-over values hoisted into differentiable arguments."""
    api, np_ = _apis(which)

    @partial(api.custom_vjp, nondiff_argnums=(0,))
    def apply(fn, x, *args):
        return fn(x, *args)

    def fwd(fn, x, *args):
        return fn(x, *args), (x, args)

    def bwd(fn, res, g):
        x, args = res
        _, vjp = api.vjp(fn, x, *args)
        return vjp(g * 2.0)  # twice the true gradient: shows the custom rule ran

    apply.defvjp(fwd, bwd)

    def run(c, d, x):
        def objective(x):
            return np_.sin(c * x) + d * x * x
        fn, hoisted = api.closure_convert(objective, x)
        return apply(fn, x, *hoisted), len(hoisted)
    return run


def test_closure_convert_against_jax():
    import jax
    rp, rj = _minimize("plax"), _minimize("jax")
    c, d, x = np.float32(2.0), np.float32(0.5), np.float32(0.7)
    (vp, np_), (vj, nj) = rp(c, d, x), rj(c, d, x)
    assert_close(vp, vj)
    assert np_ == nj == 0  # concrete closures: nothing to hoist
    counts = []

    def lp(c, d, x):
        v, n = rp(c, d, x)
        counts.append(n)
        return v
    gp = plax.grad(lp, (0, 1, 2))(c, d, x)
    gj = jax.grad(lambda c, d, x: rj(c, d, x)[0], (0, 1, 2))(c, d, x)
    for a, b in zip(gp, gj):
        assert_close(a, b)
    assert counts == [2]  # the traced c and d
    for a, b in zip(plax.jit(plax.grad(lp, (0, 1, 2)))(c, d, x), gj):
        assert_close(a, b)
    # the converted function checks its arguments' structure, as JAX's
    fn, hoisted = plax.closure_convert(lambda t: t["u"] * 2.0, {"u": np.float32(1.0)})
    assert_close(fn({"u": np.float32(3.0)}, *hoisted), 6.0)
    with pytest.raises(TypeError, match="same Pytree structure"):
        fn(np.float32(3.0))
