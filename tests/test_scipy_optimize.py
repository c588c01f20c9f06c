"""plax.scipy.optimize.minimize (BFGS and the experimental L-BFGS, with their strong-Wolfe
line search and zoom) against jax.scipy.optimize.minimize on every installed backend, in 64-bit:
the minimizer, value, gradient and inverse-Hessian estimate, and the same iteration and
evaluation counts and status codes (converged, maxiter reached); args, options, jit, vmap and
the errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax.scipy.optimize import OptimizeResults, minimize

R = np.random.default_rng(0)
_G = R.standard_normal((4, 4))
SPD = _G @ _G.T + np.eye(4)
C = R.standard_normal(4)
BFGS, LBFGS = "BFGS", "l-bfgs-experimental-do-not-rely-on-this"


def rosen(x, np_):
    return np_.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def quartic(x, a, c, np_):
    """A convex quadratic plus a quartic term."""
    return 0.5 * x @ a @ x - c @ x + 0.1 * np_.sum(x ** 4)


def problems(np_):
    """(name, fun, x0, args, method, options) of each minimization compared."""
    x2 = np.array([-1.2, 1.0])
    xq = np.array([1.0, -2.0, 0.5, 3.0])
    return [
        ("rosen_bfgs", lambda x: rosen(x, np_), x2, (), BFGS, None),
        ("rosen_lbfgs", lambda x: rosen(x, np_), x2, (), LBFGS, None),
        ("quartic_args_bfgs", lambda x, a, c: quartic(x, a, c, np_), xq, (SPD, C), "bfgs",
         {"gtol": 1e-8}),
        ("quartic_lbfgs_maxcor", lambda x, a, c: quartic(x, a, c, np_), xq, (SPD, C), LBFGS,
         {"maxcor": 3}),
        ("rosen_bfgs_maxiter", lambda x: rosen(x, np_), x2, (), BFGS, {"maxiter": 5}),
        ("quartic_bfgs_l2_norm", lambda x, a, c: quartic(x, a, c, np_), xq, (SPD, C), BFGS,
         {"norm": 2, "line_search_maxiter": 20}),
    ]


def run_all(mod, np_, names=None):
    return {name: mod.minimize(f, x0, args, method=method, options=options)
            for name, f, x0, args, method, options in problems(np_)
            if names is None or name in names}


FEW = ["rosen_bfgs", "quartic_lbfgs_maxcor"]  # on the compiling backends


@pytest.fixture(scope="module")
def jax_results():
    import jax
    import jax.numpy as jnp
    import jax.scipy.optimize as jo
    with jax.enable_x64(True):
        return jax.tree.map(np.asarray, jax.jit(lambda: run_all(jo, jnp))())


@requires_jax
def test_against_jax(backend, jax_results):
    names = None if backend == "reference" else FEW
    with plax.config.override("enable_x64", True):
        got = plax.jit(lambda: run_all(plax.scipy.optimize, pnp, names))()
    for name, want in jax_results.items():
        if name not in got:
            continue
        res = got[name]
        assert isinstance(res, OptimizeResults)
        for field in ("status", "success", "nfev", "njev", "nit"):
            assert int(getattr(res, field)) == int(getattr(want, field)), (name, field)
        for field in ("x", "fun", "jac", "hess_inv"):
            w = getattr(want, field)
            if w is None:
                assert getattr(res, field) is None
                continue
            assert np.asarray(getattr(res, field)).dtype == np.float64
            assert_close(getattr(res, field), w, rtol=1e-8, atol=1e-9, err_msg=f"{name} {field}")
    if backend == "reference":
        # the end states covered (as JAX's: its BFGS stops on Rosenbrock's valley when a zoom
        # fails, its L-BFGS when the line search does)
        status = {name: int(res.status) for name, res in got.items()}
        assert status == {"rosen_bfgs": 3, "rosen_lbfgs": 5, "quartic_args_bfgs": 0,
                          "quartic_lbfgs_maxcor": 4, "rosen_bfgs_maxiter": 1,
                          "quartic_bfgs_l2_norm": 0}
        x = np.asarray(got["quartic_args_bfgs"].x)
        assert_close(SPD @ x - C + 0.4 * x ** 3, np.zeros(4), atol=1e-8)


@pytest.mark.parametrize("method", [BFGS, LBFGS])
def test_eager_and_vmap(method):
    f = lambda x, a, c: quartic(x, a, c, pnp)  # noqa: E731
    x0s = np.random.default_rng(1).standard_normal((3, 4))
    with plax.config.override("enable_x64", True):
        eager = [minimize(f, x0, (SPD, C), method=method) for x0 in x0s]
        batched = plax.vmap(lambda x0: minimize(f, x0, (SPD, C), method=method))(x0s)
    assert all(r.x.dtype == np.float64 for r in eager)
    assert batched.nit.shape == (3,)
    for field in ("status", "nit", "nfev"):
        assert np.asarray(getattr(batched, field)).tolist() == [
            int(getattr(r, field)) for r in eager], field
    for field in ("x", "fun", "jac"):
        assert_close(getattr(batched, field), np.stack([getattr(r, field) for r in eager]),
                     rtol=1e-10, atol=1e-12)


def test_errors():
    f = lambda x: pnp.sum(x ** 2)  # noqa: E731
    x0 = np.ones(2, np.float32)
    with pytest.raises(TypeError, match="args must be a tuple"):
        minimize(f, x0, [1], method=BFGS)
    with pytest.raises(ValueError, match="method 'Nelder-Mead' not recognized"):
        minimize(f, x0, method="Nelder-Mead")
    with pytest.raises(TypeError, match="unknown options \\['maxfun'\\]"):
        minimize(f, x0, method=BFGS, options={"maxfun": 3})
    with pytest.raises(ValueError, match="x0 must be a 1-D array"):
        minimize(f, np.ones((2, 2), np.float32), method=BFGS)
