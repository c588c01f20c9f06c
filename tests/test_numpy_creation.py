"""plax.numpy's array creation: array/asarray (scalars, nested lists, tracers inside lists,
NumPy arrays) with JAX's dtypes and weak types, zeros/ones/full/empty and *_like, arange,
linspace, logspace, eye/identity/tri/tril/triu, meshgrid, astype; against NumPy and JAX, and
the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HAVE_JAX, assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun


def same(out, expected, dtype=None):
    expected = np.asarray(expected)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    if dtype is not None:
        assert out.dtype == np.dtype(dtype), (out.dtype, dtype)
    assert_close(out, expected.astype(out.dtype))


ARRAY_INPUTS = [1, 1.5, True, 1 + 2j, [1, 2], [1, 2.5], [[1, 2], [3, 4]], [True, False],
                (1, 2.0), [], np.float64(2.0), np.arange(3), np.arange(3.0), np.float16(1),
                np.array([1, 2], np.uint8), [np.float32(1), 2], np.array(5)]


@pytest.mark.parametrize("obj", ARRAY_INPUTS, ids=repr)
def test_array_values(backend, obj):
    out = pnp.array(obj)
    np.testing.assert_array_equal(np.asarray(out), np.array(obj))
    assert pnp.asarray(obj).dtype == out.dtype


@requires_jax
@pytest.mark.parametrize("obj", ARRAY_INPUTS, ids=repr)
def test_array_dtypes_match_jax(obj):
    import jax.numpy as jnp
    for fn_p, fn_j in [(pnp.array, jnp.array), (pnp.asarray, jnp.asarray)]:
        out, expected = fn_p(obj), fn_j(obj)
        assert (out.dtype, out.weak_type) == (expected.dtype, expected.weak_type), fn_p
    for dt in [np.int8, np.float16, bool]:
        try:
            expected = jnp.array(obj, dtype=dt)
        except TypeError:
            with pytest.raises(TypeError):
                pnp.array(obj, dtype=dt)
            continue
        out = pnp.array(obj, dtype=dt)
        assert (out.dtype, out.weak_type) == (expected.dtype, expected.weak_type)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


def test_array_of_tracers_and_arrays():
    def f(a, b):
        return pnp.array([[a, b], [b, 1.0]])
    closed = plax.make_jaxpr(f)(np.float32(1), np.float32(2))
    out = jaxpr_as_fun(closed)(np.float32(3), np.float32(4))[0]
    np.testing.assert_array_equal(np.asarray(out), [[3, 4], [4, 1]])
    mixed = pnp.array([pnp.ones(2, dtype=np.float16), [0.0, 0.0]])  # Python floats are weak
    assert mixed.dtype == np.float16 and mixed.shape == (2, 2)
    assert pnp.array([pnp.ones(2, dtype=np.float16), np.zeros(2)]).dtype == np.float32
    assert pnp.array(pnp.arange(3), ndmin=3).shape == (1, 1, 3)
    x = pnp.arange(3.0)
    assert pnp.asarray(x) is x  # no copy of an immutable array
    assert pnp.array(x, dtype=np.int32).dtype == np.int32


def test_array_x64():
    with plax.enable_x64(True):
        assert pnp.array(1.5).dtype == np.float64
        assert pnp.array([1, 2]).dtype == np.int64
        assert pnp.zeros(2).dtype == np.float64
    assert pnp.array(np.arange(3.0)).dtype == np.float32


@pytest.mark.parametrize("dtype", [None, np.int32, np.float16, bool, np.complex64])
@pytest.mark.parametrize("shape", [(), 0, 3, (2, 3), (0, 4)], ids=str)
def test_filled(backend, shape, dtype):
    same(pnp.zeros(shape, dtype), np.zeros(shape, dtype or np.float32), dtype or np.float32)
    same(pnp.ones(shape, dtype), np.ones(shape, dtype or np.float32), dtype or np.float32)
    same(pnp.empty(shape, dtype), np.zeros(shape, dtype or np.float32), dtype or np.float32)
    same(pnp.full(shape, 7, dtype), np.full(shape, 7, dtype or np.int32), dtype or np.int32)
    proto = np.arange(6, dtype=np.int8).reshape(2, 3)
    for fn, value in [(pnp.zeros_like, 0), (pnp.ones_like, 1), (pnp.empty_like, 0)]:
        same(fn(proto, dtype), np.full(proto.shape, value, dtype or np.int8), dtype or np.int8)
        same(fn(proto, dtype, shape=shape), np.full(shape, value, dtype or np.int8))
    same(pnp.full_like(proto, 2.7, dtype), np.full_like(proto, 2.7, dtype or np.int8))


def test_full_with_array_fill_and_weak_types():
    same(pnp.full((2, 3), np.arange(3)), np.full((2, 3), np.arange(3)))
    same(pnp.full_like(np.zeros((2, 3)), [1, 2, 3]), np.full((2, 3), [1, 2, 3]))
    assert pnp.full((2,), 1.0).weak_type and pnp.full((2,), 1.0).dtype == np.float32
    assert not pnp.zeros(2).weak_type
    assert pnp.zeros_like(pnp.full((2,), 1.0)).weak_type


ARANGES = [(5,), (0,), (-3,), (2, 9), (2, 9, 3), (9, 2, -2), (0.0, 1.0, 0.25), (1.5,),
           (0, 5, 0.5), (10, 0), (2.5, -1.5, -0.5)]


@pytest.mark.parametrize("args", ARANGES, ids=str)
def test_arange(backend, args):
    out = pnp.arange(*args)
    expected = np.arange(*args)
    same(out, expected)
    assert out.dtype == (np.int32 if expected.dtype.kind == "i" else np.float32)
    same(pnp.arange(*args, dtype=np.float16), np.arange(*args, dtype=np.float16))


LINSPACE_KW = [dict(num=5), dict(num=1), dict(num=0), dict(num=4, endpoint=False),
               dict(num=7, dtype=np.int32), dict(num=3, dtype=np.float16)]


def test_linspace(backend):
    # plax.numpy is backend-independent: backends that compile every op get a smaller grid
    for kw in LINSPACE_KW if backend == "reference" else LINSPACE_KW[3:5]:
        _check_linspace(kw)


def _linspace_oracle(*args, **kw):
    """JAX's linspace where importable (the semantics plax follows: start * (1 - t) + stop * t,
    whose integer outputs can differ from NumPy's by one, e.g. 3 -> -3 in 7 steps gives 0 where
    NumPy gives 1); NumPy's otherwise, for float outputs only."""
    if HAVE_JAX:
        import jax.numpy as jjnp
        return jjnp.linspace(*args, **kw)
    if np.dtype(kw.get("dtype", np.float32)).kind in "iu":
        return None
    return np.linspace(*args, **kw)


def _check_linspace(kw):
    def check(got, want):
        if want is None:
            return
        if HAVE_JAX:
            same(got, np.asarray(want))
        else:
            assert_close(got, want.astype(np.asarray(got).dtype))

    for start, stop in [(0, 1), (-2.5, 7), (3, -3)]:
        check(pnp.linspace(start, stop, **kw), _linspace_oracle(start, stop, **kw))
    start, stop = np.array([0.0, 1.0]), np.array([[5.0, -1.0], [2.0, 3.0]])
    for axis in [0, 1, -1, 2]:
        check(pnp.linspace(start, stop, axis=axis, **kw),
              _linspace_oracle(start, stop, axis=axis, **kw))
    if kw.get("num", 50) > 1:
        out, step = pnp.linspace(0, 10, retstep=True, **kw)
        want = _linspace_oracle(0, 10, retstep=True, **kw)
        if want is not None:
            check(out, want[0])
            assert_close(step, np.asarray(want[1]))


def test_linspace_traced_and_logspace():
    f = lambda a, b: pnp.linspace(a, b, 5)  # noqa: E731
    closed = plax.make_jaxpr(f)(np.float32(0), np.float32(1))
    same(jaxpr_as_fun(closed)(np.float32(-1), np.float32(3))[0], np.linspace(-1, 3, 5))
    same(pnp.logspace(0, 3, 4), np.logspace(0, 3, 4))
    same(pnp.logspace(0, 3, 4, base=2.0, endpoint=False), np.logspace(0, 3, 4, base=2.0,
                                                                       endpoint=False))
    same(pnp.logspace(1, 2, 3, dtype=np.int32), np.logspace(1, 2, 3).astype(np.int32))


EYES = [(3, None, 0), (3, 5, 1), (4, 2, -1), (0, 3, 0), (3, 3, 5), (2, 4, -3)]


def test_eye_tri(backend):
    for N, M, k in EYES if backend == "reference" else EYES[1:3]:
        _check_eye_tri(N, M, k)


def _check_eye_tri(N, M, k):
    same(pnp.eye(N, M, k), np.eye(N, M, k), np.float32)
    same(pnp.eye(N, M, k, dtype=np.int8), np.eye(N, M, k, dtype=np.int8), np.int8)
    same(pnp.tri(N, M, k), np.tri(N, M, k), np.float32)
    m = np.arange(2 * N * (M or N), dtype=np.float32).reshape(2, N, M or N)
    same(pnp.tril(m, k), np.tril(m, k))
    same(pnp.triu(m, k), np.triu(m, k))
    same(pnp.identity(N, dtype=bool), np.identity(N, dtype=bool), bool)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(backend, indexing, sparse):
    xs = [np.arange(3), np.arange(4.0), np.arange(2)]
    for n in [1, 2, 3]:
        outs = pnp.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
        expected = np.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
        for o, e in zip(outs, expected):
            same(o, e)


def test_astype():
    x = np.array([1.7, -2.5, np.nan, 0.0], np.float32)
    same(pnp.astype(x, np.int32), [1, -2, 0, 0], np.int32)  # NaN -> 0, as XLA
    same(pnp.asarray(x).astype(bool), [True, True, True, False], bool)
    same(pnp.astype(np.array([1 + 2j]), np.float32), [1.0], np.float32)
    same(pnp.astype(np.arange(3), np.float16), np.arange(3.0), np.float16)
    assert pnp.copy(np.arange(3)).dtype == np.int32


def test_errors():
    with pytest.raises(OverflowError, match="too large to convert to int32"):
        pnp.array(2 ** 40)
    with pytest.raises(OverflowError, match="int8"):
        pnp.array([1, 300], dtype=np.int8)
    with pytest.raises(ValueError, match="ragged"):
        pnp.array([[1, 2], [3]])
    with pytest.raises(TypeError, match="cannot convert"):
        pnp.array("abc")
    with pytest.raises(TypeError, match="plax does not support dtype"):
        pnp.zeros(3, dtype=np.str_)
    with pytest.raises(ValueError, match="negative dimensions are not allowed"):
        pnp.zeros((2, -1))
    with pytest.raises(ValueError, match="step must not be zero"):
        pnp.arange(0, 5, 0)
    with pytest.raises(plax.ConcretizationTypeError, match="stop argument of arange"):
        plax.make_jaxpr(lambda n: pnp.arange(0, n))(3)
    with pytest.raises(ValueError, match="number of samples, -1, must be non-negative"):
        pnp.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="tril: the argument must be at least 2-D"):
        pnp.tril(np.ones(3))
    with pytest.raises(ValueError, match="meshgrid requires 1-D inputs"):
        pnp.meshgrid(np.ones((2, 2)))
    with pytest.raises(TypeError, match="full requires ndarray or scalar"):
        pnp.full((2,), "x")
