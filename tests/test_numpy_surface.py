"""The rest of jax.numpy's surface (plax._src.numpy.surface) against jax.numpy: insert/delete,
compress/extract, place/put/fill_diagonal, digitize, choose, gcd/lcm, geomspace, windows, set
operations, polynomials, index helpers, bit packing; the ml_dtypes scalar types."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp

R = np.random.RandomState(3)
A = np.float32(R.randn(4, 5))
V = np.float32(R.randn(7))
I = np.int32(R.randint(-30, 30, 8))  # noqa: E741
J = np.int32(R.randint(-30, 30, 8))

CASES = [
    ("insert", (A, 2, 9.0), dict(axis=1)),
    ("insert", (V, np.int32([1, 3]), np.float32([5.0, 6.0])), {}),
    ("insert", (A, slice(0, 4, 2), 7.0), {}), ("delete", (A, np.int32([0, 2]), 1), {}),
    ("delete", (V, slice(1, 5)), {}), ("compress", (V > 0, V), {}),
    ("compress", (np.array([True, False, True]), A), dict(axis=0)), ("extract", (A > 0, A), {}),
    ("digitize", (V, np.float32([-1, 0, 1])), {}),
    ("digitize", (V, np.float32([1, 0, -1])), dict(right=True)),
    ("choose", (np.int32([0, 1, 2, 1]), [np.arange(4), np.arange(4) * 10, -np.arange(4)]), {}),
    ("choose", (np.int32([0, 5, -2, 1]), [np.arange(4), np.arange(4) * 10]), dict(mode="clip")),
    ("choose", (np.int32([0, 5, -2, 1]), [np.arange(4), np.arange(4) * 10]), dict(mode="wrap")),
    ("gcd", (I, J), {}), ("lcm", (I, J), {}), ("bitwise_count", (I,), {}), ("modf", (V * 3,), {}),
    ("spacing", (V,), {}), ("iscomplex", (V.astype(np.complex64) + 1j * (V > 0),), {}),
    ("isreal", (V.astype(np.complex64) + 1j * (V > 0),), {}),
    ("geomspace", (1.0, 1000.0, 7), {}), ("geomspace", (-2.0, -50.0, 5), dict(endpoint=False)),
    ("bartlett", (7,), {}), ("blackman", (8,), {}), ("hamming", (6,), {}), ("hanning", (9,), {}),
    ("kaiser", (8, 3.0), {}), ("vander", (V[:4],), {}), ("vander", (V[:4], 3, True), {}),
    ("resize", (V, (3, 4)), {}), ("rollaxis", (np.zeros((2, 3, 4)), 2), {}),
    ("rollaxis", (np.zeros((2, 3, 4)), 0, 3), {}),
    ("diag_indices_from", (np.zeros((3, 3)),), {}),
    ("ravel_multi_index", ((np.int32([0, 1, 2]), np.int32([3, 0, 1])), (3, 4)), {}),
    ("union1d", (I, J), {}), ("setdiff1d", (I, J), {}), ("intersect1d", (I, I[::2]), {}),
    ("setxor1d", (I, J), {}), ("polyadd", (V[:3], V[:5]), {}), ("polysub", (V[:3], V[:5]), {}),
    ("polymul", (V[:3], V[:4]), {}), ("polyder", (V[:5], 2), {}), ("polyint", (V[:4],), {}),
    ("polydiv", (V[:5], V[:2]), {}), ("poly", (V[:3],), {}),
    ("trim_zeros", (np.float32([0, 0, 1, 2, 0, 3, 0]),), {}),
    ("sort_complex", (V,), {}),
    ("ediff1d", (V,), dict(to_begin=-1.0, to_end=np.float32([5.0, 6.0]))),
    ("trapezoid", (A,), {}), ("trapezoid", (A, np.float32([0, 1, 3, 4, 8])), {}),
    ("unwrap", (np.cumsum(np.abs(V)) * 2,), {}), ("unstack", (A,), dict(axis=1)),
    ("matvec", (A, V[:5]), {}), ("vecmat", (V[:4], A), {}), ("i0", (V,), {}),
    ("packbits", (np.array([[1, 0, 1], [0, 1, 1]], np.uint8),), dict(axis=1)),
    ("packbits", (np.array([1, 0, 1, 1, 0, 0, 1, 1, 1], bool),), dict(bitorder="little")),
    ("unpackbits", (np.uint8([[3, 200], [7, 1]]),), dict(axis=0)),
    ("unpackbits", (np.uint8([3, 200]),), dict(count=11)),
    ("ix_", (np.int32([0, 2]), np.int32([1, 3, 4])), {}),
    ("block", ([[np.ones((2, 2)), np.zeros((2, 3))], [np.zeros((1, 2)), np.ones((1, 3))]],), {}),
    ("apply_over_axes", (np.sum, A, [0, 1]), {}),
    ("fill_diagonal", (np.zeros((5, 3)), 4.0), dict(inplace=False)),
    ("fill_diagonal", (np.zeros((3, 3, 3)), np.float32([1.0, 2.0])), dict(inplace=False)),
    ("place", (np.arange(6.0), np.arange(6) % 2 == 0, np.float32([7.0, 8.0])),
     dict(inplace=False)),
    ("put", (np.arange(6.0), np.int32([0, 7]), np.float32([9.0, 8.0])),
     dict(mode="wrap", inplace=False)),
    ("put_along_axis", (A, np.int32([[0, 2, 1, 3, 0]]), 9.0, 0), dict(inplace=False)),
    ("put_along_axis", (A, np.int32([[1], [0], [4], [2]]), A[:, :1], 1), dict(inplace=False)),
    ("histogramdd", (np.float32(R.randn(40, 2)),), dict(bins=(3, 4))),
    ("histogram2d", (V, V[::-1]), dict(bins=4, density=True)),
    ("polyfit", (np.linspace(0, 1, 9, dtype=np.float32), np.float32(R.randn(9)), 2), {}),
    ("roots", (np.float32([0, 1, -3, 2, 0]),), {}),
]


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [a for e in x for a in _flat(e)]
    return [np.asarray(x)]


@requires_jax
@pytest.mark.parametrize("name,args,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                      enumerate(CASES)])
def test_against_jax(name, args, kw):
    import jax.numpy as jnp
    if name == "apply_over_axes":
        out = pnp.apply_over_axes(pnp.sum, *args[1:])
        expected = jnp.apply_over_axes(jnp.sum, *args[1:])
    else:
        out = getattr(pnp, name)(*args, **kw)
        expected = getattr(jnp, name)(*args, **kw)
    outs, exps = _flat(out), _flat(expected)
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps):
        assert o.dtype == e.dtype and o.shape == e.shape, (o.dtype, e.dtype, o.shape, e.shape)
        assert_close(o, e, rtol=2e-5, atol=2e-6)


@requires_jax
def test_unique_all_inverse_and_dtypes():
    import jax.numpy as jnp
    x = np.int32([3, 1, 3, 2, 1, 3])
    for a, b in zip(pnp.unique_all(x), jnp.unique_all(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(pnp.unique_inverse(x), jnp.unique_inverse(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for name in ("float8_e4m3fn", "float8_e5m2", "int4", "uint4", "float4_e2m1fn"):
        assert np.dtype(getattr(pnp, name)) == np.dtype(getattr(jnp, name))
    assert pnp.finfo(pnp.float8_e4m3fn).max == 448


@requires_jax
def test_index_tricks():
    import jax.numpy as jnp
    pairs = [(pnp.mgrid[0:3, 0:2], jnp.mgrid[0:3, 0:2]), (pnp.mgrid[0:1:5j], jnp.mgrid[0:1:5j]),
             (pnp.r_[V[:2], 0:3, V[:1]], jnp.r_[V[:2], 0:3, V[:1]]),
             (pnp.c_[V[:2], V[2:4]], jnp.c_[V[:2], V[2:4]]),
             (pnp.r_["1", A, A[:, :1]], jnp.r_["1", A, A[:, :1]])]
    pairs += list(zip(pnp.ogrid[0:3, 0:2], jnp.ogrid[0:3, 0:2]))
    for a, b in pairs:
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert_close(a, b)


def test_traced_variants(backend):
    x = np.int32([12, 18, -27, 0])
    y = np.int32([8, 24, 6, 5])
    g = plax.jit(pnp.gcd)(x, y)
    np.testing.assert_array_equal(np.asarray(g), np.gcd(x, y))
    np.testing.assert_array_equal(np.asarray(plax.vmap(pnp.lcm)(x, y)), np.lcm(x, y))
    c = plax.jit(lambda v: pnp.compress(v > 0, v, size=5, fill_value=-1))(V)
    exp = np.concatenate([V[V > 0], -np.ones(5, np.float32)])[:5]
    np.testing.assert_array_equal(np.asarray(c), exp)
    d = plax.jit(lambda v: pnp.digitize(v, np.float32([-1, 0, 1])))(V)
    np.testing.assert_array_equal(np.asarray(d), np.digitize(V, [-1, 0, 1]))
    gr = plax.grad(lambda v: pnp.insert(v, 2, 3.0).sum() + pnp.delete(v, [0]).sum())(V)
    assert_close(gr, np.where(np.arange(7) == 0, 1.0, 2.0))


def test_fill_diagonal_wrap_as_numpy():
    # JAX does not implement wrap=True; NumPy is the reference
    expected = np.zeros((7, 3))
    np.fill_diagonal(expected, 4.0, wrap=True)
    out = pnp.fill_diagonal(np.zeros((7, 3), np.float32), 4.0, wrap=True, inplace=False)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_errors():
    with pytest.raises(ValueError, match="inplace=False"):
        pnp.fill_diagonal(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="integers"):
        pnp.gcd(np.float32(1), np.float32(2))
    with pytest.raises(ValueError, match="invalid entry"):
        pnp.choose(np.int32([3]), [np.arange(1), np.arange(1)])
    with pytest.raises(ValueError, match="1D"):
        pnp.compress(np.ones((2, 2), bool), np.ones(4))
