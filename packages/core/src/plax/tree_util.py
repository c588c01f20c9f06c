"""Pytree utilities (as jax.tree_util)."""

from plax._src.tree_util import (  # noqa: F401
    DictKey, FlattenedIndexKey, GetAttrKey, Partial, PyTreeDef, SequenceKey, all_leaves, keystr,
    register_dataclass, register_pytree_node, register_pytree_node_class,
    register_pytree_with_keys, register_static, tree_all, tree_flatten, tree_flatten_with_path,
    tree_leaves, tree_leaves_with_path, tree_map, tree_map_with_path, tree_reduce,
    tree_structure, tree_transpose, tree_unflatten, treedef_children, treedef_is_leaf)
from plax._src.tree_util_more import *  # noqa: E402,F401,F403  (the rest of jax.tree_util)
