"""The normal distribution N(loc, scale**2)."""

from __future__ import annotations

import math

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("norm.logpdf", x, loc, scale)
    return -0.5 * z * z - pnp.log(scale) - c(z, 0.5 * math.log(2 * math.pi))


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.cdf", x, loc, scale)
    return special.ndtr((x - loc) / scale)


def logcdf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logcdf", x, loc, scale)
    return special.log_ndtr((x - loc) / scale)


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.sf", x, loc, scale)
    return special.ndtr((loc - x) / scale)


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote("norm.logsf", x, loc, scale)
    return special.log_ndtr((loc - x) / scale)


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("norm.ppf", q, loc, scale)
    return special.ndtri(q) * scale + loc


def isf(q, loc=0, scale=1):
    q, loc, scale = promote("norm.isf", q, loc, scale)
    return ppf(1 - q, loc, scale)
