"""Rules of the reductions and cumulative reductions: derivatives to second order against finite
differences and JAX (ties of max/min, zeros of products, infinities of logsumexp included),
vmap against Python loops for several in_axes, jit against eager, and the transposes."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.lax as lax
from plax.test_util import check_grads

from conftest import HAVE_JAX, assert_close, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)

if HAVE_JAX:
    import jax
    import jax.lax as jax_lax


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def spread(rng, *shape):
    """Values with no ties and no near-ties, so that max/min/sort are differentiable."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.37 + 0.1).reshape(shape) - n * 0.15


def away_from_zero(rng, *shape):
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return x.astype(np.float32)


CASES = [
    Case("reduce_sum", lambda L, x: L.reduce_sum(L.sin(x), (1,)), lambda r: (f32(r, 2, 3, 2),)),
    Case("reduce_sum_two_axes", lambda L, x: L.reduce_sum(x, (0, 2)),
         lambda r: (f32(r, 2, 3, 2),)),
    Case("reduce_sum_all", lambda L, x: L.reduce_sum(L.mul(x, x), (0, 1)),
         lambda r: (f32(r, 3, 2),)),
    Case("reduce_sum_none", lambda L, x: L.reduce_sum(x, ()), lambda r: (f32(r, 3),)),
    Case("reduce_prod", lambda L, x: L.reduce_prod(x, (1,)),
         lambda r: (away_from_zero(r, 2, 5, 2),)),
    Case("reduce_prod_all", lambda L, x: L.reduce_prod(x, (0, 1)),
         lambda r: (away_from_zero(r, 3, 2),)),
    Case("reduce_prod_empty", lambda L, x: L.reduce_prod(x, (0,)), lambda r: (f32(r, 0, 3),)),
    Case("reduce_max", lambda L, x: L.reduce_max(x, (1,)), lambda r: (spread(r, 3, 4),)),
    Case("reduce_max_two_axes", lambda L, x: L.reduce_max(L.sin(x), (0, 2)),
         lambda r: (spread(r, 2, 3, 2) * 0.1,)),
    Case("reduce_min", lambda L, x: L.reduce_min(x, (0,)), lambda r: (spread(r, 3, 4),)),
    Case("argmax_in_product",
         lambda L, x: L.mul(x, L.convert_element_type(
             L.broadcast_in_dim(L.argmax(x, 1, np.int32), (3, 4), (0,)), np.float32)),
         lambda r: (spread(r, 3, 4),)),
    Case("argmin_in_product",
         lambda L, x: L.mul(L.sin(x), L.convert_element_type(
             L.broadcast_in_dim(L.argmin(x, 0, np.int32), (3, 4), (1,)), np.float32)),
         lambda r: (spread(r, 3, 4),)),
    Case("cumsum", lambda L, x: L.cumsum(L.sin(x), 1), lambda r: (f32(r, 3, 5),)),
    Case("cumsum_reverse", lambda L, x: L.cumsum(x, 0, reverse=True), lambda r: (f32(r, 4, 2),)),
    Case("cumprod", lambda L, x: L.cumprod(x, 1), lambda r: (away_from_zero(r, 2, 7),)),
    Case("cumprod_reverse", lambda L, x: L.cumprod(x, 0, reverse=True),
         lambda r: (away_from_zero(r, 6, 2),)),
    Case("cummax", lambda L, x: L.cummax(x, 0), lambda r: (spread(r, 7, 2),)),
    Case("cummax_reverse", lambda L, x: L.cummax(x, 1, reverse=True),
         lambda r: (spread(r, 2, 5),)),
    Case("cummin", lambda L, x: L.cummin(x, 1), lambda r: (spread(r, 2, 8),)),
    Case("cumlogsumexp", lambda L, x: L.cumlogsumexp(x, 1), lambda r: (f32(r, 2, 6),)),
    Case("cumlogsumexp_reverse", lambda L, x: L.cumlogsumexp(x, 0, reverse=True),
         lambda r: (f32(r, 5, 3),)),
    Case("cumsum_length_one", lambda L, x: L.cumprod(x, 0), lambda r: (f32(r, 1, 3),)),
]

def c64(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


# complex values (checked against JAX: no conjugation anywhere)
COMPLEX = [
    Case("reduce_sum_complex", lambda L, x: L.reduce_sum(L.mul(x, x), (0,)),
         lambda r: (c64(r, 3, 2),)),
    Case("reduce_prod_complex", lambda L, x: L.reduce_prod(x, (1,)), lambda r: (c64(r, 2, 5),)),
    Case("cumsum_complex", lambda L, x: L.cumsum(L.mul(x, x), 1, reverse=True),
         lambda r: (c64(r, 2, 4),)),
    Case("cumprod_complex", lambda L, x: L.cumprod(x, 0), lambda r: (c64(r, 5, 2),)),
]

# integer/boolean reductions: no derivative, but batching and jit
INT_CASES = [
    Case("reduce_and", lambda L, x: L.reduce_and(x, (1,)),
         lambda r: (r.integers(0, 2, (3, 4)).astype(bool),), diff=()),
    Case("reduce_or", lambda L, x: L.reduce_or(x, (0, 2)),
         lambda r: (r.integers(0, 2, (3, 2, 2)).astype(bool),), diff=()),
    Case("reduce_xor", lambda L, x: L.reduce_xor(x, (0,)),
         lambda r: (r.integers(-9, 9, (4, 3)).astype(np.int32),), diff=()),
    Case("argmax", lambda L, x: L.argmax(x, 1, np.int32), lambda r: (spread(r, 3, 4),),
         diff=()),
    Case("argmin", lambda L, x: L.argmin(x, 0, np.int32), lambda r: (spread(r, 3, 4),),
         diff=()),
    Case("cummax_int", lambda L, x: L.cummax(x, 1),
         lambda r: (r.integers(-9, 9, (3, 4)).astype(np.int32),), diff=()),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_grads_second_order(case):
    run_grads(case, np.random.default_rng(0))


@requires_jax
@pytest.mark.parametrize("case", CASES + COMPLEX, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES + COMPLEX + INT_CASES, ids=repr)
def test_vmap(case):
    run_vmap(case, np.random.default_rng(2))


@pytest.mark.parametrize("case", CASES + INT_CASES, ids=repr)
def test_jit(case, backend):  # on every installed backend
    run_jit(case, np.random.default_rng(3))


# ---------------------------------------------------------------------------------------------
# Non-smooth points: the conventions must be JAX's exactly

TIES = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [0.0, 0.0, -1.0, 0.0, 0.0]], np.float32)
ZEROS = np.array([[2.0, 0.0, 3.0, -1.0, 0.5], [0.0, 1.5, 0.0, 2.0, 1.0]], np.float32)
INFS = np.array([[-np.inf, 0.5, -np.inf, 2.0, 1.0], [-np.inf, -np.inf, 1.0, 3.0, -2.0]],
                np.float32)

SPECIAL = [
    ("reduce_max", lambda L, x: L.reduce_max(x, (1,)), TIES),
    ("reduce_max_all", lambda L, x: L.reduce_max(x, (0, 1)), TIES),
    ("reduce_min", lambda L, x: L.reduce_min(x, (1,)), TIES),
    ("cummax", lambda L, x: L.cummax(x, 1), TIES),
    ("cummax_reverse", lambda L, x: L.cummax(x, 1, reverse=True), TIES),
    ("cummin", lambda L, x: L.cummin(x, 1), TIES),
    ("reduce_prod", lambda L, x: L.reduce_prod(x, (1,)), ZEROS),
    ("reduce_prod_two_zeros", lambda L, x: L.reduce_prod(x, (0, 1)), ZEROS),
    ("cumprod", lambda L, x: L.cumprod(x, 1), ZEROS),
    ("cumprod_reverse", lambda L, x: L.cumprod(x, 1, reverse=True), ZEROS),
    ("cumlogsumexp_inf", lambda L, x: L.cumlogsumexp(x, 1), INFS),
    ("cumlogsumexp_ties", lambda L, x: L.cumlogsumexp(x, 1), TIES),
]


@requires_jax
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # -inf - -inf
@pytest.mark.parametrize("name,fn,x", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_nonsmooth_points_match_jax(name, fn, x):
    rng = np.random.default_rng(0)
    t = rng.standard_normal(x.shape).astype(np.float32)
    out_shape = np.shape(fn(lax, x))
    ct = rng.standard_normal(out_shape).astype(np.float32)

    def derivatives(L, jvp, vjp, grad, v):
        out, t_out = jvp(lambda u: fn(L, u), (v,), (t,))
        (ct_in,) = vjp(lambda u: fn(L, u), v)[1](ct)
        # second derivatives at the ties and zeros too: a Hessian-vector product
        h = grad(lambda u: jvp(lambda w: L.reduce_sum(L.sin(fn(L, w)), tuple(range(len(
            out_shape)))), (u,), (t,))[1])(v)
        return out, t_out, ct_in, h

    got = derivatives(lax, plax.jvp, plax.vjp, plax.grad, x)
    # JAX under jit: eagerly, its many small scan ops take seconds
    want = jax.jit(lambda v: derivatives(jax_lax, jax.jvp, jax.vjp, jax.grad, v))(x)
    assert_close(got[0], want[0], rtol=1e-6)
    assert_close(got[1], want[1], rtol=1e-5, atol=1e-6)
    assert_close(got[2], want[2], rtol=1e-5, atol=1e-6)
    assert_close(got[3], want[3], rtol=1e-4, atol=1e-5)


def test_ties_split_evenly():
    # reduce_max over [3, 3, 1]: each tied maximum gets half the cotangent
    g = plax.grad(lambda v: lax.reduce_max(v, (0,)))(np.array([3.0, 3.0, 1.0], np.float32))
    assert_close(g, [0.5, 0.5, 0.0])
    # a product with one zero: only the zero's neighbours' product survives
    g = plax.grad(lambda v: lax.reduce_prod(v, (0,)))(np.array([2.0, 0.0, 3.0], np.float32))
    assert_close(g, [0.0, 6.0, 0.0])


def test_cumsum_transpose_is_reverse_cumsum():
    x = np.arange(4, dtype=np.float32)

    def g(v):
        return plax.vjp(lambda w: lax.cumsum(w, 0), v)[1](v)

    eqns = plax.make_jaxpr(g)(x).eqns
    cums = [e for e in eqns if e.primitive.name == "cumsum"]
    assert [e.params["reverse"] for e in cums] == [False, True]
    assert_close(g(x)[0], np.cumsum(x[::-1])[::-1])


def test_reduce_sum_transpose_broadcasts():
    x = np.ones((2, 3, 4), np.float32)
    g = plax.grad(lambda v: lax.reduce_sum(lax.reduce_sum(v, (1,)), (0, 1)))
    jaxpr = plax.make_jaxpr(g)(x)
    assert "broadcast_in_dim" in [e.primitive.name for e in jaxpr.eqns]
    assert_close(g(x), x)


def test_x64_cumulative_second_order():
    rng = np.random.default_rng(4)
    with plax.enable_x64():
        x = rng.uniform(0.5, 2.0, (3, 6))
        for fn in (lambda v: lax.cumprod(v, 1), lambda v: lax.cumlogsumexp(v, 0, True),
                   lambda v: lax.reduce_prod(v, (0, 1))):
            check_grads(fn, (x,), order=2, atol=1e-6, rtol=1e-6)
