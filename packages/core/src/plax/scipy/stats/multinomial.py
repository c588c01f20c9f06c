"""The multinomial distribution: counts x (last axis) of n draws with probabilities p."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax._src import dtypes
from plax.scipy.stats._util import c, promote


def logpmf(x, n, p):
    """log P(x): x counts (integers; each row summing to n) along the last axis."""
    p, = promote("multinomial.logpmf", p)
    x, n = pnp.asarray(x), pnp.asarray(n)
    if not dtypes.is_int(pnp.result_type(x, n)):
        raise ValueError(f"x and n must be of integer type; got x.dtype={x.dtype}, "
                         f"n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    out = lax.lgamma(n + 1) + pnp.sum(special.xlogy(x, p) - lax.lgamma(x + 1), axis=-1)
    return pnp.where(pnp.sum(x, axis=-1) == n, out, c(out, -np.inf))


def pmf(x, n, p):
    return pnp.exp(logpmf(x, n, p))
