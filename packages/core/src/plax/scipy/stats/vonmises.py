"""The von Mises distribution on the circle with concentration kappa."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy.stats._util import c, promote


def logpdf(x, kappa):
    x, kappa = promote("vonmises.logpdf", x, kappa)
    # I0(kappa) = exp(kappa) i0e(kappa): no overflow for large kappa
    out = kappa * (pnp.cos(x) - 1) - pnp.log(c(x, 2 * math.pi) * lax.bessel_i0e(kappa))
    return pnp.where(kappa > 0, out, c(x, np.nan))


def pdf(x, kappa):
    return pnp.exp(logpdf(x, kappa))
