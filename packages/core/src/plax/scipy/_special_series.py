"""Special functions of plax.scipy.special defined by series, continued fractions or rational
approximations: spence (Cephes' rational fit), the exponential integrals exp1, expi (power
series near 0, a continued fraction or the asymptotic series beyond) and expn (Cephes')."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src.numpy.util import promote_args_inexact
from plax.scipy._special_util import c, custom_jvp, masked_while, polyval

_EULER = 0.57721566490153286061

_SPENCE_A = (4.65128586073990045278E-5, 7.31589045238094711071E-3, 1.33847639578309018650E-1,
             8.79691311754530315341E-1, 2.71149851196553469920E0, 4.25697156008121755724E0,
             3.29771340985225106936E0, 1.00000000000000000126E0)
_SPENCE_B = (6.90990488912553276999E-4, 2.54043763932544379113E-2, 2.82974860602568089943E-1,
             1.41172597751831069617E0, 3.63800533345137075418E0, 5.03278880143316990390E0,
             3.54771340985225096217E0, 9.99999999999999998740E-1)


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
    y = -w * polyval(_SPENCE_A, w) / polyval(_SPENCE_B, w)
    y = pnp.where(lt05, c(x, math.pi ** 2 / 6) - pnp.log(y0) * pnp.log1p(-y0) - y, y)
    y = pnp.where(big | gt15, -0.5 * pnp.log(y0) ** 2 - y, y)
    y = pnp.where(x == 1, pnp.zeros_like(x), y)
    y = pnp.where(x == 0, c(x, math.pi ** 2 / 6), y)
    return pnp.where(x < 0, c(x, np.nan), y)


def _e1_series(x, terms=40):
    """-gamma - log x + sum_{k>=1} (-1)^(k+1) x^k / (k k!), for 0 < x <= 1."""
    term = x
    total = x
    for k in range(2, terms):
        term = -term * x / k
        total = total + term / k
    return c(x, -_EULER) - pnp.log(x) + total


def _e1_fraction(x, terms=60):
    """exp(-x) / (x + 1 - 1/(x + 3 - 4/(x + 5 - ...))), evaluated backwards, for x > 1."""
    t = x + (2 * terms + 1)
    for k in range(terms, 0, -1):
        t = x + (2 * k - 1) - c(x, k * k) / t
    return pnp.exp(-x) / t


def exp1(x):
    """The exponential integral E1(x) = int_x^inf exp(-t)/t dt (real x; nan below 0)."""
    x = _real("exp1", x)
    small = x <= 1
    xs = pnp.where(small & (x > 0), x, pnp.ones_like(x))
    xl = pnp.where(small, c(x, 2), x)
    out = pnp.where(small, _e1_series(xs), _e1_fraction(xl))
    out = pnp.where(x == 0, c(x, np.inf), out)
    return pnp.where(x < 0, c(x, np.nan), out)


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
    series = c(x, _EULER) + pnp.log(xp) + total
    xa = pnp.where(x > 40, x, c(x, 50))
    asym = pnp.ones_like(xa)
    term = pnp.ones_like(xa)
    for k in range(1, 12):
        term = term * k / xa
        asym = asym + term
    asym = pnp.exp(xa) / xa * asym
    out = pnp.where(x > 40, asym, series)
    neg = -exp1(pnp.where(pos, pnp.ones_like(x), -x))
    out = pnp.where(pos, out, neg)
    return pnp.where(x == 0, c(x, np.nan), out)


# ---------------------------------------------------------------------------------------------
# Generalized exponential integral E_n (Cephes expn)


def expn(n, x):
    """E_n(x) = int_1^inf exp(-x t) / t**n dt for integer-valued n >= 0 and x >= 0 (nan
    outside): the power series up to x = 1, a continued fraction beyond, an asymptotic form
    for n >= 5000. E_n(0) is 1/(n-1) (SciPy's value; JAX 0.10.2 gives 1/n)."""
    n, x = promote_args_inexact("expn", n, x)
    if pnp.iscomplexobj(x):
        raise ValueError("expn does not support complex-valued inputs")
    n, x = pnp.broadcast_arrays(n, x)
    return _expn(n, x)


def _expn_series(n, x):
    """x <= 1: (-x)**(n-1) (psi(n) - log x) / Gamma(n) - sum_{k>=0, k != n-1} (-x)**k /
    (k! (k + 1 - n))."""
    one = pnp.ones_like(x)
    ans = pnp.where(n == 1, pnp.zeros_like(x), 1 / (1 - pnp.where(n == 1, 2 * one, n)))

    def body(k, carry):
        yk, pk, ans = carry
        yk = yk * -x / lax.convert_element_type(k, x.dtype)
        pk = pk + 1
        ans = ans + pnp.where(pk != 0, yk / pnp.where(pk != 0, pk, one), pnp.zeros_like(x))
        return yk, pk, ans

    _, _, ans = lax.fori_loop(1, 30, body, (one, 1 - n, ans))
    odd = pnp.fmod(n - 1, c(x, 2)) == 1
    power = pnp.where(odd, -one, one) * pnp.power(x, n - 1)
    psi = lax.digamma(n) - pnp.log(x)
    return power * psi / pnp.exp(lax.lgamma(n)) - ans


def _expn_fraction(n, x):
    """x > 1: exp(-x) times the continued fraction 1/(x + n/(1 + 1/(x + (n+1)/(1 + ...)))),
    by its convergents (rescaled when they grow), until they agree to machine precision."""
    eps = float(np.finfo(x.dtype).eps)
    big = 1.44115188075855872e17
    one = pnp.ones_like(x)
    init = dict(k=one, pkm2=one, qkm2=x, pkm1=one, qkm1=x + n, ans=1 / (x + n),
                t=pnp.full_like(x, np.inf))

    def body(d):
        k = d["k"] + 1
        odd = pnp.fmod(k, c(x, 2)) == 1
        yk = pnp.where(odd, one, x)
        xk = pnp.where(odd, n + (k - 1) / 2, k / 2)
        pk = d["pkm1"] * yk + d["pkm2"] * xk
        qk = d["qkm1"] * yk + d["qkm2"] * xk
        nz = qk != 0
        r = pk / pnp.where(nz, qk, one)
        t = pnp.where(nz, pnp.abs((d["ans"] - r) / r), one)
        ans = pnp.where(nz, r, d["ans"])
        scale = pnp.where(pnp.abs(pk) > big, c(x, 1 / big), one)
        return dict(k=k, pkm2=d["pkm1"] * scale, qkm2=d["qkm1"] * scale, pkm1=pk * scale,
                    qkm1=qk * scale, ans=ans, t=t)

    d = masked_while(lambda d: d["t"] > eps, body, init, max_steps=2000)
    return d["ans"] * pnp.exp(-x)


def _expn_large_n(n, x):
    """n >= 5000: exp(-x)/(x+n) (1 + n/(x+n)**2 (1 + (n - 2x)/(x+n)**2 (...)))."""
    xk = x + n
    yk = 1 / (xk * xk)
    ans = yk * n * (6 * x * x - 8 * n * x + n * n)
    ans = yk * (ans + n * (n - 2 * x))
    ans = yk * (ans + n)
    return (ans + 1) * pnp.exp(-x) / xk


def _expn_jvp(primals, tangents):
    """dE_n/dx = -E_{n-1}(x); E_0 = exp(-x)/x has the derivative -exp(-x) (1/x + 1/x**2)."""
    (n, x), (_, t) = primals, tangents
    e0 = -pnp.exp(-x) * (1 / x + 1 / (x * x))
    return _expn(n, x), t * pnp.where(n == 0, e0, -_expn(pnp.maximum(n - 1, 0), x))


@custom_jvp(_expn_jvp)
def _expn(n, x):
    one = pnp.ones_like(x)
    series = (x <= 1) & (x > 0)
    fraction = x > 1
    s = _expn_series(pnp.where(series, n, one), pnp.where(series, x, 0.5 * one))
    f = _expn_fraction(pnp.where(fraction, n, one), pnp.where(fraction, x, 2 * one))
    big_n = n >= 5000
    a = _expn_large_n(pnp.where(big_n, n, c(x, 5000)), pnp.where(big_n, x, one))
    out = pnp.where(fraction, f, s)
    out = pnp.where(big_n, a, out)
    out = pnp.where(n == 0, pnp.exp(-x) / x, out)
    out = pnp.where(x == 0, pnp.where(n < 2, c(x, np.inf),
                                      1 / pnp.where(n < 2, one, n - 1)), out)
    return pnp.where((n < 0) | (x < 0), c(x, np.nan), out)
