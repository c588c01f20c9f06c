"""The uniform distribution on [loc, loc + scale]."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy.stats._util import c, promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.logpdf", x, loc, scale)
    inside = (x >= loc) & (x <= loc + scale)
    return pnp.where(inside, -pnp.log(scale), c(x, -np.inf))


def pdf(x, loc=0, scale=1):
    return pnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote("uniform.cdf", x, loc, scale)
    return pnp.clip((x - loc) / scale, c(x, 0), c(x, 1))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote("uniform.ppf", q, loc, scale)
    return pnp.where((q >= 0) & (q <= 1), loc + q * scale, c(q, np.nan))
