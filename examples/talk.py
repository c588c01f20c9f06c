"""The talk, end to end: a feed-forward network written with plax.numpy, its gradient,
per-example gradients with vmap, a training step eager and under jit, pmap, and a jaxpr.

Run: python examples/talk.py   (PLAX_BACKEND=xla to run it on XLA when that backend is installed)
"""

import time

import numpy as np

import plax
import plax.numpy as jnp
from plax import lax


def init_params(key, sizes):
    params = []
    for k, (m, n) in zip(plax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        wk, bk = plax.random.split(k)
        params.append((plax.random.normal(wk, (m, n)) / np.sqrt(m), jnp.zeros(n)))
    return params


def predict(params, inputs):
    for w, b in params[:-1]:
        inputs = jnp.tanh(jnp.dot(inputs, w) + b)
    w, b = params[-1]
    return jnp.dot(inputs, w) + b


def mse_loss(params, batch):
    inputs, targets = batch
    preds = predict(params, inputs)
    return jnp.mean(jnp.sum((preds - targets) ** 2, axis=-1))


def sgd_step(params, batch, lr=0.05):
    grads = plax.grad(mse_loss)(params, batch)
    return [(w - lr * dw, b - lr * db) for (w, b), (dw, db) in zip(params, grads)]


def timed(fn, *args, repeat=20):
    plax.block_until_ready(fn(*args))  # warm-up (and compile, for jit)
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn(*args)
    plax.block_until_ready(out)
    return (time.perf_counter() - t0) / repeat


def main():
    print(f"backend: {plax.default_backend()}  devices: {plax.devices()}")
    key = plax.random.PRNGKey(0)
    params = init_params(key, [4, 32, 32, 2])
    kx, _ = plax.random.split(plax.random.PRNGKey(1))
    inputs = plax.random.normal(kx, (128, 4))
    targets = jnp.stack([jnp.sin(inputs[:, 0]) + inputs[:, 1], inputs[:, 2] * inputs[:, 3]], 1)
    batch = (inputs, targets)

    # 1. the gradient of the loss
    grads = plax.grad(mse_loss)(params, batch)
    print("loss:", float(mse_loss(params, batch)))
    print("grad shapes:", [(g[0].shape, g[1].shape) for g in grads])

    # 2. per-example gradients with vmap
    per_example = plax.vmap(plax.grad(mse_loss), in_axes=(None, 0))
    ex_grads = per_example(params, (inputs[:, None], targets[:, None]))
    print("per-example gradient of the first layer:", ex_grads[0][0].shape)

    # 3. the same training step eager and under jit
    eager_t = timed(sgd_step, params, batch)
    jit_step = plax.jit(sgd_step)
    jit_t = timed(jit_step, params, batch)
    print(f"training step: eager {eager_t * 1e3:.2f} ms, jit {jit_t * 1e3:.2f} ms "
          f"({eager_t / jit_t:.1f}x)")
    for epoch in range(200):
        params = jit_step(params, batch)
    print("loss after 200 jitted steps:", float(mse_loss(params, batch)))

    # 4. pmap over the available devices
    n = plax.device_count()
    xs = jnp.arange(n * 3.0).reshape(n, 3)
    normalized = plax.pmap(lambda x: x / lax.psum(jnp.sum(x), "i"), axis_name="i")(xs)
    print(f"pmap over {n} device(s):", normalized)

    # 5. the jaxpr of log2
    def log2(x):
        return lax.log(x) / lax.log(2.0)
    print(plax.make_jaxpr(log2)(3.0))


if __name__ == "__main__":
    main()
