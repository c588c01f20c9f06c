"""pmap, and the rules of the collectives (psum pmax pmin all_gather ppermute axis_index), which
core defines: under vmap/pmap with their axis name the batch trace resolves them (a reduction or
data movement over the batch axis); a backend with several devices lowers them to real
collectives instead. On a backend without multi-device execution, pmap runs with vmap semantics
under jit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from plax import lax
from plax.extend import registry
from plax.extend import (
    all_gather_p, axis_index_p, get_aval, pmax_p, pmin_p, ppermute_p, psum_p)
from plax_transforms import batching
from plax_transforms.ad import Zero, instantiate
from plax.lax import (  # noqa: F401  (the user functions, defined in core, importable here too)
    all_gather, axis_index, pmax, pmean, pmin, ppermute, psum)

COLLECTIVES = (psum_p, pmax_p, pmin_p, all_gather_p, ppermute_p, axis_index_p)


# --- resolution over a vmap/pmap batch axis ----------------------------------------------------
def _rest(params, trace):
    return tuple(n for n in params["axes"] if n != trace.axis_name)


def _reduce_rule(prim, reducer):
    def rule(trace, vals, dims, *, axes, axis_index_groups=None):
        if axis_index_groups is not None:
            raise NotImplementedError("axis_index_groups under vmap-style pmap")
        outs = []
        for v, d in zip(vals, dims):
            if d is None:
                if prim is psum_p:
                    v = lax.mul(v, lax.convert_element_type(trace.axis_size, get_aval(v).dtype))
                outs.append(v)
            else:
                outs.append(reducer(v, (d,)))
        rest = tuple(n for n in axes if n != trace.axis_name)
        if rest:
            outs = prim.bind(*outs, axes=rest, axis_index_groups=None)
        return outs, [None] * len(outs)
    return rule


def _all_gather_rule(trace, vals, dims, *, axis_name, all_gather_dimension, tiled,
                     axis_size=None):
    (x,), (d,) = vals, dims
    if d is None:
        x = batching.bdim_at_front(x, None, trace.axis_size)
        d = 0
    out = batching.moveaxis(x, d, all_gather_dimension)
    if tiled:
        shape = list(get_aval(out).shape)
        k = all_gather_dimension
        merged = shape[:k] + [shape[k] * shape[k + 1]] + shape[k + 2:]
        out = lax.reshape(out, tuple(merged))
    return out, None


def _ppermute_rule(trace, vals, dims, *, axis_name, perm):
    (x,), (d,) = vals, dims
    size = trace.axis_size
    x = batching.bdim_at_front(x, d, size)
    src_of = np.full(size, -1, np.int32)
    for s, t in perm:
        if not (0 <= s < size and 0 <= t < size):
            raise ValueError(f"ppermute perm {perm} has an index outside the axis of size {size}")
        src_of[t] = s
    idx = np.where(src_of < 0, 0, src_of).astype(np.int32)
    import plax.numpy as jnp
    gathered = jnp.take(x, idx, axis=0)
    mask = (src_of >= 0).reshape((size,) + (1,) * (get_aval(x).ndim - 1))
    out = jnp.where(mask, gathered, jnp.zeros_like(gathered))
    return out, 0


def _axis_index_rule(trace, vals, dims, *, axis_name):
    return lax.iota(np.int32, trace.axis_size), 0


_COLLECTIVE_RULES = (
    (psum_p, _reduce_rule(psum_p, lambda v, a: lax.reduce_sum(v, a))),
    (pmax_p, _reduce_rule(pmax_p, lambda v, a: lax.reduce_max(v, a))),
    (pmin_p, _reduce_rule(pmin_p, lambda v, a: lax.reduce_min(v, a))),
    (all_gather_p, _all_gather_rule), (ppermute_p, _ppermute_rule),
    (axis_index_p, _axis_index_rule))


# --- differentiation ---------------------------------------------------------------------------
def _psum_jvp(primals, tangents, *, axes, axis_index_groups=None):
    out = psum_p.bind(*primals, axes=axes, axis_index_groups=axis_index_groups)
    ts = [instantiate(t) for t in tangents]
    return out, psum_p.bind(*ts, axes=axes, axis_index_groups=axis_index_groups)


def _psum_transpose(cts, *args, axes, axis_index_groups=None):
    cts = [instantiate(c) if type(c) is Zero else c for c in cts]
    return psum_p.bind(*cts, axes=axes, axis_index_groups=axis_index_groups)


def _pmax_jvp(prim):
    def rule(primals, tangents, *, axes, axis_index_groups=None):
        out = prim.bind(*primals, axes=axes, axis_index_groups=axis_index_groups)
        tans = []
        for x, t, o in zip(primals, tangents, out):
            if type(t) is Zero:
                tans.append(t)
                continue
            hit = lax.convert_element_type(lax.eq(x, o), get_aval(t).dtype)
            num = psum_p.bind(lax.mul(t, hit), axes=axes, axis_index_groups=None)[0]
            cnt = psum_p.bind(hit, axes=axes, axis_index_groups=None)[0]
            tans.append(lax.div(num, cnt))
        return out, tans
    return rule


def _ppermute_jvp(primals, tangents, *, axis_name, perm):
    out = ppermute_p.bind(primals[0], axis_name=axis_name, perm=perm)
    t = tangents[0]
    if type(t) is Zero:
        return out, t
    return out, ppermute_p.bind(t, axis_name=axis_name, perm=perm)


def _ppermute_transpose(ct, x, *, axis_name, perm):
    inverse = tuple((d, s) for s, d in perm)
    return [ppermute_p.bind(instantiate(ct), axis_name=axis_name, perm=inverse)]


def _all_gather_jvp(primals, tangents, **params):
    out = all_gather_p.bind(primals[0], **params)
    return out, all_gather_p.bind(instantiate(tangents[0]), **params)


def _axis_index_jvp(primals, tangents, **params):
    out = axis_index_p.bind(**params)
    return out, Zero(get_aval(out))


# --- pmap ----------------------------------------------------------------------------------------
def pmap(fun: Callable, axis_name=None, *, in_axes=0, out_axes=0, static_broadcasted_argnums=(),
         devices=None, backend: str | None = None, axis_size=None, donate_argnums=()):
    """Map `fun` over a leading axis across devices, with collectives over `axis_name`.

    A backend whose `pmap_execute` runs it (one program per device) does; otherwise (it returns
    NotImplemented) the map runs with vmap semantics inside jit on the chosen backend."""
    from plax_transforms.jit import jit
    static = static_broadcasted_argnums
    static = (static,) if isinstance(static, int) else tuple(static)

    def mapped(*args, **kwargs):
        b = registry.get_backend(backend)
        out = b.pmap_execute(fun, args, kwargs, axis_name=axis_name, in_axes=in_axes,
                             out_axes=out_axes, static_argnums=static, devices=devices,
                             donate_argnums=donate_argnums)
        if out is not NotImplemented:
            return out
        if devices is not None:
            nd = len(b.devices())
            if len(devices) > nd:
                raise ValueError(f"pmap got {len(devices)} devices, backend '{b.name}' has {nd}")
        dyn = [i for i in range(len(args)) if i not in static]
        axes = in_axes if not isinstance(in_axes, (tuple, list)) else tuple(in_axes)

        def body(*dargs):
            full = list(args)
            for i, a in zip(dyn, dargs):
                full[i] = a
            return fun(*full, **kwargs)

        if isinstance(axes, tuple) and len(axes) == len(args) and static:
            axes = tuple(axes[i] for i in dyn)
        # an unnamed pmap still gets an axis of its own: rules tell it from a vmap's by name
        name = batching.pmap_axis_name(axis_name)
        vm = batching.vmap(body, in_axes=axes, out_axes=out_axes, axis_name=name,
                           axis_size=axis_size)
        with batching.pmap_axis(name):
            return jit(vm, backend=backend)(*[args[i] for i in dyn])

    mapped.__name__ = f"pmap({getattr(fun, '__name__', 'fun')})"
    mapped.__wrapped__ = fun
    return mapped


def register(reg) -> None:
    for p, rule in _COLLECTIVE_RULES:
        reg.add_collective(p, rule)
    for p in COLLECTIVES:
        reg.add_batch(p, batching.needs_trace(_nonmatching_batch(p)))
    reg.add_jvp(psum_p, _psum_jvp)
    reg.add_transpose(psum_p, _psum_transpose)
    reg.add_jvp(pmax_p, _pmax_jvp(pmax_p))
    reg.add_jvp(pmin_p, _pmax_jvp(pmin_p))
    reg.add_jvp(ppermute_p, _ppermute_jvp)
    reg.add_transpose(ppermute_p, _ppermute_transpose)
    reg.add_jvp(all_gather_p, _all_gather_jvp)
    reg.add_jvp(axis_index_p, _axis_index_jvp)


def _nonmatching_batch(prim):
    """A collective over another (outer) axis, applied to a value batched by an inner vmap:
    the collective acts elementwise over the inner batch, so it passes through."""
    def rule(trace, vals, dims, **params):
        vals = [batching.bdim_at_front(v, d, trace.axis_size) for v, d in zip(vals, dims)]
        if prim is all_gather_p:  # gather along the member's dimension, after the batch's
            params = {**params, "all_gather_dimension": params["all_gather_dimension"] + 1}
        out = prim.bind(*vals, **params)
        if prim.multiple_results:
            return out, [0] * len(out)
        return out, 0
    return rule
