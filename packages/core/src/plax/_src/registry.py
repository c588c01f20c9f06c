"""The one dispatch registry: rule tables keyed by primitive, backends, plugin-provided API.

Plugins (entry point group ``plax.plugins``) are discovered with importlib.metadata and loaded
lazily, each at most once, the first time plax needs something it does not have. Every kind of
rule (abstract_eval, jvp, transpose, batch, partial_eval, collective, impl[backend],
lowering[backend], and tables a plugin names) is registered one way (the ``add_*`` functions,
which record which plugin owns each rule) and looked up one way (``get_rule`` or, on hot paths,
a read-only live view from ``rules``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import traceback
import warnings
from typing import Any, Callable

from plax._src.config import config
from plax._src.records import Record

CORE_OWNER = "plax-core"


class RegistrationError(RuntimeError):
    """Two plugins registered the same rule, or a registration was malformed."""


class PluginWarning(UserWarning):
    """A plugin failed to import or register; it was skipped."""


# ---------------------------------------------------------------------------------------------
# Tables (private: read directly on hot paths, written only through the functions below)

_abstract_eval: dict = {}
_jvp: dict = {}
_transpose: dict = {}
_batch: dict = {}
_partial_eval: dict = {}
_collective: dict = {}
_impl: dict[str, dict] = {}        # backend name -> {primitive: rule}
_lowering: dict[str, dict] = {}    # backend name -> {primitive: lowering rule}
_tables: dict[str, dict] = {"abstract_eval": _abstract_eval, "jvp": _jvp,
                            "transpose": _transpose, "batch": _batch,
                            "partial_eval": _partial_eval, "collective": _collective}
RULE_KINDS = ("abstract_eval", "jvp", "transpose", "batch", "partial_eval", "collective")
_owners: dict[tuple[str, Any], str] = {}
_primitives: dict[str, Any] = {}   # name -> Primitive, every primitive that got a rule
_primitive_owners: dict[str, str] = {}  # name -> the plugin that first recorded it
_api: dict[str, Any] = {}          # public names provided by plugins (plax.grad, plax.jit, ...)
_backend_specs: dict[str, "BackendSpec"] = {}

_local = threading.local()


def _owner() -> str:
    return getattr(_local, "owner", CORE_OWNER)


@contextlib.contextmanager
def _owning(name: str):
    prev = getattr(_local, "owner", CORE_OWNER)
    _local.owner = name
    try:
        yield
    finally:
        _local.owner = prev


def _describe(owner: str) -> str:
    info = _plugins.get(owner)
    if info is None:
        return f"'{owner}'"
    return f"'{owner}' (distribution '{info.distribution}')"


def _add(table_name: str, table: dict, key: Any, value: Any) -> None:
    owner = _owner()
    prev_owner = _owners.get((table_name, key))
    if prev_owner is not None and prev_owner != owner:
        raise RegistrationError(
            f"{table_name} rule for {key!r} is registered twice: first by plugin "
            f"{_describe(prev_owner)}, again by plugin {_describe(owner)}")
    if hasattr(key, "bind"):
        register_primitive(key)  # raises on a name another plugin's primitive has
    table[key] = value
    _owners[(table_name, key)] = owner


def _check_rule(rule: Callable, what: str, prim) -> None:
    if not callable(rule):
        raise RegistrationError(f"{what} rule for '{prim}' must be callable, got {rule!r}")


def add_abstract_eval(prim, rule: Callable) -> None:
    """rule(*avals, **params) -> ShapedArray (a list of them for multiple_results)."""
    _check_rule(rule, "abstract_eval", prim)
    _add("abstract_eval", _abstract_eval, prim, rule)


def add_jvp(prim, rule: Callable) -> None:
    """rule(primals, tangents, **params) -> (primal_out, tangent_out); tangents may be Zero."""
    _check_rule(rule, "jvp", prim)
    _add("jvp", _jvp, prim, rule)


def add_transpose(prim, rule: Callable) -> None:
    """rule(cotangent, *args, **params) -> cotangents per arg (None for non-linear args)."""
    _check_rule(rule, "transpose", prim)
    _add("transpose", _transpose, prim, rule)


def add_batch(prim, rule: Callable) -> None:
    """rule(args, batch_dims, **params) -> (out, out_batch_dim)."""
    _check_rule(rule, "batch", prim)
    _add("batch", _batch, prim, rule)


def add_partial_eval(prim, rule: Callable) -> None:
    """rule(trace, args, params) -> outputs, for primitives carrying jaxprs (cond, scan, ...):
    under linearize, evaluate what is known now and record the rest in `trace` (arguments
    that are `trace`'s tracers are unknown). Without one, a primitive with an unknown input
    is recorded whole."""
    _check_rule(rule, "partial_eval", prim)
    _add("partial_eval", _partial_eval, prim, rule)


def add_collective(prim, rule: Callable) -> None:
    """rule(trace, vals, dims, **params) -> (out, out_dim): how a vmap (or single-device pmap)
    resolves collective `prim` over its own axis name (`trace.axis_name`, `trace.axis_size`);
    over other axis names the primitive's batch rule applies."""
    _check_rule(rule, "collective", prim)
    _add("collective", _collective, prim, rule)


def add_composition(prim, fun: Callable, multiple_results: bool | None = None) -> None:
    """`prim` computed by the plax function `fun(*operands, **params)`: every backend without
    its own impl or lowering for `prim` runs or lowers the jaxpr of `fun` instead (the
    reference and xla backends do; a backend plugin should too: look it up with
    `get_rule("composition", prim)`, a plax.extend.Composition)."""
    from plax._src.composition import Composition
    if not isinstance(fun, Composition):
        _check_rule(fun, "composition", prim)
        fun = Composition(fun, prim.multiple_results if multiple_results is None
                          else multiple_results)
    _add("composition", _tables.setdefault("composition", {}), prim, fun)


def add_impl(backend: str, prim, rule: Callable) -> None:
    """rule(*buffers, **params) -> buffer(s): how `backend` runs `prim` eagerly."""
    _check_rule(rule, f"impl[{backend}]", prim)
    _add(f"impl[{backend}]", _impl.setdefault(backend, {}), prim, rule)


def add_lowering(backend: str, prim, rule: Callable) -> None:
    """A compiler backend's lowering rule for `prim` (its signature is the backend's own)."""
    _check_rule(rule, f"lowering[{backend}]", prim)
    _add(f"lowering[{backend}]", _lowering.setdefault(backend, {}), prim, rule)


def add_rule(table: str, prim, rule: Callable) -> None:
    """A rule in a table named by a plugin (a new transform's rule table); `table` may also be
    one of RULE_KINDS, "impl[<backend>]" or "lowering[<backend>]"."""
    _check_rule(rule, table, prim)
    _add(table, _table(table), prim, rule)


def _table(table: str) -> dict:
    if table.startswith("impl[") and table.endswith("]"):
        return _impl.setdefault(table[5:-1], {})
    if table.startswith("lowering[") and table.endswith("]"):
        return _lowering.setdefault(table[9:-1], {})
    return _tables.setdefault(table, {})


def rules(table: str):
    """A read-only live view {primitive: rule} of a rule table: one of RULE_KINDS,
    "impl[<backend>]", "lowering[<backend>]" or a plugin's own table. Transforms and backends
    keep the view (or its `.get`) for their hot-path lookups."""
    import types
    return types.MappingProxyType(_table(table))


def get_rule(table: str, prim):
    """The rule for `prim` in `table` (as `rules`), or None; loads the plugins first if it is
    not there yet."""
    rule = _table(table).get(prim)
    if rule is None and not _loaded:
        ensure_plugins_loaded()
        rule = _table(table).get(prim)
    return rule


def impl_table(backend: str):
    """A backend's impl rules: `rules("impl[<backend>]")`."""
    return rules(f"impl[{backend}]")


def lowering_table(backend: str):
    """A backend's lowering rules: `rules("lowering[<backend>]")`."""
    return rules(f"lowering[{backend}]")


def register_api(name: str, obj: Any) -> None:
    """Expose `obj` as `plax.<name>` (how plax-transforms provides grad, jit, vmap ...)."""
    _add("api", _api, name, obj)


def register_primitive(prim) -> None:
    """Record a primitive so coverage reports list it even before it has rules. Primitive names
    are unique: another plugin's primitive of the same name is a RegistrationError naming
    both (plugins name theirs '<plugin>.<name>')."""
    other = _primitives.get(prim.name)
    if other is None:
        _primitives[prim.name] = prim
        _primitive_owners[prim.name] = _owner()
    elif other is not prim and _primitive_owners[prim.name] != _owner():
        raise RegistrationError(
            f"primitive name '{prim.name}' is taken: plugin {_describe(_owner())} defines a "
            f"primitive of that name, but plugin {_describe(_primitive_owners[prim.name])} "
            f"defined one first; name plugin primitives '<plugin>.<name>'")


def describe_primitive(prim) -> str:
    """"'name' (plugin 'x', distribution 'y')": a primitive named for error messages."""
    owner = primitive_owner(prim)
    return f"'{prim.name}'" + (f" (defined by plugin {_describe(owner)})" if owner else "")


def missing_rule_error(table: str, prim, transform: str) -> NotImplementedError:
    """The error for a primitive without a `table` rule that `transform` needs."""
    adder = {"jvp": "add_jvp", "transpose": "add_transpose", "batch": "add_batch"}.get(
        table, f"add_rule('{table}', ...)")
    return NotImplementedError(
        f"{transform} needs a {table} rule for primitive {describe_primitive(prim)}, and none "
        f"is registered; register one with plax.extend.registry.{adder}")


def primitive_owner(prim) -> str | None:
    """The plugin (or 'plax-core') that defined `prim` (its first rule)."""
    return _primitive_owners.get(prim.name) if _primitives.get(prim.name) is prim else None


def primitives() -> dict:
    ensure_plugins_loaded()
    return dict(_primitives)


def owner_of(table: str, key: Any) -> str | None:
    return _owners.get((table, key))


# ---------------------------------------------------------------------------------------------
# Backends


class BackendSpec(Record):
    name: str
    factory: Callable[[], Any]
    priority: int
    owner: str
    instance: Any = None
    error: BaseException | None = None


def register_backend(name: str, factory: Callable[[], Any], priority: int = 0) -> None:
    """Register a backend: `factory()` builds it on first use (import heavy modules inside it).
    The highest-priority backend that initialises is the default."""
    _check_rule(factory, "backend factory", name)
    if name in _backend_specs and _backend_specs[name].owner != _owner():
        raise RegistrationError(f"backend '{name}' is registered twice: first by plugin "
                                f"{_describe(_backend_specs[name].owner)}, again by plugin "
                                f"{_describe(_owner())}")
    _backend_specs[name] = BackendSpec(name, factory, priority, _owner())
    _default_cache.clear()


class BackendUnavailableError(RuntimeError):
    """A backend is not installed, or failed to initialise."""


def backend_names() -> list[str]:
    ensure_plugins_loaded()
    return sorted(_backend_specs, key=lambda n: -_backend_specs[n].priority)


def _instantiate(spec: BackendSpec):
    if spec.instance is None and spec.error is None:
        with _start_lock:  # threads racing to the first use start one backend, not several
            if spec.instance is None and spec.error is None:
                try:
                    spec.instance = spec.factory()
                except Exception as e:  # noqa: BLE001 - reported to the user with the cause
                    spec.error = e
    return spec.instance


_start_lock = threading.RLock()


_default_cache: dict = {}
# {None: the default backend, name: that backend} once started (emptied when `backend` or
# `platforms` change), for hot paths that inline `get_backend` and `is_default_backend`
# (read-only outside this module)
default_backends = _default_cache


def get_backend(name: str | None = None):
    """The backend called `name`, or the default one (config `backend`, then priority)."""
    if name is None:
        name = config.value("backend")  # eager dispatch asks on every op
        if name is None:
            b = _default_cache.get(None)
            if b is None:
                b = _default_cache[None] = _pick_default()
            return b
    spec = _backend_specs.get(name)
    if spec is None:
        ensure_plugins_loaded()
        spec = _backend_specs.get(name)
        if spec is None:
            raise BackendUnavailableError(
                f"unknown backend '{name}'; installed backends: "
                f"{', '.join(backend_names()) or '(none)'}")
    inst = spec.instance or _instantiate(spec)
    if inst is None:
        raise BackendUnavailableError(
            f"backend '{name}' (plugin '{spec.owner}') failed to initialise: "
            f"{type(spec.error).__name__}: {spec.error}")
    _default_cache[name] = inst
    return inst


def backend_started(name: str) -> bool:
    """Whether backend `name` has been created (without creating it)."""
    spec = _backend_specs.get(name)
    return spec is not None and spec.instance is not None


def started_backends() -> list:
    """The backends created so far (those `plax.clear_caches()` asks to clear theirs)."""
    return [s.instance for s in _backend_specs.values() if s.instance is not None]


_cache_clearers: list[tuple[str, Callable[[], None]]] = []


def on_clear_caches(clear: Callable[[], None]) -> None:
    """Have `plax.clear_caches()` call `clear()` (a transform's own caches: jit's traces)."""
    _check_rule(clear, "clear_caches callback", "clear_caches")
    _cache_clearers.append((_owner(), clear))


def clear_caches() -> None:
    """`plax.clear_caches()`: the eager caches, every plugin's registered caches and each
    started backend's (Backend.clear_caches)."""
    from plax._src import dispatch, eager_checks
    dispatch.clear_caches()
    eager_checks.clear_caches()
    for _, clear in list(_cache_clearers):
        clear()
    for b in started_backends():
        b.clear_caches()


def is_default_backend(backend) -> bool:
    """Whether `backend` is the one `get_backend()` would give now (without starting any)."""
    name = config.backend  # a plain attribute read unless some thread overrides it
    return backend is _default_cache.get(None) if name is None else backend.name == name


def _pick_default():
    ensure_plugins_loaded()
    errors = []
    platforms = config.platforms
    if platforms:  # PLAX_PLATFORMS: backend names or platforms, first that starts
        return _pick_from(platforms)
    for name in backend_names():
        spec = _backend_specs[name]
        inst = _instantiate(spec)
        if inst is not None:
            return inst
        errors.append(f"{name}: {spec.error}")
    raise BackendUnavailableError("no backend could be initialised"
                                  + (": " + "; ".join(errors) if errors else ""))


def _pick_from(platforms) -> Any:
    """The first of `platforms` (backend names, or platforms such as cpu/gpu that a backend
    runs on, tried in priority order) that starts."""
    errors = []
    for want in platforms:
        names = [want] if want in _backend_specs else backend_names()
        for name in names:
            spec = _backend_specs[name]
            inst = _instantiate(spec)
            if inst is None:
                errors.append(f"{name}: {spec.error}")
            elif name == want or inst.platform == want or (
                    want == "cuda" and inst.platform == "gpu"):
                return inst
    raise BackendUnavailableError(
        f"none of the platforms {', '.join(platforms)} (PLAX_PLATFORMS / config 'platforms') "
        f"could be started; installed backends: {', '.join(backend_names())}"
        + ("; " + "; ".join(errors) if errors else ""))


def validate_backend_name(name: str) -> None:
    ensure_plugins_loaded()
    if name not in _backend_specs:
        raise BackendUnavailableError(
            f"unknown backend '{name}'; installed backends: {', '.join(backend_names())}")


def _on_config_change(name: str) -> None:
    if name in ("backend", "platforms"):
        _default_cache.clear()


config.on_change(_on_config_change)


# ---------------------------------------------------------------------------------------------
# Plugin discovery and loading

# Built-in plugins load through the same function as third-party ones; an entry point of the
# same name (plax-core declares one for the reference backend) is the same plugin.
_BUILTIN_PLUGINS = {"reference": ("plax-core", "plax._src.backends.reference")}
# Core modules that register rules when imported. They are imported before any plugin runs:
# imported first from inside a plugin's hook, their rules would count as that plugin's (and be
# removed with it if it failed).
_CORE_RULE_MODULES = ("plax.lax",)


class PluginInfo(Record):
    name: str
    distribution: str
    module: str
    status: str = "found"   # found | loaded | failed | disabled
    error: str | None = None


_plugins: dict[str, PluginInfo] = {}
_loaded = False
_loading = False
_load_lock = threading.RLock()
_pm = None


def _plugin_manager():
    global _pm
    if _pm is None:
        import pluggy
        from plax import hookspecs
        _pm = pluggy.PluginManager("plax")
        _pm.add_hookspecs(hookspecs)
    return _pm


_GROUP = "plax.plugins"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _read_group(path: str, group: str) -> list[tuple[str, str]]:
    """The (name, value) entries of `group` in an entry_points.txt (INI: `[group]` headers,
    `name = value` lines, `#` comments, as importlib.metadata reads them)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    out, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] == "#":
            continue
        if line[0] == "[" and line[-1] == "]":
            inside = line[1:-1].strip() == group
        elif inside and "=" in line:
            name, value = line.split("=", 1)
            out.append((name.strip(), value.strip()))
    return out


def _dist_name(meta_dir: str, fallback: str) -> str:
    """The `Name:` header of a distribution's METADATA (PKG-INFO for an egg-info)."""
    for fname in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, fname), encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Name:"):
                        return line[5:].strip()
                    if not line.strip():  # the end of the headers
                        break
        except OSError:
            continue
    return fallback


def _scan_entry_points(group: str):
    """[(name, value, distribution)] of `group` as importlib.metadata.entry_points finds them
    (sys.path order, directory order within one, the first distribution of each normalized
    name), read straight from the entry_points.txt files: importing
    importlib.metadata (email, csv, zipfile, pathlib...) and building every distribution's
    objects costs ~15 ms of a new process's first jitted call. None where that reading might
    differ from importlib.metadata's (a zip or other non-directory on sys.path, a finder on
    sys.meta_path that supplies distributions itself): the caller asks importlib.metadata."""
    import sys
    for finder in sys.meta_path:
        if hasattr(finder, "find_distributions") and \
                getattr(finder, "__module__", "") != "_frozen_importlib_external" and \
                getattr(finder, "__name__", "") != "PathFinder":
            return None
    seen: set = set()
    out = []
    for entry in sys.path:
        root = entry or "."
        if root.lower().endswith(".egg"):
            return None  # an egg directory: its EGG-INFO is read by importlib.metadata
        try:
            names = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip archive: importlib.metadata reads inside it
        except OSError:
            continue  # missing, unreadable: importlib.metadata finds nothing there either
        for n in names:
            if not n.lower().endswith((".dist-info", ".egg-info")):
                continue
            stem = n.rpartition(".")[0].partition("-")[0]
            key = _normalized(stem)
            if key in seen:
                continue
            seen.add(key)
            meta = os.path.join(root, n)
            eps = _read_group(os.path.join(meta, "entry_points.txt"), group)
            if eps:
                dist = _dist_name(meta, stem)
                out.extend((name, value, dist) for name, value in eps)
    return out


def _entry_points(group: str) -> list[tuple[str, str, str]]:
    scanned = _scan_entry_points(group)
    if scanned is not None:
        return scanned
    import importlib.metadata
    return [(ep.name, ep.value,
             ep.dist.name if getattr(ep, "dist", None) is not None else "?")
            for ep in importlib.metadata.entry_points(group=group)]


def discover() -> tuple[dict[str, PluginInfo], list[str]]:
    """Entry points of group `plax.plugins`, recorded without loading them, and the clashes
    (two distributions declaring one plugin name; the first one found is kept)."""
    found: dict[str, PluginInfo] = {}
    clashes: list[str] = []
    for name, value, dist in _entry_points(_GROUP):
        if name in found:
            clashes.append(f"two distributions declare the plax plugin '{name}': "
                           f"'{found[name].distribution}' and '{dist}'")
            continue
        found[name] = PluginInfo(name, dist, value)
    for name, (dist, module) in _BUILTIN_PLUGINS.items():
        found.setdefault(name, PluginInfo(name, dist, module))
    return found, clashes


def ensure_plugins_loaded() -> None:
    if _loaded:
        return
    load_plugins()


def load_plugins() -> None:
    """Load every discovered plugin once. A plugin that fails to import or register, or whose
    registrations clash with another's (a rule registered twice, a primitive name taken), is
    skipped with a PluginWarning naming both sides; the rest keeps working. Rules registered
    for a backend no plugin provides (a misspelt name) warn too."""
    global _loaded, _loading
    with _load_lock:
        # _loading: a plugin asking for the registry while it loads (this thread holds the
        # lock); other threads wait on the lock and see _loaded only once loading is done
        if _loaded or _loading:
            return
        _loading = True
        try:
            _load_all()
        finally:
            _loaded, _loading = True, False


def _load_all() -> None:
    """The body of load_plugins, under its lock."""
    for mod in _CORE_RULE_MODULES:
        importlib.import_module(mod)
    allow = config.plugins
    deny = set(config.disable_plugins or ())
    found, errors = discover()
    _plugins.update(found)
    for name, info in found.items():
        # the allow list selects among third-party plugins; built-ins are denied explicitly
        if name in deny or (allow is not None and name not in allow
                            and name not in _BUILTIN_PLUGINS):
            info.status = "disabled"
            continue
        load_plugin(info)
    for msg in errors + _unknown_backend_rules(found):
        problems.append(msg)
        warnings.warn(msg, PluginWarning, stacklevel=4)


def load_plugin(info: PluginInfo) -> bool:
    """Import one plugin module and run its hooks; on failure (a RegistrationError included:
    a rule or primitive name another plugin owns) warn and undo its registrations."""
    pm = _plugin_manager()
    with _owning(info.name):
        try:
            module = importlib.import_module(info.module)
            if pm.get_plugin(info.name) is None:
                pm.register(module, name=info.name)
            for impl in pm.hook.plax_register.get_hookimpls():
                if impl.plugin is module:
                    from plax.extend import registry as public_registry
                    impl.function(registry=public_registry)
        except Exception as e:  # noqa: BLE001 - one broken plugin must not break the rest
            _unregister_owner(info.name)
            if pm.get_plugin(info.name) is not None:
                pm.unregister(name=info.name)
            info.status = "conflict" if isinstance(e, RegistrationError) else "failed"
            info.error = f"{type(e).__name__}: {e}"
            where = ("" if isinstance(e, RegistrationError) else "\n" + "".join(
                traceback.format_exception(type(e), e, e.__traceback__)[-3:]))
            warnings.warn(
                f"plax plugin '{info.name}' from distribution '{info.distribution}' "
                f"(module {info.module}) failed to load and was skipped: {info.error}{where}",
                PluginWarning, stacklevel=3)
            return False
    info.status = "loaded"
    _plugins[info.name] = info
    return True


# backend names a rule may target without a warning although no plugin provides them now:
# the built-in ones (a plugin ships its xla lowering whether xla is installed or not)
KNOWN_BACKENDS = ("reference", "xla", "cupy")
problems: list[str] = []  # what load_plugins warned about (shown by `python -m plax info`)


def _unknown_backend_rules(found: dict) -> list[str]:
    """A warning per (plugin, backend) for rules targeting a backend nobody provides."""
    known = set(_backend_specs) | set(found) | set(KNOWN_BACKENDS)
    seen: dict = {}
    for (table, _), owner in _owners.items():
        for kind in ("impl[", "lowering["):
            if table.startswith(kind) and table[len(kind):-1] not in known:
                seen.setdefault((owner, table[len(kind):-1]), kind[:-1])
    return [f"plax plugin {_describe(owner)} registered {kind} rules for backend '{b}', which "
            f"no installed plugin provides (installed backends: {', '.join(sorted(_backend_specs))}"
            f"); a misspelt name? The rules are kept but nothing uses them"
            for (owner, b), kind in sorted(seen.items())]


def check_registrations() -> list[str]:
    """The warnings load_plugins gives about rules for unknown backends, for registrations
    made since (tests, plugins registering late)."""
    return _unknown_backend_rules(_plugins)


def _unregister_owner(owner: str) -> None:
    for (table_name, key), o in list(_owners.items()):
        if o != owner:
            continue
        del _owners[(table_name, key)]
        if table_name == "api":
            _api.pop(key, None)
        elif table_name.startswith("impl["):
            _impl.get(table_name[5:-1], {}).pop(key, None)
        elif table_name.startswith("lowering["):
            _lowering.get(table_name[9:-1], {}).pop(key, None)
        else:
            _tables.get(table_name, {}).pop(key, None)
    for name in [n for n, s in _backend_specs.items() if s.owner == owner]:
        del _backend_specs[name]
    _cache_clearers[:] = [(o, c) for o, c in _cache_clearers if o != owner]
    # forget the primitives it introduced, unless another plugin's rules still use them
    still_used = {key for _, key in _owners}
    for name in [n for n, o in _primitive_owners.items()
                 if o == owner and _primitives[n] not in still_used]:
        del _primitives[name], _primitive_owners[name]
    _default_cache.clear()


def plugins() -> dict[str, PluginInfo]:
    ensure_plugins_loaded()
    return dict(_plugins)


def get_api(name: str):
    obj = _api.get(name)
    if obj is None:
        ensure_plugins_loaded()
        obj = _api.get(name)
    return obj
