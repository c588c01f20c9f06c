"""Configuration: `plax.config.update(name, value)`, environment variables, context managers.

Each option reads, strongest first: a thread-local context-manager override, then the value set by
`update`, then the environment variable (`PLAX_<NAME>`), then its default.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"cannot read {s!r} as a boolean (use 1/0, true/false)")


class _Option:
    __slots__ = ("name", "env", "default", "parse", "help", "validate", "value", "is_set")

    def __init__(self, name, env, default, parse, help, validate):
        self.name, self.env, self.default, self.parse, self.help = name, env, default, parse, help
        self.validate = validate
        self.value, self.is_set = None, False

    def check(self, value: Any) -> Any:
        """The value to store for `value` given by `update` or `override` (errors name us)."""
        return value if self.validate is None else self.validate(self.name, value)


class _Local(threading.local):
    def __init__(self):
        self.overrides: dict[str, Any] = {}
        # derived values this thread computed while some thread overrode one of their
        # options: name -> (generation of the updated values, value)
        self.derived: dict[str, tuple] = {}


class Config:
    """Holds plax's options; read them as attributes (`plax.config.enable_x64`)."""

    def __init__(self):
        object.__setattr__(self, "_options", {})
        object.__setattr__(self, "_local", _Local())
        object.__setattr__(self, "_listeners", [])
        object.__setattr__(self, "_cache", {})
        # an option that no thread overrides right now lives in the instance __dict__, so
        # reading it on a hot path is a plain attribute lookup (no __getattr__ call)
        object.__setattr__(self, "_active_overrides", {})
        object.__setattr__(self, "_derived", {})  # name -> (fn, the options it reads)
        object.__setattr__(self, "_generation", [0])  # bumped by update and reset

    def define(self, name: str, default: Any, parse: Callable[[str], Any], help: str,
               env: str | None = None,
               validate: Callable[[str, Any], Any] | None = None) -> None:
        self._options[name] = _Option(name, env or f"PLAX_{name.upper()}", default, parse, help,
                                      validate)

    def derive(self, name: str, fn: Callable[[], Any], deps: tuple[str, ...]) -> None:
        """A read-only value `fn()` of the options `deps`, read as an attribute: one plain
        lookup on a hot path instead of one per option, recomputed after any of them changes
        (`update`, `reset`, or an override in some thread, which reads its own)."""
        self._derived[name] = (fn, tuple(deps))
        self.__dict__.pop(name, None)

    def _option(self, name: str) -> _Option:
        opt = self._options.get(name)
        if opt is not None:
            return opt
        from plax._src import registry  # plugins may define options (xla_cpu_devices ...)
        registry.ensure_plugins_loaded()
        try:
            return self._options[name]
        except KeyError:
            raise AttributeError(f"plax.config has no option {name!r}; options are: "
                                 f"{', '.join(sorted(self._options))}") from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        derived = self._derived.get(name)
        if derived is not None:
            # while a thread overrides one of its options: this thread's value, computed once
            # per generation of updated values and of this thread's overrides
            mine = self._local.derived
            hit = mine.get(name)
            gen = self._generation[0]
            if hit is not None and hit[0] == gen:
                return hit[1]
            fn, deps = derived
            val = fn()
            active = self._active_overrides
            for d in deps:
                if active.get(d):
                    mine[name] = (gen, val)
                    break
            else:
                self.__dict__[name] = val
            return val
        local = self._local.overrides
        if name in local:
            return local[name]
        cache = self._cache
        if name in cache:
            return cache[name]
        opt = self._option(name)
        if opt.is_set:
            val = opt.value
        else:
            raw = os.environ.get(opt.env)
            try:
                val = opt.default if raw is None else opt.parse(raw)
            except ValueError as e:
                raise ValueError(f"environment variable {opt.env}={raw!r}: {e}") from None
        cache[name] = val
        if not self._active_overrides.get(name):
            self.__dict__[name] = val
        return val

    def value(self, name: str) -> Any:
        """`getattr(config, name)` for hot paths: this thread's override is read directly
        (~0.1 us instead of ~0.7 us through `__getattr__` while any thread overrides it)."""
        local = self._local.overrides
        return local[name] if name in local else getattr(self, name)

    def _drop_fast(self) -> None:
        d = self.__dict__
        for n in (*self._options, *self._derived):
            d.pop(n, None)
        self._generation[0] += 1  # every thread's derived values are stale

    def __setattr__(self, name, value):
        raise AttributeError("use plax.config.update(name, value) to change an option")

    def update(self, name: str, value: Any) -> None:
        """Set option `name` (JAX-style names such as 'jax_enable_x64' are accepted too)."""
        name = _strip_prefix(name)
        opt = self._option(name)
        opt.value, opt.is_set = opt.check(value), True
        self._cache.clear()
        self._drop_fast()
        self._notify(name)
        if name in _UPDATE_HOOKS:  # an option that sets another (default_device: backend)
            _UPDATE_HOOKS[name](opt.value)

    def reset(self, name: str) -> None:
        """Forget a value set by `update`, so the environment variable or default applies again."""
        opt = self._option(_strip_prefix(name))
        opt.value, opt.is_set = None, False
        self._cache.clear()
        self._drop_fast()
        self._notify(opt.name)
        if opt.name in _UPDATE_HOOKS:
            _UPDATE_HOOKS[opt.name](None)

    @contextlib.contextmanager
    def override(self, name: str, value: Any):
        name = _strip_prefix(name)
        value = self._option(name).check(value)
        local = self._local.overrides
        had, old = name in local, local.get(name)
        active = self._active_overrides
        active[name] = active.get(name, 0) + 1
        self.__dict__.pop(name, None)
        mine = self._local.derived
        for derived, (_, deps) in self._derived.items():
            if name in deps:
                self.__dict__.pop(derived, None)
                mine.pop(derived, None)
        local[name] = value
        self._notify(name)
        try:
            yield
        finally:
            if had:
                local[name] = old
            else:
                del local[name]
            active[name] -= 1
            for derived, (_, deps) in self._derived.items():
                if name in deps:
                    mine.pop(derived, None)
            self._notify(name)

    def on_change(self, fn: Callable[[str], None]) -> None:
        self._listeners.append(fn)

    def _notify(self, name: str) -> None:
        for fn in self._listeners:
            fn(name)

    def values(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in sorted(self._options)}

    def __repr__(self):
        return "plax.config(" + ", ".join(f"{k}={v!r}" for k, v in self.values().items()) + ")"


_UPDATE_HOOKS: dict = {}  # option -> fn(new value), run after `update` / `reset` of it


def _strip_prefix(name: str) -> str:
    for p in ("jax_", "plax_"):
        if name.startswith(p):
            return name[len(p):]
    return name


def _parse_backend(s: str) -> str | None:
    s = s.strip()
    return s or None


def _parse_list(s: str) -> tuple[str, ...] | None:
    items = tuple(x.strip() for x in s.split(",") if x.strip())
    return items or None


def _check_bool(name: str, value: Any) -> bool:
    if value in (True, False):  # bool, 0/1 and NumPy bools
        return bool(value)
    raise TypeError(f"plax.config option '{name}' takes a bool, got {value!r}")


def _check_backend(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"plax.config option 'backend' takes a backend name, got {value!r}")
    from plax._src import registry  # the registry imports this module
    registry.validate_backend_name(value)  # lists the installed backends if unknown
    return value


def _check_names(name: str, value: Any):
    """A list of names: a comma-separated string or a sequence of strings (None: unset)."""
    if value is None and name in ("plugins", "platforms"):
        return None
    if isinstance(value, str):
        return _parse_list(value) or ()
    if isinstance(value, (list, tuple, set, frozenset)) and all(
            isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"plax.config option '{name}' takes names (a comma-separated string or a "
                    f"sequence of strings), got {value!r}")


config = Config()
config.define("backend", None, _parse_backend,
              "name of the default backend (None: the highest-priority installed backend)",
              validate=_check_backend)
config.define("platforms", None, _parse_list,
              "as JAX_PLATFORMS: comma-separated backend names (reference, xla, ...) or "
              "platforms (cpu, gpu, tpu), in order; the default backend is the first that "
              "starts (an error if none does), and the xla backend runs on the first platform "
              "listed. Unset: the highest-priority installed backend", validate=_check_names)
config.define("enable_x64", False, _parse_bool, "allow 64-bit dtypes (float64, int64)",
              validate=_check_bool)
config.define("debug_nans", False, _parse_bool,
              "raise FloatingPointError when an operation produces a NaN", validate=_check_bool)
config.define("checks", False, _parse_bool,
              "checked mode. Eager ops check their operands and raise naming the operation, "
              "the index, the axis and the bound (out-of-bounds gather/scatter/dynamic_slice "
              "indices, which otherwise clamp; integer division by zero); a jitted function "
              "called directly, and control flow run eagerly, run checkified (plax.checkify's "
              "index, division and user checks) and raise after the call; it also turns on "
              "abstract-eval checking of eager results and of batch rules' outputs",
              validate=_check_bool)
config.define("disable_jit", False, _parse_bool, "run jit-decorated functions eagerly",
              validate=_check_bool)
config.define("check_rules", False, _parse_bool,
              "only the rule checks of `checks`: every eager result and every batch rule's "
              "output against the primitive's abstract evaluation (for plugin authors: catches "
              "wrong shapes and dtypes; on in plax's own test suite and in the conformance "
              "kit's pytest plugin), without the eager index and division checks",
              validate=_check_bool)
config.define("plugins", None, _parse_list,
              "allow list of third-party plugin names to load (comma separated); None loads "
              "all. Built-in plugins (the reference backend) load unless disabled",
              validate=_check_names)
config.define("disable_plugins", (), lambda s: _parse_list(s) or (),
              "plugin names never to load (comma separated)", validate=_check_names)
config.define("coordinator_address", None, lambda s: s.strip() or None,
              "plax.distributed.initialize(): host:port of the coordinator (process 0 serves "
              "it) when the call does not pass coordinator_address")
config.define("num_processes", None, int,
              "plax.distributed.initialize(): number of processes when the call does not "
              "pass num_processes")
config.define("process_id", None, int,
              "plax.distributed.initialize(): this process's id (0 .. num_processes - 1) when "
              "the call does not pass process_id")
config.define("log_compiles", False, _parse_bool,
              "as JAX's jax_log_compiles: log (logger 'plax.jit', level WARNING) each "
              "compilation, naming the function, its argument shapes and the backend, and "
              "how long tracing and compiling took", validate=_check_bool)
config.define("explain_cache_misses", False, _parse_bool,
              "as JAX's jax_explain_cache_misses: when a jitted function traces again, log "
              "(logger 'plax.jit', level WARNING) why its cache missed: which argument's "
              "shape, dtype or weak type, which static argument, or the tree changed",
              validate=_check_bool)

config.define("debug_infs", False, _parse_bool,
              "as JAX's jax_debug_infs: raise FloatingPointError when an operation (an eager "
              "op, a jitted call's output) produces an inf", validate=_check_bool)


def _check_choice(*choices, optional=False):
    def check(name: str, value: Any):
        if value is None and optional:
            return None
        v = getattr(value, "value", value)  # an enum member of JAX's (a StrEnum) too
        if isinstance(v, str) and v in choices:
            return v
        raise ValueError(f"plax.config option '{name}' takes one of {list(choices)}"
                         f"{' or None' if optional else ''}, got {value!r}")
    return check


_TRANSFER_LEVELS = ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
config.define("numpy_rank_promotion", "allow", str.strip,
              "as JAX's: NumPy-style implicit rank promotion in plax.numpy's elementwise "
              "operations is allowed, warned about ('warn') or refused with ValueError "
              "('raise')", validate=_check_choice("allow", "warn", "raise"))
config.define("numpy_dtype_promotion", "standard", str.strip,
              "as JAX's: 'standard' promotion lattice, or 'strict': operations between "
              "arrays of different strongly-typed dtypes raise plax.dtypes.TypePromotionError "
              "(Python scalars and weakly-typed values still promote within their kind)",
              validate=_check_choice("standard", "strict"))
def _check_matmul_precision(name: str, value: Any):
    """One of JAX's precision names, or a lax.DotAlgorithmPreset (or its name), as JAX's."""
    from plax._src.lax.linalg import DotAlgorithmPreset
    if isinstance(value, DotAlgorithmPreset):
        return value.name
    if isinstance(value, str) and value in DotAlgorithmPreset.__members__:
        return value
    return _check_choice("default", "high", "highest", "bfloat16", "tensorfloat32", "float32",
                         optional=True)(name, value)


config.define("default_matmul_precision", None, lambda s: s.strip() or None,
              "as JAX's: the precision dot_general and conv_general_dilated get when the call "
              "passes precision=None ('default', 'high', 'highest', 'bfloat16', "
              "'tensorfloat32', 'float32', or a lax.DotAlgorithmPreset or its name)",
              validate=_check_matmul_precision)
config.define("allow_f16_reductions", True, _parse_bool,
              "as JAX's: False makes reduce_sum over float16/bfloat16 operands (over an axis "
              "longer than 1) raise ValueError", validate=_check_bool)
config.define("no_tracing", False, _parse_bool,
              "as JAX's: a jitted function that would trace (a cache miss) raises RuntimeError",
              validate=_check_bool)
config.define("no_execution", False, _parse_bool,
              "as JAX's: running a compiled program (a jitted call, an eager op) raises "
              "RuntimeError", validate=_check_bool)
config.define("check_tracer_leaks", False, _parse_bool,
              "as JAX's: when a jit, grad or vmap trace ends, raise if one of its tracers is "
              "still referenced from outside (a global, a closure cell, a list) naming it",
              validate=_check_bool)
config.define("legacy_prng_key", "allow", str.strip,
              "as JAX's: a raw uint32 key passed to a plax.random function is allowed, "
              "warned about ('warn') or refused with ValueError ('error')",
              validate=_check_choice("allow", "warn", "error"))
config.define("enable_custom_prng", False, _parse_bool,
              "as JAX's: plax.random.PRNGKey, split and fold_in give typed keys (key<fry>) "
              "even from raw uint32 keys, and a raw key passed to plax.random warns "
              "(FutureWarning)", validate=_check_bool)
config.define("threefry_partitionable", True, _parse_bool,
              "as JAX's (default True): plax.random's threefry bit layout; False gives the "
              "numbers of JAX's original layout (split and random bits hash one flat counter "
              "run)", validate=_check_bool)
config.define("default_prng_impl", "threefry2x32", str.strip,
              "as JAX's: the PRNG implementation of plax.random.key/PRNGKey without an impl "
              "(and of raw keys passed to plax.random): 'threefry2x32', 'rbg' or "
              "'unsafe_rbg' (JAX's threefry4x32 and philox ones are not implemented)",
              validate=_check_choice("threefry2x32", "rbg", "unsafe_rbg"))
config.define("debug_key_reuse", False, _parse_bool,
              "as JAX's: typed keys (plax.random.key) track their use; consuming one twice "
              "(two samplers, a sampler after split, split twice, an index taken twice, a "
              "jitted function consuming a key argument consumed already, a loop body "
              "consuming a key from outside it) raises KeyReuseError; random.clone gives a "
              "fresh copy, key_data, fold_in and printing do not consume",
              validate=_check_bool)
config.define("array_garbage_collection_guard", "allow", str.strip,
              "as JAX's: an Array freed by Python's cycle collector (it was in a reference "
              "cycle) instead of by reference counting is allowed, logged (logger "
              "'plax.array', level ERROR) or aborts the process ('fatal')",
              validate=_check_choice("allow", "log", "fatal"))
config.define("thread_guard", False, _parse_bool,
              "as JAX's: inside `plax.thread_guard(True)`, launching a multi-process "
              "computation (a program over the devices of more than one process) from a "
              "thread other than the one that set the guard raises RuntimeError",
              validate=_check_bool)
for _dir in ("host_to_device", "device_to_host", "device_to_device"):
    config.define(f"transfer_guard_{_dir}", "allow", str.strip,
                  f"as JAX's: {_dir.replace('_', '-')} transfers are allowed, logged "
                  "(logger 'plax.transfer', level WARNING) or refused (RuntimeError); "
                  "'log'/'disallow' guard implicit transfers only (device_put, device_get "
                  "and jnp.asarray-free explicit moves pass), the *_explicit levels guard "
                  "explicit ones too", validate=_check_choice(*_TRANSFER_LEVELS))
config.define("default_device", None, lambda s: s.strip() or None,
              "as JAX's: a plax Device (its backend's first), a backend name or a platform "
              "('cpu', 'gpu'): new arrays and computations on uncommitted values go to that "
              "device's backend (updating it sets the `backend` option; None resets it)")


# eager dispatch's one read per op for its three checks (any of them on: the checked path)
# the transfer guard's one read per transfer (any of its three directions not 'allow')
config.derive("any_transfer_guard",
              lambda: any(config.value(f"transfer_guard_{d}") != "allow"
                          for d in ("host_to_device", "device_to_host", "device_to_device")),
              ("transfer_guard_host_to_device", "transfer_guard_device_to_host",
               "transfer_guard_device_to_device"))
config.derive("any_checks", lambda: bool(config.checks or config.check_rules
                                         or config.debug_nans or config.debug_infs
                                         or config.no_execution),
              ("checks", "check_rules", "debug_nans", "debug_infs", "no_execution"))
# a jitted call's one read for what sends it off its hot path (eager, or checkified)
config.derive("jit_slow_path", lambda: bool(config.disable_jit or config.checks
                                            or config.no_execution or config.debug_key_reuse),
              ("disable_jit", "checks", "no_execution", "debug_key_reuse"))

# What a trace depends on besides its arguments: jit's cache key holds this one value (an
# interned tuple, so the hot path compares it by identity), and make_user_context adds to it.
TRACE_CONTEXT = ["enable_x64", "numpy_rank_promotion", "numpy_dtype_promotion",
                 "default_matmul_precision", "allow_f16_reductions", "default_device",
                 "legacy_prng_key", "enable_custom_prng", "threefry_partitionable",
                 "default_prng_impl", "debug_key_reuse"]
_interned: dict = {}


def _trace_context():
    vals = tuple(config.value(n) for n in TRACE_CONTEXT)
    return _interned.setdefault(vals, vals)


config.derive("trace_context", _trace_context, tuple(TRACE_CONTEXT))


def trace_context_changes(old: tuple, new: tuple) -> list[str]:
    """'name: old -> new' for each option that differs between two trace_context values."""
    return [f"{n} changed from {a!r} to {b!r}"
            for n, a, b in zip(TRACE_CONTEXT, old, new) if a != b]


Config.trace_context_changes = staticmethod(trace_context_changes)  # for jit's explanations

_jit_states: dict = {}


def _jit_state() -> tuple:
    state = (_trace_context(), config.backend,
             bool(config.disable_jit or config.checks or config.no_execution
                  or config.debug_key_reuse),
             bool(config.debug_nans or config.debug_infs))
    return _jit_states.setdefault(state, state)


def _derive_jit_state() -> None:
    # what a jitted call of one Array checks by identity on its hottest path (the trace
    # context, default backend, no slow path, no NaN/inf check): one object per combination
    # of values, so a value recomputed after a change and back (or read while some thread
    # overrides an option) is the same object again
    config.derive("jit_state", _jit_state,
                  (*TRACE_CONTEXT, "backend", "disable_jit", "checks", "no_execution",
                   "debug_key_reuse", "debug_nans", "debug_infs"))


_derive_jit_state()


def enable_x64(value: bool = True):
    """Context manager: run the block with 64-bit dtypes on (or off)."""
    return config.override("enable_x64", bool(value))


def debug_nans(value: bool = True):
    return config.override("debug_nans", bool(value))


def disable_jit(disable: bool = True):
    """Context manager: run jitted functions eagerly inside the block."""
    return config.override("disable_jit", bool(disable))


def _flag(name: str, doc: str):
    """A JAX-style context manager over option `name`: `with plax.<name>(value):` (the
    value defaults to True for on/off options, as JAX's)."""
    def ctx(new_val: Any = True):
        return config.override(name, new_val)
    ctx.__name__ = ctx.__qualname__ = name
    ctx.__doc__ = doc
    return ctx


debug_infs = _flag("debug_infs", "Raise FloatingPointError when an operation produces an inf.")
log_compiles = _flag("log_compiles", "Log each jit trace and compilation (logger 'plax.jit').")
explain_cache_misses = _flag("explain_cache_misses",
                             "Log why a jitted function traces again (logger 'plax.jit').")
enable_checks = _flag("check_rules",
                      "As jax.enable_checks (JAX's internal invariant checks): plax's "
                      "`check_rules`, every eager result and batch rule's output checked "
                      "against the primitive's abstract evaluation.")
enable_checks.__name__ = enable_checks.__qualname__ = "enable_checks"
check_tracer_leaks = _flag("check_tracer_leaks",
                           "Raise when a finished trace's tracer is still referenced.")


def checking_leaks():
    """`with plax.checking_leaks():` is `with plax.check_tracer_leaks(True):`."""
    return config.override("check_tracer_leaks", True)


no_tracing = _flag("no_tracing", "A jitted function that would trace raises RuntimeError.")
no_execution = _flag("no_execution", "Running a compiled program raises RuntimeError.")
allow_f16_reductions = _flag("allow_f16_reductions",
                             "False: reduce_sum over float16/bfloat16 raises ValueError.")
numpy_rank_promotion = _flag("numpy_rank_promotion",
                             "'allow', 'warn' or 'raise' on implicit rank promotion.")
numpy_dtype_promotion = _flag("numpy_dtype_promotion",
                              "'standard' or 'strict' implicit dtype promotion.")
default_matmul_precision = _flag("default_matmul_precision",
                                 "The precision of dot_general/conv calls given None.")
legacy_prng_key = _flag("legacy_prng_key",
                        "'allow', 'warn' or 'error' on raw uint32 keys in plax.random.")
enable_custom_prng = _flag("enable_custom_prng",
                           "plax.random gives typed keys (key<fry>) from raw ones too.")
threefry_partitionable = _flag("threefry_partitionable",
                               "plax.random's threefry layout: partitionable (True) or JAX's "
                               "original one (False).")
default_prng_impl = _flag("default_prng_impl",
                          "plax.random's default PRNG implementation: 'threefry2x32', 'rbg' "
                          "or 'unsafe_rbg'.")
debug_key_reuse = _flag("debug_key_reuse",
                        "Typed keys consumed twice raise KeyReuseError (JAX's key-reuse "
                        "checker).")
@contextlib.contextmanager
def thread_guard(new_val: bool = True):
    """As jax.thread_guard: in the block, a multi-process computation (a program over the
    devices of more than one process) launched from a thread other than this one raises
    RuntimeError; another thread setting the guard meanwhile raises RuntimeError too."""
    from plax._src import distributed
    new_val = config._option("thread_guard").check(new_val)
    entered = distributed.enter_thread_guard(bool(new_val))
    try:
        with config.override("thread_guard", new_val):
            yield
    finally:
        if entered:
            distributed.exit_thread_guard()


def _gc_guard_changed(name: str) -> None:
    if name == "array_garbage_collection_guard":
        from plax._src import gc_guard
        gc_guard.sync(name)


config.on_change(_gc_guard_changed)
array_garbage_collection_guard = _flag(
    "array_garbage_collection_guard",
    "'allow', 'log' or 'fatal': what an Array freed by the cycle collector does.")
transfer_guard_host_to_device = _flag("transfer_guard_host_to_device",
                                      "Guard level of host-to-device transfers.")
transfer_guard_device_to_host = _flag("transfer_guard_device_to_host",
                                      "Guard level of device-to-host transfers.")
transfer_guard_device_to_device = _flag("transfer_guard_device_to_device",
                                        "Guard level of device-to-device transfers.")


@contextlib.contextmanager
def transfer_guard(new_val: str):
    """The guard level of all three directions of transfer in the block: 'allow', 'log',
    'disallow' (implicit transfers), 'log_explicit', 'disallow_explicit' (all transfers)."""
    with contextlib.ExitStack() as stack:
        for d in ("host_to_device", "device_to_device", "device_to_host"):
            stack.enter_context(config.override(f"transfer_guard_{d}", new_val))
        yield


def _check_device(name: str, value: Any):
    if value is None or hasattr(value, "backend_name"):
        return value
    if isinstance(value, str):
        from plax._src import registry
        try:
            registry.validate_backend_name(value)
        except Exception:
            if value not in ("cpu", "gpu", "tpu", "cuda", "rocm"):
                raise ValueError(
                    "plax.default_device must be passed either a Device object (e.g. "
                    "`plax.devices('cpu')[0]`), a backend name or a platform name string "
                    f"like 'cpu' or 'gpu', got: {value!r}") from None
        return value
    raise ValueError("plax.default_device must be passed either a Device object (e.g. "
                     "`plax.devices('cpu')[0]`), a backend name or a platform name string "
                     f"like 'cpu' or 'gpu', got: {value!r}")


config._options["default_device"].validate = _check_device


def _device_backend(value) -> str | None:
    """The backend name a default_device value means (a Device: its backend, which must be
    that backend's first device; a platform: the highest-priority backend running on it)."""
    from plax._src import registry
    if value is None:
        return None
    if hasattr(value, "backend_name"):
        first = registry.get_backend(value.backend_name).default_device()
        if value != first:
            raise ValueError(f"plax.default_device({value!r}): plax places uncommitted values "
                             f"per backend, on its first device ({first!r}); commit values to "
                             "another device with plax.device_put(x, device) or "
                             "plax.jit(f, device=device)")
        return value.backend_name
    if value in registry.backend_names():
        return value
    return registry._pick_from([value]).name


def _default_device_updated(device) -> None:
    """`config.update("default_device", d)` (or jax_default_device): the default backend
    becomes d's; None (or a reset) gives the choice back to priority and `platforms`."""
    name = _device_backend(device)
    if name is None:
        config.reset("backend")
    else:
        config.update("backend", name)


_UPDATE_HOOKS["default_device"] = _default_device_updated


@contextlib.contextmanager
def default_device(device):
    """As jax.default_device: in the block, new arrays and computations on uncommitted values
    (eager ops, jitted calls) go to `device` (a Device, a backend name, or a platform such as
    'cpu'); committed values stay where they are. None: the default backend."""
    device = _check_device("default_device", device)
    with config.override("default_device", device):
        with config.override("backend", _device_backend(device)):
            yield


class UserContext:
    """A value that jit's caches key on (`plax.make_user_context`): `with ctx(v):` sets it
    for the block (this thread), `ctx.value` reads it."""

    def __init__(self, name: str, default_value):
        self._name = name
        self._default = default_value

    @property
    def value(self):
        return config.value(self._name)

    def __call__(self, new_val):
        return config.override(self._name, new_val)

    def __repr__(self):
        return f"UserContext({self.value!r})"


def make_user_context(default_value=None) -> UserContext:
    """A context whose value takes part in jit's cache key, as jax.make_user_context: a jitted
    function called under another value traces again."""
    name = f"user_context_{len(_user_contexts)}"
    config.define(name, default_value, str, "a plax.make_user_context value")
    ctx = UserContext(name, default_value)
    _user_contexts.append(ctx)
    TRACE_CONTEXT.append(name)
    config.derive("trace_context", _trace_context, tuple(TRACE_CONTEXT))
    _derive_jit_state()
    return ctx


_user_contexts: list = []
