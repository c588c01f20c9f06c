"""The binomial distribution: successes in n trials of probability p."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote("binom.logpmf", k, n, p, loc)
    y = k - loc
    comb = lax.lgamma(n + 1) - lax.lgamma(y + 1) - lax.lgamma(n - y + 1)
    out = comb + special.xlogy(y, p) + special.xlog1py(n - y, -p)
    out = pnp.where(((y == 0) & (n == 0)) | ((y == n) & (p == 1)), c(y, 0), out)
    return pnp.where((k >= loc) & (k < loc + n + 1), out, c(y, -np.inf))


def pmf(k, n, p, loc=0):
    return pnp.exp(logpmf(k, n, p, loc))
