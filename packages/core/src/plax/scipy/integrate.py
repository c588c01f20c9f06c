"""plax.scipy.integrate (as jax.scipy.integrate): the trapezoidal rule."""

from __future__ import annotations

__all__ = ["trapezoid"]


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """The integral of y along `axis` by the trapezoidal rule, at sample points x (spacing dx
    when x is None): plax.numpy.trapezoid."""
    from plax import numpy as pnp
    return pnp.trapezoid(y, x, dx, axis)
