"""plax.scipy.fft's DCT-II and inverse against jax.scipy.fft (values, dtypes, n/s padding and
truncation, norms, complex and integer inputs) and scipy.fft, under jit and grad."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.fft as pf

R = np.random.RandomState(0)
X = np.float32(R.randn(3, 7, 6))
Z = (X + 1j * np.float32(R.randn(3, 7, 6))).astype(np.complex64)
CASES = {  # (few cases: JAX compiles each transform; SciPy checks the rest below)
    "dct_ortho_axis1": lambda m: m.dct(X, axis=1, norm="ortho"),
    "dct_cut": lambda m: m.dct(X, n=4), "idct_pad": lambda m: m.idct(X, n=8, axis=1),
    "dctn_s": lambda m: m.dctn(X, s=(8, 5)),
    "idctn_ortho": lambda m: m.idctn(X, axes=(1, 2), norm="ortho"),
    "dct_complex": lambda m: m.dct(Z), "dct_int": lambda m: m.dct(np.arange(5)),
}


@requires_jax
def test_against_jax():
    import jax
    import jax.scipy.fft as jf
    expected = jax.jit(lambda: {n: c(jf) for n, c in CASES.items()})()  # one compile
    for name, case in CASES.items():
        got, want = case(pf), expected[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert_close(got, np.asarray(want), rtol=2e-5, atol=2e-5)


def test_against_scipy_roundtrip_jit_grad_errors():
    import scipy.fft as sf
    for norm in (None, "ortho"):
        assert_close(pf.dct(X, norm=norm), sf.dct(X, norm=norm), rtol=2e-5, atol=2e-5)
        assert_close(pf.idct(X, axis=0, norm=norm), sf.idct(X, axis=0, norm=norm), rtol=2e-5,
                     atol=2e-5)
        assert_close(pf.dctn(X, axes=(0, 2), norm=norm), sf.dctn(X, axes=(0, 2), norm=norm),
                     rtol=2e-5, atol=2e-4)
        assert_close(pf.idctn(pf.dctn(X, norm=norm), norm=norm), X, rtol=1e-5, atol=1e-5)
    assert_close(plax.jit(lambda v: pf.dctn(v, axes=(1, 2)))(X), pf.dctn(X, axes=(1, 2)),
                 rtol=1e-6, atol=1e-6)
    # orthonormal: the gradient of sum(dct(x) * c) is the inverse transform of c
    c = np.float32(R.randn(6))
    g = plax.grad(lambda v: (pf.dct(v, norm="ortho") * c).sum())(X[0, 0])
    assert_close(g, pf.idct(c, norm="ortho"), rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="type 2"):
        pf.dct(X, type=3)
    with pytest.raises(ValueError, match="norm='forward'"):
        pf.idct(X, norm="forward")
    with pytest.raises(ValueError, match="at most x.ndim"):
        pf.dctn(X, s=(1, 2, 3, 4))
