"""plax.experimental.ode.odeint (adaptive Dormand-Prince with the adjoint method's custom_vjp)
against jax.experimental.ode.odeint on every installed backend: pytree states and args, the
tolerances, hmax and mxstep; gradients with respect to y0, t, args and a closed-over value
against JAX's and finite differences (64-bit); vmap; the errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax.experimental.ode import odeint
from plax.test_util import check_grads

Y0 = np.float32([1.0, 0.0])
TS = np.linspace(0.0, 2.0, 5).astype(np.float32)
A = np.float32(1.5)


def pendulum(np_):
    return lambda y, t, a: np_.stack([y[1], -a * np_.sin(y[0])]) * (1 + 0.1 * t)


def tree_system(np_):
    """A pytree state ({"x": (2,), "v": ()}) and pytree args ((k, {"c": c}))."""
    def f(s, t, k, extra):
        return {"x": -k * s["x"] + s["v"], "v": -extra["c"] * s["v"] + np_.sum(s["x"]) * t}
    return f


def cases(ode, np_, keys=None):
    y0t = {"x": np.float32([0.5, -1.0]), "v": np.float32(2.0)}
    run = {
        "pendulum": lambda: ode(pendulum(np_), Y0, TS, A),
        "pendulum_loose": lambda: ode(pendulum(np_), Y0, TS, A, rtol=1e-3, atol=1e-4),
        "pendulum_hmax": lambda: ode(pendulum(np_), Y0, TS, A, hmax=0.05),
        "tree": lambda: ode(tree_system(np_), y0t, TS[:3], np.float32(0.7),
                            {"c": np.float32(0.3)}),
    }
    return {k: f() for k, f in run.items() if keys is None or k in keys}


FEW = ["pendulum", "tree"]  # on the compiling backends


@pytest.fixture(scope="module")
def jax_cases():
    import jax
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jode
    return jax.tree.map(np.asarray, cases(jode, jnp))


@requires_jax
def test_against_jax(backend, jax_cases):
    got = cases(odeint, pnp, None if backend == "reference" else FEW)
    for key, want in jax_cases.items():
        if key not in got:
            continue
        flat, flat_want = plax.tree_util.tree_leaves(got[key]), plax.tree_util.tree_leaves(want)
        assert len(flat) == len(flat_want)
        for g, w in zip(flat, flat_want):
            assert g.dtype == w.dtype and g.shape == w.shape, key
            assert_close(g, w, rtol=2e-5, atol=1e-5, err_msg=key)
    assert got["tree"]["x"].shape == (3, 2) and got["tree"]["v"].shape == (3,)


@requires_jax
def test_mxstep_x64_against_jax():
    """Steps cut short by mxstep (the output extrapolated from the last accepted step), in
    64-bit: in 32 bits the reference backend's rounding flips accept/reject decisions that
    these few steps then never recover from (the xla backend matches JAX bit for bit)."""
    import jax
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jode
    y0, ts = Y0.astype(np.float64), TS.astype(np.float64)
    with jax.enable_x64(True):
        want = [np.asarray(jode(pendulum(jnp), y0, ts, 1.5, mxstep=m)) for m in (1, 3)]
    with plax.config.override("enable_x64", True):
        got = [odeint(pendulum(pnp), y0, ts, 1.5, mxstep=m) for m in (1, 3)]
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-9, atol=1e-9)
    assert np.abs(want[0] - want[1]).max() > 0.1  # cut short, far from each other


@requires_jax
def test_grads_against_jax():
    import jax
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jode

    def loss(ode, np_, grad):
        w = np_.arange(1.0, 6.0)[:, None]
        return grad(lambda y0, ts, a: np_.sum(w * ode(pendulum(np_), y0, ts, a) ** 2),
                    (0, 1, 2))(Y0, TS, A)

    def tree_loss(ode, np_, grad):
        y0 = {"x": np.float32([0.5, -1.0]), "v": np.float32(2.0)}
        args = (np.float32(0.7), {"c": np.float32(0.3)})

        def f(y0, args):
            out = ode(tree_system(np_), y0, TS[:3], *args)
            return np_.sum(out["x"] ** 2) + np_.sum(out["v"])
        return grad(f, (0, 1))(y0, args)

    got = list(loss(odeint, pnp, plax.grad))
    got += plax.tree_util.tree_leaves(tree_loss(odeint, pnp, plax.grad))
    want = list(loss(jode, jnp, jax.grad)) + jax.tree.leaves(tree_loss(jode, jnp, jax.grad))
    assert len(got) == len(want) == 7
    for g, w in zip(got, want):
        assert_close(g, np.asarray(w), rtol=1e-4, atol=1e-5)


def test_check_grads_x64():
    with plax.config.override("enable_x64", True):
        y0, ts = Y0.astype(np.float64), np.float64([0.0, 0.4, 1.0])

        def f(y0, ts, a):
            return odeint(pendulum(pnp), y0, ts, a, rtol=1e-10, atol=1e-10)

        check_grads(f, (y0, ts, np.float64(1.5)), order=1, modes=("rev",), atol=1e-5,
                    rtol=1e-5)
        # a value func closes over is differentiated too (closure_convert hoists it)
        def g(c):
            return pnp.sum(odeint(lambda y, t: -c * y, y0, ts, rtol=1e-10, atol=1e-10))

        check_grads(g, (np.float64(0.8),), order=1, modes=("rev",), atol=1e-5, rtol=1e-5)
        # d/dc of y0 * exp(-c t), summed over the times
        want = -sum(t * y0.sum() * np.exp(-0.8 * t) for t in ts)
        assert_close(plax.grad(g)(0.8), want, rtol=1e-7)


def test_vmap_jit_and_reuse():
    y0s = np.stack([Y0, Y0 * 0.5, Y0 + 0.2])
    batched = plax.vmap(lambda y0: odeint(pendulum(pnp), y0, TS, A))(y0s)
    assert_close(batched, np.stack([odeint(pendulum(pnp), y0, TS, A) for y0 in y0s]),
                 rtol=1e-5, atol=1e-6)
    f = pendulum(pnp)
    out = plax.jit(lambda y0: odeint(f, y0, TS, A))(Y0)
    assert_close(out, odeint(f, Y0, TS, A), rtol=1e-6, atol=1e-7)
    # one converted function per (func, argument avals): repeated calls reuse it
    from plax.experimental import ode
    assert ode._closure_convert(f, Y0, TS[0], A)[0] is ode._closure_convert(f, Y0, TS[0], A)[0]
    # ... but not under a transformation: a func closing over a traced integer is converted
    # afresh in each trace
    box = {}

    def decay(y, t):
        return -box["n"].astype(np.float32) * y

    def run(n):
        box["n"] = n
        return odeint(decay, Y0 + 1, TS[:2])[-1, 0]

    for n in (1, 2):  # a new jit each time: a new trace
        assert_close(plax.jit(lambda m: run(m))(np.int32(n)), 2 * np.exp(-0.5 * n),
                     rtol=1e-6)


def test_errors():
    f = pendulum(pnp)
    with pytest.raises(TypeError, match="t must be an array of floats"):
        odeint(f, Y0, np.arange(3), A)
    with pytest.raises(TypeError, match="\\*args must be arrays or scalars"):
        odeint(f, Y0, TS, "a")
    with pytest.raises(ValueError, match="t must be a non-empty 1-D array"):
        odeint(f, Y0, TS.reshape(1, -1), A)
    with pytest.raises(TypeError, match="func must be callable"):
        odeint(None, Y0, TS)
    with pytest.raises(TypeError, match="rtol must be a Python or NumPy scalar"):
        odeint(f, Y0, TS, A, rtol=pnp.float32(1e-3) + pnp.zeros(()))
