"""The xla backend: buffers are jaxlib device arrays that stay on their device; closed jaxprs and
single primitives are lowered to StableHLO, verified, compiled once by PJRT and cached.

`stats` counts compilations, executable-cache hits and host transfers, so tests (and users) can
check that a jitted loop compiles once and never copies to the host."""

from __future__ import annotations

import collections
import contextlib
import logging
import sys
import threading
import warnings
from typing import Any, Sequence

import numpy as np

from plax import profiler
from plax.extend import config
from plax.extend import Backend, Device, Executable, UnsupportedPrimitiveError, execution
from plax.extend import abstract_token
from plax.extend import registry as plax_registry
from plax_xla import _jaxlib as jl
from plax.lax import debug_callback_p, pure_callback_p
from plax_xla import compile_cache
from plax_xla.lowering import (
    lower_closed_jaxpr, lower_primitive, physical, take_host_callbacks)
from plax_xla.spmd import LoadedReports, Spmd, SpmdExecutable, SpmdRunner, mesh_of_jaxpr
from plax.sharding import (
    SingleDeviceSharding, TiledSharding, sharding_devices, sharding_from_tiles,
    xla_sharding_text)

# run eagerly through the host (as one call each), compiled only inside a jitted program
_HOST_PRIMITIVES = frozenset({pure_callback_p, debug_callback_p})

_EAGER_CACHE_LIMIT = 8192
_prof = profiler.state  # .active: the profile being recorded (None: the usual case)
_log = logging.getLogger("plax.jit")


def _make_client(platform: str, cpu_devices: int, runtime=None):
    """(client, platform). 'auto' takes an installed GPU (then TPU) plugin if it starts.
    With a plax.distributed `runtime`, the client spans every process of the run (the CPU's
    collectives over gloo; a plugin's, NCCL on GPUs, its own)."""
    dist = None
    if runtime is not None:
        s = runtime.settings
        dist = (runtime.client, s.process_id, s.num_processes, s.local_device_ids)
    if platform in ("cpu", "auto"):
        if platform == "auto":
            for p in ("gpu", "tpu"):
                if jl.plugin_available(p):
                    try:
                        return jl.plugin_client(p, dist), p
                    except RuntimeError as e:
                        warnings.warn(f"plax xla backend: {e}; using the CPU", RuntimeWarning,
                                      stacklevel=3)
        asynchronous = _option("xla_cpu_async_dispatch", None)
        if asynchronous is None:  # several devices (pmap) or processes: replicas run concurrently
            asynchronous = cpu_devices > 1 or dist is not None
        if dist is not None:
            if dist[3] is not None:  # CPU devices are virtual: that many of them
                cpu_devices = len(dist[3])
            return jl.cpu_client(cpu_devices, dist[:3], asynchronous), "cpu"
        return jl.cpu_client(cpu_devices, None, asynchronous), "cpu"
    if platform in ("gpu", "cuda"):
        return jl.plugin_client("gpu", dist), "gpu"
    if platform == "tpu":
        return jl.plugin_client("tpu", dist), "tpu"
    raise ValueError(f"plax xla backend: unknown platform {platform!r} (PLAX_XLA_PLATFORM / "
                     "config 'xla_platform'); use cpu, gpu, tpu or auto")


class XlaBackend(Backend):
    name = "xla"

    def __init__(self, platform: str | None = None, cpu_devices: int | None = None):
        platform = (platform or _option("xla_platform", "auto")).lower()
        if platform == "auto":  # PLAX_PLATFORMS (as JAX_PLATFORMS): its first xla platform
            wanted = [p for p in (_option("platforms", None) or ())
                      if p in ("cpu", "gpu", "cuda", "tpu")]
            platform = wanted[0] if wanted else platform
        cpu_devices = int(cpu_devices or _option("xla_cpu_devices", 1))
        if cpu_devices < 1:
            raise ValueError(f"plax xla backend: xla_cpu_devices must be >= 1, got {cpu_devices}")
        from plax_xla.distributed import current
        self._runtime = current()
        self._client, self.platform = _make_client(platform, cpu_devices, self._runtime)
        from plax_xla import lower_trig
        lower_trig.platform = self.platform
        natives = list(self._client.local_devices())
        # every process's devices (this one's alone outside plax.distributed)
        self._all_devices = [Device("xla", self.platform, d.id, d.device_kind, native=d,
                                    process_index=d.process_index)
                             for d in self._client.devices()]
        self._by_native = {d.native: d for d in self._all_devices}
        self._token_bufs: dict = {}  # device -> what a token argument is (token_buffer)
        self._devices = [self._by_native[d] for d in natives]  # this process's
        self._process_index = self._client.process_index()
        self._process_count = 1 + max(d.process_index for d in self._all_devices)
        self._default = natives[0]
        self._lowering = plax_registry.lowering_table("xla")
        self._compositions = plax_registry.rules("composition")
        self._eager: dict = {}
        self._pmap_cache: dict = {}
        self._pmap_last = None  # the last pmap call's (signature, program, avals, devices)
        self.stats: collections.Counter = collections.Counter()
        # layouts over several devices: plax sharding -> jaxlib sharding, and back by identity
        self._gspmd: dict = {}
        self._plax_of: dict = {}

    # --- devices and data movement ---------------------------------------------------------
    def devices(self) -> list[Device]:
        return self._all_devices

    def local_devices(self) -> list[Device]:
        return self._devices

    def process_index(self) -> int:
        return self._process_index

    def process_count(self) -> int:
        return self._process_count

    def native_device(self, device: Device | None):
        if device is None:
            return self._default
        if device.backend_name != self.name:
            raise ValueError(f"device {device!r} belongs to backend '{device.backend_name}', "
                             "not 'xla'")
        return device.native

    def put(self, x, device: Device | None = None):
        x = np.asarray(x)
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        self.stats["host_to_device"] += 1
        if _prof.active is not None:
            with _prof.active.record("host_to_device", f"{x.dtype}{list(x.shape)}"):
                buf = jl.device_put(x, self.native_device(device))
                jl.block_until_ready(buf)
                return buf
        return jl.device_put(x, self.native_device(device))

    def to_numpy(self, buf) -> np.ndarray:
        self.stats["device_to_host"] += 1
        if jl.single_device_of(buf) is None:  # a global array: its pieces assembled here
            shape, dtype = tuple(buf.aval.shape), np.dtype(buf.aval.dtype)
            if self._process_count > 1:
                sharding = self.buffer_sharding(buf)
                if not sharding.is_fully_addressable:
                    if sharding.is_fully_replicated:  # every piece is the whole value
                        return jl.to_numpy(self.buffer_shards(buf)[0][1])
                    raise RuntimeError(
                        f"the value of an Array of shape {shape} laid out by {sharding!r} "
                        "spans devices of other processes: this process holds only its "
                        "pieces (read x.addressable_shards, gather it with plax.experimental."
                        "multihost_utils.process_allgather(x), or make it replicated first, "
                        "e.g. jit(..., out_shardings=NamedSharding(mesh, P())))")
            sharding = self.buffer_sharding(buf)
            pieces = self.buffer_shards(buf)
            index = sharding.devices_indices_map(shape)
            out = np.empty(shape, dtype)
            for dev, piece in pieces:
                out[index[dev]] = jl.to_numpy(piece)
            out.flags.writeable = False
            return out
        if _prof.active is not None:
            with _prof.active.record("device_to_host", "to_numpy"):
                return jl.to_numpy(buf)
        return jl.to_numpy(buf)

    def buffer_device(self, buf) -> Device:
        return self._by_native[jl.device_of(buf)]

    # --- arrays over several devices (plax_xla.spmd runs programs on them) ------------------
    def gspmd(self, sharding, ndim: int, devices):
        """The jaxlib sharding of `sharding` for rank `ndim` over `devices` (in order)."""
        key = (sharding, ndim, tuple(devices))
        g = self._gspmd.get(key)
        if g is None:
            text = xla_sharding_text(sharding, ndim, devices)
            g = self._gspmd[key] = jl.gspmd_sharding([d.native for d in devices], text)
            self._plax_of[id(g)] = (g, sharding)
        return g

    def sharding_from_text(self, text: str, spmd, ndim: int):
        dims, order, last_rep = jl.hlo_tiles(text)
        return sharding_from_tiles(spmd.mesh, spmd.devices, ndim, dims, order, last_rep)

    def put_sharded(self, shards, devices, sharding, shape, dtype):
        if len(sharding.device_set) == 1:
            return super().put_sharded(shards, devices, sharding, shape, dtype)
        natives = [self.native_device(d) for d in devices]
        pieces = []
        for s, n in zip(shards, natives):
            if isinstance(s, np.ndarray):
                self.stats["host_to_device"] += 1
                pieces.append(np.ascontiguousarray(s))
            elif jl.device_of(s) != n:
                pieces.append(jl.copy_to_device(s, s.aval.shape, s.aval.dtype, n))
            else:
                pieces.append(s)
        # the layout is over all the sharding's devices; the pieces go to `devices` (this
        # process's: with many processes each puts its own)
        every = sharding_devices(sharding)
        return jl.put_global(pieces, natives, self.gspmd(sharding, len(shape), every),
                             shape, dtype)

    def put_in_order(self, buf, sharding, devices, shape, dtype):
        """The global array `buf` laid out by `sharding` with `devices` (a partitioned
        program's partitions) as its device list in this order: the same pieces, no copy
        through the host (this process's alone, with plax.distributed)."""
        by_dev = dict(self.buffer_shards(buf))
        local = [d for d in devices if d in by_dev]
        return jl.put_global([by_dev[d] for d in local], [d.native for d in local],
                             self.gspmd(sharding, len(shape), devices), shape, dtype)

    def buffer_sharding(self, buf):
        hit = self._plax_of.get(id(jl.sharding_of(buf)))
        if hit is not None:
            return hit[1]
        devs = jl.devices_of(buf)
        if len(devs) == 1:
            return SingleDeviceSharding(self._by_native[devs[0]])
        return TiledSharding([self._by_native[d] for d in devs], (), (), False)  # replicated

    def buffer_shards(self, buf) -> list:
        devs = jl.devices_of(buf)
        if len(devs) == 1:
            return [(self._by_native[devs[0]], buf)]
        return [(self._by_native[jl.device_of(p)], p) for p in jl.shards_of(buf)]

    def block_until_ready(self, buf) -> None:
        jl.block_until_ready(buf)

    def copy_to_host_async(self, buf) -> None:
        jl.copy_to_host_async(buf)

    def buffer_shape_dtype(self, buf):
        return None  # every lowering rule's result types are checked when it is lowered

    # --- what it runs -----------------------------------------------------------------------
    def supports(self, prim, params: dict | None = None) -> bool:
        return prim in self._lowering or prim in self._compositions

    def execute_primitive(self, prim, buffers, avals_in, avals_out, params):
        if not self.supports(prim) or prim in _HOST_PRIMITIVES:
            return self._on_reference(prim, buffers, avals_in, avals_out, params)
        out = self._eager_executable(prim, avals_in, avals_out, params)(buffers)
        return out if prim.multiple_results else out[0]

    def eager_runner(self, prim, avals_in, avals_out, params):
        if not self.supports(prim) or prim in _HOST_PRIMITIVES:
            return super().eager_runner(prim, avals_in, avals_out, params)
        exe = self._eager_executable(prim, avals_in, avals_out, params)
        if abstract_token in avals_in:  # (after_all)
            run = _TokenArgs(self, exe.runner, avals_in)
            return run if prim.multiple_results else lambda buffers: run(buffers)[0]
        if exe.runner is exe:  # several devices: the executable checks placement
            return exe if prim.multiple_results else lambda buffers: exe(buffers)[0]
        return jl.runner(exe._loaded, exe._handlers, first_only=not prim.multiple_results)

    def _eager_executable(self, prim, avals_in, avals_out, params) -> "XlaExecutable":
        """The compiled program of one primitive, cached by shapes, dtypes and params (weak
        types share a program)."""
        try:
            key = (prim, tuple([physical(a) for a in avals_in]), tuple(params.items()))
            exe = self._eager.get(key)
        except TypeError:  # unhashable params: compile without caching
            key, exe = None, None
        if exe is None:
            outs = list(avals_out) if prim.multiple_results else [avals_out]
            if config.log_compiles:
                _log.warning("Compiling %s with shapes and types [%s] on backend 'xla' (an "
                             "eager operation)", prim.name,
                             ", ".join(a.str_short() for a in avals_in))
            with profiler.record("compile", f"eager {prim.name}"):
                exe = self.compile_text(lower_primitive(prim, avals_in, outs, params),
                                        avals_in, outs)
            if len(self._all_devices) > 1:  # on arrays over several devices: partitioned

                def lower(spmd, arg_shardings, prim=prim, params=params):
                    return lower_primitive(prim, avals_in, outs, params, spmd, arg_shardings)
                exe._spmd = SpmdRunner(self, lower, avals_in, outs, None)
            if key is not None:
                if len(self._eager) >= _EAGER_CACHE_LIMIT:
                    self._eager.clear()
                self._eager[key] = exe
        return exe

    def _on_reference(self, prim, buffers, avals_in, avals_out, params):
        """Eagerly, a primitive with no lowering rule (a third party's, say) runs on the
        reference backend through the host; under jit it is an error naming it (compile)."""
        ref = plax_registry.get_backend("reference")
        if not ref.supports(prim):
            ref.execute_primitive(prim, [], avals_in, avals_out, params)  # raises, naming it
        device = self.buffer_device(buffers[0]) if buffers else None
        host = [self.to_numpy(b) for b in buffers]
        out = ref.execute_primitive(prim, host, avals_in, avals_out, params)
        # the results as the reference backend returned them
        if config.checks or config.check_rules:
            execution.check_outputs(prim, ref, out if prim.multiple_results else [out],
                                    avals_out if prim.multiple_results else [avals_out])
        if prim.multiple_results:
            return [self.put(o, device) for o in out]
        return self.put(out, device)

    def compile(self, closed_jaxpr, *, device: Device | None = None,
                donate_argnums: Sequence[int] = ()):
        self.check_supported(closed_jaxpr)  # fails naming the primitives, before any work

        def lower(spmd, arg_shardings):
            return lower_closed_jaxpr(closed_jaxpr, "jit", spmd=spmd,
                                      arg_shardings=arg_shardings)[0]

        fixed = mesh_of_jaxpr(closed_jaxpr) if len(self._all_devices) > 1 else None
        runner = SpmdRunner(self, lower, closed_jaxpr.in_avals, closed_jaxpr.out_avals, fixed)
        if fixed is not None:  # constraints or shard_maps over a mesh: always partitioned
            return SpmdExecutable(runner)
        with profiler.record("lower", "jaxpr -> StableHLO"):
            text, aliased = lower_closed_jaxpr(closed_jaxpr, "jit", donated=donate_argnums)
        exe = self.compile_text(text, closed_jaxpr.in_avals, closed_jaxpr.out_avals, device)
        exe.donated = tuple(aliased)
        exe._spmd = runner
        big = [i for i, a in enumerate(closed_jaxpr.out_avals)
               if a is not abstract_token and a.size * a.dtype.itemsize >= _RECYCLE_BYTES]
        if (big and not donate_argnums and self.platform == "cpu" and exe.runner is not exe
                and not exe.host_callbacks and config.xla_cpu_reuse_outputs):
            exe.runner = _Recycler(self, exe, closed_jaxpr, big, device)
        if abstract_token in closed_jaxpr.in_avals:
            exe.runner = _TokenArgs(self, exe.runner, closed_jaxpr.in_avals)
        return exe

    def token_buffer(self, device: Device | None = None):
        """The buffer a token argument is at run time (PJRT's: an empty bool array)."""
        buf = self._token_bufs.get(device)
        if buf is None:
            buf = self._token_bufs[device] = self.put(np.zeros((0,), np.bool_), device)
        return buf

    def compile_text(self, text: str, in_avals, out_avals, device: Device | None = None
                     ) -> "XlaExecutable":
        """Compile a single-device module (a malformed one raises MlirError naming its lines)."""
        return XlaExecutable(self, text, in_avals, out_avals, self.native_device(device))

    def _compile_loaded(self, text: str, natives: Sequence[Any], num_replicas: int = 1,
                        host_callbacks: Sequence[Any] = (), num_partitions: int = 1,
                        num_outputs: int = 0):
        """Compile, or load from the persistent compilation cache when a directory is
        configured (`compilation_cache_dir`); `stats` counts "compiles" and "cache_hits". A
        module calling host functions is never cached (they are Python objects of this
        process), nor one partitioned over several processes' devices. `num_partitions` > 1:
        XLA's SPMD partitioner splits the module over `natives`."""
        parts = (num_partitions, num_outputs)
        if num_partitions > 1:
            spans = len({d.process_index for d in natives}) > 1
            if spans or compile_cache.directory(config) is None:
                self.stats["compiles"] += 1
                return jl.compile_partitioned(self._client, text, natives, num_outputs)
        if host_callbacks:
            if self.platform != "cpu":
                raise UnsupportedPrimitiveError(
                    "host callbacks (pure_callback, debug.print/callback) inside jit run on "
                    f"the xla backend's CPU platform only, not '{self.platform}'")
            self.stats["compiles"] += 1
            return jl.compile(self._client, text, natives, num_replicas,
                              host_callbacks=host_callbacks)
        root = compile_cache.directory(config)
        if root is None:
            self.stats["compiles"] += 1
            return jl.compile(self._client, text, natives, num_replicas)
        digest = compile_cache.key(self._client, self.platform, text, natives, num_replicas,
                                   *parts)
        path = compile_cache.entry_path(root, digest)
        payload = compile_cache.read(path, digest)
        if payload is not None:
            try:
                loaded = jl.deserialize(self._client, payload, natives, num_replicas, *parts)
                self.stats["cache_hits"] += 1
                return loaded
            except Exception:  # noqa: BLE001 - an entry the runtime rejects: compile afresh
                pass
        self.stats["compiles"] += 1
        loaded = jl.compile_partitioned(self._client, text, natives, num_outputs) \
            if num_partitions > 1 else jl.compile(self._client, text, natives, num_replicas)
        compile_cache.write(path, digest, jl.serialize(self._client, loaded))
        return loaded

    def clear_caches(self) -> None:
        """Forget the in-memory executables; the persistent cache on disk stays (as JAX's)."""
        self._eager.clear()
        self._pmap_cache.clear()
        self._pmap_last = None

    def _module_text(self, closed_jaxpr, arg_shardings=None) -> str:
        """The StableHLO module of `closed_jaxpr` as the lowering writes it (generic syntax).
        `arg_shardings` (per input, None for one device): the layouts of the arguments it was
        lowered for; sharded ones make the module the partitioned program a call compiles."""
        fixed = mesh_of_jaxpr(closed_jaxpr) if len(self._all_devices) > 1 else None
        texts = None
        if arg_shardings is not None and any(s is not None for s in arg_shardings):
            if fixed is None:
                first = next(s for s in arg_shardings if s is not None)
                fixed = Spmd(sharding_devices(first), getattr(first, "mesh", None))
            texts = ["{replicated}" if s is None else fixed.sharding_text(s, len(a.shape))
                     for s, a in zip(arg_shardings, closed_jaxpr.in_avals)]
        text, _ = lower_closed_jaxpr(closed_jaxpr, "jit", spmd=fixed, arg_shardings=texts)
        take_host_callbacks(text)  # not compiled: nothing to keep
        return text

    def lower_text(self, closed_jaxpr, debug_info: bool = False, arg_shardings=None,
                   dialect: str | None = None) -> str:
        """The StableHLO module of `closed_jaxpr`, as MLIR prints it (with `debug_info`, the
        operations' locations: `loc("scope/inner/sin")` for equations in a named_scope);
        `dialect="hlo"`: the HLO module XLA builds from it, before optimization."""
        _check_dialect(dialect)
        text = self._module_text(closed_jaxpr, arg_shardings)
        if dialect == "hlo":
            return jl.hlo_computation(text).as_hlo_text()
        return jl.verify(text, pretty=True, debug_info=debug_info)

    def compiler_ir(self, closed_jaxpr, dialect: str | None = None, arg_shardings=None):
        """`Lowered.compiler_ir`: the module as a jaxlib.mlir ir.Module ("stablehlo", the
        default) or as jaxlib's XlaComputation ("hlo")."""
        _check_dialect(dialect)
        text = self._module_text(closed_jaxpr, arg_shardings)
        if dialect == "hlo":
            return jl.hlo_computation(text)
        jl.verify(text)
        return jl.parse_module(text)

    def lowered_cost_analysis(self, closed_jaxpr, arg_shardings=None) -> dict:
        """XLA's cost estimates of the module before compilation (`Lowered.cost_analysis`)."""
        return jl.hlo_cost_analysis(self._client, self._module_text(closed_jaxpr, arg_shardings))

    def pmap_execute(self, fun, args, kwargs, **options):
        from plax_xla.pmap import pmap_execute
        return pmap_execute(self, fun, args, kwargs, **options)

    def __repr__(self):
        return f"<plax backend xla ({self.platform}, {len(self._devices)} devices, " \
               f"{jl.describe_environment()})>"


# outputs this large come from fresh mmaps (glibc maps anything over 32 MiB) or from the
# runtime's worker-thread arenas, which give memory back between calls: the first touch of
# each 4 KiB page faults again every call (measured: 3,500 faults for a 16 MiB output)
_RECYCLE_BYTES = 8 << 20


def _check_dialect(dialect) -> None:
    if dialect not in (None, "stablehlo", "hlo"):
        raise ValueError(f"unknown dialect {dialect!r}: the xla backend lowers to 'stablehlo' "
                         "(the default) or 'hlo'")


class _TokenArgs:
    """The runner of a program taking tokens: plax passes a Token's buffer as None; the program
    gets the backend's empty bool array there (what PJRT takes for a `!stablehlo.token`)."""

    __slots__ = ("_backend", "_run", "_pos")

    def __init__(self, backend, run, in_avals):
        self._backend, self._run = backend, run
        self._pos = [i for i, a in enumerate(in_avals) if a is abstract_token]

    def __call__(self, bufs):
        bufs = list(bufs)
        tok = self._backend.token_buffer()
        for i in self._pos:
            bufs[i] = tok
        return self._run(bufs)


class _Recycler:
    """The runner of a CPU program with large outputs: when nothing but this runner holds the
    large outputs of its last call any more (the caller dropped them), the next call donates
    their buffers to a variant of the program that writes those outputs into them (compiled
    on first use), instead of page-faulting through fresh memory. The runtime itself never
    donates a buffer that a NumPy view or DLPack export still references (it allocates anew).
    Costs: the last call's large outputs stay allocated between calls."""

    __slots__ = ("_backend", "_closed", "_big", "_device", "_plain", "_reuse", "_prev",
                 "_lock", "_options", "__weakref__")

    def __init__(self, backend, exe, closed, big, device):
        self._backend, self._closed = backend, closed
        # the lowering options in force now: the variant is lowered as the program was
        self._options = {"xla_cpu_fast_trig": config.xla_cpu_fast_trig}
        self._big, self._device = tuple(big), device
        self._plain = jl.runner(exe._loaded, exe._handlers)
        self._reuse = None  # the donating variant's runner, compiled when first useful
        self._prev: tuple = ()
        self._lock = threading.Lock()

    def __call__(self, bufs):
        with self._lock:
            prev, self._prev = self._prev, ()
        # 3 references: the tuple, the loop variable, getrefcount's argument
        if prev and all(sys.getrefcount(b) == 3 and not b.is_deleted() for b in prev):
            run = self._reuse or self._compile_reuse()
            outs = run([*bufs, *prev])
        else:
            outs = self._plain(bufs)
        del prev
        self._prev = tuple(outs[i] for i in self._big)
        return outs

    def _compile_reuse(self):
        closed = self._closed
        with contextlib.ExitStack() as stack:
            for k, v in self._options.items():
                stack.enter_context(config.override(k, v))
            text, _ = lower_closed_jaxpr(closed, "jit", scratch=self._big)
        outs = [closed.out_avals[i] for i in self._big]
        exe = self._backend.compile_text(text, [*closed.in_avals, *outs], closed.out_avals,
                                         self._device)
        self._reuse = jl.runner(exe._loaded, exe._handlers)
        self._closed = None  # not needed any more
        return self._reuse


def _option(name: str, default):
    try:
        return getattr(config, name)
    except AttributeError:  # the plugin hook defines these options; a bare XlaBackend() too
        return default


class XlaExecutable(LoadedReports, Executable):
    """A compiled module; a call runs it on the arguments' device (a few microseconds when
    they are on the device it was compiled for; another device compiles it once more)."""

    __slots__ = ("_backend", "text", "_in", "_out", "_loaded", "_device", "_handlers",
                 "_others", "_check_device", "donated", "runner", "host_callbacks", "_spmd")

    def __init__(self, backend: XlaBackend, text: str, in_avals, out_avals, native):
        self._backend, self.text = backend, text
        # the host functions the program calls: alive as long as the executable
        self.host_callbacks = take_host_callbacks(text)
        self._in = [physical(a) for a in in_avals]
        self._out = [physical(a) for a in out_avals]
        self._loaded, self._handlers = self._load(native)
        self._device = native
        self._others: dict = {}
        # with several devices, the first argument's device picks where to run (checked up
        # front: a launch that fails on placement also prints an error line from the runtime)
        # (also with one device per process: arguments may be global arrays)
        self._check_device = len(backend._all_devices) > 1
        self.donated: tuple[int, ...] = ()
        self._spmd = None  # runs the program partitioned when given arrays over several devices
        # what jit calls: with one device, the launch itself, with no checks around it
        self.runner = self if self._check_device else \
            jl.runner(self._loaded, self._handlers, keepalive=self.host_callbacks)

    def _load(self, native):
        loaded = self._backend._compile_loaded(self.text, [native],
                                               host_callbacks=self.host_callbacks)
        sharding = jl.single_sharding(native)
        return loaded, [jl.result_handler(s, d, sharding) for s, d in self._out]

    def shardings(self):
        one = SingleDeviceSharding(self._backend._by_native[self._device])
        return [one] * len(self._in), [one] * len(self._out)

    def specialize(self, layouts):
        """Inputs over several devices run the program partitioned for their layouts."""
        if self._spmd is None or layouts is None or all(s is None for s in layouts):
            return self
        from plax_xla.spmd import PartitionedView
        return PartitionedView(self._spmd, tuple(layouts))

    def __call__(self, buffers: Sequence[Any]) -> list:
        if self._check_device:
            dev = self._device
            for b in buffers:  # (an array over several devices has no single device)
                if jl.single_device_of(b) != dev:
                    return self._on_other_device(buffers, None)
        try:
            return jl.execute(self._loaded, buffers, self._handlers)
        except jl.JaxRuntimeError as e:
            return self._on_other_device(buffers, e)

    def _on_other_device(self, buffers, error: Exception | None):
        """Run where the first argument lives, the other arguments moved there; on arrays
        over several devices, partitioned over them."""
        if any(len(jl.devices_of(b)) > 1 for b in buffers):
            if self._spmd is not None:
                return self._spmd(buffers)
            back = self._backend  # gathered (a program without a partitioned variant)
            buffers = [back.put(back.to_numpy(b), None) if len(jl.devices_of(b)) > 1 else b
                       for b in buffers]
        devs = [jl.device_of(b) for b in buffers]
        if error is not None and all(d == self._device for d in devs):
            raise error  # not a placement problem (a deleted buffer, ...)
        target = devs[0]
        moved = [b if d == target else jl.copy_to_device(b, *aval, target)
                 for b, d, aval in zip(buffers, devs, self._in)]
        if target == self._device:
            return jl.execute(self._loaded, moved, self._handlers)
        hit = self._others.get(target)
        if hit is None:
            hit = self._others[target] = self._load(target)
        return jl.execute(hit[0], moved, hit[1])
