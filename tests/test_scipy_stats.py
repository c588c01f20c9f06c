"""plax.scipy.stats against jax.scipy.stats on every backend: every function of every
distribution module (values and dtypes, in and out of the support), jit, vmap and gradients,
and the sample statistics mode, rankdata and sem."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.stats as pst

R = np.random.RandomState(1)
X = np.float32(np.concatenate([R.uniform(-3, 3, 6), [-0.5, 7.0]]))
POS = np.float32(R.uniform(0.2, 4, 8))
Q = np.float32(R.uniform(0.02, 0.98, 8))
UNIT = np.float32(np.concatenate([R.uniform(0.05, 0.95, 7), [1.5]]))
K = np.float32([0, 1, 2, 3, 5, 1, 4, -1])
LOC, SCALE = np.float32(0.3), np.float32(1.7)

# module -> {function: positional arguments}
ARGS = {
    "norm": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "expon": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "uniform": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "cauchy": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "laplace": dict(x=(X, LOC, SCALE)),
    "logistic": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "gumbel_r": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "gumbel_l": dict(x=(X, LOC, SCALE), q=(Q, LOC, SCALE)),
    "gamma": dict(x=(X + 1, POS, LOC, SCALE)),
    "chi2": dict(x=(X + 1, POS * 2, LOC, SCALE)),
    "beta": dict(x=(UNIT, POS, POS[::-1], np.float32(0), np.float32(1))),
    "pareto": dict(x=(X + 2, POS, LOC, SCALE), q=(Q, POS, LOC, SCALE)),
    "t": dict(x=(X, POS + 1, LOC, SCALE)),
    "gennorm": dict(x=(X, POS)),
    "vonmises": dict(x=(X, POS)),
    "wrapcauchy": dict(x=(X + 3, UNIT * 0.9)),
    "truncnorm": dict(x=(X, np.float32(-1.5), np.float32(2.0), LOC, SCALE)),
    "bernoulli": dict(x=(np.float32([0, 1, 0, 1, 2, -1, 0, 1]), UNIT * 0.6), q=(Q, UNIT * 0.6)),
    "binom": dict(x=(K, np.float32(5), UNIT * 0.6)),
    "nbinom": dict(x=(K, np.float32(3), UNIT * 0.6)),
    "geom": dict(x=(K, UNIT * 0.6)),
    "betabinom": dict(x=(K, np.float32(5), POS, POS[::-1])),
    "poisson": dict(x=(K, POS)),
}
PPF_NAMES = {"ppf", "isf"}
CASES = []
try:
    import jax.scipy.stats as _jst  # the oracle says which functions each module has
except ImportError:
    _jst = None
for _mod, _args in ARGS.items() if _jst is not None else ():
    for _fn in sorted(n for n in dir(getattr(_jst, _mod)) if not n.startswith("_")):
        if _fn == "entropy":
            continue
        key = "q" if _fn in PPF_NAMES else "x"
        if key in _args:
            CASES.append((_mod, _fn, key))


def _jax_fn(mod, fn):
    import jax.scipy.stats as jst
    return getattr(getattr(jst, mod), fn)


@requires_jax
def test_every_module_and_function_exists():
    import jax.scipy.stats as jst
    for mod in [n for n in dir(jst) if not n.startswith("_")]:
        if mod == "gaussian_kde":
            continue  # listed as left out in test_api_coverage
        assert hasattr(pst, mod), mod
        sub = getattr(jst, mod)
        if hasattr(sub, "__dict__") and not callable(sub):
            missing = [n for n in dir(sub) if not n.startswith("_")
                       and not hasattr(getattr(pst, mod), n)]
            assert not missing, (mod, missing)


@requires_jax
@pytest.mark.parametrize("mod,fn,key", CASES)
def test_against_jax(backend, mod, fn, key):
    args = ARGS[mod][key]
    out = getattr(getattr(pst, mod), fn)(*args)
    expected = np.asarray(_jax_fn(mod, fn)(*args))
    assert out.dtype == expected.dtype
    assert_close(out, expected, rtol=5e-5, atol=5e-6)


@pytest.mark.parametrize("mod", ["norm", "gamma", "beta", "t", "poisson", "truncnorm"])
def test_jit_vmap(backend, mod):
    fn = getattr(getattr(pst, mod), "logpmf" if mod == "poisson" else "logpdf")
    args = ARGS[mod]["x"]
    eager = np.asarray(fn(*args))
    assert_close(plax.jit(fn)(*args), eager, rtol=1e-6, atol=1e-6)
    batched = [a.reshape(4, 2) if np.ndim(a) else a for a in args]
    in_axes = [0 if np.ndim(a) else None for a in args]
    assert_close(plax.vmap(fn, in_axes=in_axes)(*batched), eager.reshape(4, 2), rtol=1e-6,
                 atol=1e-6)


@requires_jax
@pytest.mark.parametrize("mod,argnum", [("norm", 0), ("norm", 2), ("gamma", 1), ("beta", 0),
                                        ("t", 1), ("cauchy", 0), ("truncnorm", 0),
                                        ("poisson", 1), ("gennorm", 1), ("vonmises", 1)])
def test_grad_against_jax(mod, argnum):
    import jax
    name = "logpmf" if mod == "poisson" else "logpdf"
    args = list(ARGS[mod]["x"])
    if mod in ("beta",):
        args[0] = args[0][:7]
        args = [a[:7] if np.ndim(a) else a for a in args]

    def wrap(f):
        return lambda v: f(*args[:argnum], v, *args[argnum + 1:]).sum()

    g = plax.grad(wrap(getattr(getattr(pst, mod), name)))(args[argnum])
    jg = jax.grad(wrap(_jax_fn(mod, name)))(args[argnum])
    assert_close(g, np.asarray(jg), rtol=1e-4, atol=1e-5)


@requires_jax
def test_multivariate_discrete_and_summary(backend):
    import jax.scipy.stats as jst
    alpha = np.float32([0.5, 2.0, 3.0])
    x = np.float32([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]).T
    assert_close(pst.dirichlet.logpdf(x, alpha), np.asarray(jst.dirichlet.logpdf(x, alpha)),
                 rtol=1e-5)
    counts, p = np.int32([1, 2, 3]), np.float32([0.2, 0.3, 0.5])
    for n in (6, 5):
        assert_close(pst.multinomial.logpmf(counts, n, p),
                     np.asarray(jst.multinomial.logpmf(counts, n, p)), rtol=1e-5)
    with pytest.raises(ValueError, match="integer type"):
        pst.multinomial.logpmf(np.float32(counts), 6, p)
    mean, y = np.float32([0.5, -1.0]), np.float32(R.randn(5, 2))
    for cov in (np.float32(2.0),):
        assert_close(pst.multivariate_normal.logpdf(y, mean, cov),
                     np.asarray(jst.multivariate_normal.logpdf(y, mean, cov)), rtol=1e-5)
    assert_close(pst.poisson.entropy(np.float32([0.5, 4.0, 30.0, 200.0])),
                 np.asarray(jst.poisson.entropy(np.float32([0.5, 4.0, 30.0, 200.0]))),
                 rtol=1e-5)
    data = np.float32([[1, 2, 2, 3, 3, 3], [4, 4, 1, 1, 5, 5]])
    m, c = pst.mode(data, axis=1)
    jm, jc = jst.mode(data, axis=1)
    assert_close(m, np.asarray(jm)), assert_close(c, np.asarray(jc))
    ties = np.float32([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    for method in ("average", "min", "max", "dense", "ordinal"):
        assert_close(pst.rankdata(ties, method), np.asarray(jst.rankdata(ties, method)))
    assert_close(pst.rankdata(data, axis=1), np.asarray(jst.rankdata(data, axis=1)))
    assert_close(pst.sem(data, axis=1), np.asarray(jst.sem(data, axis=1)), rtol=1e-6)


@requires_jax
def test_multivariate_normal_full_covariance(backend):
    import jax.scipy.stats as jst
    if not hasattr(plax.lax, "linalg"):
        pytest.skip("needs plax.lax.linalg (cholesky, triangular_solve): issue 12's linalg "
                    "branch")
    a = np.float32(R.randn(3, 3))
    cov = a @ a.T + 3 * np.eye(3, dtype=np.float32)
    mean, y = np.float32([0.5, -1.0, 2.0]), np.float32(R.randn(5, 3))
    assert_close(pst.multivariate_normal.logpdf(y, mean, cov),
                 np.asarray(jst.multivariate_normal.logpdf(y, mean, cov)), rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="alpha"):
        pst.dirichlet.logpdf(np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(NotImplementedError, match="allow_singular"):
        pst.multivariate_normal.logpdf(np.ones(2), np.zeros(2), np.eye(2), allow_singular=True)
    with pytest.raises(ValueError, match="method"):
        pst.rankdata(np.ones(3), "bogus")
