"""Host Python inside plax programs: `pure_callback` (a pure function of its operands, run on
the host; results of declared shapes and dtypes) and `debug_callback` (an effect: never removed,
nothing returned), the primitive under `plax.debug.print`, `callback` and `breakpoint`.

The reference backend runs them (eagerly and in jit); the xla backend runs them eagerly through the
host and, inside jit, as a custom call of jaxlib's host callback target (plax_xla.lower_callback,
CPU platform). Their batch and jvp rules live in plax-transforms.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from plax._src import dtypes
from plax._src.core import Primitive, ShapedArray
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_unflatten

pure_callback_p = Primitive("pure_callback", multiple_results=True)
debug_callback_p = Primitive("debug_callback", multiple_results=True, effectful=True)

VMAP_METHODS = (None, "sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")


def _result_aval(r) -> ShapedArray:
    try:
        shape, dtype = tuple(r.shape), dtypes.canonicalize_dtype(r.dtype)
    except AttributeError:
        raise TypeError("pure_callback result_shape_dtypes must be a pytree of objects with "
                        f".shape and .dtype (plax.ShapeDtypeStruct, arrays), got {r!r:.80}"
                        ) from None
    return ShapedArray(shape, dtype)


def host_results(name: str, out, result_avals) -> list:
    """The callback's flat results as NumPy arrays of the declared avals (or a clear error)."""
    if len(out) != len(result_avals):
        raise TypeError(f"{name}: the callback returned {len(out)} values, "
                        f"result_shape_dtypes declares {len(result_avals)}")
    res = []
    for i, (o, a) in enumerate(zip(out, result_avals)):
        o = np.asarray(o)
        if o.shape != a.shape:
            raise TypeError(f"{name}: result {i} of the callback has shape {o.shape}, "
                            f"result_shape_dtypes declares {a.shape}")
        res.append(o.astype(a.dtype, copy=False))
    return res


def pure_callback(callback: Callable, result_shape_dtypes: Any, *args,
                  vmap_method: str | None = None, **kwargs):
    """Call the pure host function `callback(*args, **kwargs)` (NumPy arrays in) from plax code,
    eager or traced; it must return values of `result_shape_dtypes` (a pytree of
    ShapeDtypeStructs or arrays). `vmap_method` says how vmap calls it: "sequential" (once per
    batch member; "sequential_unrolled" too), "expand_dims" (once, unbatched operands with a
    leading axis of size 1), "broadcast_all" (once, every operand batched), "legacy_vectorized"
    (once, unbatched operands as they are); None: it cannot be batched (as JAX). Under pmap
    it runs once per mapped member whatever the method, as on JAX's devices."""
    if not callable(callback):
        raise TypeError(f"pure_callback expects a callable, got {callback!r}")
    if vmap_method not in VMAP_METHODS:
        raise ValueError(f"pure_callback vmap_method must be one of {VMAP_METHODS}, got "
                         f"{vmap_method!r}")
    leaves, in_tree = tree_flatten((args, kwargs))
    res_leaves, res_tree = tree_flatten(result_shape_dtypes)
    result_avals = tuple(_result_aval(r) for r in res_leaves)
    name = getattr(callback, "__name__", "callback")

    def flat_callback(*xs):
        a, k = tree_unflatten(in_tree, list(xs))
        out_leaves, out_tree = tree_flatten(callback(*a, **k))
        if out_tree != res_tree:
            raise TypeError(f"pure_callback({name}): the callback returned a {out_tree}, "
                            f"result_shape_dtypes is a {res_tree}")
        return out_leaves

    flat_callback.__name__ = name
    outs = pure_callback_p.bind(*leaves, callback=flat_callback, result_avals=result_avals,
                                vmap_method=vmap_method)
    return tree_unflatten(res_tree, outs)


def debug_callback(callback: Callable, *args, **kwargs) -> None:
    """Call `callback(*args, **kwargs)` on the host with the values (NumPy arrays), eagerly or
    inside jit/vmap/grad, for its effect; returns None."""
    if not callable(callback):
        raise TypeError(f"debug.callback expects a callable, got {callback!r}")
    leaves, in_tree = tree_flatten((args, kwargs))

    def flat_callback(*xs):
        a, k = tree_unflatten(in_tree, list(xs))
        callback(*a, **k)

    flat_callback.__name__ = getattr(callback, "__name__", "callback")
    debug_callback_p.bind(*leaves, callback=flat_callback)


add_abstract_eval(pure_callback_p, lambda *avals, callback, result_avals, vmap_method:
                  list(result_avals))
add_abstract_eval(debug_callback_p, lambda *avals, callback: [])
