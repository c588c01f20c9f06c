"""The generalized normal distribution with shape beta (density ~ exp(-|x|**beta))."""

from __future__ import annotations

import math

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpdf(x, beta):
    x, beta = promote("gennorm.logpdf", x, beta)
    return (pnp.log(beta) - c(x, math.log(2)) - lax.lgamma(1 / beta)
            - pnp.power(pnp.abs(x), beta))


def pdf(x, beta):
    return pnp.exp(logpdf(x, beta))


def cdf(x, beta):
    x, beta = promote("gennorm.cdf", x, beta)
    return 0.5 + 0.5 * pnp.sign(x) * special.gammainc(1 / beta, pnp.power(pnp.abs(x), beta))
