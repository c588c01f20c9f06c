"""lax.linalg's GPU lowerings on the xla backend, checked without a GPU: with the lowering rules
told the platform is 'cuda', every decomposition must call the CUDA plugin's kernels exactly as
JAX 0.10.2 does when it lowers the same program for 'cuda' (`lowering_platforms=("cuda",)`,
which needs no GPU either): the same targets in the same order, with the same options
(mhlo.backend_config), operand and result layouts, aliases and types. A GPU session runs the
numbers (bench/gpu.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import plax
from plax.lax import linalg as L

from conftest import HAVE_JAX, installed_backends, requires_jax

if HAVE_JAX:
    import jax
    from jax.lax import linalg as JL

pytestmark = [requires_jax,
              pytest.mark.skipif("xla" not in installed_backends(),
                                 reason="the xla backend is not installed")]


def _balanced(text: str, start: int) -> str:
    """The bracketed text that opens at text[start] ('[' or '{'), brackets included."""
    pairs = {"[": "]", "{": "}", "<": ">", "(": ")"}
    stack, i = [], start
    while True:
        c = text[i]
        if c in pairs:
            stack.append(pairs[c])
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return text[start:i + 1]
        i += 1


def custom_calls(module_text: str) -> list[dict]:
    """Each stablehlo.custom_call of a module: target, options, layouts, aliases, types."""
    calls = []
    for line in module_text.splitlines():
        m = re.search(r"stablehlo\.custom_call @([\w.]+)\(", line)
        if not m:
            continue
        attrs_at = line.index("{", m.end())
        attrs = _balanced(line, attrs_at)
        call = {"target": m.group(1), "types": line[attrs_at + len(attrs):].split(" loc(")[0]
                .strip()}
        for key in ("mhlo.backend_config", "operand_layouts", "result_layouts",
                    "output_operand_aliases"):
            k = attrs.find(key + " = ")
            call[key] = _balanced(attrs, k + len(key) + 3) if k >= 0 else None
        nb = re.search(r'num_batch_dims = "(\d+)"', attrs)
        call["num_batch_dims"] = nb.group(1) if nb else None
        calls.append(call)
    return calls


def jax_cuda_text(f, *args) -> str:
    shapes = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in args]
    return jax.jit(f).trace(*shapes).lower(lowering_platforms=("cuda",)).as_text()


@pytest.fixture
def cuda_lowering(monkeypatch):
    from plax_xla import lower_lapack
    monkeypatch.setattr(lower_lapack, "FORCE_PLATFORM", "cuda")
    plax.clear_caches()
    yield
    monkeypatch.setattr(lower_lapack, "FORCE_PLATFORM", None)
    plax.clear_caches()


def plax_cuda_text(f, *args) -> str:
    return plax.jit(f, backend="xla").lower(*args).as_text()


rng = np.random.default_rng(0)


def m(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


C64 = np.complex64
CASES = {
    "cholesky": (lambda ns: lambda a: ns.cholesky(a), [m(2, 4, 4)]),
    "cholesky_c128": (lambda ns: lambda a: ns.cholesky(a), [m(3, 3).astype(np.complex128)]),
    "lu": (lambda ns: lambda a: ns.lu(a), [m(4, 5)]),
    "lu_batched": (lambda ns: lambda a: ns.lu(a), [m(3, 4, 4)]),
    "householder_product": (lambda ns: lambda a, t: ns.householder_product(a, t),
                            [m(5, 3), m(3)]),
    "qr": (lambda ns: lambda a: ns.qr(a, full_matrices=False), [m(5, 3)]),
    "qr_full_wide": (lambda ns: lambda a: ns.qr(a, full_matrices=True), [m(2, 3, 5)]),
    "qr_pivoting": (lambda ns: lambda a: ns.qr(a, pivoting=True, full_matrices=False),
                    [m(5, 3)]),
    "svd_jacobi_small": (lambda ns: lambda a: ns.svd(a, full_matrices=False), [m(5, 3)]),
    "svd_jacobi_full": (lambda ns: lambda a: ns.svd(a, full_matrices=True), [m(2, 5, 3)]),
    "svd_jacobi_econ": (lambda ns: lambda a: ns.svd(a, full_matrices=False), [m(40, 36)]),
    "svd_no_uv": (lambda ns: lambda a: ns.svd(a, compute_uv=False), [m(5, 3)]),
    "svd_complex": (lambda ns: lambda a: ns.svd(a, full_matrices=False), [m(5, 3, dtype=C64)]),
    "svd_qr_wide": (lambda ns: lambda a: ns.svd(a, full_matrices=False,
                                              algorithm=ns.SvdAlgorithm.QR), [m(3, 5)]),
    "svd_qr_tall_full": (lambda ns: lambda a: ns.svd(a, full_matrices=True,
                                                   algorithm=ns.SvdAlgorithm.QR), [m(5, 3)]),
    "svd_qr_no_uv": (lambda ns: lambda a: ns.svd(a, compute_uv=False,
                                               algorithm=ns.SvdAlgorithm.QR), [m(3, 5)]),
    "svd_polar": (lambda ns: lambda a: ns.svd(a, full_matrices=False,
                                            algorithm=ns.SvdAlgorithm.POLAR), [m(5, 3)]),
    "eigh": (lambda ns: lambda a: ns.eigh(a), [m(4, 4)]),
    "eigh_upper_complex": (lambda ns: lambda a: ns.eigh(a, lower=False), [m(2, 4, 4, dtype=C64)]),
    "eig_real": (lambda ns: lambda a: ns.eig(a), [m(4, 4)]),
    "eig_complex_right": (lambda ns: lambda a: ns.eig(a, compute_left_eigenvectors=False),
                          [m(2, 4, 4, dtype=C64)]),
    "tridiagonal": (lambda ns: lambda a: ns.tridiagonal(a), [m(4, 4)]),
    "tridiagonal_upper": (lambda ns: lambda a: ns.tridiagonal(a, lower=False),
                          [m(2, 5, 5, dtype=C64)]),
    "tridiagonal_solve": (lambda ns: lambda dl, d, du, b: ns.tridiagonal_solve(dl, d, du, b),
                          [m(4), m(4), m(4), m(4, 2)]),
}


def _plax_jax_fns(name):
    make, args = CASES[name]
    return make(L), make(JL), args


@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_custom_calls_match_jax(cuda_lowering, name):
    pf, jf, args = _plax_jax_fns(name)
    want = custom_calls(jax_cuda_text(jf, *args))
    got = custom_calls(plax_cuda_text(pf, *args))
    # JAX turns lu's pivots into a permutation with the plugin's own kernel; plax composes it
    # from lax operations (the same permutation), so that call is not expected from plax
    want = [c for c in want if c["target"] != "cu_lu_pivots_to_permutation"]
    assert [c["target"] for c in got] == [c["target"] for c in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, f"{name}: {g['target']}"


def test_cuda_small_tridiagonal_solve_is_solved_in_place(cuda_lowering):
    """cuSPARSE's gtsv2 needs 3 rows: 1- and 2-row systems are composed of lax operations."""
    for n in (1, 2):
        dl, d, du, b = m(n), m(n) + 3, m(n), m(n, 3)
        dl[0] = du[-1] = 0
        text = plax_cuda_text(lambda *a: L.tridiagonal_solve(*a), dl, d, du, b)
        assert "custom_call" not in text
        dense = np.diag(d) + np.diag(dl[1:], -1) + np.diag(du[:-1], 1)
        got = plax.jit(lambda *a: L.tridiagonal_solve(*a), backend="xla")(dl, d, du, b)
        np.testing.assert_allclose(np.asarray(got), np.linalg.solve(dense, b), rtol=1e-5)


def test_cuda_lowering_refuses_what_has_no_gpu_kernel(cuda_lowering):
    a = m(4, 4)
    for f, what in ((lambda x: L.schur(x)[0], "schur"), (lambda x: L.hessenberg(x)[0],
                                                         "hessenberg")):
        with pytest.raises(NotImplementedError, match=f"lax.linalg.{what}.*CPU only"):
            plax_cuda_text(f, a)
    with pytest.raises(NotImplementedError, match="DIVIDE_AND_CONQUER"):
        plax_cuda_text(lambda x: L.svd(x, algorithm=L.SvdAlgorithm.DIVIDE_AND_CONQUER), a)


def test_cuda_triangular_solve_is_stablehlo(cuda_lowering):
    a, b = np.tril(m(4, 4)) + 4 * np.eye(4, dtype=np.float32), m(4, 3)
    text = plax_cuda_text(lambda a, b: L.triangular_solve(a, b, left_side=True, lower=True),
                          a, b)
    assert "stablehlo.triangular_solve" in text and "custom_call" not in text


def test_svd_gpu_algorithms_on_the_cpu():
    """JACOBI and POLAR are GPU kernels: the xla CPU backend names the platform (as JAX),
    the reference backend computes the same decomposition; an unknown name is refused."""
    a = m(5, 3)
    with pytest.raises(NotImplementedError, match="SvdAlgorithm.*not on the CPU"):
        plax.jit(lambda x: L.svd(x, algorithm=L.SvdAlgorithm.JACOBI), backend="xla")(a)
    s = plax.jit(lambda x: L.svd(x, compute_uv=False, algorithm=L.SvdAlgorithm.POLAR),
                 backend="reference")(a)
    np.testing.assert_allclose(np.asarray(s), np.linalg.svd(a, compute_uv=False), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown algorithm"):
        L.svd(a, algorithm="magic")
