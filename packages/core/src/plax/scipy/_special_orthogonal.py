"""Bessel functions of the first kind of integer order (Zhang and Jin's backward recurrence,
normalised by the sum rule J_0 + 2 J_2 + 2 J_4 + ... = 1) and spherical harmonics (the
orthonormalised associated Legendre functions by their three-term recurrences), as
jax.scipy.special's bessel_jn and sph_harm_y."""

from __future__ import annotations

import math
import operator

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.numpy.util import promote_args_inexact
from plax.scipy._special_util import c


def bessel_jn(z, *, v: int, n_iter: int = 50):
    """J_0(z) .. J_v(z) for real z, stacked on a new leading axis (shape (v + 1, *z.shape)):
    Miller's backward recurrence J_{k-1} = 2k/z J_k - J_{k+1} from k = n_iter down, then
    normalised. n_iter should exceed |z| by a margin (50 suits |z| up to about 25)."""
    z, = promote_args_inexact("bessel_jn", z)
    if dtypes.is_complex(z.dtype):
        raise ValueError("bessel_jn: complex input not supported")
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError(f"bessel_jn: the order v must be a static integer, got {v!r}") from None
    n_iter = int(n_iter)
    if v < 0 or n_iter < 0:
        raise ValueError(f"bessel_jn: v and n_iter must be non-negative, got v={v}, "
                         f"n_iter={n_iter}")
    def step(k, f0, f1, total):
        """One step down from order k + 1 to k (k a traced or a Python number)."""
        f = 2 * (k + 1) * f1 / z - f0
        total = pnp.where(pnp.fmod(k, c(z, 2)) == 0, total + 2 * f, total)
        return f1, f, total

    def body(i, carry):  # k = n_iter - i, down to v + 1: only the sum rule needs them
        return step(lax.convert_element_type(n_iter - i, z.dtype), *carry)

    top = max(n_iter - v, 0)
    carry = (pnp.zeros_like(z), pnp.full_like(z, 1e-16), pnp.zeros_like(z))
    f0, f1, total = lax.fori_loop(0, top, body, carry)
    values = []
    for k in range(min(v, n_iter), -1, -1):
        f0, f1, total = step(c(z, k), f0, f1, total)
        values.append(f1)
    scale = total - values[-1]
    return pnp.stack(values[::-1]) / scale


def sph_harm_y(n, m, theta, phi, diff_n: int | None = None, n_max: int | None = None):
    """The orthonormal spherical harmonic Y_n^m(theta, phi) of degree n >= 0 and order |m| <= n
    (0 where |m| > n) at colatitude theta and longitude phi, complex. n and m are clipped to
    [0, n_max]; n_max (static) defaults to max(n), which needs a concrete n."""
    if diff_n is not None:
        raise NotImplementedError("sph_harm_y: the diff_n argument is not supported")
    if n_max is None:
        try:
            n_max = int(np.max(np.asarray(n)))
        except Exception:
            raise TypeError("sph_harm_y: n_max must be given (a static integer) when n is "
                            "traced, as under jit or vmap") from None
    n_max = operator.index(n_max)
    theta = pnp.asarray(theta)
    if theta.ndim == 0:
        theta = theta[None]
    n, m = pnp.asarray(n), pnp.asarray(m)
    x = pnp.cos(theta)
    if not dtypes.is_float(x.dtype):
        x = x.astype(dtypes.default_float_dtype())
    am = pnp.abs(m)
    angle = am * phi
    x, am, n, angle = pnp.broadcast_arrays(x, am, n, angle)
    am_f = pnp.clip(am, 0, n_max).astype(x.dtype)
    n_f = pnp.clip(n, 0, n_max).astype(x.dtype)
    leg = _normalized_legendre(n_max, am_f, n_f, x)
    ft = dtypes.result_type(leg.dtype, angle.dtype)
    leg, angle = leg.astype(ft), angle.astype(ft)
    out = lax.complex(leg * pnp.cos(angle), leg * pnp.sin(angle))
    sign = pnp.where(pnp.fmod(am_f, c(am_f, 2)) == 1, c(leg, -1), c(leg, 1))
    flipped = lax.complex(sign * lax.real(out), -sign * lax.imag(out))
    return pnp.where(pnp.broadcast_to(m, out.shape) < 0, flipped, out)


def _normalized_legendre(n_max: int, am, n, x):
    """P_n^am(x) orthonormalised (times 1/sqrt(2 pi), so that with exp(i m phi) the harmonics
    are orthonormal), elementwise: the diagonal P_am^am by its product, P_{am+1}^am, then
    the upward recurrence in the degree."""
    st = pnp.sqrt(1 - x * x)
    pmm = pnp.full_like(x, 0.5 / math.sqrt(math.pi))
    for k in range(1, n_max + 1):
        pmm = pnp.where(k <= am, pmm * c(x, -math.sqrt(1 + 0.5 / k)) * st, pmm)
    zero = pnp.zeros_like(x)
    prev2 = prev1 = out = zero
    for deg in range(n_max + 1):
        d2, m2 = deg * deg, am * am
        rec_ok = deg >= am + 2  # the coefficients elsewhere are stand-ins (no nan gradients)
        safe = pnp.where(rec_ok, d2 - m2, pnp.ones_like(x))
        d0 = pnp.sqrt(pnp.where(rec_ok, 4 * d2 - 1, safe) / safe)
        d1 = pnp.sqrt(pnp.where(rec_ok, (2 * deg + 1) * ((deg - 1) ** 2 - m2), safe)
                      / (abs(2 * deg - 3) * safe))
        rec = d0 * x * prev1 - d1 * prev2
        cur = pnp.where(deg < am, zero, pnp.where(
            deg == am, pmm, pnp.where(deg == am + 1, pnp.sqrt(2 * am + 3) * x * pmm, rec)))
        out = pnp.where(deg == n, cur, out)
        prev2, prev1 = prev1, cur
    return out
