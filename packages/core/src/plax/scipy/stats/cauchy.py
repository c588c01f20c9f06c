"""The Cauchy distribution with location loc and scale scale."""

from __future__ import annotations

import math

from plax import numpy as pnp
from plax.scipy.stats._util import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("cauchy.logpdf", x, loc, scale)
    return -c(z, math.log(math.pi)) - pnp.log(scale) - pnp.log1p(z * z)


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, scale = standardize("cauchy.cdf", x, loc, scale)
    return 0.5 + pnp.arctan(z) / c(z, math.pi)


def logcdf(x, loc=0, scale=1):
    return pnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("cauchy.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
    return pnp.log(sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("cauchy.ppf", q, loc, scale)
    return loc + scale * pnp.tan(c(q, math.pi) * (q - 0.5))


def isf(q, loc=0, scale=1):
    q, loc, scale = promote("cauchy.isf", q, loc, scale)
    return loc + scale * pnp.tan(c(q, math.pi) * (0.5 - q))
