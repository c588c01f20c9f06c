"""examples/gp_regression.py: runs on every installed backend (the likelihood goes up, the
fit is good), and its log marginal likelihood and gradient equal JAX's."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

import plax
from conftest import assert_close, installed_backends, requires_jax
from test_examples import EXAMPLES, run_example


def _example():
    spec = importlib.util.spec_from_file_location("gp_regression", EXAMPLES / "gp_regression.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("backend", installed_backends())
def test_gp_example_runs(backend):
    out = run_example("gp_regression.py", backend)
    assert f"backend: {backend}" in out
    lmls = [float(v) for v in re.findall(r"log marginal likelihood (-?[0-9.]+)", out)]
    assert lmls[-1] > lmls[0] + 50, lmls
    rmse = float(re.search(r"test rmse ([0-9.]+)", out).group(1))
    assert rmse < 0.1, rmse


@requires_jax
def test_gp_likelihood_and_gradient_match_jax(backend):
    import jax
    import jax.numpy as jnp
    from jax.lax import linalg as jl

    gp = _example()
    x, y, _, _ = gp.data(seed=1, n=30)
    params = {"log_length": np.float32(0.3), "log_signal": np.float32(-0.2),
              "log_noise": np.float32(-1.5)}

    def jax_lml(p, x, y):
        n = x.shape[0]
        d2 = jnp.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
        K = jnp.exp(p["log_signal"]) * jnp.exp(-0.5 * d2 / jnp.exp(p["log_length"]) ** 2)
        K = K + (jnp.exp(p["log_noise"]) + 1e-6) * jnp.eye(n)
        L = jl.cholesky(K)
        alpha = jl.triangular_solve(L, y[:, None], left_side=True, lower=True)
        return (-0.5 * jnp.sum(alpha ** 2) - jnp.sum(jnp.log(jnp.diagonal(L)))
                - 0.5 * n * jnp.log(2 * jnp.pi))

    want_v, want_g = jax.value_and_grad(jax_lml)(params, x, y)
    got_v, got_g = plax.jit(plax.value_and_grad(gp.log_marginal_likelihood))(params, x, y)
    assert_close(got_v, want_v, rtol=1e-4, atol=1e-4)
    for k in params:
        assert_close(got_g[k], want_g[k], rtol=1e-3, atol=1e-3)
    if backend == "reference":  # eagerly too
        got_g2 = plax.grad(gp.log_marginal_likelihood)(params, x, y)
        for k in params:
            assert_close(got_g2[k], want_g[k], rtol=1e-3, atol=1e-3)


def test_gp_gradient_second_order():
    """The likelihood's derivatives against finite differences, float64 (reference)."""
    gp = _example()
    x, y, _, _ = gp.data(seed=1, n=12)
    with plax.enable_x64(), plax.default_backend("reference"):
        p64 = {"log_length": np.float64(0.3), "log_signal": np.float64(-0.2),
               "log_noise": np.float64(-1.5)}
        plax.test_util.check_grads(lambda p: gp.log_marginal_likelihood(p, x.astype(np.float64),
                                                                         y.astype(np.float64)),
                                   (p64,), order=2, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)
