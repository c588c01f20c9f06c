"""Helpers shared by the plax.scipy.special modules: constants in an argument's dtype, Horner
polynomials, real-argument promotion, custom derivatives looked up on first call, and a
while loop that freezes the elements that have converged (JAX's vmapped while_loop)."""

from __future__ import annotations

import functools

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.numpy.util import promote_args_inexact
from plax._src.registry import get_api
from plax._src.tree_util import tree_flatten, tree_unflatten


def c(x, v):
    """The constant v in x's dtype."""
    return np.asarray(v, x.dtype)


def polyval(coeffs, x):
    """sum_i coeffs[i] x**(n-1-i) by Horner's rule (highest degree first, as np.polyval)."""
    out = pnp.zeros_like(x)
    for co in coeffs:
        out = out * x + c(x, co)
    return out


def real_args(name: str, *args):
    """Promote to a common floating dtype; a complex argument is a ValueError naming `name`."""
    args = promote_args_inexact(name, *args)
    if dtypes.is_complex(args[0].dtype):
        raise ValueError(f"{name} does not support complex-valued inputs")
    return args


def custom_jvp(jvp=None, *, jvps=None, nondiff_argnums=()):
    """Give `fun` the rule `jvp(primals, tangents) -> (out, t_out)` (or one rule per argument,
    `jvps`, as custom_jvp.defjvps) through plax.custom_jvp, looked up on first call: it lives
    in plax-transforms, which `import plax` does not load."""
    def deco(fun):
        made: list = []

        @functools.wraps(fun)
        def wrapped(*args):
            if not made:
                cj = get_api("custom_jvp")
                if cj is None:
                    made.append(fun)
                else:
                    f = cj(fun, nondiff_argnums=nondiff_argnums)
                    if jvps is not None:
                        f.defjvps(*jvps)
                    else:
                        f.defjvp(jvp)
                    made.append(f)
            return made[0](*args)
        return wrapped
    return deco


def masked_while(cond, body, init, max_steps: int | None = None):
    """Iterate `body` on the arrays of `init` (all of one shape) while the elementwise
    `cond(state)` holds anywhere; elements whose condition fails keep their values, as under
    JAX's vmap of a while_loop. `max_steps` bounds the iterations (a counter in the carry)."""
    leaves, tree = tree_flatten(init)

    def active(flat):
        return cond(tree_unflatten(tree, flat[1:]))

    def c_fun(flat):
        go = pnp.any(active(flat))
        return go if max_steps is None else go & (flat[0] < max_steps)

    def b_fun(flat):
        on = active(flat)
        new, _ = tree_flatten(body(tree_unflatten(tree, flat[1:])))
        return [flat[0] + 1] + [pnp.where(on, n, o) for n, o in zip(new, flat[1:])]

    out = lax.while_loop(c_fun, b_fun, [np.int32(0)] + list(leaves))
    return tree_unflatten(tree, out[1:])
