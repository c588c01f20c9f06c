"""The Pareto distribution with shape b on [loc + scale, inf)."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy.stats._util import c, promote


def logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logpdf", x, b, loc, scale)
    y = (x - loc) / scale
    out = pnp.log(b) - pnp.log(scale) - (b + 1) * pnp.log(pnp.maximum(y, c(y, 1)))
    return pnp.where(y < 1, c(y, -np.inf), out)


def pdf(x, b, loc=0, scale=1):
    return pnp.exp(logpdf(x, b, loc, scale))


def logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = promote("pareto.logsf", x, b, loc, scale)
    y = (x - loc) / scale
    return pnp.where(y < 1, c(y, 0), -b * pnp.log(pnp.maximum(y, c(y, 1))))


def sf(x, b, loc=0, scale=1):
    return pnp.exp(logsf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    return -pnp.expm1(logsf(x, b, loc, scale))


def logcdf(x, b, loc=0, scale=1):
    return pnp.log(cdf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = promote("pareto.ppf", q, b, loc, scale)
    out = scale * pnp.power(1 - q, -1 / b) + loc
    return pnp.where((q < 0) | (q > 1), c(q, np.nan), out)
