"""plax.numpy's ufunc objects (add.reduce, multiply.accumulate, subtract.at, add.reduceat,
bitwise_xor.outer, frompyfunc, ...) against jax.numpy's: values and dtypes, under jit and
grad, and their errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp

X = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
F = np.float32([[0.5, 1.5, -2], [3, 0.1, 1]])
B = X > 2
IDX = np.array([1, 1, 3])


def _twice_plus(a, b):
    return a * 2 + b


CASES = {
    "add.reduce": lambda m: m.add.reduce(X),
    "add.reduce_none_keepdims": lambda m: m.add.reduce(X, axis=None, keepdims=True),
    "add.reduce_where": lambda m: m.add.reduce(F, axis=1, where=F > 0.4),
    "multiply.reduce": lambda m: m.multiply.reduce(X, axis=1),
    "maximum.reduce": lambda m: m.maximum.reduce(F, axis=1),
    "minimum.reduce_initial": lambda m: m.minimum.reduce(F, axis=0, initial=0.2),
    "bitwise_or.reduce": lambda m: m.bitwise_or.reduce(X, axis=1),
    "bitwise_and.reduce_initial": lambda m: m.bitwise_and.reduce(X, initial=7),
    "logical_and.reduce": lambda m: m.logical_and.reduce(B),
    "logical_xor.reduce": lambda m: m.logical_xor.reduce(B, axis=1),
    "logaddexp.reduce": lambda m: m.logaddexp.reduce(F, axis=1),
    "logaddexp2.reduce": lambda m: m.logaddexp2.reduce(F),
    "subtract.reduce": lambda m: m.subtract.reduce(F, axis=1),
    "add.accumulate": lambda m: m.add.accumulate(X, axis=1),
    "multiply.accumulate": lambda m: m.multiply.accumulate(F),
    "subtract.accumulate": lambda m: m.subtract.accumulate(F, axis=1),
    "bitwise_or.accumulate": lambda m: m.bitwise_or.accumulate(X),
    "add.at": lambda m: m.add.at(np.ones(6, np.int32), IDX, np.int32([1, 2, 3]),
                                 inplace=False),
    "subtract.at": lambda m: m.subtract.at(np.ones(6, np.float32), IDX, 2.0, inplace=False),
    "maximum.at": lambda m: m.maximum.at(np.ones(6, np.float32), IDX, np.float32([5, 7, 0]),
                                         inplace=False),
    "negative.at": lambda m: m.negative.at(np.ones(6, np.float32), IDX, inplace=False),
    "add.reduceat": lambda m: m.add.reduceat(np.arange(8), np.array([0, 2, 5])),
    "maximum.reduceat": lambda m: m.maximum.reduceat(F, np.array([0, 2]), axis=1),
    "add.outer": lambda m: m.add.outer(np.arange(3), np.arange(4.0)),
    "bitwise_xor.outer": lambda m: m.bitwise_xor.outer(X, np.int32([1, 2])),
    "frompyfunc.call": lambda m: m.frompyfunc(_twice_plus, 2, 1)(F, 1.0),
    "frompyfunc.reduce": lambda m: m.frompyfunc(_twice_plus, 2, 1).reduce(F, axis=1),
    "frompyfunc.accumulate": lambda m: m.frompyfunc(_twice_plus, 2, 1).accumulate(F),
    "frompyfunc.outer": lambda m: m.frompyfunc(lambda a, b: a * b, 2, 1).outer(
        np.arange(3.0), np.arange(2.0)),
}


@requires_jax
def test_against_jax():
    import jax
    import jax.numpy as jnp
    expected_all = jax.jit(lambda: {name: case(jnp) for name, case in CASES.items()})()
    for name, case in CASES.items():  # (one compile of JAX's cases: cheaper than op by op)
        out, expected = case(pnp), np.asarray(expected_all[name])
        assert out.dtype == expected.dtype, (name, out.dtype, expected.dtype)
        assert_close(out, expected, rtol=1e-6, atol=1e-6)


def test_attributes_and_transforms():
    assert isinstance(pnp.add, pnp.ufunc) and isinstance(pnp.negative, pnp.ufunc)
    assert (pnp.add.nin, pnp.add.nout, pnp.add.nargs, pnp.add.identity) == (2, 1, 2, 0)
    assert pnp.multiply.identity == 1 and pnp.maximum.identity is None
    assert repr(pnp.add) == "<plax.numpy.ufunc 'add'>" and pnp.add.__name__ == "add"
    assert pnp.add == pnp.add and hash(pnp.add) == hash(pnp.add) and pnp.add != pnp.subtract
    assert str(inspect.signature(pnp.add)) == "(x1, x2, /)"
    f = pnp.frompyfunc(_twice_plus, 2, 1, identity=0)
    assert (f.nin, f.nout, f.identity, f.__name__) == (2, 1, 0, "_twice_plus")
    out = plax.jit(lambda a: pnp.add.reduce(a, axis=1) + pnp.bitwise_or.reduce(a, axis=1))(X)
    assert_close(out, X.sum(1) + np.bitwise_or.reduce(X, axis=1))
    g = plax.grad(lambda a: pnp.multiply.reduce(pnp.add.accumulate(a)))(F[1])
    cs = np.cumsum(F[1].astype(np.float64))  # d/da_i prod_j cumsum_j
    assert_close(g, [sum(np.prod(cs) / cs[j] for j in range(i, 3)) for i in range(3)],
                 rtol=1e-5)
    mapped = plax.vmap(lambda r: pnp.maximum.reduce(r))(F)
    assert_close(mapped, F.max(1))


def test_errors():
    with pytest.raises(NotImplementedError, match="inplace=False"):
        pnp.add.at(X, 0, 1)
    with pytest.raises(ValueError, match="binary ufuncs"):
        pnp.negative.reduce(X)
    with pytest.raises(ValueError, match="does not have an identity"):
        pnp.maximum.reduce(F, where=F > 0)
    with pytest.raises(ValueError, match="where argument must have dtype=bool"):
        pnp.add.reduce(F, where=F)
    with pytest.raises(ValueError, match="no identity"):
        pnp.maximum.reduce(np.zeros((0, 2), np.float32))
    with pytest.raises(NotImplementedError, match="out argument"):
        pnp.add(X, X, out=X)
    with pytest.raises(TypeError, match="callable"):
        pnp.frompyfunc(3, 2, 1)
    with pytest.raises(NotImplementedError, match="numpy.fromfile"):  # refused, as jnp's
        pnp.fromfile("data.bin", dtype=np.float32)
