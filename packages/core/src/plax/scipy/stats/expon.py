"""The exponential distribution on [loc, inf) with mean loc + scale."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy.stats._util import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("expon.logpdf", x, loc, scale)
    return pnp.where(z < 0, c(z, -np.inf), -z - pnp.log(scale))


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, scale = standardize("expon.cdf", x, loc, scale)
    return pnp.where(z < 0, c(z, 0), -pnp.expm1(-z))


def logcdf(x, loc=0, scale=1):
    z, scale = standardize("expon.logcdf", x, loc, scale)
    return pnp.where(z < 0, c(z, -np.inf), pnp.log(-pnp.expm1(-z)))


def sf(x, loc=0, scale=1):
    return pnp.exp(logsf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    z, scale = standardize("expon.logsf", x, loc, scale)
    return pnp.where(z < 0, c(z, 0), -z)


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    out = -pnp.log1p(-q) * scale + loc
    return pnp.where((q < 0) | (q > 1), c(q, np.nan), out)
