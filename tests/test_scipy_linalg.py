"""plax.scipy.linalg against jax.scipy.linalg on every backend: all 40 public names (values,
dtypes, shapes), gradients of the solves and of expm, jit, and the error messages."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import plax
import plax.numpy as pnp
import plax.scipy.linalg as P
from plax.test_util import check_grads

from conftest import assert_close

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
J = pytest.importorskip("jax.scipy.linalg")

R = np.random.default_rng(0)
A = R.standard_normal((4, 4)).astype(np.float32)
SPD = (A @ A.T + 4 * np.eye(4)).astype(np.float32)
B = R.standard_normal((4, 3)).astype(np.float32)
V = R.standard_normal(4).astype(np.float32)
W = R.standard_normal((3, 5)).astype(np.float32)
UP = (np.triu(A) + 3 * np.eye(4)).astype(np.float32)
D = R.standard_normal(5).astype(np.float32)
E = R.standard_normal(4).astype(np.float32)


def _chain(mod, which):
    if which == "cho_solve":
        return lambda c, b: mod.cho_solve(mod.cho_factor(c), b)
    if which == "cho_solve_lower":
        return lambda c, b: mod.cho_solve(mod.cho_factor(c, lower=True), b)
    if which.startswith("lu_solve"):
        t = int(which[-1])
        return lambda a, b: mod.lu_solve(mod.lu_factor(a), b, trans=t)
    if which == "rsf2csf":
        return lambda a: mod.rsf2csf(*mod.schur(a))
    if which == "funm":
        return lambda a: mod.funm(a, (pnp if mod is P else jnp).exp)
    raise KeyError(which)


CASES = [  # (name, args, kwargs, tolerance)
    ("cholesky", (SPD,), {}), ("cholesky", (SPD,), dict(lower=True)),
    ("cho_solve", (SPD, B), None), ("cho_solve_lower", (SPD, V), None),
    ("lu", (A,), {}), ("lu", (W,), {}), ("lu", (W.T,), dict(permute_l=True)),
    ("lu_factor", (A,), {}), ("lu_solve0", (A, B), None), ("lu_solve1", (A, B), None),
    ("lu_solve2", (A, B), None), ("solve_triangular", (UP, B), {}),
    ("solve_triangular", (UP, V), dict(trans=1)),
    ("solve_triangular", (UP.T, B), dict(lower=True, trans="C", unit_diagonal=True)),
    ("solve", (A, B), {}), ("solve", (SPD, B), dict(assume_a="pos")),
    ("solve", (SPD, V), dict(assume_a="sym", lower=True)), ("det", (A,), {}),
    ("inv", (A,), {}), ("qr", (W,), {}), ("qr", (W.T,), dict(mode="economic")),
    ("qr", (W.T,), dict(mode="r")), ("qr", (A,), dict(pivoting=True)),
    ("qr_multiply", (W.T, R.standard_normal((2, 5)).astype(np.float32)), {}),
    ("qr_multiply", (W.T, R.standard_normal((3, 2)).astype(np.float32)), dict(mode="left")),
    ("svd", (W,), {}), ("svd", (W,), dict(full_matrices=False, lapack_driver="gesvd")),
    ("svd", (W,), dict(compute_uv=False)), ("eigh", (SPD,), {}),
    ("eigh", (SPD,), dict(eigvals_only=True)),
    ("eigh_tridiagonal", (D, E), dict(eigvals_only=True)),
    ("eigh_tridiagonal", (D, E), dict(eigvals_only=True, select="i", select_range=(1, 3))),
    ("schur", (A,), {}), ("schur", (A,), dict(output="complex")), ("hessenberg", (A,), {}),
    ("hessenberg", (A,), dict(calc_q=True)), ("rsf2csf", (A,), None),
    ("expm", (A * 0.3,), {}), ("expm", (A * 3,), {}), ("expm", (np.stack([A, 2 * A]),), {}),
    ("expm", (UP * 0.2,), dict(upper_triangular=True)),
    ("expm_frechet", (A * 0.5, np.outer(V, V)), {}), ("sqrtm", (SPD,), {}),
    ("sqrtm", (A,), {}), ("funm", (A * 0.3,), None), ("polar", (W.T,), {}),
    ("polar", (A,), dict(side="left", method="svd")),
    ("solve_sylvester", (A, SPD, np.outer(B[:, 0], V)), {}),
    ("block_diag", (A, W, V), {}), ("toeplitz", (V,), {}), ("toeplitz", (V, D), {}),
    ("toeplitz", (np.stack([V, V * 2]),), {}), ("hankel", (V,), {}), ("hankel", (V, D), {}),
    ("circulant", (V,), {}), ("leslie", (V, V[:3]), {}), ("companion", (V,), {}),
    ("fiedler", (V,), {}), ("fiedler_companion", (D,), {}), ("fiedler_companion", (V,), {}),
    ("convolution_matrix", (V, 3), {}), ("convolution_matrix", (V, 6), dict(mode="same")),
    ("convolution_matrix", (V, 3), dict(mode="valid")),
    ("hilbert", (4,), {}), ("invhilbert", (4,), {}), ("pascal", (5,), {}),
    ("pascal", (5, "lower"), {}), ("invpascal", (5,), {}), ("invpascal", (5, "upper"), {}),
    ("helmert", (4,), {}), ("helmert", (5,), dict(full=True)), ("hadamard", (4,), {}),
    ("dft", (4,), {}), ("dft", (4, "n"), {}),
]


def _leaves(x):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(x)]


def _compare(got, want, tol):
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        scale = max(1.0, float(np.abs(w).max(initial=0)))
        assert_close(g, w, rtol=tol, atol=tol * scale)


def _jax_case(name, args, kw):
    return _chain(J, name)(*args) if kw is None else getattr(J, name)(*args, **kw)


@functools.cache
def _jax_expected() -> list:
    """JAX's result of every case, computed once per process as one jitted program (the NumPy
    arrays its traced arguments): eagerly, JAX compiled each case's operations one by one in
    every worker (about 8 s of the file's time); the values are JAX's either way and the
    comparisons keep their tolerances."""
    arrays = [[a for a in args if isinstance(a, np.ndarray)] for _, args, _ in CASES]

    def run(arrays):
        outs = []
        for (name, args, kw), arrs in zip(CASES, arrays, strict=True):
            it = iter(arrs)
            outs.append(_jax_case(name, [next(it) if isinstance(a, np.ndarray) else a
                                         for a in args], kw))
        return outs
    return jax.tree_util.tree_map(np.asarray, jax.jit(run)(arrays))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}{i}" for i, c in
                                                      enumerate(CASES)])
def test_matches_jax(backend, i):
    name, args, kw = CASES[i]
    fn = _chain(P, name) if kw is None else (lambda *a, f=getattr(P, name): f(*a, **kw))
    want = _jax_expected()[i]
    # compiling backends: the whole function as one program (not one compile per operation)
    got = plax.jit(lambda: fn(*args))() if backend != "reference" else fn(*args)
    _compare(got, want, 1e-3 if name in ("rsf2csf", "funm", "invhilbert", "sqrtm") else 2e-4)


GRADS = [
    ("expm", lambda M, x: (M.expm(x) ** 2).sum(), (A[:2, :2] * 0.3,)),
    ("cho_solve", lambda M, x, y: M.cho_solve(M.cho_factor(x), y).sum(), (SPD, B)),
    ("solve_triangular", lambda M, x, y: M.solve_triangular(x, y).sum(), (UP, B)),
    ("lu_solve", lambda M, x, y: M.lu_solve(M.lu_factor(x), y).sum(), (A, B)),
    ("solve_pos", lambda M, x, y: M.solve(x, y, assume_a="pos").sum(), (SPD, B)),
]


@pytest.mark.parametrize("name,fn,args", GRADS, ids=[g[0] for g in GRADS])
def test_grads_match_jax(backend, name, fn, args):
    nums = tuple(range(len(args)))
    g = plax.grad(lambda *a: fn(P, *a), nums)
    got = (plax.jit(g) if backend != "reference" else g)(*args)
    want = jax.grad(lambda *a: fn(J, *a), nums)(*args)
    _compare(got, want, 2e-3)


@pytest.mark.parametrize("name,fn,args", GRADS, ids=[g[0] for g in GRADS])
def test_check_grads_second_order(name, fn, args):
    if name in ("cho_solve", "solve_pos"):
        # these read one triangle of `a` (as JAX): factor the symmetric part so that
        # finite differences along non-symmetric directions see the same function
        inner = fn

        def fn(M, x, y):
            return inner(M, (x + x.T) / 2, y)

    with plax.enable_x64():
        args = tuple(np.asarray(a, np.float64) for a in args)
        # expm's second derivative (through 16 conditional squarings) costs minutes
        check_grads(lambda *a: fn(P, *a), args, order=1 if name == "expm" else 2,
                    modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


def test_jit_and_batches(backend):
    _compare(plax.jit(P.expm)(A * 0.3), J.expm(A * 0.3), 2e-4)
    _compare(plax.vmap(P.expm)(np.stack([A, A * 0.5])), J.expm(np.stack([A, A * 0.5])), 2e-4)
    got = plax.jit(lambda a, b: P.cho_solve(P.cho_factor(a), b))(np.stack([SPD, SPD * 2]),
                                                                  np.stack([B, B]))
    _compare(got, np.linalg.solve(np.stack([SPD, SPD * 2]), np.stack([B, B])), 1e-3)


def test_errors():
    with pytest.raises(ValueError, match="square"):
        P.expm(np.ones((2, 3), np.float32))
    with pytest.raises(NotImplementedError, match="b=None"):
        P.eigh(SPD, SPD)
    with pytest.raises(ValueError, match="assume_a"):
        P.solve(A, B, assume_a="banded")
    with pytest.raises(ValueError, match="power of 2"):
        P.hadamard(6)
    with pytest.raises(ValueError, match="one shorter"):
        P.leslie(V, V)


def test_surface_matches_jax():
    names = sorted(n for n in dir(J) if not n.startswith("_"))
    assert len(names) == 40
    assert [n for n in names if not callable(getattr(P, n, None))] == []
    import plax.scipy
    assert "linalg" in dir(plax.scipy) and plax.scipy.linalg is P
