"""The samplers of plax.random beyond the basic ones against jax.random: bit-identical with JAX
on xla (JAX's algorithms on the same key splits: gamma's Marsaglia-Tsang rejection loop,
poisson, binomial, ...), within a few ulps on the reference backend (NumPy's transcendental
functions differ from XLA's in the last bits); dtypes, shapes, errors, gamma's implicit
reparameterisation gradient against JAX's, vmap over keys, and moments of the samples."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.random as pr

A = np.float32([0.3, 1.0, 2.5, 7.0, 0.05, 40.0])
LAM = np.float32([0.5, 3, 12, 40, 0, 100])
N = np.float32([5, 20, 100, 3, 50, 1000])
P = np.float32([0.3, 0.6, 0.2, 0.9, 0.01, 0.5])

CASES = [
    ("gamma", (A,), {}), ("loggamma", (A,), {}), ("gamma", (np.float32(2.0),), dict(shape=(5,))),
    ("beta", (A, A[::-1]), {}), ("dirichlet", (A[:4],), dict(shape=(3,))),
    ("chisquare", (A,), {}), ("f", (A, A[::-1]), {}), ("t", (A,), {}),
    ("generalized_normal", (3.0,), dict(shape=(6,))), ("ball", (3,), dict(shape=(4,))),
    ("cauchy", (), dict(shape=(6,))), ("laplace", (), dict(shape=(6,))),
    ("logistic", (), dict(shape=(6,))), ("lognormal", (A,), {}), ("pareto", (A,), {}),
    ("weibull_min", (2.0, 1.5), dict(shape=(6,))), ("rayleigh", (A,), {}), ("wald", (A,), {}),
    ("triangular", (0.0, A / 100, 1.0), {}), ("rademacher", (), dict(shape=(8,))),
    ("maxwell", (), dict(shape=(5,))), ("double_sided_maxwell", (1.0, 2.0), dict(shape=(5,))),
    ("geometric", (A / 50,), {}), ("poisson", (LAM,), {}), ("binomial", (N, P), {}),
    ("multinomial", (20.0, np.float32([0.2, 0.3, 0.5])), {}),
    ("gamma", (A,), dict(dtype=np.float16)), ("cauchy", (), dict(shape=(4,), dtype="bfloat16")),
    ("poisson", (LAM,), dict(shape=(3, 6))),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


@requires_jax
@pytest.mark.parametrize("name,args,kw", CASES, ids=IDS)
def test_against_jax(backend, name, args, kw):
    import jax.random as jr
    out = getattr(pr, name)(pr.PRNGKey(3), *args, **kw)
    expected = np.asarray(getattr(jr, name)(jr.PRNGKey(3), *args, **kw))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    if backend == "xla":
        np.testing.assert_array_equal(np.asarray(out), expected)
    else:
        loose = name == "wald" or kw.get("dtype") == np.float16  # 16-bit: a few ulps
        assert_close(out, expected, rtol=5e-3 if loose else 1e-5, atol=1e-6)


@requires_jax
def test_float64_gamma_and_poisson_dtype(backend):
    import jax
    import jax.random as jr
    with plax.enable_x64():
        jax.config.update("jax_enable_x64", True)
        try:
            out = pr.gamma(pr.PRNGKey(5), A.astype(np.float64))
            exp = np.asarray(jr.gamma(jr.PRNGKey(5), A.astype(np.float64)))
            pois = pr.poisson(pr.PRNGKey(5), LAM, dtype=np.int16)
            jpois = np.asarray(jr.poisson(jr.PRNGKey(5), LAM, dtype=np.int16))
        finally:
            jax.config.update("jax_enable_x64", False)
    assert out.dtype == np.float64 and pois.dtype == np.int16
    assert_close(out, exp, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(pois), jpois)


@requires_jax
def test_gamma_gradient_against_jax(backend):
    import jax
    import jax.random as jr
    a = A[:4]
    for pf, jf in ((pr.gamma, jr.gamma), (pr.loggamma, jr.loggamma)):
        g = plax.grad(lambda a, f=pf: f(pr.PRNGKey(1), a).sum())(a)
        jg = jax.grad(lambda a, f=jf: f(jr.PRNGKey(1), a).sum())(a)
        assert_close(g, np.asarray(jg), rtol=2e-4, atol=1e-6)
    g = plax.grad(lambda a: pr.beta(pr.PRNGKey(1), a, 2.0).sum())(a)
    jg = jax.grad(lambda a: jr.beta(jr.PRNGKey(1), a, 2.0).sum())(a)
    assert_close(g, np.asarray(jg), rtol=2e-4, atol=1e-6)


def test_gamma_gradient_is_implicit_reparameterisation():
    # d sample / d a = -(dF/da) / (dF/dx) with F the gamma CDF, checked by finite differences
    # of F at the sample: F(a + h, x + h * dx/da) = F(a, x)
    import scipy.special as sc
    a = np.float32([0.7, 2.0, 5.0])
    x = np.asarray(pr.gamma(pr.PRNGKey(2), a), np.float64)
    dx = np.asarray(plax.grad(lambda a: pr.gamma(pr.PRNGKey(2), a).sum())(a), np.float64)
    h = 1e-4
    moved = sc.gammainc(a + h, x + h * dx) - sc.gammainc(a, x)
    assert np.all(np.abs(moved) < 1e-6)


def test_vmap_over_keys_and_jit(backend):
    keys = pr.split(pr.PRNGKey(0), 3)
    batched = plax.vmap(lambda k: pr.gamma(k, A[:3]))(keys)
    loop = np.stack([np.asarray(pr.gamma(k, A[:3])) for k in keys])
    assert_close(batched, loop, rtol=1e-6)
    jitted = plax.jit(lambda k: pr.poisson(k, LAM))(pr.PRNGKey(1))
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(pr.poisson(pr.PRNGKey(1), LAM)))


def test_moments():
    key = pr.PRNGKey(11)
    n = 5000  # tolerances below are ~4 standard errors
    g = np.asarray(pr.gamma(key, 3.0, (n,)))
    assert abs(g.mean() - 3.0) < 0.1 and abs(g.var() - 3.0) < 0.4
    small = np.asarray(pr.gamma(key, 0.2, (n,)))
    assert abs(small.mean() - 0.2) < 0.03
    b = np.asarray(pr.beta(key, 2.0, 5.0, (n,)))
    assert abs(b.mean() - 2 / 7) < 0.01
    po = np.asarray(pr.poisson(key, 25.0, (n,)))
    assert abs(po.mean() - 25) < 0.3 and abs(po.var() - 25) < 3
    bi = np.asarray(pr.binomial(key, 40.0, 0.3, (n,)))
    assert abs(bi.mean() - 12) < 0.2
    d = np.asarray(pr.dirichlet(key, np.float32([1.0, 2.0, 3.0]), (n,)))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.01)
    m = np.asarray(pr.multinomial(key, 10.0, np.float32([0.1, 0.2, 0.7]), shape=(n, 3)))
    assert (m.sum(-1) == 10).all()


def test_errors():
    key = pr.PRNGKey(0)
    with pytest.raises(ValueError, match="float dtype"):
        pr.gamma(key, 1.0, dtype=np.int32)
    with pytest.raises(ValueError, match="int dtype"):
        pr.poisson(key, 1.0, dtype=np.float32)
    with pytest.raises(ValueError, match="broadcast"):
        pr.gamma(key, np.ones(3, np.float32), shape=(2,))
    with pytest.raises(ValueError, match="alpha.ndim"):
        pr.dirichlet(key, np.float32(1.0))
    with pytest.raises(ValueError, match="cov.shape"):
        pr.multivariate_normal(key, np.zeros(2), np.eye(3))
    with pytest.raises(TypeError, match="PRNG key"):
        pr.gamma(np.float32([1, 2]), 1.0)


@requires_jax
def test_linalg_based_samplers(backend):
    import jax.random as jr
    import plax.numpy as pnp
    if not hasattr(pnp, "linalg") or not hasattr(pnp.linalg, "cholesky"):
        pytest.skip("needs plax.numpy.linalg (cholesky, eigh, svd, qr): issue 12's linalg "
                    "branch")
    cov = np.float32([[2.0, 0.3], [0.3, 1.0]])
    for method in ("cholesky", "eigh", "svd"):
        out = pr.multivariate_normal(pr.PRNGKey(4), np.zeros(2, np.float32), cov, (5,),
                                     method=method)
        exp = jr.multivariate_normal(jr.PRNGKey(4), np.zeros(2, np.float32), cov, (5,),
                                     method=method)
        assert_close(out, np.asarray(exp), rtol=1e-4, atol=1e-5)
    q = np.asarray(pr.orthogonal(pr.PRNGKey(4), 4))
    assert_close(q @ q.T, np.eye(4), atol=1e-5)


@requires_jax
def test_orthogonal_initializers(backend):
    import jax.nn.initializers as ji
    import jax.random as jr
    import plax.nn.initializers as pi
    for shape, axis in [((4, 6), -1), ((6, 4), -1), ((3, 4, 5), 0)]:
        out = pi.orthogonal(2.0, axis)(pr.PRNGKey(0), shape)
        exp = np.asarray(ji.orthogonal(2.0, axis)(jr.PRNGKey(0), shape))
        assert out.shape == exp.shape
        assert_close(out, exp, rtol=1e-4, atol=1e-5)
    out = pi.delta_orthogonal()(pr.PRNGKey(1), (3, 3, 4, 5))
    assert_close(out, np.asarray(ji.delta_orthogonal()(jr.PRNGKey(1), (3, 3, 4, 5))),
                 rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="2D"):
        pi.orthogonal()(pr.PRNGKey(0), (3,))
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        pi.delta_orthogonal()(pr.PRNGKey(0), (3, 3))
