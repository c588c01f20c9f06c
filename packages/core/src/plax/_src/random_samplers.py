"""The distribution samplers of plax.random beyond the basic ones (gamma and what is built on
it, poisson, binomial, multinomial, the location-scale families, ...), each JAX's algorithm on
the same key splits, so a key gives JAX's numbers. Each runs as one compiled program per
signature."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes, prng
from plax._src.compiled import compiled
from plax._src.core import canonicalize_shape, get_aval
from plax._src.lax import elementwise as ew
from plax._src.random import (
    _aval, _broadcast_to, _check_shape, _float_dtype, _normal_real, _uniform, _value)
from plax._src.random_gamma import gamma_samples


def _shape_or(shape, *params):
    """`shape` canonicalized, or the broadcast shape of the parameters when None."""
    if shape is None:
        return tuple(np.broadcast_shapes(*(_aval(p).shape for p in params)))
    return canonicalize_shape(shape)


def _param_shape(name, shape, *params):
    """`shape` (the parameters' broadcast shape when None), checked against each parameter's
    shape (a clear error naming `name` when one does not broadcast to it)."""
    shape = _shape_or(shape, *params)
    _check_shape(name, shape, *(_aval(p).shape for p in params))
    return shape


def _parts(key, name):
    return prng.key_parts(prng.check_key(name, key))


def _int_dtype(name, dtype):
    dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    if not dtypes.is_int(dt):
        raise ValueError(f"dtype argument to `{name}` must be an int dtype, got {dt.name}")
    return dt


# ---------------------------------------------------------------------------------------------
# Gamma and its relatives


def _gamma(parts, a, shape, dtype, log_space):
    a = _value(a, dtype)
    if get_aval(a).shape != shape:
        a = lax.broadcast_in_dim(a, shape, tuple(range(len(shape) - get_aval(a).ndim,
                                                       len(shape))))
    return gamma_samples(parts, a, log_space)


@compiled("shape", "dtype")
def gamma(key, a, shape: Sequence[int] | None = None, dtype=None):
    """Gamma(a, 1) samples (Marsaglia-Tsang), differentiable in `a`."""
    dt = _float_dtype("gamma", dtype)
    parts = _parts(key, "gamma")
    shape = _param_shape("gamma", shape, a)
    return _gamma(parts, a, shape, dt, False)


@compiled("shape", "dtype")
def loggamma(key, a, shape: Sequence[int] | None = None, dtype=None):
    """log of Gamma(a, 1) samples, accurate for small `a` (where the samples underflow)."""
    dt = _float_dtype("loggamma", dtype)
    parts = _parts(key, "loggamma")
    shape = _param_shape("loggamma", shape, a)
    return _gamma(parts, a, shape, dt, True)


@compiled("shape", "dtype")
def beta(key, a, b, shape: Sequence[int] | None = None, dtype=None):
    """Beta(a, b) samples as a ratio of gamma samples (computed in log space)."""
    dt = _float_dtype("beta", dtype)
    parts = _parts(key, "beta")
    shape = _param_shape("beta", shape, a, b)
    ka, kb = prng.split_parts(parts, 2)
    log_a = _gamma(ka, a, shape, dt, True)
    log_b = _gamma(kb, b, shape, dt, True)
    log_max = ew.max(log_a, log_b)
    ga, gb = ew.exp(ew.sub(log_a, log_max)), ew.exp(ew.sub(log_b, log_max))
    return ew.div(ga, ew.add(ga, gb))


@compiled("shape", "dtype")
def dirichlet(key, alpha, shape: Sequence[int] | None = None, dtype=None):
    """Dirichlet(alpha) samples (the last axis of alpha), normalized gamma samples."""
    dt = _float_dtype("dirichlet", dtype)
    parts = _parts(key, "dirichlet")
    ashape = _aval(alpha).shape
    if len(ashape) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == {len(ashape)}")
    shape = ashape[:-1] if shape is None else canonicalize_shape(shape)
    _check_shape("dirichlet", shape, ashape[:-1])
    log_g = _gamma(parts, alpha, shape + ashape[-1:], dt, True)
    from plax._src.nn import softmax
    return softmax(log_g, -1)


@compiled("shape", "dtype")
def chisquare(key, df, shape: Sequence[int] | None = None, dtype=None):
    """Chi-squared samples with df degrees of freedom: 2 Gamma(df / 2)."""
    dt = _float_dtype("chisquare", dtype)
    return _chisquare(_parts(key, "chisquare"), df, _shape_or(shape, df), dt)


def _chisquare(parts, df, shape, dt):
    _check_shape("chisquare", shape, _aval(df).shape)
    half = ew.div(_value(df, dt), np.asarray(2, dt))
    return ew.mul(ew.exp(_gamma(parts, half, shape, dt, True)), np.asarray(2, dt))


@compiled("shape", "dtype")
def f(key, dfnum, dfden, shape: Sequence[int] | None = None, dtype=None):
    """F-distribution samples: (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
    dt = _float_dtype("f", dtype)
    parts = _parts(key, "f")
    shape = _shape_or(shape, dfnum, dfden)
    k_den, k_num = prng.split_parts(parts, 2)
    num = ew.div(_chisquare(k_num, dfnum, shape, dt), _value(dfnum, dt))
    den = ew.div(_chisquare(k_den, dfden, shape, dt), _value(dfden, dt))
    return ew.div(num, den)


@compiled("shape", "dtype")
def t(key, df, shape: Sequence[int] | None = None, dtype=None):
    """Student's t samples: normal / sqrt(Gamma(df/2) / (df/2))."""
    dt = _float_dtype("t", dtype)
    parts = _parts(key, "t")
    shape = _param_shape("t", shape, df)
    kn, kg = prng.split_parts(parts, 2)
    n = _normal_real(kn, shape, dt)
    half = ew.div(_value(df, dt), np.asarray(2, dt))
    g = _gamma(kg, half, shape, dt, False)
    return n * pnp.sqrt(half / g)


@compiled("shape", "dtype")
def generalized_normal(key, p, shape: Sequence[int] = (), dtype=None):
    """Samples with density ~ exp(-|x|**p): a random sign times Gamma(1/p)**(1/p)."""
    dt = _float_dtype("generalized_normal", dtype)
    shape = canonicalize_shape(shape)
    return _generalized_normal(_parts(key, "generalized_normal"), p, shape, dt)


def _generalized_normal(parts, p, shape, dt):
    k0, k1 = prng.split_parts(parts, 2)
    p = _value(p, dt)
    g = _gamma(k0, ew.div(np.asarray(1, dt), p), shape, dt, False)
    r = _rademacher(k1, shape, dt)
    return r * g ** (1 / p)


@compiled("d", "shape", "dtype")
def ball(key, d: int, p: float = 2, shape: Sequence[int] = (), dtype=None):
    """Points uniform in the d-dimensional unit p-norm ball."""
    dt = _float_dtype("ball", dtype)
    d = int(d)
    if d < 1:
        raise ValueError(f"ball: the dimension d must be a positive integer, got {d}")
    shape = canonicalize_shape(shape)
    k1, k2 = prng.split_parts(_parts(key, "ball"), 2)
    g = _generalized_normal(k1, p, shape + (d,), dt)
    e = ew.neg(ew.log1p(ew.neg(_uniform(k2, 0., 1., shape, dt))))
    return g / (((pnp.abs(g) ** p).sum(-1) + e) ** (1 / p))[..., None]


# ---------------------------------------------------------------------------------------------
# Location-scale and transformed families


@compiled("shape", "dtype")
def cauchy(key, shape: Sequence[int] = (), dtype=None):
    dt = _float_dtype("cauchy", dtype)
    shape = canonicalize_shape(shape)
    u = _uniform(_parts(key, "cauchy"), float(dtypes.finfo(dt).eps), 1., shape, dt)
    return ew.tan(ew.mul(np.asarray(np.pi, dt), ew.sub(u, np.asarray(0.5, dt))))


@compiled("shape", "dtype")
def laplace(key, shape: Sequence[int] = (), dtype=None):
    dt = _float_dtype("laplace", dtype)
    shape = canonicalize_shape(shape)
    lo = -1. + float(dtypes.finfo(dt).epsneg)
    u = _uniform(_parts(key, "laplace"), lo, 1., shape, dt)
    return ew.mul(ew.sign(u), ew.log1p(ew.neg(ew.abs(u))))


@compiled("shape", "dtype")
def logistic(key, shape: Sequence[int] = (), dtype=None):
    dt = _float_dtype("logistic", dtype)
    shape = canonicalize_shape(shape)
    x = _uniform(_parts(key, "logistic"), float(dtypes.finfo(dt).tiny), 1., shape, dt)
    return ew.sub(ew.log(x), ew.log1p(ew.neg(x)))


@compiled("shape", "dtype")
def lognormal(key, sigma=np.float32(1.0), shape: Sequence[int] | None = None, dtype=None):
    dt = _float_dtype("lognormal", dtype)
    shape = _param_shape("lognormal", shape, sigma)
    n = _normal_real(_parts(key, "lognormal"), shape, dt)
    return ew.exp(ew.mul(n, _broadcast_to(_value(sigma, dt), shape)))


def _exponential(parts, shape, dt):
    u = _uniform(parts, 0., 1., shape, dt)
    return ew.neg(ew.log1p(ew.neg(u)))


@compiled("shape", "dtype")
def pareto(key, b, shape: Sequence[int] | None = None, dtype=None):
    dt = _float_dtype("pareto", dtype)
    shape = _param_shape("pareto", shape, b)
    e = _exponential(_parts(key, "pareto"), shape, dt)
    return ew.exp(ew.div(e, _broadcast_to(_value(b, dt), shape)))


@compiled("shape", "dtype")
def weibull_min(key, scale, concentration, shape: Sequence[int] = (), dtype=None):
    dt = _float_dtype("weibull_min", dtype)
    shape = canonicalize_shape(shape)
    u = _uniform(_parts(key, "weibull_min"), 0., 1., shape, dt)
    return pnp.power(-pnp.log1p(-u), 1.0 / _value(concentration, dt)) * _value(scale, dt)


@compiled("shape", "dtype")
def rayleigh(key, scale, shape: Sequence[int] | None = None, dtype=None):
    dt = _float_dtype("rayleigh", dtype)
    shape = _param_shape("rayleigh", shape, scale)
    u = _uniform(_parts(key, "rayleigh"), 0., 1., shape, dt)
    scale = _broadcast_to(_value(scale, dt), shape)
    return ew.mul(scale, ew.sqrt(ew.mul(ew.log(u), np.asarray(-2, dt))))


@compiled("shape", "dtype")
def wald(key, mean, shape: Sequence[int] | None = None, dtype=None):
    """Inverse Gaussian samples with the given mean (and shape parameter 1)."""
    dt = _float_dtype("wald", dtype)
    shape = _param_shape("wald", shape, mean)
    k1, k2 = prng.split_parts(_parts(key, "wald"), 2)
    mean = pnp.broadcast_to(_value(mean, dt), shape)
    v = _normal_real(k1, shape, dt)
    z = _uniform(k2, 0., 1., shape, dt)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    sqrt_term = pnp.sqrt(4 * mean * y + mean_sq * y_sq)
    x = mean + mean_sq * y / 2 - mean / 2 * sqrt_term
    return ew.select(ew.le(z, mean / (mean + x)), x, mean_sq / x)


@compiled("shape", "dtype")
def triangular(key, left, mode, right, shape: Sequence[int] | None = None, dtype=None):
    dt = _float_dtype("triangular", dtype)
    shape = _param_shape("triangular", shape, left, mode, right)
    left, mode, right = (pnp.broadcast_to(_value(v, dt), shape) for v in (left, mode, right))
    fc = (mode - left) / (right - left)
    u = _uniform(_parts(key, "triangular"), 0., 1., shape, dt)
    out1 = left + pnp.sqrt(u * (right - left) * (mode - left))
    out2 = right - pnp.sqrt((1 - u) * (right - left) * (right - mode))
    return ew.select(ew.lt(u, fc), out1, out2)


def _rademacher(parts, shape, dt):
    b = ew.lt(_uniform(parts, 0., 1., shape, dtypes.default_float_dtype()),
              np.asarray(0.5, dtypes.default_float_dtype()))
    b = ew.convert_element_type(b, dt)
    return ew.sub(ew.mul(np.asarray(2, dt), b), np.asarray(1, dt))


@compiled("shape", "dtype")
def rademacher(key, shape: Sequence[int] = (), dtype=None):
    """Random signs: -1 or 1 with equal probability."""
    dt = _int_dtype("rademacher", dtype)
    return _rademacher(_parts(key, "rademacher"), canonicalize_shape(shape), dt)


@compiled("shape", "dtype")
def maxwell(key, shape: Sequence[int] = (), dtype=None):
    """Maxwell samples: the norm of a 3-d standard normal vector."""
    dt = _float_dtype("maxwell", dtype)
    shape = canonicalize_shape(shape)
    return _maxwell(_parts(key, "maxwell"), shape, dt)


def _maxwell(parts, shape, dt):
    n = _normal_real(parts, shape + (3,), dt)
    return ew.sqrt(lax.reduce_sum(ew.mul(n, n), (len(shape),)))


@compiled("shape", "dtype")
def double_sided_maxwell(key, loc, scale, shape: Sequence[int] = (), dtype=None):
    dt = _float_dtype("double_sided_maxwell", dtype)
    pshape = tuple(np.broadcast_shapes(_aval(loc).shape, _aval(scale).shape))
    shape = canonicalize_shape(shape)
    shape = (shape if shape else pshape) + pshape
    km, kr = prng.split_parts(_parts(key, "double_sided_maxwell"), 2)
    m = _maxwell(km, shape, dt)
    sign = _rademacher(kr, shape, dt)
    return sign * m * _value(scale, dt) + _value(loc, dt)


# ---------------------------------------------------------------------------------------------
# Discrete distributions


@compiled("shape", "dtype")
def geometric(key, p, shape: Sequence[int] | None = None, dtype=None):
    """Trials up to the first success: floor(log(u) / log(1 - p)) + 1."""
    dt = _int_dtype("geometric", dtype)
    shape = _param_shape("geometric", shape, p)
    p = _value(p)
    if not dtypes.is_inexact(get_aval(p).dtype):
        p = _value(p, dtypes.default_float_dtype())
    pdt = get_aval(p).dtype
    u = _uniform(_parts(key, "geometric"), 0., 1., shape, pdt)
    u = pnp.where(u == 0, np.asarray(1, pdt), u)
    g = ew.floor(ew.div(ew.log(u), _broadcast_to(ew.log1p(ew.neg(p)), shape))) + 1
    return ew.convert_element_type(g, dt)


def _poisson_knuth(parts, lam, shape, dt, max_iters):
    def body(carry):
        i, k, key, log_prod = carry
        key, sub = prng.split_parts(key, 2)
        k = ew.select(ew.gt(log_prod, ew.neg(lam)), k + 1, k)
        u = _uniform(sub, 0., 1., shape, dtypes.float32)
        return i + 1, k, key, log_prod + ew.log(u)

    def cond(carry):
        i, log_prod = carry[0], carry[3]
        return ew.bitwise_and(pnp.any(ew.gt(log_prod, ew.neg(lam))), i < max_iters)

    init = (np.asarray(0, dt), lax.full(shape, 0, dt), parts, lax.full(shape, 0, dtypes.float32))
    k = lax.while_loop(cond, body, init)[1]
    return ew.convert_element_type(k - 1, dt)


def _poisson_rejection(parts, lam, shape, dt, max_iters):
    log_lam = ew.log(lam)
    b = 0.931 + 2.53 * ew.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)

    def body(carry):
        i, k_out, accepted, key = carry
        key, s0, s1 = prng.split_parts(key, 3)
        u = _uniform(s0, 0., 1., shape, dtypes.float32) - 0.5
        v = _uniform(s1, 0., 1., shape, dtypes.float32)
        u_shifted = 0.5 - abs(u)
        k = ew.floor((2 * a / u_shifted + b) * u + lam + 0.43)
        s = ew.log(v * inv_alpha / (a / (u_shifted * u_shifted) + b))
        tt = -lam + k * log_lam - ew.lgamma(k + 1)
        accept1 = (u_shifted >= 0.07) & (v <= v_r)
        reject = (k < 0) | ((u_shifted < 0.013) & (v > u_shifted))
        accept = accept1 | (~reject & (s <= tt))
        return i + 1, ew.select(accept, k, k_out), accepted | accept, key

    def cond(carry):
        return ew.bitwise_and(pnp.any(~carry[2]), carry[0] < max_iters)

    init = (np.asarray(0, dt), lax.full(shape, -1, dtypes.float32),
            lax.full(shape, False, dtypes.bool_), parts)
    k = lax.while_loop(cond, body, init)[1]
    return ew.convert_element_type(k, dt)


@compiled("shape", "dtype")
def poisson(key, lam, shape: Sequence[int] | None = None, dtype=None):
    """Poisson(lam) samples: Knuth's product of uniforms for lam < 10, the transformed
    rejection method (Hormann 1993) above."""
    dt = _int_dtype("poisson", dtype)
    parts = _parts(key, "poisson")
    if isinstance(parts, prng.RbgParts):  # as JAX
        raise NotImplementedError("`poisson` is only implemented for the threefry2x32 RNG, "
                                  f"not {parts.impl}")
    shape = _shape_or(shape, lam)
    lam = ew.convert_element_type(pnp.broadcast_to(lam, shape), dtypes.float32)
    use_knuth = ew.bitwise_or(ew.ne(lam, lam), ew.lt(lam, np.float32(10)))
    lam_knuth = ew.select(use_knuth, lam, lax.full_like(lam, 0.0))
    lam_rej = ew.select(use_knuth, lax.full_like(lam, 1e5), lam)
    max_iters = np.asarray(np.iinfo(dt).max, dt)
    out = ew.select(use_knuth, _poisson_knuth(parts, lam_knuth, shape, dt, max_iters),
                    _poisson_rejection(parts, lam_rej, shape, dt, max_iters))
    return ew.select(ew.eq(lam, np.float32(0)), lax.full_like(out, 0), out)


_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_approx_tail(k):
    dt = get_aval(k).dtype
    table = pnp.asarray(np.array(_STIRLING_TAIL, dt))
    use_table = k <= 9
    k = ew.clamp(np.asarray(0, dt), k, np.asarray(9, dt))
    kp1sq = (k + 1) * (k + 1)
    approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)
    idx = ew.convert_element_type(pnp.floor(k), dtypes.int32)
    return ew.select(use_table, table[idx], approx)


def _binomial_inversion(parts, count, prob, shape, dt, max_iters):
    log1mp = pnp.log1p(-prob)

    def body(carry):
        i, num_geom, geom_sum, key = carry
        sub, key = prng.split_parts(key, 2)
        num_geom = ew.select(geom_sum <= count, num_geom + 1, num_geom)
        u = _uniform(sub, 0., 1., shape, get_aval(prob).dtype)
        geom = pnp.ceil(pnp.log(u) / log1mp)
        return i + 1, num_geom, geom_sum + geom, key

    def cond(carry):
        return ew.bitwise_and(pnp.any(carry[2] <= count), carry[0] < max_iters)

    pdt = get_aval(prob).dtype
    init = (np.asarray(0, dt), lax.full(shape, 0, pdt), lax.full(shape, 0, pdt), parts)
    k = lax.while_loop(cond, body, init)[1]
    return ew.convert_element_type(k - 1, dt)


def _btrs(parts, count, prob, shape, dt, max_iters):
    """Hormann's transformed rejection with squeeze for binomials with count * p > 10."""
    stddev = pnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = pnp.floor((count + 1) * prob)
    pdt = get_aval(prob).dtype

    def body(carry):
        i, k_out, accepted, key = carry
        key, s0, s1 = prng.split_parts(key, 3)
        u = _uniform(s0, 0., 1., shape, pdt)
        v = _uniform(s1, 0., 1., shape, pdt)
        u = u - 0.5
        us = 0.5 - pnp.abs(u)
        accept1 = (us >= 0.07) & (v <= v_r)
        k = pnp.floor((2 * a / us + b) * u + c)
        reject = (k < 0) | (k > count)
        v = pnp.log(v * alpha / (a / (us * us) + b))
        ub = ((m + 0.5) * pnp.log((m + 1) / (r * (count - m + 1)))
              + (count + 1) * pnp.log((count - m + 1) / (count - k + 1))
              + (k + 0.5) * pnp.log(r * (count - k + 1) / (k + 1))
              + _stirling_approx_tail(m) + _stirling_approx_tail(count - m)
              - _stirling_approx_tail(k) - _stirling_approx_tail(count - k))
        accept = accept1 | (~reject & (v <= ub))
        return i + 1, ew.select(accept, k, k_out), accepted | accept, key

    def cond(carry):
        return ew.bitwise_and(pnp.any(~carry[2]), carry[0] < max_iters)

    init = (np.asarray(0, dt), lax.full(shape, -1, pdt), lax.full(shape, False, dtypes.bool_),
            parts)
    return ew.convert_element_type(lax.while_loop(cond, body, init)[1], dt)


def _binomial(parts, count, prob, shape, dt):
    prob = pnp.asarray(prob)
    if not dtypes.is_inexact(prob.dtype):
        prob = prob.astype(dtypes.default_float_dtype())
    count = pnp.broadcast_to(ew.convert_element_type(pnp.asarray(count), prob.dtype), shape)
    prob = pnp.broadcast_to(prob, shape)
    p_lt_half = prob < 0.5
    q = ew.select(p_lt_half, prob, 1.0 - prob)
    count_bad = pnp.isnan(count) | (count < 0.0)
    count_inf = pnp.isinf(count)
    q_nan = pnp.isnan(q)
    q_neg = q < 0.0
    q = ew.select(q_nan | q_neg, lax.full_like(q, 0.01), q)
    use_inversion = count_bad | (count * q <= 10.0)
    count = pnp.floor(count)
    count_inv = ew.select(use_inversion, count, lax.full_like(count, 0.0))
    count_btrs = ew.select(use_inversion, lax.full_like(count, 1e4), count)
    q_btrs = ew.select(use_inversion, lax.full_like(q, 0.5), q)
    max_iters = np.asarray(dtypes.finfo(dt).max, dt)
    samples = ew.select(use_inversion,
                        _binomial_inversion(parts, count_inv, q, shape, dt, max_iters),
                        _btrs(parts, count_btrs, q_btrs, shape, dt, max_iters))
    invalid = q_neg | q_nan | count_bad
    samples = ew.select(invalid, lax.full_like(samples, np.nan), samples)
    samples = ew.select(count_inf & ~invalid, lax.full_like(samples, np.inf), samples)
    return ew.select(p_lt_half | count_bad | q_nan | count_inf, samples,
                     ew.convert_element_type(count, dt) - samples)


@compiled("shape", "dtype")
def binomial(key, n, p, shape: Sequence[int] | None = None, dtype=None):
    """Binomial(n, p) samples as floats: inversion for n p <= 10, BTRS above."""
    dt = _float_dtype("binomial", dtype)
    parts = _parts(key, "binomial")
    shape = _param_shape("binomial", shape, n, p)
    return _binomial(parts, n, p, shape, dt)


@compiled("shape", "dtype", "unroll")
def multinomial(key, n, p, *, shape: Sequence[int] | None = None, dtype=None,
                unroll: int | bool = 1):
    """Multinomial counts (outcomes on p's last axis), as successive binomials."""
    dt = _float_dtype("multinomial", dtype)
    parts = _parts(key, "multinomial")
    n, p = pnp.asarray(n), pnp.asarray(p)
    fdt = pnp.result_type(n, p, float)
    n, p = n.astype(fdt), p.astype(fdt)
    shape = p.shape if shape is None else canonicalize_shape(shape)
    n = pnp.broadcast_to(n, shape[:-1])
    p = pnp.moveaxis(pnp.broadcast_to(p, shape), -1, 0)
    remaining = pnp.flip(pnp.cumsum(pnp.flip(p, 0), 0), 0)
    ratios = p / pnp.where(remaining == 0, np.asarray(1, fdt), remaining)
    if isinstance(parts, prng.RbgParts):
        keys = (prng.rbg_split(parts.data, (ratios.shape[0],), parts.impl),)
    else:
        keys = prng.split_words(parts, (ratios.shape[0],))

    def step(remainder, xs):
        ratio, *key = xs
        key = prng.RbgParts(key[0], parts.impl) if len(key) == 1 else tuple(key)
        count = _binomial(key, remainder, pnp.clip(ratio, 0, 1), get_aval(remainder).shape,
                          fdt)
        return remainder - count, count

    _, counts = lax.scan(step, n, (ratios, *keys), unroll=unroll)
    return pnp.moveaxis(counts, 0, -1).astype(dt)


# ---------------------------------------------------------------------------------------------
# Multivariate (need plax.numpy.linalg's factorizations)


@compiled("shape", "dtype", "method")
def multivariate_normal(key, mean, cov, shape: Sequence[int] | None = None, dtype=None,
                        method: str = "cholesky"):
    """N(mean, cov) samples: mean + factor @ z with cov = factor factor^T (method cholesky,
    eigh or svd)."""
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dt = _float_dtype("multivariate_normal", dtype)
    parts = _parts(key, "multivariate_normal")
    mean, cov = pnp.asarray(mean, dtype=dt), pnp.asarray(cov, dtype=dt)
    if mean.ndim < 1:
        raise ValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == "
                         f"{mean.ndim}")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == "
                         f"{cov.ndim}")
    nd = mean.shape[-1]
    if cov.shape[-2:] != (nd, nd):
        raise ValueError(f"multivariate_normal requires cov.shape == (..., n, n) for n={nd}, "
                         f"but got cov.shape == {cov.shape}.")
    shape = _shape_or(shape, mean[..., 0], cov[..., 0, 0])
    _check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
    from plax.numpy import linalg
    if method == "svd":
        u, s, _ = linalg.svd(cov)
        factor = u * pnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = linalg.eigh(cov)
        factor = v * pnp.sqrt(w[..., None, :])
    else:
        factor = linalg.cholesky(cov)
    z = _normal_real(parts, shape + (nd,), dt)
    return mean + pnp.einsum("...ij,...j->...i", factor, z)


@compiled("n", "shape", "dtype", "m")
def orthogonal(key, n: int, shape: Sequence[int] = (), dtype=None, m: int | None = None):
    """Haar-random orthogonal (unitary for complex dtypes) n x m matrices, from the QR
    factorization of a normal matrix with R's diagonal signs folded into Q."""
    dt = _float_dtype("orthogonal", dtype, dtypes.is_inexact, "a float or complex")
    n = int(n)
    m = n if m is None else int(m)
    shape = canonicalize_shape(shape)
    from plax._src.random import normal
    from plax.numpy import linalg
    z = normal(prng.check_key("orthogonal", key), (*shape, max(n, m), min(n, m)), dt)
    q, r = linalg.qr(z)
    d = pnp.diagonal(r, axis1=-2, axis2=-1)
    x = q * pnp.expand_dims(pnp.sign(d), -2)
    return pnp.swapaxes(x, -1, -2) if n < m else x


def clone(key):
    """A copy of `key` that the key-reuse checker (`debug_key_reuse`) sees as a fresh key:
    JAX's way to use a key twice deliberately (the numbers are the same)."""
    prng.check_key("clone", key, allow_batched=True)
    from plax._src.prng_keys import PRNGKeyArray
    return PRNGKeyArray(key._data, key.impl) if isinstance(key, PRNGKeyArray) else key


__all__ = ["ball", "beta", "binomial", "cauchy", "chisquare", "clone", "dirichlet",
           "double_sided_maxwell", "f", "gamma", "generalized_normal", "geometric", "laplace",
           "loggamma", "logistic", "lognormal", "maxwell", "multinomial",
           "multivariate_normal", "orthogonal", "pareto", "poisson", "rademacher", "rayleigh",
           "t", "triangular", "wald", "weibull_min"]
