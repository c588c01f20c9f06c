"""pmap on the cupy backend.

One device (the host build, or a machine with one GPU): the map (of size 1, as devices bound it)
runs with vmap semantics inside one jitted program on that device, collectives resolved by vmap
over the named axis. Under another transformation (grad,
jit, vmap of a pmap) it is a vmap too. N GPUs: `multigpu.run` traces the per-device function once
and steps every device's program in lockstep, collectives through NCCL (`cupy.cuda.nccl`); the
host build with config cupy_host_devices = N > 1 runs that same path on N emulated devices,
NCCL emulated by `host_nccl`.
donate_argnums is accepted and ignored (inputs are copied to the devices)."""

from __future__ import annotations

import plax
from plax.extend import EVAL_TRACE, Tracer, current_trace
from plax.extend.batching import pmap_axis
from plax.extend.pmap import mapped_call, vmap_body

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
    if not nested and len(pool) > 1:  # several GPUs, or the host build's emulated devices
        from plax_cupy import multigpu
        platform = multigpu.HostPlatform() if backend.kind == "host" else None
        return multigpu.run(backend, fun, args, kwargs, axis_name=axis_name, in_axes=in_axes,
                            out_axes=out_axes, static=static, devices=pool, platform=platform)
    return _as_vmap(backend, fun, args, kwargs, axis_name, in_axes, out_axes, static, nested)


def mapped_size(args, kwargs, in_axes, static) -> int:
    """The size of the mapped axis (the same for every mapped leaf, or a ValueError)."""
    return mapped_call(args, kwargs, in_axes, static).size


def _as_vmap(backend, fun, args, kwargs, axis_name, in_axes, out_axes, static, nested):
    """vmap semantics, jitted on this backend (a plain vmap under another transformation)."""
    key = None
    if not kwargs and not nested:
        try:
            key = (fun, axis_name, _hashable(in_axes), _hashable(out_axes),
                   tuple((i, args[i]) for i in sorted(static)))
            hit = backend._pmap_cache.get(key)
        except TypeError:
            raise ValueError("pmap's static_broadcasted_argnums arguments must be hashable, "
                             "got " + str([type(args[i]).__name__ for i in sorted(static)])
                             ) from None
        if hit is not None:
            run, name = hit
            with pmap_axis(name):
                return run(*[args[i] for i in range(len(args)) if i not in static])
    mapped, dyn, name = vmap_body(fun, args, kwargs, axis_name, in_axes, out_axes, static)
    run = mapped if nested else plax.jit(mapped, backend="cupy")
    if key is not None:
        if len(backend._pmap_cache) >= _MAX_CACHE:
            backend._pmap_cache.clear()
        backend._pmap_cache[key] = (run, name)
    with pmap_axis(name):  # host callbacks run once per member, as per device
        return run(*dyn)


def _hashable(spec):
    return tuple(spec) if isinstance(spec, list) else spec
