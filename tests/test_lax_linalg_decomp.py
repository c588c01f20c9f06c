"""lax.linalg's decompositions against jax.lax.linalg: values and dtypes on every backend
(the xla backend runs jaxlib's LAPACK kernels), derivatives to second order against finite
differences (float64) and JAX, vmap against loops, jit against eager, failures as NaNs."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.lax as lax
from plax.lax import linalg as L
from plax.test_util import check_grads

from conftest import HAVE_JAX, assert_close, installed_backends, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)

if HAVE_JAX:
    import jax
    from jax.lax import linalg as JL


def mat(rng, *shape, dtype=np.float32):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def spd(rng, n, *batch, dtype=np.float32):
    a = mat(rng, *batch, n, n, dtype=dtype)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


def lower_tri(rng, n, *batch, dtype=np.float32):
    return (np.tril(mat(rng, *batch, n, n, dtype=dtype)) + 3 * np.eye(n)).astype(dtype)


def sym_distinct(rng, n, dtype=np.float32):
    """A symmetric matrix with well separated eigenvalues (derivatives of eigh need them)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q @ np.diag(np.arange(1.0, n + 1) * 1.5) @ q.T).astype(dtype)


def tri_diags(rng, m, dtype=np.float32):
    dl, du = mat(rng, m, dtype=dtype), mat(rng, m, dtype=dtype)
    dl[0] = 0
    du[-1] = 0
    return dl, (mat(rng, m, dtype=dtype) + 4).astype(dtype), du


# Case functions take the lax module (plax.lax or jax.lax): L.linalg is the module under test
CASES = [
    Case("cholesky", lambda M, a: M.linalg.cholesky(a), lambda r: (spd(r, 4),)),
    Case("cholesky_batched", lambda M, a: M.linalg.cholesky(a), lambda r: (spd(r, 3, 2),)),
    Case("triangular_solve_left", lambda M, a, b: M.linalg.triangular_solve(
        a, b, left_side=True, lower=True), lambda r: (lower_tri(r, 3), mat(r, 3, 2)),
        diff=(0, 1)),
    Case("triangular_solve_right_t", lambda M, a, b: M.linalg.triangular_solve(
        a, b, left_side=False, lower=False, transpose_a=True),
        lambda r: (np.swapaxes(lower_tri(r, 3), 0, 1).copy(), mat(r, 2, 3)), diff=(0, 1)),
    Case("triangular_solve_unit", lambda M, a, b: M.linalg.triangular_solve(
        a, b, left_side=True, lower=True, unit_diagonal=True),
        lambda r: (lower_tri(r, 3) * 0.3, mat(r, 3, 4)), diff=(0, 1)),
    Case("lu", lambda M, a: M.linalg.lu(a)[0], lambda r: (mat(r, 4, 4),)),
    Case("lu_wide", lambda M, a: M.linalg.lu(a)[0], lambda r: (mat(r, 3, 5),)),
    Case("lu_tall", lambda M, a: M.linalg.lu(a)[0], lambda r: (mat(r, 5, 3),)),
    Case("qr", lambda M, a: M.linalg.qr(a), lambda r: (mat(r, 4, 4),)),
    Case("qr_reduced", lambda M, a: M.linalg.qr(a, full_matrices=False),
         lambda r: (mat(r, 5, 3),)),
    Case("qr_wide", lambda M, a: M.linalg.qr(a), lambda r: (mat(r, 3, 5),)),
    Case("qr_full_tall", lambda M, a: M.linalg.qr(a), lambda r: (mat(r, 5, 3),), order=1),
    Case("eigh", lambda M, a: M.linalg.eigh(a), lambda r: (sym_distinct(r, 4),)),
    Case("eigh_values", lambda M, a: M.linalg.eigh(a)[1], lambda r: (sym_distinct(r, 3),)),
    Case("svd_values", lambda M, a: M.linalg.svd(a, compute_uv=False),
         lambda r: (mat(r, 4, 3),)),
    Case("svd_reduced", lambda M, a: M.linalg.svd(a, full_matrices=False),
         lambda r: (mat(r, 3, 4),)),
    Case("svd_square", lambda M, a: M.linalg.svd(a), lambda r: (mat(r, 3, 3),)),
    Case("tridiagonal_solve", lambda M, dl, d, du, b: M.linalg.tridiagonal_solve(
        dl, d, du, b), lambda r: (*tri_diags(r, 5), mat(r, 5, 2)), diff=(1, 3)),
    Case("tridiagonal_solve_perturbed", lambda M, dl, d, du, b: M.linalg.tridiagonal_solve(
        dl, d, du, b, perturb_singular=True), lambda r: (*tri_diags(r, 5), mat(r, 5, 2)),
        diff=(1, 3)),
]

# eigenvalues of a general matrix (complex outputs): JAX's rule, first order
EIG = [
    Case("eig_values", lambda M, a: M.real(M.linalg.eig(
        a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]),
        lambda r: (sym_distinct(r, 3) + np.triu(mat(r, 3, 3), 1) * 0.1,), order=1),
]

NO_DERIVATIVE = [  # JAX defines no derivative for these: values, vmap and jit only
    Case("schur", lambda M, a: M.linalg.schur(a), lambda r: (mat(r, 4, 4),), diff=()),
    Case("hessenberg", lambda M, a: M.linalg.hessenberg(a), lambda r: (mat(r, 4, 4),),
         diff=()),
    Case("tridiagonal", lambda M, a: M.linalg.tridiagonal(a), lambda r: (spd(r, 4),),
         diff=()),
    Case("lu_pivots", lambda M, a: M.linalg.lu(a)[1:], lambda r: (mat(r, 4, 4),), diff=()),
]


def _x64(case: Case, rng):
    args = case.make(rng)
    return tuple(np.asarray(a).astype(np.float64) if np.asarray(a).dtype == np.float32 else a
                 for a in args)


@pytest.mark.parametrize("case", CASES + EIG, ids=repr)
def test_grads_second_order_x64(case):
    """Finite differences in float64 (float32 ones are too coarse for these rules)."""
    args = _x64(case, np.random.default_rng(0))
    with plax.enable_x64():
        f = case.plax_fn

        def part(*d):
            full = list(args)
            for i, v in zip(case.diff, d, strict=True):
                full[i] = v
            return f(*full)

        check_grads(part, tuple(args[i] for i in case.diff), order=case.order,
                    modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)  # JAX's float64 default


@requires_jax
@pytest.mark.parametrize("case", CASES + EIG, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1), rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("case", CASES + NO_DERIVATIVE, ids=repr)
def test_vmap(case):
    # JAX's vmap too for a few (a compile each); all against a loop of plax calls
    run_vmap(case, np.random.default_rng(2), with_jax=HAVE_JAX and case.name in (
        "cholesky_batched", "triangular_solve_right_t", "qr_wide", "svd_reduced", "schur"))


@pytest.mark.parametrize("case", CASES + NO_DERIVATIVE, ids=repr)
def test_jit(case, backend):  # on every installed backend
    if not case.diff:
        args = case.make(np.random.default_rng(3))
        with plax.default_backend("reference"):
            want = case.plax_fn(*args)
        got = plax.jit(case.plax_fn)(*args)
        for g, w in zip(got, want, strict=True):
            assert_close(g, w, rtol=1e-4, atol=1e-5)
        return
    run_jit(case, np.random.default_rng(3))


# ---------------------------------------------------------------------------------------------
# values and dtypes against JAX, on each backend, for every LAPACK dtype

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]

VALUE_FNS = {
    "cholesky": (lambda M, a: M.cholesky(a), lambda r, dt: spd(r, 4, 2, dtype=dt)),
    "triangular_solve": (lambda M, a: M.triangular_solve(
        a, a[..., :2, :], left_side=False, lower=True, transpose_a=True, conjugate_a=True),
        lambda r, dt: lower_tri(r, 3, 2, dtype=dt)),
    "lu": (lambda M, a: M.lu(a), lambda r, dt: mat(r, 2, 4, 3, dtype=dt)),
    "qr": (lambda M, a: M.qr(a, full_matrices=False), lambda r, dt: mat(r, 5, 3, dtype=dt)),
    "svd": (lambda M, a: M.svd(a), lambda r, dt: mat(r, 2, 3, 4, dtype=dt)),
    "eigh": (lambda M, a: M.eigh(a), lambda r, dt: spd(r, 4, 2, dtype=dt)),
    "eig": (lambda M, a: M.eig(a), lambda r, dt: mat(r, 4, 4, dtype=dt)),
    "schur": (lambda M, a: M.schur(a), lambda r, dt: mat(r, 4, 4, dtype=dt)),
    "hessenberg": (lambda M, a: M.hessenberg(a), lambda r, dt: mat(r, 4, 4, dtype=dt)),
    "tridiagonal": (lambda M, a: M.tridiagonal(a), lambda r, dt: spd(r, 4, dtype=dt)),
    "householder_product": (lambda M, a: M.householder_product(a, a[..., 0, :2]),
                            lambda r, dt: mat(r, 4, 3, dtype=dt)),
    "tridiagonal_solve": (lambda M, a: M.tridiagonal_solve(a[0], a[1], a[2], a[3:].T),
                          lambda r, dt: (mat(r, 5, 4, dtype=dt)
                                         + np.array([[0], [5], [0], [0], [0]])).astype(dt)),
}


# every dtype on the reference backend; float32 and complex128 on the compiling ones
BACKEND_DTYPES = [(b, dt) for b in installed_backends()
                  for dt in (DTYPES if b == "reference" else [np.float32, np.complex128])]


@requires_jax
@pytest.mark.parametrize("backend_name,dt", BACKEND_DTYPES,
                         ids=[f"{b}-{np.dtype(d).name}" for b, d in BACKEND_DTYPES])
@pytest.mark.parametrize("name", list(VALUE_FNS))
def test_values_and_dtypes_match_jax(backend_name, name, dt):
    fn, make = VALUE_FNS[name]
    a = make(np.random.default_rng(5), dt)
    x64 = np.dtype(dt) in (np.float64, np.complex128)
    with plax.enable_x64(x64), jax.enable_x64(x64), plax.default_backend(backend_name):
        # compiling backends: one program (not one compile per operation)
        got = fn(L, a) if backend_name == "reference" else plax.jit(lambda v: fn(L, v))(a)
        want = fn(JL, a)
    got, want = (list(v) if isinstance(v, (tuple, list)) else [v] for v in (got, want))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, w.dtype, g.shape, w.shape)
        tol = 1e-4 if g.dtype in (np.float32, np.complex64) else 1e-10
        scale = max(1.0, float(np.abs(w).max(initial=0)))
        assert_close(g, w, rtol=tol, atol=tol * scale)


def test_lu_pivots_to_permutation_matches_numpy(backend):
    piv = np.array([[2, 2, 3], [1, 2, 2], [0, 1, 2]], np.int32)
    got = np.asarray(L.lu_pivots_to_permutation(piv, 5))
    for row, p in zip(got, piv):
        want = np.arange(5)
        for i, j in enumerate(p):
            want[[i, j]] = want[[j, i]]
        np.testing.assert_array_equal(row, want)
    assert got.dtype == np.int32


def test_failures_give_nans(backend):
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)
    low = np.tril(np.ones((2, 2), bool))
    out = np.asarray(L.cholesky(not_pd))
    assert np.isnan(out[low]).all() and (out[~low] == 0).all()  # JAX's: NaN, then tril
    both = np.stack([not_pd, np.eye(2, dtype=np.float32)])
    out = np.asarray(plax.jit(L.cholesky)(both))
    assert np.isnan(out[0][low]).all() and np.array_equal(out[1], np.eye(2))
    # a singular matrix still factors (info > 0 only flags a zero pivot)
    lu, piv, perm = L.lu(np.zeros((3, 3), np.float32))
    assert not np.isnan(np.asarray(lu)).any()


def test_empty_matrices(backend):
    for shape in [(0, 0), (2, 0, 3), (3, 0)]:
        x = np.zeros(shape, np.float32)
        q, r = L.qr(x)
        assert q.shape == shape[:-2] + (shape[-2],) * 2 and r.shape == shape
        u, s, vt = L.svd(x)
        assert s.shape == shape[:-2] + (0,)
        assert u.shape[-1] == shape[-2] and vt.shape[-1] == shape[-1]
        lu, piv, perm = L.lu(x)
        np.testing.assert_array_equal(np.asarray(perm)[..., :],
                                      np.broadcast_to(np.arange(shape[-2]),
                                                      shape[:-2] + (shape[-2],)))


def test_errors():
    with pytest.raises(TypeError, match="square"):
        L.cholesky(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="float32, float64, complex64 or complex128.*int32"):
        L.eigh(np.ones((2, 2), np.int32), symmetrize_input=False)
    with pytest.raises(TypeError, match="incompatible shapes"):
        L.triangular_solve(np.eye(3, dtype=np.float32), np.ones((2, 2), np.float32),
                           left_side=True)
    with pytest.raises(TypeError, match="rank at least 2"):
        L.lu(np.ones(3, np.float32))
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
        plax.jvp(lambda a: L.eig(a)[1], (np.eye(2, dtype=np.float32),),
                 (np.eye(2, dtype=np.float32),))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        plax.jvp(lambda a: L.svd(a)[0], (np.ones((3, 2), np.float32),),
                 (np.ones((3, 2), np.float32),))


def _singular_systems(dt):
    """Tridiagonal systems a perturbed solve must get through: T - lambda I at an eigenvalue
    (inverse iteration), zero pivots with and without row exchanges, all-zero rows, tiny
    pivots under large right-hand sides, one and two rows, a batch."""
    rng = np.random.default_rng(11)
    real = np.finfo(dt).dtype
    out = []
    for n in (1, 2, 3, 6):
        e = rng.standard_normal(n).astype(real)
        t = np.diag(rng.standard_normal(n)) + np.diag(e[1:], 1) + np.diag(e[1:], -1)
        lam = np.linalg.eigvalsh(t)[n // 2]
        dl = np.concatenate([[0], e[1:]]).astype(dt)
        du = np.concatenate([e[1:], [0]]).astype(dt)
        d = (np.diag(t) - lam).astype(dt)
        out.append((dl, d, du, mat(rng, n, 2, dtype=dt)))
    z = np.zeros(4, dt)
    out.append((z, z, z, mat(rng, 4, 3, dtype=dt)))  # the zero matrix
    out.append((np.array([0, 1, 0, 2], dt), np.array([0, 0, 1e-30, 0], dt),
                np.array([1, 0, 3, 0], dt), (mat(rng, 4, 1, dtype=dt) * 1e20).astype(dt)))
    b_dl, b_d, b_du = (mat(rng, 3, 5, dtype=dt) for _ in range(3))
    b_d[1] = 0
    b_dl[:, 0] = 0
    b_du[:, -1] = 0
    b_dl[2] = 0  # a lower-triangular-free row: no exchanges at all
    out.append((b_dl, b_d, b_du, mat(rng, 3, 5, 2, dtype=dt)))
    return out


@requires_jax
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128])
def test_perturbed_tridiagonal_solve_of_singular_systems_matches_jax(dt):
    # jaxlib's kernel (perturbed pivots, after LAPACK's xLAGTS) on the xla backend, the
    # reference backend's NumPy version of it, and JAX: finite, and the same numbers
    f = lambda M: lambda *a: M.linalg.tridiagonal_solve(*a, perturb_singular=True)  # noqa: E731
    x64 = np.dtype(dt) in (np.float64, np.complex128)
    with plax.enable_x64(x64), jax.enable_x64(x64):
        for args in _singular_systems(dt):
            want = np.asarray(jax.jit(f(jax.lax))(*args))
            assert np.isfinite(want).all()
            for b in installed_backends():
                with plax.default_backend(b):
                    got = np.asarray(plax.jit(f(lax))(*args))
                assert got.dtype == want.dtype and got.shape == want.shape
                # a singular system's solution is its null vector scaled by 1 / (a pivot
                # of rounding noise): its direction is the answer (the noise, and so the
                # length, moves with the kernel's FMA contractions: complex128 here)
                unit = [v / np.abs(v).max(axis=(-2, -1), keepdims=True) for v in (got, want)]
                unit = [v / np.linalg.norm(v, axis=(-2, -1), keepdims=True) for v in unit]
                assert all(np.isfinite(v).all() for v in unit)
                assert_close(*unit, rtol=0, atol=256 * np.finfo(dt).eps, err_msg=b)
    # inverse iteration: the solution of (T - lambda I) x = r points along T's eigenvector
    t = np.diag([2.0, 3.0, 5.0]) + np.diag([1.0, 1.0], 1) + np.diag([1.0, 1.0], -1)
    w, v = np.linalg.eigh(t)
    with plax.enable_x64(True):
        x = np.asarray(L.tridiagonal_solve(np.array([0, 1, 1.0]), np.diag(t) - w[1],
                                           np.array([1, 1, 0.0]), np.ones((3, 1)),
                                           perturb_singular=True))[:, 0]
    assert_close(np.abs(x / np.linalg.norm(x)), np.abs(v[:, 1]), atol=1e-6)


def test_eigvec_derivs_when_enabled_match_jax():
    if not HAVE_JAX:
        pytest.skip("jax is not importable here")
    a = (sym_distinct(np.random.default_rng(6), 3) + np.triu(np.ones((3, 3)), 1) * 0.2)
    a = a.astype(np.float32)
    t = np.random.default_rng(7).standard_normal((3, 3)).astype(np.float32)
    got = plax.jvp(lambda x: L.eig(x, enable_eigvec_derivs=True), (a,), (t,))
    want = jax.jvp(lambda x: JL.eig(x, enable_eigvec_derivs=True), (a,), (t,))
    for g, w in zip(got[1], want[1], strict=True):
        assert_close(g, w, rtol=1e-3, atol=1e-4)


def test_plax_lax_linalg_is_a_module():
    import importlib
    mod = importlib.import_module("plax.lax.linalg")
    assert mod is lax.linalg
    for name in ("cholesky", "triangular_solve", "lu", "lu_pivots_to_permutation", "qr",
                 "householder_product", "svd", "eigh", "eig", "schur", "hessenberg",
                 "tridiagonal", "tridiagonal_solve"):
        assert callable(getattr(mod, name))


def test_xla_lowers_to_lapack_custom_calls():
    if "xla" not in conftest_backends():
        pytest.skip("the xla backend is not installed")
    from plax._src import registry
    closed = plax.make_jaxpr(lambda a: L.svd(L.cholesky(a)))(np.eye(3, dtype=np.float32))
    text = registry.get_backend("xla").lower_text(closed)
    assert "lapack_spotrf_ffi" in text and "lapack_sgesdd_ffi" in text


def conftest_backends():
    from conftest import installed_backends
    return installed_backends()


def test_xla_generic_lowering_of_cholesky_and_triangular_solve(monkeypatch):
    """The StableHLO cholesky/triangular_solve a TPU runs (a GPU runs triangular_solve so too),
    checked on the CPU; the decompositions with LAPACK and cuSOLVER kernels only name the
    platform they miss (tests/test_linalg_gpu_lowering.py checks the cuSOLVER lowerings)."""
    if "xla" not in conftest_backends():
        pytest.skip("the xla backend is not installed")
    from plax._src import registry
    from plax_xla import lower_lapack
    monkeypatch.setattr(lower_lapack, "FORCE_PLATFORM", "tpu")
    plax.clear_caches()
    try:
        rng = np.random.default_rng(8)
        a, b = spd(rng, 5, 2), mat(rng, 2, 5, 3)
        c = lower_tri(rng, 5, 2, dtype=np.complex64)

        def f(a, b, c):
            L = L_.cholesky(a)
            x = L_.triangular_solve(L, b, left_side=True, lower=True)
            y = L_.triangular_solve(L, x, left_side=True, lower=True, transpose_a=True)
            z = L_.triangular_solve(c, c, left_side=False, lower=True, conjugate_a=True)
            w = L_.triangular_solve(c, c, left_side=True, lower=True, transpose_a=True,
                                    conjugate_a=True, unit_diagonal=True)
            return L, y, z, w

        L_ = L
        closed = plax.make_jaxpr(f)(a, b, c)
        text = registry.get_backend("xla").lower_text(closed)
        assert "stablehlo.cholesky" in text and "lapack_" not in text
        got = plax.jit(f, backend="xla")(a, b, c)
        with plax.default_backend("reference"):
            want = f(a, b, c)
        for g, w in zip(got, want, strict=True):
            assert_close(g, w, rtol=1e-4, atol=1e-4)
        with pytest.raises(NotImplementedError, match="cuSOLVER on NVIDIA GPUs, not on 'tpu'"):
            plax.jit(lambda x: L.lu(x)[0], backend="xla")(a[0])
    finally:
        monkeypatch.setattr(lower_lapack, "FORCE_PLATFORM", None)
        plax.clear_caches()


@requires_jax
def test_compositions_match_jax(backend):
    """symmetric_product, cholesky_update and ormqr (compositions of the primitives)."""
    rng = np.random.default_rng(9)
    a, c = mat(rng, 4, 3), spd(rng, 4)
    got = L.symmetric_product(a, c, alpha=2.0, beta=0.5, symmetrize_output=True)
    assert_close(got, JL.symmetric_product(a, c, alpha=2.0, beta=0.5, symmetrize_output=True),
                 rtol=1e-5, atol=1e-5)
    r = np.linalg.cholesky(spd(rng, 4).astype(np.float64)).T.astype(np.float32)
    w = mat(rng, 4)
    assert_close(plax.jit(L.cholesky_update)(r, w), JL.cholesky_update(r, w), rtol=1e-5,
                 atol=1e-5)
    h, t = L.geqrf(a)
    for left in (True, False):
        for tr in (True, False):
            cc = mat(rng, *((4, 2) if left else (2, 4)))
            assert_close(L.ormqr(h, t, cc, left=left, transpose=tr),
                         JL.ormqr(np.asarray(h), np.asarray(t), cc, left=left, transpose=tr),
                         rtol=1e-5, atol=1e-5)
