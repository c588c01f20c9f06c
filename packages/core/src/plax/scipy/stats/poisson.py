"""The Poisson distribution with mean mu."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax.scipy import special
from plax.scipy.stats._util import c, promote


def logpmf(k, mu, loc=0):
    k, mu, loc = promote("poisson.logpmf", k, mu, loc)
    x = k - loc
    out = special.xlogy(x, mu) - lax.lgamma(x + 1) - mu
    return pnp.where((x < 0) | (pnp.round(k) != k), c(x, -np.inf), out)


def pmf(k, mu, loc=0):
    return pnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = promote("poisson.cdf", k, mu, loc)
    x = k - loc
    return pnp.where(x < 0, c(x, 0), special.gammaincc(pnp.floor(1 + x), mu))


def _entropy_sum(mu, max_k, upper):
    k = pnp.arange(max_k, dtype=mu.dtype)[:, None]
    probs = pmf(k, mu[None, :])
    probs = pnp.where(k < pnp.ceil(upper)[None, :], probs, c(mu, 0))
    return pnp.sum(special.entr(probs), axis=0)


def entropy(mu, loc=0):
    """-sum_k p(k) log p(k): summed over k directly for mu < 100 (the terms past
    mu + 10 sqrt(mu) + 20 are negligible), the asymptotic series above."""
    mu, loc = promote("poisson.entropy", mu, loc)
    shape = np.broadcast_shapes(mu.shape, loc.shape)
    flat = pnp.ravel(mu)
    small = _entropy_sum(flat, 35, flat + 20)
    medium = _entropy_sum(flat, 250, flat + 10 * pnp.sqrt(flat) + 20)
    large = 0.5 * pnp.log(c(flat, 2 * math.pi * math.e) * flat) - 1 / (12 * flat)
    out = pnp.where(flat == 0, c(flat, 0),
                    pnp.where(flat < 10, small, pnp.where(flat < 100, medium, large)))
    return pnp.broadcast_to(pnp.reshape(out, mu.shape), shape)
