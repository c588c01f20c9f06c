"""plax.numpy's composite functions (vectorize, piecewise, interp, polyval, convolve, correlate,
cov, corrcoef, gradient, frexp, ldexp, apply_along_axis, histogram, histogram_bin_edges,
partition, argpartition): values, dtypes and weak types against JAX (NumPy where JAX is not
importable), jit, vmap and grad, and errors for bad input."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import HAVE_JAX, assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax.test_util import check_grads

BF16 = ml_dtypes.bfloat16


def rnd(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if np.dtype(dtype).kind == "u" else -5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _np_fn(name):
    """The JAX function when JAX is importable, else NumPy's."""
    if HAVE_JAX:
        import jax.numpy as jnp
        return getattr(jnp, name)
    return getattr(np, name)


def check(name, *args, exact=False, check_dtype=True, **kw):
    """plax.numpy.<name> agrees with the oracle on values, shapes and (vs JAX) dtypes."""
    out = getattr(pnp, name)(*args, **kw)
    ref = _np_fn(name)(*args, **kw)
    outs = out if isinstance(out, (tuple, list)) else [out]
    refs = ref if isinstance(ref, (tuple, list)) else [ref]
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        o, r = np.asarray(o), np.asarray(r)
        if HAVE_JAX and check_dtype:
            assert o.dtype == r.dtype, (name, o.dtype, r.dtype)
        if exact:
            np.testing.assert_array_equal(o.astype(np.float64), r.astype(np.float64))
        elif o.dtype.kind == "c":
            assert_close(o, r.astype(np.complex128), dtype=o.dtype)
        else:
            assert_close(o.astype(np.float64) if o.dtype == BF16 else o,
                         r.astype(np.float64), dtype=o.dtype)
    return out


def weak_type_matches(fn, *args):
    """Result dtypes and weak types of fn(pnp)/fn(jnp) agree, by abstract evaluation."""
    import jax
    import jax.numpy as jnp
    p = plax.eval_shape(lambda: fn(pnp, *args))
    j = jax.eval_shape(lambda: fn(jnp, *args))
    ps, js = plax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(j)
    assert [(np.dtype(a.dtype), a.weak_type) for a in ps] == \
        [(np.dtype(b.dtype), b.weak_type) for b in js]


# ---------------------------------------------------------------------------------------------
# frexp, ldexp


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16, np.int32])
def test_frexp_ldexp_values(dtype):
    if np.dtype(dtype).kind == "i":
        x = np.array([0, 3, -7, 100], np.int32)
    else:  # normal numbers only: XLA's CPU flushes subnormals, NumPy does not
        x = np.array([0., -0., 1., -3.5, 7e3, np.inf, -np.inf, np.nan, 0.3, 1e-3],
                     np.float32).astype(dtype)
    check("frexp", x, exact=True)
    n = np.array([0, 1, -3, 5, 20, -20, 7, 2, -1, 3][:x.size], np.int32)
    check("ldexp", x, n, exact=True)


def test_frexp_ldexp_backends(backend):
    x = np.array([0.75, -12.0, 0.0, np.inf, 3e-5], np.float32)
    m, e = pnp.frexp(x)
    np.testing.assert_array_equal(np.asarray(m), [0.75, -0.75, 0.0, np.inf, np.frexp(x)[0][4]])
    np.testing.assert_array_equal(np.asarray(e), [0, 4, 0, 0, np.frexp(x)[1][4]])
    np.testing.assert_array_equal(np.asarray(pnp.ldexp(x, np.int32(3))), np.ldexp(x, 3))
    f = plax.jit(lambda a: pnp.ldexp(*pnp.frexp(a)))
    np.testing.assert_array_equal(np.asarray(f(x)), x)


@requires_jax
def test_frexp_ldexp_types():
    weak_type_matches(lambda m: m.frexp(1.5))
    weak_type_matches(lambda m: m.ldexp(1.5, 3))
    weak_type_matches(lambda m: m.ldexp(np.float16(1.5), np.int8(3)))
    weak_type_matches(lambda m: m.ldexp(np.arange(3), 3))


def test_frexp_ldexp_transforms():
    x = np.array([[0.3, -5.0, 8.0], [1.0, 2.5, 100.0]], np.float32)
    m, e = plax.vmap(pnp.frexp)(x)
    np.testing.assert_array_equal(np.asarray(m), np.frexp(x)[0])
    np.testing.assert_array_equal(np.asarray(e), np.frexp(x)[1])
    out = plax.vmap(pnp.ldexp, in_axes=(0, None))(x, np.int32(2))
    np.testing.assert_array_equal(np.asarray(out), np.ldexp(x, 2))
    g = plax.grad(lambda v: pnp.sum(pnp.ldexp(v, np.array([3, -1, 0], np.int32))))(x[0])
    np.testing.assert_allclose(np.asarray(g), [8.0, 0.5, 1.0])
    check_grads(lambda v: pnp.ldexp(v, 2), (np.float32(1.7),), order=1, modes=("rev",))
    np.testing.assert_allclose(float(plax.grad(lambda v: pnp.frexp(v)[0])(12.0)), 1 / 16)


def test_frexp_ldexp_errors():
    with pytest.raises(TypeError, match="complex"):
        pnp.frexp(np.complex64(1))
    with pytest.raises(ValueError, match="ldexp not supported"):
        pnp.ldexp(1.0, 2.0)
    with pytest.raises(ValueError, match="ldexp not supported"):
        pnp.ldexp(np.complex64(1), 2)


# ---------------------------------------------------------------------------------------------
# partition, argpartition


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, BF16])
@pytest.mark.parametrize("kth", [0, 3, -1])
def test_partition(dtype, kth):
    x = rnd((3, 7), dtype)
    for axis in (-1, 0):
        if HAVE_JAX:  # JAX's order of the other elements is specified by its implementation
            check("partition", x, kth if axis == -1 else kth % 3, axis=axis, exact=True)
            check("argpartition", x, kth if axis == -1 else kth % 3, axis=axis, exact=True)
        k = kth % x.shape[axis]
        p = np.asarray(pnp.partition(x, k, axis=axis)).astype(np.float64)
        s = np.sort(x.astype(np.float64), axis=axis)
        np.testing.assert_array_equal(np.take(p, k, axis), np.take(s, k, axis))
        idx = np.asarray(pnp.argpartition(x, k, axis=axis))
        assert idx.dtype == np.int32
        got = np.take_along_axis(x, idx, axis).astype(np.float64)
        np.testing.assert_array_equal(np.take(got, k, axis), np.take(s, k, axis))
        np.testing.assert_array_equal(np.sort(got, axis), s)


def test_partition_transforms(backend):
    x = rnd((2, 6))
    f = plax.jit(pnp.partition, static_argnums=(1,))
    np.testing.assert_array_equal(np.asarray(f(x, 2)), np.asarray(pnp.partition(x, 2)))
    v = plax.vmap(lambda r: pnp.argpartition(r, 1))(x)
    np.testing.assert_array_equal(np.asarray(v), np.asarray(pnp.argpartition(x, 1)))


def test_partition_errors():
    with pytest.raises(NotImplementedError, match="complex"):
        pnp.partition(np.ones(3, np.complex64), 1)
    with pytest.raises(np.exceptions.AxisError):
        pnp.partition(np.ones(3), 3)
    with pytest.raises(np.exceptions.AxisError):
        pnp.argpartition(np.ones((3, 2)), 1, axis=2)
    with pytest.raises(plax.ConcretizationTypeError, match="kth argument of partition"):
        plax.jit(pnp.partition)(np.ones(3), 1)


# ---------------------------------------------------------------------------------------------
# convolve, correlate


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, BF16])
def test_convolve_correlate(fn, mode, dtype):
    a, v = rnd((7,), dtype), rnd((3,), dtype, seed=1)
    check(fn, a, v, mode=mode)
    check(fn, v, a, mode=mode)
    check(fn, a[:1], v[:1], mode=mode)


def test_correlate_complex_and_preferred_type():
    a = (rnd((5,)) + 1j * rnd((5,), seed=2)).astype(np.complex64)
    v = (rnd((2,), seed=3) + 1j * rnd((2,), seed=4)).astype(np.complex64)
    check("correlate", a, v, mode="full")
    check("convolve", np.arange(5), np.arange(3), preferred_element_type=np.int32, exact=True)


def test_convolve_transforms(backend):
    a, v = rnd((6,)), rnd((3,), seed=1)
    out = plax.jit(pnp.convolve, static_argnames="mode")(a, v, mode="same")
    assert_close(out, np.convolve(a, v, mode="same"))
    out = plax.vmap(pnp.correlate, in_axes=(0, None))(rnd((2, 6)), v)
    assert_close(out, np.stack([np.correlate(r, v) for r in rnd((2, 6))]), rtol=1e-5)


def test_convolve_grad():
    a, v = rnd((5,)).astype(np.float64), rnd((3,), seed=1).astype(np.float64)
    with plax.enable_x64():
        check_grads(lambda x, y: pnp.convolve(x, y), (a, v), order=1)
        check_grads(lambda x, y: pnp.correlate(x, y, mode="same"), (a, v), order=1,
                    modes=("rev",))


def test_convolve_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        pnp.convolve(np.ones(3), np.ones(2), mode="bad")
    with pytest.raises(ValueError, match="only support 1-dimensional"):
        pnp.correlate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="inputs cannot be empty"):
        pnp.convolve(np.ones(0), np.ones(2))
    with pytest.raises(TypeError, match="requires ndarray"):
        pnp.convolve([1.0, 2.0], np.ones(2))


# ---------------------------------------------------------------------------------------------
# polyval, interp


@pytest.mark.parametrize("dtype", [np.float32, np.int32, BF16])
def test_polyval(dtype):
    p = rnd((4,), dtype)
    check("polyval", p, rnd((5,), dtype, seed=1))
    check("polyval", p, rnd((), dtype, seed=1))
    check("polyval", p[:0], rnd((3,), dtype, seed=1))
    check("polyval", rnd((3, 2), dtype), rnd((4, 2), dtype, seed=1))


@requires_jax
def test_polyval_interp_types():
    weak_type_matches(lambda m: m.polyval(np.array([1.0, 2.0], np.float16), 2.0))
    weak_type_matches(lambda m: m.polyval(np.arange(3), 2.0))
    weak_type_matches(lambda m: m.interp(0.5, np.arange(3), np.arange(3)))
    weak_type_matches(lambda m: m.interp(np.float16(0.5), np.arange(3.0, dtype=np.float16),
                                         np.arange(3)))


def test_polyval_transforms(backend):
    p, x = rnd((3,)), rnd((4,), seed=1)
    assert_close(plax.jit(pnp.polyval)(p, x), np.polyval(p, x), rtol=1e-5)
    assert_close(plax.vmap(pnp.polyval, in_axes=(None, 0))(p, x), np.polyval(p, x), rtol=1e-5)


def test_polyval_grad():
    with plax.enable_x64():
        check_grads(pnp.polyval, (rnd((4,)).astype(np.float64), rnd((3,), seed=1).astype(
            np.float64)), order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16])  # JAX refuses bfloat16
def test_interp(dtype):
    xp = np.sort(rnd((6,), np.float32, seed=3)).astype(dtype)
    if np.dtype(dtype).kind == "i":
        xp = np.arange(6, dtype=dtype) * 2
    fp = rnd((6,), dtype, seed=4)
    x = (rnd((10,), np.float32, seed=5) * 4).astype(dtype)
    check("interp", x, xp, fp)
    check("interp", x, xp, fp, left=-5.0, right=3.0)
    check("interp", x, xp, fp, left="extrapolate", right="extrapolate")
    check("interp", x, xp, fp, period=3)
    check("interp", x[0], xp, fp)
    check("interp", x[:0], xp, fp)


def test_interp_transforms(backend):
    xp, fp = np.array([0.0, 1.0, 3.0], np.float32), np.array([1.0, -1.0, 5.0], np.float32)
    x = np.array([-1.0, 0.5, 2.0, 4.0], np.float32)
    assert_close(plax.jit(pnp.interp)(x, xp, fp), np.interp(x, xp, fp))
    assert_close(plax.vmap(pnp.interp, in_axes=(0, None, None))(x, xp, fp),
                 np.interp(x, xp, fp))
    g = plax.grad(lambda t: pnp.interp(t, xp, fp))(np.float32(2.0))
    np.testing.assert_allclose(float(g), 3.0)
    with plax.enable_x64():
        check_grads(lambda t, f: pnp.interp(t, xp.astype(np.float64), f),
                    (x[1:3].astype(np.float64), fp.astype(np.float64)), order=1)


def test_interp_errors():
    with pytest.raises(ValueError, match="one-dimensional arrays of equal size"):
        pnp.interp(1.0, np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="only valid string value of `left`"):
        pnp.interp(1.0, np.ones(3), np.ones(3), left="bad")
    with pytest.raises(ValueError, match="period must be a scalar"):
        pnp.interp(1.0, np.ones(3), np.ones(3), period=np.ones(2))
    with pytest.raises(ValueError, match="complex x"):
        pnp.interp(np.complex64(1), np.ones(3), np.ones(3))


# ---------------------------------------------------------------------------------------------
# cov, corrcoef


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_cov_corrcoef(dtype):
    m = rnd((3, 8), dtype)
    for kw in [{}, dict(rowvar=False), dict(bias=True), dict(ddof=2)]:
        check("cov", m, **kw)
    check("cov", m[0], m[1])
    check("cov", m[0])
    check("cov", m, fweights=np.arange(1, 9))
    check("cov", m, fweights=np.arange(1, 9), aweights=np.linspace(0.1, 1, 8))
    check("cov", m, aweights=np.linspace(0.1, 1, 8), dtype=np.float32)
    check("cov", np.ones((2, 0), dtype))
    check("corrcoef", m)
    check("corrcoef", m[0], m[2])
    check("corrcoef", m[0])
    check("corrcoef", m, rowvar=False)


def test_cov_transforms(backend):
    m = rnd((2, 5))
    assert_close(plax.jit(pnp.cov)(m), np.cov(m), rtol=1e-5)
    assert_close(plax.vmap(pnp.corrcoef)(np.stack([m, 2 * m])),
                 np.stack([np.corrcoef(m)] * 2), rtol=1e-5, atol=1e-6)


def test_cov_grad():
    with plax.enable_x64():
        check_grads(pnp.cov, (rnd((2, 5)).astype(np.float64),), order=2)
        check_grads(pnp.corrcoef, (rnd((2, 5)).astype(np.float64),), order=1, modes=("rev",))


def test_cov_errors():
    with pytest.raises(ValueError, match="m has more than 2 dimensions"):
        pnp.cov(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="fweights must be integer"):
        pnp.cov(np.ones((2, 3)), fweights=np.ones(3))
    with pytest.raises(RuntimeError, match="incompatible numbers of samples and aweights"):
        pnp.cov(np.ones((2, 3)), aweights=np.ones(4))
    with pytest.raises(ValueError, match="dtype must be a subclass of float"):
        pnp.corrcoef(np.ones((2, 3)), dtype=np.int32)


# ---------------------------------------------------------------------------------------------
# gradient


@pytest.mark.parametrize("dtype", [np.float32, np.int32, BF16])
def test_gradient(dtype):
    f = rnd((4, 6), dtype)
    check("gradient", f)
    check("gradient", f, 2.0, axis=1)
    check("gradient", f, 0.5, 3.0)
    check("gradient", f, np.array([0.0, 0.5, 2.0, 2.5], np.float32), axis=0)
    check("gradient", f, axis=(-1,))
    check("gradient", f[0])


def test_gradient_transforms(backend):
    f = rnd((3, 5))
    assert_close(plax.jit(pnp.gradient, static_argnames="axis")(f, axis=1),
                 np.gradient(f, axis=1))
    assert_close(plax.vmap(pnp.gradient)(f), np.stack([np.gradient(r) for r in f]))


def test_gradient_grad():
    with plax.enable_x64():
        check_grads(lambda f: pnp.gradient(f, 0.5), (rnd((5,)).astype(np.float64),), order=2)
        check_grads(lambda f: pnp.gradient(f, axis=0), (rnd((3, 2)).astype(np.float64),),
                    order=1, modes=("rev",))


def test_gradient_edge_order_and_errors():
    f = rnd((5,))
    assert_close(pnp.gradient(f, edge_order=1), np.gradient(f, edge_order=1))
    with pytest.raises(NotImplementedError, match="edge_order=2"):
        pnp.gradient(f, edge_order=2)
    with pytest.raises(ValueError, match="at least 2 elements"):
        pnp.gradient(np.ones((1, 3)))
    with pytest.raises(np.exceptions.AxisError):
        pnp.gradient(f, axis=1)
    with pytest.raises(TypeError, match="Invalid number of spacing arguments"):
        pnp.gradient(f, 1.0, 2.0)
    with pytest.raises(ValueError, match="Spacing arrays must have the same length"):
        pnp.gradient(f, np.ones(3))
    assert pnp.gradient(f, axis=()) == []


# ---------------------------------------------------------------------------------------------
# histogram, histogram_bin_edges


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_histogram(dtype):
    d = (rnd((50,), np.float32) * 3).astype(dtype)
    check("histogram", d)
    check("histogram", d, bins=5, range=(-1, 1), density=True)
    check("histogram", d, bins=np.array([-2.0, 0.0, 0.5, 3.0]), weights=np.abs(rnd((50,))))
    check("histogram", np.ones(4, dtype), bins=3)
    check("histogram_bin_edges", d, 4)
    check("histogram_bin_edges", d, 4, range=(0, 2))


def test_histogram_transforms(backend):
    d = rnd((20,))
    counts, edges = plax.jit(pnp.histogram, static_argnums=(1,))(d, 4)
    ref_c, ref_e = np.histogram(d, 4)
    assert_close(counts, ref_c.astype(np.float32))
    assert_close(edges, ref_e, rtol=1e-5, atol=1e-5)
    vc, _ = plax.vmap(lambda r: pnp.histogram(r, 3, range=(-2.0, 2.0)))(rnd((2, 20)))
    for row, c in zip(rnd((2, 20)), np.asarray(vc)):
        np.testing.assert_array_equal(c, np.histogram(row, 3, range=(-2, 2))[0])


def test_histogram_errors():
    with pytest.raises(plax.ConcretizationTypeError, match="bins argument"):
        plax.jit(pnp.histogram)(np.ones(4), 3)
    with pytest.raises(NotImplementedError, match="string values"):
        pnp.histogram_bin_edges(np.ones(4), "auto")
    with pytest.raises(ValueError, match="weights should have the same shape"):
        pnp.histogram(np.ones(4), weights=np.ones(3))
    with pytest.raises(ValueError, match="`range` must be either None"):
        pnp.histogram_bin_edges(np.ones(4), 3, range=(0.0, 1.0, 2.0))


# ---------------------------------------------------------------------------------------------
# vectorize, apply_along_axis, piecewise


def test_vectorize():
    m = rnd((3, 4))
    f = pnp.vectorize(lambda s, t: s * t + 1)
    assert_close(f(m, m[0]), m * m[0] + 1)
    assert_close(f(2.0, m[:, :1]), 2 * m[:, :1] + 1)
    dot = pnp.vectorize(pnp.dot, signature="(n),(n)->()")
    assert_close(dot(m, m[:1]), (m * m[:1]).sum(-1), rtol=1e-5)
    two = pnp.vectorize(lambda v: (pnp.sum(v), pnp.max(v)), signature="(n)->(),()")
    s, mx = two(m)
    assert_close(s, m.sum(-1), rtol=1e-5)
    assert_close(mx, m.max(-1))
    ex = pnp.vectorize(lambda v, k, scale=1.0: v[k] * scale, excluded={1, "scale"},
                       signature="(n)->()")
    assert_close(ex(m, 2, scale=3.0), 3 * m[:, 2])
    assert_close(pnp.vectorize(lambda v: v * 2)(np.float32(3.0)), np.float32(6.0))
    assert_close(pnp.vectorize(lambda v: v * 2)(np.ones((0, 2))), np.ones((0, 2)))


def test_vectorize_transforms(backend):
    m = rnd((3, 4))
    f = pnp.vectorize(lambda v: pnp.sum(v * v), signature="(n)->()")
    assert_close(plax.jit(f)(m), (m * m).sum(-1), rtol=1e-5)
    assert_close(plax.vmap(f)(m[None]), (m * m).sum(-1)[None], rtol=1e-5)
    g = plax.grad(lambda x: pnp.sum(f(x)))(m)
    assert_close(g, 2 * m)
    check_grads(pnp.vectorize(lambda a, b: a * pnp.sin(b)), (m[0], m[1]), order=1,
                modes=("rev",))


def test_vectorize_errors():
    with pytest.raises(ValueError, match="not a valid gufunc signature"):
        pnp.vectorize(pnp.sum, signature="(n)")(np.ones(3))
    with pytest.raises(ValueError, match="inconsistent size for core dimension 'n'"):
        pnp.vectorize(pnp.dot, signature="(n),(n)->()")(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="does not have enough dimensions"):
        pnp.vectorize(pnp.sum, signature="(n)->()")(1.0)
    with pytest.raises(ValueError, match="output shape"):
        pnp.vectorize(lambda v: v, signature="(n)->()")(np.ones(3))
    with pytest.raises(TypeError, match="can only exclude integer or string"):
        pnp.vectorize(pnp.sum, excluded={1.5})
    with pytest.raises(ValueError, match="contains negative numbers"):
        pnp.vectorize(pnp.sum, excluded={-1})


def test_apply_along_axis(backend):
    x = rnd((2, 3, 4))
    for axis in (0, 1, -1):
        out = pnp.apply_along_axis(pnp.cumsum, axis, x)
        assert_close(out, np.apply_along_axis(np.cumsum, axis, x), rtol=1e-5)
        out = pnp.apply_along_axis(lambda v, s: pnp.sum(v) * s, axis, x, 2.0)
        assert_close(out, np.apply_along_axis(lambda v: v.sum() * 2, axis, x), rtol=1e-5)
    out = plax.jit(lambda a: pnp.apply_along_axis(pnp.diff, 1, a))(x)
    assert_close(out, np.apply_along_axis(np.diff, 1, x))
    with pytest.raises(np.exceptions.AxisError):
        pnp.apply_along_axis(pnp.sum, 3, x)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_piecewise(dtype):
    x = (rnd((10,), np.float32) * 3).astype(dtype)
    check("piecewise", x, [x < 0, x > 1], [lambda t: t * 2, 3, lambda t: -t])
    check("piecewise", x, [x < 0], [lambda t: t * t])
    check("piecewise", x, [x < 0, x > -1], [1.5, 2])
    check("piecewise", x[0], [x[0] < 0], [lambda t: t + 1, lambda t: t - 1])


def test_piecewise_transforms(backend):
    x = rnd((6,))

    def f(t):
        return pnp.piecewise(t, [t < 0], [lambda s: s * s, lambda s: 3 * s])
    ref = np.where(x < 0, x * x, 3 * x)
    assert_close(plax.jit(f)(x), ref)
    assert_close(plax.vmap(f)(x), ref)
    assert_close(plax.grad(lambda t: pnp.sum(f(t)))(x), np.where(x < 0, 2 * x, 3.0))


def test_piecewise_errors():
    with pytest.raises(ValueError, match=r"with 1 condition\(s\), either 1 or 2 functions"):
        pnp.piecewise(np.ones(3), [np.ones(3, bool)], [1, 2, 3])
