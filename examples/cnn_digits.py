"""Train a small CNN on scikit-learn's digits (8x8 images, shipped with scikit-learn, no
download) with plax: two 3x3 convolutions (lax.conv_general_dilated, NHWC), a 2x2 max-pool
(lax.reduce_window) and a dense layer; softmax cross-entropy, SGD with momentum under jit.
Prints the loss per epoch and the test accuracy (at least 97%). The data, the loss, the step
and the training loop are examples/digits_mlp.py's."""

import pathlib
import sys

import numpy as np

import plax
import plax.numpy as jnp
from plax import lax

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # digits_mlp, also when loaded by path
from digits_mlp import data as _digits, make_step, train  # noqa: E402

DN = ("NHWC", "HWIO", "NHWC")


def init(key):
    k1, k2, k3 = plax.random.split(key, 3)

    def he(k, shape, fan_in):
        return plax.random.normal(k, shape) * np.sqrt(2.0 / fan_in)

    return {"c1": {"w": he(k1, (3, 3, 1, 16), 9), "b": jnp.zeros(16)},
            "c2": {"w": he(k2, (3, 3, 16, 32), 144), "b": jnp.zeros(32)},
            "d": {"w": he(k3, (4 * 4 * 32, 10), 512), "b": jnp.zeros(10)}}


def max_pool(x, size=2):
    """Flax-style max pooling over the spatial dimensions of an NHWC batch."""
    window = (1, size, size, 1)
    return lax.reduce_window(x, -jnp.inf, lax.max, window, window, "VALID")


def avg_pool(x, size=2):
    window = (1, size, size, 1)
    return lax.reduce_window(x, 0.0, lax.add, window, window, "VALID") / (size * size)


def conv(x, layer):
    y = lax.conv_general_dilated(x, layer["w"], (1, 1), "SAME", dimension_numbers=DN)
    return plax.nn.relu(y + layer["b"])


def forward(params, x):
    x = conv(x, params["c1"])                    # (N, 8, 8, 16)
    x = max_pool(conv(x, params["c2"]))          # (N, 4, 4, 32)
    x = x.reshape(x.shape[0], -1)
    return x @ params["d"]["w"] + params["d"]["b"]


def data():
    """The digits as (N, 8, 8, 1) images, split as digits_mlp's."""
    return _digits(images=True)


def main(epochs=8, batch=64):
    x_tr, x_te, y_tr, y_te = data()
    params = train(make_step(forward, 0.03), init(plax.random.PRNGKey(0)), x_tr, y_tr, epochs,
                   batch)
    logits = plax.jit(forward)(params, x_te)
    acc = float(np.mean(np.asarray(jnp.argmax(logits, axis=-1)) == y_te))
    print(f"test accuracy: {acc:.4f}")
    if len(sys.argv) > 1:  # save the parameters and test logits (the tests compare backends)
        leaves = plax.tree_util.tree_leaves(params)
        np.savez(sys.argv[1], logits=np.asarray(logits),
                 **{f"p{i}": np.asarray(p) for i, p in enumerate(leaves)})
    return acc


if __name__ == "__main__":
    acc = main()
    raise SystemExit(0 if acc >= 0.97 else 1)
