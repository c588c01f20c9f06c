"""Testing helpers for users and plugin authors (as jax.test_util)."""

from __future__ import annotations


def check_grads(f, args, order: int, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check derivatives of `f` at `args` against finite differences, up to `order`.
    Needs the transforms plugin (plax-transforms)."""
    from plax._src import registry
    impl = registry.get_api("check_grads")
    if impl is None:
        raise RuntimeError("check_grads needs the plax-transforms plugin: "
                           "pip install plax-transforms")
    return impl(f, args, order, modes, atol, rtol, eps)


# ---------------------------------------------------------------------------------------------
# check_jvp / check_vjp with jax.test_util's signatures: the caller passes the differentiated
# function (functools.partial(plax.jvp, f) or functools.partial(plax.vjp, f)), checked along one
# random direction against central differences of f


_EPS = 1e-4
_GRAD_TOL = {"bfloat16": 1e-1, "float16": 1e-2, "float32": 2e-3, "float64": 1e-5,
             "complex64": 1e-3, "complex128": 1e-5}


def _tree():
    from plax import tree_util
    return tree_util


def _tol(tol, leaf) -> float:
    import numpy as np
    if tol is not None and not isinstance(tol, dict):
        return tol
    table = dict(_GRAD_TOL, **{str(np.dtype(k)): v for k, v in (tol or {}).items()})
    return table.get(str(np.asarray(leaf).dtype), 1e-5)


def _rand_like(rng, x):
    import numpy as np
    dt = np.asarray(x).dtype
    out = np.asarray(rng.randn(*np.shape(x)), dt)
    if dt.kind == "c":
        out = out + dt.type(1j) * np.asarray(rng.randn(*np.shape(x)), dt)
    return out.item() if isinstance(x, (int, float, complex)) else out


def _numerical_jvp(f, args, tangents, eps):
    import numpy as np
    tu = _tree()
    shift = [tu.tree_map(lambda x, t, s=s: np.asarray(x) + s * eps * np.asarray(t), args,
                         tangents) for s in (1, -1)]
    plus, minus = f(*shift[0]), f(*shift[1])
    return tu.tree_map(lambda p, m: (np.asarray(p) - np.asarray(m)) * (0.5 / eps), plus, minus)


def _close(what, got, want, atol, rtol, err_msg):
    import numpy as np
    tu = _tree()
    for g, w in zip(tu.tree_leaves(got), tu.tree_leaves(want)):
        g, w = np.asarray(g), np.asarray(w)
        np.testing.assert_allclose(g, w.astype(g.dtype), atol=_tol(atol, g), rtol=_tol(rtol, g),
                                   err_msg=f"{err_msg} {what}" if err_msg else what)


def _inner(xs, ys) -> float:
    import numpy as np
    tu = _tree()
    return sum(float(np.real(np.dot(np.conj(np.asarray(x)).reshape(-1),
                                    np.asarray(y).reshape(-1))))
               for x, y in zip(tu.tree_leaves(xs), tu.tree_leaves(ys)))


def check_jvp(f, f_jvp, args, atol=None, rtol=None, eps=_EPS, err_msg=""):
    """f_jvp(args, tangents) -> (f(*args), tangent out) agrees with f and with the central
    difference of f along a random tangent (as jax.test_util.check_jvp)."""
    import numpy as np
    rng = np.random.RandomState(0)
    tangent = _tree().tree_map(lambda x: _rand_like(rng, x), args)
    v_out, t_out = f_jvp(args, tangent)
    _close("primal", v_out, f(*args), atol, rtol, err_msg)
    _close("tangent", t_out, _numerical_jvp(f, args, tangent, eps), atol, rtol, err_msg)


def check_vjp(f, f_vjp, args, atol=None, rtol=None, eps=_EPS, err_msg=""):
    """f_vjp(*args) -> (f(*args), vjp function): <vjp(ct), t> equals <ct, central difference
    of f along t> for random t and ct (as jax.test_util.check_vjp)."""
    import numpy as np
    rng = np.random.RandomState(0)
    tu = _tree()
    v_out, vjp_fun = f_vjp(*args)
    _close("primal", v_out, f(*args), atol, rtol, err_msg)
    tangent = tu.tree_map(lambda x: _rand_like(rng, x), args)
    t_out = _numerical_jvp(f, args, tangent, eps)
    cotangent = tu.tree_map(lambda x: _rand_like(rng, x), v_out)
    ct_out = tu.tree_map(lambda c: np.conj(np.asarray(c)),
                         vjp_fun(tu.tree_map(lambda c: np.conj(c), cotangent)))
    ip, want = _inner(tangent, ct_out), _inner(t_out, cotangent)
    tol_leaf = tu.tree_leaves(v_out)[0]
    np.testing.assert_allclose(ip, want, atol=_tol(atol, tol_leaf), rtol=_tol(rtol, tol_leaf),
                               err_msg=f"{err_msg} cotangent projection" if err_msg
                               else "cotangent projection")
