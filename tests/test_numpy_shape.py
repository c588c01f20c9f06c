"""plax.numpy's shape functions against NumPy: reshape (C and F order, -1), ravel, transpose,
swapaxes, moveaxis, squeeze, expand_dims, broadcasting, joining and splitting, tile, repeat
(static and traced repeats), flips, roll (static and traced shifts), rot90, diag/diagonal/trace;
on several dtypes, empty and 0-d arrays; and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import same

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
E = np.zeros((0, 3), np.int32)
Z = np.array(5, np.int8)


# (plax/NumPy function name, args, kwargs)
CASES = [
    ("reshape", (X, (4, 6)), {}), ("reshape", (X, (-1, 2)), {}), ("reshape", (X, 24), {}),
    ("reshape", (X, (3, -1)), dict(order="F")), ("reshape", (E, (3, 0)), {}),
    ("reshape", (Z, (1, 1)), {}), ("ravel", (X,), {}), ("ravel", (X,), dict(order="F")),
    ("transpose", (X,), {}), ("transpose", (X, (1, 0, 2)), {}), ("transpose", (X, (-1, 0, 1)), {}),
    ("transpose", (Z,), {}), ("swapaxes", (X, 0, -1), {}), ("moveaxis", (X, 0, -1), {}),
    ("moveaxis", (X, (0, 1), (2, 0)), {}), ("squeeze", (np.ones((1, 3, 1)),), {}),
    ("squeeze", (np.ones((1, 3, 1)), 2), {}), ("squeeze", (np.ones((1, 3, 1)), (0, -1)), {}),
    ("squeeze", (Z,), {}), ("expand_dims", (X, 0), {}), ("expand_dims", (X, (0, 4)), {}),
    ("expand_dims", (X, -1), {}), ("expand_dims", (Z, (0, 1)), {}),
    ("broadcast_to", (np.arange(3), (2, 3)), {}), ("broadcast_to", (Z, (2, 2)), {}),
    ("broadcast_to", (np.ones((3, 1)), (2, 3, 4)), {}), ("broadcast_to", (E, (2, 0, 3)), {}),
    ("concatenate", ([X, X], 1), {}), ("concatenate", ([X, X[:, :1]], 1), {}),
    ("concatenate", ([X, np.ones((2, 3, 1), np.int8)], -1), {}),
    ("concatenate", ([X, Z], None), {}), ("concatenate", ([E, E], 0), {}),
    ("stack", ([X, X],), {}), ("stack", ([X, X], -1), {}), ("stack", ([Z, Z],), {}),
    ("stack", ([E, E], 1), {}), ("hstack", ([np.arange(2), np.arange(3)],), {}),
    ("hstack", ([X, X],), {}), ("vstack", ([np.arange(3), np.arange(3)],), {}),
    ("vstack", ([X, X],), {}), ("dstack", ([np.arange(3), np.arange(3)],), {}),
    ("dstack", ([np.ones((2, 2)), np.ones((2, 2))],), {}),
    ("column_stack", ([np.arange(3), np.ones((3, 2))],), {}),
    ("append", (X, X), {}), ("append", (X, X, 0), {}), ("tile", (np.arange(3), 2), {}),
    ("tile", (np.arange(3), (2, 2)), {}), ("tile", (X, (2, 1, 1, 2)), {}), ("tile", (Z, 3), {}),
    ("tile", (X, 0), {}), ("repeat", (X, 2), {}), ("repeat", (X, 2, 1), {}),
    ("repeat", (X, [1, 0, 3], 1), {}), ("repeat", (X, np.array([2]), -1), {}),
    ("repeat", (Z, 3), {}), ("repeat", (E, 2, 0), {}), ("flip", (X,), {}),
    ("flip", (X, 1), {}), ("flip", (X, (0, 2)), {}), ("fliplr", (X,), {}),
    ("flipud", (X,), {}), ("roll", (X, 2), {}), ("roll", (X, -1, 1), {}),
    ("roll", (X, (1, 2), (0, 2)), {}), ("roll", (X, 7, -1), {}), ("roll", (E, 1, 0), {}),
    ("rot90", (X,), {}), ("rot90", (X, 2), {}), ("rot90", (X, 3, (1, 2)), {}),
    ("rot90", (X, -1), {}), ("diagonal", (X,), {}), ("diagonal", (X, 1, 1, 2), {}),
    ("diagonal", (X, -1, 2, 0), {}), ("diagonal", (X, 10), {}), ("diag", (np.arange(3),), {}),
    ("diag", (np.arange(3), 2), {}), ("diag", (np.arange(3), -1), {}),
    ("diag", (X[0],), {}), ("diag", (X[0], -1), {}), ("diagflat", (np.ones((2, 2)), 1), {}),
    ("trace", (X,), {}), ("trace", (X, 1, 1, 2), {}), ("trace", (X[0], -1), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_numpy(backend, name, args, kwargs):
    expected = getattr(np, name)(*args, **kwargs)
    out = getattr(pnp, name)(*args, **kwargs)
    same(out, expected)
    if name not in ("concatenate", "append", "hstack", "vstack", "dstack", "column_stack",
                    "trace"):
        assert out.dtype == pnp.asarray(args[0]).dtype


@pytest.mark.parametrize("name,args,kwargs",
                         [c for c in CASES if not isinstance(c[1][0], list)][::3],
                         ids=lambda c: str(c)[:30])
def test_under_make_jaxpr(name, args, kwargs):
    f = lambda a: getattr(pnp, name)(a, *args[1:], **kwargs)  # noqa: E731
    closed = plax.make_jaxpr(f)(args[0])
    closed.check()
    same(jaxpr_as_fun(closed)(args[0])[0], getattr(np, name)(*args, **kwargs))


PADS = [(1, {}), (((1, 2), (0, 3), (2, 0)), {}), ((2, 1), dict(constant_values=-1)),
        (((1, 2), (0, 3), (1, 1)), dict(constant_values=((1, 2), (3, 4), (5, 6)))),
        (2, dict(mode="edge")), (5, dict(mode="wrap")), (((1, 4), (2, 0), (0, 0)),
                                                         dict(mode="reflect")),
        (3, dict(mode="symmetric")), (0, dict(mode="edge"))]


@pytest.mark.parametrize("width,kw", PADS, ids=str)
def test_pad(backend, width, kw):
    same(pnp.pad(X, width, **kw), np.pad(X, width, **kw))
    if not isinstance(kw.get("constant_values", 0), tuple):
        same(pnp.pad(X[0], 2, **kw), np.pad(X[0], 2, **kw))
        same(pnp.pad(Z, 2, **kw), np.pad(Z, 2, **kw))


def test_pad_traced_value_and_errors():
    closed = plax.make_jaxpr(lambda a, v: pnp.pad(a, 1, constant_values=v))(X[0], 0.0)
    same(jaxpr_as_fun(closed)(X[0], 9.0)[0], np.pad(X[0], 1, constant_values=9.0))
    with pytest.raises(NotImplementedError, match="mode 'mean' is not supported"):
        pnp.pad(X, 1, mode="mean")
    with pytest.raises(ValueError, match="pad_width must be non-negative"):
        pnp.pad(X, -1)
    with pytest.raises(ValueError, match="does not give .before, after. for each"):
        pnp.pad(X, ((1, 2), (3, 4)))
    with pytest.raises(ValueError, match="cannot pad an empty axis"):
        pnp.pad(E, 1, mode="wrap")


def test_split_family():
    for n in [2, 4]:
        for o, e in zip(pnp.split(X, n, axis=-1), np.split(X, n, axis=-1)):
            same(o, e)
    for spec in [3, [1, 3], [0, 10], [-2], np.array([1, 2])]:
        outs, expected = pnp.array_split(X, spec, axis=2), np.array_split(X, spec, axis=2)
        assert len(outs) == len(expected)
        for o, e in zip(outs, expected):
            same(o, e)
    for fn in ["hsplit", "vsplit", "dsplit"]:
        for o, e in zip(getattr(pnp, fn)(X, 2 if fn != "hsplit" else 3),
                        getattr(np, fn)(X, 2 if fn != "hsplit" else 3)):
            same(o, e)
    for o, e in zip(pnp.hsplit(np.arange(6), [2]), np.hsplit(np.arange(6), [2])):
        same(o, e)


def test_broadcast_arrays_and_shapes():
    outs = pnp.broadcast_arrays(np.arange(3), np.ones((2, 1)), 5)
    for o, e in zip(outs, np.broadcast_arrays(np.arange(3), np.ones((2, 1)), 5)):
        same(o, e)
    assert pnp.broadcast_shapes((2, 1), (3,), ()) == (2, 3)
    assert pnp.broadcast_shapes(3, (1, 3)) == (1, 3)
    assert pnp.broadcast_shapes((0, 1), (3,)) == (0, 3)


def test_atleast():
    for fn in ["atleast_1d", "atleast_2d", "atleast_3d"]:
        for v in [Z, np.arange(3), np.ones((2, 3)), X]:
            same(getattr(pnp, fn)(v), getattr(np, fn)(v))
        outs = getattr(pnp, fn)(1, np.arange(2))
        assert [o.shape for o in outs] == [e.shape for e in getattr(np, fn)(1, np.arange(2))]


def test_traced_repeats_and_shift():
    reps = np.array([2, 0, 3], np.int32)
    f = lambda a, r: pnp.repeat(a, r, total_repeat_length=6)  # noqa: E731
    closed = plax.make_jaxpr(f)(np.arange(3.0, dtype=np.float32), reps)
    run = jaxpr_as_fun(closed)
    same(run(np.arange(3.0, dtype=np.float32), reps)[0], [0, 0, 2, 2, 2, 2])  # padded with last
    same(run(np.arange(3.0, dtype=np.float32), np.array([3, 3, 3], np.int32))[0],
         [0, 0, 0, 1, 1, 1])  # cut
    same(pnp.repeat(np.arange(3), [1, 2, 1], total_repeat_length=3), [0, 1, 1])
    with pytest.raises(plax.ConcretizationTypeError, match="total_repeat_length"):
        plax.make_jaxpr(lambda a, r: pnp.repeat(a, r))(np.arange(3.0), reps)
    g = plax.make_jaxpr(lambda a, s: pnp.roll(a, s, 1))(X, 1)
    for s in [0, 1, -5, 9]:
        same(jaxpr_as_fun(g)(X, s)[0], np.roll(X, s, 1))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.float16, np.complex64])
def test_dtypes_kept(dtype):
    x = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    for fn, args in [("reshape", ((4, 3),)), ("transpose", ()), ("flip", (0,)),
                     ("roll", (1,)), ("tile", ((2, 1),)), ("repeat", (2, 0)), ("diagonal", ()),
                     ("rot90", ())]:
        out = getattr(pnp, fn)(x, *args)
        assert out.dtype == dtype
        same(out, getattr(np, fn)(x, *args))


@requires_jax
def test_concatenate_promotion_matches_jax():
    import jax.numpy as jnp
    for a, b in [(np.ones(2, np.int8), np.ones(2, np.uint8)), (np.ones(2, np.float16),
                                                                np.ones(2, np.int32)),
                 (np.ones(2, bool), np.ones(2, np.int8))]:
        assert pnp.concatenate([a, b]).dtype == jnp.concatenate([a, b]).dtype
        assert pnp.stack([a, b]).dtype == jnp.stack([a, b]).dtype
    assert pnp.concatenate([X, X], dtype=np.int32).dtype == np.int32


def test_errors():
    with pytest.raises(ValueError, match="cannot reshape array of size 24 into shape"):
        pnp.reshape(X, (5, 5))
    with pytest.raises(ValueError, match="at most one dimension may be -1"):
        pnp.reshape(X, (-1, -1))
    with pytest.raises(ValueError, match="transpose: axes .* not a permutation"):
        pnp.transpose(X, (0, 0, 1))
    with pytest.raises(ValueError, match="axis 3 is out of bounds for array of dimension 3"):
        pnp.swapaxes(X, 0, 3)
    with pytest.raises(ValueError, match="cannot select axis 0 to squeeze out, it has size 2"):
        pnp.squeeze(X, 0)
    with pytest.raises(ValueError, match="cannot broadcast an array of shape"):
        pnp.broadcast_to(np.ones(3), (2, 4))
    with pytest.raises(ValueError, match="must have the same number of dimensions"):
        pnp.concatenate([X, X[0]])
    with pytest.raises(ValueError, match="dimensions except axis 0 must match"):
        pnp.concatenate([X, X[:, :1]])
    with pytest.raises(ValueError, match="zero-dimensional arrays cannot be concatenated"):
        pnp.concatenate([Z, Z])
    with pytest.raises(ValueError, match="all input arrays must have the same shape"):
        pnp.stack([X, X[:1]])
    with pytest.raises(ValueError, match="does not result in an equal division"):
        pnp.split(X, 3, axis=2)
    with pytest.raises(ValueError, match="repeat: repeats of shape"):
        pnp.repeat(X, [1, 2], axis=1)
    with pytest.raises(ValueError, match="non-negative"):
        pnp.repeat(X, -1)
    with pytest.raises(ValueError, match="diagonal requires an array of at least two"):
        pnp.diagonal(np.arange(3))
    with pytest.raises(ValueError, match="diag: the input must be 1-D or 2-D"):
        pnp.diag(X)
    with pytest.raises(ValueError, match="rot90: the axes must be different"):
        pnp.rot90(X, 1, (1, 1))
    with pytest.raises(TypeError, match="reshape requires ndarray or scalar"):
        pnp.reshape([1, 2], (2,))
