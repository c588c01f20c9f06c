"""The multivariate normal distribution N(mean, cov) over the last axis of x; a full
covariance is factored by Cholesky (plax.lax.linalg)."""

from __future__ import annotations

import math

from plax import numpy as pnp
from plax._src.numpy.util import promote_dtypes_inexact


def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = promote_dtypes_inexact(pnp.asarray(x), pnp.asarray(mean), pnp.asarray(cov))
    log2pi = math.log(2 * math.pi)
    if not mean.shape:
        return -0.5 * pnp.square(x - mean) / cov - 0.5 * (log2pi + pnp.log(cov))
    n = mean.shape[-1]
    y = x - mean
    if not cov.shape:
        return -0.5 * pnp.sum(y * y, axis=-1) / cov - n / 2 * (log2pi + pnp.log(cov))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf got incompatible shapes: mean "
                         f"{mean.shape}, cov {cov.shape}")
    from plax.lax import linalg  # the linear-algebra primitives
    chol = linalg.cholesky(cov)
    batch = pnp.broadcast_shapes(y.shape[:-1], cov.shape[:-2])
    chol_b = pnp.broadcast_to(chol, batch + (n, n))
    y_b = pnp.broadcast_to(y, batch + (n,))[..., None, :]
    # solve z L^T = y for each row: z = L^-1 y, the whitened residual
    z = linalg.triangular_solve(chol_b, y_b, left_side=False, lower=True, transpose_a=True)
    z = z[..., 0, :]
    log_det = pnp.sum(pnp.log(pnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * pnp.sum(z * z, axis=-1) - n / 2 * log2pi - log_det


def pdf(x, mean, cov):
    return pnp.exp(logpdf(x, mean, cov))
