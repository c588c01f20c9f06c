"""pmap over N GPUs: the per-device function traced once, one Program per device, stepped in
lockstep (every device's step k is enqueued before step k + 1), collectives through NCCL.

Each device runs on its current CuPy stream; a collective step enqueues one NCCL call per device
inside groupStart/groupEnd, so nothing synchronises the host. Mapped inputs are split on the host
and copied to their devices; mapped outputs are stacked on the first device. Collectives inside
control flow bodies (a while_loop containing a psum) are refused with a clear error: lockstep
stepping does not reach into sub-programs.
(Written for the GPU machines; the host build and one GPU take the vmap path in `pmap.py`.)"""

from __future__ import annotations

import numpy as np

import plax
from plax.extend import execution
from plax.extend import ClosedJaxpr, Jaxpr, iter_eqns
from plax.extend.pmap import mapped_call, out_axes_per_leaf, trace_per_device
from plax_cupy.program import Program, fix

COLLECTIVES = ("psum", "pmax", "pmin", "all_gather", "ppermute", "axis_index")


class _Collective:
    """A marker rule: the lockstep runner performs this step across all devices."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **params):
        raise NameError(f"'{self.name}' runs only at the top level of a multi-GPU pmap body "
                        "(not inside control flow) on the cupy backend")


class _Rules:
    """What Program asks of a backend: the backend's rules, collectives as markers."""

    def __init__(self, backend):
        self.backend = backend

    def rule(self, prim):
        if prim.name in COLLECTIVES:
            return _Collective(prim.name)
        return self.backend.rule(prim)

    def program(self, closed, build=True):
        return self.backend.program(closed, build)


def run(backend, fun, args, kwargs, *, axis_name, in_axes, out_axes, static, devices):
    import cupy
    call = mapped_call(args, kwargs, in_axes, static)
    leaves, axes, n = call.leaves, call.axes, call.size
    if n > len(devices):
        raise ValueError(f"pmap over an axis of size {n} needs {n} devices; the cupy backend "
                         f"has {len(devices)}")
    devs = [d.id for d in devices[:n]]
    key = ("multi", fun, call.in_tree, tuple(call.avals), tuple(axes),
           tuple((i, args[i]) for i in sorted(static)), axis_name, _hashable(out_axes),
           tuple(devs))
    entry = backend._pmap_cache.get(key)
    if entry is None:
        entry = backend._pmap_cache[key] = _build(backend, fun, args, static, call, devs,
                                                  axis_name, out_axes)
    lockstep, out_tree, out_avals, o_axes, consts = entry
    execution.check_not_deleted([x for x in leaves if isinstance(x, plax.Array)])
    per_device = [[] for _ in devs]
    for x, a in zip([*consts, *leaves], [None] * len(consts) + axes):
        host = np.asarray(x)
        for k, d in enumerate(devs):
            with cupy.cuda.Device(d):
                per_device[k].append(cupy.asarray(host if a is None else np.take(host, k, a)))
    outs = lockstep(per_device)
    bufs = []
    with cupy.cuda.Device(devs[0]):
        for j, a in enumerate(o_axes):
            bufs.append(outs[0][j] if a is None else
                        cupy.stack([cupy.array(outs[k][j]) for k in range(n)], axis=a))
    results = execution.wrap(bufs, out_avals, backend, False, "pmap")
    return plax.tree_util.tree_unflatten(out_tree, results)


def _hashable(spec):
    return tuple(spec) if isinstance(spec, list) else spec


def _build(backend, fun, args, static, call, devs, axis_name, out_axes):
    import cupy
    n = call.size
    jaxpr, consts, out_tree = trace_per_device(fun, args, static, call, axis_name, n)
    for e in jaxpr.eqns:  # collectives only at the top level (see the module docstring)
        if e.primitive.name in ("psum_scatter", "all_to_all"):
            raise NotImplementedError(f"'{e.primitive.name}' in a multi-GPU pmap is not "
                                      "supported by the cupy backend")
        for v in e.params.values():
            for sub in (v if isinstance(v, tuple) else (v,)):
                if not isinstance(sub, (Jaxpr, ClosedJaxpr)):
                    continue
                for inner in iter_eqns(sub):
                    if inner.primitive.name in COLLECTIVES:
                        raise NotImplementedError(
                            f"'{inner.primitive.name}' inside '{e.primitive.name}' in a "
                            "multi-GPU pmap is not supported by the cupy backend")
    closed = ClosedJaxpr(jaxpr, [])
    programs = []
    for d in devs:
        with cupy.cuda.Device(d):
            programs.append(Program(_Rules(backend), closed))
    o_axes = out_axes_per_leaf(out_axes, out_tree, len(jaxpr.outvars))
    out_avals = []
    for v, a in zip(jaxpr.outvars, o_axes):
        av = v.aval
        if a is not None:
            a = a % (av.ndim + 1)
            av = av.update(shape=av.shape[:a] + (n,) + av.shape[a:])
        out_avals.append(av)
    o_axes = [None if a is None else a % (v.aval.ndim + 1) for v, a in zip(jaxpr.outvars, o_axes)]
    return Lockstep(programs, devs, backend), out_tree, out_avals, o_axes, consts


class Lockstep:
    """Every device's Program advanced one step at a time; collective steps through NCCL."""

    def __init__(self, programs, devs, backend):
        self.programs, self.devs, self.backend = programs, devs, backend
        self._comms = None

    def comms(self):
        if self._comms is None:
            from cupy.cuda import nccl
            self._comms = nccl.NcclCommunicator.initAll(list(self.devs))
        return self._comms

    def __call__(self, per_device_inputs):
        import cupy
        envs = []
        for p, bufs in zip(self.programs, per_device_inputs):
            env = p.template.copy()
            for s, b in zip(p.in_slots, bufs):
                env[s] = b
            envs.append(env)
        nsteps = len(self.programs[0].steps)
        for k in range(nsteps):
            first = self.programs[0].steps[k]
            if isinstance(first[1], _Collective):
                ins = [[env[i] for i in p.steps[k][2]] for p, env in zip(self.programs, envs)]
                res = self._collective(first[1].name, ins, first[4])
                for p, env, r in zip(self.programs, envs, res):
                    for s, o in zip(p.steps[k][3], r):
                        env[s] = o
                continue
            for d, p, env in zip(self.devs, self.programs, envs):
                with cupy.cuda.Device(d):
                    _run_step(p.steps[k], env)
        return [[env[s] for s in p.out_slots] for p, env in zip(self.programs, envs)]

    def _collective(self, name, ins, params):
        import cupy
        from cupy.cuda import nccl
        n = len(self.devs)
        if name == "axis_index":
            out = []
            for k, d in enumerate(self.devs):
                with cupy.cuda.Device(d):
                    out.append([cupy.asarray(np.int32(k))])
            return out
        if name in ("psum", "pmax", "pmin"):
            if params.get("axis_index_groups") is not None:
                raise NotImplementedError("axis_index_groups in a multi-GPU pmap is not "
                                          "supported by the cupy backend")
            outs = [[] for _ in range(n)]
            for j in range(len(ins[0])):
                bufs = [x[j] for x in ins]
                op = {"psum": nccl.NCCL_SUM, "pmax": nccl.NCCL_MAX, "pmin": nccl.NCCL_MIN}[name]
                res = self._all_reduce(bufs, op)
                for k in range(n):
                    outs[k].append(res[k])
            return outs
        if name == "all_gather":
            d, tiled = params["all_gather_dimension"], params["tiled"]
            bufs = [x[0] for x in ins]
            gathered = self._all_gather(bufs)  # (n, *shape) on every device
            out = []
            for k, dev in enumerate(self.devs):
                with cupy.cuda.Device(dev):
                    g = cupy.moveaxis(gathered[k], 0, d)
                    if tiled:
                        s = list(bufs[k].shape)
                        s[d] *= n
                        g = cupy.ascontiguousarray(g).reshape(s)
                    out.append([cupy.ascontiguousarray(g)])
            return out
        if name == "ppermute":
            return [[o] for o in self._ppermute([x[0] for x in ins], params["perm"])]
        raise NotImplementedError(name)

    def _all_reduce(self, bufs, op):
        import cupy
        from cupy.cuda import nccl
        dt = bufs[0].dtype
        wire = np.uint8 if dt == np.bool_ else dt
        if dt == np.bool_ and op == nccl.NCCL_SUM:
            op = nccl.NCCL_MAX  # psum of booleans is a logical or
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with cupy.cuda.Device(d):
                s = cupy.ascontiguousarray(b.astype(wire, copy=False))
                sends.append(s)
                outs.append(cupy.empty_like(s))
        nccl.groupStart()
        for c, d, s, o in zip(comms, self.devs, sends, outs):
            with cupy.cuda.Device(d):
                c.allReduce(s.data.ptr, o.data.ptr, s.size, _nccl_dtype(wire), op,
                            cupy.cuda.get_current_stream().ptr)
        nccl.groupEnd()
        return [o.astype(dt, copy=False) for o in outs]

    def _all_gather(self, bufs):
        import cupy
        from cupy.cuda import nccl
        n = len(self.devs)
        dt = bufs[0].dtype
        wire = np.uint8 if dt == np.bool_ else dt
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with cupy.cuda.Device(d):
                s = cupy.ascontiguousarray(b.astype(wire, copy=False))
                sends.append(s)
                outs.append(cupy.empty((n, *b.shape), wire))
        nccl.groupStart()
        for c, d, s, o in zip(comms, self.devs, sends, outs):
            with cupy.cuda.Device(d):
                c.allGather(s.data.ptr, o.data.ptr, s.size, _nccl_dtype(wire),
                            cupy.cuda.get_current_stream().ptr)
        nccl.groupEnd()
        return [o.astype(dt, copy=False) for o in outs]

    def _ppermute(self, bufs, perm):
        import cupy
        from cupy.cuda import nccl
        dt = bufs[0].dtype
        wire = np.uint8 if dt == np.bool_ else dt
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with cupy.cuda.Device(d):
                sends.append(cupy.ascontiguousarray(b.astype(wire, copy=False)))
                outs.append(cupy.zeros(b.shape, wire))  # devices nobody sends to get zeros
        nccl.groupStart()
        for s, t in perm:
            with cupy.cuda.Device(self.devs[s]):
                comms[s].send(sends[s].data.ptr, sends[s].size, _nccl_dtype(wire), t,
                              cupy.cuda.get_current_stream().ptr)
            with cupy.cuda.Device(self.devs[t]):
                comms[t].recv(outs[t].data.ptr, outs[t].size, _nccl_dtype(wire), s,
                              cupy.cuda.get_current_stream().ptr)
        nccl.groupEnd()
        return [o.astype(dt, copy=False) for o in outs]


def _nccl_dtype(dt):
    from cupy.cuda import nccl
    table = {"int8": nccl.NCCL_INT8, "uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32,
             "uint32": nccl.NCCL_UINT32, "int64": nccl.NCCL_INT64, "uint64": nccl.NCCL_UINT64,
             "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
             "float64": nccl.NCCL_FLOAT64}
    name = np.dtype(dt).name
    if name not in table:
        raise TypeError(f"the cupy backend's NCCL collectives do not carry dtype {name}")
    return table[name]


def _run_step(step, env) -> None:
    """One Program step on `env` (the body of Program.__call__'s loop, for lockstep use)."""
    from plax_cupy.program import _FUSED, _LIBRARY
    kind, fn, ins, outs, params, avals, frees, _ = step  # (no donation across devices)
    if kind == _FUSED:
        for s, o in zip(outs, fn([env[i] for i in ins])):
            env[s] = o
    elif kind == _LIBRARY:
        env[outs[0]] = fix(fn(*[env[i] for i in ins], **params), avals[0])
    else:
        for s, o, a in zip(outs, fn(*[env[i] for i in ins], **params), avals):
            env[s] = fix(o, a)
    for s in frees:
        env[s] = None
