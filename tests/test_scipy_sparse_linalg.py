"""plax.scipy.sparse.linalg (cg, bicgstab, gmres 'batched' and 'incremental') against
jax.scipy.sparse.linalg on every installed backend: matrices, functions and pytrees as
operators and vectors, preconditioners, x0, and runs cut short by maxiter (the same iterates
as JAX's, step for step); derivatives through custom_linear_solve (check_grads and JAX's),
vmap, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
import plax.scipy.sparse.linalg as psl
from plax.test_util import check_grads

R = np.random.default_rng(0)
N = 5
_G = R.standard_normal((N, N)).astype(np.float32)
SPD = (_G @ _G.T + N * np.eye(N)).astype(np.float32)
NS = (_G + N * np.eye(N)).astype(np.float32)
B = R.standard_normal(N).astype(np.float32)
X0 = R.standard_normal(N).astype(np.float32)
PRE = np.diag(1 / np.diag(SPD)).astype(np.float32)  # Jacobi preconditioner
TREE_B = {"u": B[:3], "v": B[3:]}
_GC = (R.standard_normal((N, N)) + 1j * R.standard_normal((N, N))).astype(np.complex64)
HPD = (_GC @ _GC.conj().T + N * np.eye(N)).astype(np.complex64)  # Hermitian positive definite
NSC = (_GC + 3 * np.eye(N)).astype(np.complex64)
BC = (B + 1j * X0).astype(np.complex64)


def _tree_op(m):
    """The matrix m acting on {"u": x[:3], "v": x[3:]}: an operator on a pytree."""
    def matvec(t, np_=None):
        x = np_.concatenate([t["u"], t["v"]])
        y = np_.dot(m, x, precision="highest")
        return {"u": y[:3], "v": y[3:]}
    return matvec


def cases(m, np_, keys=None):
    """Every solve (or those named in keys), as m (a sparse.linalg module) and np_ (its numpy)
    compute it."""
    spd_op = _tree_op(SPD)
    ns_op = _tree_op(NS)
    out = {
        "cg": m.cg(SPD, B)[0],
        "cg_x0_M": m.cg(SPD, B, X0, M=PRE)[0],
        "cg_2_steps": m.cg(SPD, B, maxiter=2)[0],
        "cg_fn_tol": m.cg(lambda x: np_.dot(SPD, x, precision="highest"), B, tol=1e-2)[0],
        "cg_tree": m.cg(lambda t: spd_op(t, np_), TREE_B, atol=1e-6)[0],
        "bicgstab": m.bicgstab(NS, B)[0],
        "bicgstab_2_steps": m.bicgstab(NS, B, maxiter=2)[0],
        "bicgstab_tree_M": m.bicgstab(lambda t: ns_op(t, np_), TREE_B,
                                      M=lambda t: {k: v / 5 for k, v in t.items()})[0],
    }
    for method, restart, kw in (("batched", 20, {}), ("incremental", 2, dict(maxiter=1)),
                                ("incremental", 2, dict(M=PRE))):
        out[f"gmres_{method}_{restart}_{sorted(kw)}"] = m.gmres(NS, B, restart=restart,
                                                                solve_method=method, **kw)
    out["cg_complex_2_steps"] = m.cg(HPD, BC, maxiter=2)[0]
    out["cg_complex"] = m.cg(HPD, BC)[0]
    out["bicgstab_complex"] = m.bicgstab(NSC, BC)[0]
    out["gmres_incremental_complex"] = m.gmres(NSC, BC, restart=2, solve_method="incremental")[0]
    out["gmres_batched_tree_x0"] = m.gmres(lambda t: ns_op(t, np_), TREE_B,
                                           {"u": X0[:3], "v": X0[3:]}, restart=3)[0]
    return out if keys is None else {k: out[k] for k in keys}


@pytest.fixture(scope="module")
def jax_cases():
    import jax
    import jax.numpy as jnp
    import jax.scipy.sparse.linalg as jsl
    return jax.tree.map(np.asarray, jax.jit(lambda: cases(jsl, jnp))())


# the solves run on the compiling backends (the reference backend runs them all)
FEW = ["cg_x0_M", "bicgstab_tree_M", "gmres_batched_20_[]", "gmres_incremental_2_['M']"]


@requires_jax
def test_against_jax(backend, jax_cases):
    keys = None if backend == "reference" else FEW
    got = plax.jit(lambda: cases(psl, pnp, keys))()
    for key, want in jax_cases.items():
        if key not in got:
            assert keys is not None
            continue
        flat, flat_want = plax.tree_util.tree_leaves(got[key]), plax.tree_util.tree_leaves(want)
        assert len(flat) == len(flat_want), key
        for g, w in zip(flat, flat_want):
            assert g.dtype == w.dtype and g.shape == w.shape, key
            assert_close(g, w, rtol=2e-5, atol=2e-5, err_msg=key)
    # the converged solves solve the system
    assert_close(SPD @ np.asarray(got["cg_x0_M"]), B, rtol=1e-4, atol=1e-4)
    x, info = got["gmres_batched_20_[]"]
    assert_close(NS @ np.asarray(x), B, rtol=1e-4, atol=1e-4)
    assert int(info) == 0


def test_eager_matches_jit():
    x, info = psl.gmres(NS, B, restart=2, solve_method="incremental")
    xj, infoj = plax.jit(lambda b: psl.gmres(NS, b, restart=2, solve_method="incremental"))(B)
    assert_close(x, xj, rtol=1e-6, atol=1e-6)
    assert int(info) == int(infoj) == 0
    x, none = psl.cg(SPD, B)
    assert none is None and x.dtype == np.float32
    # a singular operator: info is -1 when x holds NaNs (the batched normal equations), else
    # 0, even for infinities (the incremental triangular solve), as JAX's
    with np.errstate(all="ignore"):
        zero = np.zeros((N, N), np.float32)
        x, info = psl.gmres(zero, B, solve_method="batched")
        assert int(info) == -1 and np.isnan(np.asarray(x)).all()
        x, info = psl.gmres(zero, B, solve_method="incremental")
        assert int(info) == 0 and np.isinf(np.asarray(x)).all()


@pytest.mark.parametrize("solver", ["cg", "bicgstab", "gmres"])
def test_grads(solver):
    solve = getattr(psl, solver)
    m0 = SPD if solver == "cg" else NS

    def f(a, b):
        return solve(lambda x: pnp.dot(m0 + a * np.eye(N, dtype=np.float32), x), b,
                     tol=1e-7, atol=1e-7)[0]

    with plax.config.override("enable_x64", True):
        a, b = np.float64(0.5), B.astype(np.float64)
        check_grads(lambda a, b: f(a, b), (a, b), order=1, modes=("fwd", "rev"))


@requires_jax
def test_grad_against_jax():
    import jax
    import jax.numpy as jnp
    import jax.scipy.sparse.linalg as jsl

    def loss(m, np_, grad):
        def f(mat, b):
            x = m.gmres(lambda v: np_.dot(mat, v), b, solve_method="incremental")[0]
            y = m.cg(SPD, x)[0]
            return np_.sum(y * np_.arange(N))
        return grad(f, (0, 1))(NS, B)

    got = loss(psl, pnp, plax.grad)
    want = jax.jit(lambda: loss(jsl, jnp, jax.grad))()
    for g, w in zip(got, want):
        assert_close(g, np.asarray(w), rtol=1e-4, atol=1e-5)


def test_vmap():
    bs = R.standard_normal((3, N)).astype(np.float32)
    for solve in (lambda b: psl.cg(SPD, b)[0], lambda b: psl.bicgstab(NS, b)[0],
                  lambda b: psl.gmres(NS, b, solve_method="incremental")[0]):
        got = plax.vmap(solve)(bs)
        assert_close(got, np.stack([solve(b) for b in bs]), rtol=1e-5, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="square matrix"):
        psl.cg(np.ones((3, 4), np.float32), B[:3])
    with pytest.raises(TypeError, match="cg \\(M\\).*function"):
        psl.cg(SPD, B, M="jacobi")
    with pytest.raises(ValueError, match="x0 and b must have matching tree structure"):
        psl.bicgstab(lambda t: t, TREE_B, x0=B)
    with pytest.raises(ValueError, match="arrays in x0 and b must have matching shapes"):
        psl.gmres(NS, B, x0=X0[:3])
    with pytest.raises(ValueError, match="solve_method 'qr'"):
        psl.gmres(NS, B, solve_method="qr")
    with pytest.raises(ValueError, match="restart must be a positive integer"):
        psl.gmres(NS, B, restart=0)
    with pytest.raises(ValueError, match="maxiter must be non-negative"):
        psl.cg(SPD, B, maxiter=-1)
    with pytest.raises(TypeError, match="maxiter must be a scalar number"):
        psl.bicgstab(NS, B, maxiter="10")


def test_maxiter_float_and_traced():
    # as JAX, maxiter only bounds a loop counter: a float or a traced value does too
    want = psl.cg(SPD, B, maxiter=2)[0]
    assert_close(psl.cg(SPD, B, maxiter=2.0)[0], want, rtol=1e-6)
    got = plax.jit(lambda k: psl.cg(SPD, B, maxiter=k)[0])(np.int32(2))
    assert_close(got, want, rtol=1e-6)
