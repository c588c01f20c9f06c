"""The beta-binomial distribution: binomial with a Beta(a, b) success probability."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = promote("betabinom.logpmf", k, n, a, b, loc)
    y = pnp.floor(k) - loc
    comb = -(pnp.log1p(n) + special.betaln(n - y + 1, y + 1))
    out = comb + special.betaln(y + a, n - y + b) - special.betaln(a, b)
    out = pnp.where((y == 0) & (n == 0), c(y, 0), out)
    out = pnp.where((y < -loc) | (y > n), c(y, -np.inf), out)
    return pnp.where((n < 0) | (a <= 0) | (b <= 0), c(y, np.nan), out)


def pmf(k, n, a, b, loc=0):
    return pnp.exp(logpmf(k, n, a, b, loc))
