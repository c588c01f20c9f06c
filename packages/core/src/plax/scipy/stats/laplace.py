"""The Laplace (double exponential) distribution."""

from __future__ import annotations

import math

from plax import numpy as pnp
from plax.scipy.stats._util import c, standardize


def logpdf(x, loc=0, scale=1):
    z, scale = standardize("laplace.logpdf", x, loc, scale)
    return -c(z, math.log(2)) - pnp.log(scale) - pnp.abs(z)


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, scale = standardize("laplace.cdf", x, loc, scale)
    return pnp.where(z <= 0, 0.5 * pnp.exp(z), 1 - 0.5 * pnp.exp(-z))
