"""plax.numpy's sorting and searching against NumPy: sort/argsort (stable, descending, NaNs,
axis=None), lexsort, searchsorted, nonzero/argwhere/flatnonzero/where(cond) with and without
size=, and unique with its optional outputs; traced versions; and errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import same

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun


def rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(0, 5, shape).astype(dt)  # many ties: stability matters
    return np.round(rng.standard_normal(shape), 1).astype(dt)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32, np.float16,
                                   np.float32])
@pytest.mark.parametrize("shape,axis", [((7,), -1), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), None),
                                        ((0, 3), 1), ((4, 0), 0)], ids=str)
def test_sort_argsort(backend, dtype, shape, axis):
    x = rand(shape, dtype)
    same(pnp.sort(x, axis=axis), np.sort(x, axis=axis))
    same(pnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"))
    same(pnp.sort(x, axis=axis, descending=True), np.flip(np.sort(x, axis=axis), axis=axis)
         if axis is not None else np.sort(x, axis=None)[::-1])
    # descending and stable: ties keep their original order
    flat = x if axis is not None else x.reshape(-1)
    ax = axis if axis is not None else 0
    expected = np.argsort(-flat.astype(np.float64), axis=ax, kind="stable")
    same(pnp.argsort(x, axis=axis, descending=True), expected)


def test_sort_nans_and_methods():
    x = np.array([3.0, np.nan, -1.0, np.inf, -np.inf, np.nan, 0.0], np.float32)
    same(pnp.sort(x), np.sort(x))
    same(pnp.argsort(x), np.argsort(x, kind="stable"))
    y = pnp.asarray(rand((3, 4), np.float32))
    same(y.sort(), np.sort(np.asarray(y)))
    same(y.argsort(axis=0), np.argsort(np.asarray(y), axis=0, kind="stable"))
    closed = plax.make_jaxpr(lambda a: pnp.argsort(a, descending=True))(x)
    same(jaxpr_as_fun(closed)(x)[0], pnp.argsort(x, descending=True))


def test_lexsort():
    a, b = rand((8,), np.int32), rand((8,), np.int32, seed=1)
    same(pnp.lexsort((a, b)), np.lexsort((a, b)))
    same(pnp.lexsort(np.stack([a, b])), np.lexsort(np.stack([a, b])))
    m, n = rand((2, 6), np.float32), rand((2, 6), np.float32, seed=2)
    same(pnp.lexsort([m, n], axis=1), np.lexsort([m, n], axis=1))


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(backend, side):
    a = np.array([1.0, 2.0, 2.0, 3.0, 5.0, np.nan], np.float32)
    v = np.array([[0.0, 2.0, 2.5], [5.0, 9.0, np.nan]], np.float32)
    same(pnp.searchsorted(a, v, side=side), np.searchsorted(a, v, side=side))
    same(pnp.searchsorted(a, 2.0, side=side), np.searchsorted(a, 2.0, side=side))
    b = np.array([3, 1, 2, 2])
    v2 = np.array([2, 4, 0])
    same(pnp.searchsorted(b, v2, side=side, sorter=np.argsort(b)),
         np.searchsorted(b, v2, side=side, sorter=np.argsort(b)))
    same(pnp.searchsorted(np.zeros(0), np.ones(1)), [0])


NONZERO_INPUTS = [np.array([0, 3, 0, -1]), np.array([[0, 1.5], [2, 0], [0, 0]]),
                  np.zeros((2, 3)), np.ones((2, 0, 2)), rand((2, 3, 4), np.bool_),
                  np.array([0, 1 + 1j, 0], np.complex64)]


@pytest.mark.parametrize("x", NONZERO_INPUTS, ids=lambda x: f"{x.dtype}{list(x.shape)}")
def test_nonzero_family(backend, x):
    for o, e in zip(pnp.nonzero(x), np.nonzero(x)):
        same(o, e)
    same(pnp.argwhere(x), np.argwhere(x))
    same(pnp.flatnonzero(x), np.flatnonzero(x))
    for o, e in zip(pnp.where(x), np.where(x)):
        same(o, e)
    n = int(np.count_nonzero(x))
    # plax.numpy is backend-independent: the size= variants run on the reference backend only
    for size in [0, max(n - 1, 0), n, n + 3] if backend == "reference" else [n + 1]:
        got = pnp.nonzero(x, size=size, fill_value=-1)
        for o, e in zip(got, np.nonzero(x)):
            pad = np.full(max(size - n, 0), -1)
            same(o, np.concatenate([e[:size], pad]).astype(np.int32))
    same(pnp.argwhere(x, size=n + 1, fill_value=7)[-1], [7] * x.ndim)


def test_nonzero_traced_needs_size():
    x = np.array([[0, 2, 0], [1, 0, 3]])
    closed = plax.make_jaxpr(lambda a: pnp.nonzero(a, size=4, fill_value=(9, 8)))(x)
    outs = jaxpr_as_fun(closed)(x)
    same(outs[0], [0, 1, 1, 9])
    same(outs[1], [1, 0, 2, 8])
    with pytest.raises(plax.ConcretizationTypeError, match="pass size="):
        plax.make_jaxpr(pnp.nonzero)(x)
    with pytest.raises(plax.ConcretizationTypeError, match="pass size="):
        plax.make_jaxpr(lambda a: pnp.where(a))(x)
    same(pnp.argwhere(np.int32(3)), np.argwhere(np.int32(3)))
    same(pnp.argwhere(np.int32(0)), np.argwhere(np.int32(0)))


@pytest.mark.parametrize("x", [np.array([3, 1, 3, 2, 1, 1]), np.array([[2.5, np.nan], [np.nan,
                                                                                      2.5]]),
                               np.array([], np.int32), np.array([True, False, True]),
                               np.array([7])], ids=lambda x: str(x.tolist()))
def test_unique(backend, x):
    outs = pnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    expected = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for name, o, e in zip(["values", "index", "inverse", "counts"], outs, expected):
        o = np.asarray(o)
        assert o.shape == np.shape(e) or name == "inverse", name
        np.testing.assert_array_equal(o.reshape(-1), np.asarray(e).reshape(-1), err_msg=name)
    same(pnp.unique(x), np.unique(x))
    if backend != "reference":
        return
    n = len(np.unique(x))
    vals, counts = pnp.unique(x, return_counts=True, size=n + 2, fill_value=0)
    same(np.asarray(vals)[:n], np.unique(x))
    same(np.asarray(counts)[n:], [0, 0])
    assert pnp.unique_values(x).shape == (n,)


@requires_jax
def test_unique_with_size_matches_jax():
    import jax
    import jax.numpy as jnp
    x = np.array([[3, 1, 3], [2, 1, 0]])
    kws = [dict(size=6), dict(size=3), dict(size=6, fill_value=-5)]
    all_expected = jax.jit(lambda a: [jnp.unique(a, return_index=True, return_inverse=True,
                                                 return_counts=True, **kw) for kw in kws])(x)
    for kw, expected in zip(kws, all_expected):
        outs = pnp.unique(x, return_index=True, return_inverse=True, return_counts=True, **kw)
        for o, e in zip(outs, expected):
            same(o, e)
    closed = plax.make_jaxpr(lambda a: pnp.unique(a, size=5))(x)
    same(jaxpr_as_fun(closed)(x)[0], all_expected[0][0][:5])


def test_bincount_isin(backend):
    x = np.array([0, 1, 1, 3, 1])
    same(pnp.bincount(x), np.bincount(x))
    same(pnp.bincount(x, minlength=7), np.bincount(x, minlength=7))
    w = np.array([0.5, 1.0, 2.0, 0.25, 1.0], np.float32)
    same(pnp.bincount(x, w), np.bincount(x, w).astype(np.float32))
    same(pnp.bincount(np.array([0, -2, 5]), length=4), [2, 0, 0, 0])  # as JAX
    closed = plax.make_jaxpr(lambda a: pnp.bincount(a, length=5))(x)
    same(jaxpr_as_fun(closed)(x)[0], np.bincount(x, minlength=5))
    with pytest.raises(plax.ConcretizationTypeError, match="bincount"):
        plax.make_jaxpr(pnp.bincount)(x)
    e, t = np.arange(6).reshape(2, 3), np.array([[1, 4], [9, 0]])
    same(pnp.isin(e, t), np.isin(e, t))
    same(pnp.isin(e, t, invert=True), np.isin(e, t, invert=True))
    same(pnp.isin(2.0, np.arange(3)), np.isin(2.0, np.arange(3)))


def test_errors():
    with pytest.raises(ValueError, match="cannot sort a 0-d array"):
        pnp.sort(np.float32(1))
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        pnp.argsort(np.ones((2, 2)), axis=2)
    with pytest.raises(NotImplementedError, match="order argument"):
        pnp.sort(np.ones(3), order="x")
    with pytest.raises(ValueError, match="nonzero is not allowed on 0-d arrays"):
        pnp.nonzero(np.float32(1))
    with pytest.raises(ValueError, match="searchsorted: a must be 1-D"):
        pnp.searchsorted(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="fill_value must be a scalar or have one entry"):
        pnp.nonzero(np.ones((2, 2)), size=3, fill_value=(1, 2, 3))
    with pytest.raises(NotImplementedError, match="unique: only axis=None"):
        pnp.unique(np.ones((2, 2)), axis=0)
