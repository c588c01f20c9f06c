"""The geometric distribution: trials up to the first success of probability p."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, p, loc=0):
    k, p, loc = promote("geom.logpmf", k, p, loc)
    x = k - loc
    out = special.xlog1py(x - 1, -p) + pnp.log(p)
    return pnp.where(x <= 0, c(x, -np.inf), out)


def pmf(k, p, loc=0):
    return pnp.exp(logpmf(k, p, loc))
