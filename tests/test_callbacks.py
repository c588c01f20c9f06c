"""plax.pure_callback and plax.debug (print, callback, breakpoint): host Python inside plax
programs, eagerly, under jit (reference backend), vmap and grad."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import plax
import plax.numpy as jnp

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


@pytest.mark.parametrize("method", ["sequential", "expand_dims", "broadcast_all"])
def test_pure_callback_under_jit_and_each_vmap_method(method):
    calls = []

    def cb(a, b):
        calls.append(a.shape)
        return a * b.sum(axis=-1, keepdims=True)

    def f(a, b):
        return plax.pure_callback(cb, plax.ShapeDtypeStruct(a.shape, a.dtype), a, b,
                                  vmap_method=method)

    with plax.default_backend("reference"):
        out = plax.jit(plax.vmap(f, in_axes=(0, None)))(X, X[0])
    np.testing.assert_array_equal(np.asarray(out), X * X[0].sum())
    assert len(calls) == (2 if method == "sequential" else 1)
    assert calls[0] == ((3,) if method == "sequential" else (2, 3))


def test_pure_callback_errors():
    with pytest.raises(TypeError, match="has shape \\(3,\\), result_shape_dtypes declares"):
        plax.pure_callback(lambda a: a[0], X, X)
    with pytest.raises(NotImplementedError, match="needs a vmap_method"):
        plax.vmap(lambda v: plax.pure_callback(np.sin, v, v))(X)
    with pytest.raises(NotImplementedError, match="cannot be differentiated"):
        plax.grad(lambda v: plax.pure_callback(np.sin, v, v).sum())(X)
    with pytest.raises(ValueError, match="vmap_method must be one of"):
        plax.pure_callback(np.sin, X, X, vmap_method="parallel")


def test_debug_print_under_jit_vmap_and_grad(capsys):
    def g(v):
        plax.debug.print("v={} total={total}", v, total=v.sum())
        return jnp.sin(v) * 2.0

    with plax.default_backend("reference"):
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


def test_debug_callback_in_jit_on_xla_is_refused_naming_it():
    with plax.default_backend("xla"):
        with pytest.raises(plax.UnsupportedPrimitiveError, match="debug_callback"):
            plax.jit(lambda v: (plax.debug.print("{}", v), v)[1])(X)
        plax.debug.print("eager on xla: {}", X[0])  # eagerly it runs through the host
