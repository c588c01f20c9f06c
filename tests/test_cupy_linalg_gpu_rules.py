"""plax_cupy's linear algebra off the host: tridiagonal_solve as a generated kernel (one thread
per system and right-hand side running LAPACK's xGTSV as the reference backend does; with
perturb_singular one thread per system running the reference's perturbed pivoted LU), and the
GPU library rules of lib_decomp (lu, geqrf, householder_product through CuPy on the GPU), run
here in the host build through NumPy/SciPy. Against the reference backend and JAX; derivatives
with check_grads on the cupy backend; launch counts; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from plax import lax
from plax.extend import registry

from conftest import assert_close, requires_jax
from cupy_helpers import (
    assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused, to_device, to_host)


@pytest.fixture(autouse=True)
def _x64():
    with plax.enable_x64():
        yield


def _rand(shape, dt, rng):
    x = rng.standard_normal(shape)
    if np.dtype(dt).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


def _system(batch, n, k, dt, seed):
    rng = np.random.default_rng(seed)
    return [_rand(batch + (n,), dt, rng) for _ in range(3)] + [_rand(batch + (n, k), dt, rng)]


def _tol(dt):
    return 1e-5 if np.dtype(dt) in (np.float32, np.complex64) else 1e-12


def _solve(perturb):
    return lambda dl, d, du, b: lax.linalg.tridiagonal_solve(dl, d, du, b,
                                                             perturb_singular=perturb)


SHAPES = [((), 1, 2), ((3,), 2, 1), ((2,), 5, 3), ((2, 3), 7, 2), ((), 33, 1), ((2,), 4, 0)]


@pytest.mark.parametrize("perturb", [False, True])
@pytest.mark.parametrize("dt", ["float32", "float64", "complex64", "complex128"])
def test_tridiagonal_solve_matches_reference(dt, perturb):
    """Every shape in one program, each one kernel; agreement to rounding with the reference
    (the same operations in the same order; complex division and C's contraction may round
    differently)."""
    args = []
    for k, (batch, n, m) in enumerate(SHAPES):
        args += _system(batch, n, m, dt, k)
        if n > 3:  # pivoting: a small diagonal entry somewhere
            args[-3][..., 1] *= 1e-3

    def f(*a):
        return [_solve(perturb)(*a[4 * i:4 * i + 4]) for i in range(len(SHAPES))]
    got, steps, launches = run_fused(f, *args)
    assert [s.kind for s in steps] == ["tridiag"] * len(SHAPES)
    assert launches == len(SHAPES) - 1  # (no right-hand side: nothing to launch)
    for g, w in zip(got, reference(f, *args)):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert_close(g, w, rtol=_tol(dt), atol=_tol(dt))


@pytest.mark.parametrize("dt", ["float64", "complex128"])
def test_singular_systems(dt):
    """xGTSV fails on an exactly singular system: NaNs for that system only, as the
    reference; perturb_singular gives the reference's finite solution (inverse iteration)."""
    dl, d, du, b = _system((3,), 4, 2, dt, 9)
    d[1] = 0.0
    dl[1, 1:], du[1] = 0.0, 0.0  # system 1: a zero row and column
    t = np.array([2.0, 1.0, 2.0, 1.5])  # system 2: T - lambda, lambda an eigenvalue of T
    lam = np.linalg.eigvalsh(np.diag(t) + np.diag([1.0] * 3, 1) + np.diag([1.0] * 3, -1))[0]
    dl[2], d[2], du[2] = [0, 1, 1, 1], t - lam, [1, 1, 1, 0]
    for perturb in (False, True):
        f = _solve(perturb)
        got, _, _ = run_fused(f, dl, d, du, b)
        want = reference(f, dl, d, du, b)[0]
        if not perturb:
            assert np.isnan(want[1]).all() and np.isnan(got[0][1]).all()
        else:
            assert np.isfinite(want).all()
        assert_close(got[0], want, rtol=1e-9, atol=1e-9)


def _launches():
    import plax_cupy
    return plax_cupy.launch_count()


def test_producers_inline_and_eager_calls_run_the_kernel():
    dl, d, du, b = _system((2,), 6, 3, "float64", 3)

    def f(dl, d, du, b):
        return lax.linalg.tridiagonal_solve(dl, d * 3.0 + 1.0, du, b.T.T) * 2.0
    got, steps, launches = run_fused(f, dl, d, du, b)
    assert launches == 2 and [s.kind for s in steps] == ["tridiag", "loop"]
    assert {"mul", "add"} <= {e.primitive.name for e in steps[0].eqns}
    want = reference(f, dl, d, du, b)[0]
    assert_close(got[0], want, rtol=1e-12, atol=1e-12)
    solve = _solve(True)
    with plax.default_backend("reference"):
        want = np.asarray(solve(dl, d, du, b))
    with plax.default_backend("cupy"):
        before = _launches()
        got = np.asarray(solve(dl, d, du, b))
        assert _launches() == before + 1
        with plax.config.override("cupy_fusion", False):  # the kernel still, not the host
            before = _launches()
            off = np.asarray(plax.jit(solve)(dl, d, du, b))
            assert _launches() == before + 1
    assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert_close(off, want, rtol=1e-12, atol=1e-12)


def test_tridiagonal_kernels_under_emulated_gpu_threads():
    """Both kernels as 2 blocks of 32 POSIX threads (grid-stride loops, the scratch
    interleaved over the work items), against the reference."""
    from plax_cupy import compiler
    args = _system((5, 3), 6, 2, "float64", 12)

    def f(dl, d, du, b):
        return [_solve(False)(dl, d, du, b), _solve(True)(dl, d, du, b)]
    emulated = compiler.build_emulated(kernels_of(f, *args), 2, 32)
    got, steps, _ = run_fused(f, *args, functions=emulated)
    assert [s.kind for s in steps] == ["tridiag", "tridiag"]
    for g, w in zip(got, reference(f, *args)):
        assert_close(g, w, rtol=1e-12, atol=1e-12)


def test_gradients_on_cupy():
    from plax.test_util import check_grads
    dl, d, du, b = _system((2,), 5, 2, "float64", 4)
    d = d + 4.0  # well conditioned
    with plax.default_backend("cupy"):
        for perturb in (False, True):
            check_grads(plax.jit(_solve(perturb)), (dl, d, du, b), order=1,
                        modes=["fwd", "rev"])
        g = plax.jit(plax.grad(lambda d, b: (lax.linalg.tridiagonal_solve(dl, d, du, b)
                                             ** 2).sum(), argnums=(0, 1)))(d, b)
    with plax.default_backend("reference"):
        w = plax.grad(lambda d, b: (lax.linalg.tridiagonal_solve(dl, d, du, b) ** 2).sum(),
                      argnums=(0, 1))(d, b)
    for x, y in zip(g, w):
        assert_close(np.asarray(x), np.asarray(y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bad", ["diagonals", "rhs", "dtype"])
def test_tridiagonal_bad_input(bad):
    dl, d, du, b = _system((2,), 5, 2, "float64", 5)
    if bad == "diagonals":
        du = du[:, :4]
    elif bad == "rhs":
        b = b[:, :4]
    else:
        b = b.astype(np.float32)
    with plax.default_backend("cupy"):
        with pytest.raises(TypeError, match="tridiagonal_solve"):
            lax.linalg.tridiagonal_solve(dl, d, du, b)


@requires_jax
@pytest.mark.parametrize("dt", ["float32", "complex128"])
def test_tridiagonal_matches_jax(dt):
    import jax
    dl, d, du, b = _system((3,), 9, 2, dt, 6)
    dl[:, 0], du[:, -1] = 0, 0  # JAX's convention
    with jax.enable_x64(True):
        want = np.asarray(jax.lax.linalg.tridiagonal_solve(dl, d, du, b))
    with plax.default_backend("cupy"):
        got = np.asarray(plax.jit(lax.linalg.tridiagonal_solve)(dl, d, du, b))
    assert got.dtype == want.dtype
    assert_close(got, want, rtol=10 * _tol(dt), atol=10 * _tol(dt))


def test_tridiagonal_solve_left_host_primitives():
    hosted = registry.get_backend("cupy").host_primitives()
    assert "tridiagonal_solve" not in hosted


def _corpus():
    ks = []
    for dt in ("float32", "float64", "complex64", "complex128"):
        for perturb in (False, True):
            for batch, n, m in SHAPES[:4]:
                ks += kernels_of(_solve(perturb), *_system(batch, n, m, dt, 0))
    big = [plax.ShapeDtypeStruct((4096, 512), np.float32)] * 3 + [
        plax.ShapeDtypeStruct((4096, 512, 4), np.float32)]
    ks += kernels_of(_solve(False), *big)
    return ks


def test_every_tridiagonal_kernel_compiles_with_nvrtc_for_sm90_without_spills():
    ks = _corpus()
    assert_nvrtc_sm90_without_spills(ks)


# ---------------------------------------------------------------------------------------------
# lu, geqrf, householder_product: lib_decomp's GPU rules (CuPy on the GPU), here through
# NumPy/SciPy


def _matrix(shape, dt, seed):
    return _rand(shape, dt, np.random.default_rng(seed))


def _ref(name, *args):
    prim = registry.primitives()[name]
    out = registry.impl_table("reference")[prim](*args)
    return out if isinstance(out, list) else [out]


def _gpu(name, *args):
    """The GPU rule on the test device's arrays (NumPy here, CuPy with
    PLAX_CUPY_TEST_DEVICE=gpu), its results as NumPy arrays."""
    from plax_cupy.lib_decomp import GPU_RULES
    out = GPU_RULES[name](*[to_device(a) for a in args])
    return [to_host(o) for o in (out if isinstance(out, list) else [out])]


MATRICES = [(4, 4), (2, 5, 3), (2, 1, 3, 6), (1, 1), (7, 2), (3, 0, 2), (0, 3)]


@pytest.mark.parametrize("dt", ["float32", "float64", "complex64", "complex128"])
def test_lu_geqrf_householder_rules_match_reference(dt):
    """(lu, pivots, permutation), geqrf's (Householder vectors + R, taus) in LAPACK's
    layout, and orgqr/ungqr from k <= n reflectors (k < n: the rest identities), against
    the reference's LAPACK calls; a singular matrix keeps its factors."""
    tol = _tol(dt) * 10
    for k, shape in enumerate(MATRICES):
        x = _matrix(shape, dt, k)
        if len(shape) == 3 and shape[0] == 2 and x.size:
            x[1, :, 0] = 0  # singular: an exactly zero pivot
        for name in ("lu", "geqrf"):
            got, want = _gpu(name, x), _ref(name, x)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape, (name, shape)
                if g.dtype.kind == "i":
                    np.testing.assert_array_equal(g, w)
                else:
                    assert_close(g, w, rtol=tol, atol=tol)
        m, n = shape[-2:]
        if m >= n:
            h, taus = _ref("geqrf", x)
            for kk in sorted({0, max(n - 1, 0), n}):
                got = _gpu("householder_product", h, taus[..., :kk])[0]
                want = _ref("householder_product", h, taus[..., :kk])[0]
                assert got.dtype == want.dtype and got.shape == want.shape
                assert_close(got, want, rtol=tol, atol=tol)


@pytest.fixture
def gpu_rules_on_cupy():
    """The cupy backend (host build) with lib_decomp's GPU rules installed, as the GPU
    build installs them."""
    from plax_cupy.lib_decomp import GPU_RULES
    backend = registry.get_backend("cupy")
    prims = registry.primitives()
    names = ("lu", "geqrf", "householder_product")
    saved = {n: backend._rules[prims[n]] for n in names}
    for n in names:
        backend._rules[prims[n]] = GPU_RULES[n]
    backend.clear_caches()
    try:
        yield backend
    finally:
        for n in names:
            backend._rules[prims[n]] = saved[n]
        backend.clear_caches()


def test_lu_gradients_and_jit_with_gpu_rules(gpu_rules_on_cupy):
    from plax.test_util import check_grads
    x = _matrix((2, 4, 4), "float64", 1) + 3 * np.eye(4)
    with plax.default_backend("cupy"):
        check_grads(lambda x: lax.linalg.lu(x)[0], (x,), order=1, modes=["fwd", "rev"])
        got = plax.jit(lambda x: [*lax.linalg.lu(x), *lax.linalg.geqrf(x)])(x)
        h, taus = lax.linalg.geqrf(x)
        q = plax.jit(lax.linalg.householder_product)(h, taus)
    with plax.default_backend("reference"):
        want = [*lax.linalg.lu(x), *lax.linalg.geqrf(x)]
        qw = lax.linalg.householder_product(*lax.linalg.geqrf(x))
    for g, w in zip(got + [q], want + [qw]):
        assert_close(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)


def test_bad_input_with_gpu_rules(gpu_rules_on_cupy):
    with plax.default_backend("cupy"):
        with pytest.raises(TypeError, match="householder_product"):
            lax.linalg.householder_product(np.ones((3, 5)), np.ones(3))
        with pytest.raises(TypeError, match="householder_product"):
            lax.linalg.householder_product(np.ones((5, 3)), np.ones(4))
        with pytest.raises(TypeError, match="lu"):
            lax.linalg.lu(np.ones(3))


@requires_jax
@pytest.mark.parametrize("dt", ["float32", "complex128"])
def test_gpu_rules_match_jax(dt):
    import jax
    from jax._src.lax import linalg as JL  # (geqrf is not public in jax.lax.linalg)
    x = _matrix((2, 5, 3), dt, 8)
    with jax.enable_x64(True):
        lu, piv, perm = (np.asarray(o) for o in JL.lu(x))
        h, taus = (np.asarray(o) for o in JL.geqrf(x))
        q = np.asarray(JL.householder_product(h, taus))
    tol = 10 * _tol(dt)
    got = _gpu("lu", x)
    assert_close(got[0], lu, rtol=tol, atol=tol)
    np.testing.assert_array_equal(got[1], piv)
    np.testing.assert_array_equal(got[2], perm)
    for g, w in zip(_gpu("geqrf", x), (h, taus)):
        assert_close(g, w, rtol=tol, atol=tol)
    assert_close(_gpu("householder_product", h, taus)[0], q, rtol=tol, atol=tol)
