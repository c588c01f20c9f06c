"""lax's reductions, argmax/argmin and cumulative reductions: values against NumPy (several
shapes, dtypes, empty and 0-d operands, NaNs, integer wrap-around), weak types, the jaxpr text
against what JAX prints, the jaxpr checker, and the errors for bad axes and dtypes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import rand

import plax
import plax.lax as lax
from plax._src.core import JaxprTypeError, PlaxTypeError

BF16 = ml_dtypes.bfloat16
NUMBERS = [np.int8, np.uint8, np.int32, np.float16, BF16, np.float32, np.complex64]
ORDERED = [np.bool_, np.int8, np.uint8, np.int32, np.float16, BF16, np.float32]
SHAPES_AXES = [((), ()), ((5,), (0,)), ((2, 3, 4), (0, 2)), ((2, 3, 4), (1,)), ((2, 3, 4), ()),
               ((2, 3), (0, 1)), ((0, 3), (0,)), ((2, 0), (1,)), ((0, 3), (1,))]


def wide(x):
    """x in a type NumPy computes exactly enough in: int64 (wraps like the narrow type modulo its
    width), float64, complex128."""
    dt = np.asarray(x).dtype
    return np.asarray(x).astype(np.complex128 if dt.kind == "c" else
                                np.int64 if dt.kind in "iu" else np.float64)


def close(out, expected, dtype):
    out = np.asarray(out)
    assert out.dtype == np.dtype(dtype), (out.dtype, dtype)
    assert_close(out, np.asarray(expected).astype(dtype), dtype)


# ---------------------------------------------------------------------------------------------
# reduce_*


@pytest.mark.parametrize("dtype", NUMBERS)
@pytest.mark.parametrize("shape,axes", SHAPES_AXES)
def test_reduce_sum_and_prod(backend, dtype, shape, axes):
    x = rand(shape, dtype)
    # integer results wrap around in the operand's dtype, as in XLA (no accumulation upcast)
    close(lax.reduce_sum(x, axes), np.sum(wide(x), axis=axes), dtype)
    small = rand(shape, dtype, seed=1, lo=-3, hi=4)
    close(lax.reduce_prod(small, axes), np.prod(wide(small), axis=axes), dtype)


def test_integer_sum_wraps(backend):
    x = np.full((40,), 100, np.int8)
    assert int(lax.reduce_sum(x, (0,))) == np.int8(np.int64(4000).astype(np.int8))
    assert int(lax.reduce_prod(np.full(3, 200, np.uint8), (0,))) == (200 ** 3) % 256


def _identity(kind, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return kind == "min"
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return info.min if kind == "max" else info.max
    return -np.inf if kind == "max" else np.inf


@pytest.mark.parametrize("dtype", ORDERED + [np.complex64])
@pytest.mark.parametrize("shape,axes", SHAPES_AXES)
def test_reduce_max_min(backend, dtype, shape, axes):
    x = rand(shape, dtype)
    for kind, f, np_f in (("max", lax.reduce_max, np.max), ("min", lax.reduce_min, np.min)):
        # empty reductions give the identity: -inf / the smallest integer / False for max
        expected = np_f(wide(x), axis=axes,
                        initial=wide(np.array(_identity(kind, dtype)).astype(dtype)))
        close(f(x, axes), expected, dtype)


def test_reduce_max_min_nan_and_complex_order(backend):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -np.inf]], np.float32)
    close(lax.reduce_max(x, (1,)), [np.nan, 5.0], np.float32)
    close(lax.reduce_min(x, (0,)), [1.0, np.nan, -np.inf], np.float32)
    z = np.array([1 + 2j, 1 + 3j, 0 + 5j], np.complex64)  # lexicographic, as XLA
    close(lax.reduce_max(z, (0,)), 1 + 3j, np.complex64)
    close(lax.reduce_min(z, (0,)), 5j, np.complex64)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32])
@pytest.mark.parametrize("shape,axes", SHAPES_AXES)
def test_reduce_logical(backend, dtype, shape, axes):
    x = rand(shape, dtype)
    ones = np.array(True) if dtype is np.bool_ else np.array(-1).astype(dtype)
    close(lax.reduce_and(x, axes), np.bitwise_and.reduce(x, axis=axes, initial=ones), dtype)
    close(lax.reduce_or(x, axes), np.bitwise_or.reduce(x, axis=axes), dtype)
    close(lax.reduce_xor(x, axes), np.bitwise_xor.reduce(x, axis=axes), dtype)


def test_reduction_weak_types(backend):
    assert lax.reduce_sum(2.0, ()).weak_type
    assert lax.reduce_max(lax.full((3,), 2), (0,)).weak_type
    assert not lax.reduce_or(2, ()).weak_type  # the logical reductions drop the weak type
    assert not lax.argmax(lax.full((3,), 2.0), 0, np.int32).weak_type
    assert lax.cumsum(lax.full((3,), 2.0)).weak_type


# ---------------------------------------------------------------------------------------------
# argmax / argmin


@pytest.mark.parametrize("dtype", ORDERED)
@pytest.mark.parametrize("shape,axis", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 2),
                                        ((0, 3), 1), ((1,), 0)])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int8])
def test_argmax_argmin(backend, dtype, shape, axis, index_dtype):
    x = rand(shape, dtype, lo=-3, hi=3)  # narrow range: ties, where the first index wins
    for f, np_f in ((lax.argmax, np.argmax), (lax.argmin, np.argmin)):
        out = f(x, axis, index_dtype)
        close(out, np_f(wide(x), axis=axis), index_dtype)


@pytest.mark.parametrize("dtype", [np.float16, BF16, np.float32])
def test_argmax_argmin_first_nan_wins(backend, dtype):
    x = np.array([[1, np.nan, 3, np.nan], [np.inf, 2, -np.inf, np.nan], [0, -0.0, 0, 1]],
                 dtype)
    close(lax.argmax(x, 1, np.int32), [1, 3, 3], np.int32)
    close(lax.argmin(x, 1, np.int32), [1, 3, 0], np.int32)
    close(lax.argmin(x, 0, np.int32), [2, 0, 1, 0], np.int32)


# ---------------------------------------------------------------------------------------------
# Cumulative reductions


def _accumulate(np_fn, x, axis, reverse):
    x = np.flip(x, axis) if reverse else x
    out = np_fn(x, axis)
    return np.flip(out, axis) if reverse else out


CUMULATIVE = {
    "cumsum": (lax.cumsum, lambda x, a: np.cumsum(wide(x), axis=a), NUMBERS),
    "cumprod": (lax.cumprod, lambda x, a: np.cumprod(wide(x), axis=a), NUMBERS),
    "cummax": (lax.cummax, lambda x, a: np.maximum.accumulate(wide(x), axis=a), NUMBERS),
    "cummin": (lax.cummin, lambda x, a: np.minimum.accumulate(wide(x), axis=a), NUMBERS),
    "cumlogsumexp": (lax.cumlogsumexp, lambda x, a: np.logaddexp.accumulate(wide(x), axis=a),
                     [np.float16, BF16, np.float32]),
}


@pytest.mark.parametrize("name", sorted(CUMULATIVE))
@pytest.mark.parametrize("shape,axis", [((6,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 0, 3), 1),
                                        ((2, 0, 3), 2)])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative(backend, name, shape, axis, reverse):
    f, ref, dts = CUMULATIVE[name]
    if backend == "xla" and shape != (6,):
        # plax_xla's rule (lower_reductions._cumulative) branches on the dtype only to widen
        # float16/bfloat16 and to order complex numbers, and on the length only in the scan's
        # recursion: xla (which compiles every eager op) runs every dtype on the (6,) shape
        # (odd and even rounds) and the other shapes (odd and even lengths, empty arrays) with
        # int8 (wrapping in its own type) and float32; the reference and cupy backends run
        # every dtype on every shape
        dts = [d for d in dts if d in (np.int8, np.float32)]
    for dtype in dts:
        x = rand(shape, dtype, lo=-3, hi=4)
        close(f(x, axis, reverse), _accumulate(ref, x, axis, reverse), dtype)
        if axis == 0 and not reverse:
            close(f(x), _accumulate(ref, x, 0, False), dtype)  # the defaults


def test_cumulative_specials(backend):
    close(lax.cumsum(np.full(5, 100, np.int8)), np.cumsum(np.full(5, 100, np.int64)), np.int8)
    close(lax.cummax(np.array([1.0, np.nan, 3.0], np.float32)), [1.0, np.nan, np.nan],
          np.float32)
    x = np.array([-np.inf, -np.inf, 0.0, 1000.0], np.float32)
    close(lax.cumlogsumexp(x), [-np.inf, -np.inf, 0.0, 1000.0], np.float32)
    z = np.array([1 + 2j, 3 + 0j, 2 + 5j], np.complex64)  # lexicographic, as XLA
    close(lax.cummax(z), [1 + 2j, 3, 3], np.complex64)


# ---------------------------------------------------------------------------------------------
# Jaxprs


def _program(L, x):
    s = L.reduce_sum(x, (0,))
    m = L.reduce_max(x, (0, 1))
    p = L.reduce_prod(L.cumprod(x, 1), (1,))
    b = L.reduce_or(L.gt(x, 0.0), (1,))
    i = L.argmin(L.cumsum(x, 0, reverse=True), 1, np.int32)
    return L.add(L.add(s, m), L.reduce_min(L.cummax(x, 1), (0,))), p, b, i


def test_checker_and_staged_values():
    x = rand((3, 4), np.float32)
    closed = plax.make_jaxpr(lambda x: _program(lax, x))(x)
    closed.check()
    staged = plax._src.core.jaxpr_as_fun(closed)(x)
    for got, want in zip(staged, _program(lax, x), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    eqn = next(e for e in closed.jaxpr.eqns if e.primitive is lax.reduce_sum_p)
    eqn.params = dict(eqn.params, axes=(2,))
    with pytest.raises(JaxprTypeError, match="reduce_sum: axes"):
        closed.check()


JAXPR_CASES = {
    "reduce_sum": lambda L: lambda x: L.reduce_sum(x, (0,)),
    "reduce_sum_all": lambda L: lambda x: L.reduce_sum(x, (0, 1)),
    "reduce_max": lambda L: lambda x: L.reduce_max(x, (0, 1)),
    "reduce_min": lambda L: lambda x: L.reduce_min(x, ()),
    "reduce_prod": lambda L: lambda x: L.reduce_prod(x, (1,)),
    "reduce_and": lambda L: lambda x: L.reduce_and(L.gt(x, 1.0), (0, 1)),
    "reduce_or": lambda L: lambda x: L.reduce_or(L.gt(x, 1.0), (1,)),
    "reduce_xor": lambda L: lambda x: L.reduce_xor(L.gt(x, 1.0), (0,)),
    "argmax": lambda L: lambda x: L.argmax(x, 1, np.int32),
    "argmin": lambda L: lambda x: L.argmin(x, 0, np.int8),
    "cumsum": lambda L: lambda x: L.cumsum(x, 1),
    "cumprod": lambda L: lambda x: L.cumprod(x, 0, reverse=True),
    "cummax": lambda L: lambda x: L.cummax(x, 1),
    "cummin": lambda L: lambda x: L.cummin(x, 1, True),
    "cumlogsumexp": lambda L: lambda x: L.cumlogsumexp(x),
}


@requires_jax
@pytest.mark.parametrize("name", sorted(JAXPR_CASES))
def test_jaxpr_text_matches_jax(name):
    # reduce_sum carries JAX 0.10's `out_sharding=None` param, so even its text is the same
    import jax
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    make = JAXPR_CASES[name]
    assert str(plax.make_jaxpr(make(lax))(x)) == str(jax.make_jaxpr(make(jax.lax))(x))


@requires_jax
def test_values_match_jax():
    import jax
    x = np.array([[3, np.nan, 3, 1], [2, 2, -1, np.nan], [0, 5, 5, -2]], np.float32)
    for name in ("argmax", "argmin"):
        for axis in (0, 1):
            ours = getattr(lax, name)(x, axis, np.int32)
            np.testing.assert_array_equal(ours, getattr(jax.lax, name)(x, axis, np.int32))
    y = rand((3, 5), np.float32)
    for name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"):
        for reverse in (False, True):
            assert_close(getattr(lax, name)(y, 1, reverse),
                         getattr(jax.lax, name)(y, 1, reverse), np.float32, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Errors

F32 = np.ones((2, 3), np.float32)

ERRORS = [
    (lambda: lax.reduce_sum(F32, (-1,)), r"axes \(-1,\) are out of range.*no negative"),
    (lambda: lax.reduce_sum(F32, (2,)), "out of range for an operand of rank 2"),
    (lambda: lax.reduce_max(F32, (0, 0)), r"axes must be unique, got \(0, 0\)"),
    (lambda: lax.reduce_sum(np.ones(2, bool), (0,)), "reduce_sum does not accept dtype bool"),
    (lambda: lax.reduce_prod(np.ones(2, bool), (0,)), "reduce_prod does not accept dtype bool"),
    (lambda: lax.reduce_and(F32, (0,)), "reduce_and does not accept dtype float32.*boolean or"),
    (lambda: lax.reduce_xor(F32.astype(np.complex64), (0,)), "reduce_xor does not accept"),
    (lambda: lax.reduce_sum(F32, (0,), out_sharding="x"), "sharding must be None"),
    (lambda: lax.reduce_sum_p.bind(F32, axes=(0.5,)), "axes must contain only integers"),
    (lambda: lax.argmax(F32, 2, np.int32), "out of range"),
    (lambda: lax.argmax(F32, -1, np.int32), "no negative"),
    (lambda: lax.argmin(np.ones((0, 3)), 0, np.int32), "non-empty reduced dimension"),
    (lambda: lax.argmax(F32, 0, np.float32), "index_dtype must be an integer dtype"),
    (lambda: lax.argmax(F32.astype(np.complex64), 0, np.int32), "complex values are not ordered"),
    (lambda: lax.argmax_p.bind(F32, axes=(0, 1), index_dtype=np.dtype(np.int32)),
     "exactly one axis"),
    (lambda: lax.cumsum(F32, -1), "axis -1 is out of range.*no negative"),
    (lambda: lax.cumsum(np.float32(1.0)), "axis 0 is out of range"),
    (lambda: lax.cumsum(np.ones(2, bool)), "cumsum does not accept dtype bool"),
    (lambda: lax.cummax(np.ones(2, bool)), "cummax does not accept dtype bool"),
    (lambda: lax.cumlogsumexp(np.arange(3)), "cumlogsumexp does not accept dtype int32"),
    (lambda: lax.cumsum_p.bind(F32, axis=0, reverse=1), "reverse must be a bool"),
]


@pytest.mark.parametrize("fn,match", ERRORS)
def test_errors(fn, match):
    with pytest.raises(PlaxTypeError, match=match):
        fn()


def test_user_argument_errors():
    with pytest.raises(TypeError, match="axes must be a sequence of integers"):
        lax.reduce_sum(F32, 0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        lax.argmax(F32, (0,), np.int32)
    with pytest.raises(plax.ConcretizationTypeError):
        plax.make_jaxpr(lambda x, a: lax.cumsum(x, a))(F32, 1)
