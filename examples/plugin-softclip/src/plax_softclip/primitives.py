"""The two primitives and every rule, written with plax.extend alone.

Primitives are defined here, at import; `plugin.py` registers their rules when plax loads the
plugin (the `plax_register` hook), so they count as this plugin's (python -m plax info)."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import Primitive, ShapedArray, dtypes
from plax.extend.ad import Zero, is_undefined
from plax.extend.batching import moveaxis

# plugin primitives are named '<plugin>.<op>': names are unique across plugins
softclip_p = Primitive("softclip.softclip", elementwise=True)
mirror_p = Primitive("softclip.mirror", linear_in=(0,))


def softclip(x, limit=1.0):
    """limit * tanh(x / limit): the identity near 0, smoothly clipped to (-limit, limit)."""
    return softclip_p.bind(x, limit=float(limit))


def mirror(x):
    """`x` reversed along its last axis."""
    return mirror_p.bind(x)


# --- softclip ------------------------------------------------------------------------------------
def softclip_abstract(x, *, limit):
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"softclip: x must be a floating array, got {x.dtype}")
    if limit <= 0:
        raise ValueError(f"softclip: limit must be positive, got {limit}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def softclip_numpy(x, *, limit):
    return (limit * np.tanh(x / limit)).astype(x.dtype)


def softclip_xla(ctx, x, *, limit):
    """The xla lowering, with the builder plax.extend.lowering documents."""
    b = ctx.b
    lim = b.const(np.full(x.shape, limit, x.dtype))
    t = b.op1("stablehlo.tanh", [b.op1("stablehlo.divide", [x, lim])])
    return b.op1("stablehlo.multiply", [t, lim])


def softclip_jvp(primals, tangents, *, limit):
    (x,), (t,) = primals, tangents
    y = softclip(x, limit)
    if type(t) is Zero:
        return y, t
    # d/dx limit * tanh(x / limit) = 1 - tanh(x / limit)**2 = 1 - (y / limit)**2
    r = lax.div(y, lax.full_like(y, limit))
    return y, lax.mul(t, lax.sub(lax.full_like(y, 1), lax.mul(r, r)))


# --- mirror --------------------------------------------------------------------------------------
def mirror_abstract(x):
    if x.ndim == 0:
        raise ValueError("mirror: x must have at least one axis")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def mirror_numpy(x):
    return np.ascontiguousarray(x[..., ::-1])


def mirror_xla(ctx, x):
    return ctx.b.op1("stablehlo.reverse", [x],
                     attrs=f"dimensions = array<i64: {len(x.shape) - 1}>")


def mirror_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return mirror(x), (t if type(t) is Zero else mirror(t))


def mirror_transpose(ct, x):
    assert is_undefined(x)
    return [Zero(x.aval) if type(ct) is Zero else mirror(ct)]


def mirror_batch(vals, dims):
    (x,), (d,) = vals, dims
    nd = x.ndim
    if d == nd - 1:  # the batch axis is last: move it first, mirror, keep it first
        return mirror(moveaxis(x, d, 0)), 0
    return mirror(x), d


def register(registry) -> None:
    registry.add_abstract_eval(softclip_p, softclip_abstract)
    registry.add_impl("reference", softclip_p, softclip_numpy)
    registry.add_lowering("xla", softclip_p, softclip_xla)
    registry.add_jvp(softclip_p, softclip_jvp)
    from plax.extend import elementwise_batch_rule
    registry.add_batch(softclip_p, elementwise_batch_rule(softclip_p))
    registry.add_abstract_eval(mirror_p, mirror_abstract)
    registry.add_impl("reference", mirror_p, mirror_numpy)
    registry.add_lowering("xla", mirror_p, mirror_xla)
    registry.add_jvp(mirror_p, mirror_jvp)
    registry.add_transpose(mirror_p, mirror_transpose)
    registry.add_batch(mirror_p, mirror_batch)
