"""pmap over N GPUs: the per-device function traced once, one Program per device, stepped in
lockstep (every device's step k is enqueued before step k + 1), collectives through NCCL.

Each device runs on its current CuPy stream; a collective step enqueues one NCCL call per device
inside groupStart/groupEnd, so nothing synchronises the host. Mapped inputs are split on the host
and copied to their devices; mapped outputs are stacked on the first device. Collectives inside
control flow bodies (a while_loop containing a psum) are refused with a clear error: lockstep
stepping does not reach into sub-programs.

The same code runs without a GPU on `HostPlatform` (tests): N "devices" in the host build, the
collectives through `host_nccl`, an emulation of the `cupy.cuda.nccl` calls used here (the
same pointer-and-count arguments, dtype and op codes, and group semantics: every rank must
enqueue the same collective with the same count and dtype between groupStart and groupEnd, as
NCCL needs, or it fails naming the mismatch instead of hanging). On one GPU or in the host
build a plain pmap takes the vmap path in `pmap.py`."""

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


def run(backend, fun, args, kwargs, *, axis_name, in_axes, out_axes, static, devices,
        platform=None):
    P = platform or gpu_platform()
    call = mapped_call(args, kwargs, in_axes, static)
    leaves, axes, n = call.leaves, call.axes, call.size
    if n > len(devices):
        raise ValueError(f"pmap over an axis of size {n} needs {n} devices; the cupy backend "
                         f"has {len(devices)}")
    devs = [d.id for d in devices[:n]]
    key = ("multi", fun, call.in_tree, tuple(call.avals), tuple(axes),
           tuple((i, args[i]) for i in sorted(static)), axis_name, _hashable(out_axes),
           tuple(devs), type(P))
    entry = backend._pmap_cache.get(key)
    if entry is None:
        entry = backend._pmap_cache[key] = _build(backend, P, fun, args, static, call, devs,
                                                  axis_name, out_axes)
    lockstep, out_tree, out_avals, o_axes, consts = entry
    execution.check_not_deleted([x for x in leaves if isinstance(x, plax.Array)])
    xp = P.xp
    per_device = [[] for _ in devs]
    for x, a in zip([*consts, *leaves], [None] * len(consts) + axes):
        host = np.asarray(x)
        for k, d in enumerate(devs):
            with P.device(d):
                per_device[k].append(xp.asarray(host if a is None else np.take(host, k, a)))
    outs = lockstep(per_device)
    bufs = []
    with P.device(devs[0]):
        for j, a in enumerate(o_axes):
            bufs.append(outs[0][j] if a is None else
                        xp.stack([xp.array(outs[k][j]) for k in range(n)], axis=a))
    results = execution.wrap(bufs, out_avals, backend, False, "pmap")
    return plax.tree_util.tree_unflatten(out_tree, results)


def _hashable(spec):
    return tuple(spec) if isinstance(spec, list) else spec


def _build(backend, P, fun, args, static, call, devs, axis_name, out_axes):
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
        with P.device(d):
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
    return Lockstep(programs, devs, backend, P), out_tree, out_avals, o_axes, consts


# --- where it runs: CuPy + NCCL, or the host emulation ---------------------------------------

class GpuPlatform:
    """The GPUs: CuPy arrays on each device, `cupy.cuda.nccl` communicators."""

    def __init__(self):
        import cupy
        from cupy.cuda import nccl
        if not getattr(nccl, "available", True):
            raise RuntimeError("pmap over several GPUs needs NCCL, which CuPy could not load "
                               "(pip install nvidia-nccl-cu13)")
        self.xp, self.nccl, self._cupy = cupy, nccl, cupy

    def device(self, d):
        return self._cupy.cuda.Device(d)

    def stream(self) -> int:
        return self._cupy.cuda.get_current_stream().ptr

    @staticmethod
    def ptr(a) -> int:
        return a.data.ptr


_gpu = None


def gpu_platform() -> GpuPlatform:
    global _gpu
    if _gpu is None:
        _gpu = GpuPlatform()
    return _gpu


class _NoDevice:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class HostPlatform:
    """N emulated devices in the host build (NumPy arrays), collectives through host_nccl."""

    def __init__(self):
        from plax_cupy import host_nccl
        self.xp, self.nccl = np, host_nccl

    def device(self, d):
        return _NoDevice()

    def stream(self) -> int:
        return 0

    @staticmethod
    def ptr(a) -> int:
        return a.ctypes.data


# communicators per (platform, devices): created once (ncclCommInitAll is slow), shared by
# every pmap over the same devices
_comms: dict = {}


class Lockstep:
    """Every device's Program advanced one step at a time; collective steps through NCCL."""

    def __init__(self, programs, devs, backend, platform):
        self.programs, self.devs, self.backend, self.P = programs, devs, backend, platform

    def comms(self):
        key = (type(self.P), tuple(self.devs))
        comms = _comms.get(key)
        if comms is None:
            comms = _comms[key] = self.P.nccl.NcclCommunicator.initAll(list(self.devs))
        return comms

    def __call__(self, per_device_inputs):
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
                for p, env in zip(self.programs, envs):
                    for s in p.steps[k][6]:
                        env[s] = None
                continue
            for d, p, env in zip(self.devs, self.programs, envs):
                with self.P.device(d):
                    _run_step(p.steps[k], env)
        return [[env[s] for s in p.out_slots] for p, env in zip(self.programs, envs)]

    def _collective(self, name, ins, params):
        n, xp = len(self.devs), self.P.xp
        if name == "axis_index":
            out = []
            for k, d in enumerate(self.devs):
                with self.P.device(d):
                    out.append([xp.asarray(np.int32(k))])
            return out
        if name in ("psum", "pmax", "pmin"):
            groups = params.get("axis_index_groups")
            if groups is not None:
                return self._group_reduce(ins, name, groups)
            outs = [[] for _ in range(n)]
            for j in range(len(ins[0])):
                res = self._all_reduce([x[j] for x in ins], name)
                for k in range(n):
                    outs[k].append(res[k])
            return outs
        if name == "all_gather":
            d, tiled = params["all_gather_dimension"], params["tiled"]
            bufs = [x[0] for x in ins]
            gathered = self._all_gather(bufs)  # (n, *shape) on every device
            out = []
            for k, dev in enumerate(self.devs):
                with self.P.device(dev):
                    g = xp.moveaxis(gathered[k], 0, d)
                    if tiled:
                        s = list(bufs[k].shape)
                        s[d] *= n
                        g = xp.ascontiguousarray(g).reshape(s)
                    out.append([xp.ascontiguousarray(g)])
            return out
        if name == "ppermute":
            return [[o] for o in self._ppermute([x[0] for x in ins], params["perm"])]
        raise NotImplementedError(name)

    def _on_devices(self, fn, arrays) -> list:
        """fn(array) for each device's array, with its device current (CuPy launches a kernel
        on the current device only)."""
        out = []
        for d, a in zip(self.devs, arrays):
            with self.P.device(d):
                out.append(fn(a))
        return out

    def _group_reduce(self, ins, name, groups):
        """psum/pmax/pmin within axis_index_groups: every operand all-gathered, then each
        device reduces its own group's members (NCCL has no subgroup reduction without new
        communicators)."""
        n, xp = len(self.devs), self.P.xp
        members = sorted(i for g in groups for i in g)
        if members != list(range(n)) or len({len(g) for g in groups}) != 1:
            raise ValueError(f"axis_index_groups {groups!r} must split the {n} devices of the "
                             "pmap into groups of one size")
        group_of = {i: list(g) for g in groups for i in g}
        reduce = {"psum": xp.sum, "pmax": xp.max, "pmin": xp.min}[name]
        outs = [[] for _ in range(n)]
        for j in range(len(ins[0])):
            bufs = [x[j] for x in ins]
            gathered = self._all_gather(bufs)
            for k, dev in enumerate(self.devs):
                with self.P.device(dev):
                    part = gathered[k][xp.asarray(group_of[k])]
                    red = reduce(part, axis=0, dtype=part.dtype) if name == "psum" else \
                        reduce(part, axis=0)
                    outs[k].append(xp.asarray(red).astype(bufs[k].dtype, copy=False))
        return outs

    def _all_reduce(self, bufs, name):
        """psum/pmax/pmin of one operand per device: in its dtype where NCCL has it; 16-bit
        integers widened to 32 bits (sums wrap the same); booleans as uint8 (psum: any, as a
        reduce_sum of booleans); complex sums as sums of their float parts."""
        P, nccl = self.P, self.P.nccl
        dt = np.dtype(bufs[0].dtype)
        op = {"psum": nccl.NCCL_SUM, "pmax": nccl.NCCL_MAX, "pmin": nccl.NCCL_MIN}[name]
        if dt.kind == "c" and name != "psum":
            raise TypeError(f"{name} of complex numbers is not defined")
        wire = {np.dtype(np.bool_): np.dtype(np.uint8), np.dtype(np.int16): np.dtype(np.int32),
                np.dtype(np.uint16): np.dtype(np.uint32)}.get(dt, dt)
        if dt.name == "bfloat16" and not hasattr(nccl, "NCCL_BFLOAT16"):  # NCCL < 2.10
            wire = np.dtype(np.float32)
        if dt == np.bool_ and op == nccl.NCCL_SUM:
            op = nccl.NCCL_MAX
        code, per = _nccl_dtype(nccl, wire)
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with P.device(d):
                s = P.xp.ascontiguousarray(b.astype(wire, copy=False))
                sends.append(s)
                outs.append(P.xp.empty_like(s))
        nccl.groupStart()
        try:
            for c, d, s, o in zip(comms, self.devs, sends, outs):
                with P.device(d):
                    c.allReduce(P.ptr(s), P.ptr(o), s.size * per, code, op, P.stream())
        finally:
            nccl.groupEnd()
        shape = tuple(bufs[0].shape)  # (ascontiguousarray made 0-d operands 1-d)
        return self._on_devices(lambda o: o.astype(dt, copy=False).reshape(shape), outs)

    def _all_gather(self, bufs):
        """Every device's operand on every device, stacked: moved as bytes (any dtype)."""
        P, nccl = self.P, self.P.nccl
        n, dt = len(self.devs), np.dtype(bufs[0].dtype)
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with P.device(d):
                sends.append(_as_bytes(P.xp, b))
                outs.append(P.xp.empty(n * b.size * dt.itemsize, np.uint8))
        nccl.groupStart()
        try:
            for c, d, s, o in zip(comms, self.devs, sends, outs):
                with P.device(d):
                    c.allGather(P.ptr(s), P.ptr(o), s.size, nccl.NCCL_UINT8, P.stream())
        finally:
            nccl.groupEnd()
        shape = tuple(bufs[0].shape)
        return self._on_devices(lambda o: o.view(dt).reshape((n, *shape)), outs)

    def _ppermute(self, bufs, perm):
        """Device s's operand to device t for each (s, t) of `perm`, moved as bytes; devices
        nobody sends to get zeros (as XLA's collective_permute)."""
        P, nccl = self.P, self.P.nccl
        dt = np.dtype(bufs[0].dtype)
        comms, outs, sends = self.comms(), [], []
        for d, b in zip(self.devs, bufs):
            with P.device(d):
                sends.append(_as_bytes(P.xp, b))
                outs.append(P.xp.zeros(b.size * dt.itemsize, np.uint8))
        nccl.groupStart()
        try:
            for s, t in perm:
                with P.device(self.devs[s]):
                    comms[s].send(P.ptr(sends[s]), sends[s].size, nccl.NCCL_UINT8, t,
                                  P.stream())
                with P.device(self.devs[t]):
                    comms[t].recv(P.ptr(outs[t]), outs[t].size, nccl.NCCL_UINT8, s,
                                  P.stream())
        finally:
            nccl.groupEnd()
        shape = tuple(bufs[0].shape)
        return self._on_devices(lambda o: o.view(dt).reshape(shape), outs)


def _as_bytes(xp, a):
    """A contiguous copy (or view) of `a` as a flat uint8 array."""
    return xp.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _nccl_dtype(nccl, dt):
    """(NCCL dtype code, elements per value) for a reduction in dtype `dt`."""
    dt = np.dtype(dt)
    if dt.kind == "c":  # sums of (re, im) pairs
        return _nccl_dtype(nccl, np.dtype(f"f{dt.itemsize // 2}"))[0], 2
    table = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
             "uint32": "NCCL_UINT32", "int64": "NCCL_INT64", "uint64": "NCCL_UINT64",
             "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
             "bfloat16": "NCCL_BFLOAT16"}
    code = getattr(nccl, table.get(dt.name, ""), None)
    if code is None:
        raise TypeError(f"the cupy backend's NCCL collectives do not reduce dtype {dt.name}")
    return code, 1


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
