"""plax.ffi_call and plax.ffi.register_ffi_target: XLA custom calls of typed-FFI kernels, tested
on jaxlib's own LAPACK kernels (Cholesky, spotrf/dpotrf) against NumPy, eagerly and under jit."""

from __future__ import annotations

import numpy as np
import pytest

import plax

pytest.importorskip("jaxlib")
from plax_xla._jaxlib import lapack_target  # noqa: E402 (jaxlib's LAPACK, initialized)

RNG = np.random.default_rng(0)
B = RNG.standard_normal((4, 4))
SPD = (B @ B.T + 4 * np.eye(4))


def potrf(target, a):
    """Lower Cholesky factor through the FFI (column-major layouts, as LAPACK reads them)."""
    out = (plax.ShapeDtypeStruct(a.shape, a.dtype), plax.ShapeDtypeStruct((), np.int32))
    return plax.ffi_call(target, out, input_layouts=[(0, 1)], output_layouts=[(0, 1), ()])(
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
                                 input_layouts=[(0, 1)], output_layouts=[(0, 1), ()],
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
