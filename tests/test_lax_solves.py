"""lax.custom_linear_solve and lax.custom_root against JAX: values, jvp, grad (check_grads to
second order), vmap against a loop, jit on every backend, pytrees, has_aux and JAX's errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from conftest import assert_close, requires_jax
from plax.test_util import check_grads

pytestmark = requires_jax

RNG = np.random.default_rng(0)
A = (RNG.standard_normal((3, 3)) + 3 * np.eye(3)).astype(np.float32)
S = (A @ A.T).astype(np.float32)  # symmetric positive definite
B = RNG.standard_normal(3).astype(np.float32)


def _jax():
    import jax
    import jax.numpy as jnp
    return jax, jnp


def _libs(which):
    if which == "jax":
        jax, jnp = _jax()
        return jax.lax, jnp
    return plax.lax, pnp


def linear_solve(which):
    """A general solve with its transpose solve, as JAX's test_custom_linear_solve."""
    lax, np_ = _libs(which)

    def f(a, b):
        return lax.custom_linear_solve(lambda x: np_.dot(a, x), b,
                                       lambda _, x: np_.linalg.solve(a, x),
                                       lambda _, x: np_.linalg.solve(a.T, x))
    return f


def cg_solve(which, iters=6):
    """A symmetric solve by a fixed number of conjugate-gradient steps (symmetric=True)."""
    lax, np_ = _libs(which)

    def cg(matvec, b):
        def body(_, state):
            x, r, p, rs = state
            ap = matvec(p)
            alpha = rs / np_.dot(p, ap)
            x = x + alpha * p
            r = r - alpha * ap
            rs_new = np_.dot(r, r)
            return x, r, r + (rs_new / rs) * p, rs_new
        x0 = np_.zeros_like(b)
        return lax.fori_loop(0, iters, body, (x0, b, b, np_.dot(b, b)))[0]

    def f(a, b):
        return lax.custom_linear_solve(lambda x: np_.dot(a, x), b, cg, symmetric=True)
    return f


@pytest.mark.parametrize("make,a", [(linear_solve, A), (cg_solve, S)], ids=["general", "cg"])
def test_values_jvp_grad_against_jax(reference, make, a):
    jax, jnp = _jax()
    fp, fj = make("plax"), make("jax")
    assert_close(fp(a, B), fj(a, B), rtol=1e-4, atol=1e-5)
    da, db = RNG.standard_normal(a.shape).astype(np.float32), np.ones(3, np.float32)
    (p, t), (pj, tj) = plax.jvp(fp, (a, B), (da, db)), jax.jvp(fj, (a, B), (da, db))
    assert_close(p, pj, rtol=1e-4, atol=1e-5)
    assert_close(t, tj, rtol=1e-4, atol=1e-4)
    w = np.arange(1.0, 4.0, dtype=np.float32)
    gp = plax.grad(lambda a, b: pnp.dot(fp(a, b), w), (0, 1))(a, B)
    gj = jax.grad(lambda a, b: jnp.dot(fj(a, b), w), (0, 1))(a, B)
    for x, y in zip(gp, gj):
        assert x.dtype == y.dtype
        assert_close(x, y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make,a", [(linear_solve, A), (cg_solve, S)], ids=["general", "cg"])
def test_check_grads_second_order(reference, make, a):
    a64 = a.astype(np.float64)
    with plax.config.override("enable_x64", True):
        f = make("plax")
        check_grads(f, (a64, B.astype(np.float64)), order=2, modes=("fwd", "rev"),
                    atol=1e-5, rtol=1e-5)


def test_vmap_against_loop_and_jax(reference):
    jax, _ = _jax()
    fp, fj = linear_solve("plax"), linear_solve("jax")
    As = np.stack([A, S, A.T, S + np.eye(3, dtype=np.float32)])
    Bs = RNG.standard_normal((4, 3)).astype(np.float32)
    for axes, args in [((0, None), (As, B)), ((None, 0), (A, Bs)), ((0, 0), (As, Bs)),
                       ((0, 1), (As, Bs.T))]:
        out = plax.vmap(fp, axes)(*args)
        loop = np.stack([np.asarray(fp(*[x if d is None else np.take(x, i, d)
                                          for x, d in zip(args, axes)])) for i in range(4)])
        assert_close(out, loop, rtol=1e-5, atol=1e-5)
        assert_close(out, jax.vmap(fj, axes)(*args), rtol=1e-4, atol=1e-5)
    # vmap of grad and grad of vmap
    g = plax.vmap(plax.grad(lambda a, b: fp(a, b).sum()))(As, Bs)
    gj = jax.vmap(jax.grad(lambda a, b: fj(a, b).sum()))(As, Bs)
    assert_close(g, gj, rtol=1e-4, atol=1e-4)


def test_jit_on_backend(backend):
    f = linear_solve("plax")
    g = plax.grad(lambda a, b: f(a, b).sum(), (0, 1))
    with plax.default_backend("reference"):
        want, want_g = f(A, B), g(A, B)
    assert_close(plax.jit(f)(A, B), want, rtol=1e-5, atol=1e-5)
    for x, y in zip(plax.jit(g)(A, B), want_g):
        assert_close(x, y, rtol=1e-4, atol=1e-5)
    assert_close(plax.jit(plax.vmap(cg_solve("plax"), (None, 0)))(S, np.stack([B, 2 * B])),
                 np.stack([np.linalg.solve(S, B), np.linalg.solve(S, 2 * B)]),
                 rtol=1e-3, atol=1e-4)


def test_pytree_b_and_has_aux(reference):
    jax, jnp = _jax()

    def make(which):
        lax, np_ = _libs(which)

        def f(a, b):
            def matvec(x):
                return {"u": np_.dot(a, x["u"]), "v": 2.0 * x["v"]}

            def solve(_, x):
                return {"u": np_.linalg.solve(a, x["u"]), "v": x["v"] / 2.0}, np_.sum(x["v"])

            def tsolve(_, x):
                return {"u": np_.linalg.solve(a.T, x["u"]), "v": x["v"] / 2.0}, np_.sum(x["v"])
            return lax.custom_linear_solve(matvec, b, solve, tsolve, has_aux=True)
        return f

    b = {"u": B, "v": np.array([1.0, -2.0], np.float32)}
    (xp, auxp), (xj, auxj) = make("plax")(A, b), make("jax")(A, b)
    assert set(xp) == {"u", "v"}
    for k in xp:
        assert_close(xp[k], xj[k], rtol=1e-5, atol=1e-5)
    assert_close(auxp, auxj)

    def loss(which, sum_, a, b):
        x, aux = make(which)(a, b)
        return sum_(x["u"] * x["u"]) + sum_(x["v"])

    gp = plax.grad(lambda a, b: loss("plax", pnp.sum, a, b), (0, 1))(A, b)
    gj = jax.grad(lambda a, b: loss("jax", jnp.sum, a, b), (0, 1))(A, b)
    for x, y in zip(plax.tree_util.tree_leaves(gp), jax.tree_util.tree_leaves(gj)):
        assert_close(x, y, rtol=1e-4, atol=1e-4)
    out = plax.vmap(lambda v: make("plax")(A, {"u": B, "v": v})[0]["v"])(np.ones((3, 2),
                                                                             np.float32))
    assert_close(out, np.full((3, 2), 0.5, np.float32))


def test_errors_as_jax(reference):
    f_ok = lambda x: x  # noqa: E731
    jax, _ = _jax()
    for matvec, solve, kw in [(lambda x: (x, x), f_ok, {}), (lambda x: (x,), f_ok, {}),
                              (f_ok, lambda m, x: x[:2], {}),
                              (f_ok, lambda m, x: (x, x, x), {"has_aux": True}),
                              (f_ok, lambda m, x: ((x,), 1.0), {"has_aux": True})]:
        with pytest.raises((TypeError, ValueError)) as want:
            jax.lax.custom_linear_solve(matvec, B, solve, **kw)
        with pytest.raises(type(want.value), match=re.escape(str(want.value).split(",")[0])):
            plax.lax.custom_linear_solve(matvec, B, solve, **kw)
    f = lambda b: plax.lax.custom_linear_solve(f_ok, b, lambda m, x: x).sum()  # noqa: E731
    with pytest.raises(TypeError, match="transpose_solve required"):
        plax.grad(f)(B)
    assert_close(plax.jvp(f, (B,), (B,))[1], B.sum())  # forward mode needs no transpose
    with pytest.raises(TypeError, match=r"f\(\) output pytree structure must match "
                                        "initial_guess"):
        plax.lax.custom_root(lambda x: (x, x), 1.0, lambda f, x: x, lambda g, y: y)


# ---------------------------------------------------------------------------------------------
# custom_root


def sqrt_cubed(which):
    """The root of y**2 - a x**3 by Newton's method (JAX's custom_root example)."""
    if which == "jax":
        jax, _ = _jax()
        lax, grad = jax.lax, jax.grad
    else:
        lax, grad = plax.lax, plax.grad

    def newton(f, x0):
        return lax.fori_loop(0, 20, lambda _, x: x - f(x) / grad(f)(x), x0)

    def f(x, a):
        return lax.custom_root(lambda y: y ** 2 - a * x ** 3, 1.0, newton,
                               lambda g, y: y / g(1.0))
    return f


def test_custom_root_against_jax(reference):
    jax, jnp = _jax()
    fp, fj = sqrt_cubed("plax"), sqrt_cubed("jax")
    assert_close(fp(2.0, 3.0), fj(2.0, 3.0))
    for argnum in (0, 1):
        assert_close(plax.grad(fp, argnum)(2.0, 3.0), jax.grad(fj, argnum)(2.0, 3.0))
    (p, t), (pj, tj) = (plax.jvp(lambda x: fp(x, 3.0), (2.0,), (1.0,)),
                        jax.jvp(lambda x: fj(x, 3.0), (2.0,), (1.0,)))
    assert_close(p, pj)
    assert_close(t, tj)
    xs = np.array([1.0, 2.0, 3.0], np.float32)
    out = plax.vmap(fp, (0, None))(xs, 3.0)
    assert_close(out, np.stack([np.asarray(fp(x, 3.0)) for x in xs]))
    assert_close(out, jax.vmap(fj, (0, None))(jnp.asarray(xs), 3.0))
    assert_close(plax.vmap(plax.grad(fp), (0, None))(xs, 3.0),
                 jax.vmap(jax.grad(fj), (0, None))(xs, 3.0))
    check_grads(fp, (2.0, 3.0), order=2, modes=("fwd", "rev"), atol=2e-2, rtol=2e-2)


def test_custom_root_jit_on_backend(backend):
    fp = sqrt_cubed("plax")
    assert_close(plax.jit(fp)(2.0, 3.0), np.sqrt(3.0 * 8.0), rtol=1e-5)
    assert_close(plax.jit(plax.grad(fp))(2.0, 3.0), 1.5 * np.sqrt(3.0 * 2.0), rtol=1e-5)


def test_custom_root_pytree_and_aux(reference):
    jax, jnp = _jax()

    def make(which):
        lax, np_ = _libs(which)
        grad = jax.grad if which == "jax" else plax.grad

        def f(p):
            def fun(x):  # root: x = (sqrt(p), p**(1/3))
                return {"s": x["s"] ** 2 - p, "c": x["c"] ** 3 - p}

            def solve(fun, x):
                def step(_, x):
                    r = fun(x)
                    return {"s": x["s"] - r["s"] / (2 * x["s"]),
                            "c": x["c"] - r["c"] / (3 * x["c"] ** 2)}
                return lax.fori_loop(0, 30, step, x), np_.float32(7)

            def tangent_solve(g, y):
                d = g({"s": np_.float32(1), "c": np_.float32(0)})["s"]
                e = g({"s": np_.float32(0), "c": np_.float32(1)})["c"]
                return {"s": y["s"] / d, "c": y["c"] / e}
            guess = {"s": np_.float32(1), "c": np_.float32(1)}
            x, aux = lax.custom_root(fun, guess, solve, tangent_solve, has_aux=True)
            return x["s"] + 2 * x["c"], aux
        del grad
        return f

    (vp, ap), (vj, aj) = make("plax")(5.0), make("jax")(5.0)
    assert_close(vp, vj)
    assert_close(ap, aj)
    assert_close(plax.grad(lambda p: make("plax")(p)[0])(5.0),
                 jax.grad(lambda p: make("jax")(p)[0])(5.0))
