"""The xla backend: buffers are jaxlib device arrays that stay on their device; closed jaxprs and
single primitives are lowered to StableHLO, verified, compiled once by PJRT and cached.

`stats` counts compilations, executable-cache hits and host transfers, so tests (and users) can
check that a jitted loop compiles once and never copies to the host."""

from __future__ import annotations

import collections
import warnings
from typing import Any, Sequence

import numpy as np

from plax.extend import config
from plax.extend import Backend, Device, Executable, UnsupportedPrimitiveError, execution
from plax.extend import registry as plax_registry
from plax_xla import _jaxlib as jl
from plax.lax import debug_callback_p, pure_callback_p
from plax_xla import compile_cache
from plax_xla.lowering import lower_closed_jaxpr, lower_primitive, take_host_callbacks

# run eagerly through the host (as one call each), compiled only inside a jitted program
_HOST_PRIMITIVES = frozenset({pure_callback_p, debug_callback_p})

_EAGER_CACHE_LIMIT = 8192


def _make_client(platform: str, cpu_devices: int):
    """(client, platform). 'auto' takes an installed GPU (then TPU) plugin if it starts."""
    if platform in ("cpu", "auto"):
        if platform == "auto":
            for p in ("gpu", "tpu"):
                if jl.plugin_available(p):
                    try:
                        return jl.plugin_client(p), p
                    except RuntimeError as e:
                        warnings.warn(f"plax xla backend: {e}; using the CPU", RuntimeWarning,
                                      stacklevel=3)
        asynchronous = _option("xla_cpu_async_dispatch", None)
        if asynchronous is None:  # several devices (pmap): replicas must run concurrently
            asynchronous = cpu_devices > 1
        return jl.cpu_client(cpu_devices, asynchronous), "cpu"
    if platform in ("gpu", "cuda"):
        return jl.plugin_client("gpu"), "gpu"
    if platform == "tpu":
        return jl.plugin_client("tpu"), "tpu"
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
        self._client, self.platform = _make_client(platform, cpu_devices)
        natives = list(self._client.local_devices())
        self._devices = [Device("xla", self.platform, d.id, d.device_kind, native=d)
                         for d in natives]
        self._by_native = {d.native: d for d in self._devices}
        self._default = natives[0]
        self._lowering = plax_registry.lowering_table("xla")
        self._compositions = plax_registry.rules("composition")
        self._eager: dict = {}
        self._pmap_cache: dict = {}
        self._pmap_last = None  # the last pmap call's (signature, program, avals, devices)
        self.stats: collections.Counter = collections.Counter()

    # --- devices and data movement ---------------------------------------------------------
    def devices(self) -> list[Device]:
        return self._devices

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
        return jl.device_put(x, self.native_device(device))

    def to_numpy(self, buf) -> np.ndarray:
        self.stats["device_to_host"] += 1
        return jl.to_numpy(buf)

    def buffer_device(self, buf) -> Device:
        return self._by_native[jl.device_of(buf)]

    def block_until_ready(self, buf) -> None:
        jl.block_until_ready(buf)

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
        if exe.runner is exe:  # several devices: the executable checks placement
            return exe if prim.multiple_results else lambda buffers: exe(buffers)[0]
        return jl.runner(exe._loaded, exe._handlers, first_only=not prim.multiple_results)

    def _eager_executable(self, prim, avals_in, avals_out, params) -> "XlaExecutable":
        """The compiled program of one primitive, cached by shapes, dtypes and params (weak
        types share a program)."""
        try:
            key = (prim, tuple([(a.shape, a.dtype) for a in avals_in]), tuple(params.items()))
            exe = self._eager.get(key)
        except TypeError:  # unhashable params: compile without caching
            key, exe = None, None
        if exe is None:
            outs = list(avals_out) if prim.multiple_results else [avals_out]
            exe = self.compile_text(lower_primitive(prim, avals_in, outs, params), avals_in,
                                    outs)
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
                donate_argnums: Sequence[int] = ()) -> "XlaExecutable":
        self.check_supported(closed_jaxpr)  # fails naming the primitives, before any work
        text, aliased = lower_closed_jaxpr(closed_jaxpr, "jit", donated=donate_argnums)
        exe = self.compile_text(text, closed_jaxpr.in_avals, closed_jaxpr.out_avals, device)
        exe.donated = tuple(aliased)
        return exe

    def compile_text(self, text: str, in_avals, out_avals, device: Device | None = None
                     ) -> "XlaExecutable":
        """Compile a single-device module (a malformed one raises MlirError naming its lines)."""
        return XlaExecutable(self, text, in_avals, out_avals, self.native_device(device))

    def _compile_loaded(self, text: str, natives: Sequence[Any], num_replicas: int = 1,
                        host_callbacks: Sequence[Any] = ()):
        """Compile, or load from the persistent compilation cache when a directory is
        configured (`compilation_cache_dir`); `stats` counts "compiles" and "cache_hits". A
        module calling host functions is never cached (they are Python objects of this
        process)."""
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
        digest = compile_cache.key(self._client, self.platform, text, natives, num_replicas)
        path = compile_cache.entry_path(root, digest)
        payload = compile_cache.read(path, digest)
        if payload is not None:
            try:
                loaded = jl.deserialize(self._client, payload, natives, num_replicas)
                self.stats["cache_hits"] += 1
                return loaded
            except Exception:  # noqa: BLE001 - an entry the runtime rejects: compile afresh
                pass
        self.stats["compiles"] += 1
        loaded = jl.compile(self._client, text, natives, num_replicas)
        compile_cache.write(path, digest, jl.serialize(self._client, loaded))
        return loaded

    def clear_caches(self) -> None:
        """Forget the in-memory executables; the persistent cache on disk stays (as JAX's)."""
        self._eager.clear()
        self._pmap_cache.clear()
        self._pmap_last = None

    def lower_text(self, closed_jaxpr) -> str:
        """The StableHLO module of `closed_jaxpr`, as MLIR prints it."""
        text, _ = lower_closed_jaxpr(closed_jaxpr, "jit")
        take_host_callbacks(text)  # not compiled: nothing to keep
        return jl.verify(text, pretty=True)

    def pmap_execute(self, fun, args, kwargs, **options):
        from plax_xla.pmap import pmap_execute
        return pmap_execute(self, fun, args, kwargs, **options)

    def __repr__(self):
        return f"<plax backend xla ({self.platform}, {len(self._devices)} devices, " \
               f"{jl.describe_environment()})>"


def _option(name: str, default):
    try:
        return getattr(config, name)
    except AttributeError:  # the plugin hook defines these options; a bare XlaBackend() too
        return default


class XlaExecutable(Executable):
    """A compiled module; a call runs it on the arguments' device (a few microseconds when
    they are on the device it was compiled for; another device compiles it once more)."""

    __slots__ = ("_backend", "text", "_in", "_out", "_loaded", "_device", "_handlers",
                 "_others", "_check_device", "donated", "runner", "host_callbacks")

    def __init__(self, backend: XlaBackend, text: str, in_avals, out_avals, native):
        self._backend, self.text = backend, text
        # the host functions the program calls: alive as long as the executable
        self.host_callbacks = take_host_callbacks(text)
        self._in = [(tuple(a.shape), a.dtype) for a in in_avals]
        self._out = [(tuple(a.shape), a.dtype) for a in out_avals]
        self._loaded, self._handlers = self._load(native)
        self._device = native
        self._others: dict = {}
        # with several devices, the first argument's device picks where to run (checked up
        # front: a launch that fails on placement also prints an error line from the runtime)
        self._check_device = len(backend._devices) > 1
        self.donated: tuple[int, ...] = ()
        # what jit calls: with one device, the launch itself, with no checks around it
        self.runner = self if self._check_device else \
            jl.runner(self._loaded, self._handlers, keepalive=self.host_callbacks)

    def _load(self, native):
        loaded = self._backend._compile_loaded(self.text, [native],
                                               host_callbacks=self.host_callbacks)
        sharding = jl.single_sharding(native)
        return loaded, [jl.result_handler(s, d, sharding) for s, d in self._out]

    def __call__(self, buffers: Sequence[Any]) -> list:
        if self._check_device:
            dev = self._device
            for b in buffers:
                if jl.device_of(b) != dev:
                    return self._on_other_device(buffers, None)
        try:
            return jl.execute(self._loaded, buffers, self._handlers)
        except jl.JaxRuntimeError as e:
            return self._on_other_device(buffers, e)

    def _on_other_device(self, buffers, error: Exception | None):
        """Run where the first argument lives, the other arguments moved there."""
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
