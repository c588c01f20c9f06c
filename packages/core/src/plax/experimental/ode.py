"""plax.experimental.ode (as jax.experimental.ode): `odeint`, adaptive-step Dormand-Prince
(Runge-Kutta 5(4), Dormand and Prince 1986) integration of dy/dt = func(y, t, *args), its
output at the requested times read from the 4th-order interpolating polynomial of each step,
with reverse-mode derivatives by the adjoint method (Chen et al. 2018, appendix C): the
augmented system is integrated backwards, so the solver's steps are never differentiated.
The step-size control, interpolation and adjoint follow JAX's jax.experimental.ode step for
step; the numerical helpers keep JAX's names."""

from __future__ import annotations

import functools
import operator
from typing import Callable

import numpy as np

import plax
import plax.numpy as pnp
from plax import lax
from plax.extend import Tracer
from plax._src.numpy.util import is_arraylike, promote_dtypes_inexact
from plax.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = ["abs2", "fit_4th_order_polynomial", "initial_step_size", "interp_fit_dopri",
           "mean_error_ratio", "odeint", "optimal_step_size", "runge_kutta_step"]


def _ravel_pytree(tree):
    """(flat, unravel): the pytree's leaves raveled into one 1-D array of their common dtype,
    and the function rebuilding the tree (each leaf back in its shape and dtype)."""
    leaves, treedef = tree_flatten(tree)
    leaves = [pnp.asarray(x) for x in leaves]
    shapes = [x.shape for x in leaves]
    dtypes = [x.dtype for x in leaves]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = pnp.result_type(*dtypes) if leaves else pnp.float32
    flat = (pnp.concatenate([pnp.ravel(x).astype(dtype) for x in leaves]) if leaves
            else pnp.zeros(0, dtype))
    offsets = np.cumsum([0] + sizes)

    def unravel(v):
        if v.shape != (offsets[-1],):
            raise ValueError(f"odeint: a raveled state must have shape ({offsets[-1]},), got "
                             f"{v.shape}")
        parts = [v[offsets[i]:offsets[i + 1]].reshape(s).astype(d)
                 for i, (s, d) in enumerate(zip(shapes, dtypes))]
        return tree_unflatten(treedef, parts)

    return flat, unravel


def _ravel_first_arg(f: Callable, unravel):
    """f(y, *args) on a raveled y, returning its output raveled."""
    def raveled(y_flat, *args):
        return _ravel_pytree(f(unravel(y_flat), *args))[0]
    return raveled


def interp_fit_dopri(y0, y1, k, dt):
    """The coefficients of the 4th-order polynomial through a Dormand-Prince step (y0 to y1
    over dt, stages k), for dense output."""
    dps_c_mid = pnp.array([
        6025192743 / 30085553152 / 2, 0, 51252292925 / 65400821598 / 2,
        -2691868925 / 45128329728 / 2, 187940372067 / 1594534317056 / 2,
        -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2], dtype=y0.dtype)
    y_mid = y0 + dt.astype(y0.dtype) * pnp.dot(dps_c_mid, k)
    return pnp.asarray(fit_4th_order_polynomial(y0, y1, y_mid, k[0], k[-1], dt))


def fit_4th_order_polynomial(y0, y1, y_mid, dy0, dy1, dt):
    """(a, b, c, d, e): the quartic in s = (t - t0) / dt with values y0, y_mid, y1 at s = 0,
    1/2, 1 and slopes dy0, dy1 at the ends."""
    dt = dt.astype(y0.dtype)
    a = -2. * dt * dy0 + 2. * dt * dy1 - 8. * y0 - 8. * y1 + 16. * y_mid
    b = 5. * dt * dy0 - 3. * dt * dy1 + 18. * y0 + 14. * y1 - 32. * y_mid
    c = -4. * dt * dy0 + dt * dy1 - 11. * y0 - 5. * y1 + 16. * y_mid
    d = dt * dy0
    e = y0
    return a, b, c, d, e


def initial_step_size(fun, t0, y0, order, rtol, atol, f0):
    """The first step (Hairer, Norsett and Wanner, Solving ODEs I, section II.4)."""
    y0, f0 = promote_dtypes_inexact(y0, f0)
    dtype = y0.dtype
    scale = atol + pnp.abs(y0) * rtol
    d0 = pnp.linalg.norm(y0 / scale.astype(dtype))
    d1 = pnp.linalg.norm(f0 / scale.astype(dtype))
    h0 = pnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    y1 = y0 + h0.astype(dtype) * f0
    f1 = fun(y1, t0 + h0)
    d2 = pnp.linalg.norm((f1 - f0) / scale.astype(dtype)) / h0
    h1 = pnp.where((d1 <= 1e-15) & (d2 <= 1e-15), pnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / pnp.maximum(d1, d2)) ** (1. / (order + 1.)))
    return pnp.minimum(100. * h0, h1)


def runge_kutta_step(func, y0, f0, t0, dt):
    """One Dormand-Prince step: (y1, f1 = func(y1, t0 + dt), the error estimate, the 7
    stages)."""
    alpha = pnp.array([1 / 5, 3 / 10, 4 / 5, 8 / 9, 1., 1., 0], dtype=dt.dtype)
    beta = pnp.array([
        [1 / 5, 0, 0, 0, 0, 0, 0],
        [3 / 40, 9 / 40, 0, 0, 0, 0, 0],
        [44 / 45, -56 / 15, 32 / 9, 0, 0, 0, 0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0, 0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0, 0],
        [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]], dtype=f0.dtype)
    c_sol = pnp.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
                      dtype=f0.dtype)
    c_error = pnp.array([
        35 / 384 - 1951 / 21600, 0, 500 / 1113 - 22642 / 50085, 125 / 192 - 451 / 720,
        -2187 / 6784 - -12231 / 42400, 11 / 84 - 649 / 6300, -1. / 60.], dtype=f0.dtype)

    def body(i, k):
        ti = t0 + dt * alpha[i - 1]
        yi = y0 + dt.astype(f0.dtype) * pnp.dot(beta[i - 1, :], k)
        return k.at[i, :].set(func(yi, ti))

    k = pnp.zeros((7, f0.shape[0]), f0.dtype).at[0, :].set(f0)
    k = lax.fori_loop(1, 7, body, k)
    y1 = dt.astype(f0.dtype) * pnp.dot(c_sol, k) + y0
    y1_error = dt.astype(f0.dtype) * pnp.dot(c_error, k)
    return y1, k[-1], y1_error, k


def abs2(x):
    """|x|^2, elementwise."""
    if pnp.iscomplexobj(x):
        return x.real ** 2 + x.imag ** 2
    return x ** 2


def mean_error_ratio(error_estimate, rtol, atol, y0, y1):
    """The RMS of the error estimate over the tolerance atol + rtol * max(|y0|, |y1|)."""
    err_tol = atol + rtol * pnp.maximum(pnp.abs(y0), pnp.abs(y1))
    err_ratio = error_estimate / err_tol.astype(error_estimate.dtype)
    return pnp.sqrt(pnp.mean(abs2(err_ratio)))


def optimal_step_size(last_step, mean_error_ratio, safety=0.9, ifactor=10.0, dfactor=0.2,
                      order=5.0):
    """The next step from the last one and its error ratio: grown at most ifactor times,
    shrunk at most to dfactor times (and not shrunk when the step was accepted)."""
    dfactor = pnp.where(mean_error_ratio < 1, 1.0, dfactor)
    factor = pnp.minimum(ifactor, pnp.maximum(mean_error_ratio ** (-1.0 / order) * safety,
                                              dfactor))
    return pnp.where(mean_error_ratio == 0, last_step * ifactor, last_step * factor)


def odeint(func, y0, t, *args, rtol=1.4e-8, atol=1.4e-8, mxstep=np.inf, hmax=np.inf):
    """Integrate dy/dt = func(y, t, *args) from y(t[0]) = y0 (as
    jax.experimental.ode.odeint), by adaptive Dormand-Prince steps.

    y0: an array or pytree of arrays; t: a 1-D array of strictly increasing float times;
    args: arrays, scalars or pytrees of them; rtol, atol: the local error tolerances; mxstep:
    the most steps between two output times; hmax: the largest step. Returns y at each time
    in t: y0's structure with a leading axis of len(t). Reverse-mode derivatives with respect
    to y0, t and args (and whatever func closes over) integrate the adjoint system backwards
    with the same tolerances."""
    if not callable(func):
        raise TypeError(f"odeint: func must be callable, got {type(func).__name__}")
    for arg in tree_leaves(args):
        if not is_arraylike(arg):
            raise TypeError(f"odeint: the contents of *args must be arrays or scalars, but "
                            f"got {arg!r:.60}")
    if not is_arraylike(t) or not pnp.issubdtype(pnp.asarray(t).dtype, pnp.floating):
        raise TypeError(f"odeint: t must be an array of floats, but got {t!r:.60}")
    t = pnp.asarray(t)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"odeint: t must be a non-empty 1-D array of times, got shape "
                         f"{t.shape}")
    for what, value in (("rtol", rtol), ("atol", atol), ("mxstep", mxstep), ("hmax", hmax)):
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"odeint: {what} must be a Python or NumPy scalar (it is static), "
                            f"got {type(value).__name__}")
    converted, consts = _closure_convert(func, y0, t[0], *args)
    return _odeint_wrapper(converted, rtol, atol, mxstep, hmax, y0, t, *args, *consts)


def _closure_convert(func, *example_args):
    """plax.closure_convert, remembered per (func, argument structure and avals) for calls
    outside any transformation (func can then close over no traced value), so that repeated
    eager calls reuse one converted function and so one compiled integrator."""
    from plax._src.core import EVAL_TRACE, current_trace
    leaves, tree = tree_flatten(example_args)
    key = None
    if current_trace() is EVAL_TRACE and not any(isinstance(x, Tracer) for x in leaves):
        key = (func, tree, tuple((np.shape(x), pnp.result_type(x)) for x in leaves))
    try:
        hit = None if key is None else _CONVERTED.get(key)
    except TypeError:  # an unhashable func
        hit, key = None, None
    if hit is not None:
        return hit, []
    converted, consts = plax.closure_convert(func, *example_args)
    if key is not None and not consts:
        if len(_CONVERTED) >= 64:
            _CONVERTED.pop(next(iter(_CONVERTED)))
        _CONVERTED[key] = converted
    return converted, consts


_CONVERTED: dict = {}


@functools.partial(plax.jit, static_argnums=(0, 1, 2, 3, 4))
def _odeint_wrapper(func, rtol, atol, mxstep, hmax, y0, ts, *args):
    with plax.default_matmul_precision("highest"):
        y0, unravel = _ravel_pytree(y0)
        out = _odeint(_ravel_first_arg(func, unravel), rtol, atol, mxstep, hmax, y0, ts, *args)
        return plax.vmap(unravel)(out)


def _odeint_impl(func, rtol, atol, mxstep, hmax, y0, ts, *args):
    def func_(y, t):
        return func(y, t, *args)

    def scan_fun(carry, target_t):
        def cond(state):
            i, _, _, t, dt, _, _ = state
            return (t < target_t) & (i < mxstep) & (dt > 0)

        def body(state):
            i, y, f, t, dt, last_t, interp_coeff = state
            next_y, next_f, next_y_error, k = runge_kutta_step(func_, y, f, t, dt)
            next_t = t + dt
            error_ratio = mean_error_ratio(next_y_error, rtol, atol, y, next_y)
            new_interp_coeff = interp_fit_dopri(y, next_y, k, dt)
            dt = pnp.clip(optimal_step_size(dt, error_ratio), min=0., max=hmax)
            new = [i + 1, next_y, next_f, next_t, dt, t, new_interp_coeff]
            old = [i + 1, y, f, t, dt, last_t, interp_coeff]
            accept = error_ratio <= 1.
            return [pnp.where(accept, a, b) for a, b in zip(new, old)]

        _, *carry = lax.while_loop(cond, body, [0] + carry)
        _, _, t, _, last_t, interp_coeff = carry
        relative_output_time = (target_t - last_t) / (t - last_t)
        y_target = pnp.polyval(interp_coeff, relative_output_time.astype(interp_coeff.dtype))
        return carry, y_target

    with plax.default_matmul_precision("highest"):
        f0 = func_(y0, ts[0])
        dt = pnp.clip(initial_step_size(func_, ts[0], y0, 4, rtol, atol, f0), min=0.,
                      max=hmax)
        interp_coeff = pnp.stack([y0] * 5)
        init_carry = [y0, f0, ts[0], dt, ts[0], interp_coeff]
        _, ys = lax.scan(scan_fun, init_carry, ts[1:])
        return pnp.concatenate((y0[None], ys))


_odeint = plax.custom_vjp(_odeint_impl, nondiff_argnums=(0, 1, 2, 3, 4))


def _odeint_fwd(func, rtol, atol, mxstep, hmax, y0, ts, *args):
    ys = _odeint(func, rtol, atol, mxstep, hmax, y0, ts, *args)
    return ys, (ys, ts, args)


def _odeint_rev(func, rtol, atol, mxstep, hmax, res, g):
    ys, ts, args = res
    ys, ts, g = pnp.asarray(ys), pnp.asarray(ts), pnp.asarray(g)

    def aug_dynamics(augmented_state, t, *args):
        """The system augmented with the adjoints of y, t and args, in negated time."""
        y, y_bar, *_ = augmented_state
        y_dot, vjpfun = plax.vjp(func, y, -t, *args)
        return (-y_dot, *vjpfun(y_bar))

    def scan_fun(carry, i):
        y_bar, t0_bar, args_bar = carry
        # the effect of moving the measurement time (real: time is real)
        t_bar = pnp.dot(func(ys[i], ts[i], *args), g[i]).real
        t0_bar = t0_bar - t_bar
        # the augmented system backwards to the previous output time
        _, y_bar, t0_bar, args_bar = odeint(
            aug_dynamics, (ys[i], y_bar, t0_bar, args_bar), pnp.stack([-ts[i], -ts[i - 1]]),
            *args, rtol=rtol, atol=atol, mxstep=mxstep, hmax=hmax)
        y_bar, t0_bar, args_bar = tree_map(operator.itemgetter(1), (y_bar, t0_bar, args_bar))
        return (y_bar + g[i - 1], t0_bar, args_bar), t_bar

    with plax.default_matmul_precision("highest"):
        init_carry = (g[-1], pnp.zeros((), ts.dtype), tree_map(pnp.zeros_like, args))
        (y_bar, t0_bar, args_bar), rev_ts_bar = lax.scan(
            scan_fun, init_carry, pnp.arange(len(ts) - 1, 0, -1))
        ts_bar = pnp.concatenate([pnp.stack([t0_bar]), rev_ts_bar[::-1]])
        return (y_bar, ts_bar, *args_bar)


_odeint.defvjp(_odeint_fwd, _odeint_rev)
