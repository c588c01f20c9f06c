"""Gaussian-process regression with plax: an RBF kernel whose three hyperparameters (length
scale, signal and noise variance) are fitted by gradient ascent on the log marginal
likelihood, computed through a Cholesky factorization and triangular solves; then the
posterior mean and variance at test points. Prints the likelihood going up and the test error.

Run: python examples/gp_regression.py [backend]   (PLAX_BACKEND or the default otherwise)
"""

import sys

import numpy as np

import plax
import plax.numpy as jnp
from plax.lax import linalg
from plax.scipy.linalg import cho_solve


def kernel(params, a, b):
    """Squared-exponential kernel between the rows of a (n, d) and b (m, d)."""
    ls, var = jnp.exp(params["log_length"]), jnp.exp(params["log_signal"])
    d2 = jnp.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
    return var * jnp.exp(-0.5 * d2 / ls ** 2)


def log_marginal_likelihood(params, x, y):
    """log p(y | x, params) = -1/2 y^T K^-1 y - sum(log diag L) - n/2 log(2 pi), with
    K = L L^T the kernel matrix plus noise."""
    n = x.shape[0]
    K = kernel(params, x, x) + (jnp.exp(params["log_noise"]) + 1e-6) * jnp.eye(n)
    L = linalg.cholesky(K)
    alpha = linalg.triangular_solve(L, y[:, None], left_side=True, lower=True)
    return (-0.5 * jnp.sum(alpha ** 2) - jnp.sum(jnp.log(jnp.diagonal(L)))
            - 0.5 * n * jnp.log(2 * jnp.pi))


def predict(params, x, y, x_new):
    """Posterior mean and variance of f at x_new."""
    n = x.shape[0]
    K = kernel(params, x, x) + (jnp.exp(params["log_noise"]) + 1e-6) * jnp.eye(n)
    L = linalg.cholesky(K)
    k_star = kernel(params, x, x_new)
    mean = k_star.T @ cho_solve((L, True), y)
    v = linalg.triangular_solve(L, k_star, left_side=True, lower=True)
    var = jnp.exp(params["log_signal"]) - jnp.sum(v ** 2, axis=0)
    return mean, var


@plax.jit
def ascent_step(params, m, v, t, x, y):
    lml, g = plax.value_and_grad(log_marginal_likelihood)(params, x, y)
    tm = plax.tree_util.tree_map
    m = tm(lambda a, b: 0.9 * a + 0.1 * b, m, g)
    v = tm(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
    scale = 0.05 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    params = tm(lambda p, a, b: p + scale * a / (jnp.sqrt(b) + 1e-8), params, m, v)
    return params, m, v, lml


def data(seed=0, n=60, n_test=40):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, (n, 1)), axis=0).astype(np.float32)
    f = np.sin(2 * x[:, 0]) + 0.3 * x[:, 0]
    y = (f + 0.1 * rng.standard_normal(n)).astype(np.float32)
    xt = np.linspace(-2.8, 2.8, n_test, dtype=np.float32)[:, None]
    return x, y, xt, (np.sin(2 * xt[:, 0]) + 0.3 * xt[:, 0]).astype(np.float32)


def init_params():
    return {"log_length": jnp.asarray(0.5), "log_signal": jnp.asarray(0.0),
            "log_noise": jnp.asarray(-1.0)}


def main(steps=100):
    x, y, xt, ft = data()
    print(f"backend: {plax.default_backend()}")
    params = init_params()
    m = plax.tree_util.tree_map(jnp.zeros_like, params)
    v = plax.tree_util.tree_map(jnp.zeros_like, params)
    for t in range(1, steps + 1):
        params, m, v, lml = ascent_step(params, m, v, jnp.asarray(t, jnp.float32), x, y)
        if t == 1 or t % 50 == 0:
            print(f"step {t:4d}  log marginal likelihood {float(lml):.4f}")
    final = float(log_marginal_likelihood(params, x, y))
    print(f"final log marginal likelihood {final:.4f}")
    print("hyperparameters: " + ", ".join(f"{k}={float(p):.3f}" for k, p in params.items()))
    mean, var = predict(params, x, y, xt)
    rmse = float(jnp.sqrt(jnp.mean((mean - ft) ** 2)))
    print(f"test rmse {rmse:.4f}  mean posterior std {float(jnp.mean(jnp.sqrt(var))):.4f}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        with plax.default_backend(sys.argv[1]):
            main()
    else:
        main()
