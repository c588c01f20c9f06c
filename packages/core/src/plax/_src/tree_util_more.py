"""The rest of jax.tree_util's surface on plax's pytree registry: one-level flattening,
is_tree_node, tree_broadcast, tree_reduce_associative, treedef_tuple, the with-keys class
decorator, and the KeyEntry/KeyPath types."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import optree

from plax._src import tree_util as tu

KeyEntry = Any
KeyPath = tuple
default_registry = tu.NAMESPACE  # plax's registry is optree's namespace of this name


def flatten_one_level(tree: Any) -> tuple[tuple, Any]:
    """The children of the root node of `tree` and the node's metadata; a leaf raises."""
    if not is_tree_node(type(tree)):
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    out = optree.tree_flatten_one_level(tree, none_is_leaf=False, namespace=tu.NAMESPACE)
    return tuple(out[0]), out[1]


def flatten_one_level_with_keys(tree: Any) -> tuple[tuple, Any]:
    """flatten_one_level with each child paired with its key."""
    if not is_tree_node(type(tree)):
        raise ValueError(f"can't tree-flatten type: {type(tree)}")
    meta = optree.tree_flatten_one_level(tree, none_is_leaf=False, namespace=tu.NAMESPACE)[1]
    pairs = tu.tree_flatten_with_path(tree, is_leaf=lambda x: x is not tree)[0]
    return tuple((path[0], child) for path, child in pairs), meta


def is_tree_node(typ: type) -> bool:
    """Whether `typ` is a registered pytree node type (built-in, namedtuple or registered)."""
    if not isinstance(typ, type):
        raise TypeError(f"is_tree_node takes a type, got {typ!r}")
    if typ is type(None):
        return True
    return optree.register_pytree_node.get(typ, namespace=tu.NAMESPACE) is not None or (
        issubclass(typ, tuple) and hasattr(typ, "_fields"))


def tree_broadcast(prefix_tree: Any, full_tree: Any, is_leaf=None) -> Any:
    """`prefix_tree` with each leaf repeated over the subtree of `full_tree` it prefixes."""
    return optree.tree_broadcast_prefix(prefix_tree, full_tree, is_leaf=is_leaf,
                                        none_is_leaf=False, namespace=tu.NAMESPACE)


def tree_reduce_associative(operation: Callable[[Any, Any], Any], tree: Any, *,
                            identity: Any = tu._NO_INIT, is_leaf=None) -> Any:
    """The leaves of `tree` combined by the associative `operation`, pairwise in a balanced
    tree (identity for an empty tree)."""
    leaves = tu.tree_leaves(tree, is_leaf=is_leaf)
    if not leaves:
        if identity is tu._NO_INIT:
            raise TypeError("tree_reduce_associative: must specify identity argument for "
                            "empty tree")
        return identity
    while len(leaves) > 1:
        paired = [operation(a, b) for a, b in zip(leaves[::2], leaves[1::2])]
        leaves = paired + ([leaves[-1]] if len(leaves) % 2 else [])
    return leaves[0]


def treedef_tuple(treedefs: Sequence[Any]) -> Any:
    """The treedef of a tuple whose children have `treedefs`."""
    return optree.treespec_tuple(list(treedefs), none_is_leaf=False, namespace=tu.NAMESPACE)


def register_pytree_with_keys_class(cls: type) -> type:
    """Register a class with `tree_flatten_with_keys` and `tree_unflatten` methods."""
    def flatten(x):
        children_with_keys, aux = x.tree_flatten_with_keys()
        return [c for _, c in children_with_keys], aux

    tu.register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                                 flatten)
    return cls


__all__ = ["KeyEntry", "KeyPath", "default_registry", "flatten_one_level",
           "flatten_one_level_with_keys", "is_tree_node", "register_pytree_with_keys_class",
           "tree_broadcast", "tree_reduce_associative", "treedef_tuple"]
