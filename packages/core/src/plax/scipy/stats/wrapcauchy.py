"""The wrapped Cauchy distribution on [0, 2 pi] with shape 0 < c < 1."""

from __future__ import annotations

import math

import numpy as np

from plax import numpy as pnp
from plax.scipy.stats._util import c as const, promote


def logpdf(x, c):
    x, c = promote("wrapcauchy.logpdf", x, c)
    out = (pnp.log1p(-c * c) - const(x, math.log(2 * math.pi))
           - pnp.log1p(c * c - 2 * c * pnp.cos(x)))
    out = pnp.where((x < 0) | (x > const(x, 2 * math.pi)), const(x, -np.inf), out)
    return pnp.where((c <= 0) | (c >= 1), const(x, np.nan), out)


def pdf(x, c):
    return pnp.exp(logpdf(x, c))
