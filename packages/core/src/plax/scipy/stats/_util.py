"""Helpers shared by the distribution modules: argument promotion and masks."""

from __future__ import annotations

import numpy as np

from plax import numpy as pnp
from plax._src.numpy.util import promote_args_inexact


def promote(name: str, *args):
    """The arguments as arrays of one floating dtype, broadcast to one rank."""
    return promote_args_inexact(name, *args)


def c(x, v):
    """A scalar of x's dtype."""
    return np.asarray(v, x.dtype)


def where_outside(mask, value, out):
    """`out`, with `value` where `mask` holds."""
    return pnp.where(mask, c(out, value), out)


def is_integer(k):
    return k == pnp.floor(k)


def standardize(name: str, x, loc, scale):
    """(z, scale): x promoted with loc and scale to one floating dtype, as z = (x - loc) /
    scale, the argument of a location-scale family's standard form."""
    x, loc, scale = promote(name, x, loc, scale)
    return (x - loc) / scale, scale
