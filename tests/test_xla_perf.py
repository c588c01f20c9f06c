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


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_fast_trig_within_two_ulp(xla, name):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(20000) * 4, np.linspace(-1e5, 1e5, 20001),
                        rng.uniform(-1e8, 1e8, 20000), rng.uniform(-1e-4, 1e-4, 2000),
                        np.arange(-64, 65) * (np.pi / 4)]).astype(np.float32)
    fn = plax.jit(getattr(pnp, name))
    got = np.asarray(fn(x))
    assert _ulps(got, x, getattr(np, name)).max() <= 2.0
    special = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-38])
    out = np.asarray(fn(special))
    assert np.isnan(out[2:5]).all() and np.all(np.abs(out[5:]) <= 1)
    if name == "sin":
        assert np.signbit(out[1]) and not np.signbit(out[0]) and out[7] == np.float32(1e-38)
    else:
        assert (out[:2] == 1).all()
    f16 = np.asarray(fn(x[:2000].astype(np.float16)))
    assert f16.dtype == np.float16
    np.testing.assert_allclose(f16, getattr(np, name)(x[:2000].astype(np.float16)),
                               rtol=2e-3, atol=2e-3)


def test_fast_trig_matches_jax_and_can_be_turned_off(xla):
    jax = pytest.importorskip("jax")
    x = np.random.default_rng(2).standard_normal(4096).astype(np.float32) * 10

    def f(v, m):
        return m.tanh(v) * 2 + m.sin(v) ** 2 - m.exp(-v) + m.cos(3 * v)
    ours = np.asarray(plax.jit(lambda v: f(v, pnp))(x))
    theirs = np.asarray(jax.jit(lambda v: f(v, jax.numpy))(x))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=2e-6)
    fast = plax.jit(pnp.sin).lower(x).as_text()
    assert "stablehlo.sine" not in fast and "stablehlo.round_nearest_even" in fast
    with plax.config.override("xla_cpu_fast_trig", False):
        assert "stablehlo.sine" in plax.jit(pnp.sin).lower(x).as_text()
    # derivatives go through the same lowering: grad of sin is cos
    g = np.asarray(plax.jit(plax.vmap(plax.grad(pnp.sin)))(x))
    np.testing.assert_allclose(g, np.cos(x.astype(np.float64)), rtol=0, atol=3e-7)
