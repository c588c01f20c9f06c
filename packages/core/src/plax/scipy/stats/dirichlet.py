"""The Dirichlet distribution: x (K values along the first axis) on the simplex."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c
from plax._src.numpy.util import promote_dtypes_inexact


def logpdf(x, alpha):
    x, alpha = promote_dtypes_inexact(pnp.asarray(x), pnp.asarray(alpha))
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError("`x` must have either the same number of entries as `alpha` or one "
                         f"entry fewer; got x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] != alpha.shape[0]:
        x = pnp.concatenate([x, (1 - pnp.sum(x, axis=0))[None]], axis=0)
    normalize = pnp.sum(lax.lgamma(alpha)) - lax.lgamma(pnp.sum(alpha))
    a = pnp.expand_dims(alpha, tuple(range(1, x.ndim)))
    out = pnp.sum(special.xlogy(a - 1, x), axis=0) - normalize
    simplex = pnp.all(x > 0, axis=0) & (pnp.abs(pnp.sum(x, axis=0) - 1) < 1e-6)
    return pnp.where(simplex, out, c(out, -np.inf))


def pdf(x, alpha):
    return pnp.exp(logpdf(x, alpha))
