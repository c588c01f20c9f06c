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

    def reset(self, name: str) -> None:
        """Forget a value set by `update`, so the environment variable or default applies again."""
        opt = self._option(_strip_prefix(name))
        opt.value, opt.is_set = None, False
        self._cache.clear()
        self._drop_fast()
        self._notify(opt.name)

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


# eager dispatch's one read per op for its three checks (any of them on: the checked path)
config.derive("any_checks", lambda: bool(config.checks or config.check_rules
                                         or config.debug_nans),
              ("checks", "check_rules", "debug_nans"))
# a jitted call's one read for what sends it off its hot path (eager, or checkified)
config.derive("jit_slow_path", lambda: bool(config.disable_jit or config.checks),
              ("disable_jit", "checks"))

_jit_states: dict = {}


def _jit_state() -> tuple:
    state = (config.enable_x64, config.backend, bool(config.disable_jit or config.checks),
             config.debug_nans)
    return _jit_states.setdefault(state, state)


# what a jitted call of one Array checks by identity on its hottest path (x64 mode, default
# backend, no slow path, no NaN check): one object per combination of values, so a value
# recomputed after a change and back (or read while some thread overrides an option) is
# the same object again
config.derive("jit_state", _jit_state, ("enable_x64", "backend", "disable_jit", "checks",
                                        "debug_nans"))


def enable_x64(value: bool = True):
    """Context manager: run the block with 64-bit dtypes on (or off)."""
    return config.override("enable_x64", bool(value))


def debug_nans(value: bool = True):
    return config.override("debug_nans", bool(value))


def disable_jit(disable: bool = True):
    """Context manager: run jitted functions eagerly inside the block."""
    return config.override("disable_jit", bool(disable))
