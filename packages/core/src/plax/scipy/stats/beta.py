"""The beta distribution on [loc, loc + scale] with shapes a, b."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.logpdf", x, a, b, loc, scale)
    y = (x - loc) / scale
    inside = (y >= 0) & (y <= 1)
    safe = pnp.where(inside, y, c(y, 0.5))
    out = (special.xlogy(a - 1, safe) + special.xlog1py(b - 1, -safe) - special.betaln(a, b)
           - pnp.log(scale))
    return pnp.where(inside, out, c(y, -np.inf))


def pdf(x, a, b, loc=0, scale=1):
    return pnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.cdf", x, a, b, loc, scale)
    y = pnp.clip((x - loc) / scale, c(x, 0), c(x, 1))
    return special.betainc(a, b, y)


def logcdf(x, a, b, loc=0, scale=1):
    return pnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("beta.sf", x, a, b, loc, scale)
    y = pnp.clip((x - loc) / scale, c(x, 0), c(x, 1))
    return special.betainc(b, a, 1 - y)


def logsf(x, a, b, loc=0, scale=1):
    return pnp.log(sf(x, a, b, loc, scale))
