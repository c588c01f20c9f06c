"""NumPy indexing of plax arrays: x[idx] over a table of index expressions (basic, advanced,
boolean, mixed, with None and Ellipsis) against NumPy, eagerly and under make_jaxpr; traced
integer indices; JAX's out-of-bounds behaviour; x.at[idx].set/add/... against NumPy's in-place
updates; take and take_along_axis; and the errors for bad indices."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
S = slice(None)

# index expressions for an array of shape (3, 4, 5), all in bounds
INDICES = [
    0, -1, 2, S, slice(1, 3), slice(None, None, -1), slice(3, 0, -2), slice(-2, None),
    slice(10, 20), slice(None, None, 2), (0, 1), (0, 1, 2), (-1, S, 3), (Ellipsis,),
    (Ellipsis, 1), (0, Ellipsis), (None,), (None, 0, None), (S, None, 1), (Ellipsis, None),
    (1, slice(None, None, 2), slice(None, None, -1)), (slice(0, 0),), (S, slice(3, 1)),
    # advanced
    np.array([0, 2]), [0, 2, 1], [[0, 1], [2, 2]], (S, [0, 3]), ([0, 1], [1, 2]),
    ([0, 1], S, [1, 2]), (S, [0, 1], [1, 2]), ([[0], [1]], [1, 2, 3]), (0, [1, 2]),
    (0, S, [1, 2]), ([-1, -3],), (np.array([], np.int32),), ([],), (Ellipsis, [0, 1]),
    (None, [0, 1]), ([0, 1], None, [0, 1]), (S, [0, 1], None, [0, 1]), (slice(1, 3), [0, 1]),
    (slice(None, None, -1), [0, 1]), ([0, 2], slice(None, None, 2)), (np.int32(1),),
    (np.array(1),), ([2, 0], -1, [[1], [3]]), (np.array([1, 0], np.uint8), 3),
    (slice(None, None, -2), S, np.array([4, 0, 4])),
    # boolean
    np.array([True, False, True]), (S, np.array([True, False, True, False])),
    X.reshape(3, 4, 5)[:, :, 0] > 20, X > 30, True, False, (True, 1), ([0, 1], True),
    (np.array([True, True, False]), [1, 2]), (Ellipsis, np.arange(5) % 2 == 0),
    (np.array(True),),
]


def idx_id(idx):
    return repr(idx).replace("\n", "")[:60]


@pytest.mark.parametrize("idx", INDICES, ids=idx_id)
def test_getitem_matches_numpy(backend, idx):
    expected = X[idx]
    out = pnp.asarray(X)[idx]
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(out), expected)


@pytest.mark.parametrize("idx", INDICES, ids=idx_id)
def test_getitem_under_make_jaxpr(idx):
    closed = plax.make_jaxpr(lambda x: x[idx])(X)
    closed.check()
    np.testing.assert_array_equal(np.asarray(jaxpr_as_fun(closed)(X)[0]), X[idx])


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32, np.float16,
                                   np.complex64])
def test_getitem_dtypes_and_0d(dtype):
    x = (np.arange(12) % 3).reshape(3, 4).astype(dtype)
    for idx in [1, (1, 2), [0, 2], (S, [1, 1]), x != 0, (Ellipsis, None), ()]:
        np.testing.assert_array_equal(np.asarray(pnp.asarray(x)[idx]), x[idx])
    z = np.asarray(7, dtype)
    for idx in [(), None, Ellipsis, True, (None, None)]:
        np.testing.assert_array_equal(np.asarray(pnp.asarray(z)[idx]), z[idx])
    e = np.zeros((0, 3), dtype)
    for idx in [S, (S, 1), ([],), (S, [0, 2]), (slice(1, 5),)]:
        assert pnp.asarray(e)[idx].shape == e[idx].shape


def test_traced_integer_indices_use_dynamic_slice():
    for f, args in [(lambda x, i: x[i], (1,)), (lambda x, i: x[i, 1:3], (2,)),
                    (lambda x, i: x[:, i], (-1,)), (lambda x, i, j: x[i, ::-1, j], (1, 2)),
                    (lambda x, i: x[i, None, 2], (-3,))]:
        closed = plax.make_jaxpr(f)(X, *args)
        text = str(closed)
        assert "dynamic_slice" in text and "gather" not in text, text
        got = jaxpr_as_fun(closed)(X, *args)[0]
        np.testing.assert_array_equal(np.asarray(got), f(X, *args))


def test_traced_index_arrays_use_gather():
    idx = np.array([[2, 0], [1, 1]], np.int32)
    for f in [lambda x, i: x[i], lambda x, i: x[:, i], lambda x, i: x[i, :, i],
              lambda x, i: x[1:, i, ::2]]:
        closed = plax.make_jaxpr(f)(X, idx)
        assert "gather" in str(closed)
        np.testing.assert_array_equal(np.asarray(jaxpr_as_fun(closed)(X, idx)[0]), f(X, idx))


def test_out_of_bounds_clamps_like_jax():
    x = pnp.arange(5.0)
    assert float(x[10]) == 4.0 and float(x[-10]) == 0.0  # static ints clamp, as JAX
    np.testing.assert_array_equal(np.asarray(x[np.array([10, -10, -1])]), [4, 0, 4])
    f = plax.make_jaxpr(lambda a, i: a[i])(np.arange(5.0, dtype=np.float32), 0)
    assert float(jaxpr_as_fun(f)(np.arange(5.0, dtype=np.float32), 7)[0]) == 4.0
    assert float(jaxpr_as_fun(f)(np.arange(5.0, dtype=np.float32), -7)[0]) == 0.0
    got = x.at[np.array([1, 10, -10])].get(mode="fill", fill_value=-1.0)
    np.testing.assert_array_equal(np.asarray(got), [1, -1, -1])
    assert np.isnan(float(x.at[7].get(mode="fill")))
    i = pnp.arange(5)
    assert int(i.at[7].get(mode="fill")) == np.iinfo(np.int32).min
    assert int(i.at[7].get(mode="clip")) == 4
    # without wrapping, negative indices are out of bounds
    assert int(i.at[-1].get(mode="fill", wrap_negative_indices=False, fill_value=9)) == 9


@requires_jax
def test_out_of_bounds_matches_jax():
    import jax.numpy as jnp
    x = np.arange(20.0, dtype=np.float32).reshape(4, 5)
    for idx in [(np.array([7, -9]),), (1, 9), (np.array([[9], [-9]]), np.array([0, 8]))]:
        np.testing.assert_array_equal(np.asarray(pnp.asarray(x)[idx]),
                                      np.asarray(jnp.asarray(x)[idx]))
        for mode in ["clip", "fill"]:
            np.testing.assert_array_equal(
                np.asarray(pnp.asarray(x).at[idx].get(mode=mode)),
                np.asarray(jnp.asarray(x).at[idx].get(mode=mode)))
        for mode in [None, "clip", "drop"]:
            np.testing.assert_array_equal(
                np.asarray(pnp.asarray(x).at[idx].add(100.0, mode=mode)),
                np.asarray(jnp.asarray(x).at[idx].add(100.0, mode=mode)))


# ---------------------------------------------------------------------------------------------
# x.at[idx]

SCATTER_INDICES = [
    0, -1, S, slice(1, 3), slice(None, None, -1), slice(3, 0, -2), (0, 1), (-1, S, 3),
    (Ellipsis, 1), (None, 0), (S, None, 1), (1, slice(None, None, 2), slice(None, None, -1)),
    np.array([0, 2]), [[0, 1], [2, 2]], (S, [0, 3]), ([0, 1], [1, 2]), ([0, 1], S, [1, 2]),
    (S, [0, 1], [1, 2]), ([[0], [1]], [1, 2, 3]), (0, S, [1, 2]), ([-1, -3],), ([],),
    (slice(1, 3), [0, 1]), (slice(None, None, -1), [0, 1]), X > 30,
    (np.array([True, False, True]), 2), True, (S, [0, 1], None, [0, 1]), (Ellipsis,),
]


@pytest.mark.parametrize("idx", SCATTER_INDICES, ids=idx_id)
def test_at_set_matches_numpy(backend, idx):
    shape = X[idx].shape
    n = int(np.prod(shape))
    for v in [np.float32(-1), np.arange(n, dtype=np.float32).reshape(shape) + 1000,
              np.arange(shape[-1] if shape else 1, dtype=np.float32).reshape(shape[-1:]) - 7]:
        expected = X.copy()
        expected[idx] = v
        out = pnp.asarray(X).at[idx].set(v)
        np.testing.assert_array_equal(np.asarray(out), expected)


@pytest.mark.parametrize("op", ["add", "multiply", "min", "max", "subtract"])
@pytest.mark.parametrize("idx", [(np.array([0, 2, 0]),), ([1, 1, 1], S, [2, 2, 0]),
                                 (S, [0, 0], 1), 1, (slice(None, None, -1), [3, 3]),
                                 ([[0, 0], [2, 2]], 3)], ids=idx_id)
def test_at_accumulating_updates_match_numpy(backend, op, idx):
    """Repeated indices accumulate, like NumPy's ufunc.at."""
    ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum,
             "subtract": np.subtract}[op]
    x = (X % 7) - 3
    v = (np.arange(int(np.prod(x[idx].shape)), dtype=np.float32).reshape(x[idx].shape) % 5) - 2
    expected = x.copy()
    ufunc.at(expected, idx, v)
    out = getattr(pnp.asarray(x).at[idx], op)(v)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_at_divide_power_apply_get():
    x = np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 4)
    idx = (S, [0, 2])
    e = x.copy()
    e[idx] /= 4
    assert_close(pnp.asarray(x).at[idx].divide(4), e)
    e = x.copy()
    e[idx] **= 2
    assert_close(pnp.asarray(x).at[idx].power(2), e)
    e = x.copy()
    e[idx] = np.sqrt(e[idx])
    assert_close(pnp.asarray(x).at[idx].apply(pnp.sqrt), e)
    np.testing.assert_array_equal(np.asarray(pnp.asarray(x).at[idx].get()), x[idx])
    xi = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(pnp.asarray(xi).at[1].mul(3)),
                                  np.where(np.arange(3)[:, None] == 1, xi * 3, xi))


def test_at_casts_and_drops():
    x = pnp.zeros(5, dtype=pnp.int32)
    out = x.at[1].set(2.7)  # cast to the array's dtype, as JAX
    assert out.dtype == np.int32 and int(out[1]) == 2
    np.testing.assert_array_equal(np.asarray(x.at[10].set(1)), np.zeros(5))  # dropped
    np.testing.assert_array_equal(np.asarray(x.at[np.array([1, 10])].add(1)), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(x.at[10].set(1, mode="clip")), [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(np.asarray(x.at[-1].set(3)), [0, 0, 0, 0, 3])
    np.testing.assert_array_equal(
        np.asarray(x.at[-1].set(3, wrap_negative_indices=False)), np.zeros(5))
    b = pnp.zeros(3, dtype=bool).at[1].set(True)
    np.testing.assert_array_equal(np.asarray(b), [False, True, False])


def test_at_under_make_jaxpr_is_one_scatter():
    def f(x, i, v):
        return x.at[i, 1:3].add(v)
    args = (X[0], np.array([2, 0, 2], np.int32), np.ones((3, 2), np.float32))
    closed = plax.make_jaxpr(f)(*args)
    assert str(closed).count("scatter-add") == 1
    expected = X[0].copy()
    np.add.at(expected, (args[1], slice(1, 3)), args[2])
    np.testing.assert_array_equal(np.asarray(jaxpr_as_fun(closed)(*args)[0]), expected)


# ---------------------------------------------------------------------------------------------
# take, take_along_axis


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_take_matches_numpy(backend, axis, mode):
    idx = np.array([[0, 3], [-1, 7]])
    np.testing.assert_array_equal(np.asarray(pnp.take(X, idx, axis=axis, mode=mode)),
                                  np.take(X, idx, axis=axis, mode=mode))
    np.testing.assert_array_equal(np.asarray(pnp.take(X, 2, axis=axis, mode=mode)),
                                  np.take(X, 2, axis=axis, mode=mode))


def test_take_fills_out_of_bounds_by_default():
    out = pnp.take(np.arange(4.0, dtype=np.float32), np.array([1, -1, 4, -5]))
    np.testing.assert_array_equal(np.asarray(out), [1, 3, np.nan, np.nan])
    out = pnp.take(np.arange(4), np.array([1, 9]), fill_value=-7)
    np.testing.assert_array_equal(np.asarray(out), [1, -7])
    assert pnp.take(np.zeros((2, 0)), np.array([], np.int32), axis=1).shape == (2, 0)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
def test_take_along_axis_matches_numpy(backend, axis):
    rng = np.random.default_rng(0)
    if axis is None:
        idx = rng.integers(-60, 60, (7,))
    else:
        shape = list(X.shape)
        shape[axis] = 6
        idx = rng.integers(-X.shape[axis], X.shape[axis], shape)
    np.testing.assert_array_equal(np.asarray(pnp.take_along_axis(X, idx, axis)),
                                  np.take_along_axis(X, idx, axis))
    order = np.argsort(-X, axis=-1)
    np.testing.assert_array_equal(np.asarray(pnp.take_along_axis(X, order, -1)),
                                  np.take_along_axis(X, order, -1))


def test_take_along_axis_broadcasts_and_fills():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    idx = np.array([[0, 3, 9]])  # broadcasts along axis 0; 9 is out of bounds
    out = np.asarray(pnp.take_along_axis(x, idx, axis=1))
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(out[:, :2], np.take_along_axis(x, idx[:, :2].repeat(3, 0), 1))
    assert np.isnan(out[:, 2]).all()
    closed = plax.make_jaxpr(lambda a, i: pnp.take_along_axis(a, i, 1))(x, idx[:, :2])
    np.testing.assert_array_equal(np.asarray(jaxpr_as_fun(closed)(x, idx[:, :2])[0]),
                                  np.take_along_axis(x, idx[:, :2].repeat(3, 0), 1))


def test_index_array_helpers():
    for o, e in zip(pnp.unravel_index(np.array([0, 5, 7, 23]), (2, 3, 4)),
                    np.unravel_index(np.array([0, 5, 7, 23]), (2, 3, 4))):
        np.testing.assert_array_equal(np.asarray(o), e)
    # out of bounds: negative ones wrap, the rest clamp (as JAX)
    rows, cols = pnp.unravel_index(np.array([-1, 7, -100]), (2, 3))
    np.testing.assert_array_equal(np.asarray(rows), [1, 1, 0])
    np.testing.assert_array_equal(np.asarray(cols), [2, 2, 0])
    np.testing.assert_array_equal(np.asarray(pnp.indices((2, 3))), np.indices((2, 3)))
    for o, e in zip(pnp.indices((2, 3), sparse=True), np.indices((2, 3), sparse=True)):
        np.testing.assert_array_equal(np.asarray(o), e)
    for fn, args in [("tril_indices", (3, -1, 4)), ("triu_indices", (4, 1)),
                     ("diag_indices", (3, 3))]:
        for o, e in zip(getattr(pnp, fn)(*args), getattr(np, fn)(*args)):
            np.testing.assert_array_equal(np.asarray(o), e)
    m = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(pnp.asarray(m)[pnp.triu_indices_from(m, 1)]),
                                  m[np.triu_indices_from(m, 1)])
    np.testing.assert_array_equal(np.asarray(pnp.asarray(m)[pnp.tril_indices_from(m)]),
                                  m[np.tril_indices_from(m)])


# ---------------------------------------------------------------------------------------------
# Errors


def test_index_errors():
    x = pnp.asarray(X)
    with pytest.raises(IndexError, match="too many indices for array: array is 3-dimensional"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match="integer or boolean type"):
        x[np.array([1.0])]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match="boolean index did not match indexed array along axis 0"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match="could not be broadcast together"):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError, match="boolean indices must be concrete"):
        plax.make_jaxpr(lambda a, m: a[m])(X, X > 3)
    with pytest.raises(plax.ConcretizationTypeError, match="slice start must be static"):
        plax.make_jaxpr(lambda a, i: a[i:])(X, 1)
    with pytest.raises(ValueError, match=r"x.at\[...\].set: cannot broadcast an array of "
                       r"shape \(3,\) to shape \(4, 5\)"):
        x.at[0].set(np.ones(3))
    with pytest.raises(ValueError, match="take_along_axis: indices and arr must have the same"):
        pnp.take_along_axis(X, np.array([0]), axis=0)
    with pytest.raises(ValueError, match="invalid mode"):
        pnp.take(X, np.array([0]), mode="bogus")
