"""The logistic distribution (CDF expit((x - loc) / scale))."""

from __future__ import annotations

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import promote, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("logistic.logpdf", x, loc, scale)
    a = pnp.abs(z)  # symmetric: the form that cannot overflow
    return -a - 2 * pnp.log1p(pnp.exp(-a)) - pnp.log(scale)


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.cdf", x, loc, scale)
    return special.expit((x - loc) / scale)


def sf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.sf", x, loc, scale)
    return special.expit((loc - x) / scale)


def ppf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.ppf", x, loc, scale)
    return special.logit(x) * scale + loc


def isf(x, loc=0, scale=1):
    x, loc, scale = promote("logistic.isf", x, loc, scale)
    return -special.logit(x) * scale + loc
