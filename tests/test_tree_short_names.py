"""plax.tree's short names against jax.tree's: static dataclass fields, broadcast and
reduce_associative."""

from __future__ import annotations

import dataclasses

import numpy as np
from conftest import requires_jax

import plax
import plax.tree as pt


@requires_jax
def test_static_broadcast_reduce_associative_as_jax():
    import jax
    for mod, register in ((pt, plax.tree_util.register_dataclass),
                          (jax.tree, jax.tree_util.register_dataclass)):
        @register
        @dataclasses.dataclass
        class Op:
            x: object
            op: str = mod.static(default="add")

        m = Op(x=np.ones(2))
        assert len(mod.leaves(m)) == 1 and m.op == "add"
        assert mod.structure(m) == mod.structure(Op(x=np.zeros(2)))
        assert mod.structure(m) != mod.structure(Op(x=np.zeros(2), op="mul"))
    full = [(3, 4), [5, {"a": 6}]]
    assert pt.broadcast([1, 2], full) == jax.tree.broadcast([1, 2], full)
    tree = [1, (2, 3), [4]]
    assert pt.reduce_associative(lambda a, b: a * b, tree) == jax.tree.reduce_associative(
        lambda a, b: a * b, tree) == 24
