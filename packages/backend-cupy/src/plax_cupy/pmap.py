"""pmap on the cupy backend.

One device (the host build, or a machine with one GPU): the map (of size 1, as devices bound it)
runs with vmap semantics inside one jitted program on that device, collectives resolved by vmap
over the named axis. Under another transformation (grad,
jit, vmap of a pmap) it is a vmap too. N GPUs: `multigpu.run` traces the per-device function once
and steps every device's program in lockstep, collectives through NCCL (`cupy.cuda.nccl`).
donate_argnums is accepted and ignored (inputs are copied to the devices)."""

from __future__ import annotations

import numpy as np

import plax
from plax.extend import EVAL_TRACE, Tracer, current_trace
from plax.extend.batching import pmap_axis, pmap_axis_name

_MAX_CACHE = 256


def pmap_execute(backend, fun, args, kwargs, *, axis_name=None, in_axes=0, out_axes=0,
                 static_argnums=(), devices=None, donate_argnums=()):
    static = set(static_argnums)
    leaves = plax.tree_util.tree_leaves((args, kwargs))
    nested = current_trace() is not EVAL_TRACE or any(isinstance(x, Tracer) for x in leaves)
    pool = list(devices) if devices is not None else backend.devices()
    if not nested:
        n = mapped_size(args, kwargs, in_axes, static)
        if n > len(pool):
            raise ValueError(f"pmap over an axis of size {n} needs {n} devices; the cupy "
                             f"backend {'was given' if devices is not None else 'has'} "
                             f"{len(pool)}")
    if not nested and backend.kind == "gpu" and len(pool) > 1:
        from plax_cupy import multigpu
        return multigpu.run(backend, fun, args, kwargs, axis_name=axis_name, in_axes=in_axes,
                            out_axes=out_axes, static=static, devices=pool)
    return _as_vmap(backend, fun, args, kwargs, axis_name, in_axes, out_axes, static, nested)


def flat_axes(spec, tree_value, n_leaves: int) -> list:
    """One axis (int or None) per leaf from an int/None or a tuple of them per argument."""
    if spec is None or isinstance(spec, int):
        return [spec] * n_leaves
    spec = tuple(spec)
    if len(spec) != len(tree_value):
        raise ValueError(f"pmap in_axes must be an int, None, or a tuple with one entry per "
                         f"argument; got {spec!r} for {len(tree_value)} arguments")
    out = []
    for ax, arg in zip(spec, tree_value):
        out.extend([ax] * len(plax.tree_util.tree_leaves(arg)))
    return out


def mapped_size(args, kwargs, in_axes, static) -> int:
    """The size of the mapped axis (the same for every mapped leaf, or a ValueError)."""
    dyn_idx = [i for i in range(len(args)) if i not in static]
    dyn = tuple(args[i] for i in dyn_idx)
    if isinstance(in_axes, (tuple, list)) and len(in_axes) == len(args) and static:
        in_axes = tuple(in_axes[i] for i in dyn_idx)
    leaves = plax.tree_util.tree_leaves(dyn)
    n_kw = len(plax.tree_util.tree_leaves(kwargs))
    axes = flat_axes(in_axes, dyn, len(leaves)) + [0] * n_kw
    shapes = [np.shape(x) for x in leaves + plax.tree_util.tree_leaves(kwargs)]
    sizes = set()
    for a, shape in zip(axes, shapes):
        if a is None:
            continue
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"pmap was asked to map an argument along axis {a}, which needs "
                             f"rank >= {a + 1 if a >= 0 else -a}, but its shape is {shape}")
        sizes.add(shape[a])
    if len(sizes) != 1:
        raise ValueError(f"pmap got inconsistent sizes for the mapped axes: {sorted(sizes)}"
                         if sizes else "pmap needs at least one argument mapped along an axis")
    return sizes.pop()


def _as_vmap(backend, fun, args, kwargs, axis_name, in_axes, out_axes, static, nested):
    """vmap semantics, jitted on this backend (a plain vmap under another transformation)."""
    dyn = [i for i in range(len(args)) if i not in static]
    axes = in_axes
    if isinstance(axes, (tuple, list)) and len(axes) == len(args) and static:
        axes = tuple(axes[i] for i in dyn)
    key = None
    name = pmap_axis_name(axis_name)  # host callbacks run once per member, as per device
    if not kwargs and not nested:
        try:
            key = (fun, axis_name, _hashable(axes), _hashable(out_axes),
                   tuple((i, args[i]) for i in sorted(static)))
            hit = backend._pmap_cache.get(key)
        except TypeError:
            raise ValueError("pmap's static_broadcasted_argnums arguments must be hashable, "
                             "got " + str([type(args[i]).__name__ for i in sorted(static)])
                             ) from None
        if hit is not None:
            with pmap_axis(name):
                return hit(*[args[i] for i in dyn])

    def body(*dargs):
        full = list(args)
        for i, a in zip(dyn, dargs):
            full[i] = a
        return fun(*full, **kwargs)

    mapped = plax.vmap(body, in_axes=axes, out_axes=out_axes, axis_name=name)
    if nested:
        with pmap_axis(name):
            return mapped(*[args[i] for i in dyn])
    run = plax.jit(mapped, backend="cupy")
    if key is not None:
        if len(backend._pmap_cache) >= _MAX_CACHE:
            backend._pmap_cache.clear()
        backend._pmap_cache[key] = run
    with pmap_axis(name):
        return run(*[args[i] for i in dyn])


def _hashable(spec):
    return tuple(spec) if isinstance(spec, list) else spec
