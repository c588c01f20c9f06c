"""lax.sort, sort_key_val and top_k: against NumPy (stable argsort, lexsort), bit-exact on NaNs
and signed zeros, against jax.lax, and their errors."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.lax as lax
from plax._src.core import PlaxTypeError

REAL_DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.int32, np.int8, np.uint8, np.bool_]
SHAPES_AXES = [((7,), 0), ((4, 6), 1), ((4, 6), 0), ((2, 3, 5), 1), ((0, 4), 1), ((3, 0), 1)]


def bits(x) -> np.ndarray:
    """The exact bit patterns (distinguishes -0.0 from 0.0 and NaN signs)."""
    x = np.asarray(x)
    return x.view(np.dtype(f"u{x.dtype.itemsize}")) if x.dtype != np.bool_ else x


def special_values(rng, shape, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        pool = np.array([info.min, info.max, 0, 1, 2, 3, info.max - 1], dtype=np.int64)
        return rng.choice(pool, size=shape).astype(dt)
    pool = np.array([0.0, -0.0, 1.5, -1.5, 2.0, np.inf, -np.inf, np.nan, -np.nan, 1.5],
                    np.float32)
    return rng.choice(pool, size=shape).astype(dt)


def numpy_stable_sort(x, axis):
    """NumPy's stable sort already orders NaNs last and keeps -0.0/0.0 in input order."""
    order = np.argsort(x.astype(np.float64) if x.dtype.kind == "V" else x, axis=axis,
                       kind="stable")
    return np.take_along_axis(x, order, axis=axis)


@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_sort_matches_numpy_bit_for_bit(backend, dtype, shape, axis):
    rng = np.random.default_rng(0)
    x = special_values(rng, shape, dtype)
    out = lax.sort(x, dimension=axis)
    assert isinstance(out, plax.Array) and out.dtype == np.dtype(dtype) and out.shape == shape
    np.testing.assert_array_equal(bits(out), bits(numpy_stable_sort(x, axis)))


def test_sort_order_of_specials(backend):
    x = np.array([0.0, -0.0, np.nan, 1.0, -np.nan, -np.inf], np.float32)
    out = np.asarray(lax.sort(x))
    np.testing.assert_array_equal(bits(out[:4]), bits(np.array([-np.inf, 0.0, -0.0, 1.0],
                                                                np.float32)))
    assert np.isnan(out[4:]).all()
    # the two NaNs keep their input order (NaN, then -NaN): all NaNs are equal keys
    assert not np.signbit(out[4]) and np.signbit(out[5])


def test_sort_negative_dimension_and_complex(backend):
    rng = np.random.default_rng(1)
    x = (rng.integers(-2, 3, (3, 5)) + 1j * rng.integers(-2, 3, (3, 5))).astype(np.complex64)
    assert_close(lax.sort(x, dimension=-1), np.sort(x, axis=-1))  # lexicographic (re, im)
    assert_close(lax.sort(x, dimension=-2), np.sort(x, axis=0))


@pytest.mark.parametrize("is_stable", [True, False])
def test_sort_several_operands_by_two_keys(backend, is_stable):
    rng = np.random.default_rng(2)
    k1 = rng.integers(0, 3, (4, 9)).astype(np.int32)
    k2 = rng.choice(np.array([0.5, -0.5, np.nan], np.float32), (4, 9))
    v = rng.standard_normal((4, 9)).astype(np.float32)
    out = lax.sort((k1, k2, v), dimension=1, is_stable=is_stable, num_keys=2)
    assert isinstance(out, tuple) and len(out) == 3
    order = np.lexsort((np.nan_to_num(k2, nan=np.inf), k1), axis=1)
    np.testing.assert_array_equal(out[0], np.take_along_axis(k1, order, 1))
    np.testing.assert_array_equal(bits(out[1]), bits(np.take_along_axis(k2, order, 1)))
    if is_stable:
        np.testing.assert_array_equal(out[2], np.take_along_axis(v, order, 1))
    else:  # only the keys are determined; the values are a permutation within equal keys
        assert sorted(np.asarray(out[2]).ravel()) == sorted(v.ravel())


def test_sort_key_val_is_stable(backend):
    keys = np.array([[3, 1, 3, 1, 2]], np.int32)
    vals = np.array([[0, 1, 2, 3, 4]], np.float32)
    k, v = lax.sort_key_val(keys, vals)
    np.testing.assert_array_equal(k, [[1, 1, 2, 3, 3]])
    np.testing.assert_array_equal(v, [[1, 3, 4, 0, 2]])
    k, v = lax.sort_key_val(keys.T, vals.T, dimension=0)
    np.testing.assert_array_equal(v, [[1], [3], [4], [0], [2]])


def test_sort_errors():
    with pytest.raises(PlaxTypeError, match=r"sort: all operands must have the same shape.*"
                                            r"\(3,\), \(4,\)"):
        lax.sort((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="num_keys=3 must be between 1 and the number of "
                                         "operands, 2"):
        lax.sort((np.zeros(3), np.zeros(3)), num_keys=3)
    with pytest.raises(ValueError, match="num_keys=2 must be 1 for a single operand"):
        lax.sort(np.zeros(3), num_keys=2)
    with pytest.raises(ValueError, match="dimension=2 is out of bounds for an array of rank 2"):
        lax.sort(np.zeros((3, 2)), dimension=2)
    with pytest.raises(ValueError, match="rank 0"):
        lax.sort(np.float32(1.0))
    with pytest.raises(TypeError, match="at least one operand"):
        lax.sort(())
    with pytest.raises(PlaxTypeError, match="num_keys=0"):  # the primitive checks too
        lax.sort_p.bind(np.zeros(3), dimension=0, is_stable=True, num_keys=0)
    with pytest.raises(PlaxTypeError, match="dimension=1 is out of range"):
        lax.sort_p.bind(np.zeros(3), dimension=1, is_stable=True, num_keys=1)


# ---------------------------------------------------------------------------------------------
# top_k


def numpy_top_k(x, k, axis):
    """Descending, ties to the lower index: a stable argsort of the negated order."""
    xm = np.moveaxis(x, axis, -1)
    if xm.dtype == np.bool_:
        key = -xm.astype(np.int64)
    elif xm.dtype.kind in "iu":
        key = -xm.astype(np.int64)
    else:
        key = -xm.astype(np.float64)
    order = np.argsort(key, axis=-1, kind="stable")[..., :k]
    vals = np.take_along_axis(xm, order, -1)
    return np.moveaxis(vals, -1, axis), np.moveaxis(order, -1, axis).astype(np.int32)


@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,axis,k", [((7,), 0, 3), ((4, 6), 1, 6), ((4, 6), 0, 2),
                                          ((2, 3, 5), 1, 1), ((0, 4), 1, 2), ((3, 4), 1, 0)])
def test_top_k_matches_numpy(backend, dtype, shape, axis, k):
    rng = np.random.default_rng(3)
    x = special_values(rng, shape, dtype)
    if np.dtype(dtype).kind not in "iub":  # NaN and signed zeros are covered separately
        x = np.where(np.isnan(x.astype(np.float32)) | (x == 0), np.asarray(1.5, dtype), x)
    values, indices = lax.top_k(x, k, axis=axis)
    ev, ei = numpy_top_k(x, k, axis)
    assert values.dtype == np.dtype(dtype) and indices.dtype == np.int32
    np.testing.assert_array_equal(bits(values), bits(ev))
    np.testing.assert_array_equal(indices, ei)


def test_top_k_total_order_and_ties(backend):
    x = np.array([1.0, np.nan, 3.0, -0.0, 0.0, -np.nan, np.inf, 3.0], np.float32)
    values, indices = lax.top_k(x, 8)
    np.testing.assert_array_equal(indices, [1, 6, 2, 7, 0, 4, 3, 5])
    np.testing.assert_array_equal(bits(values), bits(x[[1, 6, 2, 7, 0, 4, 3, 5]]))
    ints = np.array([np.iinfo(np.int32).min, 5, np.iinfo(np.int32).max, 5], np.int32)
    values, indices = lax.top_k(ints, 3)
    np.testing.assert_array_equal(values, [np.iinfo(np.int32).max, 5, 5])
    np.testing.assert_array_equal(indices, [2, 1, 3])


def test_top_k_errors():
    with pytest.raises(PlaxTypeError, match="top_k does not accept complex"):
        lax.top_k(np.zeros(3, np.complex64), 1)
    with pytest.raises(PlaxTypeError, match=r"k=4 must be in \[0, 3\]"):
        lax.top_k(np.zeros(3), 4)
    with pytest.raises(ValueError, match="k must be nonnegative, got -1"):
        lax.top_k(np.zeros(3), -1)
    with pytest.raises(PlaxTypeError, match="rank >= 1"):
        lax.top_k(np.float32(1), 1)
    with pytest.raises(ValueError, match="axis=1 is out of bounds"):
        lax.top_k(np.zeros(3), 1, axis=1)


# ---------------------------------------------------------------------------------------------
# tracing


def test_jaxprs_check_and_print_like_jax():
    def f(x, y):
        a, b = lax.sort_key_val(x, y)
        v, i = lax.top_k(a, 2)
        return lax.sort(b, dimension=0), v, i

    x = np.arange(5, dtype=np.float32)
    jaxpr = plax.make_jaxpr(f)(x, x.astype(np.int32))
    jaxpr.check()
    text = str(jaxpr)
    assert "sort[dimension=0 is_stable=True num_keys=1] a b" in text
    assert "top_k[axis=0 k=2]" in text and "i32[2] = top_k" in text
    assert [a.str_short() for a in jaxpr.out_avals] == ["i32[5]", "f32[2]", "i32[2]"]
    weak = plax.ShapeDtypeStruct((3,), np.float32, weak_type=True)
    assert plax.eval_shape(lax.sort, weak).weak_type  # as JAX: avals pass through
    v, i = plax.eval_shape(lambda x: lax.top_k(x, 2), weak)
    assert v.weak_type and i.dtype == np.int32
    assert lax.sort_p.multiple_results and lax.top_k_p.multiple_results


# ---------------------------------------------------------------------------------------------
# JAX as the oracle


@requires_jax
@pytest.mark.parametrize("dtype", REAL_DTYPES + [np.complex64], ids=lambda d: np.dtype(d).name)
def test_sort_matches_jax(dtype):
    from jax import lax as jlax
    rng = np.random.default_rng(4)
    if np.dtype(dtype).kind == "c":
        re, im = special_values(rng, (4, 6), np.float32), special_values(rng, (4, 6), np.float32)
        x = np.zeros((4, 6), np.complex64)
        x.real, x.imag = re, im  # every mix of NaN, inf and signed zeros in both parts
    else:
        x = special_values(rng, (4, 6), dtype)
    for dim in (0, 1):
        np.testing.assert_array_equal(bits(lax.sort(x, dimension=dim)),
                                      bits(jlax.sort(x, dimension=dim)))
    y = rng.integers(0, 2, (4, 6)).astype(np.int32)
    ours = lax.sort((y, x, y * 10), num_keys=2)
    theirs = jlax.sort((y, x, y * 10), num_keys=2)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(bits(a), bits(b))


@requires_jax
@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_top_k_matches_jax(dtype):
    from jax import lax as jlax
    rng = np.random.default_rng(5)
    x = special_values(rng, (3, 8), dtype)
    for axis, k in ((1, 5), (0, 3), (-1, 8)):
        ov, oi = lax.top_k(x, k, axis=axis)
        jv, ji = jlax.top_k(x, k, axis=axis)
        np.testing.assert_array_equal(bits(ov), bits(jv))
        np.testing.assert_array_equal(oi, ji)
