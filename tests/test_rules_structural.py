"""Rules of the structural primitives (broadcast_in_dim ... dynamic_update_slice): derivatives
to second order against finite differences and JAX, vmap against Python loops for several
in_axes (and vmap of their jvp/vjp), jit against eager, and the shape of the transposes."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.lax as lax

from conftest import assert_close, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def idx(rng, lo, hi):
    return np.int32(rng.integers(lo, hi))


CASES = [
    Case("broadcast_in_dim_new_axes", lambda L, x: L.broadcast_in_dim(x, (4, 2, 3), (1, 2)),
         lambda r: (f32(r, 2, 3),)),
    Case("broadcast_in_dim_stretch", lambda L, x: L.broadcast_in_dim(x, (2, 4, 3), (0, 2)),
         lambda r: (f32(r, 1, 3),)),
    Case("broadcast_in_dim_scalar", lambda L, x: L.broadcast_in_dim(x, (2, 3), ()),
         lambda r: (f32(r),)),
    # JAX 0.10's own transpose gets non-increasing broadcast_dimensions wrong (a cotangent of
    # the wrong shape), so this one is checked against finite differences only
    Case("broadcast_in_dim_permuted", lambda L, x: L.broadcast_in_dim(x, (2, 4, 3), (2, 0)),
         lambda r: (f32(r, 3, 2),), jax_ok=False),
    Case("reshape", lambda L, x: L.reshape(L.sin(x), (3, 4)), lambda r: (f32(r, 2, 3, 2),)),
    Case("reshape_dimensions", lambda L, x: L.reshape(x, (3, 2), (1, 0)),
         lambda r: (f32(r, 2, 3),)),
    Case("reshape_to_scalar", lambda L, x: L.reshape(x, ()), lambda r: (f32(r, 1, 1),)),
    Case("transpose", lambda L, x: L.transpose(x, (2, 0, 1)), lambda r: (f32(r, 2, 3, 4),)),
    Case("squeeze", lambda L, x: L.squeeze(x, (1, 3)), lambda r: (f32(r, 2, 1, 3, 1),)),
    Case("rev", lambda L, x: L.mul(L.rev(x, (0, 1)), x), lambda r: (f32(r, 2, 3),)),
    Case("concatenate", lambda L, x, y: L.concatenate([x, L.sin(y), x], 1),
         lambda r: (f32(r, 2, 1), f32(r, 2, 3)), diff=(0, 1)),
    Case("concatenate_const", lambda L, x, c: L.concatenate([c, x], 0),
         lambda r: (f32(r, 2, 3), f32(r, 1, 3))),
    Case("pad_interior", lambda L, x, v: L.pad(x, v, ((1, 2, 1), (0, 1, 2))),
         lambda r: (f32(r, 2, 3), f32(r)), diff=(0, 1)),
    Case("pad_negative", lambda L, x, v: L.pad(x, v, ((-1, 2, 1), (2, -3, 0))),
         lambda r: (f32(r, 3, 4), f32(r)), diff=(0, 1)),
    # JAX 0.10's pad transpose fails when only the padding value is being differentiated
    Case("pad_value_only", lambda L, x, v: L.mul(L.pad(x, v, ((1, 1, 0),)), v),
         lambda r: (f32(r, 3), f32(r)), diff=(1,), jax_ok=False),
    Case("pad_empty", lambda L, x, v: L.pad(x, v, ((1, 1, 2), (0, 0, 0))),
         lambda r: (f32(r, 0, 2), f32(r)), diff=(0, 1)),
    Case("slice", lambda L, x: L.slice(x, (1, 0), (4, 6)), lambda r: (f32(r, 5, 6),)),
    Case("slice_strided", lambda L, x: L.slice(x, (1, 0), (5, 6), (2, 4)),
         lambda r: (f32(r, 5, 6),)),
    Case("slice_empty", lambda L, x: L.slice(x, (2, 0), (2, 6), (3, 1)),
         lambda r: (f32(r, 5, 6),)),
    Case("dynamic_slice", lambda L, x, i, j: L.dynamic_slice(x, (i, j), (2, 3)),
         lambda r: (f32(r, 5, 4), idx(r, -5, 5), idx(r, 0, 4))),
    Case("dynamic_slice_clamped", lambda L, x, i: L.dynamic_slice_in_dim(x, i, 3, axis=0),
         lambda r: (f32(r, 4), idx(r, 1, 9))),
    Case("dynamic_slice_index_array", lambda L, x, ij: L.dynamic_slice(x, ij, (2, 2)),
         lambda r: (f32(r, 3, 4), r.integers(-2, 4, size=2).astype(np.int32))),
    Case("dynamic_update_slice",
         lambda L, x, u, i, j: L.dynamic_update_slice(x, L.sin(u), (i, j)),
         lambda r: (f32(r, 5, 4), f32(r, 2, 3), idx(r, -5, 6), idx(r, 0, 3)), diff=(0, 1)),
    Case("dynamic_update_slice_update_only",
         lambda L, x, u, i: L.dynamic_update_slice_in_dim(x, L.mul(u, u), i, axis=0),
         lambda r: (f32(r, 4, 2), f32(r, 2, 2), idx(r, 0, 5)), diff=(1,)),
]


def c64(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


# complex values: transposes are plain transposes (no conjugation), as JAX's
COMPLEX = [
    Case("pad_complex", lambda L, x, v: L.pad(L.mul(x, x), v, ((1, -1, 1), (0, 2, 0))),
         lambda r: (c64(r, 3, 2), c64(r)), diff=(0, 1)),
    Case("dynamic_update_slice_complex",
         lambda L, x, u, i: L.dynamic_update_slice(x, L.mul(u, u), (i, np.int32(0))),
         lambda r: (c64(r, 4, 3), c64(r, 2, 3), idx(r, -1, 4)), diff=(0, 1)),
    Case("broadcast_rev_complex",
         lambda L, x: L.rev(L.broadcast_in_dim(L.mul(x, x), (2, 3), (1,)), (0, 1)),
         lambda r: (c64(r, 3),)),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_grads_second_order(case):
    run_grads(case, np.random.default_rng(0))


@requires_jax
@pytest.mark.parametrize("case", CASES + COMPLEX, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1))


@pytest.mark.parametrize("case", CASES + COMPLEX, ids=repr)
def test_vmap(case):
    run_vmap(case, np.random.default_rng(2))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_jit(case, backend):  # on every installed backend
    run_jit(case, np.random.default_rng(3))


# ---------------------------------------------------------------------------------------------
# What the transposes and batching rules produce


def _prims(jaxpr):
    return [e.primitive.name for e in jaxpr.eqns]


def _vjp_jaxpr(f, *args):
    def g(*xs):
        out, f_vjp = plax.vjp(f, *xs)
        return f_vjp(lax.cos(out))
    return plax.make_jaxpr(g)(*args)


def test_transposes_are_the_adjoint_primitives():
    x = np.ones((5, 6), np.float32)
    assert "pad" in _prims(_vjp_jaxpr(lambda v: lax.slice(v, (1, 0), (5, 6), (2, 4)), x))
    assert "dynamic_update_slice" in _prims(
        _vjp_jaxpr(lambda v: lax.dynamic_slice(v, (np.int32(1), np.int32(2)), (2, 2)), x))
    assert "reduce_sum" in _prims(_vjp_jaxpr(
        lambda v: lax.broadcast_in_dim(v, (3, 5, 6), (1, 2)), x))
    # pad's transpose crops (a negative pad) and takes every (interior+1)-th element
    prims = _prims(_vjp_jaxpr(lambda v: lax.pad(v, np.float32(0), ((1, 1, 1), (0, 0, 0))), x))
    assert "slice" in prims and "pad" in prims


def test_pad_transpose_numbers():
    # against the adjoint built by hand: ct flows to operand positions, the rest to the value
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    cfg = ((1, -1, 1), (-1, 2, 2))
    out, f_vjp = plax.vjp(lambda v, p: lax.pad(v, p, cfg), x, np.float32(0))
    ct = np.random.default_rng(0).standard_normal(np.shape(out)).astype(np.float32)
    ct_x, ct_v = f_vjp(ct)
    marker = np.asarray(lax.pad(np.arange(1, 7, dtype=np.float32).reshape(2, 3),
                                np.float32(0), cfg))
    want_x = np.zeros(6, np.float32)
    for k in range(1, 7):
        want_x[k - 1] = ct[marker == k].sum()
    assert_close(ct_x, want_x.reshape(2, 3))
    assert_close(ct_v, ct[marker == 0].sum(), rtol=1e-5)


def test_vmap_dynamic_slice_batched_index_is_a_gather():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    i = np.array([0, 2, 7], np.int32)
    f = plax.vmap(lambda v, k: lax.dynamic_slice_in_dim(v, k, 2), in_axes=(0, 0))
    assert "gather" in _prims(plax.make_jaxpr(f)(x, i))
    assert_close(f(x, i), np.stack([x[0, 0:2], x[1, 2:4], x[2, 2:4]]))
    g = plax.vmap(lambda v, u, k: lax.dynamic_update_slice_in_dim(v, u, k, 0),
                  in_axes=(None, 0, 0))
    u = np.full((3, 2), -1, np.float32)
    assert "scatter" in _prims(plax.make_jaxpr(g)(x[0], u, i))
    want = np.stack([x[0].copy() for _ in range(3)])
    want[0, 0:2], want[1, 2:4], want[2, 2:4] = -1, -1, -1
    assert_close(g(x[0], u, i), want)


def test_grad_of_vmap_and_vmap_of_grad():
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    i = np.array([4, 0, 2], np.int32)

    def f(v, k):
        return lax.reduce_sum(lax.sin(lax.dynamic_slice_in_dim(v, k, 2)), (0,))

    g = plax.vmap(plax.grad(f), in_axes=(0, 0))(x, i)
    loop = np.stack([np.asarray(plax.grad(f)(x[b], i[b])) for b in range(3)])
    assert_close(g, loop)
    h = plax.grad(lambda v: lax.reduce_sum(plax.vmap(f)(v, i), (0,)))(x)
    assert_close(h, loop)


def test_iota_needs_no_rules():
    # no operand: a jvp or vmap never sees it as transformed, only as a constant
    def f(x):
        return lax.mul(x, lax.convert_element_type(lax.iota(np.int32, 3), np.float32))
    assert_close(plax.grad(lambda v: lax.reduce_sum(f(v), (0,)))(np.ones(3, np.float32)),
                 [0.0, 1.0, 2.0])
    assert_close(plax.vmap(f)(np.ones((2, 3), np.float32)), [[0, 1, 2], [0, 1, 2]])

