"""The right-skewed Gumbel distribution (CDF exp(-exp(-z)))."""

from __future__ import annotations

from plax import numpy as pnp
from plax.scipy.stats._util import promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("gumbel_r.logpdf", x, loc, scale)
    return -z - pnp.exp(-z) - pnp.log(scale)


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    z, _ = standardize("gumbel_r.logcdf", x, loc, scale)
    return -pnp.exp(-z)


def cdf(x, loc=0, scale=1):
    return pnp.exp(logcdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    z, _ = standardize("gumbel_r.sf", x, loc, scale)
    return -pnp.expm1(-pnp.exp(-z))


def logsf(x, loc=0, scale=1):
    return pnp.log(sf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = promote("gumbel_r.ppf", p, loc, scale)
    return loc - scale * pnp.log(-pnp.log(p))
