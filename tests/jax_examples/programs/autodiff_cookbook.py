"""The autodiff cookbook and vmapped log-probs notebooks: grad with argnums and has_aux,
jacfwd/jacrev/hessian, jvp and vjp (of vmap, and vmap of vjp), per-example gradients, and a
vmapped log-density."""

import jax
import jax.numpy as jnp
from jax import grad, jacfwd, jacrev, jit, jvp, vjp, vmap

RTOL, ATOL = 1e-5, 1e-6


def sigmoid(x):
    return 0.5 * (jnp.tanh(x / 2) + 1)


def predict(W, b, inputs):
    return sigmoid(jnp.dot(inputs, W) + b)


inputs = jnp.array([[0.52, 1.12, 0.77],
                    [0.88, -1.08, 0.15],
                    [0.52, 0.06, -1.30],
                    [0.74, -2.49, 1.39]])
targets = jnp.array([True, True, False, True])


def loss(W, b):
    preds = predict(W, b, inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -jnp.sum(jnp.log(label_probs))


def log_joint(beta):
    result = 0.
    result = result + jnp.sum(-0.5 * beta ** 2)  # a standard normal prior
    return result + jnp.sum(-jnp.log(1 + jnp.exp(-(2 * targets - 1) * jnp.dot(inputs, beta))))


def main():
    key = jax.random.PRNGKey(0)
    k1, k2 = jax.random.split(key)
    W = jax.random.normal(k1, (3,))
    b = jax.random.normal(k2, ())
    out = {}
    out["grad W"] = grad(loss)(W, b)
    out["grad W b"] = grad(loss, (0, 1))(W, b)
    out["has_aux"] = grad(lambda W: (loss(W, b), {"z": W * 2}), has_aux=True)(W)
    f = lambda W: predict(W, b, inputs)  # noqa: E731
    out["jacfwd"] = jacfwd(f)(W)
    out["jacrev"] = jacrev(f)(W)
    out["hessian"] = jax.hessian(f)(W)
    out["jvp"] = jvp(f, (W,), (jnp.ones(3),))
    y, vjp_fun = vjp(f, W)
    out["vjp"] = vjp_fun(jnp.ones(4))
    out["vmap vjp"] = vmap(vjp_fun)(jnp.eye(4))
    out["vjp vmap"] = vjp(vmap(f), jnp.stack([W, W * 2]))[1](jnp.ones((2, 4)))
    out["vmap jvp"] = vmap(lambda t: jvp(f, (W,), (t,))[1])(jnp.eye(3))
    per_example = vmap(grad(lambda W, x, t: -jnp.log(jnp.where(t, predict(W, b, x),
                                                               1 - predict(W, b, x)))),
                       in_axes=(None, 0, 0))
    out["per example"] = jit(per_example)(W, inputs, targets)
    betas = jax.random.normal(key, (5, 3))
    out["vmapped log joint"] = vmap(log_joint)(betas)
    out["grad log joint"] = jit(vmap(grad(log_joint)))(betas)
    out["hvp"] = jvp(grad(lambda W: loss(W, b)), (W,), (jnp.ones(3),))[1]
    return out
