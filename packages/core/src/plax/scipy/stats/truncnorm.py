"""The normal distribution truncated to [a, b] (in standard units: (x - loc) / scale)."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax._src.nn import logsumexp
from plax.scipy import special
from plax.scipy.stats import norm
from plax.scipy.stats._util import c, promote


def _log_diff(x, y):
    """log(exp(x) - exp(y))."""
    return logsumexp(pnp.stack([x, y]), b=pnp.stack([pnp.ones_like(x), -pnp.ones_like(y)]),
                     axis=0)


def _log_gauss_mass(a, b):
    """log of the standard normal mass on [a, b], computed in the left tail (the right tail
    by symmetry) or as log1p of the two tails when the interval holds the center."""
    a, b = pnp.broadcast_arrays(a, b)
    left, right = b <= 0, a > 0
    a_tail, b_tail = pnp.where(right, -b, a), pnp.where(right, -a, b)
    tail = _log_diff(special.log_ndtr(b_tail), special.log_ndtr(a_tail))
    central = pnp.log1p(-special.ndtr(a) - special.ndtr(-b))
    return pnp.where(left | right, tail, central)


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logpdf", x, a, b, loc, scale)
    val = norm.logpdf(x, loc, scale) - _log_gauss_mass(a, b)
    z = (x - loc) / scale
    val = pnp.where((z < a) | (z > b), c(val, -np.inf), val)
    return pnp.where(a >= b, c(val, np.nan), val)


def pdf(x, a, b, loc=0, scale=1):
    return pnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logcdf", x, a, b, loc, scale)
    x, a, b = pnp.broadcast_arrays(x, a, b)
    z = (x - loc) / scale
    mass = _log_gauss_mass(a, b)
    lcdf = _log_gauss_mass(a, z) - mass
    lsf = _log_gauss_mass(z, b) - mass
    # near 1, 1 - sf loses less than the cdf's own cancellation (as SciPy)
    out = pnp.where(z >= b, c(z, 0), pnp.where(z <= a, c(z, -np.inf), pnp.where(
        lcdf > -0.1, pnp.log1p(-pnp.exp(lsf)), lcdf)))
    return pnp.where(a >= b, c(z, np.nan), out)


def cdf(x, a, b, loc=0, scale=1):
    return pnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


def sf(x, a, b, loc=0, scale=1):
    return pnp.exp(logsf(x, a, b, loc, scale))
