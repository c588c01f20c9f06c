"""Student's t distribution with df degrees of freedom."""

from __future__ import annotations

import math

from plax import lax
from plax import numpy as pnp
from plax.scipy.stats._util import c, promote


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half = (df + 1) / 2
    norm = (lax.lgamma(half) - lax.lgamma(df / 2) - 0.5 * pnp.log(df)
            - c(df, 0.5 * math.log(math.pi)) - pnp.log(scale))
    return norm - half * pnp.log1p(z * z / df)


def pdf(x, df, loc=0, scale=1):
    return pnp.exp(logpdf(x, df, loc, scale))
