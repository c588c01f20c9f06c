"""The special-function primitives (lax.igamma, igammac, igamma_grad_a, random_gamma_grad,
polygamma, zeta, betainc, bessel_i0e, bessel_i1e) against JAX on every backend: values, dtypes,
jit, vmap and derivatives (JAX's rules: finite differences of the defined directions)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
from plax import lax

A = np.array([0.5, 1.0, 2.5, 10.0, 0.1, 3.0, 0.7, 30.0], np.float32)
X = np.array([0.3, 2.0, 1.0, 12.0, 5.0, 0.0, 0.05, 25.0], np.float32)
M = np.array([0, 1, 2, 3, 1, 0, 4, 2], np.float32)

CASES = {  # name -> positional operands
    "igamma": (A, X), "igammac": (A, X), "igamma_grad_a": (A, X + 0.01),
    "random_gamma_grad": (A, X + 0.01), "polygamma": (M, X + 0.2), "zeta": (X + 1.5, A),
    "betainc": (A, A + 1, X / 30), "bessel_i0e": (X - 3,), "bessel_i1e": (X - 3,),
}


def jax_fn(name):
    import jax
    return getattr(jax.lax, name)


@requires_jax
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_against_jax(backend, name):
    args = CASES[name]
    out = getattr(lax, name)(*args)
    expected = np.asarray(jax_fn(name)(*args))
    assert out.dtype == expected.dtype == np.float32
    # xla runs JAX's own algorithms; the reference backend computes in float64 with SciPy
    tol = dict(rtol=2e-6, atol=1e-7) if backend == "xla" else dict(rtol=2e-5, atol=1e-6)
    assert_close(out, expected, **tol)


@requires_jax
@pytest.mark.parametrize("name", ["igamma", "igammac", "betainc", "bessel_i0e", "zeta"])
def test_float64_and_float16(backend, name):
    import jax
    args = CASES[name]
    with plax.enable_x64():
        jax.config.update("jax_enable_x64", True)
        try:
            a64 = [a.astype(np.float64) for a in args]
            out = getattr(lax, name)(*a64)
            exp = np.asarray(jax_fn(name)(*a64))
        finally:
            jax.config.update("jax_enable_x64", False)
    assert out.dtype == np.float64
    assert_close(out, exp, rtol=1e-9, atol=1e-12)
    a16 = [a.astype(np.float16) for a in args]
    out16 = getattr(lax, name)(*a16)
    assert out16.dtype == np.float16
    assert_close(out16, np.asarray(jax_fn(name)(*a16)), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_and_vmap(backend, name):
    args = CASES[name]
    eager = np.asarray(getattr(lax, name)(*args))
    assert_close(plax.jit(getattr(lax, name))(*args), eager, rtol=2e-6, atol=1e-7)
    mapped = plax.vmap(getattr(lax, name))(*[a.reshape(4, 2) for a in args])
    assert_close(mapped, eager.reshape(4, 2), rtol=2e-6, atol=1e-7)
    # one operand batched, the others broadcast scalars
    first = plax.vmap(lambda u: getattr(lax, name)(u, *[a[1] for a in args[1:]]))(args[0])
    loop = [np.asarray(getattr(lax, name)(u, *[a[1] for a in args[1:]])) for u in args[0]]
    assert_close(first, np.stack(loop), rtol=2e-6, atol=1e-7)


def test_domain_edges(backend):
    nan = np.float32(np.nan)
    out = np.asarray(lax.igamma(np.float32([0, -1, 1, 2, nan]), np.float32([0, 1, 0, np.inf, 1])))
    np.testing.assert_array_equal(np.isnan(out), [True, True, False, False, True])
    assert out[2] == 0 and out[3] == 1
    b = np.asarray(lax.betainc(np.float32([1, 1, -1]), np.float32([2, 2, 1]),
                               np.float32([0, 1, 0.5])))
    assert b[0] == 0 and b[1] == 1 and np.isnan(b[2])


def test_dtype_errors():
    with pytest.raises(TypeError, match="igamma.*int32"):
        lax.igamma(np.int32(1), np.int32(2))
    with pytest.raises(TypeError, match="same dtypes"):
        lax.zeta(np.float32(2), np.float16(1))


@pytest.mark.parametrize("name,argnums", [
    ("igamma", (0, 1)), ("igammac", (0, 1)), ("polygamma", (1,)), ("zeta", (1,)),
    ("betainc", (2,)), ("bessel_i0e", (0,)), ("bessel_i1e", (0,))])
def test_check_grads(backend, name, argnums):
    with plax.enable_x64():
        args = [a.astype(np.float64) for a in CASES[name]]
        if name.startswith("igamma"):
            args = [args[0][:5], args[1][:5] + 0.3]
        if name == "betainc":  # inside (0, 1), away from the edges' infinite slopes
            args = [args[0][:4] + 0.5, args[1][:4] + 0.5, args[2][:4] + 0.1]
        fixed = {i: a for i, a in enumerate(args) if i not in argnums}

        def f(*free):
            it = iter(free)
            return getattr(lax, name)(*[fixed[i] if i in fixed else next(it)
                                        for i in range(len(args))])

        order = 1 if name.startswith("igamma") else 2
        plax.test_util.check_grads(f, tuple(args[i] for i in argnums), order=order,
                                   modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


@requires_jax
def test_gradients_against_jax(backend):
    import jax
    a, x = A[:5], X[:5] + 0.3
    g = plax.grad(lambda a, x: lax.igamma(a, x).sum(), argnums=(0, 1))(a, x)
    jg = jax.grad(lambda a, x: jax.lax.igamma(a, x).sum(), argnums=(0, 1))(a, x)
    for u, v in zip(g, jg):
        assert_close(u, np.asarray(v), rtol=1e-4, atol=1e-6)
    gi = plax.grad(lambda x: lax.bessel_i1e(x).sum())(X - 3)
    assert_close(gi, np.asarray(jax.grad(lambda x: jax.lax.bessel_i1e(x).sum())(X - 3)),
                 rtol=1e-5, atol=1e-6)


def test_unsupported_directions():
    with pytest.raises(ValueError, match="betainc gradient with respect to a and b"):
        plax.grad(lambda a: lax.betainc(a, np.float32(2), np.float32(0.3)))(np.float32(1))
    with pytest.raises(ValueError, match="polygamma gradient with respect to m"):
        plax.grad(lambda m: lax.polygamma(m, np.float32(2)))(np.float32(1))
