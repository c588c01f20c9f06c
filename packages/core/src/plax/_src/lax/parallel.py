"""The collectives (psum pmean pmax pmin all_gather ppermute axis_index psum_scatter all_to_all):
primitives that name a mapped axis, and the user functions `plax.lax.psum` ... built on them.

Under vmap/pmap with that axis name the batch trace resolves them (a reduction or data movement
over the batch axis: the rules are plax-transforms' collective rules); a backend with several
devices lowers them to real collectives. Evaluated outside any mapped axis they raise, naming it.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from plax._src.core import Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "ppermute", "axis_index", "psum_p",
           "pmax_p", "pmin_p", "all_gather_p", "ppermute_p", "axis_index_p", "psum_scatter",
           "all_to_all", "psum_scatter_p", "all_to_all_p"]

psum_p = Primitive("psum", multiple_results=True, linear_in=(0,))
pmax_p = Primitive("pmax", multiple_results=True)
pmin_p = Primitive("pmin", multiple_results=True)
all_gather_p = Primitive("all_gather")
ppermute_p = Primitive("ppermute", linear_in=(0,))
axis_index_p = Primitive("axis_index")
# both in their tiled form (a dimension divided / multiplied by the axis size); the user
# functions add and remove the unit dimension of the untiled form
psum_scatter_p = Primitive("psum_scatter", linear_in=(0,))
all_to_all_p = Primitive("all_to_all", linear_in=(0,))

COLLECTIVES = (psum_p, pmax_p, pmin_p, all_gather_p, ppermute_p, axis_index_p, psum_scatter_p,
               all_to_all_p)


# axis sizes known while a mapped function is traced (shard_map's body: its mesh axes), so a
# collective whose shape depends on the size (all_gather ...) gets it even inside a nested jit
_sizes = threading.local()


@contextlib.contextmanager
def known_axis_sizes(sizes: dict):
    stack = _sizes.__dict__.setdefault("stack", [])
    stack.append(dict(sizes))
    try:
        yield
    finally:
        stack.pop()


def _size_params(name) -> dict:
    for sizes in reversed(getattr(_sizes, "stack", ())):
        if name in sizes:
            return {"axis_size": sizes[name]}
    return {}


def axis_names(axis_name) -> tuple:
    """A collective's axis name(s) as a tuple."""
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def unbound_axis_error(prim, names) -> NameError:
    return NameError(f"unbound axis name: {names[0] if len(names) == 1 else names} "
                     f"(in '{prim.name}'); collectives must run inside pmap or vmap with "
                     "axis_name set to that name")


def psum(x, axis_name, *, axis_index_groups=None):
    """Sum `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    outs = psum_p.bind(*leaves, axes=axis_names(axis_name), axis_index_groups=axis_index_groups)
    return tree_unflatten(tree, outs)


def pmean(x, axis_name, *, axis_index_groups=None):
    """Mean of `x` (a pytree) over the mapped axis `axis_name`."""
    from plax._src.lax import elementwise as ew
    n = psum(1, axis_name)
    return tree_map(lambda s: ew.div(s, ew.convert_element_type(n, get_aval(s).dtype)),
                    psum(x, axis_name, axis_index_groups=axis_index_groups))


def pmax(x, axis_name, *, axis_index_groups=None):
    """Maximum of `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, pmax_p.bind(*leaves, axes=axis_names(axis_name),
                                            axis_index_groups=axis_index_groups))


def pmin(x, axis_name, *, axis_index_groups=None):
    """Minimum of `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, pmin_p.bind(*leaves, axes=axis_names(axis_name),
                                            axis_index_groups=axis_index_groups))


def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False):
    """Every member's `x` stacked along `axis` (concatenated when `tiled`)."""
    name = axis_names(axis_name)[0]
    return tree_map(lambda v: all_gather_p.bind(v, axis_name=name,
                                                all_gather_dimension=int(axis),
                                                tiled=bool(tiled), **_size_params(name)), x)


def ppermute(x, axis_name, perm):
    """Send member s's `x` to member d for each (s, d) in `perm` (zeros where none arrives)."""
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute perm must not repeat a source or a destination: {perm}")
    return tree_map(lambda v: ppermute_p.bind(v, axis_name=axis_names(axis_name)[0],
                                              perm=perm), x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """The sum of `x` over the axis, split along `scatter_dimension`: member i keeps block i
    (untiled: that dimension's size must be the axis size, and it is removed)."""
    from plax._src.lax import structural as st
    if axis_index_groups is not None:
        raise NotImplementedError("psum_scatter with axis_index_groups")
    d = int(scatter_dimension)

    def one(v):
        name = axis_names(axis_name)[0]
        out = psum_scatter_p.bind(v, axis_name=name, scatter_dimension=d, **_size_params(name))
        if tiled:
            return out
        shape = get_aval(out).shape
        return st.reshape(out, shape[:d] + shape[d + 1:])
    return tree_map(one, x)


def all_to_all(x, axis_name, split_axis, concat_axis, *, axis_index_groups=None, tiled=False):
    """Member i splits `x` along `split_axis` into one block per member and sends block j to
    member j, which concatenates what it receives along `concat_axis` in member order
    (untiled: the split dimension's size is the axis size; it is removed and a dimension of
    that size is inserted at `concat_axis`)."""
    from plax._src.lax import structural as st
    if axis_index_groups is not None:
        raise NotImplementedError("all_to_all with axis_index_groups")
    split_axis, concat_axis = int(split_axis), int(concat_axis)

    def one(v):
        name = axis_names(axis_name)[0]
        size = _size_params(name)
        if tiled:
            return all_to_all_p.bind(v, axis_name=name, split_axis=split_axis,
                                     concat_axis=concat_axis, **size)
        shape = get_aval(v).shape
        v = st.reshape(v, shape[:concat_axis] + (1,) + shape[concat_axis:])
        s = split_axis + (1 if concat_axis <= split_axis else 0)
        out = all_to_all_p.bind(v, axis_name=name, split_axis=s, concat_axis=concat_axis,
                                **size)
        oshape = get_aval(out).shape
        return st.reshape(out, oshape[:s] + oshape[s + 1:])
    return tree_map(one, x)


def axis_index(axis_name):
    """This member's index along the mapped axis `axis_name`."""
    return axis_index_p.bind(axis_name=axis_names(axis_name)[0])


# --- abstract evaluation: shape-preserving except all_gather and axis_index ----------------
def _multi_same(*avals, axes, axis_index_groups=None):
    return list(avals)


def _all_gather_abstract(x, *, axis_name, all_gather_dimension, tiled, axis_size=None):
    if axis_size is None:
        raise NameError(f"all_gather over axis '{axis_name}' needs the axis size, known only "
                        "inside pmap/vmap with that axis_name")
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= axis_size
    else:
        shape.insert(all_gather_dimension, axis_size)
    return ShapedArray(tuple(shape), x.dtype)


def _ppermute_abstract(x, *, axis_name, perm):
    return x


def _need_size(prim, axis_name, axis_size):
    if axis_size is None:
        raise NameError(f"{prim} over axis '{axis_name}' needs the axis size, known only "
                        "inside pmap/vmap/shard_map with that axis_name")


def _psum_scatter_abstract(x, *, axis_name, scatter_dimension, axis_size=None):
    _need_size("psum_scatter", axis_name, axis_size)
    d = scatter_dimension
    if not 0 <= d < len(x.shape) or x.shape[d] % axis_size:
        raise ValueError(f"psum_scatter: dimension {d} of {x.str_short()} must exist and be "
                         f"divisible by the size {axis_size} of axis '{axis_name}'")
    shape = list(x.shape)
    shape[d] //= axis_size
    return ShapedArray(tuple(shape), x.dtype)


def _all_to_all_abstract(x, *, axis_name, split_axis, concat_axis, axis_size=None):
    _need_size("all_to_all", axis_name, axis_size)
    nd = len(x.shape)
    if not (0 <= split_axis < nd and 0 <= concat_axis < nd) or x.shape[split_axis] % axis_size:
        raise ValueError(f"all_to_all: split_axis {split_axis} of {x.str_short()} must exist "
                         f"and be divisible by the size {axis_size} of axis '{axis_name}', "
                         f"concat_axis {concat_axis} must exist")
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return ShapedArray(tuple(shape), x.dtype)


def _axis_index_abstract(*, axis_name):
    return ShapedArray((), np.dtype(np.int32))


for _prim in (psum_p, pmax_p, pmin_p):
    add_abstract_eval(_prim, _multi_same)
add_abstract_eval(all_gather_p, _all_gather_abstract)
add_abstract_eval(ppermute_p, _ppermute_abstract)
add_abstract_eval(axis_index_p, _axis_index_abstract)
add_abstract_eval(psum_scatter_p, _psum_scatter_abstract)
add_abstract_eval(all_to_all_p, _all_to_all_abstract)
