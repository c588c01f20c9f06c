"""plax.scipy.special's series, continued-fraction and recurrence functions (bessel_jn, dawsn,
expn, fresnel, hyp1f1, hyp2f1, owens_t, sici, sph_harm_y, wofz) against jax.scipy.special:
values and dtypes, gradients, jit and vmap on reference and xla; float64 values against
scipy.special (where JAX 0.10.2 is wrong, SciPy is the reference)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_close, installed_backends, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.special as ps

R = np.random.RandomState(1)
X = np.float32(R.uniform(0.1, 6, 8))
U = np.float32(R.uniform(0.01, 0.95, 8))
S = np.float32(R.randn(8) * 3)
N = np.float32(np.arange(8) % 4)
DEG, ORD = np.int32([0, 1, 2, 3, 4, 3, 2, 4]), np.int32([0, -1, 2, -3, 1, 0, -2, 4])
Z = (S + 1j * np.float32(R.randn(8) * 2)).astype(np.complex64)

CASES = {
    "dawsn": (S,), "fresnel": (S,), "sici": (S * 2,), "expn": (N, X), "owens_t": (S, S / 2),
    "hyp1f1": (X, X + 0.5, S), "hyp2f1": (X, U * 3, X + 1, U * 2 - 1), "wofz": (Z,),
    "bessel_jn": (X * 2 + 5,), "sph_harm_y": (DEG, ORD, U * 3, X),
}
STATIC = {"bessel_jn": dict(v=3), "sph_harm_y": dict(n_max=4)}


def _fn(module, name):
    return functools.partial(getattr(module, name), **STATIC.get(name, {}))


def _jax(name):
    import jax.scipy.special as js
    return _fn(js, name)


def _scipy(name, *args):
    """SciPy's values in float64 (JAX's conventions where they differ: 0 for |m| > n)."""
    import scipy.special as ss
    args = [np.asarray(a, np.complex128 if np.iscomplexobj(a) else
                       np.float64 if np.asarray(a).dtype.kind == "f" else None) for a in args]
    if name == "bessel_jn":
        return ss.jv(np.arange(4)[:, None], args[0])
    if name == "expn":
        return ss.expn(args[0].astype(int), args[1])
    return getattr(ss, name)(*args)


@requires_jax
def test_dtypes_and_shapes_as_jax():
    import jax
    import jax.scipy.special as js
    ours = {name: _fn(ps, name)(*args) for name, args in CASES.items()}
    theirs = jax.eval_shape(lambda c: {n: _fn(js, n)(*a) for n, a in c.items()}, CASES)
    for name in CASES:
        o, t = jax.tree_util.tree_leaves(ours[name]), jax.tree_util.tree_leaves(theirs[name])
        assert [(v.shape, v.dtype) for v in o] == [(v.shape, v.dtype) for v in t], name
    with plax.enable_x64():  # float64 arguments give float64 / complex128
        assert ps.wofz(np.float64(S)).dtype == np.complex128
        assert ps.hyp2f1(*[np.float64(a) for a in CASES["hyp2f1"]]).dtype == np.float64


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_against_scipy(name):
    """float32 values against SciPy's float64 ones at the same points (these points avoid
    the cases where JAX 0.10.2 departs from SciPy, tested below)."""
    out, expected = _fn(ps, name)(*CASES[name]), _scipy(name, *CASES[name])
    for o, e in zip(*(v if isinstance(v, tuple) else (v,) for v in (out, expected))):
        assert_close(o, e, rtol=2e-5, atol=2e-6)


@requires_jax
def test_jax_conventions():
    """Where JAX's definitions are its own: sph_harm_y is 0 for |m| > n and clips n to
    n_max; 1F1(0; 0; x) is 1. E_n(0) = 1/(n-1) as SciPy (JAX 0.10.2 returns 1/n)."""
    import jax.scipy.special as js
    n, m = np.int32([2, 1, 6]), np.int32([3, 1, 2])
    th, ph = np.float32([0.4, 0.8, 1.2]), np.float32([0.3, 1.0, 2.0])
    assert_close(ps.sph_harm_y(n, m, th, ph, n_max=4),
                 np.asarray(js.sph_harm_y(n, m, th, ph, n_max=4)), rtol=1e-5, atol=1e-6)
    assert np.asarray(ps.hyp1f1(np.float32(0), np.float32(0), np.float32(2))) == 1
    assert_close(ps.expn(np.float32([2, 3]), np.float32(0)), np.float32([1, 0.5]))


def test_special_points_and_branches():
    """1F1 at a = 0, a = b, b = 0 and |x| >= 100; 2F1's terminating, Euler, x = 1, pole and
    digamma-transform cases; E_n at x = 0 and for n >= 5000 (float64, against SciPy)."""
    import scipy.special as ss
    with plax.enable_x64():
        a, b = np.float64([0, 2, 1.5, 0.5, 1.2]), np.float64([1, 2, 0, 1.5, 2.5])
        x = np.float64([3, 1.5, 1, 150, 130])
        ours = np.asarray(ps.hyp1f1(a, b, x))
        assert ours[0] == 1 and ours[2] == np.inf
        assert_close(ours[[1, 3]], ss.hyp1f1(a, b, x)[[1, 3]], rtol=1e-12)
        assert_close(ours[4], ss.hyp1f1(a[4], b[4], x[4]), rtol=1e-6)  # asymptotic series
        a = np.float64([-3, 1, 0.3, 2, 1, 0.5, 1])
        b = np.float64([1.5, 2, 0.7, 1, 1, 0.5, 2])
        c = np.float64([2, 5, 1.5, 3, 3, 3, -2])
        x = np.float64([0.7, 0.97, 0.999, 0.92, 1, -0.5, 0.3])
        # (at x = 0.999 the Taylor series stops at 250 terms, short of SciPy's value, as JAX)
        keep = [0, 1, 3, 4, 5]
        assert_close(np.asarray(ps.hyp2f1(a, b, c, x))[keep], ss.hyp2f1(a, b, c, x)[keep],
                     rtol=1e-9)
        assert np.asarray(ps.hyp2f1(a, b, c, x))[6] == np.inf
        n, x = np.float64([2, 3, 1, 6000, 1, 4]), np.float64([0, 0, 0, 3, 1.0001, 0.4])
        assert_close(ps.expn(n, x), ss.expn(n.astype(int), x), rtol=1e-12)


def test_float64_against_scipy():
    import scipy.special as ss
    with plax.enable_x64():
        s, x = np.float64(S), np.float64(X)
        assert_close(ps.dawsn(s), ss.dawsn(s), rtol=1e-13)
        for o, e in zip(ps.fresnel(s), ss.fresnel(s)):
            assert_close(o, e, rtol=1e-13)
        for o, e in zip(ps.sici(s * 2), ss.sici(s * 2)):
            assert_close(o, e, rtol=1e-12, atol=1e-15)
        assert_close(ps.owens_t(s, s / 2), ss.owens_t(s, s / 2), rtol=1e-12, atol=1e-15)
        assert_close(ps.wofz(np.complex128(Z)), ss.wofz(np.complex128(Z)), rtol=1e-13)
        orders = np.arange(4)[:, None]
        assert_close(ps.bessel_jn(x * 2 + 5, v=3), ss.jv(orders, x * 2 + 5), rtol=1e-9,
                     atol=1e-12)
        assert_close(ps.sph_harm_y(DEG, ORD, np.float64(U) * 3, x),
                     ss.sph_harm_y(DEG, ORD, np.float64(U) * 3, x), rtol=1e-12, atol=1e-14)


# XLA compiles 2F1's nested series loops in seconds: it runs compiled on the reference only
ON_BACKEND = {"reference": sorted(CASES), "xla": sorted(set(CASES) - {"hyp2f1"})}


@pytest.mark.parametrize("backend_name", [b for b in ON_BACKEND if b in installed_backends()])
def test_jit_and_vmap(backend_name):
    """Each function, vmapped over rows under one jit on the backend, against the eager
    reference values."""
    names = ON_BACKEND[backend_name]
    eager = {name: _fn(ps, name)(*CASES[name]) for name in names}
    rows = {name: [a.reshape(4, 2) for a in CASES[name]] for name in names}
    fns = {name: plax.vmap(_fn(ps, name)) for name in names}

    @plax.jit
    def run(rows):
        return {name: fns[name](*rows[name]) for name in fns}

    with plax.default_backend(backend_name):
        out = run(rows)
    for name in names:
        got, want = out[name], eager[name]
        if name == "bessel_jn":  # vmap puts the rows first: (4, v + 1, 2)
            got = np.moveaxis(np.asarray(got), 1, 0)
        for g, w in zip(*(v if isinstance(v, tuple) else (v,) for v in (got, want))):
            assert_close(np.asarray(g).reshape(np.shape(w)), w, rtol=1e-5, atol=1e-6)


def test_derivatives():
    """plax.grad against the closed forms: D' = 1 - 2 x D, (S', C') = (sin, cos)(pi x**2/2),
    (Si', Ci') = (sin x, cos x)/x, E_n' = -E_{n-1}, w' = -2 z w + 2i/sqrt(pi), 1F1 and 2F1 in
    x by their shifted parameters, Owen's T in h and a, J_n by the recurrence
    J_n' = (J_{n-1} - J_{n+1})/2, evaluated by SciPy."""
    import scipy.special as ss
    s, x, u, z = S, X, U * 1.6 - 0.8, np.float64(S)

    def grad(f, *args, argnums=0):
        return plax.grad(lambda *a: plax.numpy.sum(plax.numpy.real(f(*a))),
                         argnums=argnums)(*args)

    assert_close(grad(ps.dawsn, s), 1 - 2 * z * ss.dawsn(z), rtol=1e-4, atol=1e-5)
    assert_close(grad(lambda v: ps.fresnel(v)[0], s), np.sin(np.pi * z * z / 2), rtol=1e-4,
                 atol=1e-4)
    assert_close(grad(lambda v: ps.sici(v)[1], s), np.cos(z) / z, rtol=1e-4, atol=1e-5)
    n = np.float32(np.arange(8) % 3 + 1)
    assert_close(grad(lambda v: ps.expn(n, v), x), -ss.expn(n.astype(int) - 1, x), rtol=1e-4)
    assert_close(grad(lambda v: ps.expn(np.float32(0), v), x),
                 -np.exp(-x) * (1 / x + 1 / x ** 2), rtol=1e-4)
    w = ss.wofz(z)
    assert_close(grad(ps.wofz, s), np.real(-2 * z * w + 2j / np.sqrt(np.pi)), rtol=1e-4,
                 atol=1e-5)
    a, b = x, x + 0.5
    assert_close(grad(lambda v: ps.hyp1f1(a, b, v), s), a / b * ss.hyp1f1(a + 1, b + 1, z),
                 rtol=1e-4, atol=1e-5)
    assert_close(grad(lambda v: ps.hyp2f1(a, u, a + 1, v), u),
                 a * u / (a + 1) * ss.hyp2f1(a + 1, u + 1, a + 2, u), rtol=1e-4, atol=1e-5)
    dh, da = grad(ps.owens_t, s, s / 2, argnums=(0, 1))
    assert_close(dh, -np.exp(-z * z / 2) * ss.erf(z * z / 2 / np.sqrt(2))
                 / (2 * np.sqrt(2 * np.pi)), rtol=1e-4, atol=1e-6)
    assert_close(da, np.exp(-(z * z / 4 + 1) * z * z / 2) / (2 * np.pi * (z * z / 4 + 1)),
                 rtol=1e-4, atol=1e-6)
    with plax.enable_x64():  # float32 overflows in the unnormalised recurrence's derivative
        zj = np.float64(x * 2 + 5)  # (JAX's gradient too)
        assert_close(grad(lambda v: ps.bessel_jn(v, v=2)[1], zj),
                     (ss.jv(0, zj) - ss.jv(2, zj)) / 2, rtol=1e-8, atol=1e-10)


def test_check_grads():
    """Finite differences (float64): second order for dawsn and Owen's T, first order for
    the spherical harmonics (differentiated through their recurrence, as JAX's) and 1F1's
    and 2F1's parameter series."""
    with plax.enable_x64():
        s, x, u = np.float64(S[:4]), np.float64(X[:4]), np.float64(U[:4])
        plax.test_util.check_grads(ps.dawsn, (s,), order=2, modes=("fwd", "rev"), atol=1e-5,
                                   rtol=1e-5)
        plax.test_util.check_grads(ps.owens_t, (s, s / 2), order=2, modes=("fwd", "rev"),
                                   atol=1e-5, rtol=1e-5)
        th, ph = np.float64(np.linspace(0.3, 2.5, 8)), np.float64(X)
        plax.test_util.check_grads(lambda t, p: ps.sph_harm_y(DEG, ORD, t, p, n_max=4),
                                   (th, ph), order=1, modes=("fwd", "rev"), atol=1e-5,
                                   rtol=1e-5)
        plax.test_util.check_grads(lambda a, b: ps.hyp1f1(a, b, u * 3), (x, x + 0.5), order=1,
                                   modes=("rev",), atol=1e-5, rtol=1e-5)
        plax.test_util.check_grads(lambda a, b, c: ps.hyp2f1(a, b, c, u - 0.3),
                                   (x, u * 3, x + 1), order=1, modes=("rev",), atol=1e-5,
                                   rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="complex"):
        ps.bessel_jn(Z, v=2)
    with pytest.raises(TypeError, match="order v"):
        ps.bessel_jn(X, v=1.5)
    with pytest.raises(NotImplementedError, match="diff_n"):
        ps.sph_harm_y(DEG, ORD, U, X, diff_n=1)
    with pytest.raises(TypeError, match="n_max"):
        plax.jit(lambda n: ps.sph_harm_y(n, ORD, U, X))(DEG)
    with pytest.raises(NotImplementedError, match="complex"):
        ps.fresnel(Z)
    for name in ("dawsn", "sici", "expn", "hyp1f1"):
        args = (Z,) * len(CASES[name])
        with pytest.raises(ValueError, match=f"{name} does not support complex"):
            getattr(ps, name)(*args)
