"""plax.scipy.optimize (as jax.scipy.optimize): `minimize` of a scalar function of a 1-D
array by BFGS (Nocedal and Wright's algorithm 6.1) or, experimentally, L-BFGS (their
algorithm 7.5, with Sorber et al.'s extension to complex variables), both with the strong-Wolfe
line search of their algorithm 3.5 and its zoom (3.6: cubic, quadratic or bisection steps).
The steps, counters and status codes follow JAX's jax.scipy.optimize step for step; gradients
come from plax.value_and_grad, the loops are lax.while_loops, so minimize runs under jit and
vmap."""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

import plax
import plax.numpy as pnp
from plax import lax
from plax._src.numpy.util import promote_dtypes_inexact

__all__ = ["OptimizeResults", "minimize"]

_HI = lax.Precision.HIGHEST
_dot = functools.partial(pnp.dot, precision=_HI)


class OptimizeResults(NamedTuple):
    """The result of `minimize` (as jax.scipy.optimize.OptimizeResults).

    x: the final point; success: whether it converged (and no line search failed); status: 0
    converged, 1 maximum iterations reached, 3 zoom failed, 4 saddle point reached, 5 maximum
    line-search iterations reached, -1 undefined (L-BFGS: 0 nominal, 1 maxiter, 2 maxfun,
    3 maxgrad, 4 insufficient progress, 5 line search failed); fun, jac: the function's value
    and gradient at x; hess_inv: BFGS's estimate of the inverse Hessian (None for L-BFGS);
    nfev, njev: function and gradient evaluations; nit: iterations."""
    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


# -- line search ----------------------------------------------------------------------------

def _cubicmin(a, fa, fpa, b, fb, c, fc):
    """The minimizer of the cubic through (a, fa) with slope fpa, (b, fb) and (c, fc)."""
    dtype = pnp.result_type(a, fa, fpa, b, fb, c, fc)
    C = fpa
    db = b - a
    dc = c - a
    denom = (db * dc) ** 2 * (db - dc)
    d1 = pnp.array([[dc ** 2, -db ** 2], [-dc ** 3, db ** 3]], dtype=dtype)
    d2 = pnp.array([fb - fa - C * db, fc - fa - C * dc], dtype=dtype)
    A, B = _dot(d1, d2) / denom
    radical = B * B - 3.0 * A * C
    return a + (-B + pnp.sqrt(radical)) / (3.0 * A)


def _quadmin(a, fa, fpa, b, fb):
    """The minimizer of the parabola through (a, fa) with slope fpa and (b, fb)."""
    db = b - a
    B = (fb - fa - fpa * db) / (db ** 2)
    return a - fpa / (2.0 * B)


def _replace_where(pred, state, new: dict):
    """state (a NamedTuple) with the fields in `new` taken from it where pred holds."""
    return state._replace(**{k: pnp.where(pred, v, getattr(state, k)) for k, v in new.items()})


class _ZoomState(NamedTuple):
    done: Any
    failed: Any
    j: Any
    a_lo: Any
    phi_lo: Any
    dphi_lo: Any
    a_hi: Any
    phi_hi: Any
    dphi_hi: Any
    a_rec: Any
    phi_rec: Any
    a_star: Any
    phi_star: Any
    dphi_star: Any
    g_star: Any
    nfev: Any
    ngev: Any


def _zoom(restricted, wolfe_one, wolfe_two, a_lo, phi_lo, dphi_lo, a_hi, phi_hi, dphi_hi, g_0,
          pass_through):
    """Shrink [a_lo, a_hi] to a step meeting the strong Wolfe conditions (algorithm 3.6),
    trying a cubic step, then a quadratic one, then bisection; skipped when pass_through."""
    state = _ZoomState(
        done=False, failed=False, j=0, a_lo=a_lo, phi_lo=phi_lo, dphi_lo=dphi_lo, a_hi=a_hi,
        phi_hi=phi_hi, dphi_hi=dphi_hi, a_rec=(a_lo + a_hi) / 2.0,
        phi_rec=(phi_lo + phi_hi) / 2.0, a_star=1.0, phi_star=phi_lo, dphi_star=dphi_lo,
        g_star=g_0, nfev=0, ngev=0)
    delta1, delta2 = 0.2, 0.1

    def body(state):
        dalpha = state.a_hi - state.a_lo
        a = pnp.minimum(state.a_hi, state.a_lo)
        b = pnp.maximum(state.a_hi, state.a_lo)
        cchk, qchk = delta1 * dalpha, delta2 * dalpha
        # an interval this small ends the search unsatisfied (and the minimization with it)
        threshold = 1e-5 if pnp.finfo(dalpha.dtype).bits < 64 else 1e-10
        state = state._replace(failed=state.failed | (dalpha <= threshold))

        a_cubic = _cubicmin(state.a_lo, state.phi_lo, state.dphi_lo, state.a_hi, state.phi_hi,
                            state.a_rec, state.phi_rec)  # NaN at times: the bounds reject it
        use_cubic = (state.j > 0) & (a_cubic > a + cchk) & (a_cubic < b - cchk)
        a_quad = _quadmin(state.a_lo, state.phi_lo, state.dphi_lo, state.a_hi, state.phi_hi)
        use_quad = (~use_cubic) & (a_quad > a + qchk) & (a_quad < b - qchk)
        use_bisection = (~use_cubic) & (~use_quad)
        a_j = pnp.where(use_cubic, a_cubic, state.a_rec)
        a_j = pnp.where(use_quad, a_quad, a_j)
        a_j = pnp.where(use_bisection, (state.a_lo + state.a_hi) / 2.0, a_j)

        phi_j, dphi_j, g_j = restricted(a_j)
        phi_j = phi_j.astype(state.phi_lo.dtype)
        dphi_j = dphi_j.astype(state.dphi_lo.dtype)
        g_j = g_j.astype(state.g_star.dtype)
        state = state._replace(nfev=state.nfev + 1, ngev=state.ngev + 1)

        hi_to_j = wolfe_one(a_j, phi_j) | (phi_j >= state.phi_lo)
        star_to_j = wolfe_two(dphi_j) & (~hi_to_j)
        hi_to_lo = (dphi_j * (state.a_hi - state.a_lo) >= 0.0) & (~hi_to_j) & (~star_to_j)
        lo_to_j = (~hi_to_j) & (~star_to_j)

        state = _replace_where(hi_to_j, state, dict(
            a_hi=a_j, phi_hi=phi_j, dphi_hi=dphi_j, a_rec=state.a_hi, phi_rec=state.phi_hi))
        state = _replace_where(star_to_j, state, dict(
            a_star=a_j, phi_star=phi_j, dphi_star=dphi_j, g_star=g_j))
        state = state._replace(done=star_to_j | state.done)
        state = _replace_where(hi_to_lo, state, dict(
            a_hi=state.a_lo, phi_hi=state.phi_lo, dphi_hi=state.dphi_lo, a_rec=state.a_hi,
            phi_rec=state.phi_hi))
        state = _replace_where(lo_to_j & ~hi_to_lo, state, dict(
            a_rec=state.a_lo, phi_rec=state.phi_lo))
        state = _replace_where(lo_to_j, state, dict(a_lo=a_j, phi_lo=phi_j, dphi_lo=dphi_j))
        j = state.j + 1
        # 30 zoom steps at most (more than SciPy's 10, as JAX)
        return state._replace(j=j, failed=state.failed | (j >= 30))

    return lax.while_loop(lambda s: (~s.done) & (~pass_through) & (~s.failed), body, state)


class _LineSearchState(NamedTuple):
    done: Any
    failed: Any
    i: Any
    a_i1: Any
    phi_i1: Any
    dphi_i1: Any
    nfev: Any
    ngev: Any
    a_star: Any
    phi_star: Any
    dphi_star: Any
    g_star: Any


class _LineSearchResults(NamedTuple):
    failed: Any
    nit: Any
    nfev: Any
    ngev: Any
    k: Any
    a_k: Any
    f_k: Any
    g_k: Any
    status: Any


def _line_search(f, xk, pk, old_fval=None, old_old_fval=None, gfk=None, c1=1e-4, c2=0.9,
                 maxiter=20):
    """A step along pk meeting the strong Wolfe conditions (algorithm 3.5): steps double from
    the start value until the sufficient-decrease condition fails or the slope turns, then the
    bracket is zoomed. status 0 passed, 1 zoom failed, 3 maxiter reached."""
    xk, pk = promote_dtypes_inexact(xk, pk)

    def restricted(t):
        t = pnp.array(t, dtype=pk.dtype)
        phi, g = plax.value_and_grad(f)(xk + t * pk)
        return phi, pnp.real(_dot(g, pk)), g

    if old_fval is None or gfk is None:
        phi_0, dphi_0, gfk = restricted(0)
    else:
        phi_0 = old_fval
        dphi_0 = pnp.real(_dot(gfk, pk))
    if old_old_fval is not None:
        candidate = 1.01 * 2 * (phi_0 - old_old_fval) / dphi_0
        start_value = pnp.where(candidate > 1, 1.0, candidate)
    else:
        start_value = 1

    def wolfe_one(a_i, phi_i):  # sufficient decrease fails
        return phi_i > phi_0 + c1 * a_i * dphi_0

    def wolfe_two(dphi_i):  # curvature condition holds
        return pnp.abs(dphi_i) <= -c2 * dphi_0

    evaluated = 1 if (old_fval is None or gfk is None) else 0
    state = _LineSearchState(
        done=pnp.array(False), failed=pnp.array(False), i=1, a_i1=0.0, phi_i1=phi_0,
        dphi_i1=dphi_0, nfev=evaluated, ngev=evaluated, a_star=0.0, phi_star=phi_0,
        dphi_star=dphi_0, g_star=gfk)
    stars = ("a_star", "phi_star", "dphi_star", "g_star")

    def body(state):
        # the next trial step is chosen at the top of the loop (no amax: steps double)
        a_i = pnp.where(state.i == 1, start_value, state.a_i1 * 2.0)
        phi_i, dphi_i, g_i = restricted(a_i)
        state = state._replace(nfev=state.nfev + 1, ngev=state.ngev + 1)

        star_to_zoom1 = wolfe_one(a_i, phi_i) | ((phi_i >= state.phi_i1) & (state.i > 1))
        star_to_i = wolfe_two(dphi_i) & (~star_to_zoom1)
        star_to_zoom2 = (dphi_i >= 0.0) & (~star_to_zoom1) & (~star_to_i)

        zoom1 = _zoom(restricted, wolfe_one, wolfe_two, state.a_i1, state.phi_i1,
                      state.dphi_i1, a_i, phi_i, dphi_i, gfk, ~star_to_zoom1)
        state = state._replace(nfev=state.nfev + zoom1.nfev, ngev=state.ngev + zoom1.ngev)
        zoom2 = _zoom(restricted, wolfe_one, wolfe_two, a_i, phi_i, dphi_i, state.a_i1,
                      state.phi_i1, state.dphi_i1, gfk, ~star_to_zoom2)
        state = state._replace(nfev=state.nfev + zoom2.nfev, ngev=state.ngev + zoom2.ngev)

        state = _replace_where(star_to_zoom1, state, {k: getattr(zoom1, k) for k in stars})
        state = state._replace(done=star_to_zoom1 | state.done,
                               failed=(star_to_zoom1 & zoom1.failed) | state.failed)
        state = _replace_where(star_to_i, state, dict(
            a_star=a_i, phi_star=phi_i, dphi_star=dphi_i, g_star=g_i))
        state = state._replace(done=star_to_i | state.done)
        state = _replace_where(star_to_zoom2, state, {k: getattr(zoom2, k) for k in stars})
        state = state._replace(done=star_to_zoom2 | state.done,
                               failed=(star_to_zoom2 & zoom2.failed) | state.failed)
        return state._replace(i=state.i + 1, a_i1=a_i, phi_i1=phi_i, dphi_i1=dphi_i)

    state = lax.while_loop(lambda s: (~s.done) & (s.i <= maxiter) & (~s.failed), body, state)
    status = pnp.where(state.failed, 1, pnp.where(state.i > maxiter, 3, 0))
    # a floor on the step below 64 bits: a tiny step would leave the minimizer stuck
    alpha_k = pnp.asarray(state.a_star)
    if pnp.finfo(alpha_k.dtype).bits != 64:
        alpha_k = pnp.where(pnp.abs(alpha_k) < 1e-8, pnp.sign(alpha_k) * 1e-8, alpha_k)
    return _LineSearchResults(
        failed=state.failed | (~state.done), nit=state.i - 1, nfev=state.nfev,
        ngev=state.ngev, k=state.i, a_k=alpha_k, f_k=state.phi_star, g_k=state.g_star,
        status=status)


# -- BFGS -----------------------------------------------------------------------------------

class _BFGSState(NamedTuple):
    converged: Any
    failed: Any
    k: Any
    nfev: Any
    ngev: Any
    x_k: Any
    f_k: Any
    g_k: Any
    H_k: Any
    old_old_fval: Any
    line_search_status: Any


def _minimize_bfgs(fun, x0, maxiter=None, norm=np.inf, gtol=1e-5, line_search_maxiter=10):
    """BFGS (algorithm 6.1): the inverse-Hessian estimate H updated from each step s and
    gradient change y as (I - rho s y^T) H (I - rho y s^T) + rho s s^T, rho = 1 / y.s (kept
    when rho is not finite); stops when norm(gradient, ord=norm) < gtol."""
    if maxiter is None:
        maxiter = np.size(x0) * 200
    d = x0.shape[0]
    f_0, g_0 = plax.value_and_grad(fun)(x0)
    state = _BFGSState(
        converged=pnp.linalg.norm(g_0, ord=norm) < gtol, failed=False, k=0, nfev=1, ngev=1,
        x_k=x0, f_k=f_0, g_k=g_0, H_k=pnp.eye(d, dtype=x0.dtype),
        old_old_fval=f_0 + pnp.linalg.norm(g_0) / 2, line_search_status=0)

    def cond(state):
        return pnp.logical_not(state.converged) & pnp.logical_not(state.failed) & (
            state.k < maxiter)

    def body(state):
        p_k = -_dot(state.H_k, state.g_k)
        ls = _line_search(fun, state.x_k, p_k, old_fval=state.f_k,
                          old_old_fval=state.old_old_fval, gfk=state.g_k,
                          maxiter=line_search_maxiter)
        s_k = ls.a_k * p_k
        y_k = ls.g_k - state.g_k
        rho_k = pnp.reciprocal(_dot(y_k, s_k))
        sy_k = s_k[:, None] * y_k[None, :]
        w = pnp.eye(d, dtype=rho_k.dtype) - rho_k * sy_k
        H_kp1 = (pnp.einsum("ij,jk,lk", w, state.H_k, w, precision=_HI)
                 + rho_k * s_k[:, None] * s_k[None, :])
        H_kp1 = pnp.where(pnp.isfinite(rho_k), H_kp1, state.H_k)
        return state._replace(
            converged=pnp.linalg.norm(ls.g_k, ord=norm) < gtol, failed=ls.failed,
            k=state.k + 1, nfev=state.nfev + ls.nfev, ngev=state.ngev + ls.ngev,
            x_k=state.x_k + s_k, f_k=ls.f_k, g_k=ls.g_k, H_k=H_kp1, old_old_fval=state.f_k,
            line_search_status=ls.status)

    state = lax.while_loop(cond, body, state)
    status = pnp.where(state.converged, 0,
                       pnp.where(state.k == maxiter, 1,
                                 pnp.where(state.failed, 2 + state.line_search_status, -1)))
    return OptimizeResults(
        x=state.x_k, success=state.converged & pnp.logical_not(state.failed), status=status,
        fun=state.f_k, jac=state.g_k, hess_inv=state.H_k, nfev=state.nfev, njev=state.ngev,
        nit=state.k)


# -- L-BFGS ---------------------------------------------------------------------------------

class _LBFGSState(NamedTuple):
    converged: Any
    failed: Any
    k: Any
    nfev: Any
    ngev: Any
    x_k: Any
    f_k: Any
    g_k: Any
    s_history: Any
    y_history: Any
    rho_history: Any
    gamma: Any
    status: Any
    ls_status: Any


def _two_loop_recursion(state: _LBFGSState):
    """The search direction -H g from the stored pairs (algorithm 7.4), oldest pair first
    in the history's last rows."""
    dtype = state.rho_history.dtype
    his_size = state.rho_history.shape[0]
    curr_size = pnp.where(state.k < his_size, state.k, his_size)
    q = -pnp.conj(state.g_k)
    a_his = pnp.zeros_like(state.rho_history)

    def first(j, carry):
        q, a_his = carry
        i = his_size - 1 - j
        a_i = state.rho_history[i] * _dot(pnp.conj(state.s_history[i]), q).real.astype(dtype)
        return q - a_i * pnp.conj(state.y_history[i]), a_his.at[i].set(a_i)

    q, a_his = lax.fori_loop(0, curr_size, first, (q, a_his))
    q = state.gamma * q

    def second(j, q):
        i = his_size - curr_size + j
        b_i = state.rho_history[i] * _dot(state.y_history[i], q).real.astype(dtype)
        return q + (a_his[i] - b_i) * state.s_history[i]

    return lax.fori_loop(0, curr_size, second, q)


def _push(history, new):
    """The history with its oldest row dropped and `new` appended."""
    return pnp.roll(history, -1, axis=0).at[-1].set(new)


def _minimize_lbfgs(fun, x0, maxiter=None, norm=np.inf, maxcor=10, ftol=2.220446049250313e-09,
                    gtol=1e-05, maxfun=None, maxgrad=None, maxls=20):
    """L-BFGS (algorithm 7.5) keeping `maxcor` pairs; stops on norm(gradient) < gtol, or
    fails on maxiter, maxfun, maxgrad, a decrease below ftol or a failed line search."""
    d = x0.shape[0]
    dtype = x0.dtype
    if maxiter is None and maxfun is None and maxgrad is None:
        maxiter = d * 200
    maxiter = np.inf if maxiter is None else maxiter
    maxfun = np.inf if maxfun is None else maxfun
    maxgrad = np.inf if maxgrad is None else maxgrad
    f_0, g_0 = plax.value_and_grad(fun)(x0)
    state = _LBFGSState(
        converged=pnp.array(False), failed=pnp.array(False), k=0, nfev=1, ngev=1, x_k=x0,
        f_k=f_0, g_k=g_0, s_history=pnp.zeros((maxcor, d), dtype=dtype),
        y_history=pnp.zeros((maxcor, d), dtype=dtype),
        rho_history=pnp.zeros((maxcor,), dtype=dtype), gamma=1.0, status=0, ls_status=0)

    def body(state):
        p_k = _two_loop_recursion(state)
        ls = _line_search(fun, state.x_k, p_k, old_fval=state.f_k, gfk=state.g_k,
                          maxiter=maxls)
        s_k = pnp.asarray(ls.a_k).astype(p_k.dtype) * p_k
        x_kp1 = state.x_k + s_k
        f_kp1, g_kp1 = ls.f_k, ls.g_k
        y_k = g_kp1 - state.g_k
        rho_k_inv = pnp.real(_dot(y_k, s_k))
        rho_k = pnp.reciprocal(rho_k_inv).astype(y_k.dtype)
        gamma = rho_k_inv / pnp.real(_dot(pnp.conj(y_k), y_k))
        status = pnp.array(0)
        status = pnp.where(state.f_k - f_kp1 < ftol, 4, status)
        status = pnp.where(state.ngev >= maxgrad, 3, status)
        status = pnp.where(state.nfev >= maxfun, 2, status)
        status = pnp.where(state.k >= maxiter, 1, status)
        status = pnp.where(ls.failed, 5, status)
        converged = pnp.linalg.norm(g_kp1, ord=norm) < gtol
        return state._replace(
            converged=converged, failed=(status > 0) & (~converged), k=state.k + 1,
            nfev=state.nfev + ls.nfev, ngev=state.ngev + ls.ngev,
            x_k=x_kp1.astype(state.x_k.dtype), f_k=f_kp1.astype(state.f_k.dtype),
            g_k=g_kp1.astype(state.g_k.dtype), s_history=_push(state.s_history, s_k),
            y_history=_push(state.y_history, y_k),
            rho_history=_push(state.rho_history, rho_k),
            gamma=gamma.astype(state.g_k.dtype), status=pnp.where(converged, 0, status),
            ls_status=ls.status)

    state = lax.while_loop(lambda s: (~s.converged) & (~s.failed), body, state)
    return OptimizeResults(
        x=state.x_k, success=state.converged & pnp.logical_not(state.failed),
        status=state.status, fun=state.f_k, jac=state.g_k, hess_inv=None, nfev=state.nfev,
        njev=state.ngev, nit=state.k)


# -- minimize -------------------------------------------------------------------------------

_METHODS = {
    "bfgs": (_minimize_bfgs, {"maxiter", "norm", "gtol", "line_search_maxiter"}),
    "l-bfgs-experimental-do-not-rely-on-this": (
        _minimize_lbfgs,
        {"maxiter", "norm", "maxcor", "ftol", "gtol", "maxfun", "maxgrad", "maxls"}),
}


def minimize(fun: Callable, x0, args: tuple = (), *, method: str, tol: float | None = None,
             options: Mapping[str, Any] | None = None) -> OptimizeResults:
    """Minimize `fun(x, *args)` (a real scalar) from the 1-D array x0 (as
    jax.scipy.optimize.minimize), its gradient by plax.value_and_grad. method: "BFGS" or
    "l-bfgs-experimental-do-not-rely-on-this" (any case). options: BFGS takes maxiter
    (200 * size), norm (inf), gtol (1e-5) and line_search_maxiter (10); L-BFGS maxiter, norm,
    maxcor (10), ftol, gtol, maxfun, maxgrad and maxls (20). tol is accepted and, as in JAX,
    unused (pass options={"gtol": ...}). Runs under jit and vmap. Returns OptimizeResults."""
    if not isinstance(args, tuple):
        raise TypeError(f"minimize: args must be a tuple, got {type(args).__name__}")
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise ValueError(f"minimize: method {method!r} not recognized; use 'BFGS' or "
                         "'l-bfgs-experimental-do-not-rely-on-this'")
    solver, known = _METHODS[method.lower()]
    options = dict(options or {})
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"minimize: unknown options {unknown} for method {method!r}; "
                        f"known: {sorted(known)}")
    x0 = pnp.asarray(x0)
    if x0.ndim != 1:
        raise ValueError(f"minimize: x0 must be a 1-D array, got shape {x0.shape}")
    return solver(lambda x: fun(x, *args), x0, **options)
