"""check_grads: compare jvp and vjp against finite differences, to a given order."""

from __future__ import annotations


import numpy as np

from plax.extend import get_aval
from plax.tree_util import tree_flatten, tree_unflatten


def _np(x):
    return np.asarray(x)


def _real_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    return np.finfo(dt).dtype if dt.kind in "fc" else dt


def _default_eps(dtype) -> float:
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 3e-3}.get(_real_dtype(dtype), 1e-4)


def _default_tol(dtype) -> float:
    return {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 2e-2}.get(_real_dtype(dtype), 1e-5)


def _rand_like(rng, x):
    a = _np(x)
    v = rng.standard_normal(a.shape)
    if a.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(a.shape)
    return v.astype(a.dtype)


def _assert_close(what, a, b, atol, rtol):
    a, b = _np(a).astype(np.complex128), _np(b).astype(np.complex128)
    if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
        raise AssertionError(f"check_grads: {what} mismatch (atol={atol}, rtol={rtol}):\n"
                             f"  got      {a}\n  expected {b}\n  max abs err "
                             f"{np.max(np.abs(a - b)) if a.size else 0}")


def _inner(xs, ys):
    """Re <x, y> = Re sum(conj(x) * y): a real pairing, valid for functions between real and
    complex arrays too (rfft, irfft), as JAX's check_vjp uses."""
    return sum(float(np.real(np.vdot(_np(x).astype(np.complex128).ravel(),
                                     _np(y).astype(np.complex128).ravel())))
               for x, y in zip(xs, ys))


def _conj(x):
    a = _np(x)
    return np.conj(a) if a.dtype.kind == "c" else a


def _finite_difference(f, flat, tree, tans, eps):
    """The central difference of f at the args along tans, per output leaf."""
    def shifted(s):
        xs = [(_np(x).astype(np.float64 if _np(x).dtype.kind == "f" else np.complex128)
               + s * t).astype(_np(x).dtype) for x, t in zip(flat, tans)]
        return tree_flatten(f(*tree_unflatten(tree, xs)))[0]

    plus, minus = shifted(eps), shifted(-eps)
    return [(_np(p).astype(np.complex128) - _np(m).astype(np.complex128)) / (2 * eps)
            for p, m in zip(plus, minus)]


def _setup(args, atol, rtol, eps):
    flat, tree = tree_flatten(tuple(args))
    # the dtype the computation runs in (a Python float runs in float32 without x64)
    dt = get_aval(flat[0]).dtype if flat else np.float32
    return (flat, tree, atol or _default_tol(dt), rtol or _default_tol(dt),
            eps or _default_eps(dt))


def check_jvp(f, args, atol=None, rtol=None, eps=None, rng=None):
    """jvp(f) along a random tangent equals the finite difference."""
    import plax
    rng = rng or np.random.default_rng(0)
    flat, tree, atol, rtol, eps = _setup(args, atol, rtol, eps)
    tans = [_rand_like(rng, x) for x in flat]
    _, t_out = plax.jvp(f, tuple(args), tuple(tree_unflatten(tree, tans)))
    fd = _finite_difference(f, flat, tree, tans, eps)
    for i, (a, b) in enumerate(zip(tree_flatten(t_out)[0], fd)):
        _assert_close(f"jvp output {i} vs finite differences", a, b.real if
                      _np(a).dtype.kind != "c" else b, atol, rtol)


def check_vjp(f, args, atol=None, rtol=None, eps=None, rng=None):
    """<vjp(ct), t> equals <ct, finite difference along t> for random t and ct (no forward
    mode involved, so functions with a custom_vjp can be checked)."""
    import plax
    rng = rng or np.random.default_rng(1)
    flat, tree, atol, rtol, eps = _setup(args, atol, rtol, eps)
    out, f_vjp = plax.vjp(f, *args)
    out_flat, out_tree = tree_flatten(out)
    cts = [_rand_like(rng, o) for o in out_flat]
    # plax's vjp is the transpose, not the adjoint (as JAX's): conj(vjp(conj(ct))) is the
    # adjoint, and Re <t, adjoint(ct)> = Re <df(t), ct>
    ct_in = [_conj(c) for c in tree_flatten(
        f_vjp(tree_unflatten(out_tree, [_conj(c) for c in cts])))[0]]
    tans = [_rand_like(rng, x) for x in flat]
    lhs = _inner(tans, ct_in)
    rhs = _inner(_finite_difference(f, flat, tree, tans, eps), cts)
    scale = max(1.0, abs(rhs))
    _assert_close("vjp vs finite differences (<vjp(ct), t> = <ct, df(t)>)", lhs / scale,
                  rhs / scale, atol, rtol)


def check_grads(f, args, order: int, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check derivatives of `f` at `args` up to `order` in the given modes against finite
    differences (forward) and against forward mode by the dot-product test (reverse)."""
    import plax
    from plax import lax
    if isinstance(modes, str):
        modes = (modes,)
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads modes must be 'fwd' and/or 'rev', got {m!r}")
    args = tuple(args)

    def check(fun, order):
        if "fwd" in modes:
            check_jvp(fun, args, atol, rtol, eps)
            if order > 1:
                def fwd(*xs, fun=fun):
                    flat, tree = tree_flatten(xs)
                    tans = tree_unflatten(tree, [lax.full_like(x, 1) for x in flat])
                    return plax.jvp(fun, xs, tuple(tans))[1]
                check(fwd, order - 1)
        if "rev" in modes:
            check_vjp(fun, args, atol, rtol, eps)
            if order > 1:
                def rev(*xs, fun=fun):
                    out, f_vjp = plax.vjp(fun, *xs)
                    flat, tree = tree_flatten(out)
                    return f_vjp(tree_unflatten(tree, [lax.full_like(o, 1) for o in flat]))
                check(rev, order - 1)

    check(f, order)


