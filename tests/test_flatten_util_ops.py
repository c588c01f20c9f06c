"""plax.flatten_util.ravel_pytree and plax.ops' segment reductions against jax.flatten_util and
jax.ops, on every installed backend: values, dtypes, the unravel function's checks, and the
transformations (jit, vmap, grad)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
from plax import numpy as pnp
from plax.flatten_util import ravel_pytree
from plax.ops import segment_max, segment_min, segment_prod, segment_sum
from plax.test_util import check_grads

pytestmark = requires_jax

TREES = {
    "one_dtype": lambda: {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                          "b": (np.float32(2.5), np.ones((0, 2), np.float32))},
    "int_and_float": lambda: [np.arange(3, dtype=np.int32), np.linspace(0, 1, 4,
                                                                       dtype=np.float32)],
    "bool_and_int": lambda: (np.array([True, False]), np.array([3, 4], np.int32)),
    "complex_and_float": lambda: {"z": np.array([1 + 2j], np.complex64),
                                  "x": np.array([3.0, 4.0], np.float32)},
    "python_scalars": lambda: (1.5, 2, [np.float32(3)]),
    "empty": lambda: {"a": (), "b": []},
}


@pytest.mark.parametrize("name", sorted(TREES))
def test_ravel_pytree_matches_jax(backend, name):
    import jax
    from jax.flatten_util import ravel_pytree as jax_ravel
    tree = TREES[name]()
    flat, unravel = ravel_pytree(tree)
    jflat, junravel = jax_ravel(tree)
    assert flat.dtype == jflat.dtype and flat.shape == jflat.shape
    assert_close(flat, jflat)
    back, jback = unravel(flat), junravel(jflat)
    assert (plax.tree_util.tree_structure(back).num_leaves
            == jax.tree_util.tree_structure(jback).num_leaves)
    for a, e in zip(plax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(jback)):
        assert a.dtype == e.dtype and a.shape == e.shape
        assert_close(a, e)


def test_unravel_checks_dtype_and_shape():
    flat, unravel = ravel_pytree([np.arange(3, dtype=np.int32), np.ones(2, np.float32)])
    with pytest.raises(TypeError, match="dtype int32, but expected dtype float32"):
        unravel(np.arange(5, dtype=np.int32))
    with pytest.raises(ValueError, match=r"shape \(4,\).*expected shape \(5,\)"):
        unravel(np.ones(4, np.float32))
    # one dtype: the unravel function takes any dtype (as JAX's, jax-ml/jax#7809)
    _, unravel1 = ravel_pytree({"a": np.ones(2, np.float32)})
    assert unravel1(np.arange(2, dtype=np.int32))["a"].dtype == np.int32
    # equal structures give equal (hashable) unravel functions
    assert unravel1 == ravel_pytree({"a": np.zeros(2, np.float32)})[1]
    assert hash(unravel1) == hash(ravel_pytree({"a": np.zeros(2, np.float32)})[1])


def test_ravel_pytree_under_jit_vmap_grad(backend):
    tree = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float32(1.0)}
    flat, unravel = ravel_pytree(tree)
    assert_close(plax.jit(lambda t: ravel_pytree(t)[0])(tree), flat)
    batch = np.stack([np.asarray(flat), 2 * np.asarray(flat)])
    out = plax.vmap(unravel)(batch)
    assert out["w"].shape == (2, 2, 3)
    assert_close(out["w"][1], 2 * tree["w"])

    def loss(t):
        v = ravel_pytree(t)[0]
        return pnp.sum(pnp.sin(v) * v)
    g = plax.grad(loss)(tree)
    assert_close(g["w"], np.sin(tree["w"]) + tree["w"] * np.cos(tree["w"]), rtol=1e-5)
    check_grads(lambda v: loss(unravel(v)), (flat,), order=2, modes=("fwd", "rev"))


DATA = np.random.RandomState(0).randn(9, 2).astype(np.float32)
IDS = np.array([0, 3, 3, -1, 5, 1, 0, 2, 7])  # -1, 5 and 7 fall outside 4 segments
OPS = {"sum": segment_sum, "prod": segment_prod, "max": segment_max, "min": segment_min}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("kw", [dict(num_segments=4), dict(num_segments=4, bucket_size=4),
                                dict(num_segments=4, mode="clip"), dict(),
                                dict(num_segments=8, indices_are_sorted=False)],
                         ids=["n4", "bucket4", "clip", "default_n", "n8"])
def test_segment_ops_match_jax(backend, op, kw):
    import jax.ops
    expect = getattr(jax.ops, f"segment_{op}")(DATA, IDS, **kw)
    assert_close(OPS[op](DATA, IDS, **kw), expect)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_segment_ops_integer_identity(dtype):
    import jax.ops
    data = (np.arange(6) % 3).astype(dtype)
    ids = np.array([0, 0, 2, 2, 2, 1])
    for op in ("max", "min", "sum") if dtype == np.int32 else ("max", "min"):
        expect = getattr(jax.ops, f"segment_{op}")(data, ids, num_segments=5)
        got = OPS[op](data, ids, num_segments=5)
        assert got.dtype == expect.dtype
        assert_close(got, expect)


def test_segment_ops_jit_vmap_and_grads(backend):
    import jax
    import jax.ops
    ids = np.array([0, 1, 1, 2, 0, 2])
    x = np.random.RandomState(1).randn(6, 3).astype(np.float32)
    f = plax.jit(lambda d, i: segment_sum(d, i, num_segments=3, indices_are_sorted=False))
    assert_close(f(x, ids), jax.ops.segment_sum(x, ids, num_segments=3))
    got = plax.vmap(lambda d: segment_max(d, ids, num_segments=3), in_axes=1)(x)
    expect = jax.vmap(lambda d: jax.ops.segment_max(d, ids, num_segments=3), in_axes=1)(x)
    assert_close(got, expect)
    for op in ("sum", "max", "min"):  # segment_prod's gradient: neither has one (scatter_mul)
        loss = (lambda o: lambda d: pnp.sum(pnp.sin(OPS[o](d, ids, num_segments=3))))(op)
        jloss = (lambda o: lambda d: jax.numpy.sum(jax.numpy.sin(
            getattr(jax.ops, f"segment_{o}")(d, ids, num_segments=3))))(op)
        assert_close(plax.grad(loss)(x), jax.grad(jloss)(x), rtol=1e-5, atol=1e-6)
    check_grads(lambda d: segment_sum(d, ids, num_segments=3), (x,), order=2,
                modes=("fwd", "rev"))


def test_segment_ops_bad_input():
    with pytest.raises(ValueError, match="num_segments must be non-negative"):
        segment_sum(DATA, IDS, num_segments=-1)
    with pytest.raises(TypeError, match="segment_ids must be an array of integers"):
        segment_sum(DATA, IDS.astype(np.float32), num_segments=3)
    with pytest.raises(ValueError, match="leading axis"):
        segment_sum(DATA[:3], IDS, num_segments=3)
    with pytest.raises(ValueError, match="bucket_size must be a positive int"):
        segment_sum(DATA, IDS, num_segments=3, bucket_size=0)
    with pytest.raises(ValueError, match="num_segments must be given"):
        plax.jit(lambda i: segment_sum(DATA, i))(IDS)
