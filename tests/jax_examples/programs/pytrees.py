"""The pytrees notebook: dict key order (sorted, as JAX rebuilds dicts), namedtuples and
registered classes, tree_map over several trees, key paths, jit and grad over pytrees, and
the errors for unsortable dict keys."""

from collections import namedtuple

import jax
import jax.numpy as jnp
from jax import tree_util


class MyContainer:
    def __init__(self, name, a, b):
        self.name, self.a, self.b = name, a, b


tree_util.register_pytree_node(
    MyContainer, lambda c: ((c.a, c.b), c.name), lambda name, xs: MyContainer(name, *xs))

Point = namedtuple("Point", ["x", "y"])


class Params(namedtuple("Params", ["w", "b"])):  # a namedtuple subclass made a node (silently)
    pass


tree_util.register_pytree_node(Params, lambda p: ((p.w, p.b), None),
                               lambda _, xs: Params(*xs))


def main():
    d = {"b": jnp.ones(2), "a": 2., "c": {"z": 1., "y": [3., 4.]}}
    out = {}
    mapped = jax.tree_util.tree_map(lambda x: x * 2, d)
    out["tree_map keys"] = list(mapped) + list(mapped["c"])
    leaves, treedef = jax.tree_util.tree_flatten(d)
    out["leaves"] = leaves
    out["treedef"] = [treedef.num_leaves, treedef.num_nodes]  # str(): README, differences
    out["unflatten keys"] = list(jax.tree_util.tree_unflatten(treedef, leaves))
    out["two trees"] = jax.tree_util.tree_map(lambda x, y: x + y, {"q": 1., "p": 2.},
                                              {"p": 10., "q": 20.})
    out["paths"] = [jax.tree_util.keystr(p) for p, _ in
                    jax.tree_util.tree_flatten_with_path(d)[0]]
    out["jit dict"] = list(jax.jit(lambda t: {"y": t["b"], "x": t["a"]})(d))
    g = jax.grad(lambda t: t["a"] * jnp.sum(t["b"]) + t["c"]["z"])(d)
    out["grad dict"] = g
    out["grad keys"] = list(g)
    out["container"] = jax.tree_util.tree_leaves(
        [MyContainer("x", 1., 2.), MyContainer("y", 3., [4., 5.])])
    out["namedtuple"] = jax.tree_util.tree_map(lambda v: v + 1, Point(1., 2.))
    p = jax.grad(lambda p: jnp.sum(p.w * p.b))(Params(jnp.ones(3), jnp.arange(3.)))
    out["params grad"] = [type(p).__name__, p.w, p.b]
    try:
        jax.tree_util.tree_leaves({1: 1., "a": 2.})
        out["unsortable"] = "accepted"
    except ValueError:
        out["unsortable"] = "ValueError"
    out["none"] = jax.tree_util.tree_leaves([None, 1., {"k": None}])
    return out
