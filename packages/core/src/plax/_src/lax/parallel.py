"""The collectives (psum pmean pmax pmin all_gather ppermute axis_index): primitives that name a
mapped axis, and the user functions `plax.lax.psum` ... built on them.

Under vmap/pmap with that axis name the batch trace resolves them (a reduction or data movement
over the batch axis: the rules are plax-transforms' collective rules); a backend with several
devices lowers them to real collectives. Evaluated outside any mapped axis they raise, naming it.
"""

from __future__ import annotations

import numpy as np

from plax._src.core import Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "ppermute", "axis_index", "psum_p",
           "pmax_p", "pmin_p", "all_gather_p", "ppermute_p", "axis_index_p"]

psum_p = Primitive("psum", multiple_results=True, linear_in=(0,))
pmax_p = Primitive("pmax", multiple_results=True)
pmin_p = Primitive("pmin", multiple_results=True)
all_gather_p = Primitive("all_gather")
ppermute_p = Primitive("ppermute", linear_in=(0,))
axis_index_p = Primitive("axis_index")

COLLECTIVES = (psum_p, pmax_p, pmin_p, all_gather_p, ppermute_p, axis_index_p)


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
    return tree_map(lambda v: all_gather_p.bind(v, axis_name=axis_names(axis_name)[0],
                                                all_gather_dimension=int(axis),
                                                tiled=bool(tiled)), x)


def ppermute(x, axis_name, perm):
    """Send member s's `x` to member d for each (s, d) in `perm` (zeros where none arrives)."""
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute perm must not repeat a source or a destination: {perm}")
    return tree_map(lambda v: ppermute_p.bind(v, axis_name=axis_names(axis_name)[0],
                                              perm=perm), x)


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


def _axis_index_abstract(*, axis_name):
    return ShapedArray((), np.dtype(np.int32))


for _prim in (psum_p, pmax_p, pmin_p):
    add_abstract_eval(_prim, _multi_same)
add_abstract_eval(all_gather_p, _all_gather_abstract)
add_abstract_eval(ppermute_p, _ppermute_abstract)
add_abstract_eval(axis_index_p, _axis_index_abstract)
