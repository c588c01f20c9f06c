"""plax.export (as jax.export): a jitted function staged for fixed argument shapes, lowered to
StableHLO by the xla backend, kept as an `Exported` (its calling convention: the argument and
result trees and avals, the platforms, the module as a StableHLO portable artifact) that
serializes to bytes, deserializes in another process, and is called from plax code eagerly,
under jit, and under grad (by the exported VJP functions serialized with it).

The serialized format is plax's own, versioned: a marker, the format version, a JSON header
(trees, avals, platforms, checks), the module, optionally the VJP's own serialization, and a
SHA-256 of all of it. Pytree nodes are written explicitly by name (tuple, list, dict with
string keys, None, OrderedDict, and types registered with `register_pytree_node_serialization`
/ `register_namedtuple_serialization`), never pickled. Shape polymorphism (symbolic
dimensions) and multi-platform modules are not implemented; their names raise saying so."""

from __future__ import annotations

import base64
import collections
import dataclasses
import json
import struct
from typing import Any, Callable, Sequence

import numpy as np

from plax._src import registry
from plax._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, eval_jaxpr
from plax._src.export_call import call_exported_p
from plax._src.tree_util import tree_flatten, tree_structure, tree_unflatten

# the calling convention of plax's exported modules: `main` takes the flat arguments (in
# `in_avals` order; no platform index, dimension variables or tokens) and returns the flat
# results. Versions plax can call; it writes the newest.
minimum_supported_calling_convention_version = 1
maximum_supported_calling_convention_version = 1

# the serialized format (bytes of `Exported.serialize`)
_MAGIC = b"PLAXEXPORT\x00"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<II")  # format version, header length
_DIGEST = 32  # SHA-256 of everything before it

_SHAPE_POLY = ("shape polymorphism (symbolic dimensions) is not implemented in plax.export: "
               "export one Exported per concrete shape")


class DisabledSafetyCheck:
    """A safety check to skip, as jax.export's: `DisabledSafetyCheck.platform()` lets an
    Exported run on a platform other than the ones it was exported for (on deserialization
    and call); `custom_call(target)` is accepted for compatibility (plax checks no custom
    call targets on export)."""

    def __init__(self, _impl: str):
        self._impl = _impl

    @classmethod
    def platform(cls) -> "DisabledSafetyCheck":
        return cls("platform")

    @classmethod
    def custom_call(cls, target_name: str) -> "DisabledSafetyCheck":
        return cls(f"custom_call:{target_name}")

    def is_custom_call(self) -> str | None:
        return self._impl[len("custom_call:"):] if self._impl.startswith("custom_call:") \
            else None

    def __str__(self):
        return self._impl
    __repr__ = __str__

    def __eq__(self, other) -> bool:
        return isinstance(other, DisabledSafetyCheck) and self._impl == other._impl

    def __hash__(self) -> int:
        return hash(self._impl)


@dataclasses.dataclass(frozen=True, eq=False)
class Exported:
    """A plax function lowered to StableHLO for fixed argument shapes (as jax.export.Exported).

    fun_name: the function's name (for messages). in_tree / out_tree: the PyTreeDefs of the
    (args, kwargs) it takes and of its result. in_avals / out_avals: the flat avals.
    in_shardings_hlo / out_shardings_hlo: None per leaf (one device, unspecified).
    nr_devices: 1. platforms: the platforms it was lowered for ("cpu", "cuda", ...).
    ordered_effects / unordered_effects: () (effectful functions are not exported).
    disabled_safety_checks: the DisabledSafetyChecks it was exported with.
    calling_convention_version: plax's module calling convention (see
    `maximum_supported_calling_convention_version`). mlir_module_serialized: the module as a
    StableHLO portable artifact (VHLO bytecode)."""

    fun_name: str
    in_tree: Any
    in_avals: tuple
    out_tree: Any
    out_avals: tuple
    in_shardings_hlo: tuple
    out_shardings_hlo: tuple
    nr_devices: int
    platforms: tuple
    ordered_effects: tuple
    unordered_effects: tuple
    disabled_safety_checks: tuple
    mlir_module_serialized: bytes
    calling_convention_version: int
    module_kept_var_idx: tuple
    uses_global_constants: bool
    _get_vjp: Callable[["Exported"], "Exported"] | None

    def mlir_module(self) -> str:
        """The StableHLO module as text (MLIR's custom syntax)."""
        return _xla_rule("export_text")(self.mlir_module_serialized)

    def __str__(self):
        return f"Exported(fun_name={self.fun_name}, ...)"
    __repr__ = __str__

    def in_shardings_jax(self, mesh=None) -> tuple:
        """The inputs' shardings: None each (exported for one device, unspecified)."""
        return (None,) * len(self.in_avals)

    def out_shardings_jax(self, mesh=None) -> tuple:
        return (None,) * len(self.out_avals)

    def has_vjp(self) -> bool:
        """Whether the VJP is available (exported here, or serialized with vjp_order >= 1)."""
        return self._get_vjp is not None

    def vjp(self) -> "Exported":
        """The exported VJP function: it takes the flat primal arguments followed by one
        cotangent per floating-point (or complex) output, and returns one cotangent per
        floating-point input (integer and boolean inputs and outputs have none)."""
        if self._get_vjp is None:
            raise ValueError(
                f"No VJP is available for Exported '{self.fun_name}': it was deserialized "
                "from a serialization without one; serialize with vjp_order=1 (or more) to "
                "differentiate it")
        return _cached(self, "vjp", lambda: self._get_vjp(self))

    def serialize(self, vjp_order: int = 0) -> bytes:
        """The Exported as bytes (plax's format), with `vjp_order` orders of its VJP (1:
        enough for grad of the deserialized function, 2: for grad of grad, ...)."""
        if not isinstance(vjp_order, int) or vjp_order < 0:
            raise ValueError(f"vjp_order must be a non-negative int, got {vjp_order!r}")
        return _serialize(self, vjp_order)

    def call(self, *args, **kwargs):
        """Call the exported function on arguments of the tree, shapes and dtypes it was
        exported for: eagerly, inside plax.jit, and under grad/vjp when the VJP is
        available. vmap refuses (no shape polymorphism)."""
        return _caller(self)(*args, **kwargs)


def _call_tree(exp: "Exported", args, kwargs):
    leaves, tree = tree_flatten((args, kwargs))
    if tree != exp.in_tree:
        raise ValueError(
            "The invocation args and kwargs must have the same pytree structure as when "
            f"the function '{exp.fun_name}' was exported: exported with {exp.in_tree}, "
            f"called with {tree}")
    outs = _flat_caller(exp)(*leaves)
    return tree_unflatten(exp.out_tree, list(outs))


def _cached(exp: "Exported", key: str, make: Callable) -> Any:
    """A value made once per Exported (its VJP, its callers), kept in the instance: a cycle
    through it is collected with it (a dataclasses.replace copy starts afresh)."""
    cache = exp.__dict__.setdefault("_cache", {})
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = make()
    return hit


def _inexact(avals) -> list[int]:
    """The positions of the floating-point (and complex) avals: those with cotangents."""
    return [i for i, a in enumerate(avals) if np.issubdtype(np.dtype(a.dtype), np.inexact)]


def _flat_caller(exp: Exported) -> Callable:
    """The flat function calling `exp`: the primitive, wrapped in a custom_vjp whose backward
    pass calls the exported VJP where one is available."""
    return _cached(exp, "flat", lambda: _make_flat_caller(exp))


def _make_flat_caller(exp: Exported) -> Callable:
    def f_flat(*args):
        return call_exported_p.bind(*args, exported=exp)

    custom_vjp = registry.get_api("custom_vjp") if exp.has_vjp() else None
    if custom_vjp is None:
        caller = f_flat
    else:
        fin, fout = _inexact(exp.in_avals), _inexact(exp.out_avals)
        caller = custom_vjp(f_flat)

        def fwd(*args):  # through the custom_vjp again: grad of grad differentiates it
            return caller(*args), args

        def bwd(args, cts):
            got = exp.vjp().call(*args, *[cts[j] for j in fout])
            full: list = [None] * len(args)
            for i, c in zip(fin, got):
                full[i] = c
            return tuple(full)
        caller.defvjp(fwd, bwd)
    return caller


def _caller(exp: Exported) -> Callable:
    """Exported.call's function of (args, kwargs): under plax.jit where plax-transforms is
    installed (eagerly, jit's fast path: the tree checked and the program compiled once per
    signature; inside other traces, one nested call)."""
    def make():
        def call_exported(*args, **kwargs):
            return _call_tree(exp, args, kwargs)
        call_exported.__name__ = f"call_exported({exp.fun_name})"
        jit = registry.get_api("jit")
        return call_exported if jit is None else jit(call_exported)
    return _cached(exp, "call", make)


# ---------------------------------------------------------------------------------------------
# export


def _xla_rule(table: str) -> Callable:
    """The xla backend's export support (registered by plax-backend-xla)."""
    registry.ensure_plugins_loaded()
    rule = registry.rules(table).get("xla")
    if rule is None:
        raise NotImplementedError(
            "plax.export lowers to StableHLO with the xla backend, which is not installed: "
            "pip install plax-backend-xla")
    return rule


def _canonical(platform: str) -> str:
    """A platform as jax.export names it ("gpu" is "cuda")."""
    platform = str(platform).lower()
    return "cuda" if platform == "gpu" else platform


def _xla_platform() -> str:
    _xla_rule("export")
    return _canonical(registry.get_backend("xla").platform)


def default_export_platform() -> str:
    """The platform `export` lowers for by default: the xla backend's ('cpu', 'cuda', ...)."""
    return _xla_platform()


def export(fun_jit, *, platforms: Sequence[str] | None = None,
           disabled_checks: Sequence[DisabledSafetyCheck] = ()) -> Callable[..., Exported]:
    """`export(plax.jit(f))(*args_specs, **kwargs_specs)`: the Exported of `f` for arguments
    of these shapes and dtypes (ShapeDtypeStructs or arrays), as jax.export.export.
    `platforms`: the platform to lower for (default: `default_export_platform()`); plax
    lowers for the xla backend's own platform, one at a time."""
    wrapped = registry.get_api("stages.Wrapped")
    if wrapped is None or not isinstance(fun_jit, wrapped):
        raise ValueError(f"Function to be exported must be the result of `plax.jit` but is: "
                         f"{fun_jit!r}")
    checks = tuple(disabled_checks)
    for c in checks:
        if not isinstance(c, DisabledSafetyCheck):
            raise TypeError(f"disabled_checks takes DisabledSafetyCheck values "
                            f"(DisabledSafetyCheck.platform(), ...), got {c!r}")

    def do_export(*args_specs, **kwargs_specs) -> Exported:
        here = _xla_platform()
        plats = (here,) if platforms is None else tuple(_canonical(p) for p in platforms)
        if len(plats) != 1:
            raise NotImplementedError(
                f"multi-platform export (platforms={plats!r}) is not implemented in "
                "plax.export: export once per platform")
        if plats[0] != here:
            raise NotImplementedError(
                f"plax.export lowers with the xla backend for its own platform ({here!r}); "
                f"cross-platform export for {plats[0]!r} is not implemented: export on a "
                f"machine whose xla backend runs {plats[0]!r}")
        _reject_symbolic((args_specs, kwargs_specs))
        traced = fun_jit.trace(*args_specs, **kwargs_specs)
        return _export_traced(traced, plats, checks)
    return do_export


def _reject_symbolic(specs) -> None:
    for leaf in tree_flatten(specs)[0]:
        shape = getattr(leaf, "shape", ())
        if any(not isinstance(d, (int, np.integer)) for d in shape):
            raise NotImplementedError(f"{_SHAPE_POLY} (got shape {tuple(shape)!r})")


def _export_traced(traced, platforms, checks) -> Exported:
    closed, consts = traced.jaxpr, list(traced.consts)
    if any(isinstance(c, Tracer) for c in consts):
        raise ValueError(f"plax.export of '{traced.fun_name}': the function closes over "
                         "values being traced (export it outside of transformations)")
    if traced.has_refs:
        raise NotImplementedError(f"plax.export of '{traced.fun_name}': functions using "
                                  "Refs (plax.new_ref) cannot be exported")
    jaxpr = closed.jaxpr
    k = len(consts)
    if k:  # the leading inputs are values closed over: constants of the module
        jaxpr = Jaxpr(list(jaxpr.invars[:k]), list(jaxpr.invars[k:]), jaxpr.outvars,
                      jaxpr.eqns)
    closed = ClosedJaxpr(jaxpr, consts)
    blob = _xla_rule("export")(closed)
    in_tree, out_tree = traced.in_tree, traced.out_tree
    in_avals, out_avals = tuple(closed.in_avals), tuple(closed.out_avals)
    _check_serializable_tree(in_tree, "in_tree")
    _check_serializable_tree(out_tree, "out_tree")

    def get_vjp(primal: Exported) -> Exported:
        return _export_vjp(primal, closed)

    return _exported(traced.fun_name, in_tree, in_avals, out_tree, out_avals, 1, platforms,
                     checks, blob, maximum_supported_calling_convention_version,
                     range(len(in_avals)), get_vjp)


def _exported(fun_name, in_tree, in_avals, out_tree, out_avals, nr_devices, platforms, checks,
              module, version, kept, get_vjp) -> Exported:
    """An Exported with what every plax one has alike: no shardings (one device,
    unspecified), no effects, no global constants."""
    return Exported(
        fun_name=fun_name, in_tree=in_tree, in_avals=tuple(in_avals), out_tree=out_tree,
        out_avals=tuple(out_avals), in_shardings_hlo=(None,) * len(in_avals),
        out_shardings_hlo=(None,) * len(out_avals), nr_devices=nr_devices,
        platforms=tuple(platforms), ordered_effects=(), unordered_effects=(),
        disabled_safety_checks=tuple(checks), mlir_module_serialized=module,
        calling_convention_version=version, module_kept_var_idx=tuple(kept),
        uses_global_constants=False, _get_vjp=get_vjp)


def _export_vjp(primal: Exported, closed: ClosedJaxpr) -> Exported:
    """The Exported of the VJP of `closed` (see Exported.vjp for its arguments and results)."""
    jit, vjp = registry.get_api("jit"), registry.get_api("vjp")
    if jit is None or vjp is None:
        raise NotImplementedError("the VJP of an Exported needs plax-transforms (grad, vjp)")
    n = len(primal.in_avals)
    fin, fout = _inexact(primal.in_avals), _inexact(primal.out_avals)

    def fun_vjp(*args):
        primals, cts = list(args[:n]), list(args[n:])
        if not fin:
            return []
        if not fout:  # no floating-point output: every cotangent is zero
            from plax import numpy as pnp
            return [pnp.zeros_like(primals[i]) for i in fin]

        def g(*xs):
            full = list(primals)
            for i, x in zip(fin, xs):
                full[i] = x
            outs = eval_jaxpr(closed.jaxpr, closed.consts, *full)
            return [outs[j] for j in fout]
        _, pullback = vjp(g, *[primals[i] for i in fin])
        return list(pullback(cts))

    fun_vjp.__name__ = f"{primal.fun_name}_vjp"
    from plax._src.api import ShapeDtypeStruct
    specs = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in primal.in_avals]
    specs += [ShapeDtypeStruct(primal.out_avals[j].shape, primal.out_avals[j].dtype)
              for j in fout]
    return export(jit(fun_vjp), platforms=primal.platforms,
                  disabled_checks=primal.disabled_safety_checks)(*specs)


# ---------------------------------------------------------------------------------------------
# symbolic shapes: not implemented (see _SHAPE_POLY)


class SymbolicScope:
    """A scope of symbolic dimension variables (jax.export.SymbolicScope): shape
    polymorphism is not implemented in plax.export, so making one raises."""

    def __init__(self, constraints_str: Sequence[str] = ()):
        raise NotImplementedError(_SHAPE_POLY)


def symbolic_shape(shape_spec, *, constraints: Sequence[str] = (), scope=None, like=None):
    """jax.export.symbolic_shape: raises NotImplementedError (no shape polymorphism)."""
    raise NotImplementedError(f"{_SHAPE_POLY} (symbolic_shape({shape_spec!r}))")


def symbolic_args_specs(args, shapes_specs, constraints: Sequence[str] = (), scope=None):
    """jax.export.symbolic_args_specs: raises NotImplementedError (no shape polymorphism)."""
    raise NotImplementedError(f"{_SHAPE_POLY} (symbolic_args_specs)")


def is_symbolic_dim(p) -> bool:
    """Whether `p` is a symbolic dimension: never in plax (it makes none)."""
    return False


# ---------------------------------------------------------------------------------------------
# pytree node serialization (as JAX's: by registered name, never pickled)

_by_type: dict[type, tuple[str, Callable]] = {}
_by_name: dict[str, tuple[type, Callable, Callable]] = {}


def _is_namedtuple(t) -> bool:
    return (isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")
            and all(isinstance(f, str) for f in t._fields))


def _registration(nodetype):
    import optree
    from plax._src.tree_util import NAMESPACE
    return optree.register_pytree_node.get(nodetype, namespace=NAMESPACE)


def register_pytree_node_serialization(nodetype: type, *, serialized_name: str,
                                       serialize_auxdata: Callable[[Any], bytes],
                                       deserialize_auxdata: Callable[[bytes], Any],
                                       from_children: Callable | None = None) -> type:
    """Make pytree nodes of `nodetype` (registered with plax.tree_util.register_pytree_node,
    or a namedtuple with `from_children`) serializable in an Exported's in_tree/out_tree,
    under `serialized_name`, as jax.export.register_pytree_node_serialization. Returns
    `nodetype` (usable as a class decorator)."""
    if nodetype in _by_type:
        raise ValueError(f"Duplicate serialization registration for type `{nodetype}`. "
                         f"Previous registration was with serialized_name "
                         f"`{_by_type[nodetype][0]}`.")
    if serialized_name in _by_name:
        raise ValueError(f"Duplicate serialization registration for serialized_name "
                         f"`{serialized_name}`. Previous registration was for type "
                         f"`{_by_name[serialized_name][0]}`.")
    if from_children is None:
        reg = _registration(nodetype)
        if reg is None:
            raise ValueError(f"If `from_children` is not present, you must call first "
                             f"`plax.tree_util.register_pytree_node` for `{nodetype}`")
        unflatten = reg.unflatten_func

        def from_children(aux, children):
            return unflatten(aux, children)
    _by_type[nodetype] = (serialized_name, serialize_auxdata)
    _by_name[serialized_name] = (nodetype, deserialize_auxdata, from_children)
    return nodetype


def register_namedtuple_serialization(nodetype: type, *, serialized_name: str) -> type:
    """Make a namedtuple type serializable in an Exported's trees (its field names are kept
    and checked on deserialization), as jax.export.register_namedtuple_serialization."""
    if not _is_namedtuple(nodetype):
        raise ValueError("Use `plax.export.register_pytree_node_serialization` for types "
                         "other than `collections.namedtuple`.")

    def serialize_auxdata(aux) -> bytes:
        return json.dumps(list(nodetype._fields)).encode()

    def deserialize_auxdata(data: bytes):
        return json.loads(data.decode())

    def from_children(fields, children):
        if list(fields) != list(nodetype._fields):
            raise ValueError(f"namedtuple {serialized_name!r} was serialized with fields "
                             f"{fields} but {nodetype.__name__} has {list(nodetype._fields)}")
        return nodetype(*children)
    return register_pytree_node_serialization(
        nodetype, serialized_name=serialized_name, serialize_auxdata=serialize_auxdata,
        deserialize_auxdata=deserialize_auxdata, from_children=from_children)


def _ordereddict_keys(keys) -> bytes:
    if not all(isinstance(k, str) for k in keys):
        raise NotImplementedError("Serialization of collections.OrderedDict is supported only "
                                  f"when the keys are strings. Found keys: {list(keys)}.")
    return json.dumps(list(keys)).encode()


register_pytree_node_serialization(
    collections.OrderedDict, serialized_name="collections.OrderedDict",
    serialize_auxdata=_ordereddict_keys, deserialize_auxdata=lambda b: json.loads(b.decode()),
    from_children=lambda keys, children: collections.OrderedDict(zip(keys, children)))


def _node_aux(spec) -> Any:
    """The aux data of the top node of `spec` (a registered type's flatten gives it)."""
    one = spec.one_level()
    inst = one.unflatten([object() for _ in range(one.num_children)])
    if spec.type is collections.OrderedDict:
        return tuple(inst.keys())
    if _is_namedtuple(spec.type) and _registration(spec.type) is None:
        return None
    out = _registration(spec.type).flatten_func(inst)
    return out[1]


def _encode_tree(spec) -> dict:
    if spec.is_leaf():
        return {"t": "leaf"}
    kind = spec.type
    children = [_encode_tree(c) for c in spec.children()]
    if kind is type(None):
        return {"t": "none"}
    if kind is tuple:
        return {"t": "tuple", "c": children}
    if kind is list:
        return {"t": "list", "c": children}
    if kind is dict:
        keys = list(spec.entries())
        if not all(isinstance(k, str) for k in keys):
            raise NotImplementedError(f"plax.export serializes dicts with string keys only; "
                                      f"found keys {keys}")
        return {"t": "dict", "k": keys, "c": children}
    reg = _by_type.get(kind)
    if reg is None:
        what = "namedtuple" if _is_namedtuple(kind) else "pytree node"
        helper = "register_namedtuple_serialization" if _is_namedtuple(kind) else \
            "register_pytree_node_serialization"
        raise ValueError(f"Cannot serialize PyTreeDef containing an unregistered {what} "
                         f"type `{kind}`. Use `plax.export.{helper}`.")
    name, ser = reg
    aux = ser(_node_aux(spec))
    if not isinstance(aux, (bytes, bytearray)):
        raise TypeError(f"serialize_auxdata of {name!r} must return bytes, got "
                        f"{type(aux).__name__}")
    return {"t": "custom", "n": name, "a": base64.b64encode(bytes(aux)).decode(),
            "c": children}


def _check_serializable_tree(spec, what: str) -> None:
    try:
        _encode_tree(spec)
    except (ValueError, NotImplementedError) as e:
        raise type(e)(f"plax.export: the {what} cannot be serialized: {e}") from None


def _decode_node(d) -> Any:
    t = d["t"]
    if t == "leaf":
        return _LEAF
    if t == "none":
        return None
    children = [_decode_node(c) for c in d.get("c", [])]
    if t == "tuple":
        return tuple(children)
    if t == "list":
        return children
    if t == "dict":
        return dict(zip(d["k"], children, strict=True))
    if t == "custom":
        reg = _by_name.get(d["n"])
        if reg is None:
            raise ValueError(f"Cannot deserialize a PyTreeDef with a node registered for "
                             f"serialization as {d['n']!r}: register it first with "
                             "plax.export.register_pytree_node_serialization (or "
                             "register_namedtuple_serialization)")
        _, deser, from_children = reg
        return from_children(deser(base64.b64decode(d["a"])), children)
    raise ValueError(f"unknown pytree node kind {t!r}")


class _Leaf:
    """The leaves of a deserialized tree while its PyTreeDef is rebuilt."""


_LEAF = _Leaf()


def _decode_tree(d):
    return tree_structure(_decode_node(d))


# ---------------------------------------------------------------------------------------------
# the serialized format


def _dtype_of(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        from plax import dtypes
        t = getattr(dtypes, name, None)
        if t is None:
            raise ValueError(f"unknown dtype {name!r} in a serialized Exported") from None
        return np.dtype(t)


def _aval_json(a) -> dict:
    return {"shape": [int(d) for d in a.shape], "dtype": np.dtype(a.dtype).name,
            "weak": bool(getattr(a, "weak_type", False))}


def _aval_from(d) -> ShapedArray:
    return ShapedArray(tuple(d["shape"]), _dtype_of(d["dtype"]), bool(d["weak"]))


def _sha256(data: bytes) -> bytes:
    import hashlib  # (on first use: it loads OpenSSL)
    return hashlib.sha256(data).digest()


def _serialize(exp: Exported, vjp_order: int) -> bytes:
    vjp_blob = exp.vjp().serialize(vjp_order - 1) if vjp_order > 0 else b""
    module = bytes(exp.mlir_module_serialized)
    header = {
        "fun_name": exp.fun_name,
        "in_tree": _encode_tree(exp.in_tree),
        "out_tree": _encode_tree(exp.out_tree),
        "in_avals": [_aval_json(a) for a in exp.in_avals],
        "out_avals": [_aval_json(a) for a in exp.out_avals],
        "nr_devices": exp.nr_devices,
        "platforms": list(exp.platforms),
        "disabled_safety_checks": [str(c) for c in exp.disabled_safety_checks],
        "calling_convention_version": exp.calling_convention_version,
        "module_kept_var_idx": list(exp.module_kept_var_idx),
        "module_len": len(module),
        "vjp_len": len(vjp_blob),
    }
    head = json.dumps(header, sort_keys=True).encode()
    body = _MAGIC + _HEAD.pack(FORMAT_VERSION, len(head)) + head + module + vjp_blob
    return body + _sha256(body)


def deserialize(blob) -> Exported:
    """The Exported serialized in `blob` (bytes of Exported.serialize), as
    jax.export.deserialize. A blob of another format, another format version, or a
    corrupted one raises ValueError saying which."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError(f"deserialize takes the bytes of Exported.serialize(), got "
                        f"{type(blob).__name__}")
    blob = bytes(blob)
    if not blob.startswith(_MAGIC):
        raise ValueError("not a plax.export serialization (it lacks plax's marker; plax does "
                         "not read other formats, such as jax.export's)")
    n = len(_MAGIC)
    if len(blob) < n + _HEAD.size + _DIGEST:
        raise ValueError("corrupted plax.export serialization: truncated")
    version, head_len = _HEAD.unpack_from(blob, n)
    if version != FORMAT_VERSION:
        raise ValueError(f"plax.export serialization format version {version}; this plax "
                         f"reads version {FORMAT_VERSION}")
    body, digest = blob[:-_DIGEST], blob[-_DIGEST:]
    if _sha256(body) != digest:
        raise ValueError("corrupted plax.export serialization: its checksum does not match "
                         "its contents (truncated or altered bytes)")
    start = n + _HEAD.size
    try:
        h = json.loads(body[start:start + head_len].decode())
        pos = start + head_len
        module = body[pos:pos + h["module_len"]]
        vjp_blob = body[pos + h["module_len"]:pos + h["module_len"] + h["vjp_len"]]
        version = int(h["calling_convention_version"])
        in_tree, out_tree = _decode_tree(h["in_tree"]), _decode_tree(h["out_tree"])
        in_avals = tuple(_aval_from(a) for a in h["in_avals"])
        out_avals = tuple(_aval_from(a) for a in h["out_avals"])
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"corrupted plax.export serialization: malformed header ({e})"
                         ) from None
    if not (minimum_supported_calling_convention_version <= version
            <= maximum_supported_calling_convention_version):
        raise ValueError(
            f"the serialized Exported uses calling convention version {version}, outside "
            f"the range this plax supports [{minimum_supported_calling_convention_version}.."
            f"{maximum_supported_calling_convention_version}]")
    vjp = deserialize(vjp_blob) if vjp_blob else None
    return _exported(h["fun_name"], in_tree, in_avals, out_tree, out_avals,
                     int(h["nr_devices"]), h["platforms"],
                     [DisabledSafetyCheck(c) for c in h["disabled_safety_checks"]], module,
                     version, h["module_kept_var_idx"],
                     None if vjp is None else (lambda _primal, _v=vjp: _v))


__all__ = ["DisabledSafetyCheck", "Exported", "export", "deserialize",
           "register_pytree_node_serialization", "register_namedtuple_serialization",
           "maximum_supported_calling_convention_version",
           "minimum_supported_calling_convention_version", "default_export_platform",
           "SymbolicScope", "is_symbolic_dim", "symbolic_shape", "symbolic_args_specs",
           "call_exported_p"]
