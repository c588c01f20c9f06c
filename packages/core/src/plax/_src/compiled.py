"""`compiled`: run a library function as one jitted program per signature, as JAX does for its
random samplers and some jax.numpy functions. Eagerly that is one compiled program instead of
one per primitive (on xla, dozens of small programs otherwise), and XLA fuses it as JAX's (so
results agree bit for bit); under a transformation it is one nested jit equation. Core cannot
import jit (it lives in plax-transforms, a plugin): it is looked up when first called."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from plax._src.registry import get_api


def compiled(*static: str, static_if_int: tuple[str, ...] = (), inline: bool = False):
    """Run the decorated function as one compiled program per signature: `jit` with the
    arguments named in `static` static (lists and arrays there become tuples), and those in
    `static_if_int` static when they are Python or NumPy integers (a count that must be
    concrete) and traced otherwise. With `inline`, under a transformation the function is
    traced into the caller instead of staying one nested jit equation (a backend's fusion sees
    its operations). Without plax-transforms installed the function runs as written."""
    def deco(fun):
        sig = inspect.signature(fun)
        by_statics: dict = {}

        @functools.wraps(fun)
        def wrapper(*args, **kwargs):
            jit = get_api("jit")
            if jit is None:
                return fun(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            values = bound.arguments
            names = static + tuple(n for n in static_if_int
                                   if isinstance(values[n], (int, np.integer)))
            for n in names:  # shapes given as lists or NumPy arrays: hashable tuples
                if isinstance(values[n], np.ndarray):
                    values[n] = tuple(values[n].tolist())
                elif isinstance(values[n], list):
                    values[n] = tuple(values[n])
            jitted = by_statics.get(names)
            if jitted is None:
                jitted = by_statics[names] = jit(fun, static_argnames=names, inline=inline)
            return jitted(**values)
        return wrapper
    return deco
