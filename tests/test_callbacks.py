"""plax.pure_callback and plax.debug (print, callback, breakpoint): host Python inside plax
programs, eagerly, under jit (reference, xla and cupy backends: on xla a custom call of jaxlib's
host callback target, on cupy a host step between kernels), vmap and grad. Under pmap:
tests/test_xla_pmap.py."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax.extend import registry

from conftest import assert_close, installed_backends

X = np.arange(6.0, dtype=np.float32).reshape(2, 3)


def host_cumsum(a):
    return np.cumsum(a, axis=-1)


@pytest.mark.parametrize("backend_name", ["reference", "xla"])
def test_pure_callback_eager_and_vmap(backend_name):
    def f(v):
        return plax.pure_callback(host_cumsum, v, v, vmap_method="sequential") * 2.0

    with plax.default_backend(backend_name):
        np.testing.assert_array_equal(np.asarray(f(X)), 2 * np.cumsum(X, -1))
        np.testing.assert_array_equal(np.asarray(plax.vmap(f)(X)), 2 * np.cumsum(X, -1))
        np.testing.assert_array_equal(np.asarray(plax.vmap(f, in_axes=1)(X)),
                                      2 * np.cumsum(X.T, -1))


@pytest.mark.parametrize("backend_name", ["reference", "xla"])
@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims",
                                    "broadcast_all", "legacy_vectorized"])
def test_pure_callback_under_jit_and_each_vmap_method(method, backend_name):
    calls = []

    def cb(a, b):
        calls.append(a.shape)
        return a * b.sum(axis=-1, keepdims=True)

    def f(a, b):
        return plax.pure_callback(cb, plax.ShapeDtypeStruct(a.shape, a.dtype), a, b,
                                  vmap_method=method)

    with plax.default_backend(backend_name):
        out = plax.jit(plax.vmap(f, in_axes=(0, None)))(X, X[0])
    np.testing.assert_array_equal(np.asarray(out), X * X[0].sum())
    sequential = method.startswith("sequential")
    assert len(calls) == (2 if sequential else 1)
    assert calls[0] == ((3,) if sequential else (2, 3))


def test_pure_callback_errors():
    with pytest.raises(TypeError, match="has shape \\(3,\\), result_shape_dtypes declares"):
        plax.pure_callback(lambda a: a[0], X, X)
    with pytest.raises(NotImplementedError, match="needs a vmap_method"):
        plax.vmap(lambda v: plax.pure_callback(np.sin, v, v))(X)
    with pytest.raises(NotImplementedError, match="cannot be differentiated"):
        plax.grad(lambda v: plax.pure_callback(np.sin, v, v).sum())(X)
    with pytest.raises(ValueError, match="vmap_method must be one of"):
        plax.pure_callback(np.sin, X, X, vmap_method="parallel")


@pytest.mark.parametrize("backend_name", ["reference", "xla"])
def test_debug_print_under_jit_vmap_and_grad(capsys, backend_name):
    def g(v):
        plax.debug.print("v={} total={total}", v, total=v.sum())
        return jnp.sin(v) * 2.0

    with plax.default_backend(backend_name):
        plax.jit(g)(X[0])
        assert capsys.readouterr().out == "v=[0. 1. 2.] total=3.0\n"
        plax.vmap(g)(X)  # once per batch member
        assert capsys.readouterr().out.splitlines() == ["v=[0. 1. 2.] total=3.0",
                                                        "v=[3. 4. 5.] total=12.0"]
        grad = plax.grad(lambda v: g(v).sum())(X[0])  # prints the primal values
        assert capsys.readouterr().out == "v=[0. 1. 2.] total=3.0\n"
        np.testing.assert_allclose(np.asarray(grad), 2 * np.cos(X[0]), rtol=1e-6)
        # traced once, printed at every run (not at tracing)
        jg = plax.jit(g)
        jg(X[1])
        jg(X[1])
        assert capsys.readouterr().out.count("total=12.0") == 2


def test_debug_callback_and_breakpoint(monkeypatch):
    seen = []
    with plax.default_backend("reference"):
        plax.jit(lambda v: (plax.debug.callback(seen.append, v), v + 1)[1])(X)
    np.testing.assert_array_equal(seen[0], X)
    hits = []
    monkeypatch.setattr(sys, "breakpointhook", lambda *a, **k: hits.append(1))
    with plax.default_backend("reference"):
        plax.jit(lambda v: (plax.debug.breakpoint(v), v * 2)[1])(X)
    assert hits == [1]


def test_callbacks_inside_jit_on_xla():
    """Compiled into the program (no fallback): values, several results and dtypes, vmap of
    a jitted callback, one call per run, debug.print's order with the computation."""
    calls = []

    def host(a, n):
        calls.append((a.shape, a.dtype, n.dtype))
        return np.cumsum(a, axis=-1), (n * 3).astype(np.int32)

    def f(a, n):
        out = (plax.ShapeDtypeStruct(a.shape, a.dtype), plax.ShapeDtypeStruct(n.shape, n.dtype))
        c, m = plax.pure_callback(host, out, jnp.exp(a), n, vmap_method="sequential")
        return c * 2.0, m + 1

    n = np.array([1, 2], np.int32)
    with plax.default_backend("xla"):
        be = registry.get_backend("xla")
        compiles = be.stats["compiles"]
        jf = plax.jit(f)
        c, m = jf(X, n)
        np.testing.assert_allclose(np.asarray(c), 2 * np.cumsum(np.exp(X), -1), rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(m), 3 * n + 1)
        jf(X, n)
        assert len(calls) == 2 and calls[0] == ((2, 3), np.float32, np.int32)
        assert be.stats["compiles"] == compiles + 1
        # vmap of the jitted callback: one call per batch member inside one program
        calls.clear()
        c, m = plax.jit(plax.vmap(jf))(np.stack([X, X + 1]), np.stack([n, n]))
        np.testing.assert_allclose(np.asarray(c[1]), 2 * np.cumsum(np.exp(X + 1), -1),
                                   rtol=1e-6)
        assert len(calls) == 2 and calls[0][0] == (2, 3)
        # a wrong result from the host is an error naming it, not garbage
        bad = plax.jit(lambda v: plax.pure_callback(lambda a: a[0], v, v))
        with pytest.raises(Exception, match="has shape \\(3,\\), result_shape_dtypes"):
            np.asarray(bad(X))


@pytest.mark.skipif("cupy" not in installed_backends(), reason="the cupy backend is not here")
def test_callbacks_on_cupy(capsys):
    """The cupy backend (its host build in CI): a callback step between fused kernels under
    jit, vmap's methods, debug.print, the host gets copies it may keep; ffi_call is refused
    naming the primitive and the backend."""
    kept = []

    def host(a):
        kept.append(a)
        return np.cumsum(a, axis=-1)

    def f(v):
        c = plax.pure_callback(host, v, jnp.exp(v) * 2.0, vmap_method="expand_dims")
        plax.debug.print("s={s:.1f}", s=c.sum())
        return jnp.sin(c) + 1.0

    want = np.sin(np.cumsum(np.exp(X) * 2.0, -1)) + 1.0
    with plax.default_backend("cupy"):
        assert_close(f(X), want)
        jf = plax.jit(f)
        assert_close(jf(X), want)
        assert_close(jf(X + 0.0), want)
        assert_close(plax.jit(plax.vmap(f))(X[:, None]), want[:, None])
        # pmap over the one device (vmap semantics inside): once per device, as JAX's
        n = len(kept)
        assert_close(plax.pmap(f)(X[None]), want[None])
        assert [a.shape for a in kept[n:]] == [X.shape]
    total = np.cumsum(np.exp(X) * 2.0, -1).sum()
    assert capsys.readouterr().out.splitlines()[:3] == [f"s={total:.1f}"] * 3
    for a in kept[:3]:  # still the values the callback saw, not reused buffers
        assert_close(a, np.exp(X) * 2.0)
    out = plax.ShapeDtypeStruct((2, 3), np.float32)
    with plax.default_backend("cupy"):
        for run in (lambda: plax.ffi_call("some_kernel", out)(X),
                    lambda: plax.jit(lambda v: plax.ffi_call("some_kernel", out)(v))(X)):
            with pytest.raises(plax.UnsupportedPrimitiveError,
                               match="backend 'cupy' cannot run primitive 'ffi_call' "
                                     "\\(target 'some_kernel'\\)"):
                np.asarray(run())
