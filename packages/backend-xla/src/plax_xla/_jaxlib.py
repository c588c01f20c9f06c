"""The only module of plax that imports jaxlib: PJRT clients, device arrays, compilation and
MLIR verification over jaxlib's private Python surface, which changes between releases. The rest of
plax_xla calls the functions here; differences between jaxlib 0.10 and 0.11 are absorbed here."""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before jaxlib loads: no INFO log lines

import jaxlib  # noqa: E402
import numpy as np  # noqa: E402
from jaxlib import xla_client as xc  # noqa: E402

VERSION: tuple[int, ...] = tuple(int(p) for p in jaxlib.__version__.split(".")[:3]
                                 if p.isdigit())
JaxRuntimeError = getattr(xc._xla, "JaxRuntimeError", RuntimeError)
Device = xc.Device


class Aval:
    """What jaxlib's array constructors read: shape, a NumPy dtype instance and a weak flag."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.weak_type = tuple(shape), np.dtype(dtype), False


# ---------------------------------------------------------------------------------------------
# Clients


def cpu_client(num_devices: int = 1, distributed=None, asynchronous: bool = True):
    """The CPU client; with `distributed` = (runtime client, node id, node count), one of a
    many-process run whose devices span every process, collectives over gloo (TCP). With
    `asynchronous`, an execution too big to run inline goes to a worker thread (a 1000
    element add: ~10 us of CPU instead of ~4); synchronous execution runs on the caller's
    thread (XLA's own intra-op threads still parallelize a large op)."""
    with _client_threads(REPLICATED_DEPTH * int(num_devices)):
        if distributed is None:
            return xc.make_cpu_client(num_devices=int(num_devices),
                                      asynchronous=bool(asynchronous))
        dist, node_id, num_nodes = distributed
        return xc.make_cpu_client(
            distributed_client=dist, node_id=int(node_id), num_nodes=int(num_nodes),
            num_devices=int(num_devices), asynchronous=bool(asynchronous),
            collectives=xc._xla.make_gloo_tcp_collectives(distributed_client=dist))


# Programs with collectives over several CPU devices may overlap this many launches (see
# execute_replicated). The CPU client runs each replica as a task of one fixed pool, and a task
# that has started blocks its thread until every replica of its launch has started (XLA's
# gang scheduling of collectives): with more launches queued than the pool has threads for,
# the threads can all hold replicas of later launches while one of an earlier launch waits
# for a thread, forever (JAX's pmap, which never waits, hangs so within ~20,000 calls of a
# psum over 4 devices here). With at most REPLICATED_DEPTH launches in flight and a pool of
# REPLICATED_DEPTH x devices threads, every replica in flight has a thread.
REPLICATED_DEPTH = 2


@contextlib.contextmanager
def _client_threads(need: int):
    """The CPU client made inside has a pool of at least `need` threads (its size is
    PJRT_NPROC, else NPROC, else the machine's parallelism, read when the client is made)."""
    have = None
    for var in ("PJRT_NPROC", "NPROC"):
        if os.environ.get(var, "").strip().isdigit():
            have = int(os.environ[var])
            break
    if have is None:
        have = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            (os.cpu_count() or 1)
    if have >= need:
        yield
        return
    old = os.environ.get("PJRT_NPROC")
    os.environ["PJRT_NPROC"] = str(need)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PJRT_NPROC", None)
        else:
            os.environ["PJRT_NPROC"] = old


# ---------------------------------------------------------------------------------------------
# Many processes: jaxlib's coordination service (one, in process 0) and a client in each
# process; its key-value store carries plax's own heartbeats. Timeouts are whole seconds.


def has_gloo() -> bool:
    return hasattr(xc._xla, "make_gloo_tcp_collectives")


def distributed_service(bind_address: str, num_nodes: int, heartbeat_timeout: float,
                        shutdown_timeout: float):
    return xc._xla.get_distributed_runtime_service(
        bind_address, int(num_nodes), heartbeat_timeout=_seconds(heartbeat_timeout),
        shutdown_timeout=_seconds(shutdown_timeout))


def distributed_client(address: str, node_id: int, init_timeout: float,
                       heartbeat_timeout: float, shutdown_timeout: float):
    """A client of the service at `address`, not connected yet (`.connect()` blocks until
    every node has connected, and aborts the process after `init_timeout`)."""
    return xc._xla.get_distributed_runtime_client(
        address, int(node_id), init_timeout=_seconds(init_timeout),
        heartbeat_timeout=_seconds(heartbeat_timeout),
        shutdown_timeout=_seconds(shutdown_timeout), use_compression=True)


def _seconds(t: float) -> int:
    return max(1, int(-(-float(t) // 1)))


def _plugin_library(platform: str) -> tuple[str, str] | None:
    """(PJRT plugin name, library path) of an installed plugin for `platform`, found without
    importing jax: PLAX_XLA_PJRT_PLUGIN=/path/lib.so, jax-cuda*-plugin, or libtpu."""
    explicit = os.environ.get("PLAX_XLA_PJRT_PLUGIN")
    if explicit:
        return ("cuda" if platform == "gpu" else platform), explicit
    if platform == "gpu":
        for mod, lib in (("jax_plugins.xla_cuda13", "xla_cuda_plugin.so"),
                         ("jax_plugins.xla_cuda12", "xla_cuda_plugin.so")):
            path = _package_file(mod, lib)
            if path:
                return "cuda", path
    if platform == "tpu":
        path = _package_file("libtpu", "libtpu.so")
        if path:
            return "tpu", path
    return None


def _package_file(module: str, filename: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)  # finds, does not run, the package
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        f = Path(root) / filename
        if f.exists():
            return str(f)
    return None


def plugin_available(platform: str) -> bool:
    return _plugin_library(platform) is not None


def plugin_client(platform: str, distributed=None):
    """A PJRT C-API client for 'gpu' or 'tpu' through an installed plugin; a clear error when
    none is installed or it fails to start (no device, driver too old). With `distributed` =
    (runtime client, node id, node count, visible device ids or None), one process's client of
    a many-process run (as JAX makes it)."""
    found = _plugin_library(platform)
    if found is None:
        hint = {"gpu": "pip install jax-cuda13-plugin (or jax-cuda12-plugin)",
                "tpu": "pip install libtpu"}.get(platform, "")
        raise RuntimeError(f"no PJRT plugin for platform '{platform}' is installed"
                           + (f"; {hint}" if hint else "")
                           + ", or set PLAX_XLA_PJRT_PLUGIN to a plugin library")
    name, path = found
    try:
        if not xc.pjrt_plugin_loaded(name):
            if name == "cuda":
                _preload_nvidia_libraries()
            c_api = xc.load_pjrt_plugin_dynamically(name, path)
            if name == "cuda":
                _register_cuda_extensions(c_api)
        if hasattr(xc, "pjrt_plugin_initialized") and not xc.pjrt_plugin_initialized(name):
            xc.initialize_pjrt_plugin(name)
        options = xc.generate_pjrt_gpu_plugin_options() if name == "cuda" else {}
        if distributed is None:
            return xc.make_c_api_client(name, options)
        dist, node_id, num_nodes, visible = distributed
        options = {**options, "node_id": int(node_id), "num_nodes": int(num_nodes)}
        if visible is not None:
            options["visible_devices"] = [int(i) for i in visible]
        return xc.make_c_api_client(name, options, dist)
    except Exception as e:  # noqa: BLE001 - reported with the plugin's path
        raise RuntimeError(f"PJRT plugin '{name}' ({path}) failed to start: "
                           f"{type(e).__name__}: {e}") from e


# CUDA's libraries as the nvidia-* wheels install them (CUDA 13: nvidia/cu13/lib; 12: one folder
# per library), loaded globally before the plugin so that its own lookups find these copies
_NVIDIA_LIBRARIES = ("libcudart.so.*", "libnvrtc.so.*", "libcublasLt.so.*", "libcublas.so.*",
                     "libnccl.so.*", "libcupti.so.*", "libcusparse.so.*", "libcusolver.so.*",
                     "libcufft.so.*", "libnvshmem_host.so.*", "libcudnn.so.*")


def _preload_nvidia_libraries() -> list[str]:
    """Load the CUDA libraries of the installed nvidia-* wheels (as jax_plugins.xla_cuda13
    does); one that is missing or fails is left to the system's search path."""
    import ctypes
    spec = importlib.util.find_spec("nvidia") if "nvidia" not in sys.modules else None
    roots = list(getattr(sys.modules.get("nvidia"), "__path__", None)
                 or (spec.submodule_search_locations if spec else None) or [])
    loaded = []
    for pattern in _NVIDIA_LIBRARIES:
        for root in roots:
            for lib in sorted(Path(root).glob(f"*/lib/{pattern}")):
                try:
                    ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                    loaded.append(str(lib))
                except OSError:
                    continue
    return loaded


def _cuda_plugin_module(sub: str):
    """Submodule `sub` of the installed jax-cuda13/12 plugin package (its FFI kernels), or None."""
    for pkg in ("jax_cuda13_plugin", "jax_cuda12_plugin"):
        try:
            return importlib.import_module(f"{pkg}.{sub}")
        except ImportError:
            continue
    return None


def _register_cuda_extensions(c_api) -> None:
    """What JAX's CUDA plugin does when it starts: hand XLA's custom-call registrations for
    'CUDA' to the plugin (so plax.ffi targets and the kernels below reach its compiler), then
    register the plugin's own FFI handlers and jaxlib's GPU kernels: cuSOLVER and cuSPARSE
    (lax.linalg's GPU lowerings), the hybrid host-LAPACK kernels (eig, pivoted QR), linalg."""
    import functools
    ext = _cuda_plugin_module("cuda_plugin_extension")
    if ext is None:
        return
    xc.register_custom_type_handler("CUDA", functools.partial(ext.register_custom_type, c_api))
    xc.register_custom_call_handler("CUDA",
                                    functools.partial(ext.register_custom_call_target, c_api))
    for name, value in ext.ffi_types().items():
        xc.register_custom_type(name, value, platform="CUDA")
    for name, value in ext.ffi_handlers().items():
        xc.register_custom_call_target(name, value, platform="CUDA", api_version=1)
    from jaxlib import gpu_linalg, gpu_solver, gpu_sparse
    gpu_solver.initialize_hybrid_kernels()
    partitionable = set()
    for mod in (gpu_solver, gpu_sparse, gpu_linalg):
        for name, capsule, api in mod.registrations()["CUDA"]:
            xc.register_custom_call_target(name, capsule, platform="CUDA", api_version=api)
        partitionable.update(mod.batch_partitionable_targets())
    if hasattr(xc, "register_custom_call_as_batch_partitionable"):
        for name in sorted(partitionable):
            xc.register_custom_call_as_batch_partitionable(name)


# ---------------------------------------------------------------------------------------------
# Shardings and device arrays. Arrays carry a C++ GSPMDSharding: with it an execution's argument
# checks stay in C++ (~4 us a call); Python-level shardings cost 35-115 us.

_single: dict = {}


def single_sharding(dev):
    s = _single.get(dev)
    if s is None:
        s = _single[dev] = xc.GSPMDSharding((dev,), xc.HloSharding.replicate())
    return s


def replicated_sharding(devs: Sequence[Any]):
    return xc.GSPMDSharding(tuple(devs), xc.HloSharding.replicate())


def device_put(x: np.ndarray, dev):
    """A host array copied to `dev` (copied now: later writes to `x` do not reach the device)."""
    return xc.batched_device_put(
        Aval(x.shape, x.dtype), single_sharding(dev), [x], [dev], True, False,
        xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL, enable_x64=True)


def put_replicated(x, aval_shape, dtype, devs: Sequence[Any], local: Sequence[Any] = None):
    """One array holding a copy of `x` (a host array or a device array) on each of `devs`;
    across processes, this process supplies the copies on its `local` devices alone."""
    local = devs if local is None else local
    return xc.batched_device_put(
        Aval(aval_shape, dtype), replicated_sharding(devs), [x] * len(local), list(local), True,
        False, xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL, enable_x64=True)


def gspmd_sharding(devs: Sequence[Any], hlo_text: str):
    """A new jaxlib sharding of a global array over `devs` (the partitions, in order) laid out
    as the HLO sharding text says ("{devices=[4,1]0,1,2,3}", "{replicated}"). Arrays keep the
    object they were made with: the backend knows their plax sharding by its identity."""
    return xc.GSPMDSharding(tuple(devs), xc.HloSharding.from_string(hlo_text))


def put_global(shards: Sequence[Any], devs: Sequence[Any], sharding, shape, dtype):
    """One global array from its per-device pieces (host arrays, each its own copy, or
    one-device arrays), `shards[i]` on `devs[i]`."""
    return xc.batched_device_put(
        Aval(shape, dtype), sharding, list(shards), list(devs), True, False,
        xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL, enable_x64=True)


def assemble(shards: Sequence[Any], sharding, shape, dtype):
    """One global array made of one-device arrays (this process's pieces, in the sharding's
    device order), without copying them."""
    return xc.ArrayImpl(Aval(shape, dtype), sharding, list(shards), True, True)


def single_device_of(arr):
    """The device of a one-device array; None for an array over several devices."""
    try:
        devs = arr._sharding._internal_device_list
    except AttributeError:
        devs = arr._sharding._devices
    return devs[0] if len(devs) == 1 else None


def devices_of(arr) -> list:
    """The devices of a (global) array, in its sharding's order."""
    try:
        return list(arr._sharding._internal_device_list)
    except AttributeError:
        return list(arr._sharding._devices)


def shards_of(arr) -> list:
    """The one-device arrays of a global array (this process's), in device order (jaxlib
    would import jax to decorate their shardings: blocked)."""
    with _without_jax_import():
        return list(arr._arrays)


def sharding_of(arr):
    return arr._sharding


def output_sharding_texts(loaded) -> list[str]:
    """The HLO sharding text of each output of a partitioned executable."""
    return [str(xc.HloSharding.from_proto(p)) for p in loaded.get_output_shardings()]


def hlo_tiles(text: str) -> tuple:
    """(tile dims, device order, last dim is replication) of an HLO sharding text; ((), (),
    False) when replicated."""
    hs = xc.HloSharding.from_string(text)
    if hs.is_replicated() or hs.is_maximal():
        return (), (), False
    return (tuple(hs.tile_assignment_dimensions()), tuple(hs.tile_assignment_devices()),
            bool(hs.replicate_on_last_tile_dim()))


def copy_to_device(arr, shape, dtype, dev):
    """A single-device array copied (device to device) to `dev`."""
    return xc.batched_device_put(
        Aval(shape, dtype), single_sharding(dev), [arr], [dev], True, False,
        xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL, enable_x64=True)


def to_numpy(arr) -> np.ndarray:
    """The host value (read-only). Without jax loaded, jaxlib arrays have no __array__ and the
    buffer protocol cannot describe bfloat16, so ask jaxlib for the NumPy array directly."""
    read = getattr(arr, "_single_device_array_to_np_array_did_copy", None)
    if read is None:  # a jaxlib without it: the buffer protocol (all but bfloat16)
        return np.asarray(arr)
    with _without_jax_import():
        return read()[0]


def copy_to_host_async(arr) -> None:
    """Start the device-to-host copy of a jaxlib array (each shard's when it has several)."""
    shards = arr._arrays if len(devices_of(arr)) > 1 else [arr]
    for a in shards:
        a._copy_single_device_array_to_host_async()


def device_of(arr):
    try:
        return arr._sharding._internal_device_list[0]
    except AttributeError:  # a sharding class without the C++ device list
        return arr._sharding._devices[0]


# ---------------------------------------------------------------------------------------------
# Compilation and execution


def _options(devices: Sequence[Any], num_replicas: int, num_partitions: int = 1,
             num_outputs: int = 0):
    opts = xc.CompileOptions()
    if num_partitions > 1:  # one SPMD program partitioned by XLA over `devices`
        opts.num_replicas = 1
        opts.num_partitions = num_partitions
        b = opts.executable_build_options
        b.use_spmd_partitioning = True
        b.use_shardy_partitioner = False  # plax writes GSPMD `mhlo.sharding` attributes
        b.allow_spmd_sharding_propagation_to_output = [True] * max(num_outputs, 1)
        opts.device_assignment = xc.DeviceAssignment.create(
            np.array([[d.id for d in devices]], dtype=np.int32))
        return opts
    opts.num_replicas = num_replicas
    # (replicas, partitions); without it a one-device program is placed on device 0
    opts.device_assignment = xc.DeviceAssignment.create(
        np.array([[d.id] for d in devices], dtype=np.int32))
    return opts


def compile_partitioned(client, text: str, devices: Sequence[Any], num_outputs: int):
    """Compile a module whose values carry `mhlo.sharding` attributes: XLA's SPMD partitioner
    splits it over `devices` (num_partitions = len(devices)); unspecified output shardings are
    propagated."""
    opts = _options(devices, 1, len(devices), num_outputs)
    try:
        return client.compile_and_load(text, xc.DeviceList(tuple(devices)), opts)
    except Exception:
        verify(text)
        raise


def compile(client, text: str, devices: Sequence[Any], num_replicas: int = 1,
            host_callbacks: Sequence[Any] = ()):
    """Compile StableHLO text. XLA parses and verifies it itself; only when that fails is the
    module verified here too, for a diagnostic that names the offending lines (MlirError).
    Verifying every module up front cost ~1 ms a compile and ~40 ms for the first.

    `host_callbacks`: the Python functions the module's `xla_ffi_python_cpu_callback` custom
    calls run (attribute `index`: the position here; numpy arrays in, a tuple of numpy arrays of
    the declared shapes and dtypes out). jaxlib accepts them only with a parsed MLIR module (the
    text overloads of compile_and_load take none)."""
    try:
        if host_callbacks:
            with _mlir_lock:
                ir, ctx = _mlir_context()
                with ctx, ir.Location.unknown():
                    module = ir.Module.parse(text)
                    return client.compile_and_load(
                        module, xc.DeviceList(tuple(devices)), _options(devices, num_replicas),
                        host_callbacks=list(host_callbacks))
        return client.compile_and_load(text, xc.DeviceList(tuple(devices)),
                                       _options(devices, num_replicas))
    except Exception:
        verify(text)  # raises MlirError when the module itself is wrong
        raise


def compile_options_key(devices: Sequence[Any], num_replicas: int = 1, num_partitions: int = 1,
                        num_outputs: int = 0) -> bytes:
    """The serialized CompileOptions `compile` (or `compile_partitioned`, with partitions)
    passes (replicas, partitions, device assignment, build options): part of a persistent
    cache entry's key."""
    return _compile_options(devices, num_replicas, num_partitions, num_outputs
                            ).SerializeAsString()


def _compile_options(devices, num_replicas: int, num_partitions: int, num_outputs: int):
    if num_partitions == 1:
        return _options(devices, num_replicas)
    return _options(devices, num_replicas, num_partitions, num_outputs)


def platform_version(client) -> str:
    """The PJRT platform's own version string (the CUDA/TPU runtime on a plugin)."""
    return f"{client.platform} {getattr(client, 'platform_version', '')}"


def serialize(client, loaded) -> bytes:
    return bytes(client.serialize_executable(loaded))


def deserialize(client, blob: bytes, devices: Sequence[Any], num_replicas: int = 1,
                num_partitions: int = 1, num_outputs: int = 0):
    return client.deserialize_executable(
        blob, xc.DeviceList(tuple(devices)),
        _compile_options(devices, num_replicas, num_partitions, num_outputs))


_SKIP_CHECKS: bool | None = None


def result_handler(shape, dtype, sharding):
    global _SKIP_CHECKS
    if _SKIP_CHECKS is None:
        try:
            h = xc.array_result_handler(Aval(shape, dtype), sharding, True, _skip_checks=True)
            _SKIP_CHECKS = True
            return h
        except TypeError:
            _SKIP_CHECKS = False
    if _SKIP_CHECKS:
        return xc.array_result_handler(Aval(shape, dtype), sharding, True, _skip_checks=True)
    return xc.array_result_handler(Aval(shape, dtype), sharding, True)


def _unimplemented(what: str, call):
    """`call()`, with the runtime's UNIMPLEMENTED answer as NotImplementedError (as JAX's
    Compiled methods raise it)."""
    try:
        return call()
    except JaxRuntimeError as e:
        if str(e).startswith("UNIMPLEMENTED"):
            raise NotImplementedError(f"{what} unsupported on this XLA platform: {e}") from e
        raise


def compiled_text(loaded) -> str:
    """The optimized HLO of a compiled executable (what XLA runs), as JAX's Compiled.as_text."""
    return _unimplemented("the compiled program's text", loaded.get_hlo_text)


def cost_analysis(loaded) -> dict:
    """XLA's cost estimates of a compiled executable: "flops", "transcendentals", "bytes
    accessed" (and per operand/output), "utilization..." (a dict of floats)."""
    return dict(_unimplemented("cost analysis", loaded.cost_analysis))


def memory_analysis(loaded):
    """XLA's CompiledMemoryStats: argument, output, alias, temporary and generated code
    sizes in bytes (host_* for host memory)."""
    return _unimplemented("memory analysis", loaded.get_compiled_memory_stats)


def hlo_computation(text: str):
    """The XlaComputation (HLO) of a StableHLO module's text (`Lowered.compiler_ir("hlo")`)."""
    return xc._xla.mlir.mlir_module_to_xla_computation(text, use_tuple_args=False,
                                                       return_tuple=False)


def hlo_cost_analysis(client, text: str) -> dict:
    """XLA's cost estimates of a StableHLO module before compilation (`Lowered.cost_analysis`)."""
    module = hlo_computation(text).as_hlo_module()
    return dict(_unimplemented("cost analysis", lambda: xc._xla.hlo_module_cost_analysis(
        client, module)))


def parse_module(text: str):
    """The module as a jaxlib.mlir ir.Module (`Lowered.compiler_ir("stablehlo")`), in plax's
    MLIR context."""
    with _mlir_lock:
        ir, ctx = _mlir_context()
        with ctx:
            return ir.Module.parse(text)


def execute(loaded, args: Sequence[Any], handlers: Sequence[Any]) -> list:
    """Run a single-device executable: one array per parameter in, one per result out."""
    return loaded.execute_sharded(args).consume_with_handlers(handlers)


def runner(loaded, handlers: Sequence[Any], first_only: bool = False, keepalive=None):
    """`execute` bound to one executable: the hot path of a jitted call or an eager op (one
    Python frame). With `first_only`, the first result alone instead of the list. `keepalive`
    (the executable's host callbacks) lives as long as the runner."""
    execute_sharded = loaded.execute_sharded
    if first_only:
        def run_first(args):
            return execute_sharded(args).consume_with_handlers(handlers)[0]
        return run_first

    if keepalive:
        def run(args, _keep=keepalive):
            return execute_sharded(args).consume_with_handlers(handlers)
    else:
        def run(args):
            return execute_sharded(args).consume_with_handlers(handlers)
    # the same two calls, for jit's C hot path (no Python frame of its own)
    run.launch = (execute_sharded, "consume_with_handlers", handlers)
    return run


_import_lock = threading.Lock()


# Modules jaxlib's C++ imports on its own when it can: reading an array to NumPy imports
# `jax.core` (to ask about transfer guards), splitting a multi-device result imports
# `jax._src.sharding_impls` (to decorate the shardings it makes). Either import would load all of
# jax (~120 ms, and plax never imports jax); with the names blocked jaxlib takes its fallback.
_JAX_MODULES = ("jax.core", "jax._src.sharding_impls")


@contextlib.contextmanager
def _without_jax_import():
    with _import_lock:
        if "jax" in sys.modules:  # the user loaded jax: nothing to avoid
            yield
            return
        blocked = [k for k in _JAX_MODULES if k not in sys.modules]
        for k in blocked:
            sys.modules[k] = None  # an import of it raises ImportError without importing jax
        try:
            yield
        finally:
            for k in blocked:
                if k in sys.modules and sys.modules[k] is None:
                    del sys.modules[k]


_in_flight: collections.deque = collections.deque()  # launches of replicated programs, oldest first
_replicated_lock = threading.Lock()


def execute_replicated(loaded, args: Sequence[Any], handlers, wait: bool = False) -> list:
    """Run a replicated or pmapped executable on arrays over its devices; its outputs through
    `handlers` (arrays over the devices), returned without waiting for them. At most
    REPLICATED_DEPTH such launches are in flight: this one first waits until the launches
    before the previous one have finished on every device (the next program's inputs are
    prepared while the last one runs, yet never more replicas wait than the CPU client has
    threads for: see REPLICATED_DEPTH). With `wait`, this launch is waited for too (many
    processes: a lost peer is then found inside the caller's guard)."""
    with _replicated_lock:
        while len(_in_flight) >= REPLICATED_DEPTH:
            for a in _in_flight.popleft():
                try:
                    a.block_until_ready()
                except Exception:  # noqa: BLE001 - deleted since (Array.delete): nothing to wait on
                    pass
        outs = loaded.execute_sharded(args).consume_with_handlers(handlers)
        if wait:
            for o in outs:
                o.block_until_ready()
        else:
            _in_flight.append(outs)
    return outs


def block_until_ready(arr) -> None:
    arr.block_until_ready()


# ---------------------------------------------------------------------------------------------
# MLIR: parse and verify StableHLO text (for diagnostics, and the pretty-printed module)


class MlirError(ValueError):
    """The generated module failed to parse or verify (a bug in a lowering rule)."""


_mlir = None
_mlir_lock = threading.Lock()


def _mlir_context():
    global _mlir
    if _mlir is None:
        from jaxlib.mlir import ir
        from jaxlib.mlir._mlir_libs import _jax_mlir_ext
        from jaxlib.mlir.dialects import chlo, func, stablehlo  # noqa: F401 (op classes)
        registry = ir.DialectRegistry()
        _jax_mlir_ext.register_dialects(registry)  # func, arith, ...: else "Dialect not found"
        ctx = ir.Context()
        ctx.append_dialect_registry(registry)
        ctx.load_all_available_dialects()
        stablehlo.register_dialect(ctx)
        chlo.register_dialect(ctx)
        _mlir = (ir, ctx)
    return _mlir


def verify(text: str, pretty: bool = False, debug_info: bool = False) -> str | None:
    """Parse and verify `text`; raise MlirError with the diagnostics and the offending lines.
    With `pretty`, return the module printed in MLIR's custom op syntax (with `debug_info`,
    its locations too: the named_scope paths)."""
    with _mlir_lock:
        ir, ctx = _mlir_context()
        with ctx, ir.Location.unknown():
            try:
                module = ir.Module.parse(text)
            except ir.MLIRError as e:
                raise MlirError(_describe(str(e), text)) from None
            if pretty and debug_info:
                return module.operation.get_asm(enable_debug_info=True)
            return str(module) if pretty else None


def _describe(message: str, text: str) -> str:
    """The MLIR diagnostic plus the source lines it points at ("-":LINE:COL)."""
    import re
    lines = text.splitlines()
    shown = []
    for m in re.finditer(r'"-":(\d+):(\d+)', message):
        n = int(m.group(1))
        if 1 <= n <= len(lines) and n not in shown:
            shown.append(n)
    context = "\n".join(f"  {n:5d} | {lines[n - 1].strip()[:300]}" for n in shown[:5])
    return " ".join(message.split()) + ("\n" + context if context else "")


def describe_environment() -> str:
    return f"jaxlib {jaxlib.__version__}"


# ---------------------------------------------------------------------------------------------
# LAPACK: the FFI kernels jaxlib ships for the CPU (jaxlib/lapack.py), registered with XLA once

_lapack_lock = threading.Lock()
_lapack_ready = False


def lapack_target(fn_base: str, dtype) -> str:
    """The custom-call target of LAPACK routine `fn_base` (e.g. "potrf_ffi") for `dtype`
    ("lapack_spotrf_ffi" for float32). The first call initializes jaxlib's LAPACK (it binds
    SciPy's; without that a compiled call crashes when run) and registers every kernel with
    the CPU platform, as batch-partitionable."""
    global _lapack_ready
    from jaxlib import lapack
    if not _lapack_ready:
        with _lapack_lock:
            if not _lapack_ready:
                for name, capsule, api in lapack.registrations()["cpu"]:
                    xc.register_custom_call_target(name, capsule, platform="cpu",
                                                   api_version=api)
                    if api == 1 and hasattr(xc, "register_custom_call_as_batch_partitionable"):
                        xc.register_custom_call_as_batch_partitionable(name)
                _lapack_ready = True
    return lapack.prepare_lapack_call(fn_base, np.dtype(dtype))


# ---------------------------------------------------------------------------------------------
# FFI targets registered through plax.ffi.register_ffi_target

_ffi_registered: set = set()


def register_ffi_targets(targets: dict) -> None:
    """Hand XLA the targets {(name, platform): (capsule, api_version)} not handed yet."""
    with _lapack_lock:
        for (name, platform), (capsule, api) in targets.items():
            if (name, platform) not in _ffi_registered:
                xc.register_custom_call_target(name, capsule, platform=platform,
                                               api_version=api)
                _ffi_registered.add((name, platform))


def has_custom_call_target(name: str, platform: str) -> bool:
    """Whether XLA knows target `name` for `platform` (jaxlib's own and registered ones, and
    those xla_client holds until the platform's client is made)."""
    xla_name = xc.xla_platform_names.get(platform, platform)
    try:
        if name in xc.custom_call_targets(xla_name):
            return True
        return any(n == name for n, *_ in getattr(xc, "_custom_callback", {}).get(xla_name, []))
    except Exception:  # noqa: BLE001 - a jaxlib without the query: let the compiler decide
        return True


# ---------------------------------------------------------------------------------------------
# StableHLO portable artifacts (plax.export): a module as versioned VHLO bytecode, and back


def _portable_target() -> str:
    """The StableHLO version modules are written for: one at least 4 weeks old (as JAX's
    export), so a consumer updated monthly reads them; the current one where jaxlib lacks it."""
    from jaxlib.mlir.dialects import stablehlo
    try:
        return stablehlo.get_version_from_compatibility_requirement(
            stablehlo.StablehloCompatibilityRequirement.WEEK_4)
    except AttributeError:
        return stablehlo.get_current_version()


def serialize_portable(text: str) -> bytes:
    """The module `text` (verified first: MlirError naming its lines) as a StableHLO portable
    artifact."""
    verify(text)
    with _mlir_lock:
        return bytes(xc._xla.mlir.serialize_portable_artifact(text, _portable_target()))


def _load_portable(blob: bytes):
    ir, ctx = _mlir_context()
    try:
        return xc._xla.mlir.deserialize_portable_artifact(bytes(blob), ctx)
    except Exception as e:  # noqa: BLE001 - jaxlib raises RuntimeError/ValueError by release
        raise MlirError(f"not a readable StableHLO portable artifact: {e}") from None


def portable_text(blob: bytes, generic: bool = False) -> str:
    """The module of a portable artifact as text (MLIR's custom syntax, or its generic op
    syntax with `generic`)."""
    with _mlir_lock:
        ir, ctx = _mlir_context()
        with ctx, ir.Location.unknown():
            module = _load_portable(blob)
            return module.operation.get_asm(print_generic_op_form=generic)


def portable_functions(blob: bytes, rename) -> tuple[str, list[str]]:
    """The functions of a portable artifact, to be embedded in another module: each renamed
    `rename(name)` (its calls and other symbol uses updated) and made private; returns (the
    new name of its `main`, the functions' texts in generic op syntax)."""
    with _mlir_lock:
        ir, ctx = _mlir_context()
        with ctx, ir.Location.unknown():
            module = _load_portable(blob)
            ops = list(module.body.operations)
            for op in ops:
                if op.operation.name != "func.func":
                    raise MlirError(f"an exported module holds '{op.operation.name}' besides "
                                    "its functions: it cannot be called from another program")
            names = [ir.StringAttr(op.attributes["sym_name"]).value for op in ops]
            new = {n: rename(n) for n in names}
            for n in names:
                ir.SymbolTable.replace_all_symbol_uses(n, new[n], module.operation)
            for op, n in zip(ops, names):
                op.attributes["sym_name"] = ir.StringAttr.get(new[n])
                op.attributes["sym_visibility"] = ir.StringAttr.get("private")
            if "main" not in new:
                raise MlirError("an exported module has no function 'main'")
            return new["main"], [op.operation.get_asm(print_generic_op_form=True)
                                 for op in ops]
