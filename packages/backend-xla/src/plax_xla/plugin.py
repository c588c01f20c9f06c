"""The plugin hook of plax-backend-xla: the lowering rule of every primitive it covers, its
config options and the backend factory. Importing or registering this module leaves jaxlib
unloaded; the factory loads it, the first time the backend is used."""

from __future__ import annotations

import importlib

from plax.hookspecs import hookimpl

_RULE_MODULES = ("lower_elementwise", "lower_structural", "lower_reductions", "lower_slicing",
                 "lower_sorting", "lower_linalg", "lower_calls", "lower_control_flow",
                 "lower_fft", "lower_convolution", "lower_windowed", "lower_lapack",
                 "lower_special", "lower_callback", "lower_ffi",
                 "lower_sharding", "lower_shard_map", "lower_staging",
                 "lower_trig", "lower_rng", "lower_export")


def _define_options() -> None:
    from plax.extend import config
    config.define("xla_platform", "auto", lambda s: s.strip().lower() or "auto",
                  "platform of the xla backend: cpu, gpu, tpu or auto (an installed GPU/TPU "
                  "PJRT plugin if it starts, else the CPU); read when the backend is created",
                  env="PLAX_XLA_PLATFORM")
    config.define("compilation_cache_dir", None, _cache_dir,
                  "persistent compilation cache: directory where the xla backend keeps "
                  "compiled executables between runs, keyed by program, compile options, jaxlib "
                  "version and device kind (off when unset, as in JAX; load executables only "
                  "from a directory you trust)",
                  env="PLAX_COMPILATION_CACHE_DIR", validate=_check_cache_dir)
    config.define("xla_cache_dir", None, _cache_dir,
                  "older name of compilation_cache_dir (used when that one is unset)",
                  env="PLAX_XLA_CACHE_DIR", validate=_check_cache_dir)
    config.define("xla_cpu_devices", xla_flags_device_count() or 1, int,
                  "number of CPU devices of the xla backend (for pmap on a CPU); read when the "
                  "backend is created. Without PLAX_XLA_CPU_DEVICES, JAX's "
                  "XLA_FLAGS=--xla_force_host_platform_device_count=N gives N",
                  env="PLAX_XLA_CPU_DEVICES")
    config.define("xla_cpu_fast_trig", True, _parse_bool,
                  "on the CPU, sin and cos of float32/16 arrays of 65,536 elements or more lower "
                  "to arithmetic XLA vectorises "
                  "(float64 range reduction, float32 polynomials: within 2 ulp for |x| < 1e8, "
                  "an error growing as |x| * 2**-52 beyond) instead of XLA's scalar libm calls; "
                  "read when a program is lowered",
                  env="PLAX_XLA_CPU_FAST_TRIG", validate=_check_bool)
    config.define("xla_cpu_reuse_outputs", True, _parse_bool,
                  "on the CPU, a jitted program's outputs of 8 MiB or more that the caller "
                  "dropped are donated back to the program's next call, which writes its "
                  "outputs there instead of page-faulting through fresh memory (the last "
                  "call's large outputs stay allocated between calls); read at compile time",
                  env="PLAX_XLA_CPU_REUSE_OUTPUTS", validate=_check_bool)
    config.define("xla_cpu_async_dispatch", None, _parse_bool,
                  "run CPU programs on XLA's worker threads, returning before they finish (as "
                  "JAX's jax_cpu_enable_async_dispatch); off, a program runs on the calling "
                  "thread, which dispatches small arrays 2-3x faster. Unset: off with one CPU "
                  "device, on with several (pmap's replicas); read when the backend is created",
                  env="PLAX_XLA_CPU_ASYNC_DISPATCH")


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"cannot read {s!r} as a boolean (use 1/0, true/false)")


def _check_bool(name: str, value) -> bool:
    if value in (True, False):
        return bool(value)
    raise TypeError(f"plax.config option '{name}' takes a bool, got {value!r}")


def _cache_dir(s: str):
    return s.strip() or None


def _check_cache_dir(name: str, value):
    import os
    if value is None or value == "":
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"plax.config {name!r}: expected a directory path (str or os.PathLike) "
                        f"or None, got {type(value).__name__}")
    return os.fspath(value)


def xla_flags_device_count() -> int | None:
    """N from --xla_force_host_platform_device_count=N in XLA_FLAGS (as JAX reads it)."""
    import os
    count = None
    for flag in os.environ.get("XLA_FLAGS", "").split():
        name, _, value = flag.partition("=")
        if name.lstrip("-") == "xla_force_host_platform_device_count":
            try:
                count = int(value)
            except ValueError:
                raise ValueError(f"XLA_FLAGS: {flag!r} needs an integer device count") from None
    return count


def _factory():
    from plax_xla.backend import XlaBackend
    return XlaBackend()


def _connect(settings):
    """plax.distributed.initialize's hook: join the run (before the backend starts)."""
    from plax_xla.distributed import connect
    return connect(settings)


@hookimpl
def plax_register(registry):
    _define_options()
    for name in _RULE_MODULES:
        module = importlib.import_module(f"plax_xla.{name}")
        for prim, rule in module.RULES.items():
            registry.add_lowering("xla", prim, rule)
    registry.register_backend("xla", _factory, priority=10)
    registry.add_rule("distributed", "xla", _connect)
    # plax.export: a closed jaxpr as a StableHLO portable artifact, and such an artifact's text
    from plax_xla.lower_export import export_module, exported_text
    registry.add_rule("export", "xla", export_module)
    registry.add_rule("export_text", "xla", exported_text)
