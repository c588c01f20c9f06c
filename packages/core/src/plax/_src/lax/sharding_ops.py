"""`with_sharding_constraint`: inside a program, ask that a value be laid out by a sharding
(XLA's partitioner reshards it there); eagerly, it places the value (`device_put`).

`sharding_constraint_p` is the identity on values: its reference implementation returns its
operand, its jvp and transpose constrain the tangent and cotangent alike (plax-transforms), and
the xla backend lowers it to the `@Sharding` custom call of a partitioned program."""

from __future__ import annotations

from plax._src.core import EVAL_TRACE, Primitive, Tracer, current_trace
from plax._src.registry import add_abstract_eval
from plax._src.sharding import NamedSharding, PartitionSpec, Sharding, get_mesh
from plax._src.tree_util import tree_flatten, tree_unflatten

__all__ = ["with_sharding_constraint", "sharding_constraint_p", "reshard"]

sharding_constraint_p = Primitive("sharding_constraint", linear_in=(0,))


def _abstract(x, *, sharding):
    if isinstance(sharding, NamedSharding):
        sharding.shard_shape(x.shape)  # errors naming the spec and the dimension
    return x


add_abstract_eval(sharding_constraint_p, _abstract)


def resolve_sharding(s, what: str) -> Sharding:
    """A Sharding as given, or a PartitionSpec on the mesh of the enclosing `with mesh:`."""
    if isinstance(s, Sharding):
        return s
    if isinstance(s, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(f"{what}: a bare PartitionSpec {s!r} needs a mesh; use "
                             "NamedSharding(mesh, spec) or a `with mesh:` block")
        return NamedSharding(mesh, s)
    raise TypeError(f"{what}: expected a Sharding or a PartitionSpec, got {type(s).__name__}: "
                    f"{s!r}")


def broadcast_shardings(shardings, leaves_tree, what: str) -> list:
    """One Sharding per leaf of `leaves_tree`: a single Sharding/spec for all, or a pytree of
    them with the structure of the value (a prefix of it)."""
    leaves, tree = tree_flatten(leaves_tree)
    if isinstance(shardings, (Sharding, PartitionSpec)):
        return [resolve_sharding(shardings, what)] * len(leaves)
    s_leaves, s_tree = tree_flatten(shardings, is_leaf=lambda v: isinstance(
        v, (Sharding, PartitionSpec)) or v is None)
    if len(s_leaves) == len(leaves):
        return [None if s is None else resolve_sharding(s, what) for s in s_leaves]
    # a prefix: one sharding per top-level entry
    if isinstance(leaves_tree, (tuple, list)) and len(shardings) == len(leaves_tree):
        out = []
        for sub, v in zip(shardings, leaves_tree):
            out.extend(broadcast_shardings(sub, v, what) if sub is not None
                       else [None] * len(tree_flatten(v)[0]))
        return out
    raise ValueError(f"{what}: {len(s_leaves)} shardings for a value with {len(leaves)} "
                     f"leaves ({tree})")


def with_sharding_constraint(x, shardings):
    """`x` (a pytree) laid out by `shardings` (one Sharding or PartitionSpec for every leaf,
    or a pytree of them): a constraint for XLA's partitioner under jit, a `device_put`
    eagerly. On a one-device backend it changes nothing."""
    leaves, tree = tree_flatten(x)
    per_leaf = broadcast_shardings(shardings, x, "with_sharding_constraint")
    out = []
    for v, s in zip(leaves, per_leaf):
        if s is None:
            out.append(v)
        elif not isinstance(v, Tracer) and current_trace() is EVAL_TRACE:
            from plax._src import sharded
            from plax._src.array import Array
            if type(v) is Array and v._backend.name != _backend_name(s):
                out.append(v)  # another backend (the reference): nothing to lay out
            else:
                out.append(sharded.put(v, s))
        else:
            out.append(sharding_constraint_p.bind(v, sharding=s))
    return tree_unflatten(tree, out)


def reshard(xs, out_shardings):
    """`xs` (a pytree) laid out by `out_shardings` (as jax.reshard): a NamedSharding, or a
    PartitionSpec on the current mesh (`plax.set_mesh`), for all leaves or a pytree of them.
    Eagerly the arrays are moved (`device_put`); under jit the program reshards them there
    (a sharding constraint XLA's partitioner honours), and grad/vmap pass through."""
    flat, _ = tree_flatten(out_shardings, is_leaf=lambda v: isinstance(
        v, (Sharding, PartitionSpec)) or v is None)
    for s in flat:
        if s is None or (isinstance(s, PartitionSpec) and get_mesh() is None):
            raise ValueError("reshard should only be used with out_shardings which are "
                             "non-None and have a non-empty mesh (a NamedSharding, or a "
                             f"PartitionSpec inside `plax.set_mesh(mesh)`); got {s!r}")
        if not isinstance(s, (Sharding, PartitionSpec)):
            raise TypeError(f"reshard: out_shardings must be NamedShardings or "
                            f"PartitionSpecs, got {type(s).__name__}: {s!r}")
    return with_sharding_constraint(xs, out_shardings)


def _backend_name(s: Sharding) -> str | None:
    d = next(iter(s.device_set), None)
    return getattr(d, "backend_name", None)
