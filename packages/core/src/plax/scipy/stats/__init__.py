"""plax.scipy.stats: probability distributions (as jax.scipy.stats): one module per
distribution with its logpdf/pdf/cdf/logcdf/sf/logsf/ppf/isf (logpmf/pmf for discrete ones),
plus the sample statistics mode, rankdata and sem."""

from plax.scipy.stats import (  # noqa: F401
    bernoulli, beta, betabinom, binom, cauchy, chi2, dirichlet, expon, gamma, gennorm, geom,
    gumbel_l, gumbel_r, laplace, logistic, multinomial, multivariate_normal, nbinom, norm,
    pareto, poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from plax.scipy.stats._summary import ModeResult, mode, rankdata, sem  # noqa: F401
from plax.scipy.stats._kde import gaussian_kde  # noqa: F401,E402
