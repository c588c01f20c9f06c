"""plax.flatten_util (as jax.flatten_util): `ravel_pytree` flattens a pytree of arrays into one
1-D array and returns the function that rebuilds the tree from such a vector."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["ravel_pytree"]


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """(flat, unravel): `flat` is the leaves of `pytree` raveled and concatenated in tree order,
    of the dtype their dtypes promote to (float32 and empty when the tree has no leaves);
    `unravel(v)` rebuilds a tree of the same structure, shapes and (promoted-from) dtypes from a
    vector `v` like `flat`. Works on tracers: under jit, grad and vmap of the caller."""
    from plax._src.tree_util import tree_flatten
    leaves, treedef = tree_flatten(pytree)
    flat, unravel_list = _ravel_list(leaves)
    return flat, _HashablePartial(_unravel_pytree, treedef, unravel_list)


class _HashablePartial:
    """functools.partial that compares (and hashes) by its function and arguments, so that two
    unravel functions of the same structure are equal (as JAX's: a jit static argument)."""

    def __init__(self, f, *args):
        self.f, self.args = f, args

    def __eq__(self, other):
        return (type(other) is _HashablePartial and self.f is other.f
                and self.args == other.args)

    def __hash__(self):
        return hash((self.f, self.args))

    def __call__(self, *args):
        return self.f(*self.args, *args)

    def __repr__(self):
        return f"unravel_pytree{self.args!r}"


def _unravel_pytree(treedef, unravel_list, flat):
    from plax._src.tree_util import tree_unflatten
    return tree_unflatten(treedef, unravel_list(flat))


def _ravel_list(leaves: list):
    from plax import lax
    from plax import numpy as pnp
    from plax._src import dtypes
    if not leaves:
        return pnp.zeros((0,), np.float32), _HashablePartial(_unravel_empty)
    leaves = [leaf if hasattr(leaf, "dtype") and hasattr(leaf, "shape") else pnp.asarray(leaf)
              for leaf in leaves]
    from_dtypes = tuple(np.dtype(leaf.dtype) for leaf in leaves)
    to_dtype = dtypes.result_type(*from_dtypes)
    sizes = tuple(int(np.prod(leaf.shape, dtype=np.int64)) for leaf in leaves)
    shapes = tuple(tuple(leaf.shape) for leaf in leaves)
    if all(dt == to_dtype for dt in from_dtypes):
        # one dtype: no conversions, and the unravel function takes any dtype (as JAX)
        flat = lax.concatenate([lax.reshape(pnp.asarray(x), (s,))
                                for x, s in zip(leaves, sizes)], 0)
        return flat, _HashablePartial(_unravel_list_single_dtype, sizes, shapes)
    flat = lax.concatenate([lax.reshape(lax.convert_element_type(x, to_dtype), (s,))
                            for x, s in zip(leaves, sizes)], 0)
    return flat, _HashablePartial(_unravel_list, sizes, shapes, from_dtypes, to_dtype)


def _unravel_empty(flat):
    return []


def _chunks(sizes, shapes, arr):
    from plax import lax
    from plax import numpy as pnp
    arr = pnp.asarray(arr)
    total = sum(sizes)
    if arr.shape != (total,):
        raise ValueError(f"unravel function given an array of shape {tuple(arr.shape)}, but "
                         f"expected shape ({total},): the flat vector of the raveled pytree")
    return [lax.reshape(c, shape) for c, shape in zip(lax.split(arr, sizes), shapes)]


def _unravel_list_single_dtype(sizes, shapes, arr):
    return _chunks(sizes, shapes, arr)


def _unravel_list(sizes, shapes, from_dtypes, to_dtype, arr):
    from plax import lax
    from plax._src import dtypes
    arr_dtype = dtypes.dtype(arr)
    if arr_dtype != to_dtype:
        raise TypeError(f"unravel function given array of dtype {arr_dtype}, "
                        f"but expected dtype {to_dtype}")
    out = []
    for chunk, dt in zip(_chunks(sizes, shapes, arr), from_dtypes):
        if dtypes.is_complex(to_dtype) and not dtypes.is_complex(dt):
            chunk = lax.real(chunk)  # the real part, with no complex-to-real warning (as JAX)
        out.append(lax.convert_element_type(chunk, dt))
    return out


