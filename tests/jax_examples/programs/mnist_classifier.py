"""JAX's examples/mnist_classifier.py, on a synthetic 10-class problem (nothing fetched): a
stax MLP trained with optimizers.momentum under a jitted update, accuracy per epoch."""

import itertools

import numpy as np
import numpy.random as npr

import jax
import jax.numpy as jnp
from jax import grad, jit, random
from jax.example_libraries import optimizers, stax
from jax.example_libraries.stax import Dense, LogSoftmax, Relu

RTOL, ATOL = 2e-3, 2e-4


def data(n=512, dim=64, classes=10):
    rs = npr.RandomState(0)
    teacher = rs.randn(dim, classes).astype(np.float32)
    x = rs.randn(n, dim).astype(np.float32)
    labels = np.argmax(x @ teacher, axis=1)
    return x, np.eye(classes, dtype=np.float32)[labels]


def loss(params, batch):
    inputs, targets = batch
    preds = predict(params, inputs)
    return -jnp.mean(jnp.sum(preds * targets, axis=1))


def accuracy(params, batch):
    inputs, targets = batch
    target_class = jnp.argmax(targets, axis=1)
    predicted_class = jnp.argmax(predict(params, inputs), axis=1)
    return jnp.mean(predicted_class == target_class)


init_random_params, predict = stax.serial(
    Dense(128), Relu,
    Dense(64), Relu,
    Dense(10), LogSoftmax)


def main():
    rng = random.PRNGKey(0)
    step_size, num_epochs, batch_size, momentum_mass = 0.01, 3, 128, 0.9
    train_images, train_labels = data()
    num_train = train_images.shape[0]
    num_complete_batches, leftover = divmod(num_train, batch_size)
    num_batches = num_complete_batches + bool(leftover)

    def data_stream():
        rs = npr.RandomState(0)
        while True:
            perm = rs.permutation(num_train)
            for i in range(num_batches):
                batch_idx = perm[i * batch_size:(i + 1) * batch_size]
                yield train_images[batch_idx], train_labels[batch_idx]

    batches = data_stream()
    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=momentum_mass)

    @jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        return opt_update(i, grad(loss)(params, batch), opt_state)

    _, init_params = init_random_params(rng, (-1, 64))
    opt_state = opt_init(init_params)
    itercount = itertools.count()
    accs, losses = [], []
    for epoch in range(num_epochs):
        for _ in range(num_batches):
            opt_state = update(next(itercount), opt_state, next(batches))
        params = get_params(opt_state)
        accs.append(float(accuracy(params, (train_images, train_labels))))
        losses.append(float(loss(params, (train_images, train_labels))))
        print(f"epoch {epoch}")
    params = get_params(opt_state)
    return {"accuracy": accs, "loss": losses,
            "param_norms": [jnp.sum(jnp.abs(p)) for p in jax.tree_util.tree_leaves(params)],
            "opt_state_leaves": len(jax.tree_util.tree_leaves(opt_state))}
