"""plax.scipy.special: SciPy's special functions on plax arrays (as jax.scipy.special), built on
the lax special-function primitives (lgamma, digamma, igamma, betainc, zeta, bessel_i0e, ...)
and compositions of plax.numpy operations, so they trace, differentiate and batch. Arguments
are promoted to a floating dtype as in JAX."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.nn import log_softmax, logsumexp, softmax  # noqa: F401
from plax._src.numpy.util import promote_args_inexact
from plax.scipy._special_hyp import hyp1f1, hyp2f1  # noqa: F401
from plax.scipy._special_integrals import dawsn, fresnel, owens_t, sici, wofz  # noqa: F401
from plax.scipy._special_orthogonal import bessel_jn, sph_harm_y  # noqa: F401
from plax.scipy._special_series import exp1, expi, expn, spence  # noqa: F401
from plax.scipy._special_util import c as _c
from plax.scipy._special_util import custom_jvp as _with_jvp
from plax.scipy._special_util import polyval as _polyval
from plax.scipy._special_util import real_args as _real

__all__ = [
    "exp1", "expi", "expn", "spence", "hyp1f1", "hyp2f1", "dawsn", "fresnel", "owens_t", "sici",
    "wofz", "bessel_jn", "sph_harm_y",
    "bernoulli", "beta", "betainc", "betaln", "boxcox", "boxcox1p", "comb", "digamma", "entr",
    "erf", "erfc", "erfcx", "erfinv", "expit", "factorial", "gamma", "gammainc", "gammaincc",
    "gammaln", "gammasgn", "i0", "i0e", "i1", "i1e", "kl_div", "log_ndtr", "log_softmax",
    "loggamma", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "poch", "polygamma",
    "rel_entr", "softmax", "xlog1py", "xlogy", "zeta"]


# ---------------------------------------------------------------------------------------------
# Gamma and beta


def gammaln(x):
    """log|Gamma(x)|."""
    x, = _real("gammaln", x)
    return lax.lgamma(x)


def gammasgn(x):
    """The sign of Gamma(x): NaN at the poles (non-positive integers) and -inf, -1 at -0."""
    x, = _real("gammasgn", x)
    fl = pnp.floor(x)
    neg = x < 0
    nan = (neg & (x == fl)) | pnp.isnan(x)
    minus = (neg & (pnp.remainder(fl, 2) != 0)) | ((x == 0) & pnp.signbit(x))
    return pnp.where(nan, _c(x, np.nan), pnp.where(minus, _c(x, -1), _c(x, 1)))


def gamma(x):
    """Gamma(x) for real x."""
    x, = _real("gamma", x)
    return gammasgn(x) * lax.exp(lax.lgamma(x))


def loggamma(x):
    """Principal branch of log Gamma(x); for real x, NaN where x <= 0 (as JAX)."""
    x, = _real("loggamma", x)
    return pnp.where(x > 0, lax.lgamma(x), _c(x, np.nan))


def betaln(a, b):
    """log|B(a, b)|."""
    a, b = _real("betaln", a, b)
    return lax.lgamma(a) + lax.lgamma(b) - lax.lgamma(a + b)


def beta(a, b):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b)."""
    a, b = _real("beta", a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * pnp.exp(betaln(a, b))


def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b)."""
    a, b, x = _real("betainc", a, b, x)
    return lax.betainc(a, b, x)


def factorial(n, exact: bool = False):
    """n! = Gamma(n + 1) as a float (0 for n < 0); exact=True is not supported (as JAX)."""
    if exact:
        raise NotImplementedError("factorial with exact=True")
    n, = _real("factorial", n)
    return pnp.where(n < 0, _c(n, 0), lax.exp(lax.lgamma(n + 1)))


def comb(N, k, *, exact: bool = False, repetition: bool = False):  # noqa: N803 - SciPy's name
    """N choose k as a float (0 unless 0 <= k <= N); with repetition, (N + k - 1) choose k."""
    if exact:
        raise NotImplementedError("comb with exact=True")
    N, k = _real("comb", N, k)  # noqa: N806
    if repetition:
        return pnp.where((k == 0) & (N >= 0), _c(N, 1), comb(N + k - 1, k))
    ok = (k <= N) & (N >= 0) & (k >= 0)
    n0, k0 = pnp.where(ok, N, _c(N, 0)), pnp.where(ok, k, _c(k, 0))
    out = lax.exp(lax.lgamma(n0 + 1) - lax.lgamma(k0 + 1) - lax.lgamma(n0 + 1 - k0))
    return pnp.where(ok, out, _c(out, 0))


def poch(z, m):
    """Rising factorial (z)_m = Gamma(z + m) / Gamma(z)."""
    z, m = _real("poch", z, m)
    sign = gammasgn(z + m) * gammasgn(z)
    out = sign * pnp.exp(lax.lgamma(z + m) - lax.lgamma(z))
    return pnp.where(m == 0, _c(z, 1), out)


def multigammaln(a, d):
    """log of the multivariate gamma function of dimension d (an integer)."""
    d = int(d)
    a, = _real("multigammaln", a)
    constant = d * (d - 1) / 4 * math.log(math.pi)
    terms = sum(lax.lgamma(a - _c(a, j / 2)) for j in range(d))
    return terms + _c(a, constant)


def digamma(x):
    """psi(x), the logarithmic derivative of Gamma."""
    x, = _real("digamma", x)
    return lax.digamma(x)


def polygamma(n, x):
    """The n-th derivative of digamma (n a non-negative integer, of an integer dtype)."""
    if not dtypes.is_int(dtypes.dtype(n)):
        raise ValueError(f"Argument `n` to polygamma must be of integer type. Got dtype "
                         f"{dtypes.dtype(n)}.")
    n, x = _real("polygamma", n, x)
    return lax.polygamma(n, x)


def zeta(x, q=None):
    """Hurwitz zeta function; the Riemann zeta function (q=None) is not implemented (as JAX)."""
    if q is None:
        raise NotImplementedError("Riemann zeta function not implemented; pass q != None to "
                                  "compute the Hurwitz Zeta function.")
    x, q = _real("zeta", x, q)
    return lax.zeta(x, q)


def gammainc(a, x):
    """Regularized lower incomplete gamma function P(a, x)."""
    a, x = _real("gammainc", a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """Regularized upper incomplete gamma function Q(a, x)."""
    a, x = _real("gammaincc", a, x)
    return lax.igammac(a, x)


def bernoulli(n: int):
    """The Bernoulli numbers B_0 .. B_n (B_1 = -1/2), as a float array."""
    n = int(n)
    if n < 0:
        raise ValueError("n must be a non-negative integer")
    b, row = [], []
    for m in range(n + 1):  # Akiyama-Tanigawa (gives B_1 = +1/2), then SciPy's sign of B_1
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        b.append(row[0])
    if n >= 1:
        b[1] = -b[1]
    return pnp.asarray(np.array([float(v) for v in b]), dtype=dtypes.default_float_dtype())


# ---------------------------------------------------------------------------------------------
# Error function and the normal distribution


def erf(x):
    x, = _real("erf", x)
    return lax.erf(x)


def erfc(x):
    x, = _real("erfc", x)
    return lax.erfc(x)


def erfinv(x):
    x, = _real("erfinv", x)
    return lax.erf_inv(x)


def erfcx(x):
    """Scaled complementary error function exp(x**2) * erfc(x). For x >= 2 the continued
    fraction erfc(x) = exp(-x**2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) is
    evaluated backwards (no overflow of exp(x**2))."""
    x, = _real("erfcx", x)
    return _erfcx(x)


def _erfcx_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    out = _erfcx(x)
    return out, t * (2 * x * out - _c(x, 2 / math.sqrt(math.pi)))


@_with_jvp(_erfcx_jvp)
def _erfcx(x):
    big = x >= 2
    xb = pnp.where(big, x, _c(x, 2))
    t = xb
    for k in range(60, 0, -1):
        t = xb + _c(x, k / 2) / t
    tail = _c(x, 1 / math.sqrt(math.pi)) / t
    xs = pnp.where(big, _c(x, 0), x)
    direct = pnp.exp(xs * xs) * lax.erfc(xs)
    return pnp.where(big, tail, direct)


def ndtr(x):
    """The standard normal CDF (float32 or float64 arguments, as JAX)."""
    dt = dtypes.dtype(x)
    if dt not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"ndtr: x.dtype={dt} is not supported (float32 or float64)")
    x, = _real("ndtr", x)
    h = _c(x, math.sqrt(0.5))
    w = x * h
    z = pnp.abs(w)
    y = pnp.where(z < h, 1 + lax.erf(w), pnp.where(w > 0, 2 - lax.erfc(z), lax.erfc(z)))
    return y * _c(x, 0.5)


_NDTRI_P0 = (-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
             1.39312609387279679503E1, -1.23916583867381258016E0)
_NDTRI_Q0 = (1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
             -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
             1.59056225126211695515E1, -1.18331621121330003142E0)
_NDTRI_P1 = (4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
             4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
             -1.40256079171354495875E-1, -3.50424626827848203418E-2,
             -8.57456785154685413611E-4)
_NDTRI_Q1 = (1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
             1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
             -3.80806407691578277194E-2, -9.33259480895457427372E-4)
_NDTRI_P2 = (3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
             1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
             3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9)
_NDTRI_Q2 = (1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
             2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
             2.89247864745380683936E-6, 6.79019408009981274425E-9)


def ndtri(p):
    """The inverse of ndtr (Cephes' rational approximations: one around the median, two in
    the tails, in z = sqrt(-2 log p))."""
    p, = _real("ndtri", p)
    upper = p > _c(p, -math.expm1(-2.0))
    q = pnp.where(upper, 1 - p, p)
    q = pnp.where(q == 0, _c(p, 0.5), q)
    w = q - _c(p, 0.5)
    ww = w * w
    central = (w + w * ww * (_polyval(_NDTRI_P0, ww) / _polyval(_NDTRI_Q0, ww))) \
        * _c(p, -math.sqrt(2 * math.pi))
    z = pnp.sqrt(_c(p, -2.0) * pnp.log(q))
    first = z - pnp.log(z) / z
    iz = 1 / z
    far = first - _polyval(_NDTRI_P2, iz) / _polyval(_NDTRI_Q2, iz) / z
    near = first - _polyval(_NDTRI_P1, iz) / _polyval(_NDTRI_Q1, iz) / z
    x = pnp.where(q > _c(p, math.exp(-2.0)), central, pnp.where(z >= 8, far, near))
    x = pnp.where(p > _c(p, 1 - math.exp(-2.0)), x, -x)
    return pnp.where(p == 0, _c(p, -np.inf), pnp.where(p == 1, _c(p, np.inf), x))


def log_ndtr(x, series_order: int = 3):
    """log(ndtr(x)), accurate in both tails: -ndtr(-x) above 5 (8 in float64) and an
    asymptotic series of erfc below -10 (-20)."""
    if not isinstance(series_order, int):
        raise TypeError("series_order must be a Python integer.")
    if not 0 <= series_order <= 30:
        raise ValueError(f"series_order must be in [0, 30], got {series_order}")
    x, = _real("log_ndtr", x)
    return _log_ndtr(series_order)(x)


@functools.lru_cache(maxsize=None)
def _log_ndtr(series_order: int):
    def jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        out = impl(x)
        log_pdf = -0.5 * x * x - _c(x, 0.5 * math.log(2 * math.pi))
        return out, t * pnp.exp(log_pdf - out)

    @_with_jvp(jvp)
    def impl(x):
        return _log_ndtr_impl(x, series_order)
    return impl


def _log_ndtr_impl(x, series_order):
    if x.dtype == dtypes.float64:
        lo, hi = -20.0, 8.0
    elif x.dtype == dtypes.float32:
        lo, hi = -10.0, 5.0
    else:
        raise TypeError(f"log_ndtr: x.dtype={x.dtype} is not supported (float32 or float64)")
    above = x > hi
    mid_arg = pnp.where(above, -x, pnp.maximum(x, _c(x, lo)))
    mid = ndtr(mid_arg)
    xl = pnp.minimum(x, _c(x, lo))
    x2 = xl * xl
    log_scale = -0.5 * x2 - pnp.log(-xl) - _c(x, 0.5 * math.log(2 * math.pi))
    series = pnp.ones_like(xl)
    x2n = x2
    for n in range(1, series_order + 1):
        term = _c(x, float(np.prod(np.arange(2 * n - 1, 1, -2)))) / x2n
        series = series - term if n % 2 else series + term
        x2n = x2n * x2
    lower = log_scale + pnp.log(series)
    return pnp.where(above, -mid, pnp.where(x > lo, pnp.log(mid), lower))


# ---------------------------------------------------------------------------------------------
# Logistic, logs, entropies


def expit(x):
    x, = _real("expit", x)
    return lax.logistic(x)


def logit(x):
    x, = _real("logit", x)
    return pnp.log(x / (1 - x))


def xlogy(x, y):
    """x * log(y), 0 where x == 0."""
    x, y = promote_args_inexact("xlogy", x, y)
    return _xlogy(x, y)


def _xlogy_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return _xlogy(x, y), tx * pnp.log(y) + ty * x / y


@_with_jvp(_xlogy_jvp)
def _xlogy(x, y):
    safe_y = pnp.where(x == 0, pnp.ones_like(y), y)
    return pnp.where(x == 0, pnp.zeros_like(x), x * pnp.log(safe_y))


def xlog1py(x, y):
    """x * log1p(y), 0 where x == 0."""
    x, y = promote_args_inexact("xlog1py", x, y)
    return _xlog1py(x, y)


def _xlog1py_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return _xlog1py(x, y), tx * pnp.log1p(y) + ty * x / (1 + y)


@_with_jvp(_xlog1py_jvp)
def _xlog1py(x, y):
    safe_y = pnp.where(x == 0, pnp.zeros_like(y), y)
    return pnp.where(x == 0, pnp.zeros_like(x), x * pnp.log1p(safe_y))


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf for x < 0."""
    x, = _real("entr", x)
    safe = pnp.where(x > 0, x, pnp.ones_like(x))
    return pnp.where(x > 0, -safe * pnp.log(safe),
                     pnp.where(x == 0, pnp.zeros_like(x), _c(x, -np.inf)))


def kl_div(p, q):
    """p log(p/q) - p + q elementwise (q at p == 0 <= q, inf elsewhere outside the domain)."""
    p, q = _real("kl_div", p, q)
    return rel_entr(p, q) - p + q


def rel_entr(p, q):
    """p log(p/q) elementwise, as p log p - p log q (0 at p == 0 <= q, inf otherwise outside
    the domain)."""
    p, q = _real("rel_entr", p, q)
    both = (p > 0) & (q > 0)
    sp, sq = pnp.where(both, p, pnp.ones_like(p)), pnp.where(both, q, pnp.ones_like(q))
    val = sp * pnp.log(sp) - sp * pnp.log(sq)
    return pnp.where(both, val, pnp.where((p == 0) & (q >= 0), pnp.zeros_like(p),
                                          _c(p, np.inf)))


def boxcox(x, lmbda):
    """The Box-Cox transform: (x**lmbda - 1) / lmbda, log(x) at lmbda == 0."""
    x, lmbda = _real("boxcox", x, lmbda)
    safe = pnp.where(lmbda == 0, pnp.ones_like(lmbda), lmbda)
    return pnp.where(lmbda == 0, pnp.log(x), pnp.expm1(safe * pnp.log(x)) / safe)


def boxcox1p(x, lmbda):
    """boxcox(1 + x, lmbda), accurate for small x."""
    x, lmbda = _real("boxcox1p", x, lmbda)
    safe = pnp.where(lmbda == 0, pnp.ones_like(lmbda), lmbda)
    return pnp.where(lmbda == 0, pnp.log1p(x), pnp.expm1(safe * pnp.log1p(x)) / safe)


# ---------------------------------------------------------------------------------------------
# Modified Bessel functions


def i0e(x):
    x, = _real("i0e", x)
    return lax.bessel_i0e(x)


def i0(x):
    x, = _real("i0", x)
    return pnp.exp(pnp.abs(x)) * lax.bessel_i0e(x)


def i1e(x):
    x, = _real("i1e", x)
    return lax.bessel_i1e(x)


def i1(x):
    x, = _real("i1", x)
    return pnp.exp(pnp.abs(x)) * lax.bessel_i1e(x)
