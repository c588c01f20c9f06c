"""The xla backend's performance work, checked by numbers and counts (never by time): sin and
cos of float32 lowered to vectorisable arithmetic stay within 2 ulp of the correctly rounded
result (and match JAX), with XLA's own ops back when `xla_cpu_fast_trig` is off."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as pnp

pytest.importorskip("jaxlib")


@pytest.fixture
def xla():
    with plax.default_backend("xla"):
        yield


def _ulps(got, x, fn):
    exact = fn(x.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


N = 1 << 16  # the fast lowering's smallest array (smaller ones keep XLA's libm calls)


def _padded(values):
    """`values` first, then zeros up to N elements (float32)."""
    out = np.zeros(max(N, len(values)), np.float32)
    out[:len(values)] = values
    return out


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_fast_trig_within_two_ulp(xla, name):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(20000) * 4, np.linspace(-1e5, 1e5, 20001),
                        rng.uniform(-1e8, 1e8, 20000), rng.uniform(-1e-4, 1e-4, 6000),
                        np.arange(-64, 65) * (np.pi / 4)]).astype(np.float32)
    assert len(x) >= N
    fn = plax.jit(getattr(pnp, name))
    assert "round_nearest_even" in fn.lower(x).as_text()  # the fast lowering
    got = np.asarray(fn(x))
    assert _ulps(got, x, getattr(np, name)).max() <= 2.0
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-38]
    out = np.asarray(fn(_padded(special)))[:8]
    assert np.isnan(out[2:5]).all() and np.all(np.abs(out[5:]) <= 1)
    if name == "sin":
        assert np.signbit(out[1]) and not np.signbit(out[0]) and out[7] == np.float32(1e-38)
    else:
        assert (out[:2] == 1).all()
    h = x[:N].astype(np.float16)
    f16 = np.asarray(fn(h))
    assert f16.dtype == np.float16
    np.testing.assert_allclose(f16, getattr(np, name)(h), rtol=2e-3, atol=2e-3)


def test_fast_trig_matches_jax_and_can_be_turned_off(xla):
    jax = pytest.importorskip("jax")
    x = np.random.default_rng(2).standard_normal(N).astype(np.float32) * 10

    def f(v, m):
        return m.tanh(v) * 2 + m.sin(v) ** 2 - m.exp(-v) + m.cos(3 * v)
    ours = np.asarray(plax.jit(lambda v: f(v, pnp))(x))
    theirs = np.asarray(jax.jit(lambda v: f(v, jax.numpy))(x))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6)
    fast = plax.jit(pnp.sin).lower(x).as_text()
    assert "stablehlo.sine" not in fast and "stablehlo.round_nearest_even" in fast
    assert "stablehlo.sine" in plax.jit(pnp.sin).lower(x[:1000]).as_text()  # small: libm
    with plax.config.override("xla_cpu_fast_trig", False):
        assert "stablehlo.sine" in plax.jit(pnp.sin).lower(x).as_text()
    # derivatives go through the same lowering: grad of sin is cos
    g = np.asarray(plax.jit(plax.vmap(plax.grad(pnp.sin)))(x))
    np.testing.assert_allclose(g, np.cos(x.astype(np.float64)), rtol=0, atol=3e-7)


def _mlp_loss(m):
    def loss(params, xi, yi):
        h = xi
        for w, b in params[:-1]:
            h = m.maximum(m.dot(h, w) + b, 0.0)
        w, b = params[-1]
        return m.sum((m.dot(h, w) + b - yi) ** 2)
    return loss


def test_per_example_gradients_need_no_transposes():
    """The weight cotangent of a vector-matrix product is the outer product in the weight's own
    layout: under vmap no transposed copy of the whole batch of gradients is made."""
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(3)
    sizes = (5, 7, 3)
    params = [(rng.standard_normal((m, n)).astype(np.float32), np.zeros(n, np.float32))
              for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    f = plax.vmap(plax.grad(_mlp_loss(pnp)), in_axes=(None, 0, 0))
    prims = [e.primitive.name for e in plax.make_jaxpr(f)(params, x, y).jaxpr.eqns]
    assert "transpose" not in prims and prims.count("dot_general") == 5
    theirs = jax.vmap(jax.grad(_mlp_loss(jax.numpy)), in_axes=(None, 0, 0))(params, x, y)
    for ours, ref in zip(jax.tree_util.tree_leaves([[np.asarray(a) for a in p] for p in
                                                    plax.jit(f)(params, x, y)]),
                         jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_allclose(ours, np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_large_outputs_reuse_dropped_buffers(xla):
    from plax.extend import registry
    stats = registry.get_backend("xla").stats
    n = (8 << 20) // 4 + 1024  # just over the 8 MiB threshold
    x = plax.device_put(np.arange(n, dtype=np.float32))
    f = plax.jit(lambda v, s: v * s + 1.0)
    two, three, four = (plax.device_put(np.float32(v)) for v in (2, 3, 4))

    def ptr(a):
        return a._buf.unsafe_buffer_pointer()
    y = f(x, two)
    first = ptr(y)
    del y
    compiles = stats["compiles"]
    y = f(x, three)  # the dropped output's buffer is written again
    assert ptr(y) == first and stats["compiles"] == compiles + 1  # the donating variant
    held = f(x, four)  # y is held: fresh memory, y untouched
    assert ptr(held) != ptr(y) and stats["compiles"] == compiles + 1
    assert np.asarray(y)[n - 1] == (n - 1) * 3.0 + 1.0 and np.asarray(held)[5] == 21.0
    del y, held
    z = f(x, two)
    view = np.asarray(z)  # a NumPy view of z's buffer: the runtime will not donate it
    del z
    w = f(x, three)
    assert view[7] == 15.0 and np.asarray(w)[7] == 22.0
    with plax.config.override("xla_cpu_reuse_outputs", False):
        g = plax.jit(lambda v: v - 1.0)
        a = g(x)
        del a
        before = stats["compiles"]
        b = g(x)
        assert np.asarray(b)[3] == 2.0 and stats["compiles"] == before  # no variant
