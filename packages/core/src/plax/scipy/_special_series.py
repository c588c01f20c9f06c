"""Special functions of plax.scipy.special defined by series, continued fractions or rational
approximations: spence (Cephes' rational fit), the exponential integrals exp1 and expi (power
series near 0, a continued fraction or the asymptotic series beyond)."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src.numpy.util import promote_args_inexact

_EULER = 0.57721566490153286061

_SPENCE_A = (4.65128586073990045278E-5, 7.31589045238094711071E-3, 1.33847639578309018650E-1,
             8.79691311754530315341E-1, 2.71149851196553469920E0, 4.25697156008121755724E0,
             3.29771340985225106936E0, 1.00000000000000000126E0)
_SPENCE_B = (6.90990488912553276999E-4, 2.54043763932544379113E-2, 2.82974860602568089943E-1,
             1.41172597751831069617E0, 3.63800533345137075418E0, 5.03278880143316990390E0,
             3.54771340985225096217E0, 9.99999999999999998740E-1)


def _c(x, v):
    return np.asarray(v, x.dtype)


def _polyval(coeffs, x):
    out = pnp.zeros_like(x)
    for c in coeffs:
        out = out * x + _c(x, c)
    return out


def _real(name, x):
    x, = promote_args_inexact(name, x)
    if pnp.iscomplexobj(x):
        raise ValueError(f"{name} does not support complex-valued inputs")
    return x


def spence(x):
    """Spence's function (dilogarithm) int_1^x log(t) / (1 - t) dt for x >= 0."""
    x = _real("spence", x)
    big = x > 2
    safe = pnp.where((x <= 0) | (x == 1), pnp.ones_like(x), x)
    y0 = pnp.where(big, 1 / safe, safe)
    gt15, lt05 = y0 > 1.5, y0 < 0.5
    w = pnp.where(gt15, 1 / y0 - 1, pnp.where(lt05, -y0, y0 - 1))
    y = -w * _polyval(_SPENCE_A, w) / _polyval(_SPENCE_B, w)
    y = pnp.where(lt05, _c(x, math.pi ** 2 / 6) - pnp.log(y0) * pnp.log1p(-y0) - y, y)
    y = pnp.where(big | gt15, -0.5 * pnp.log(y0) ** 2 - y, y)
    y = pnp.where(x == 1, pnp.zeros_like(x), y)
    y = pnp.where(x == 0, _c(x, math.pi ** 2 / 6), y)
    return pnp.where(x < 0, _c(x, np.nan), y)


def _e1_series(x, terms=40):
    """-gamma - log x + sum_{k>=1} (-1)^(k+1) x^k / (k k!), for 0 < x <= 1."""
    term = x
    total = x
    for k in range(2, terms):
        term = -term * x / k
        total = total + term / k
    return _c(x, -_EULER) - pnp.log(x) + total


def _e1_fraction(x, terms=60):
    """exp(-x) / (x + 1 - 1/(x + 3 - 4/(x + 5 - ...))), evaluated backwards, for x > 1."""
    t = x + (2 * terms + 1)
    for k in range(terms, 0, -1):
        t = x + (2 * k - 1) - _c(x, k * k) / t
    return pnp.exp(-x) / t


def exp1(x):
    """The exponential integral E1(x) = int_x^inf exp(-t)/t dt (real x; nan below 0)."""
    x = _real("exp1", x)
    small = x <= 1
    xs = pnp.where(small & (x > 0), x, pnp.ones_like(x))
    xl = pnp.where(small, _c(x, 2), x)
    out = pnp.where(small, _e1_series(xs), _e1_fraction(xl))
    out = pnp.where(x == 0, _c(x, np.inf), out)
    return pnp.where(x < 0, _c(x, np.nan), out)


def expi(x):
    """The exponential integral Ei(x) = -int_{-x}^inf exp(-t)/t dt: the power series
    gamma + log|x| + sum x^k / (k k!) up to 40, the asymptotic series above, -E1(-x) below 0
    (nan at 0, as JAX)."""
    x = _real("expi", x)
    pos = x > 0
    xp = pnp.where(pos & (x <= 40), x, pnp.ones_like(x))

    def body(k, carry):
        term, total = carry
        kf = lax.convert_element_type(k, x.dtype)
        term = term * xp / kf
        return term, total + term / kf

    _, total = lax.fori_loop(1, 160, body, (pnp.ones_like(xp), pnp.zeros_like(xp)))
    series = _c(x, _EULER) + pnp.log(xp) + total
    xa = pnp.where(x > 40, x, _c(x, 50))
    asym = pnp.ones_like(xa)
    term = pnp.ones_like(xa)
    for k in range(1, 12):
        term = term * k / xa
        asym = asym + term
    asym = pnp.exp(xa) / xa * asym
    out = pnp.where(x > 40, asym, series)
    neg = -exp1(pnp.where(pos, pnp.ones_like(x), -x))
    out = pnp.where(pos, out, neg)
    return pnp.where(x == 0, _c(x, np.nan), out)
