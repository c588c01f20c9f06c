"""Train an MLP on scikit-learn's digits (8x8 images, shipped with scikit-learn, no download)
with plax: softmax cross-entropy, minibatch SGD with momentum under jit. Prints the loss per
epoch and the test accuracy (at least 95%). The data split, the loss, the step and the loop
serve examples/cnn_digits.py too."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import plax
import plax.numpy as jnp


def init(key, sizes):
    params = []
    for k, (m, n) in zip(plax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": plax.random.normal(k, (m, n)) * np.sqrt(2.0 / m),
                       "b": jnp.zeros(n)})
    return params


def forward(params, x):
    for layer in params[:-1]:
        x = plax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def data(images=False):
    """The digits scaled to [0, 1], split 3:1 into (x_train, x_test, y_train, y_test): rows of
    64 pixels, or with images=True (N, 8, 8, 1) NHWC images."""
    digits = load_digits()
    x = digits.images[..., None] if images else digits.data
    x = (x / 16.0).astype(np.float32)
    return train_test_split(x, digits.target, test_size=0.25, random_state=0)


def cross_entropy(logits, y):
    return -jnp.mean(jnp.sum(plax.nn.log_softmax(logits) * plax.nn.one_hot(y, 10), axis=-1))


def make_step(forward, lr):
    """One jitted SGD-with-momentum step on the softmax cross-entropy of `forward`."""
    def loss_fn(params, x, y):
        return cross_entropy(forward(params, x), y)

    @plax.jit
    def step(params, velocity, x, y):
        loss, grads = plax.value_and_grad(loss_fn)(params, x, y)
        velocity = plax.tree_util.tree_map(lambda v, g: 0.9 * v + g, velocity, grads)
        params = plax.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
        return params, velocity, loss
    return step


def train(step, params, x_tr, y_tr, epochs, batch):
    """Minibatch epochs in a seeded random order, printing each epoch's mean loss."""
    velocity = plax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        order = rng.permutation(len(x_tr))
        losses = []
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i:i + batch]
            params, velocity, loss = step(params, velocity, x_tr[idx], y_tr[idx].astype(np.int32))
            losses.append(float(loss))
        print(f"epoch {epoch + 1:2d}  loss {np.mean(losses):.4f}")
    return params


def main(epochs=30, batch=64):
    x_tr, x_te, y_tr, y_te = data()
    params = init(plax.random.PRNGKey(0), [64, 128, 64, 10])
    params = train(make_step(forward, 0.05), params, x_tr, y_tr, epochs, batch)
    pred = np.asarray(jnp.argmax(forward(params, x_te), axis=-1))
    acc = float(np.mean(pred == y_te))
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    acc = main()
    raise SystemExit(0 if acc >= 0.95 else 1)
