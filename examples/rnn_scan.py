"""Train a small recurrent network, written with plax.numpy and lax.scan, to predict the next
value of noisy sine waves. The gradient flows back through the scan (reverse-mode through the
loop); Adam updates run under jit. Prints the loss going down.

Run: python examples/rnn_scan.py [backend]   (the reference backend by default)
"""

import sys

import numpy as np

import plax
import plax.numpy as jnp
from plax import lax

HIDDEN, STEPS, BATCH = 16, 24, 32


def init(key):
    k1, k2, k3 = plax.random.split(key, 3)
    return {"w_in": plax.random.normal(k1, (1, HIDDEN)) * 0.5,
            "w_h": plax.random.normal(k2, (HIDDEN, HIDDEN)) * (0.9 / np.sqrt(HIDDEN)),
            "b": jnp.zeros(HIDDEN),
            "w_out": plax.random.normal(k3, (HIDDEN, 1)) * (1.0 / np.sqrt(HIDDEN)),
            "b_out": jnp.zeros(1)}


def predict(params, xs):
    """xs: (time, batch, 1) -> one prediction per step, (time, batch, 1)."""
    def cell(h, x):
        h = jnp.tanh(x @ params["w_in"] + h @ params["w_h"] + params["b"])
        return h, h @ params["w_out"] + params["b_out"]

    h0 = jnp.zeros((xs.shape[1], HIDDEN))
    _, ys = lax.scan(cell, h0, xs)
    return ys


def loss_fn(params, xs, targets):
    return jnp.mean((predict(params, xs) - targets) ** 2)


@plax.jit
def adam_step(params, m, v, t, xs, targets):
    loss, g = plax.value_and_grad(loss_fn)(params, xs, targets)
    tm = plax.tree_util.tree_map
    m = tm(lambda a, b: 0.9 * a + 0.1 * b, m, g)
    v = tm(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
    scale = 0.02 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    params = tm(lambda p, a, b: p - scale * a / (jnp.sqrt(b) + 1e-8), params, m, v)
    return params, m, v, loss


def batch_of_waves(rng):
    """Sine waves of random frequency and phase plus a little noise: (time+1, batch, 1)."""
    t = np.arange(STEPS + 1)[:, None]
    freq = rng.uniform(0.15, 0.45, BATCH)[None]
    phase = rng.uniform(0, 2 * np.pi, BATCH)[None]
    wave = np.sin(freq * t + phase) + 0.02 * rng.standard_normal((STEPS + 1, BATCH))
    return wave[..., None].astype(np.float32)


def main(iters=300, backend="reference"):
    with plax.default_backend(backend):
        rng = np.random.default_rng(0)
        params = init(plax.random.PRNGKey(0))
        m = plax.tree_util.tree_map(jnp.zeros_like, params)
        v = plax.tree_util.tree_map(jnp.zeros_like, params)
        losses = []
        for it in range(1, iters + 1):
            wave = batch_of_waves(rng)
            params, m, v, loss = adam_step(params, m, v, np.float32(it), wave[:-1], wave[1:])
            losses.append(float(loss))
            if it == 1 or it % 50 == 0:
                print(f"step {it:4d}  loss {np.mean(losses[-50:]):.4f}")
        return losses


if __name__ == "__main__":
    main(backend=sys.argv[1] if len(sys.argv) > 1 else "reference")
