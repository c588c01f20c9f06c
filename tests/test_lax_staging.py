"""plax.lax.stage, optimization_barrier (now a primitive) and dce_sink against JAX: values,
jaxprs, derivatives (check_grads), vmap, on every installed backend (the cupy backend through
the primitives' compositions)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HAVE_JAX, assert_close, requires_jax

import plax
import plax.numpy as pnp
from plax import lax
from plax.test_util import check_grads

if HAVE_JAX:
    import jax
    import jax.numpy as jnp


def _barrier_fun(mod, lx):
    def f(x, y):
        a, b = lx.optimization_barrier((mod.sin(x) * y, x + y))
        return (a * b).sum()
    return f


def test_barrier_and_stage_values_grads_vmap(backend):
    x = pnp.asarray(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    y = pnp.asarray(np.cos(np.arange(6, dtype=np.float32)).reshape(2, 3))
    f = _barrier_fun(pnp, lax)
    want = (np.sin(np.asarray(x)) * np.asarray(y) * (np.asarray(x) + np.asarray(y))).sum()
    assert_close(f(x, y), want)
    assert_close(plax.jit(f)(x, y), want)
    check_grads(f, (x, y), order=2, modes=("fwd", "rev"))
    assert_close(plax.vmap(f)(x, y), [f(x[i], y[i]) for i in range(2)])
    # stage: the identity, linear
    g = lambda v: lax.stage(v) ** 2 + lax.stage(2.0)  # noqa: E731
    assert_close(plax.jit(g)(x), np.asarray(x) ** 2 + 2)
    check_grads(g, (x,), order=2, modes=("fwd", "rev"))
    assert_close(plax.vmap(g)(x), np.asarray(x) ** 2 + 2)
    assert type(lax.stage(3.0)) is plax.Array and lax.stage(np.ones(2)).shape == (2,)
    assert lax.optimization_barrier(()) == ()


def test_dce_sink_keeps_the_computation(backend):
    def f(x):
        lax.dce_sink(x * 2.0)
        return x + 1.0
    jaxpr = plax.make_jaxpr(f)(1.0)
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns] == ["mul", "dce_sink", "add"]
    assert lax.dce_sink(pnp.ones(2)) is None
    assert_close(plax.jit(f)(pnp.ones(2)), np.full(2, 2.0))
    assert_close(plax.grad(f)(3.0), 1.0)
    assert_close(plax.vmap(f)(pnp.arange(3.0)), np.arange(3.0) + 1)
    # a jitted function whose only use of a value is the sink keeps the equation
    inner = plax.make_jaxpr(plax.jit(f))(1.0).jaxpr.eqns[0].params["jaxpr"]
    assert "dce_sink" in str(inner)


@requires_jax
def test_staging_jaxprs_and_grads_as_jax():
    x = np.float32(0.7)
    assert str(plax.make_jaxpr(lambda v: lax.optimization_barrier((v, v * 2)))(x)) == \
        str(jax.make_jaxpr(lambda v: jax.lax.optimization_barrier((v, v * 2)))(x))
    for order in (1, 2):
        pg, jg = _barrier_fun(pnp, lax), _barrier_fun(jnp, jax.lax)
        for _ in range(order - 1):
            pg, jg = plax.grad(pg), jax.grad(jg)
        assert_close(plax.grad(pg)(x, np.float32(1.3)), jax.grad(jg)(x, np.float32(1.3)))
    assert_close(plax.jvp(lambda v: lax.stage(v) * 3, (x,), (np.float32(1),))[1],
                 jax.jvp(lambda v: jax.lax.stage(v) * 3, (x,), (np.float32(1),))[1])
    with pytest.raises(TypeError):
        lax.stage()


def test_barrier_is_in_the_xla_program():
    from plax._src import registry
    back = registry.get_backend("xla")
    closed = plax.make_jaxpr(lambda v: lax.optimization_barrier((v, v * 2)))(1.0)
    assert "stablehlo.optimization_barrier" in back.lower_text(closed)
