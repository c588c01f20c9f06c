"""plax.numpy's reductions: values against NumPy over axes (None, ints, tuples, negative),
keepdims, where= and initial=, on several dtypes and on empty and 0-d arrays; result dtypes and
weak types against JAX; NaN handling; traced versions; and errors for bad axes."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import grid, rand as _rand

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun

DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.float16, np.float32, np.complex64]
SHAPE_AXES = [((), None), ((5,), None), ((5,), 0), ((2, 3, 4), None), ((2, 3, 4), 1),
              ((2, 3, 4), (0, 2)), ((2, 3, 4), -1), ((0, 3), 0), ((0, 3), 1), ((0, 3), None)]
# plax.numpy is backend-independent (lax ops only): the full grids run on the reference backend,
# other backends (which compile every op) get a smaller, representative one
SMALL_SHAPE_AXES = [((2, 3, 4), (0, 2)), ((0, 3), 1)]
# integers in [-4, 5) (unsigned: [0, 5)); bools True with probability 0.6
rand = functools.partial(_rand, lo=-4, hi=5, p_true=0.6)


def jax_type(fn, x):
    import jax
    out = jax.eval_shape(fn, x)
    return out.dtype, out.weak_type


def plax_type(fn, x):
    """(dtype, weak_type) by abstract evaluation: nothing compiles or runs."""
    out = plax.eval_shape(fn, x)
    return np.dtype(out.dtype), out.weak_type


def check(out, expected, in_dtype):
    expected = np.asarray(expected)
    out = np.asarray(out)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    low = np.dtype(in_dtype) == np.float16 or out.dtype == np.float16
    assert_close(out, expected.astype(out.dtype), dtype=np.float16 if low else None)


def wide(x):
    dt = x.dtype
    return x.astype(np.complex128 if dt.kind == "c" else np.float64 if dt.kind == "f" else
                    np.int64 if dt.kind in "iub" else dt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_prod_mean_against_numpy(backend, dtype):
    for (shape, axis), keepdims in grid(backend, [(sa, k) for sa in SHAPE_AXES
                                                  for k in (False, True)],
                                        [(sa, True) for sa in SMALL_SHAPE_AXES]):
        _check_sums(dtype, shape, axis, keepdims)


def _check_sums(dtype, shape, axis, keepdims):
    x = rand(shape, dtype)
    w = wide(x)
    check(pnp.sum(x, axis, keepdims=keepdims), np.sum(w, axis, keepdims=keepdims), dtype)
    check(pnp.prod(x, axis, keepdims=keepdims), np.prod(w, axis, keepdims=keepdims), dtype)
    if x.size and all(x.shape[a] for a in np.atleast_1d(axis if axis is not None else [])):
        with np.errstate(all="ignore"):
            check(pnp.mean(x, axis, keepdims=keepdims), np.mean(w, axis, keepdims=keepdims),
                  dtype)
    check(pnp.all(x, axis, keepdims=keepdims), np.all(x, axis, keepdims=keepdims), dtype)
    check(pnp.any(x, axis, keepdims=keepdims), np.any(x, axis, keepdims=keepdims), dtype)
    check(pnp.count_nonzero(x, axis, keepdims=keepdims),
          np.count_nonzero(x, axis, keepdims=keepdims), dtype)


@pytest.mark.filterwarnings("ignore:Degrees of freedom")
@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != np.complex64])
def test_extrema_and_moments_against_numpy(backend, dtype):
    nonempty = [sa for sa in SHAPE_AXES if 0 not in sa[0]]
    for (shape, axis), keepdims in grid(backend, [(sa, k) for sa in nonempty
                                                  for k in (False, True)],
                                        [(((2, 3, 4), 1), False)]):
        _check_extrema(dtype, shape, axis, keepdims)


def _check_extrema(dtype, shape, axis, keepdims):
    x = rand(shape, dtype)
    check(pnp.max(x, axis, keepdims=keepdims), np.max(x, axis, keepdims=keepdims), dtype)
    check(pnp.min(x, axis, keepdims=keepdims), np.min(x, axis, keepdims=keepdims), dtype)
    if dtype != np.bool_:
        check(pnp.ptp(x, axis, keepdims=keepdims), np.ptp(wide(x), axis, keepdims=keepdims),
              dtype)
    for ddof in (0, 1):
        with np.errstate(all="ignore"):
            ev = np.var(wide(x), axis, ddof=ddof, keepdims=keepdims)
            es = np.std(wide(x), axis, ddof=ddof, keepdims=keepdims)
        check(pnp.var(x, axis, ddof=ddof, keepdims=keepdims), ev, dtype)
        check(pnp.std(x, axis, ddof=ddof, keepdims=keepdims), es, dtype)
    check(pnp.median(x, axis, keepdims=keepdims), np.median(wide(x), axis, keepdims=keepdims),
          dtype)


def test_complex_moments_and_order():
    x = rand((3, 4), np.complex64)
    x[1, 2] = x[1, 0].real + 5j  # equal real parts: the imaginary part decides
    x[1, 3] = x[1, 0].real + 5j  # a tie: the first one wins
    for fn in ["argmax", "argmin"]:
        for axis in [None, 0, 1]:
            np.testing.assert_array_equal(np.asarray(getattr(pnp, fn)(x, axis)),
                                          getattr(np, fn)(x, axis))
    check(pnp.var(x, 1), np.var(x, 1), np.complex64)
    check(pnp.std(x), np.std(x), np.complex64)
    assert pnp.var(x).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32, np.float16,
                                   np.float32])
def test_arg_and_cumulative_against_numpy(backend, dtype):
    for shape, axis in grid(backend, [((5,), 0), ((2, 3, 4), 1), ((2, 3, 4), -1),
                                      ((2, 3), None), ((4,), None)], [((2, 3, 4), -1)]):
        _check_arg_cum(dtype, shape, axis)


def _check_arg_cum(dtype, shape, axis):
    x = rand(shape, dtype)
    check(pnp.argmax(x, axis), np.argmax(x, axis), dtype)
    check(pnp.argmin(x, axis), np.argmin(x, axis), dtype)
    check(pnp.argmax(x, axis, keepdims=True), np.argmax(x, axis, keepdims=True), dtype)
    out = pnp.cumsum(x, axis)
    expected = np.cumsum(x if dtype != np.bool_ else x.astype(np.int32), axis,
                         dtype=out.dtype)
    check(out, expected, dtype)
    out = pnp.cumprod(x, axis)
    check(out, np.cumprod(x, axis, dtype=out.dtype), dtype)


def test_where_and_initial():
    x = rand((3, 4), np.float32)
    m = x > 0
    for axis in [None, 0, 1]:
        assert_close(pnp.sum(x, axis, where=m), np.sum(x, axis, where=m))
        assert_close(pnp.sum(x, axis, initial=2.5), np.sum(x, axis, initial=2.5))
        assert_close(pnp.prod(x, axis, where=m, initial=2.0), np.prod(x, axis, where=m,
                                                                       initial=2.0))
        assert_close(pnp.max(x, axis, where=m, initial=-9.0),
                     np.max(x, axis, where=m, initial=-9.0))
        assert_close(pnp.min(x, axis, initial=0.0), np.min(x, axis, initial=0.0))
        assert_close(pnp.all(x, axis, where=m), np.all(x, axis, where=m))
        assert_close(pnp.any(x, axis, where=~m), np.any(x, axis, where=~m))
        with np.errstate(all="ignore"):
            assert_close(pnp.mean(x, axis, where=m), np.mean(x, axis, where=m))
            assert_close(pnp.var(x, axis, where=m), np.var(x, axis, where=m))
    # where broadcasts against the array
    assert_close(pnp.sum(x, 0, where=np.array([True, False, True, True])),
                 np.sum(x, 0, where=np.array([True, False, True, True])))
    assert_close(pnp.max(np.zeros((0, 3)), 0, initial=1.0), np.max(np.zeros((0, 3)), 0,
                                                                     initial=1.0))
    assert_close(pnp.sum(np.arange(4), dtype=np.float16), 6.0)


def test_nan_reductions():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [4.0, 5.0, -1.0]],
                 np.float32)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        for name in ["nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd"]:
            for axis in [None, 0, 1]:
                assert_close(getattr(pnp, name)(x, axis), getattr(np, name)(x, axis),
                             err_msg=f"{name} axis={axis}")
    for name in ["nancumsum", "nancumprod"]:
        assert_close(getattr(pnp, name)(x, 1), getattr(np, name)(x, 1))
    assert np.isnan(float(pnp.max(x))) and np.isnan(float(pnp.median(x)))
    assert int(pnp.argmax(x)) == 1  # the first NaN, as NumPy
    ints = np.arange(6).reshape(2, 3)
    assert_close(pnp.nanmax(ints, 0), ints.max(0))
    assert_close(pnp.nansum(ints), 15)


def test_average():
    x = rand((3, 4), np.float32)
    w = np.abs(rand((3, 4), np.float32, seed=3)) + 0.1
    assert_close(pnp.average(x), np.average(x))
    assert_close(pnp.average(x, 1, w), np.average(x, 1, w))
    assert_close(pnp.average(x, 0, w[:, 0]), np.average(x, 0, w[:, 0]))
    avg, sw = pnp.average(x, 1, w, returned=True)
    eavg, esw = np.average(x, 1, w, returned=True)
    assert_close(avg, eavg)
    assert_close(sw, esw)
    avg, n = pnp.average(x, 0, returned=True)
    assert_close(n, np.full(4, 3.0))
    assert pnp.average(np.arange(4)).dtype == np.float32


def test_cumulative_api():
    x = np.arange(1, 7).reshape(2, 3)
    assert_close(pnp.cumulative_sum(x, axis=1, include_initial=True),
                 np.concatenate([np.zeros((2, 1)), np.cumsum(x, 1)], 1))
    assert_close(pnp.cumulative_prod(np.arange(1, 5)), np.cumprod(np.arange(1, 5)))


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_quantiles(backend, method):
    x = rand((3, 4, 5), np.float32)
    for q in [0.3, np.array([0.0, 0.25, 1.0])] if backend == "reference" else [0.3]:
        for axis in [None, 1, (0, 2)]:
            for keepdims in [False, True]:
                check(pnp.quantile(x, q, axis, method=method, keepdims=keepdims),
                      np.quantile(x, q, axis, method=method, keepdims=keepdims), np.float32)
    check(pnp.percentile(np.arange(10), np.array([10, 50]), method=method),
          np.percentile(np.arange(10), [10, 50], method=method), np.float32)
    xn = x.copy()
    xn[0, 1, 2] = np.nan
    xn[1] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        check(pnp.nanquantile(xn, 0.4, 2, method=method), np.nanquantile(xn, 0.4, 2,
                                                                          method=method),
              np.float32)
        check(pnp.nanpercentile(xn, 40, (0, 1), method=method),
              np.nanpercentile(xn, 40, (0, 1), method=method), np.float32)
    check(pnp.quantile(xn, 0.5, 2, method=method), np.quantile(xn, 0.5, 2, method=method),
          np.float32)


def test_nanmedian_nanarg_diff():
    x = np.array([[1.0, np.nan, 3.0, 0.5], [np.nan] * 4, [4.0, 5.0, -1.0, 2.0]], np.float32)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        check(pnp.nanmedian(x, 1), np.nanmedian(x, 1), np.float32)
    check(pnp.nanargmax(x, 1), [2, -1, 1], np.float32)  # -1 for all-NaN rows, as JAX
    check(pnp.nanargmin(x, 1), [3, -1, 2], np.float32)
    check(pnp.nanargmax(x[2]), 1, np.float32)
    y = rand((3, 5), np.int32)
    for n in [0, 1, 2, 6]:
        for axis in [0, -1]:
            check(pnp.diff(y, n, axis), np.diff(y, n, axis), np.int32)
    check(pnp.diff(y, prepend=0, append=np.ones((3, 1))), np.diff(y, prepend=0,
                                                                   append=np.ones((3, 1))),
          np.float32)
    b = np.array([True, False, False, True])
    check(pnp.diff(b), np.diff(b), np.bool_)


@requires_jax
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "all",
                                  "any", "argmax", "argmin", "cumsum", "cumprod", "nansum",
                                  "nanmax", "nanmean", "count_nonzero", "ptp", "median",
                                  "average", "nanstd", "nancumsum"])
def test_result_dtypes_match_jax(name, dtype):
    import jax.numpy as jnp
    x = rand((2, 3), dtype)
    try:
        expected = jax_type(getattr(jnp, name), x)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            plax_type(getattr(pnp, name), x)
        return
    assert plax_type(getattr(pnp, name), x) == expected


@requires_jax
def test_dtype_argument_and_weak_inputs_match_jax():
    import jax.numpy as jnp
    x = rand((2, 3), np.int8)
    for name, kw in [("sum", dict(dtype=np.int8)), ("mean", dict(dtype=np.float16)),
                     ("sum", dict(dtype=np.float32)), ("prod", dict(dtype=np.uint8)),
                     ("cumsum", dict(dtype=np.float32)), ("var", dict(dtype=np.float16))]:
        dt, weak = jax_type(lambda a, name=name, kw=kw: getattr(jnp, name)(a, **kw), x)
        out = getattr(pnp, name)(x, **kw)
        assert (out.dtype, out.weak_type) == (dt, weak), name
    for name in ["sum", "max", "mean", "cumsum"]:
        import jax
        expected = jax.eval_shape(lambda name=name: getattr(jnp, name)(jnp.full((3,), 2.0)))
        out = getattr(pnp, name)(pnp.full((3,), 2.0))
        assert (out.dtype, out.weak_type) == (expected.dtype, expected.weak_type), name


def test_float16_accumulates_in_float32():
    x = np.full(4096, 1.0, np.float16)
    assert float(pnp.sum(x)) == 4096.0  # float16 alone stalls at 2048
    assert pnp.sum(x).dtype == np.float16
    text = str(plax.make_jaxpr(pnp.sum)(x))
    assert "f32[4096]" in text and "reduce_sum" in text


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "argmin", "cumsum", "median",
                                  "nanmax", "all", "count_nonzero"])
def test_under_make_jaxpr(name):
    x = rand((3, 4), np.float32)
    f = lambda a: getattr(pnp, name)(a, axis=1)  # noqa: E731
    closed = plax.make_jaxpr(f)(x)
    closed.check()
    assert_close(jaxpr_as_fun(closed)(x)[0], f(x))


def test_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="sum: axis 2 is out of bounds for array of dimension 2"):
        pnp.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        pnp.sum(x, axis=(0, -2))
    with pytest.raises(ValueError, match="zero-size array to reduction operation max"):
        pnp.max(np.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match="max with where requires initial"):
        pnp.max(x, where=x > 0)
    with pytest.raises(ValueError, match="argmax of an empty sequence"):
        pnp.argmax(np.zeros(0))
    with pytest.raises(TypeError, match="where must be a boolean array"):
        pnp.sum(x, where=np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="out"):
        pnp.sum(x, out=np.zeros(3))
    with pytest.raises(TypeError, match="sum requires ndarray"):
        pnp.sum([1, 2])
    with pytest.raises(plax.ConcretizationTypeError, match="axis"):
        plax.make_jaxpr(lambda a, ax: pnp.sum(a, axis=ax))(x, 0)
