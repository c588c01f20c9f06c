"""Pytrees: nested containers of leaves (JAX's `jax.tree_util` API, built on optree).

`None` is an empty subtree, as in JAX. User classes register with `register_pytree_node`,
`register_pytree_node_class` or `register_dataclass`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import warnings
from typing import Any, Callable, Sequence

import optree

from plax._src.records import FrozenRecord

NAMESPACE = "plax"
PyTreeDef = optree.PyTreeSpec

_kw = dict(none_is_leaf=False, namespace=NAMESPACE)


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None):
    leaves, treedef = optree.tree_flatten(tree, is_leaf, **_kw)
    return leaves, _sorted_dicts(treedef)


def tree_unflatten(treedef: PyTreeDef, leaves: Sequence[Any]) -> Any:
    return optree.tree_unflatten(treedef, leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    return tree_flatten(tree, is_leaf)[0]  # through the treedef: unsortable keys raise


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    return _sorted_dicts(optree.tree_structure(tree, is_leaf, **_kw))


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf=None) -> Any:
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten(map(f, leaves, *others))


# Dicts as JAX rebuilds them: optree orders a dict's children by sorted key, as JAX does, but
# its treedef remembers the insertion order and unflattens in it; JAX's unflattens in sorted
# order and rejects keys that do not sort. So a treedef with dict nodes is rebuilt with sorted
# ones. Treedefs that differ only in insertion order are equal, so the rebuilt one is cached per
# treedef, except where equal treedefs may still differ (aux data of registered nodes that only
# compare equal, a defaultdict's factory): those are rebuilt each time.
_SORTED: dict = {}
_PLAIN = frozenset({dict, list, tuple, type(None), collections.OrderedDict, collections.deque})


def _sorted_dicts(treedef: PyTreeDef) -> PyTreeDef:
    try:
        out = _SORTED.get(treedef)
    except (TypeError, ValueError):  # aux data that cannot be hashed or compared
        return treedef.transform(_sort_node)
    if out is None:
        kinds: set = set()
        treedef.transform(lambda spec: kinds.add(spec.type) or spec)
        if not kinds & _DICTS:
            out = treedef
        elif all(k in _PLAIN or _is_namedtuple(k) for k in kinds):
            out = treedef.transform(_sort_node)
        else:
            return treedef.transform(_sort_node)
        if len(_SORTED) > 4096:
            _SORTED.clear()
        _SORTED[treedef] = out
    return out


def _is_namedtuple(t) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


_DICTS = frozenset({dict, collections.defaultdict})


def _sort_node(spec: PyTreeDef) -> PyTreeDef:
    if spec.type not in _DICTS:
        return spec
    d = spec.unflatten(range(spec.num_children))
    try:
        keys = sorted(d)
    except TypeError:
        raise ValueError("Comparator raised exception while sorting pytree dictionary keys "
                         f"({', '.join(repr(k) for k in d)}): a dict in a pytree needs keys "
                         "of mutually comparable types, as in JAX") from None
    if list(d) == keys:
        return spec
    items = [(k, d[k]) for k in keys]
    d = dict(items) if type(d) is dict else collections.defaultdict(d.default_factory, items)
    return optree.tree_structure(d, **_kw)


def tree_map_with_path(f: Callable, tree: Any, *rest: Any, is_leaf=None) -> Any:
    """tree_map whose `f` receives each leaf's key path first: f(path, x, *xs)."""
    leaves_paths, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in
                              zip(leaves_paths, *others, strict=True)])


def tree_flatten_with_path(tree: Any, is_leaf=None):
    """([(key path, leaf), ...], treedef); a key path is a tuple of the keys below."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    paths = [tuple(_key(e) for e in acc) for acc in treedef.accessors()]
    return list(zip(paths, leaves, strict=True)), treedef


def tree_leaves_with_path(tree: Any, is_leaf=None):
    return tree_flatten_with_path(tree, is_leaf)[0]


# Key path entries, as JAX's: frozen (comparable, hashable) and printed by keystr.

class SequenceKey(FrozenRecord):
    idx: int

    def __str__(self):
        return f"[{self.idx!r}]"


class DictKey(FrozenRecord):
    key: Any

    def __str__(self):
        return f"[{self.key!r}]"


class GetAttrKey(FrozenRecord):
    name: str

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(FrozenRecord):
    """The position of a child of a node registered without keys."""
    key: int

    def __str__(self):
        return f"[<flat index {self.key}>]"


_KEY_TYPES = (SequenceKey, DictKey, GetAttrKey, FlattenedIndexKey)


def _key(entry):
    """JAX's key for an optree path entry."""
    if isinstance(entry.entry, _KEY_TYPES):  # given by register_pytree_with_keys
        return entry.entry
    if isinstance(entry, optree.NamedTupleEntry):
        return GetAttrKey(entry.field)
    if isinstance(entry, optree.GetAttrEntry):
        return GetAttrKey(entry.name)
    if isinstance(entry, optree.MappingEntry):
        return DictKey(entry.entry)
    if isinstance(entry, optree.SequenceEntry):
        return SequenceKey(entry.entry)
    return FlattenedIndexKey(entry.entry)


def keystr(path: Sequence[Any], *, simple: bool = False, separator: str = "") -> str:
    """A key path as text: `['a'][0].b`; `simple=True` prints bare keys (`a/0/b` with '/')."""
    if simple:
        return separator.join(str(k._astuple()[0]) if isinstance(k, _KEY_TYPES)
                              else str(k) for k in path)
    return separator.join(str(k) for k in path)


_NO_INIT = object()


def tree_reduce(f: Callable, tree: Any, initializer: Any = _NO_INIT, is_leaf=None):
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INIT:
        return functools.reduce(f, leaves)
    return functools.reduce(f, leaves, initializer)


def tree_all(tree: Any, is_leaf=None) -> bool:
    return all(tree_leaves(tree, is_leaf))


def all_leaves(iterable) -> bool:
    return all(tree_structure(x).num_leaves == 1 and optree.treespec_is_leaf(tree_structure(x))
               for x in iterable)


def treedef_children(treedef: PyTreeDef):
    return treedef.children()


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    return treedef.is_leaf()


def tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    return optree.tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose)


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
    """flatten_func(x) -> (children, aux_data); unflatten_func(aux_data, children) -> x.
    flatten_with_keys_func(x) -> (((key, child), ...), aux_data) names the children in paths;
    without it they are FlattenedIndexKey(i)."""
    if flatten_with_keys_func is not None:
        def flatten(x):
            keyed, aux = flatten_with_keys_func(x)
            keyed = list(keyed)
            return [c for _, c in keyed], aux, [k for k, _ in keyed]
    else:
        flatten = flatten_func
    with warnings.catch_warnings():
        # optree warns when a namedtuple subclass (JAX's example_libraries OptimizerState) is
        # made a node of plax's namespace; JAX registers it silently, and so does plax
        warnings.filterwarnings("ignore", message=r".*subclass of `collections\.namedtuple`",
                                category=UserWarning)
        optree.register_pytree_node(nodetype, flatten, unflatten_func, namespace=NAMESPACE)


def register_pytree_with_keys(nodetype, flatten_with_keys, unflatten_func, flatten_func=None):
    """As register_pytree_node, with flatten_with_keys(x) -> (((key, child), ...), aux_data)."""
    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: the class defines `tree_flatten()` and classmethod `tree_unflatten`."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_static(cls: type) -> type:
    register_pytree_node(cls, lambda x: ((), x), lambda aux, _: aux)
    return cls


def register_dataclass(nodetype: type, data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] | None = None, drop_fields=()) -> type:
    """Register a dataclass: `data_fields` are children, `meta_fields` static metadata.
    With no field lists, every field is data unless its metadata says static=True."""
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass({nodetype.__name__}) needs data_fields and "
                            "meta_fields unless the class is a dataclass")
        data_fields, meta_fields = [], []
        for f in dataclasses.fields(nodetype):
            if not f.init:
                continue
            (meta_fields if f.metadata.get("static", False) else data_fields).append(f.name)
    data_fields, meta_fields = tuple(data_fields or ()), tuple(meta_fields or ())

    keys = [GetAttrKey(f) for f in data_fields]

    def flatten(x):
        return ([getattr(x, f) for f in data_fields],
                tuple(getattr(x, f) for f in meta_fields), keys)

    def unflatten(meta, children):
        kwargs = dict(zip(meta_fields, meta, strict=True))
        kwargs.update(zip(data_fields, children, strict=True))
        return nodetype(**kwargs)

    optree.register_pytree_node(nodetype, flatten, unflatten, namespace=NAMESPACE)
    return nodetype


class Partial(functools.partial):
    """functools.partial that is a pytree: args and keywords are its children (JAX's Partial)."""

    def __new__(klass, func, *args, **kw):
        if isinstance(func, functools.partial):
            original, func = func, func.func
            args = original.args + args
            kw = {**original.keywords, **kw}
        return super().__new__(klass, func, *args, **kw)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, xs: Partial(func, *xs[0], **xs[1]),
)
