"""pmap on the xla backend: one replicated program (num_replicas = number of devices) whose
collectives are real cross-device operations.

The function is traced once per signature on the per-device shapes. A mapped input from the
host, or a pmap output, goes to the devices as one piece each (a pmap output as it is); a
one-device Array goes to every device whole and the program slices its replica's part (by
replica_id). Mapped outputs stay split over the devices (as JAX's), unmapped ones are replica
0's. Under another transformation (grad, jit, vmap of a pmap) it runs with vmap semantics
instead. donate_argnums is accepted and ignored.

Across processes (plax.distributed) every process calls it with its local part (axis size n,
its first n devices); the program has n * process_count replicas, process-major, so collectives
and axis_index span all processes, and each process gets back its own n results.
"""

from __future__ import annotations

import numpy as np

from plax.extend import config
from plax.extend import EVAL_TRACE, current_trace
from plax.tree_util import tree_leaves, tree_unflatten
from plax.extend import Array, Tracer, check_thread_guard, get_aval
from plax.extend import execution
from plax.extend.batching import pmap_axis
from plax.extend.pmap import mapped_call, out_axes_per_leaf, trace_per_device, vmap_body
from plax_xla import _jaxlib as jl
from plax_xla import hlo
from plax_xla.lower_calls import replica_index
from plax_xla.lowering import AxisEnv, i64_array, lower_closed_jaxpr, take_host_callbacks


def _signature(args) -> list | None:
    """What the last-call slot compares: each argument's aval (an Array) or shape and dtype (a
    NumPy array); None when an argument is anything else (a pytree, a scalar)."""
    sig = []
    for x in args:
        t = type(x)
        if t is Array:
            sig.append((x.aval, _several(x._buf)))
        elif t is np.ndarray:
            sig.append((x.shape, x.dtype))
        else:
            return None
    return sig


def pmap_execute(backend, fun, args, kwargs, *, axis_name=None, in_axes=0, out_axes=0,
                 static_argnums=(), devices=None, donate_argnums=()):
    # the hot path: positional Arrays/NumPy arrays as in the last call (same function,
    # options and x64 mode) reuse its program and placement without re-deriving them
    fast = None
    if not kwargs and not static_argnums and current_trace() is EVAL_TRACE:
        sig = _signature(args)
        if sig is not None:
            fast = (fun, sig, in_axes, out_axes, axis_name, devices, config.enable_x64)
            last = backend._pmap_last
            if last is not None and last[0] == fast:
                return _run(backend, fun, last[1], last[2], list(args), last[3])
    static = set(static_argnums)
    if current_trace() is not EVAL_TRACE or any(isinstance(x, Tracer)
                                                for x in tree_leaves((args, kwargs))):
        return _as_vmap(fun, args, kwargs, axis_name, in_axes, out_axes, static)
    call = mapped_call(args, kwargs, in_axes, static)
    leaves, in_tree, avals, axes = call.leaves, call.in_tree, call.avals, call.axes
    n = call.size
    natives = _devices(backend, devices, n)
    pieces = _pieces_kinds(backend, leaves, axes)
    statics = tuple((i, args[i]) for i in sorted(static))
    key = (fun, in_tree, tuple(avals), tuple(axes), statics, config.enable_x64,
           tuple(out_axes) if isinstance(out_axes, list) else out_axes, axis_name,
           tuple(natives), pieces)
    try:
        entry = backend._pmap_cache.get(key)
    except TypeError:
        raise ValueError("pmap's static_broadcasted_argnums arguments must be hashable, got "
                         f"{[type(v).__name__ for _, v in statics]}") from None
    if entry is None:
        entry = backend._pmap_cache[key] = _build(backend, fun, args, static, call, natives,
                                                  axis_name, out_axes, pieces)
    if fast is not None and not kwargs:
        backend._pmap_last = (fast, entry, avals, natives)
    return _run(backend, fun, entry, avals, leaves, natives)


def _run(backend, fun, entry, avals, leaves, natives):
    """A mapped input goes to the devices as one piece each (a pmap output of the same layout
    as it is); the outputs stay on the devices as arrays split along the mapped axis. Across
    processes the program's arrays span every process's devices and each process supplies
    (and gets back) the pieces on its own."""
    loaded, out_tree, out_avals, consts, (axes, pieces, handlers, out_mapped) = entry
    several = backend._process_count > 1
    if several:  # a multi-process launch: refused from another thread than thread_guard's
        check_thread_guard()
    local = natives if not several else [
        d for d in natives if d.process_index == backend._process_index]
    bufs = [_replicate(backend, x, get_aval(x), natives, local) for x in consts]
    for x, av, a, piece in zip(leaves, avals, axes, pieces):
        bufs.append(_as_pieces(backend, x, av, a, natives, local) if piece else
                    _replicate(backend, x, av, natives, local))
    if backend._runtime is None:  # returns at once; the next launch waits for this one
        outs = jl.execute_replicated(loaded, bufs, handlers)
    else:  # waits for the other processes: a lost peer ends in an error, not a hang
        with backend._runtime.collective():
            outs = jl.execute_replicated(loaded, bufs, handlers, wait=True)
    final = []
    for o, a, av in zip(outs, out_mapped, out_avals):
        if a is None:  # an unmapped output (out_axes None) is replica 0's value, on its device
            o = jl.shards_of(o)[0]
        elif several:  # this process's pieces, as an array over its devices
            o = jl.assemble(jl.shards_of(o), _tiled(backend, local, av.ndim, a % av.ndim),
                            av.shape, av.dtype)
        final.append(o)
    return tree_unflatten(out_tree, execution.wrap(
        final, out_avals, backend, False, f"pmap({getattr(fun, '__name__', 'fun')})"))


def _pieces_kinds(backend, leaves, axes) -> tuple | None:
    """Which mapped inputs go to the devices as pieces (host values, arrays over several
    devices) rather than whole (one-device arrays, sliced by the program)."""
    return tuple(a is not None and not (type(x) is Array and x._backend is backend
                                        and not _several(x._buf))
                 for x, a in zip(leaves, axes))


def _several(buf) -> bool:
    """Whether `buf` is an array over several devices (False for a deleted one, which the
    placement then reports)."""
    try:
        return jl.single_device_of(buf) is None
    except AttributeError:
        return False


def _tiled(backend, natives, ndim: int, axis: int):
    """The jaxlib sharding of an array split into len(natives) pieces along `axis` (one
    object per layout: an array already laid out so is recognised by it)."""
    cache = backend.__dict__.setdefault("_pmap_tiled", {})
    key = (tuple(natives), ndim, axis)
    hit = cache.get(key)
    if hit is None:
        from plax.sharding import TiledSharding
        dims = [1] * ndim
        dims[axis] = len(natives)
        devs = [backend._by_native[d] for d in natives]
        hit = cache[key] = backend.gspmd(TiledSharding(devs, dims, range(len(devs)), False),
                                         ndim, devs)
    return hit


def _as_pieces(backend, x, aval, axis: int, natives, local):
    """`x` (this process's part) split along `axis`, piece i on local device i, as one array
    over all `natives`; an array laid out so already goes as it is."""
    everywhere = _tiled(backend, natives, aval.ndim, axis)
    shape = aval.shape
    if len(local) != len(natives):  # the array the program sees spans every process
        shape = shape[:axis] + (shape[axis] * len(natives) // len(local),) + shape[axis + 1:]
    if type(x) is Array and x._backend is backend:
        execution.check_not_deleted([x])
        layout = jl.sharding_of(x._buf)
        if layout is everywhere:
            return x._buf
        if layout is _tiled(backend, local, aval.ndim, axis):  # a pmap output, across processes
            return jl.assemble(jl.shards_of(x._buf), everywhere, shape, aval.dtype)
        host = backend.to_numpy(x._buf)
    else:
        host = np.asarray(x, dtype=aval.dtype)
    backend.stats["host_to_device"] += 1
    if len(local) == 1:  # the whole part is the one piece (copied to the device once)
        shards = [np.ascontiguousarray(host)]
    else:  # each piece its own copy (jaxlib rejects pieces that share memory)
        one = [slice(None)] * aval.ndim
        shards = []
        for i in range(len(local)):
            one[axis] = slice(i, i + 1)
            shards.append(np.array(host[tuple(one)], copy=True))
    return jl.put_global(shards, local, everywhere, shape, aval.dtype)


def _devices(backend, devices, n: int) -> list:
    pool = list(devices) if devices is not None else backend.devices()
    if backend._process_count > 1:
        return _global_devices(backend, pool, n)
    if len(pool) < n:
        raise ValueError(
            f"pmap over an axis of size {n} needs {n} devices; the xla backend "
            f"{'was given' if devices is not None else 'has'} {len(pool)} "
            "(for CPU devices set PLAX_XLA_CPU_DEVICES or plax.config 'xla_cpu_devices' before "
            "the backend starts)")
    return [backend.native_device(d) for d in pool[:n]]


def _global_devices(backend, pool, n: int) -> list:
    """The replicas of a pmap across processes: the first n devices of each, process-major."""
    by_process: dict = {}
    for d in pool:
        by_process.setdefault(d.process_index, []).append(d)
    count = backend._process_count
    for p in range(count):
        have = len(by_process.get(p, ()))
        if have < n:
            raise ValueError(
                f"pmap over an axis of size {n} in each of {count} processes needs {n} "
                f"devices in every process; process {p} has {have} (each process passes its "
                f"local part: at most plax.local_device_count() = "
                f"{len(backend.local_devices())} along the mapped axis)")
    return [backend.native_device(d) for p in range(count) for d in by_process[p][:n]]


def _replicate(backend, x, aval, natives, local):
    """`x` whole on every device (device to device when it is an xla Array already); across
    processes each process supplies the copies on its `local` devices."""
    if type(x) is Array and x._backend is backend:
        execution.check_not_deleted([x])
        src = x._buf
        if jl.single_device_of(src) is None:  # an array over several devices: gathered
            src = np.ascontiguousarray(backend.to_numpy(src))
    else:
        src = np.ascontiguousarray(np.asarray(x, dtype=aval.dtype))
        backend.stats["host_to_device"] += 1
    return jl.put_replicated(src, aval.shape, aval.dtype, natives, local)


def _build(backend, fun, args, static, call, natives, axis_name, out_axes, pieces):
    n = call.size
    total = len(natives)  # n per process: the axis collectives see spans every process
    jaxpr, consts, out_tree = trace_per_device(fun, args, static, call, axis_name, total)
    # closed-over arrays become leading (unmapped) inputs, passed on every call
    leaf_axes = list(call.axes)
    axes = [None] * len(consts) + list(call.axes)
    avals = [get_aval(c) for c in consts] + list(call.avals)
    # what each replica receives: a piece (the mapped axis of size 1) or the whole input
    piece = [False] * len(consts) + list(pieces)
    prog_avals = [av.update(shape=av.shape[:a] + (1,) + av.shape[a + 1:]) if p else av
                  for av, a, p in zip(avals, axes, piece)]
    o_axes = out_axes_per_leaf(out_axes, out_tree, len(jaxpr.outvars))

    def prologue(b, vals):
        if all(a is None for a in axes):
            return vals
        if n == 1 or all(p for a, p in zip(axes, piece) if a is not None):
            # pieces (or one device per process: its part is the whole input), less the axis
            return [v if a is None else hlo.reshape(b, v, v.shape[:a] + v.shape[a + 1:])
                    for v, a in zip(vals, axes)]
        rid = replica_index(b)
        if total != n:  # the index within this process's part
            rid = hlo.binary(b, "stablehlo.remainder", rid, hlo.scalar(b, n, rid.dtype))
        return [v if a is None else hlo.reshape(b, v, v.shape[:a] + v.shape[a + 1:]) if p
                else _take(b, v, a, rid) for v, a, p in zip(vals, axes, piece)]

    def epilogue(b, vals):
        # each replica's piece of the outputs split over the devices: nothing gathered
        return [v if a is None else hlo.reshape(
            b, v, v.shape[:a % (v.ndim + 1)] + (1,) + v.shape[a % (v.ndim + 1):])
            for v, a in zip(vals, o_axes)]

    text, _ = lower_closed_jaxpr(_with_in_avals(jaxpr, prog_avals), f"pmap_{total}",
                                 axis_env=AxisEnv(axis_name, total), num_replicas=total,
                                 prologue=prologue, epilogue=epilogue)
    loaded = backend._compile_loaded(text, natives, num_replicas=total,
                                     host_callbacks=take_host_callbacks(text))
    out_avals = []
    for v, a in zip(jaxpr.outvars, o_axes):
        av = v.aval
        out_avals.append(av if a is None else av.update(
            shape=av.shape[:a % (av.ndim + 1)] + (n,) + av.shape[a % (av.ndim + 1):],
            weak_type=av.weak_type))
    replicated = jl.replicated_sharding(natives)
    handlers = []
    for av, a in zip(out_avals, o_axes):
        if a is None:
            handlers.append(jl.result_handler(av.shape, av.dtype, replicated))
            continue
        a %= av.ndim  # the array over every replica: n * process_count along the axis
        shape = av.shape[:a] + (total,) + av.shape[a + 1:]
        handlers.append(jl.result_handler(shape, av.dtype,
                                          _tiled(backend, natives, av.ndim, a)))
    io = (leaf_axes, pieces, handlers, o_axes)
    return loaded, out_tree, out_avals, consts, io


class _with_in_avals:
    """A const-free jaxpr seen with other input avals (the whole arrays each replica receives;
    the prologue turns them into the per-device values the jaxpr takes)."""

    def __init__(self, jaxpr, in_avals):
        self.jaxpr, self.consts, self.in_avals = jaxpr, [], list(in_avals)


def _take(b, v, axis: int, rid):
    """Replica `rid`'s slice of `v` along `axis`, without that axis."""
    zero = hlo.scalar(b, 0, rid.dtype)
    idx = [rid if d == axis else zero for d in range(v.ndim)]
    sizes = tuple(1 if d == axis else s for d, s in enumerate(v.shape))
    row = b.op1("stablehlo.dynamic_slice", [v, *idx], sizes, v.dtype,
                attrs=f"slice_sizes = {i64_array(sizes)}")
    return hlo.reshape(b, row, v.shape[:axis] + v.shape[axis + 1:])


def _as_vmap(fun, args, kwargs, axis_name, in_axes, out_axes, static):
    """pmap under another transformation: vmap semantics (as on a single-device backend)."""
    mapped, dyn, name = vmap_body(fun, args, kwargs, axis_name, in_axes, out_axes, static)
    with pmap_axis(name):  # host callbacks still run once per member
        return mapped(*dyn)
