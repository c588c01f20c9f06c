"""The Bernoulli distribution: 1 with probability p, 0 otherwise."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, p, loc=0):
    k, p, loc = promote("bernoulli.logpmf", k, p, loc)
    x = k - loc
    out = special.xlogy(x, p) + special.xlog1py(1 - x, -p)
    return pnp.where((x < 0) | (x > 1), c(x, -np.inf), out)


def pmf(k, p, loc=0):
    return pnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    k, p = promote("bernoulli.cdf", k, p)
    bad = pnp.isnan(k) | pnp.isnan(p) | (p < 0) | (p > 1)
    out = pnp.where(k < 0, c(k, 0), pnp.where(k < 1, 1 - p, c(k, 1)))
    return pnp.where(bad, c(k, np.nan), out)


def ppf(q, p):
    q, p = promote("bernoulli.ppf", q, p)
    bad = pnp.isnan(q) | pnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return pnp.where(bad, c(q, np.nan), pnp.where(q <= 1 - p, c(q, 0), c(q, 1)))
