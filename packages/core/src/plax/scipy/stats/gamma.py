"""The gamma distribution with shape a (density y**(a-1) exp(-y) / Gamma(a), y = (x-loc)/scale)."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.logpdf", x, a, loc, scale)
    y = (x - loc) / scale
    safe = pnp.where(y < 0, pnp.ones_like(y), y)
    out = special.xlogy(a - 1, safe) - safe - lax.lgamma(a) - pnp.log(scale)
    return pnp.where(y < 0, c(y, -np.inf), out)


def pdf(x, a, loc=0, scale=1):
    return pnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.cdf", x, a, loc, scale)
    y = (x - loc) / scale
    return special.gammainc(a, pnp.maximum(y, c(y, 0)))


def logcdf(x, a, loc=0, scale=1):
    return pnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote("gamma.sf", x, a, loc, scale)
    y = (x - loc) / scale
    return special.gammaincc(a, pnp.maximum(y, c(y, 0)))


def logsf(x, a, loc=0, scale=1):
    return pnp.log(sf(x, a, loc, scale))
