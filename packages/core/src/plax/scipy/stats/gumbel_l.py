"""The left-skewed Gumbel distribution (survival function exp(-exp(z)))."""

from __future__ import annotations

from plax import numpy as pnp
from plax.scipy.stats._util import promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("gumbel_l.logpdf", x, loc, scale)
    return z - pnp.exp(z) - pnp.log(scale)


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    z, _ = standardize("gumbel_l.logsf", x, loc, scale)
    return -pnp.exp(z)


def sf(x, loc=0, scale=1):
    return pnp.exp(logsf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, _ = standardize("gumbel_l.cdf", x, loc, scale)
    return -pnp.expm1(-pnp.exp(z))


def logcdf(x, loc=0, scale=1):
    return pnp.log(cdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = promote("gumbel_l.ppf", p, loc, scale)
    return loc + scale * pnp.log(-pnp.log1p(-p))
