"""The confluent and Gauss hypergeometric functions 1F1 and 2F1 of plax.scipy.special, as
jax.scipy.special's (Pearson, Olver and Porter 2014): Taylor series summed until the terms
fall below machine precision, 1F1's asymptotic series for |x| >= 100, 2F1's terminating
series, its digamma transformation near x = 1 (AMS55 15.3.10-12) and its other special
cases; derivatives in every parameter as series too."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax.scipy._special_util import c, custom_jvp, masked_while, real_args

_MAX_TERMS = 250


def _gamma(*xs):
    """Gamma at each of xs (one evaluation on their stack: a smaller program)."""
    from plax.scipy.special import gamma
    return _stacked(gamma, xs)


def _digamma(*xs):
    return _stacked(lax.digamma, xs)


def _stacked(fun, xs):
    if len(xs) == 1:
        return fun(xs[0])
    out = fun(pnp.stack(pnp.broadcast_arrays(*xs)))
    return tuple(out[i] for i in range(len(xs)))


def _eps(x) -> float:
    return float(dtypes.finfo(x.dtype).eps)


def _series(total, term, ratio, weight=None):
    """total + sum_{k>=1} term_k * weight(k), term_{k+1} = term_k * ratio(k), summed while
    k < 250 and the term is above machine precision relative to the total (elementwise)."""
    eps = _eps(total)
    one = pnp.ones_like(total)

    def body(s):
        k, tot, t = s
        tot = tot + (t if weight is None else t * weight(k))
        return k + 1, tot, t * ratio(k)

    def cond(s):
        k, tot, t = s
        return (k < _MAX_TERMS) & (pnp.abs(t) > eps * pnp.abs(tot))

    return masked_while(cond, body, (one, total, term))[1]


# ---------------------------------------------------------------------------------------------
# 1F1


def hyp1f1(a, b, x):
    """The confluent hypergeometric function 1F1(a; b; x) = sum_k (a)_k / (b)_k x**k / k!
    for real arguments (1 at a = b = 0, as JAX; inf at b = 0 != a)."""
    a, b, x = real_args("hyp1f1", a, b, x)
    a, b, x = pnp.broadcast_arrays(a, b, x)
    return _hyp1f1(a, b, x)


def _hyp1f1_raw(a, b, x):
    one = pnp.ones_like(x)
    near = pnp.abs(x) < 100
    xs = pnp.where(near, x, pnp.zeros_like(x))
    series = _series(one, a / b * xs, lambda k: (a + k) / (b + k) * xs / (k + 1))
    xa = pnp.where(near, c(x, 100), x)
    asym = _series(one, (b - a) * (1 - a) / xa, lambda k: (b - a + k) * (1 - a + k) / (k + 1) / xa)
    g_b, g_a = _gamma(b, a)
    asym = g_b / g_a * pnp.exp(xa) * pnp.power(xa, a - b) * asym
    out = pnp.where(near, series, asym)
    out = pnp.where((b == 0) & (a != 0), c(x, np.inf), out)
    out = pnp.where((a == b) & (a != 0), pnp.exp(x), out)
    return pnp.where(a == 0, one, out)


def _hyp1f1_da(g, out, a, b, x):
    psi_a = lax.digamma(a)
    return g * _series(pnp.zeros_like(x), a / b * x, lambda k: (a + k) / (b + k) * x / (k + 1),
                       lambda k: lax.digamma(a + k) - psi_a)


def _hyp1f1_db(g, out, a, b, x):
    psi_b = lax.digamma(b)
    return g * _series(pnp.zeros_like(x), a / b * x, lambda k: (a + k) / (b + k) * x / (k + 1),
                       lambda k: psi_b - lax.digamma(b + k))


def _hyp1f1_dx(g, out, a, b, x):
    return g * a / b * _hyp1f1(a + 1, b + 1, x)


_hyp1f1 = custom_jvp(jvps=(_hyp1f1_da, _hyp1f1_db, _hyp1f1_dx))(_hyp1f1_raw)


# ---------------------------------------------------------------------------------------------
# 2F1


def hyp2f1(a, b, c_, x):
    """The Gauss hypergeometric function 2F1(a, b; c; x) = sum_k (a)_k (b)_k / (c)_k x**k / k!
    for real arguments and x <= 1 (inf beyond, and at the poles of c)."""
    a, b, c_, x = real_args("hyp2f1", a, b, c_, x)
    a, b, c_, x = pnp.broadcast_arrays(a, b, c_, x)
    return _hyp2f1(a, b, c_, x)


def _is_int(v, eps):
    return pnp.abs(v - pnp.round(v)) < eps


def _hyp2f1_taylor(a, b, cc, x):
    one = pnp.ones_like(x)
    return _series(pnp.zeros_like(x), one,
                   lambda k: (a + k - 1) * (b + k - 1) / (cc + k - 1) / k * x)


def _hyp2f1_terminal(a, b, cc, x):
    """The polynomial when a or b is a non-positive integer: its |a| + 1 terms (the one of a
    and b with the larger magnitude that is still below |c| when c is a pole)."""
    eps = 50 * _eps(x)
    swap = (b < a) & _is_int(b, eps) & ~((pnp.fmod(cc, c(cc, 1)) == 0) & (cc <= 0) & (cc > b))
    a, b = pnp.where(swap, b, a), pnp.where(swap, a, b)
    a = pnp.abs(a)
    one = pnp.ones_like(x)

    def body(s):
        i, total, term = s
        term = term * -(a - i + 1) / (cc + i - 1) * (b + i - 1) / i * x
        return i + 1, total + term, term

    return masked_while(lambda s: s[0] < a + 1, body, (one, one, one))[1]


def _hyp2f1_digamma(a, b, cc, x):
    """Near x = 1 when c - a - b is an integer: AMS55 15.3.10-12 (digamma series in 1 - x,
    plus a finite sum of |c - a - b| terms)."""
    eps = _eps(x)
    one, zero = pnp.ones_like(x), pnp.zeros_like(x)
    d = cc - a - b
    s = 1 - x
    rd = pnp.round(d)
    pos = rd >= 0
    e = pnp.where(pos, d, -d)
    d1, d2 = pnp.where(pos, d, zero), pnp.where(pos, zero, d)
    ard = pnp.abs(rd)
    ax = pnp.log(s)
    g_e1, g_e2, gc, g_e, g_ad1, g_bd1, g_ad2, g_bd2, g_a, g_b = _gamma(
        e + 1, e + 2, cc, e, a + d1, b + d1, a + d2, b + d2, a, b)
    p1, p2, p3, p4 = _digamma(one, 1 + e, a + d1, b + d1)
    y = (p1 + p2 - p3 - p4 - ax) / g_e1
    p = (a + d1) * (b + d1) * s / g_e2

    def body(st):
        t, p, q, y = st
        p1, p2, p3, p4 = _digamma(1 + t, 1 + t + e, a + t + d1, b + t + d1)
        r = p1 + p2 - p3 - p4 - ax
        q = p * r
        p = p * s * (a + t + d1) / (t + 1) * (b + t + d1) / (t + 1 + e)
        return t + 1, p, q, y + q

    _, _, _, y = masked_while(lambda st: (st[0] < _MAX_TERMS) & (pnp.abs(st[2]) >= eps *
                                                                 pnp.abs(st[3])),
                              body, (one, p, y, y))

    def fin(st):
        i, t, p, y1 = st
        p = p * s * (a + t + d2) * (b + t + d2) / (1 - e + t)
        t = t + 1
        p = p / t
        return i + 1, t, p, y1 + p

    y1 = masked_while(lambda st: st[0] < ard, fin, (one, zero, one, one))[3]
    y1 = y1 * g_e * gc / (g_ad1 * g_bd1)
    yy = y * gc / (g_ad2 * g_bd2)
    yy = pnp.where(pnp.fmod(ard, c(ard, 2)) == 1, -yy, yy)
    q = pnp.power(s, rd)
    total = pnp.where(rd > 0, yy * q + y1, yy + y1 * q)
    return pnp.where(rd == 0, y * gc / (g_a * g_b), total)


def _hyp2f1_series(a, b, cc, x):
    """The Taylor series; the terminating polynomial when a or b is a non-positive integer;
    the digamma transformation above x = 0.9 when c - a - b is an integer. Each runs on
    stand-in arguments where another is chosen, so no loop runs longer than needed."""
    eps = 50 * _eps(x)
    d = cc - a - b
    neg_int = ((a <= 0) & _is_int(a, eps)) | ((b <= 0) & _is_int(b, eps))
    transform = (x > 0.9) & ~neg_int & _is_int(d, eps)
    one, zero = pnp.ones_like(x), pnp.zeros_like(x)
    taylor = ~neg_int & ~transform
    t = _hyp2f1_taylor(a, b, cc, pnp.where(taylor, x, zero))
    g = _hyp2f1_digamma(pnp.where(transform, a, one), pnp.where(transform, b, one),
                        pnp.where(transform, cc, 3 * one), pnp.where(transform, x, 0.95 * one))
    n = _hyp2f1_terminal(pnp.where(neg_int, a, zero), pnp.where(neg_int, b, zero),
                         pnp.where(neg_int, cc, one), x)
    return pnp.where(neg_int, n, pnp.where(transform, g, t))


def _gamma_ratio(p, q, r, s):
    gp, gq, gr, gs = _gamma(p, q, r, s)
    return gp * gq / (gr * gs)


def _hyp2f1_raw(a, b, cc, x):
    eps = 50 * _eps(x)
    d = cc - a - b
    s = 1 - x
    ca, cb = cc - a, cc - b
    one, inf = pnp.ones_like(x), c(x, np.inf)
    trivial = (x == 0) | (((a == 0) | (b == 0)) & (cc != 0))
    pole = (cc == 0) | ((cc < 0) & (pnp.fmod(cc, c(cc, 1)) == 0))
    euler = (d <= -1) & ~(~_is_int(d, eps) & (s < 0))
    # every case in JAX's order of precedence (the first that holds wins)
    cases = [
        (trivial, lambda: one),
        (pole, lambda: inf),
        (euler, None),
        ((d <= 0) & (x == 1), lambda: inf),
        ((x < 1) & (b == cc), lambda: pnp.power(s, -a)),
        ((x < 1) & (a == cc), lambda: pnp.power(s, -b)),
        (x > 1, lambda: inf),
        (x == 1, lambda: _gamma_ratio(cc, d, ca, cb)),
    ]
    taken = pnp.zeros_like(x, dtype=bool)
    choice = []
    for cond, _ in cases:
        choice.append(cond & ~taken)
        taken = taken | cond
    # the series at (c - a, c - b, c, x) times (1 - x)**(c - a - b) in the Euler case, at
    # (a, b, c, x) where no special case holds: one evaluation with per-element arguments
    eu, rest = choice[2], ~taken
    both = eu | rest
    series = _hyp2f1_series(pnp.where(eu, ca, pnp.where(rest, a, one)),
                            pnp.where(eu, cb, pnp.where(rest, b, one)),
                            pnp.where(both, cc, one), pnp.where(both, x, pnp.zeros_like(x)))
    euler_val = pnp.power(pnp.where(eu, s, one), d) * series
    out = series
    for i in range(len(cases) - 1, -1, -1):
        val = euler_val if i == 2 else cases[i][1]()
        out = pnp.where(choice[i], val, out)
    return out


def _hyp2f1_param_series(a, b, cc, x, weight):
    return _series(pnp.zeros_like(x), a * b / cc * x,
                   lambda k: (a + k) * (b + k) / (cc + k) / (k + 1) * x, weight)


def _hyp2f1_da(g, out, a, b, cc, x):
    psi = lax.digamma(a)
    return g * _hyp2f1_param_series(a, b, cc, x, lambda k: lax.digamma(a + k) - psi)


def _hyp2f1_db(g, out, a, b, cc, x):
    psi = lax.digamma(b)
    return g * _hyp2f1_param_series(a, b, cc, x, lambda k: lax.digamma(b + k) - psi)


def _hyp2f1_dc(g, out, a, b, cc, x):
    psi = lax.digamma(cc)
    return g * _hyp2f1_param_series(a, b, cc, x, lambda k: psi - lax.digamma(cc + k))


def _hyp2f1_dx(g, out, a, b, cc, x):
    return g * a * b / cc * _hyp2f1(a + 1, b + 1, cc + 1, x)


_hyp2f1 = custom_jvp(jvps=(_hyp2f1_da, _hyp2f1_db, _hyp2f1_dc, _hyp2f1_dx))(_hyp2f1_raw)
