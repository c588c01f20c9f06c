"""plax.Array: repr (as JAX prints it), shape/dtype attributes, conversion to NumPy and Python
scalars, iteration, placement, pickling; and the errors on tracers where a value is needed."""

from __future__ import annotations

import pickle

import ml_dtypes
import numpy as np
import pytest
from conftest import requires_jax

import plax
import plax.lax as lax
from plax._src.dispatch import asarray_value
from plax.extend import ConcretizationTypeError

REPR_CASES = [
    (np.array([1.0, 2.0], np.float32), "Array([1., 2.], dtype=float32)"),
    (np.float32(3.5), "Array(3.5, dtype=float32)"),
    (np.arange(6, dtype=np.int32).reshape(2, 3), "Array([[0, 1, 2],\n       [3, 4, 5]], "
                                                 "dtype=int32)"),
    (np.array([True, False]), "Array([ True, False], dtype=bool)"),
    (np.zeros((0,), np.float32), "Array([], shape=(0,), dtype=float32)"),
    (np.zeros((2, 0), np.int32), "Array([], shape=(2, 0), dtype=int32)"),
    (np.array([1 + 2j, 3j], np.complex64), "Array([1.+2.j, 0.+3.j], dtype=complex64)"),
    (np.array([1.5, 2], ml_dtypes.bfloat16), "Array([1.5, 2], dtype=bfloat16)"),
    (np.array([1.5, 2], np.float16), "Array([1.5, 2. ], dtype=float16)"),
    (np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
     "Array([[[0, 1],\n        [2, 3]],\n\n       [[4, 5],\n        [6, 7]]], dtype=uint8)"),
    (np.array([1e-8, 1e8], np.float32), "Array([1.e-08, 1.e+08], dtype=float32)"),
    (np.linspace(0, 1, 12, dtype=np.float32),
     "Array([0.        , 0.09090909, 0.18181819, 0.27272728, 0.36363637,\n"
     "       0.45454547, 0.54545456, 0.6363636 , 0.72727275, 0.8181818 ,\n"
     "       0.90909094, 1.        ], dtype=float32)"),
    # the dtype would overflow the last line: JAX pushes it right, on the same line
    (np.linspace(0, 1, 5, dtype=np.float32).repeat(5)[:-5],
     "Array([0.  , 0.  , 0.  , 0.  , 0.  , 0.25, 0.25, 0.25, 0.25, 0.25, 0.5 ,\n"
     "       0.5 , 0.5 , 0.5 , 0.5 , 0.75, 0.75, 0.75, 0.75, 0.75],      dtype=float32)"),
    (1.0, "Array(1., dtype=float32, weak_type=True)"),
    (2, "Array(2, dtype=int32, weak_type=True)"),
    (1j, "Array(0.+1.j, dtype=complex64, weak_type=True)"),
    (True, "Array(True, dtype=bool)"),
]


@pytest.mark.parametrize("value,want", REPR_CASES, ids=range(len(REPR_CASES)))
def test_repr(value, want):
    assert repr(asarray_value(value)) == want


@requires_jax
@pytest.mark.parametrize("value,want", REPR_CASES, ids=range(len(REPR_CASES)))
def test_repr_matches_jax(value, want):
    import jax.numpy as jnp
    assert repr(asarray_value(value)) == repr(jnp.asarray(value))


@requires_jax
def test_repr_of_computed_values_matches_jax():
    import jax
    cases = [
        (lax.add(1.0, 2.0), jax.lax.add(1.0, 2.0)),
        (lax.add(np.ones(3, np.float32), 2.0), jax.lax.add(np.ones(3, np.float32), 2.0)),
        (lax.mul(np.arange(2000, dtype=np.float32), 1.0),
         jax.lax.mul(np.arange(2000, dtype=np.float32), 1.0)),
        (lax.lt(np.arange(4), 2), jax.lax.lt(np.arange(4), 2)),
    ]
    for p, j in cases:
        assert repr(p) == repr(j)
        assert str(p) == str(j)


def test_attributes():
    x = lax.add(np.arange(6, dtype=np.float32).reshape(2, 3), 1.0)
    assert (x.shape, x.dtype, x.ndim, x.size) == ((2, 3), np.float32, 2, 6)
    assert (x.nbytes, x.itemsize, x.weak_type) == (24, 4, False)
    assert len(x) == 2 and x.aval.str_short() == "f32[2,3]"
    s = lax.add(np.float32(1), 1.0)
    assert (s.shape, s.ndim, s.size) == ((), 0, 1)
    with pytest.raises(TypeError, match="len"):
        len(s)
    e = asarray_value(np.zeros((0, 4), np.int8))
    assert (e.shape, e.size, e.nbytes) == ((0, 4), 0, 0)
    assert x.backend == plax.default_backend() and x.device == plax.devices()[0]
    assert x.devices() == {x.device} and x.is_fully_addressable
    assert x.block_until_ready() is x


def test_transpose_property():
    pnp = pytest.importorskip("plax.numpy")
    if not hasattr(pnp, "transpose"):
        pytest.skip("plax.numpy.transpose does not exist yet")
    x = asarray_value(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(np.asarray(x.T), np.arange(6).reshape(2, 3).T)
    assert x.T.shape == (3, 2)


def test_numpy_conversion_is_read_only():
    host = np.arange(4, dtype=np.int32)
    x = asarray_value(host)
    a = np.asarray(x)
    assert a.dtype == np.int32 and not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 5
    host[0] = 9  # the Array does not alias the NumPy array it was made from
    assert np.asarray(x)[0] == 0
    b = np.array(x)  # an explicit copy is writable
    b[0] = 5
    assert b.flags.writeable and np.asarray(x)[0] == 0
    np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), [0.0, 1.0, 2.0, 3.0])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x.tolist() == [0, 1, 2, 3] and x.item(2) == 2
    assert np.add(x, 1).tolist() == [1, 2, 3, 4]  # NumPy functions read it through __array__
    assert x.copy().tolist() == [0, 1, 2, 3] and x.copy() is not x


def test_python_scalars():
    assert float(asarray_value(np.float32(2.5))) == 2.5
    assert int(asarray_value(np.int32(-3))) == -3 and int(asarray_value(np.float32(3.7))) == 3
    assert complex(asarray_value(np.complex64(1 + 2j))) == 1 + 2j
    assert bool(asarray_value(np.float32(0))) is False and bool(asarray_value(True)) is True
    assert bool(asarray_value(np.ones((1, 1), np.float32))) is True  # size 1, any rank
    assert [10, 20, 30][asarray_value(np.int32(1))] == 20  # __index__
    assert asarray_value(np.float32(3.0)).item() == 3.0
    assert f"{asarray_value(np.float32(0.5)):.3f}" == "0.500"
    with pytest.raises(TypeError, match="0-d.*float.*shape \\(2,\\)"):
        float(asarray_value(np.ones(2, np.float32)))
    for conv in (float, int, complex):  # as in JAX, size 1 is not enough: it must be 0-d
        with pytest.raises(TypeError, match=f"0-d arrays .* Python {conv.__name__}"):
            conv(asarray_value(np.ones(1, np.int32)))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(asarray_value(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="integer arrays.*float32"):
        [1][asarray_value(np.float32(0))]


def test_iteration():
    x = lax.add(np.arange(6, dtype=np.float32).reshape(3, 2), 1.0)
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, plax.Array) for r in rows)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert rows[0].shape == (2,) and rows[0].dtype == np.float32
    assert [r.tolist() for r in reversed(x)] == [[5, 6], [3, 4], [1, 2]]
    elems = list(lax.add(np.arange(3, dtype=np.int32), 0))
    assert [e.shape for e in elems] == [()] * 3 and [int(e) for e in elems] == [0, 1, 2]
    assert list(asarray_value(np.zeros((0, 2), np.float32))) == []
    weak_rows = list(asarray_value(np.ones((2, 2), np.float32), weak_type=True))
    assert all(r.weak_type for r in weak_rows)
    with pytest.raises(TypeError, match="0-d"):
        iter(asarray_value(np.float32(1)))


def test_unhashable():
    with pytest.raises(TypeError):
        hash(asarray_value(np.float32(1)))


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.float32).reshape(2, 3),
                                   np.array([1.5, -2], ml_dtypes.bfloat16), 3, 2.5,
                                   np.zeros((0, 2), np.complex64), np.array(True)])
def test_pickle_roundtrip(value):
    x = asarray_value(value)
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, plax.Array) and y is not x
    assert (y.shape, y.dtype, y.weak_type) == (x.shape, x.dtype, x.weak_type)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    assert repr(y) == repr(x)


def test_tracers_refuse_concrete_conversions():
    msgs = {}

    def f(x):
        for name, conv in [("float", float), ("int", int), ("bool", bool),
                           ("complex", complex), ("item", lambda t: t.item()),
                           ("tolist", lambda t: t.tolist()), ("np.asarray", np.asarray),
                           ("index", lambda t: [1, 2][t])]:
            with pytest.raises(ConcretizationTypeError) as e:
                conv(x)
            msgs[name] = str(e.value)
        with pytest.raises(TypeError, match="unhashable"):
            hash(x)
        return x

    plax.make_jaxpr(f)(np.float32(1))
    for name in ("float", "int", "bool", "complex", "item"):
        assert f"{name}()" in msgs[name] and "f32[]" in msgs[name], msgs[name]
    assert "static_argnums" in msgs["float"] and "JaxprTrace" in msgs["float"]
    assert "np.asarray" in msgs["np.asarray"]
    # Python control flow on a traced value is what usually triggers it
    with pytest.raises(ConcretizationTypeError, match=r"bool\(\).*bool\[3\]"):
        plax.make_jaxpr(lambda x: x if lax.gt(x, 0.0) else x)(np.ones(3, np.float32))


def test_tracer_attributes():
    seen = {}

    def f(x):
        seen.update(shape=x.shape, dtype=x.dtype, ndim=x.ndim, size=x.size, weak=x.weak_type,
                    len=len(x), repr=repr(x))
        return x

    plax.make_jaxpr(f)(np.ones((4, 2), np.int8))
    assert seen == dict(shape=(4, 2), dtype=np.int8, ndim=2, size=8, weak=False, len=4,
                        repr="Traced<i8[4,2]>with<JaxprTrace>")
