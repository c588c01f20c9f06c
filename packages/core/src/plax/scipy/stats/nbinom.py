"""The negative binomial distribution: failures before the n-th success of probability p."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    comb = lax.lgamma(y + n) - lax.lgamma(y + 1) - lax.lgamma(n)
    out = comb + special.xlogy(n, p) + special.xlogy(y, 1 - p)
    return pnp.where(k < loc, c(y, -np.inf), out)


def pmf(k, n, p, loc=0):
    return pnp.exp(logpmf(k, n, p, loc))
