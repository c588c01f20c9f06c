"""plax: NumPy-style code traced to a typed IR (the jaxpr), transformed, and run on pluggable
backends. Submodules (`plax.numpy`, `plax.lax`, ...) and plugins load on first use, so
`import plax` stays fast and imports no plugin."""

from __future__ import annotations

import importlib as _importlib

from plax._src.api import (  # noqa: F401
    ShapeDtypeStruct, block_until_ready, default_backend as _default_backend_name,
    device_count, device_get, device_put, devices, eval_shape, local_device_count,
    local_devices, make_jaxpr, print_environment_info, process_count, process_index,
    process_indices)
from plax._src.api import (  # noqa: F401
    copy_to_host_async, effects_barrier, ensure_compile_time_eval, live_arrays)
from plax._src.api import host_count, host_id, host_ids  # noqa: F401  (JAX's old names)
from plax._src.array import Array  # noqa: F401
from plax._src.callback import pure_callback  # noqa: F401
from plax._src.ffi import ffi_call  # noqa: F401
from plax._src.config import config, debug_nans, disable_jit, enable_x64  # noqa: F401
from plax._src.config import (  # noqa: F401  (JAX's configuration context managers)
    allow_f16_reductions, array_garbage_collection_guard, check_tracer_leaks, checking_leaks,
    debug_infs, debug_key_reuse, default_device, default_matmul_precision, default_prng_impl,
    enable_checks, enable_custom_prng, explain_cache_misses, legacy_prng_key, log_compiles,
    make_user_context, no_execution, no_tracing, numpy_dtype_promotion, numpy_rank_promotion,
    thread_guard, threefry_partitionable, transfer_guard,
    transfer_guard_device_to_device, transfer_guard_device_to_host,
    transfer_guard_host_to_device)
from plax._src.core import (  # noqa: F401
    ClosedJaxpr, ConcretizationTypeError, Jaxpr, ShapedArray, UnexpectedTracerError)
from plax._src.core import get_aval as typeof  # noqa: F401  (jax.typeof: a value's aval)
from plax.dtypes import float0  # noqa: F401  (the tangent dtype of integer inputs)
from plax._src.backend import Device, UnsupportedPrimitiveError  # noqa: F401
from plax._src.registry import BackendUnavailableError, clear_caches  # noqa: F401
from plax._src.profiler import named_call, named_scope  # noqa: F401
from plax._src.state import (  # noqa: F401  (mutable array references, as jax's)
    Ref, ds, empty_ref, free_ref, freeze, new_ref)

__version__ = "0.1.0"

_SUBMODULES = {"numpy", "lax", "random", "nn", "tree_util", "extend", "dtypes", "test_util",
               "checkify", "tree", "scipy", "errors", "debug", "ffi",
               "sharding",
               "distributed",
               "experimental",
               "profiler",
               "image",
               "ref",
               "flatten_util", "ops", "typing", "custom_batching", "custom_derivatives",
               "stages", "version", "monitoring", "example_libraries", "dlpack", "export"}


class default_backend:
    """`with plax.default_backend("xla"):` runs the block on that backend;
    `plax.default_backend()` (no argument) returns the current default backend's name."""

    def __new__(cls, name: str | None = None):
        if name is None:
            return _default_backend_name()
        from plax._src.api import default_backend_ctx
        return default_backend_ctx(name)


def __getattr__(name: str):
    if name in ("make_mesh", "P", "NamedSharding", "PartitionSpec", "set_mesh", "reshard",
                "Shard"):  # as jax.make_mesh, jax.P, jax.set_mesh ...
        from plax import sharding
        return getattr(sharding, name)
    if name in ("make_array_from_callback", "make_array_from_single_device_arrays",
                "make_array_from_process_local_data"):
        from plax._src import sharded
        return getattr(sharded, name)
    if name.startswith("__"):  # probes by inspect, pickle, pytest: no reason to load plugins
        raise AttributeError(f"module 'plax' has no attribute '{name}'")
    if name in _SUBMODULES and name in _existing_submodules():
        mod = _importlib.import_module(f"plax.{name}")
        globals()[name] = mod
        return mod
    # names provided by plugins (plax-transforms gives grad, jit, vmap, ...)
    from plax._src import registry
    obj = registry.get_api(name)
    if obj is not None:
        return obj
    raise AttributeError(
        f"module 'plax' has no attribute '{name}'"
        + (". It is provided by the plax-transforms distribution: pip install plax-transforms"
           if name in _TRANSFORM_NAMES else ""))


_TRANSFORM_NAMES = {"grad", "value_and_grad", "jit", "vmap", "pmap", "jvp", "vjp", "linearize",
                    "jacfwd", "jacrev", "hessian", "custom_jvp", "custom_vjp", "checkpoint",
                    "remat", "stop_gradient"}


def _existing_submodules() -> set[str]:
    import importlib.util
    return {n for n in _SUBMODULES if importlib.util.find_spec(f"plax.{n}") is not None}


def __dir__():
    # what `plax.<name>` gives: the public names, the submodules that exist and the plugins'
    # names (loading the plugins: dir() asks for all of them)
    from plax._src import registry
    registry.ensure_plugins_loaded()
    public = {n for n in globals() if not n.startswith("_") and n != "annotations"}
    return sorted(public | _existing_submodules()
                  | {n for n in registry._api if "." not in n})
