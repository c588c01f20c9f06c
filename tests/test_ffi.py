"""plax.ffi_call and plax.ffi.register_ffi_target: XLA custom calls of typed-FFI kernels, tested
on jaxlib's own LAPACK kernels (Cholesky spotrf/dpotrf, triangular solve strsm) against NumPy,
eagerly, under jit, and under vmap with every vmap_method (against jax.ffi.ffi_call)."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from conftest import HAVE_JAX

pytest.importorskip("jaxlib")
from plax_xla._jaxlib import lapack_target  # noqa: E402 (jaxlib's LAPACK, initialized)

RNG = np.random.default_rng(0)
B = RNG.standard_normal((4, 4))
SPD = (B @ B.T + 4 * np.eye(4))


def potrf(target, a):
    """Lower Cholesky factor through the FFI (column-major layouts, as LAPACK reads them;
    major-to-minor, as jax.ffi takes them)."""
    out = (plax.ShapeDtypeStruct(a.shape, a.dtype), plax.ShapeDtypeStruct((), np.int32))
    return plax.ffi_call(target, out, input_layouts=[(1, 0)], output_layouts=[(1, 0), ()])(
        a, uplo=np.uint8(ord("L")))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_ffi_call_lapack_cholesky(dtype, rtol):
    a = SPD.astype(dtype)
    target = lapack_target("potrf_ffi", dtype)
    with plax.default_backend("xla"), plax.enable_x64(dtype == np.float64):
        l_eager, info = potrf(target, a)
        l_jit, info_jit = plax.jit(lambda x: potrf(target, x))(a)
    expected = np.linalg.cholesky(a)
    for out, inf in ((l_eager, info), (l_jit, info_jit)):
        assert int(inf) == 0 and np.asarray(out).dtype == dtype
        np.testing.assert_allclose(np.tril(np.asarray(out)), expected, rtol=rtol, atol=rtol)


def test_register_ffi_target_and_call_it_by_its_new_name():
    lapack_target("potrf_ffi", np.float64)  # initializes jaxlib's LAPACK
    from jaxlib import lapack
    capsule = next(c for n, c, _ in lapack.registrations()["cpu"] if n == "lapack_dpotrf_ffi")
    plax.ffi.register_ffi_target("plax_test_dpotrf", capsule, platform="cpu")
    assert ("plax_test_dpotrf", "cpu") in plax.ffi.registered_targets()
    with plax.default_backend("xla"), plax.enable_x64():
        # the direct form: ffi_call(target, result_shape_dtypes, *args, **attributes)
        l_, info = plax.ffi_call("plax_test_dpotrf",
                                 (plax.ShapeDtypeStruct((4, 4), np.float64),
                                  plax.ShapeDtypeStruct((), np.int32)), SPD,
                                 input_layouts=[(1, 0)], output_layouts=[(1, 0), ()],
                                 uplo=np.uint8(ord("L")))
    assert int(info) == 0
    np.testing.assert_allclose(np.tril(np.asarray(l_)), np.linalg.cholesky(SPD), rtol=1e-12)


def test_ffi_errors():
    out = plax.ShapeDtypeStruct((4, 4), np.float32)
    a = SPD.astype(np.float32)
    with plax.default_backend("xla"):
        with pytest.raises(ValueError, match="no FFI target named 'no_such_kernel'"):
            plax.jit(lambda x: plax.ffi_call("no_such_kernel", out)(x))(a)
        with pytest.raises(ValueError, match="input_layouts\\[0\\]: \\(0, 0\\)"):
            plax.ffi_call("lapack_spotrf_ffi", out, input_layouts=[(0, 0)])(a)
        with pytest.raises(TypeError, match="attribute 'uplo'"):
            plax.ffi_call("lapack_spotrf_ffi", out)(a, uplo=[1])
    with plax.default_backend("reference"):
        with pytest.raises(plax.UnsupportedPrimitiveError, match="reference backend has no FFI"):
            plax.ffi_call(lapack_target("potrf_ffi", np.float32), out)(a)
    with pytest.raises(TypeError, match="PyCapsule"):
        plax.ffi.register_ffi_target("x", lambda: None)


VMAP_METHODS = ["sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized"]
SPD3 = np.stack([SPD + i * np.eye(4) for i in range(3)]).astype(np.float32)


def u8(c):
    return np.uint8(ord(c))


def trsm(api, ffi_call, method):
    """b -> a^-1 b for a lower triangular `a` (LAPACK trsm through the FFI)."""
    t = lapack_target("trsm_ffi", np.float32)
    return lambda a, b: ffi_call(t, api.ShapeDtypeStruct(b.shape, b.dtype),
                                 input_layouts=[(1, 0), (1, 0)], output_layouts=(1, 0),
                                 vmap_method=method)(
        a, b, side=u8("L"), uplo=u8("L"), trans_x=u8("N"), diag=u8("N"))


@pytest.mark.parametrize("method", VMAP_METHODS)
def test_ffi_call_vmap_methods(method):
    """Each vmap_method against jax.ffi.ffi_call under jax.vmap (same kernel, same bits) and
    NumPy: a batch of Cholesky factors (one batched operand), eagerly and under jit; the
    sequential methods are a scan of single calls, the others one call on the batch."""
    target = lapack_target("potrf_ffi", np.float32)
    out = (plax.ShapeDtypeStruct((4, 4), np.float32), plax.ShapeDtypeStruct((), np.int32))

    def chol(x):
        return plax.ffi_call(target, out, input_layouts=[(1, 0)], output_layouts=[(1, 0), ()],
                             vmap_method=method)(x, uplo=u8("L"))

    with plax.default_backend("xla"):
        l_, info = plax.vmap(chol)(SPD3)
        l_jit, _ = plax.jit(plax.vmap(chol))(SPD3)
    eqn = plax.make_jaxpr(plax.vmap(chol))(SPD3).jaxpr.eqns[-1]
    assert eqn.primitive.name == ("scan" if method.startswith("sequential") else "ffi_call")
    np.testing.assert_array_equal(np.asarray(info), np.zeros(3, np.int32))
    np.testing.assert_allclose(np.tril(np.asarray(l_)), np.linalg.cholesky(SPD3), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(np.asarray(l_jit), np.asarray(l_))
    if HAVE_JAX:
        import jax
        want, _ = jax.vmap(lambda x: jax.ffi.ffi_call(
            target, (jax.ShapeDtypeStruct((4, 4), np.float32),
                     jax.ShapeDtypeStruct((), np.int32)),
            input_layouts=[(1, 0)], output_layouts=[(1, 0), ()], vmap_method=method)(
                x, uplo=u8("L")))(SPD3)
        np.testing.assert_array_equal(np.asarray(l_), np.asarray(want))


@pytest.mark.parametrize("method", ["sequential", "broadcast_all"])
def test_ffi_call_vmap_with_an_unbatched_operand(method):
    """vmap over b only: the sequential scan closes over the unbatched triangle, broadcast_all
    gives it the batch axis; both against JAX and NumPy's solve."""
    a = np.tril(SPD).astype(np.float32)
    bs = np.random.default_rng(1).standard_normal((3, 4, 2)).astype(np.float32)
    with plax.default_backend("xla"):
        got = np.asarray(plax.vmap(trsm(plax, plax.ffi_call, method), in_axes=(None, 0))(a, bs))
    np.testing.assert_allclose(got, np.linalg.solve(a, bs), rtol=1e-5, atol=1e-5)
    if HAVE_JAX:
        import jax
        want = jax.vmap(trsm(jax, jax.ffi.ffi_call, method), in_axes=(None, 0))(a, bs)
        np.testing.assert_array_equal(got, np.asarray(want))


def test_ffi_call_vmap_method_errors_and_legacy_vectorized():
    out = plax.ShapeDtypeStruct((4, 4), np.float32)
    a = SPD3
    t = "lapack_spotrf_ffi"
    with pytest.raises(NotImplementedError, match="vmap of ffi_call\\('lapack_spotrf_ffi'\\) "
                                                  "needs a vmap_method"):
        plax.make_jaxpr(plax.vmap(lambda x: plax.ffi_call(t, out)(x)))(a)
    with pytest.raises(ValueError, match="vmap_method must be one of .* got 'parallel'"):
        plax.ffi_call(t, out, vmap_method="parallel")
    with pytest.raises(ValueError, match="vmap_method or the deprecated vectorized"):
        plax.ffi_call(t, out, vmap_method="sequential", vectorized=True)
    for flag, method in ((True, "legacy_vectorized"), (False, "sequential")):
        with pytest.warns(DeprecationWarning, match="vectorized argument is deprecated"):
            call = plax.ffi_call(t, out, vectorized=flag)
        eqn = plax.make_jaxpr(call)(a[0]).jaxpr.eqns[0]
        assert eqn.params["vmap_method"] == method
    with pytest.raises(NotImplementedError, match="ffi_call\\('lapack_spotrf_ffi'\\) cannot be "
                                                  "differentiated"):
        plax.jvp(lambda x: plax.ffi_call(t, out)(x), (a[0],), (a[0],))
