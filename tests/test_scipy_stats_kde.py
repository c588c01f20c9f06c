"""plax.scipy.stats.gaussian_kde against scipy.stats.gaussian_kde (densities, integrals) and
jax.scipy.stats.gaussian_kde (dtypes, the bandwidth rules, resample's draws bit for bit),
as a pytree under jit and grad."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.stats as ps

R = np.random.RandomState(0)
DATA = np.float32(R.randn(2, 30))
W = np.float32(R.uniform(0.5, 2, 30))
PTS = np.float32(R.randn(2, 5))


def test_against_scipy():
    import scipy.stats as ss
    for bw in (None, "silverman", 0.4):
        ours, ref = ps.gaussian_kde(DATA, bw, W), ss.gaussian_kde(DATA, bw, W)
        assert ours.evaluate(PTS).dtype == np.float32
        assert_close(ours(PTS), ref(PTS), rtol=2e-5, atol=1e-7)
        assert_close(ours.logpdf(PTS), ref.logpdf(PTS), rtol=2e-5)
        assert_close(ours.covariance, ref.covariance, rtol=2e-5)
    kde, ref = ps.gaussian_kde(DATA), ss.gaussian_kde(DATA)
    assert (kde.d, kde.n) == (2, 30)
    mean, cov = np.float32([0.1, 0.2]), np.eye(2, dtype=np.float32)
    assert_close(kde.integrate_gaussian(mean, cov), ref.integrate_gaussian(mean, cov),
                 rtol=2e-5)
    other, oref = ps.gaussian_kde(DATA[:, :10] * 2), ss.gaussian_kde(DATA[:, :10] * 2)
    assert_close(kde.integrate_kde(other), ref.integrate_kde(oref), rtol=2e-5)
    one, oneref = ps.gaussian_kde(DATA[0]), ss.gaussian_kde(DATA[0])
    assert_close(one.integrate_box_1d(-0.5, 1.0), oneref.integrate_box_1d(-0.5, 1.0),
                 rtol=2e-5)
    assert_close(one.pdf(PTS[0]), oneref.pdf(PTS[0]), rtol=2e-5)


@requires_jax
def test_against_jax():
    """dtypes and shapes as JAX's (traced only), a callable bandwidth as SciPy's, and resample
    as JAX's algorithm: a choice of data points plus multivariate normal noise from the split
    key (plax.random's samplers are bit-identical with jax.random's)."""
    import jax
    import jax.scipy.stats as js
    import scipy.stats as ss
    want = jax.eval_shape(lambda d, p: js.gaussian_kde(d, weights=W).logpdf(p), DATA, PTS)
    got = ps.gaussian_kde(DATA, weights=W).logpdf(PTS)
    assert (got.shape, got.dtype) == (want.shape, want.dtype)
    ours = ps.gaussian_kde(DATA, lambda k: 0.3 * k.neff ** 0.1, W)
    ref = ss.gaussian_kde(DATA, lambda k: 0.3 * k.neff ** 0.1, W)
    assert_close(ours.covariance, ref.covariance, rtol=2e-5)
    draws = ours.resample(plax.random.key(3), (4,))
    ind_key, eps_key = plax.random.split(plax.random.key(3))
    ind = plax.random.choice(ind_key, 30, shape=(4,), p=ours.weights)
    eps = plax.random.multivariate_normal(eps_key, np.zeros(2, np.float32), ours.covariance,
                                          shape=(4,))
    assert draws.shape == (2, 4) and draws.dtype == np.float32
    assert_close(draws, DATA[:, np.asarray(ind)] + np.asarray(eps).T, rtol=1e-6, atol=1e-6)


def test_pytree_jit_grad_and_errors():
    kde = ps.gaussian_kde(DATA)
    assert_close(plax.jit(lambda k, p: k.logpdf(p))(kde, PTS), kde.logpdf(PTS), rtol=1e-6)
    g = plax.grad(lambda d: ps.gaussian_kde(d).logpdf(PTS).sum())(DATA)
    assert g.shape == DATA.shape and np.all(np.isfinite(g))
    with pytest.raises(ValueError, match="bw_method"):
        ps.gaussian_kde(DATA, bw_method="wide")
    with pytest.raises(ValueError, match="length n"):
        ps.gaussian_kde(DATA, weights=W[:5])
    with pytest.raises(ValueError, match="points have dimension 3"):
        kde(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="only handles 1D"):
        kde.integrate_box_1d(0.0, 1.0)
    with pytest.raises(NotImplementedError, match="integrate_box_1d"):
        kde.integrate_box(0.0, 1.0)
