"""Optimizers in the style of jax.example_libraries.optimizers, written on plax: an optimizer
is (init_fun, update_fun, get_params) over pytrees of parameters, its state an
`OptimizerState` namedtuple registered as a pytree node (as JAX's does)."""

from collections import namedtuple
import functools

import plax.numpy as jnp
from plax import tree_util as tu

OptimizerState = namedtuple("OptimizerState", ["packed_state", "tree_def", "subtree_defs"])
tu.register_pytree_node(
    OptimizerState,
    lambda xs: ((xs.packed_state,), (xs.tree_def, xs.subtree_defs)),
    lambda data, xs: OptimizerState(xs[0], data[0], data[1]))

Optimizer = namedtuple("Optimizer", ["init_fn", "update_fn", "params_fn"])


def optimizer(opt_maker):
    """Lift an optimizer on one array to pytrees of parameters."""
    @functools.wraps(opt_maker)
    def tree_opt_maker(*args, **kwargs):
        init, update, get_params = opt_maker(*args, **kwargs)

        def tree_init(x0_tree):
            x0_flat, tree = tu.tree_flatten(x0_tree)
            states = [init(x0) for x0 in x0_flat]
            flat, subtrees = zip(*[tu.tree_flatten(s) for s in states]) if states else ((), ())
            return OptimizerState(list(flat), tree, list(subtrees))

        def tree_update(i, grad_tree, opt_state):
            packed, tree, subtrees = opt_state
            grads, tree2 = tu.tree_flatten(grad_tree)
            if tree2 != tree:
                raise TypeError(f"optimizer update: gradient tree {tree2} differs from the "
                                f"parameter tree {tree}")
            states = [tu.tree_unflatten(s, p) for s, p in zip(subtrees, packed)]
            new = [update(i, g, s) for g, s in zip(grads, states)]
            flat, subtrees2 = zip(*[tu.tree_flatten(s) for s in new]) if new else ((), ())
            return OptimizerState(list(flat), tree, list(subtrees2))

        def tree_get_params(opt_state):
            packed, tree, subtrees = opt_state
            states = [tu.tree_unflatten(s, p) for s, p in zip(subtrees, packed)]
            return tu.tree_unflatten(tree, [get_params(s) for s in states])

        return Optimizer(tree_init, tree_update, tree_get_params)
    return tree_opt_maker


def make_schedule(step_size):
    return step_size if callable(step_size) else (lambda i: step_size)


@optimizer
def sgd(step_size):
    step_size = make_schedule(step_size)
    return (lambda x0: x0), (lambda i, g, x: x - step_size(i) * g), (lambda x: x)


@optimizer
def momentum(step_size, mass):
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, jnp.zeros_like(x0)

    def update(i, g, state):
        x, velocity = state
        velocity = mass * velocity + g
        return x - step_size(i) * velocity, velocity

    return init, update, lambda state: state[0]


@optimizer
def adam(step_size, b1=0.9, b2=0.999, eps=1e-8):
    step_size = make_schedule(step_size)

    def init(x0):
        return x0, jnp.zeros_like(x0), jnp.zeros_like(x0)

    def update(i, g, state):
        x, m, v = state
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * jnp.square(g) + b2 * v
        mhat = m / (1 - jnp.asarray(b1, m.dtype) ** (i + 1))
        vhat = v / (1 - jnp.asarray(b2, m.dtype) ** (i + 1))
        return x - step_size(i) * mhat / (jnp.sqrt(vhat) + eps), m, v

    return init, update, lambda state: state[0]


def unpack_optimizer_state(opt_state):
    return tu.tree_map(lambda x: x, opt_state)
