"""plax.numpy.linalg against jax.numpy.linalg on every backend: values, dtypes and shapes of
all 31 functions, JAX's derivative rules (solve, inv, det incl. singular matrices, slogdet,
pinv, norms) against JAX and finite differences, jit and vmap."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from plax.test_util import check_grads

from conftest import assert_close, requires_jax

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

R = np.random.default_rng(0)
A = R.standard_normal((2, 4, 4)).astype(np.float32)
SPD = (A @ A.transpose(0, 2, 1) + 4 * np.eye(4)).astype(np.float32)
B = R.standard_normal((2, 4, 3)).astype(np.float32)
V = R.standard_normal((2, 4)).astype(np.float32)
W = R.standard_normal((3, 5)).astype(np.float32)
C = (A + 1j * A[::-1]).astype(np.complex64)

CASES = [
    ("solve", (A, B), {}), ("solve", (A[0], V[0]), {}), ("solve", (C, C), {}),
    ("inv", (A,), {}), ("inv", (C,), {}), ("det", (A,), {}), ("det", (C,), {}),
    ("slogdet", (A,), {}), ("slogdet", (C,), {}), ("slogdet", (A,), dict(method="qr")),
    ("cholesky", (SPD,), {}), ("cholesky", (SPD,), dict(upper=True)),
    ("qr", (W,), {}), ("qr", (W.T,), dict(mode="complete")), ("qr", (W,), dict(mode="r")),
    ("qr", (W.T,), dict(mode="raw")), ("svd", (W,), {}), ("svd", (W,), dict(full_matrices=False)),
    ("svd", (SPD,), dict(hermitian=True)), ("svd", (C,), dict(compute_uv=False)),
    ("svdvals", (A,), {}), ("eigh", (SPD,), {}), ("eigh", (SPD,), dict(UPLO="U")),
    ("eigvalsh", (SPD,), {}), ("eig", (A[0],), {}), ("eigvals", (A,), {}),
    ("lstsq", (W.T, W.T[:, 0]), {}), ("lstsq", (W.T, W.T[:, :2]), dict(rcond=1e-3)),
    ("pinv", (W,), {}), ("pinv", (SPD,), dict(hermitian=True)), ("matrix_rank", (A,), {}),
    ("matrix_power", (A, 3), {}), ("matrix_power", (A, 0), {}), ("norm", (A,), {}),
    ("vector_norm", (V,), {}), ("vector_norm", (V,), dict(ord=1, axis=0, keepdims=True)),
    ("matrix_norm", (A,), {}), ("matrix_norm", (A,), dict(ord="nuc")), ("cond", (A,), {}),
    ("multi_dot", ([W[0], W.T, W, W.T],), {}),
    ("tensorinv", (A[0].reshape(2, 2, 2, 2),), {}), ("tensorsolve", (A[0].reshape(4, 2, 2),
                                                                      V[0]), {}),
    ("cross", (W[:, :3], W[:, 2:]), {}), ("outer", (V[0], W[0]), {}), ("trace", (A,), {}),
    ("trace", (A,), dict(offset=1)), ("diagonal", (A,), dict(offset=-1)),
    ("vecdot", (V, V), {}), ("matrix_transpose", (A,), {}),
    ("tensordot", (A, A.transpose(1, 2, 0)), {}), ("matmul", (A, B), {}),
    ("det", (np.array([[1, 2], [3, 4]]),), {}),
]
NORMS = [None, 1, -1, 2, -2, np.inf, -np.inf, "fro", "nuc"]
VNORMS = [None, 0, 1, -1, 2, 3, np.inf, -np.inf]


def _leaves(x):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(x)]


def _compare(got, want, tol):
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        scale = max(1.0, float(np.abs(w).max(initial=0)))
        assert_close(g, w, rtol=tol, atol=tol * scale)


@requires_jax
@pytest.mark.parametrize("name,args,kw", CASES, ids=[f"{c[0]}{i}" for i, c in
                                                   enumerate(CASES)])
def test_matches_jax(backend, name, args, kw):
    fn = getattr(pnp.linalg, name)
    # compiling backends: the whole function as one program (not one compile per operation)
    got = plax.jit(lambda: fn(*args, **kw))() if backend != "reference" else fn(*args, **kw)
    want = getattr(jnp.linalg, name)(*args, **kw)
    _compare(got, want, 1e-3 if name in ("matrix_power", "cond", "tensorinv") else 2e-4)


@requires_jax
@pytest.mark.parametrize("ord", NORMS, ids=str)
def test_matrix_norms(backend, ord):
    _compare(pnp.linalg.norm(A, ord=ord, axis=(-2, -1)),
             jnp.linalg.norm(A, ord=ord, axis=(-2, -1)), 2e-4)
    _compare(pnp.linalg.norm(A, ord=ord, axis=(0, 2), keepdims=True),
             jnp.linalg.norm(A, ord=ord, axis=(0, 2), keepdims=True), 2e-4)


@requires_jax
@pytest.mark.parametrize("ord", VNORMS, ids=str)
def test_vector_norms(backend, ord):
    _compare(pnp.linalg.norm(V, ord=ord, axis=1), jnp.linalg.norm(V, ord=ord, axis=1), 2e-4)


SINGULAR = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]], np.float32)  # rank 2
RANK1 = np.outer([1.0, 2, 3], [1.0, -1, 2]).astype(np.float32)

GRADS = [
    ("det", lambda L, x: L.det(x), (A[0, :3, :3],)),
    ("det_singular", lambda L, x: L.det(x), (SINGULAR,)),
    ("det_rank1", lambda L, x: L.det(x), (RANK1,)),
    ("slogdet", lambda L, x: L.slogdet(x)[1], (A[0],)),
    ("solve", lambda L, x, y: L.solve(x, y).sum(), (A[:, :3, :3], B[:, :3])),
    ("inv", lambda L, x: (L.inv(x) ** 2).sum(), (A[0],)),
    ("pinv", lambda L, x: (L.pinv(x) ** 2).sum(), (W,)),
    ("norm2", lambda L, x: L.norm(x, 2), (W,)),
    ("norm_fro", lambda L, x: L.norm(x), (W,)),
    ("eigvalsh", lambda L, x: (L.eigvalsh(x) ** 2).sum(), (SPD[0],)),
    ("cholesky", lambda L, x: (L.cholesky(x) ** 2).sum(), (SPD[0],)),
    ("lstsq", lambda L, x, y: (L.lstsq(x, y)[0] ** 2).sum(), (W.T, W.T[:, 0])),
]


@requires_jax
@pytest.mark.parametrize("name,fn,args", GRADS, ids=[g[0] for g in GRADS])
def test_grads_match_jax(backend, name, fn, args):
    nums = tuple(range(len(args)))
    g = plax.grad(lambda *a: fn(pnp.linalg, *a), nums)
    got = (plax.jit(g) if backend != "reference" else g)(*args)
    want = jax.grad(lambda *a: fn(jnp.linalg, *a), nums)(*args)
    _compare(got, want, 2e-3)


@pytest.mark.parametrize("name,fn,args", [g for g in GRADS if g[0] not in
                                          ("det_singular", "det_rank1", "norm2")],
                         ids=[g[0] for g in GRADS if g[0] not in
                              ("det_singular", "det_rank1", "norm2")])
def test_check_grads_second_order(name, fn, args):
    with plax.enable_x64():
        args = tuple(np.asarray(a, np.float64) for a in args)
        # second order where it is cheap; lstsq and pinv (SVD-based) to first order
        check_grads(lambda *a: fn(pnp.linalg, *a), args,
                    order=1 if name in ("lstsq", "pinv") else 2, modes=("fwd", "rev"),
                    atol=1e-5, rtol=1e-5)


def test_jit_and_vmap(backend):
    f = plax.jit(lambda a, b: (pnp.linalg.solve(a, b), pnp.linalg.det(a),
                               pnp.linalg.slogdet(a)))
    with plax.default_backend("reference"):
        want = (pnp.linalg.solve(A, B), pnp.linalg.det(A), pnp.linalg.slogdet(A))
    _compare(f(A, B), want, 1e-4)
    got = plax.jit(plax.vmap(pnp.linalg.inv))(A)
    _compare(got, np.stack([np.linalg.inv(a) for a in A]), 1e-4)
    got = plax.jit(plax.vmap(plax.grad(pnp.linalg.det)))(A)
    want = np.stack([np.linalg.det(a) * np.linalg.inv(a).T for a in A.astype(np.float64)])
    assert_close(got, want, rtol=1e-3, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., n, n\)"):
        pnp.linalg.det(np.ones((2, 3)))
    with pytest.raises(ValueError, match="incompatible shapes"):
        pnp.linalg.solve(np.eye(3), np.ones((2, 4)))
    with pytest.raises(TypeError, match="float16 is not supported"):
        pnp.linalg.inv(np.eye(2, dtype=np.float16))
    with pytest.raises(ValueError, match="unknown method"):
        pnp.linalg.slogdet(np.eye(2), method="svd")
    with pytest.raises(ValueError, match="size 3"):
        pnp.linalg.cross(np.ones(2), np.ones(2))


def test_module_surface_matches_jax():
    import importlib
    mod = importlib.import_module("plax.numpy.linalg")
    assert mod is pnp.linalg
    names = {n for n in dir(jnp.linalg) if not n.startswith("_")}
    assert not sorted(n for n in names if not hasattr(mod, n))
