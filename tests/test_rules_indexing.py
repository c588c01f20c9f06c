"""Rules of gather, the scatters, sort, top_k and dot_general: derivatives to second order
against finite differences and JAX (duplicate and out-of-bounds indices, ties), vmap against
Python loops with batched operands and/or indices, jit against eager, the adjoint structure
(gather <-> scatter_add, dot_general transposes) and the errors of what JAX cannot differentiate.
"""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.lax as lax

from conftest import HAVE_JAX, assert_close, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)

if HAVE_JAX:
    import jax
    import jax.lax as jax_lax


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def ints(rng, lo, hi, *shape):
    return rng.integers(lo, hi, shape).astype(np.int32)


def spread(rng, *shape):
    """Distinct values, far apart: sorts and maxima are differentiable there."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.37 + 0.1).reshape(shape) - n * 0.15


def distinct_rows(rng, n_rows, k):
    """k distinct row indices in [0, n_rows), as a (k, 1) index array."""
    return rng.permutation(n_rows)[:k].astype(np.int32).reshape(k, 1)


def G(offset, collapsed, start_map, obd=(), sibd=()):
    def make(L):
        return L.GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=collapsed,
                                        start_index_map=start_map, operand_batching_dims=obd,
                                        start_indices_batching_dims=sibd)
    return make


def S(window, inserted, to_operand, obd=(), sibd=()):
    def make(L):
        return L.ScatterDimensionNumbers(update_window_dims=window,
                                         inserted_window_dims=inserted,
                                         scatter_dims_to_operand_dims=to_operand,
                                         operand_batching_dims=obd,
                                         scatter_indices_batching_dims=sibd)
    return make


ROWS_G, ROWS_S = G((1,), (0,), (0,)), S((1,), (0,), (0,))
ALONG_G = G((), (1,), (1,), (0,), (0,))       # take_along_axis on axis 1, batched over axis 0
ALONG_S = S((), (1,), (1,), (0,), (0,))
WINDOW_G = G((1, 2), (), (0, 1))              # 2-d windows at 2-d start positions

GATHER = [
    Case("gather_rows_clip",
         lambda L, x, i: L.gather(L.sin(x), i, ROWS_G(L), (1, 4), mode="clip"),
         lambda r: (f32(r, 5, 4), ints(r, -2, 7, 3, 1))),
    Case("gather_rows_fill",
         lambda L, x, i: L.gather(x, i, ROWS_G(L), (1, 4), mode="fill", fill_value=0.0),
         lambda r: (f32(r, 5, 4), ints(r, -2, 7, 3, 1))),
    Case("gather_take_along",
         lambda L, x, i: L.gather(x, i, ALONG_G(L), (1, 1), mode="clip"),
         lambda r: (f32(r, 3, 5), ints(r, 0, 5, 3, 2, 1))),
    Case("gather_windows",
         lambda L, x, i: L.gather(L.mul(x, x), i, WINDOW_G(L), (2, 3), mode="clip"),
         lambda r: (f32(r, 6, 5), ints(r, 0, 5, 2, 2))),
    Case("gather_single_window",
         lambda L, x, i: L.gather(x, i, G((0,), (1,), (1,))(L), (4, 1), mode="clip"),
         lambda r: (f32(r, 4, 3), ints(r, 0, 3, 1))),
]

SCATTER = [
    Case("scatter_add_duplicates",
         lambda L, x, i, u: L.scatter_add(x, i, L.sin(u), ROWS_S(L)),
         lambda r: (f32(r, 5, 3), ints(r, 0, 3, 4, 1), f32(r, 4, 3)), diff=(0, 2)),
    Case("scatter_add_dropped",
         lambda L, x, i, u: L.scatter_add(x, i, u, ROWS_S(L), mode="drop"),
         lambda r: (f32(r, 5, 3), ints(r, -2, 7, 4, 1), f32(r, 4, 3)), diff=(0, 2)),
    Case("scatter_add_clip",
         lambda L, x, i, u: L.scatter_add(x, i, u, ROWS_S(L), mode="clip"),
         lambda r: (f32(r, 5, 3), ints(r, -2, 7, 4, 1), f32(r, 4, 3)), diff=(0, 2)),
    Case("scatter_add_batching_dims",
         lambda L, x, i, u: L.scatter_add(x, i, u, ALONG_S(L)),
         lambda r: (f32(r, 2, 5), ints(r, 0, 5, 2, 3, 1), f32(r, 2, 3)), diff=(0, 2)),
    Case("scatter_sub",
         lambda L, x, i, u: L.scatter_sub(x, i, u, ROWS_S(L)),
         lambda r: (f32(r, 5, 3), ints(r, 0, 5, 4, 1), f32(r, 4, 3)), diff=(0, 2)),
    Case("scatter_duplicates",
         lambda L, x, i, u: L.scatter(L.sin(x), i, u, ROWS_S(L)),
         lambda r: (f32(r, 5, 3), ints(r, 0, 3, 4, 1), f32(r, 4, 3)), diff=(0, 2)),
    Case("scatter_unique",
         lambda L, x, i, u: L.scatter(x, i, u, ROWS_S(L), unique_indices=True),
         lambda r: (f32(r, 5, 3), distinct_rows(r, 5, 3), f32(r, 3, 3)), diff=(0, 2)),
    Case("scatter_batching_dims",
         lambda L, x, i, u: L.scatter(x, i, u, ALONG_S(L)),
         lambda r: (f32(r, 2, 5), ints(r, 0, 5, 2, 3, 1), f32(r, 2, 3)), diff=(0, 2)),
    Case("scatter_mul_operand",
         lambda L, x, i, u: L.scatter_mul(x, i, u, ROWS_S(L)),
         lambda r: (f32(r, 5, 3), ints(r, 0, 3, 4, 1), f32(r, 4, 3))),
    Case("scatter_mul_unique",
         lambda L, x, i, u: L.scatter_mul(x, i, u, ROWS_S(L), unique_indices=True),
         lambda r: (f32(r, 5, 3), distinct_rows(r, 5, 2), f32(r, 2, 3)), diff=(0, 2)),
    Case("scatter_max",
         lambda L, x, i, u: L.scatter_max(x, i, u, ROWS_S(L)),
         lambda r: (spread(r, 5, 3), ints(r, 0, 3, 4, 1), spread(r, 4, 3) * 1.1),
         diff=(0, 2)),
    Case("scatter_min",
         lambda L, x, i, u: L.scatter_min(x, i, u, ROWS_S(L)),
         lambda r: (spread(r, 5, 3), ints(r, 0, 3, 4, 1), spread(r, 4, 3) * 1.1),
         diff=(0, 2)),
]

SORT = [
    Case("sort", lambda L, x: L.sort(x, dimension=0), lambda r: (spread(r, 5, 3),)),
    Case("sort_last", lambda L, x: L.sort(L.sin(x), dimension=1),
         lambda r: (spread(r, 2, 6) * 0.2,)),
    Case("sort_key_val", lambda L, k, v: L.sort((k, v), dimension=1, num_keys=1),
         lambda r: (spread(r, 3, 4), f32(r, 3, 4)), diff=(0, 1)),
    Case("sort_two_keys", lambda L, k1, k2, v: L.sort((k1, k2, v), dimension=0, num_keys=2),
         lambda r: (ints(r, 0, 2, 6, 2), spread(r, 6, 2), f32(r, 6, 2)), diff=(1, 2)),
    Case("top_k", lambda L, x: L.top_k(x, 3)[0], lambda r: (spread(r, 2, 5),)),
    Case("top_k_axis0", lambda L, x: L.top_k(L.mul(x, x), 2, axis=0),
         lambda r: (spread(r, 4, 3) + 20.0,)),
]

DOT = [
    Case("matmul", lambda L, a, b: L.dot(a, b), lambda r: (f32(r, 3, 4), f32(r, 4, 5)),
         diff=(0, 1)),
    Case("vector_dot", lambda L, a, b: L.dot(L.sin(a), b), lambda r: (f32(r, 4), f32(r, 4)),
         diff=(0, 1)),
    Case("batch_matmul",
         lambda L, a, b: L.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
         lambda r: (f32(r, 2, 3, 4), f32(r, 2, 4, 5)), diff=(0, 1)),
    Case("dot_inner_batch_dims",
         lambda L, a, b: L.dot_general(a, b, (((2,), (0,)), ((1,), (2,)))),
         lambda r: (f32(r, 3, 2, 4), f32(r, 4, 5, 2)), diff=(0, 1)),
    Case("dot_two_contractions_reordered",
         lambda L, a, b: L.dot_general(a, b, (((0, 2), (1, 0)), ((), ()))),
         lambda r: (f32(r, 3, 2, 4), f32(r, 4, 3, 5)), diff=(0, 1)),
    Case("dot_outer", lambda L, a, b: L.dot_general(L.mul(a, a), b, (((), ()), ((), ()))),
         lambda r: (f32(r, 3), f32(r, 2)), diff=(0, 1)),
    Case("dot_int_rhs", lambda L, a, m: L.dot(a, m),
         lambda r: (f32(r, 2, 3), ints(r, -3, 4, 3, 4))),
]

CASES = GATHER + SCATTER + SORT + DOT


def c64(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


# complex values (checked against JAX: transposes never conjugate)
COMPLEX = [
    Case("matmul_complex", lambda L, a, b: L.dot(a, b), lambda r: (c64(r, 2, 3), c64(r, 3, 2)),
         diff=(0, 1)),
    Case("gather_complex",
         lambda L, x, i: L.gather(L.mul(x, x), i, ROWS_G(L), (1, 2), mode="clip"),
         lambda r: (c64(r, 4, 2), ints(r, 0, 4, 3, 1))),
    Case("scatter_add_complex",
         lambda L, x, i, u: L.scatter_add(x, i, L.mul(u, u), ROWS_S(L)),
         lambda r: (c64(r, 4, 2), ints(r, 0, 4, 3, 1), c64(r, 3, 2)), diff=(0, 2)),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_grads_second_order(case):
    run_grads(case, np.random.default_rng(0))


@requires_jax
@pytest.mark.parametrize("case", CASES + COMPLEX, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", CASES + COMPLEX, ids=repr)
def test_vmap(case):
    run_vmap(case, np.random.default_rng(2))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_jit(case, backend):  # on every installed backend
    run_jit(case, np.random.default_rng(3))


# ---------------------------------------------------------------------------------------------
# Ties: JAX's conventions exactly


@requires_jax
def test_ties_match_jax():
    x = np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 0.0], [5.0, -1.0, 2.0]], np.float32)
    idx = np.array([[0], [0], [2], [2]], np.int32)
    upd = np.array([[1.0, 9.0, 2.0], [1.0, 9.0, -3.0], [5.0, -1.0, 7.0], [5.0, 0.0, 7.0]],
                   np.float32)
    t = np.random.default_rng(0).standard_normal((3, 3)).astype(np.float32)
    tu = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    for name in ("scatter_max", "scatter_min"):
        def f(L, a, u, name=name):
            return getattr(L, name)(a, idx, u, ROWS_S(L))
        got = plax.jvp(lambda a, u: f(lax, a, u), (x, upd), (t, tu))
        want = jax.jvp(lambda a, u: f(jax_lax, a, u), (x, upd), (t, tu))
        assert_close(got[0], want[0])
        assert_close(got[1], want[1], rtol=1e-5, atol=1e-6)
    # sort and top_k with equal keys: stable order decides which tangent goes where
    k = np.array([[2.0, 1.0, 2.0, 1.0, 0.0]], np.float32)
    tk = np.arange(5, dtype=np.float32)[None]
    for f in (lambda L, v: L.sort(v, dimension=1), lambda L, v: L.top_k(v, 4)[0]):
        assert_close(plax.jvp(lambda v, f=f: f(lax, v), (k,), (tk,))[1],
                     jax.jvp(lambda v, f=f: f(jax_lax, v), (k,), (tk,))[1])


# ---------------------------------------------------------------------------------------------
# The adjoint structure


def _prims(fn, *args):
    jaxpr = plax.make_jaxpr(fn)(*args)
    names = []

    def walk(j):
        for e in j.eqns:
            names.append(e.primitive.name)
            if "jaxpr" in e.params:
                walk(e.params["jaxpr"].jaxpr)
    walk(jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") else jaxpr)
    return names


def test_gather_and_scatter_add_transpose_into_each_other():
    x, i = np.ones((5, 4), np.float32), np.array([[1], [3]], np.int32)
    u = np.ones((2, 4), np.float32)

    def gather_sum(v):
        return lax.reduce_sum(lax.gather(v, i, ROWS_G(lax), (1, 4), mode="clip"), (0, 1))
    assert "scatter-add" in _prims(plax.grad(gather_sum), x)

    def scatter_sum(w):
        return lax.reduce_sum(lax.sin(lax.scatter_add(x, i, w, ROWS_S(lax))), (0, 1))
    assert "gather" in _prims(plax.grad(scatter_sum), u)
    assert_close(plax.grad(gather_sum)(x), [[0] * 4, [1] * 4, [0] * 4, [1] * 4, [0] * 4])


def test_vmap_gather_adds_batching_dims():
    x = np.arange(30, dtype=np.float32).reshape(2, 5, 3)
    i = np.array([[[4], [0]], [[1], [1]]], np.int32)
    f = plax.vmap(lambda v, k: lax.gather(v, k, ROWS_G(lax), (1, 3), mode="clip"))
    jaxpr = plax.make_jaxpr(f)(x, i)
    (eqn,) = [e for e in jaxpr.eqns if e.primitive.name == "gather"]
    assert eqn.params["dimension_numbers"].operand_batching_dims == (0,)
    assert_close(f(x, i), np.stack([x[0][[4, 0]], x[1][[1, 1]]]))


def test_dot_general_vmap_adds_batch_dims_and_transposes_back():
    a = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    f = plax.vmap(lax.dot)
    (eqn,) = plax.make_jaxpr(f)(a, b).eqns
    assert eqn.params["dimension_numbers"][1] == ((0,), (0,))
    assert_close(f(a, b), np.einsum("bij,bjk->bik", a, b), rtol=1e-5)
    ga, gb = plax.grad(lambda p, q: lax.reduce_sum(f(p, q), (0, 1, 2)), argnums=(0, 1))(a, b)
    assert_close(ga, np.broadcast_to(b.sum(2)[:, None, :], a.shape), rtol=1e-5)
    assert_close(gb, np.broadcast_to(a.sum(1)[:, :, None], b.shape), rtol=1e-5)


def test_sort_jvp_uses_the_iota_permutation():
    x = np.array([3.0, 1.0, 2.0], np.float32)
    names = _prims(lambda v: plax.jvp(lambda w: lax.sort(w), (v,), (v,)), x)
    assert "iota" in names and "gather" in names
    out, t = plax.jvp(lambda w: lax.sort(w), (x,), (np.array([10.0, 20.0, 30.0], np.float32),))
    assert_close(t, [20.0, 30.0, 10.0])


def test_dot_general_mixed_dtype_cotangent_dtype():
    a = np.ones((2, 3), np.float32)
    m = np.arange(12, dtype=np.int32).reshape(3, 4)
    g = plax.grad(lambda v: lax.reduce_sum(lax.dot(v, m), (0, 1)))(a)
    assert np.asarray(g).dtype == np.float32
    assert_close(g, np.broadcast_to(m.sum(1), (2, 3)))


def test_dot_general_preferred_element_type_cotangent_dtype():
    with plax.enable_x64():
        a = np.ones((2, 3), np.float32)
        b = np.ones((3,), np.float32)

        def f(v):
            out = lax.dot(v, b, preferred_element_type=np.float64)
            return lax.reduce_sum(out, (0,))
        g = plax.grad(f)(a)
        assert np.asarray(g).dtype == np.float32
        assert_close(g, np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------
# What cannot be differentiated (as in JAX): clear errors


def test_scatter_mul_updates_gradient_needs_unique_indices():
    x, u = np.ones((4, 2), np.float32), np.ones((2, 2), np.float32)
    i = np.array([[1], [1]], np.int32)
    with pytest.raises(NotImplementedError, match="unique_indices=True"):
        plax.grad(lambda w: lax.reduce_sum(lax.scatter_mul(x, i, w, ROWS_S(lax)), (0, 1)))(u)


def test_scatter_mul_transposes_in_the_updates_for_unique_indices():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    u, ct = np.ones((2, 2), np.float32), np.full((4, 2), 2.0, np.float32)
    i = np.array([[3], [1]], np.int32)

    def f(L, w, unique=True, i=i):
        return L.scatter_mul(x, i, w, ROWS_S(L), unique_indices=unique)
    (got,) = plax.linear_transpose(lambda w: f(lax, w), u)(ct)
    assert_close(got, 2.0 * x[[3, 1]])
    if HAVE_JAX:
        assert_close(got, jax.linear_transpose(lambda w: f(jax_lax, w), u)(ct)[0])
    repeated = np.array([[1], [1]], np.int32)
    t = plax.linear_transpose(lambda w: f(lax, w, unique=False, i=repeated), u)
    with pytest.raises(NotImplementedError, match="unique_indices=True"):
        t(ct)


def test_scatter_transpose_needs_unique_indices():
    x, u = np.ones((4, 2), np.float32), np.ones((2, 2), np.float32)
    i = np.array([[1], [1]], np.int32)
    t = plax.linear_transpose(lambda a, w: lax.scatter(a, i, w, ROWS_S(lax)), x, u)
    with pytest.raises(NotImplementedError, match="unique_indices=True"):
        t(x)


def test_dot_general_is_not_jointly_linear():
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 2), np.float32)
    t = plax.linear_transpose(lambda p, q: lax.dot(p, q), a, b)
    with pytest.raises(ValueError, match="dot_general is linear in each operand separately"):
        t(np.ones((2, 2), np.float32))
