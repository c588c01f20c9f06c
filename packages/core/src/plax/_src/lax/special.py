"""Special-function primitives (as jax.lax's): the regularized incomplete gamma functions and
their derivatives, polygamma, Hurwitz zeta, the regularized incomplete beta function and the
exponentially scaled Bessel functions I0e, I1e. All take floating operands of one dtype and
broadcast like the other elementwise primitives. Backends without a native kernel lower them as
compositions of lax operations (plax_xla.special_algorithms: what JAX does in
jax/_src/lax/special.py)."""

from __future__ import annotations

from plax._src.lax.elementwise import _float, naryop, unop

__all__ = ["igamma", "igammac", "igamma_grad_a", "random_gamma_grad", "polygamma", "zeta",
           "betainc", "bessel_i0e", "bessel_i1e",
           "igamma_p", "igammac_p", "igamma_grad_a_p", "random_gamma_grad_p", "polygamma_p",
           "zeta_p", "regularized_incomplete_beta_p", "bessel_i0e_p", "bessel_i1e_p"]

igamma_p = naryop("igamma", _float)
igammac_p = naryop("igammac", _float)
igamma_grad_a_p = naryop("igamma_grad_a", _float)
random_gamma_grad_p = naryop("random_gamma_grad", _float)
polygamma_p = naryop("polygamma", _float)
zeta_p = naryop("zeta", _float)
regularized_incomplete_beta_p = naryop("regularized_incomplete_beta", _float)
bessel_i0e_p = unop("bessel_i0e", _float)
bessel_i1e_p = unop("bessel_i1e", _float)


def igamma(a, x):
    """Regularized lower incomplete gamma function P(a, x)."""
    return igamma_p.bind(a, x)


def igammac(a, x):
    """Regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return igammac_p.bind(a, x)


def igamma_grad_a(a, x):
    """dP(a, x)/da."""
    return igamma_grad_a_p.bind(a, x)


def random_gamma_grad(a, x):
    """d x / d a for a sample x of Gamma(a, 1) held at fixed quantile P(a, x) (implicit
    reparameterisation): -(dP/da) / (dP/dx)."""
    return random_gamma_grad_p.bind(a, x)


def polygamma(m, x):
    """The m-th derivative of digamma at x (m a non-negative integer valued float)."""
    return polygamma_p.bind(m, x)


def zeta(x, q):
    """Hurwitz zeta function sum_k (k + q)**-x."""
    return zeta_p.bind(x, q)


def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b)."""
    return regularized_incomplete_beta_p.bind(a, b, x)


def bessel_i0e(x):
    """exp(-|x|) * I0(x)."""
    return bessel_i0e_p.bind(x)


def bessel_i1e(x):
    """exp(-|x|) * I1(x)."""
    return bessel_i1e_p.bind(x)
