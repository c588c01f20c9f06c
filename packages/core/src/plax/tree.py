"""Short names for pytree functions (as jax.tree): plax.tree.map, plax.tree.leaves, ..."""

from plax._src.tree_util import (  # noqa: F401
    tree_all as all, tree_flatten as flatten, tree_flatten_with_path as flatten_with_path,
    tree_leaves as leaves, tree_leaves_with_path as leaves_with_path, tree_map as map,
    tree_map_with_path as map_with_path, tree_reduce as reduce, tree_structure as structure,
    tree_transpose as transpose, tree_unflatten as unflatten)
from plax._src.tree_util_more import (  # noqa: F401,E402
    tree_broadcast as broadcast, tree_reduce_associative as reduce_associative)


def static(**kwargs):
    """A dataclasses.field marked static=True in its metadata: register_dataclass makes it
    part of the tree's structure rather than a leaf (as jax.tree.static)."""
    import dataclasses
    metadata = dict(kwargs.pop("metadata", None) or {}, static=True)
    return dataclasses.field(metadata=metadata, **kwargs)
