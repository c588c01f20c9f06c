"""The random-numbers and stateful-computations notebooks: explicit keys (split, fold_in,
samplers bit-compatible with JAX's), a PRNG threaded through a jitted loop, and state passed
in and out of a jitted step (a Counter and a linear-regression update)."""

from typing import NamedTuple

import numpy as np

import jax
import jax.numpy as jnp
from jax import random

RTOL, ATOL = 1e-5, 1e-5


class Params(NamedTuple):
    weight: jnp.ndarray
    bias: jnp.ndarray


def init(rng) -> Params:
    weights_key, bias_key = random.split(rng)
    return Params(random.normal(weights_key, ()), random.normal(bias_key, ()))


def loss(params: Params, x, y):
    pred = params.weight * x + params.bias
    return jnp.mean((pred - y) ** 2)


@jax.jit
def update(params: Params, x, y) -> Params:
    grad = jax.grad(loss)(params, x, y)
    return jax.tree_util.tree_map(lambda p, g: p - 0.005 * g, params, grad)


class CounterV2:
    def count(self, n):
        return n + 1, n + 1

    def reset(self):
        return 0, 0


def main():
    key = random.PRNGKey(42)
    out = {}
    key, subkey = random.split(key)
    out["normal"] = random.normal(subkey, (3,))
    out["uniform"] = random.uniform(random.fold_in(key, 7), (2, 2), minval=-1., maxval=2.)
    out["split3"] = random.split(key, 3)
    out["randint"] = random.randint(key, (4,), 0, 10)
    out["bernoulli"] = random.bernoulli(key, 0.3, (6,))
    out["same key twice"] = [random.normal(key, ()), random.normal(key, ())]

    @jax.jit
    def walk(key):
        def body(i, carry):
            k, x = carry
            k, sub = random.split(k)
            return k, x + random.normal(sub, ())
        return jax.lax.fori_loop(0, 5, body, (key, 0.))[1]

    out["jitted walk"] = walk(key)
    counter, state = CounterV2(), 0
    fast_count = jax.jit(counter.count)
    for _ in range(3):
        value, state = fast_count(state)
    out["counter"] = [value, state]
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(100,)).astype(np.float32)
    ys = 3 * xs - 1 + rng.normal(scale=0.1, size=(100,)).astype(np.float32)
    params = init(random.PRNGKey(123))
    for _ in range(100):
        params = update(params, xs, ys)
    out["regression"] = params
    return out
