"""The rest of jax.tree_util's surface against JAX: flatten_one_level(_with_keys),
is_tree_node, tree_broadcast, tree_reduce_associative, treedef_tuple and
register_pytree_with_keys_class."""

from __future__ import annotations

import collections

import pytest
from conftest import requires_jax

import plax.tree_util as pt

TREE = {"a": (1, 2), "b": [3, {"c": 4}], "n": None}


@requires_jax
def test_against_jax():
    import jax.tree_util as jt
    children, meta = pt.flatten_one_level(TREE)
    jchildren, jmeta = jt.flatten_one_level(TREE)
    assert children == jchildren and list(meta) == list(jmeta)  # the dict's keys
    assert [(str(k), c) for k, c in pt.flatten_one_level_with_keys(TREE)[0]] == \
        [(str(k), c) for k, c in jt.flatten_one_level_with_keys(TREE)[0]]
    nt = collections.namedtuple("NT", "a b")
    for typ in (dict, list, int, type(None), nt, float, tuple, collections.OrderedDict):
        assert pt.is_tree_node(typ) == jt.is_tree_node(typ), typ
    prefix, full = (1, [2]), ((5, 6), [{"x": 7, "y": 8}])
    assert pt.tree_broadcast(prefix, full) == jt.tree_broadcast(prefix, full)
    assert pt.tree_reduce_associative(lambda a, b: a + b, TREE) == \
        jt.tree_reduce_associative(lambda a, b: a + b, TREE)
    td = pt.treedef_tuple([pt.tree_structure((1, 2)), pt.tree_structure([3])])
    assert pt.tree_unflatten(td, [1, 2, 3]) == ((1, 2), [3])


def test_keys_class_and_errors():
    @pt.register_pytree_with_keys_class
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def tree_flatten_with_keys(self):
            return ((pt.GetAttrKey("a"), self.a), (pt.GetAttrKey("b"), self.b)), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert pt.tree_leaves(Pair(1, [2, 3])) == [1, 2, 3]
    paths = pt.tree_flatten_with_path(Pair(1, [2]))[0]
    assert pt.keystr(paths[1][0]) == ".b[0]"
    assert pt.is_tree_node(Pair)
    with pytest.raises(ValueError, match="can't tree-flatten"):
        pt.flatten_one_level(1)
    with pytest.raises(TypeError, match="identity"):
        pt.tree_reduce_associative(lambda a, b: a + b, [])
    assert pt.tree_reduce_associative(lambda a, b: a + b, [], identity=0) == 0
