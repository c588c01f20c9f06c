"""The special-function primitives as compositions of plax.lax operations, for backends with no
native kernel (StableHLO has none for igamma, betainc or bessel_i0e). The algorithms are the
ones JAX uses (ported there from XLA's client math library): a power series or a continued
fraction for P(a, x) and its derivatives, with early exit once every element has converged,
the Lentz-Thompson-Barnett continued fraction for I_x(a, b), and Cephes' Chebyshev expansions
for I0e. 16-bit operands are computed in float32."""

from __future__ import annotations

import functools

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.core import get_aval

VALUE, DERIVATIVE, SAMPLE_DERIVATIVE = "value", "derivative", "sample_derivative"


def upcast_and_broadcast(fun):
    """Broadcast the operands to one shape and compute 16-bit floats in float32."""
    @functools.wraps(fun)
    def wrapped(*args):
        shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
        args = [a if get_aval(a).shape == shape else lax.broadcast_in_dim(
            a, shape, tuple(range(len(shape) - get_aval(a).ndim, len(shape)))) for a in args]
        dt = get_aval(args[0]).dtype
        small = dt.itemsize == 2
        if small:
            args = [lax.convert_element_type(a, dtypes.float32) for a in args]
        out = fun(*args, dtype=dtypes.float32 if small else dt)
        return lax.convert_element_type(out, dt) if small else out
    return wrapped


def _c(x, v):
    return np.asarray(v, get_aval(x).dtype)


def _full(x, v):
    return lax.full_like(x, v)


def _isnan(x):
    return lax.ne(x, x)


def _any(pred):
    return lax.reduce_or(pred, tuple(range(get_aval(pred).ndim)))


def _or(*ps):
    return functools.reduce(lax.bitwise_or, ps)


def _and(*ps):
    return functools.reduce(lax.bitwise_and, ps)


# ---------------------------------------------------------------------------------------------
# Incomplete gamma


def _igamma_series(ax, x, a, enabled, dtype, mode):
    """P(a, x) by its power series (good for x < a + 1), with the derivative in a alongside."""
    eps = float(dtypes.finfo(dtype).eps)

    def body(vals):
        on, r, c, ans, x_, dc_da, dans_da = vals
        r1 = r + 1
        dc_da1 = dc_da * (x_ / r1) - (c * x_) / (r1 * r1)
        dans_da1 = dans_da + dc_da1
        c1 = c * (x_ / r1)
        ans1 = ans + c1
        if mode == VALUE:
            more = lax.bitwise_and(on, c1 / ans1 > eps)
        else:
            more = lax.bitwise_and(on, lax.abs(dc_da1 / dans_da1) > eps)
        new = (r1, c1, ans1, x_, dc_da1, dans_da1)
        return (more,) + tuple(lax.select(on, n, o) for n, o in zip(new, vals[1:]))

    init = (enabled, a, _full(a, 1), _full(a, 1), x, _full(a, 0), _full(a, 0))
    _, _, _, ans, _, _, dans_da = lax.while_loop(lambda v: _any(v[0]), body, init)
    if mode == VALUE:
        return ans * ax / a
    dlogax_da = lax.log(x) - lax.digamma(a + 1)
    if mode == DERIVATIVE:
        return ax * (ans * dlogax_da + dans_da) / a
    return -(dans_da + ans * dlogax_da) * x / a


def _igammac_continued_fraction(ax, x, a, enabled, dtype, mode):
    """Q(a, x) by its continued fraction (good for x > a + 1), tracking d/da of the
    convergents; numerators and denominators are rescaled by eps when they grow past 1/eps."""
    eps = float(dtypes.finfo(dtype).eps)

    def cond(v):
        return lax.bitwise_and(v[5] < 2000, _any(v[0]))

    def body(v):
        (on, ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans) = v
        c = c + 1
        y = y + 1
        z = z + 2
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        nz = lax.ne(qk, _c(qk, 0))
        r = pk / qk
        t = lax.select(nz, lax.abs((ans - r) / r), _full(r, 1))
        ans = lax.select(nz, r, ans)
        dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
        dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
        dans_new = lax.select(nz, (dpk - ans * dqk) / qk, dans)
        grad_change = lax.select(nz, lax.abs(dans_new - dans), _full(dans, 1))
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        dpkm2, dqkm2, dpkm1, dqkm1 = dpkm1, dqkm1, dpk, dqk
        big = lax.abs(pk) > 1 / eps

        def rescale(u):
            return lax.select(big, u * eps, u)

        pkm2, pkm1, qkm2, qkm1 = map(rescale, (pkm2, pkm1, qkm2, qkm1))
        dpkm2, dqkm2, dpkm1, dqkm1 = map(rescale, (dpkm2, dqkm2, dpkm1, dqkm1))
        more = lax.bitwise_and(on, (t if mode == VALUE else grad_change) > eps)
        new = (ans, t, y, z)
        kept = tuple(lax.select(on, n, o) for n, o in zip(new, v[1:5]))
        rest = (pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans_new)
        rest = tuple(lax.select(on, n, o) for n, o in zip(rest, v[6:]))
        return (more,) + kept + (c,) + rest

    y = 1 - a
    z = x + y + 1
    pkm1 = x + 1
    qkm1 = z * x
    ans = pkm1 / qkm1
    dqkm1 = -x
    dans = -ans * dqkm1 / qkm1
    zero = _full(x, 0)
    init = (enabled, ans, _full(x, 1), y, z, _c(x, 0), pkm1, qkm1, _full(x, 1), x,
            zero, zero, zero, dqkm1, dans)
    out = lax.while_loop(cond, body, init)
    ans, dans = out[1], out[14]
    if mode == VALUE:
        return ans * ax
    dlogax_da = lax.log(x) - lax.digamma(a)
    if mode == DERIVATIVE:
        return ax * (ans * dlogax_da + dans)
    return -(dans + ans * dlogax_da) * x


def _log_ax(a, x, dtype):
    ax = a * lax.log(x) - x - lax.lgamma(a)
    underflow = ax < -float(np.log(dtypes.finfo(dtype).max))
    return lax.exp(ax), underflow


@upcast_and_broadcast
def igamma(a, x, *, dtype):
    nan = _or(_isnan(a), _isnan(x))
    x_inf = lax.eq(x, _c(x, np.inf))
    x_zero = lax.eq(x, _c(x, 0))
    domain = _or(x < 0, a < 0, _and(lax.eq(a, _c(a, 0)), x_zero), nan)
    use_cf = _and(x >= 1, x > a)
    ax, underflow = _log_ax(a, x, dtype)
    on = lax.bitwise_not(_or(x_zero, domain, underflow, x_inf))
    out = lax.select(use_cf,
                     1 - _igammac_continued_fraction(ax, x, a, _and(on, use_cf), dtype, VALUE),
                     _igamma_series(ax, x, a, _and(on, lax.bitwise_not(use_cf)), dtype, VALUE))
    out = lax.select(x_zero, _full(a, 0), out)
    out = lax.select(x_inf, _full(a, 1), out)
    return lax.select(domain, _full(a, np.nan), out)


@upcast_and_broadcast
def igammac(a, x, *, dtype):
    nan = _or(_isnan(a), _isnan(x))
    a_zero = lax.eq(a, _c(a, 0))
    x_zero = lax.eq(x, _c(x, 0))
    x_inf = lax.eq(x, _c(x, np.inf))
    domain = _or(x < 0, a < 0, _and(a_zero, x_zero), nan)
    use_series = _or(x < 1, x < a)
    ax, underflow = _log_ax(a, x, dtype)
    on = lax.bitwise_not(_or(domain, underflow, x_inf, a_zero))
    series = _igamma_series(ax, x, a, _and(on, use_series), dtype, VALUE)
    cf = _igammac_continued_fraction(ax, x, a, _and(on, lax.bitwise_not(use_series)), dtype,
                                     VALUE)
    out = lax.select(use_series, 1 - series, cf)
    out = lax.select(_or(x_inf, a_zero), _full(out, 0), out)
    return lax.select(domain, _full(a, np.nan), out)


def _igamma_derivative(a, x, dtype, mode):
    nan = _or(_isnan(a), _isnan(x))
    x_zero = lax.eq(x, _c(x, 0))
    domain = _or(x < 0, a <= 0)
    use_cf = _and(x > 1, x > a)
    ax, underflow = _log_ax(a, x, dtype)
    on = lax.bitwise_not(_or(x_zero, domain, underflow, nan))
    out = lax.select(use_cf,
                     -_igammac_continued_fraction(ax, x, a, _and(on, use_cf), dtype, mode),
                     _igamma_series(ax, x, a, _and(on, lax.bitwise_not(use_cf)), dtype, mode))
    out = lax.select(x_zero, _full(out, 0), out)
    return lax.select(_or(domain, nan), _full(a, np.nan), out)


@upcast_and_broadcast
def igamma_grad_a(a, x, *, dtype):
    return _igamma_derivative(a, x, dtype, DERIVATIVE)


@upcast_and_broadcast
def random_gamma_grad(a, x, *, dtype):
    return _igamma_derivative(a, x, dtype, SAMPLE_DERIVATIVE)


# ---------------------------------------------------------------------------------------------
# Incomplete beta


def _lentz(num_iterations, small, threshold, numerator, denominator, inputs):
    """The modified Lentz method for the continued fraction b0 + a1/(b1 + a2/(b2 + ...)),
    iterated until every element's last factor is within `threshold` of 1."""
    def cond(v):
        return lax.bitwise_and(v[0] < num_iterations, v[1])

    def body(v):
        it, _, c, d, h = v
        an, bn = numerator(it, *inputs), denominator(it, *inputs)
        c = bn + an / c
        c = lax.select(lax.abs(c) < small, _full(c, small), c)
        d = bn + an * d
        d = lax.select(lax.abs(d) < small, _full(d, small), d)
        d = 1 / d
        delta = c * d
        h = h * delta
        return it + 1, _any(lax.abs(delta - 1) >= threshold), c, d, h

    b0 = denominator(0, *inputs)
    h = lax.select(lax.abs(b0) < small, _full(b0, small), b0)
    init = (np.int32(1), np.bool_(True), h, _full(h, 0), h)
    return lax.while_loop(cond, body, init)[4]


@upcast_and_broadcast
def betainc(a, b, x, *, dtype):
    shape = get_aval(a).shape

    def numerator(it, a, b, x):
        # DLMF 8.17.23: d_{2m} and d_{2m+1}; the first partial numerator is 1
        it = lax.broadcast_in_dim(it, shape, ())
        even = lax.eq(it % 2, _c(it, 0))
        m_int = (it - 1) // 2
        m = lax.convert_element_type(m_int, dtype)
        first = -(a + b) * x / (a + 1)  # m == 0 (avoids the a*m terms under FTZ)
        even_num = lax.select(lax.eq(m_int, _c(m_int, 0)), first,
                              -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)))
        odd_num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        num = lax.select(even, even_num, odd_num)
        return lax.select(lax.eq(it, _c(it, 1)), _full(x, 1), num)

    def denominator(it, a, b, x):
        return _full(x, 0) if isinstance(it, int) and it == 0 else _full(x, 1)

    a_zero = _or(lax.eq(a, _c(a, 0)), lax.eq(b, _c(b, np.inf)))
    b_zero = _or(lax.eq(b, _c(b, 0)), lax.eq(a, _c(a, np.inf)))
    x_zero, x_one = lax.eq(x, _c(x, 0)), lax.eq(x, _c(x, 1))
    nan = _or(_isnan(a), _isnan(b), _isnan(x))
    is_zero = _or(_and(b_zero, lax.bitwise_not(x_one)), _and(a_zero, x_zero))
    is_one = _or(_and(a_zero, lax.bitwise_not(x_zero)), _and(b_zero, x_one))
    is_nan = _or(a < 0, b < 0, x < 0, x > 1, _and(a_zero, b_zero), nan)
    # the fraction converges fast for x < (a+1)/(a+b+2); else use I_x(a,b) = 1 - I_{1-x}(b,a)
    fast = x < (a + 1) / (a + b + 2)
    a, b, x = lax.select(fast, a, b), lax.select(fast, b, a), lax.select(fast, x, 1 - x)
    eps = dtypes.finfo(dtype).eps
    cf = _lentz(200 if dtype == dtypes.float32 else 600, np.asarray(eps / 2, dtype),
                np.asarray(eps / 2, dtype), numerator, denominator, (a, b, x))
    tiny = float(dtypes.finfo(dtype).tiny) * 2
    lbeta_small_a = lax.lgamma(b) - lax.lgamma(a + b)
    lbeta = lax.lgamma(a) + lbeta_small_a
    # a * Gamma(a) = Gamma(a + 1) -> 1 as a -> 0: avoids dividing by a tiny a
    factor = lax.select(a < tiny, lax.exp(lax.log1p(-x) * b - lbeta_small_a),
                        lax.exp(lax.log(x) * a + lax.log1p(-x) * b - lbeta) / a)
    out = cf * factor
    out = lax.select(fast, out, 1 - out)
    out = lax.select(is_zero, _full(out, 0), out)
    out = lax.select(is_one, _full(out, 1), out)
    return lax.select(is_nan, _full(out, np.nan), out)


# ---------------------------------------------------------------------------------------------
# Bessel I0e (Cephes' Chebyshev coefficients)

_I0E_A32 = (-1.30002500998624804212E-8, 6.04699502254191894932E-8,
            -2.67079385394061173391E-7, 1.11738753912010371815E-6,
            -4.41673835845875056359E-6, 1.64484480707288970893E-5,
            -5.75419501008210370398E-5, 1.88502885095841655729E-4,
            -5.76375574538582365885E-4, 1.63947561694133579842E-3,
            -4.32430999505057594430E-3, 1.05464603945949983183E-2,
            -2.37374148058994688156E-2, 4.93052842396707084878E-2,
            -9.49010970480476444210E-2, 1.71620901522208775349E-1,
            -3.04682672343198398683E-1, 6.76795274409476084995E-1)
_I0E_B32 = (3.39623202570838634515E-9, 2.26666899049817806459E-8,
            2.04891858946906374183E-7, 2.89137052083475648297E-6,
            6.88975834691682398426E-5, 3.36911647825569408990E-3,
            8.04490411014108831608E-1)
_I0E_A64 = (-4.41534164647933937950E-18, 3.33079451882223809783E-17,
            -2.43127984654795469359E-16, 1.71539128555513303061E-15,
            -1.16853328779934516808E-14, 7.67618549860493561688E-14,
            -4.85644678311192946090E-13, 2.95505266312963983461E-12,
            -1.72682629144155570723E-11, 9.67580903537323691224E-11,
            -5.18979560163526290666E-10, 2.65982372468238665035E-9) + _I0E_A32
_I0E_B64 = (-7.23318048787475395456E-18, -4.83050448594418207126E-18,
            4.46562142029675999901E-17, 3.46122286769746109310E-17,
            -2.82762398051658348494E-16, -3.42548561967721913462E-16,
            1.77256013305652638360E-15, 3.81168066935262242075E-15,
            -9.55484669882830764870E-15, -4.15056934728722208663E-14,
            1.54008621752140982691E-14, 3.85277838274214270114E-13,
            7.18012445138366623367E-13, -1.79417853150680611778E-12,
            -1.32158118404477131188E-11, -3.14991652796324136454E-11,
            1.18891471078464383424E-11, 4.94060238822496958910E-10) + _I0E_B32


def _chebyshev(x, coefficients):
    b0 = b1 = b2 = _full(x, 0)
    for c in coefficients:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + _c(x, c)
    return (b0 - b2) * 0.5


def bessel_i0e(x):
    dt = get_aval(x).dtype
    if dt.itemsize == 2:
        return lax.convert_element_type(bessel_i0e(lax.convert_element_type(x, dtypes.float32)),
                                        dt)
    a, b = (_I0E_A64, _I0E_B64) if dt == dtypes.float64 else (_I0E_A32, _I0E_B32)
    x = lax.abs(x)
    small = _chebyshev(x * 0.5 - 2, a)
    large = _chebyshev(32 / x - 2, b) / lax.sqrt(x)
    return lax.select(x <= 8, small, large)


def _register_compositions() -> None:
    """Each algorithm is its primitive's composition: backends without a kernel of their own
    run or lower it (plax.extend.registry.add_composition), as xla does."""
    from plax._src.lax import special as sp
    from plax._src.registry import add_composition
    for prim, fun in ((sp.igamma_p, igamma), (sp.igammac_p, igammac),
                      (sp.igamma_grad_a_p, igamma_grad_a),
                      (sp.random_gamma_grad_p, random_gamma_grad),
                      (sp.regularized_incomplete_beta_p, betainc),
                      (sp.bessel_i0e_p, bessel_i0e)):
        add_composition(prim, fun)


_register_compositions()
