"""plax.scipy.cluster.vq (as jax.scipy.cluster.vq): assign observations to their nearest code."""

from __future__ import annotations

from plax import numpy as pnp
from plax._src.numpy.util import check_arraylike, promote_dtypes_inexact

__all__ = ["vq"]


def vq(obs, code_book, check_finite: bool = True):
    """(code, distance): for each observation (row of obs, or element in 1-D) the index of
    the nearest row of code_book and the Euclidean distance to it."""
    check_arraylike("scipy.cluster.vq.vq", obs, code_book)
    obs, book = promote_dtypes_inexact(obs, code_book)
    if obs.ndim != book.ndim:
        raise ValueError("Observation and code_book should have the same rank")
    if obs.ndim == 1:
        obs, book = obs[:, None], book[:, None]
    if obs.ndim != 2:
        raise ValueError("ndim different than 1 or 2 are not supported")
    dist = pnp.linalg.norm(obs[:, None, :] - book[None, :, :], axis=-1)
    code = pnp.argmin(dist, axis=-1)
    return code, pnp.take_along_axis(dist, code[:, None], axis=-1)[:, 0]
