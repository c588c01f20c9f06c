"""Top-level functions of core: make_jaxpr, devices, device_put, backend selection, env info."""

from __future__ import annotations

import contextlib
import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from plax._src import dtypes, registry, tree_util
from plax._src.array import Array
from plax._src.config import config
from plax._src.core import (
    ClosedJaxpr, Jaxpr, ShapedArray, Token, Trace, Tracer, abstract_token, get_aval)
from plax._src.tracing import trace_to_jaxpr


def _static_set(static_argnums, nargs: int) -> tuple[int, ...]:
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    out = []
    for i in static_argnums:
        j = operator.index(i)
        if not -nargs <= j < nargs:
            raise ValueError(f"static_argnums contains {i}, but the function was called with "
                             f"{nargs} positional arguments")
        out.append(j % nargs)
    return tuple(sorted(set(out)))


def flatten_fun_args(fun: Callable, args: Sequence[Any], kwargs: dict, static_argnums=()):
    """Split a call into (flat function over dynamic leaves, leaves, in_tree, out_tree thunk)."""
    static = _static_set(static_argnums, len(args))
    dyn_args = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
    out_tree_box: list = []

    def flat_fun(*flat):
        d_args, kw = tree_util.tree_unflatten(in_tree, flat)
        it = iter(d_args)
        full = [a if i in static else next(it) for i, a in enumerate(args)]
        out = fun(*full, **kw)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves

    return flat_fun, leaves, in_tree, (lambda: out_tree_box[-1])


def _ref_args(flat_fun: Callable, leaves):
    """Ref arguments (plax.new_ref) of a traced function: their values go in, and their last
    values come out after the function's outputs."""
    from plax._src import state
    ref_pos = [i for i, x in enumerate(leaves) if state.is_ref(x)]
    in_avals = [x.aval.inner_aval if i in ref_pos else get_aval(x)
                for i, x in enumerate(leaves)]
    if not ref_pos:
        return flat_fun, in_avals, ref_pos

    def fun(*flat):
        flat = list(flat)
        for i in ref_pos:
            flat[i] = state.inner_ref(flat[i], leaves[i].aval)
        return list(flat_fun(*flat)) + [flat[i]._val for i in ref_pos]
    return fun, in_avals, ref_pos


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False) -> Callable[..., ClosedJaxpr]:
    """`make_jaxpr(f)(*args)` is the ClosedJaxpr of `f` traced on the avals of `args`."""

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        flat_fun, leaves, _, out_tree = flatten_fun_args(fun, args, kwargs, static_argnums)
        flat_fun, in_avals, ref_pos = _ref_args(flat_fun, leaves)
        name = getattr(fun, "__name__", "fun")
        jaxpr, consts, outs, refs = trace_to_jaxpr(flat_fun, in_avals,
                                                   name=f"make_jaxpr({name})", refs=True)
        nout = len(jaxpr.outvars) - len(refs) - len(ref_pos)
        if refs:  # Refs closed over: their values are consts, their last values outputs
            from plax._src.state import current_values
            n = len(jaxpr.invars) - len(refs)
            jaxpr = Jaxpr(jaxpr.constvars + jaxpr.invars[n:], jaxpr.invars[:n],
                          jaxpr.outvars, jaxpr.eqns)
            consts = consts + current_values(refs)
        closed = ClosedJaxpr(jaxpr, consts)
        if return_shape:
            shapes = [v.aval if v.aval is abstract_token else  # (a token: its type)
                      ShapeDtypeStruct(v.aval.shape, v.aval.dtype, v.aval.weak_type)
                      for v in jaxpr.outvars[:nout]]
            return closed, tree_util.tree_unflatten(out_tree(), shapes)
        return closed

    return wrapped


class ShapeDtypeStruct:
    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape, self.dtype, self.weak_type = tuple(shape), np.dtype(dtype), weak_type

    @property
    def aval(self):
        # traced at the canonical dtype, as JAX does (float64 is float32 unless x64 is on)
        return ShapedArray(self.shape, dtypes.canonicalize_dtype(self.dtype), self.weak_type)

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and other.shape == self.shape
                and other.dtype == self.dtype and other.weak_type == self.weak_type)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))


def eval_shape(fun: Callable, *args, **kwargs):
    """Output shapes/dtypes of `fun` without running it (as ShapeDtypeStructs)."""
    def leaf_aval(x):
        if isinstance(x, ShapeDtypeStruct):
            return x.aval
        return get_aval(x)
    flat_fun, leaves, _, out_tree = flatten_fun_args(fun, args, kwargs)
    jaxpr, _, _, refs = trace_to_jaxpr(flat_fun, [leaf_aval(x) for x in leaves],
                                       name="eval_shape", refs=True)
    outvars = jaxpr.outvars[:len(jaxpr.outvars) - len(refs)]
    return tree_util.tree_unflatten(
        out_tree(), [v.aval if v.aval is abstract_token else  # (a token: its type, as JAX)
                     ShapeDtypeStruct(v.aval.shape, v.aval.dtype, v.aval.weak_type)
                     for v in outvars])


# ---------------------------------------------------------------------------------------------
# Devices and placement


def devices(backend: str | None = None) -> list:
    """Every device of the backend: with plax.distributed, those of all processes."""
    return list(registry.get_backend(backend).devices())


def local_devices(process_index: int | None = None, backend: str | None = None) -> list:
    """The devices of this process (or of process `process_index`)."""
    if isinstance(process_index, str) and backend is None:  # local_devices("xla")
        process_index, backend = None, process_index
    b = registry.get_backend(backend)
    if process_index is None:
        return list(b.local_devices())
    return [d for d in b.devices() if d.process_index == process_index]


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    return len(registry.get_backend(backend).local_devices())


def process_index(backend: str | None = None) -> int:
    """This process's index in a plax.distributed run (0 in a single process)."""
    return registry.get_backend(backend).process_index()


def process_count(backend: str | None = None) -> int:
    """The number of processes of a plax.distributed run (1 in a single process)."""
    return registry.get_backend(backend).process_count()


def process_indices(backend: str | None = None) -> list[int]:
    return list(range(process_count(backend)))


def _renamed(old: str, new):
    def alias(backend: str | None = None):
        import warnings
        name = new.__name__
        warnings.warn(f"plax.{old} is the old name of plax.{name} (as in JAX, where it is "
                      f"deprecated); use plax.{name}", DeprecationWarning, stacklevel=2)
        return new(backend)
    alias.__name__ = old
    alias.__doc__ = f"Deprecated alias of `plax.{new.__name__}` (as JAX's `jax.{old}`)."
    return alias


host_count = _renamed("host_count", process_count)
host_id = _renamed("host_id", process_index)
host_ids = _renamed("host_ids", process_indices)


def default_backend() -> str:
    """The name of the backend eager operations run on now."""
    return registry.get_backend().name


def _backend_of_device(device):
    return registry.get_backend(device.backend_name)


def device_put(x: Any, device=None) -> Any:
    """Put every leaf of pytree `x` on `device` (a Device, or None for the default backend).

    With an explicit device the result is committed: later operations run on its backend.
    `device` may be a plax.sharding Sharding: a NamedSharding places each device's slice on
    it (one Array over the mesh's devices), a SingleDeviceSharding is its device."""
    from plax._src.sharding import Sharding, SingleDeviceSharding
    if isinstance(device, SingleDeviceSharding):
        device = next(iter(device.device_set))
    elif isinstance(device, Sharding):
        from plax._src import sharded
        return tree_util.tree_map(lambda leaf: leaf if isinstance(leaf, Tracer)
                                  else sharded.put(leaf, device), x)
    elif isinstance(device, (tuple, list, dict)):  # a tree prefix of x: one each
        if isinstance(device, dict) and isinstance(x, dict) and set(device) == set(x):
            return {k: device_put(x[k], device[k]) for k in x}
        if isinstance(x, (tuple, list)) and not isinstance(device, dict) \
                and len(x) == len(device):
            return type(x)(device_put(v, d) for v, d in zip(x, device))
        raise ValueError(f"device_put: {type(device).__name__} of devices/shardings does not "
                         f"match the structure of the value ({type(x).__name__})")
    if device is not None and not hasattr(device, "backend_name"):
        if isinstance(device, str):
            backend = registry.get_backend(device)
            device = backend.default_device()
        else:
            raise TypeError(f"device_put: expected a plax Device or a backend name, got "
                            f"{device!r}")
    backend = _backend_of_device(device) if device is not None else None

    def put(leaf):
        if isinstance(leaf, (Tracer, Token)):  # (a Token is a unit value, on no device)
            return leaf
        from plax._src.array import check_not_deleted
        from plax._src.dispatch import guard_transfer, to_buffer
        check_not_deleted([leaf])
        b = backend or (leaf._backend if type(leaf) is Array else registry.get_backend())
        if (type(leaf) is Array and leaf._backend is b
                and (device is None or leaf.device == device)):
            if device is None or leaf._committed:
                return leaf
            return Array(leaf._buf, leaf.aval, b, True)
        if type(leaf) is Array:
            guard_transfer("device_to_device", leaf.aval, device or b.name, explicit=True)
            return Array(b.put(leaf._value(), device), leaf.aval, b, device is not None)
        buf, aval = to_buffer(leaf, b, explicit=True)
        if device is not None and b.buffer_device(buf) != device:
            buf = b.put(np.asarray(b.to_numpy(buf)), device)
        return Array(buf, aval, b, device is not None)

    return tree_util.tree_map(put, x)


def device_get(x: Any) -> Any:
    """Copy every Array leaf of `x` to the host as a NumPy array (an explicit transfer)."""
    def get(v):
        if not isinstance(v, Array):
            return v
        from plax._src.dispatch import guard_transfer
        if v._backend.platform != "cpu":
            guard_transfer("device_to_host", v.aval, "host", explicit=True)
        return np.asarray(v._value())
    return tree_util.tree_map(get, x)


def block_until_ready(x: Any) -> Any:
    for leaf in tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


@contextlib.contextmanager
def default_backend_ctx(name: str):
    """`with plax.default_backend("xla"):` runs the block on that backend."""
    registry.get_backend(name)  # fail now, listing the installed backends
    with config.override("backend", name):
        yield


# ---------------------------------------------------------------------------------------------
# Environment report


def environment_info() -> str:
    import sys
    import plax
    from plax._src.backend import EAGER_ONLY
    lines = [f"plax:    {plax.__version__}", f"python:  {sys.version.split()[0]}",
             f"numpy:   {np.__version__}", "", "plugins:"]
    for name, info in sorted(registry.plugins().items()):
        extra = f"  ({info.error})" if info.error else ""
        lines.append(f"  {name:<14} {info.status:<9} {info.distribution} [{info.module}]{extra}")
    if registry.problems:
        lines += ["", "problems:"] + [f"  {p}" for p in registry.problems]
    lines += ["", "backends (priority order):"]
    for name in registry.backend_names():
        spec = registry._backend_specs[name]
        try:
            b = registry.get_backend(name)
            devs = ", ".join(repr(d) for d in b.devices())
            state = f"ok: {devs}"
        except Exception as e:  # noqa: BLE001 - report, don't fail
            state = f"unavailable: {e}"
        lines.append(f"  {name:<14} priority={spec.priority:<4} plugin={spec.owner}  {state}")
    lines += ["", "per plugin (primitives it defines, rules it registers):"]
    lines += plugin_report()
    prims = registry.primitives()
    lines += ["", f"primitives: {len(prims)}"]
    tables = ["jvp", "transpose", "batch"]
    lines.append("coverage (primitives lacking a rule):")
    for b in registry.backend_names():
        impl = registry._impl.get(b, {})
        low = registry._lowering.get(b, {})
        comp = registry._tables.get("composition", {})
        missing = sorted(n for n, p in prims.items()
                         if p not in impl and p not in low and p not in comp)
        # eager-only primitives (checkify's check) run eagerly through the host and are
        # refused inside compiled programs with advice: not missing, said apart
        eager = [n for n in missing if n in EAGER_ONLY]
        missing = [n for n in missing if n not in EAGER_ONLY]
        lines.append(f"  backend {b:<10} {len(prims) - len(missing)}/{len(prims)}"
                     + (f"  missing: {', '.join(missing)}" if missing else "")
                     + (f"  eager only: {', '.join(eager)}" if eager else ""))
    for t in tables:
        table = registry._tables.get(t, {})
        if t == "transpose":
            relevant = {n: p for n, p in prims.items() if p.linear_in}
        else:
            relevant = prims
        missing = sorted(n for n, p in relevant.items() if p not in table)
        lines.append(f"  {t:<17} {len(relevant) - len(missing)}/{len(relevant)}"
                     + (f"  missing: {', '.join(missing)}" if missing else ""))
    return "\n".join(lines)


def plugin_report(only: str | None = None) -> list[str]:
    """Lines naming, per plugin (plax-core included), the primitives it defines (a plugin's
    own primitives, namespaced by their distribution) and how many rules of each kind it
    registers."""
    import textwrap
    registry.ensure_plugins_loaded()
    owners = [registry.CORE_OWNER, *sorted(registry._plugins)]
    lines = []
    for owner in owners:
        if only is not None and owner != only:
            continue
        info = registry._plugins.get(owner)
        dist = info.distribution if info is not None else "plax-core"
        defined = sorted(n for n, o in registry._primitive_owners.items() if o == owner)
        counts: dict = {}
        for (table, _), o in registry._owners.items():
            if o == owner:
                counts[table] = counts.get(table, 0) + 1
        status = f" [{info.status}]" if info is not None and info.status != "loaded" else ""
        lines.append(f"  {owner} ({dist}){status}")
        if defined:
            names = ", ".join(n if owner == registry.CORE_OWNER else f"{dist}:{n}"
                              for n in defined)
            lines += textwrap.wrap(f"primitives ({len(defined)}): {names}", 96,
                                   initial_indent="    ", subsequent_indent="      ")
        if counts:
            rules = ", ".join(f"{t}={c}" for t, c in sorted(counts.items()))
            lines += textwrap.wrap(f"rules: {rules}", 96, initial_indent="    ",
                                   subsequent_indent="      ")
        if info is not None and info.error:
            lines.append(f"    error: {info.error}")
    return lines


def print_environment_info(return_string: bool = False):
    s = environment_info()
    if return_string:
        return s
    print(s)


# ---------------------------------------------------------------------------------------------
# Compile-time evaluation, live arrays, effects, host copies


class _CompileTimeEvalTrace(Trace):
    """The trace of an `ensure_compile_time_eval` block: a primitive on concrete values runs
    now (eagerly); one on a tracer goes to the trace the block was entered under."""

    def __init__(self, parent):
        self.parent = parent

    def _target(self, args):
        from plax._src.core import EVAL_TRACE
        return self.parent if any(isinstance(a, Tracer) for a in args) else EVAL_TRACE

    def process_primitive(self, prim, args, params):
        from plax._src.core import set_current_trace
        target = self._target(args)
        with set_current_trace(target):
            return target.process_primitive(prim, args, params)

    def process_custom_jvp_call(self, prim, fun, jvp, args, params):
        from plax._src.core import set_current_trace
        target = self._target(args)
        with set_current_trace(target):
            return target.process_custom_jvp_call(prim, fun, jvp, args, params)

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, args, params):
        from plax._src.core import set_current_trace
        target = self._target(args)
        with set_current_trace(target):
            return target.process_custom_vjp_call(prim, fun, fwd, bwd, args, params)

    def invalidate(self) -> None:
        pass

    is_valid = True


@contextlib.contextmanager
def ensure_compile_time_eval():
    """As jax.ensure_compile_time_eval: inside a traced function (jit, grad, vmap ...),
    operations on concrete values run now, giving Arrays (not tracers) that Python control flow
    can read; operations on the traced arguments are still traced."""
    from plax._src.core import current_trace, set_current_trace
    parent = current_trace()
    with set_current_trace(_CompileTimeEvalTrace(parent)):
        yield


def live_arrays(platform: str | None = None) -> list:
    """The Arrays alive (not deleted) on the backend `platform` names (a backend name or a
    platform such as 'cpu'; None: the default backend), as jax.live_arrays."""
    import gc
    if platform is None:
        backend = registry.get_backend()
    elif platform in registry.backend_names():
        backend = registry.get_backend(platform)
    else:
        backend = registry._pick_from([platform])
    from plax._src.array import DeletedBuffer
    return [o for o in gc.get_objects()
            if type(o) is Array and o._backend is backend and type(o._buf) is not DeletedBuffer]


def effects_barrier() -> None:
    """Wait until the computations launched so far have finished (and so their side effects,
    such as plax.debug.print's, have happened): every live Array of every started backend is
    waited on, as jax.effects_barrier waits on its runtime tokens."""
    import gc
    from plax._src.array import DeletedBuffer
    started = set(map(id, registry.started_backends()))
    for o in gc.get_objects():
        if type(o) is Array and id(o._backend) in started and \
                type(o._buf) is not DeletedBuffer:
            o._backend.block_until_ready(o._buf)


def copy_to_host_async(x: Any) -> Any:
    """Start copying every Array leaf of `x` to the host (a later np.asarray finds it there);
    returns `x`, as jax.copy_to_host_async."""
    for leaf in tree_util.tree_leaves(x):
        start = getattr(leaf, "copy_to_host_async", None)
        if start is not None:
            start()
    return x
