"""Pytrees: flatten/unflatten/map/leaves/structure, None as an empty subtree, user classes, key
paths; checked against fixed expectations and against jax.tree_util."""

from __future__ import annotations

import collections
import dataclasses
import functools

import numpy as np
import pytest
from conftest import HAVE_JAX, requires_jax

import plax
import plax.tree_util as ptu

Point = collections.namedtuple("Point", "x y")

TREES = [
    1,
    None,
    (),
    [],
    {},
    [1, 2.0, None, "leaf"],
    (1, (2, (3, None))),
    {"b": 1, "a": [2, {"c": 3}], "n": None},
    Point(1, {"z": [2, 3]}),
    collections.OrderedDict([("z", 1), ("a", 2)]),
    collections.defaultdict(list, {"k": [1, 2]}),
    [np.zeros(2), {"w": np.ones((2, 3))}, (np.float32(1),)],
    [[], (), {}, [None]],
]


def key_repr(path):
    """A comparable form of a key path, the same for JAX's and plax's key classes."""
    out = []
    for k in path:
        name = type(k).__name__
        val = {"SequenceKey": "idx", "DictKey": "key", "GetAttrKey": "name",
               "FlattenedIndexKey": "key"}[name]
        out.append((name, getattr(k, val)))
    return tuple(out)


@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_flatten_unflatten_roundtrip(tree):
    leaves, treedef = ptu.tree_flatten(tree)
    assert ptu.tree_leaves(tree) == leaves
    assert ptu.tree_structure(tree) == treedef and treedef.num_leaves == len(leaves)
    back = ptu.tree_unflatten(treedef, leaves)
    assert type(back) is type(tree) and ptu.tree_structure(back) == treedef
    assert ptu.tree_leaves(back) == leaves if not any(isinstance(x, np.ndarray)
                                                      for x in leaves) else True
    with pytest.raises(ValueError):
        ptu.tree_unflatten(treedef, leaves + [0])


@requires_jax
@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_matches_jax(tree):
    import jax.tree_util as jtu
    pl, jl = ptu.tree_leaves(tree), jtu.tree_leaves(tree)
    assert len(pl) == len(jl) and all(a is b for a, b in zip(pl, jl, strict=True))
    pt, jt = ptu.tree_structure(tree), jtu.tree_structure(tree)
    assert (pt.num_leaves, pt.num_nodes) == (jt.num_leaves, jt.num_nodes)
    pp = [(key_repr(p), ptu.keystr(p)) for p, _ in ptu.tree_leaves_with_path(tree)]
    jp = [(key_repr(p), jtu.keystr(p)) for p, _ in jtu.tree_leaves_with_path(tree)]
    assert pp == jp
    simple = [ptu.keystr(p, simple=True, separator="/") for p, _ in
              ptu.tree_leaves_with_path(tree)]
    assert simple == [jtu.keystr(p, simple=True, separator="/") for p, _ in
                      jtu.tree_leaves_with_path(tree)]
    f = lambda x: ("mapped", id(x))
    pm, jm = ptu.tree_map(f, tree), jtu.tree_map(f, tree)
    # equal as values (optree keeps a dict's insertion order where JAX sorts its keys)
    assert pm == jm and type(pm) is type(jm)


def test_none_is_an_empty_subtree():
    assert ptu.tree_leaves([None, 1, {"a": None}]) == [1]
    calls = []
    out = ptu.tree_map(lambda x: calls.append(x) or x * 10, {"a": None, "b": 2})
    assert out == {"a": None, "b": 20} and calls == [2]
    assert ptu.tree_structure(None).num_leaves == 0
    assert ptu.tree_structure(None) != ptu.tree_structure(())
    assert ptu.tree_leaves(None, is_leaf=lambda x: x is None) == [None]


def test_is_leaf_and_multiple_trees():
    tree = {"a": (1, 2), "b": [3, (4, 5)]}
    assert ptu.tree_leaves(tree, is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), 3, (4, 5)]
    assert ptu.tree_map(lambda x: len(x) if isinstance(x, tuple) else -x, tree,
                        is_leaf=lambda x: isinstance(x, tuple)) == {"a": 2, "b": [-3, 2]}
    a = {"x": 1, "y": [2, 3]}
    b = {"x": 10, "y": [20, 30]}
    c = {"x": 100, "y": [200, 300]}
    assert ptu.tree_map(lambda *xs: sum(xs), a, b, c) == {"x": 111, "y": [222, 333]}
    # the first tree's structure rules; the others may have subtrees where it has leaves
    assert ptu.tree_map(lambda x, y: (x, y), [1, 2], [(3, 4), None]) == [(1, (3, 4)), (2, None)]
    with pytest.raises(ValueError):
        ptu.tree_map(lambda x, y: x, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        ptu.tree_map(lambda x, y: x, {"a": 1}, {"b": 1})
    paths = ptu.tree_map_with_path(lambda p, x, y: (ptu.keystr(p), x + y), a, b)
    assert paths == {"x": ("['x']", 11), "y": [("['y'][0]", 22), ("['y'][1]", 33)]}


class Box:
    """A user class registered with plain flatten/unflatten functions."""

    def __init__(self, value, label):
        self.value, self.label = value, label

    def __eq__(self, other):
        return type(other) is Box and (self.value, self.label) == (other.value, other.label)


@ptu.register_pytree_node_class
class Pair:
    def __init__(self, first, second, tag="t"):
        self.first, self.second, self.tag = first, second, tag

    def tree_flatten(self):
        return (self.first, self.second), self.tag

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, tag=aux)


class Keyed:
    def __init__(self, a, b):
        self.a, self.b = a, b


@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = dataclasses.field(default="layer", metadata=dict(static=True))


@dataclasses.dataclass
class Explicit:
    x: object
    y: object
    mode: int


ptu.register_pytree_node(Box, lambda b: ((b.value,), b.label), lambda lab, ch: Box(ch[0], lab))
ptu.register_pytree_with_keys(
    Keyed, lambda k: (((ptu.GetAttrKey("a"), k.a), (ptu.GetAttrKey("b"), k.b)), None),
    lambda _, ch: Keyed(*ch))
ptu.register_dataclass(Params)
ptu.register_dataclass(Explicit, data_fields=["x", "y"], meta_fields=["mode"])


def _register_in_jax():
    import jax.tree_util as jtu
    if getattr(_register_in_jax, "done", False):
        return
    jtu.register_pytree_node(Box, lambda b: ((b.value,), b.label), lambda lab, ch: Box(ch[0], lab))
    jtu.register_pytree_node_class(Pair)
    jtu.register_pytree_with_keys(
        Keyed, lambda k: (((jtu.GetAttrKey("a"), k.a), (jtu.GetAttrKey("b"), k.b)), None),
        lambda _, ch: Keyed(*ch))
    jtu.register_dataclass(Params)
    jtu.register_dataclass(Explicit, data_fields=["x", "y"], meta_fields=["mode"])
    _register_in_jax.done = True


USER_TREE = [Box(1, "a"), Pair(2, [3, None]), Keyed(4, {"k": 5}), Params(6, 7),
             Explicit(8, (9,), mode=2)]


def test_user_classes():
    leaves, treedef = ptu.tree_flatten(USER_TREE)
    assert leaves == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    back = ptu.tree_unflatten(treedef, [x * 10 for x in leaves])
    assert back[0] == Box(10, "a") and back[1].tag == "t" and back[1].second == [30, None]
    assert (back[2].a, back[2].b) == (40, {"k": 50})
    assert back[3] == Params(60, 70) and back[4] == Explicit(80, (90,), 2)
    # static fields live in the treedef: different values, different structures
    assert ptu.tree_structure(Params(1, 2, "x")) != ptu.tree_structure(Params(1, 2, "y"))
    assert ptu.tree_structure(Box(1, "a")) != ptu.tree_structure(Box(1, "b"))
    assert ptu.tree_leaves(Params(1, 2, "x")) == [1, 2]
    paths = [ptu.keystr(p) for p, _ in ptu.tree_leaves_with_path(USER_TREE)]
    assert paths == ["[0][<flat index 0>]", "[1][<flat index 0>]", "[1][<flat index 1>][0]",
                     "[2].a", "[2].b['k']", "[3].w", "[3].b", "[4].x", "[4].y[0]"]
    with pytest.raises(TypeError, match="data_fields"):
        ptu.register_dataclass(Box)


@requires_jax
def test_user_classes_match_jax():
    import jax.tree_util as jtu
    _register_in_jax()
    assert jtu.tree_leaves(USER_TREE) == ptu.tree_leaves(USER_TREE)
    pp = [key_repr(p) for p, _ in ptu.tree_leaves_with_path(USER_TREE)]
    jp = [key_repr(p) for p, _ in jtu.tree_leaves_with_path(USER_TREE)]
    assert pp == jp
    assert [ptu.keystr(p) for p, _ in ptu.tree_leaves_with_path(USER_TREE)] == [
        jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(USER_TREE)]


def test_keys_are_values():
    assert ptu.SequenceKey(0) == ptu.SequenceKey(0) and ptu.DictKey("a") != ptu.DictKey("b")
    assert len({ptu.GetAttrKey("x"), ptu.GetAttrKey("x")}) == 1
    assert repr(ptu.DictKey(key="a")) == "DictKey(key='a')"
    assert repr(ptu.FlattenedIndexKey(2)) == "FlattenedIndexKey(key=2)"
    path = (ptu.DictKey("a"), ptu.SequenceKey(0), ptu.GetAttrKey("w"), ptu.FlattenedIndexKey(1))
    assert ptu.keystr(path) == "['a'][0].w[<flat index 1>]"
    assert ptu.keystr(path, simple=True, separator="/") == "a/0/w/1"
    if HAVE_JAX:
        import jax.tree_util as jtu
        jpath = (jtu.DictKey("a"), jtu.SequenceKey(0), jtu.GetAttrKey("w"),
                 jtu.FlattenedIndexKey(1))
        assert ptu.keystr(path) == jtu.keystr(jpath)
        assert [repr(k) for k in path] == [repr(k) for k in jpath]


def test_reduce_all_transpose_and_helpers():
    tree = {"a": [1, 2], "b": (3,)}
    assert ptu.tree_reduce(lambda x, y: x + y, tree) == 6
    assert ptu.tree_reduce(lambda x, y: x + y, tree, 10) == 16
    assert ptu.tree_all([1, True, {"x": 2}]) and not ptu.tree_all([1, 0])
    assert ptu.all_leaves([1, np.zeros(2)]) and not ptu.all_leaves([1, [2]])
    outer = ptu.tree_structure([0, 0])
    inner = ptu.tree_structure({"x": 0, "y": 0})
    t = ptu.tree_transpose(outer, inner, [{"x": 1, "y": 2}, {"x": 3, "y": 4}])
    assert t == {"x": [1, 3], "y": [2, 4]}
    td = ptu.tree_structure([1, (2, 3)])
    kids = ptu.treedef_children(td)
    assert len(kids) == 2 and ptu.treedef_is_leaf(kids[0]) and not ptu.treedef_is_leaf(kids[1])


def test_partial_is_a_pytree():
    p = ptu.Partial(lambda a, b, c=0: a + b + c, np.float32(1), c=np.float32(10))
    leaves, treedef = ptu.tree_flatten(p)
    assert leaves == [np.float32(1), np.float32(10)]
    q = ptu.tree_unflatten(treedef, [2, 20])
    assert q(3) == 25 and p(3) == 14
    nested = ptu.Partial(functools.partial(lambda a, b: a * b, 3))
    assert nested(4) == 12 and nested.args == (3,)


def test_plax_tree_module_aliases():
    tree = {"a": [1, 2], "b": None}
    assert plax.tree.leaves(tree) == [1, 2]
    assert plax.tree.map(lambda x: x + 1, tree) == {"a": [2, 3], "b": None}
    leaves, td = plax.tree.flatten(tree)
    assert plax.tree.unflatten(td, leaves) == tree and plax.tree.structure(tree) == td
    assert plax.tree.reduce(lambda x, y: x * y, tree) == 2 and plax.tree.all(tree)
    assert [ptu.keystr(p) for p, _ in plax.tree.leaves_with_path(tree)] == ["['a'][0]",
                                                                           "['a'][1]"]
    assert plax.tree.map_with_path(lambda p, x: len(p), tree) == {"a": [2, 2], "b": None}
