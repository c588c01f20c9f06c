"""Closed jaxpr -> textual StableHLO module (`func.func @main`, nested jit as private functions
reached by `func.call`), written in MLIR's generic op syntax, which is stable across StableHLO
releases. Lowering rules, one per primitive, live in the `lower_*` modules and are registered
with `registry.add_lowering("xla", prim, rule)`; each is called as rule(ctx, *values, **params).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Sequence

import numpy as np

from plax.extend import ClosedJaxpr, Composition, Literal, UnsupportedPrimitiveError
from plax.extend import abstract_token
from plax.extend import registry as plax_registry
from plax.extend import dtypes

# ---------------------------------------------------------------------------------------------
# Types and values

_ELEMENT = {
    dtypes.bool_: "i1", dtypes.int8: "i8", dtypes.int16: "i16", dtypes.int32: "i32",
    dtypes.int64: "i64", dtypes.uint8: "ui8", dtypes.uint16: "ui16", dtypes.uint32: "ui32",
    dtypes.uint64: "ui64", dtypes.bfloat16: "bf16", dtypes.float16: "f16",
    dtypes.float32: "f32", dtypes.float64: "f64", dtypes.complex64: "complex<f32>",
    dtypes.complex128: "complex<f64>",
}


class LoweringError(RuntimeError):
    """A primitive cannot be lowered with these parameters, or a rule produced a wrong type."""


def element_type(dtype: np.dtype) -> str:
    try:
        return _ELEMENT[dtype]
    except KeyError:
        raise LoweringError(f"the xla backend has no StableHLO element type for dtype {dtype}"
                            ) from None


def tensor_type(shape: Sequence[int], dtype: np.dtype) -> str:
    if shape is TOKEN:
        return "!stablehlo.token"
    return "tensor<" + "".join(f"{d}x" for d in shape) + element_type(dtype) + ">"


class _TokenType:
    """The shape of a token-typed value (`!stablehlo.token`): a result type of `b.op` is
    `(TOKEN, None)`; a token Value's shape is TOKEN and its dtype None."""

    __slots__ = ()

    def __repr__(self):
        return "TOKEN"


TOKEN = _TokenType()


def value_type(aval) -> tuple:
    """The (shape, dtype) pair of a value of type `aval` (a token's: (TOKEN, None))."""
    return (TOKEN, None) if aval is abstract_token else (aval.shape, aval.dtype)


def physical(aval) -> tuple:
    """The (shape, dtype) of the buffer holding a value of type `aval` at run time: PJRT
    passes tokens in and out of programs as bool[0] arrays (as JAX does)."""
    return ((0,), np.dtype(np.bool_)) if aval is abstract_token else \
        (tuple(aval.shape), np.dtype(aval.dtype))


class Value:
    """An SSA value of the module being written: its name and its tensor type."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name: str, shape: Sequence[int], dtype: np.dtype):
        if shape is TOKEN:
            self.name, self.shape, self.dtype = name, TOKEN, None
        else:
            self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)

    @property
    def type(self) -> str:
        return tensor_type(self.shape, self.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return f"{self.name}: {self.type}"


def i64_array(values: Sequence[int]) -> str:
    """A DenseI64ArrayAttr (`array<i64: 1, 2>`), the form of most integer-list attributes."""
    values = [int(v) for v in values]
    return "array<i64" + (": " + ", ".join(map(str, values)) if values else "") + ">"


def dense_i64(rows: Sequence[Sequence[int]], ncols: int | None = None) -> str:
    """A 2-D i64 elements attribute (replica groups, source-target pairs, padding)."""
    rows = [[int(v) for v in r] for r in rows]
    ncols = len(rows[0]) if rows else (ncols or 0)
    body = "[" + ", ".join("[" + ", ".join(map(str, r)) + "]" for r in rows) + "]"
    return f"dense<{body}> : tensor<{len(rows)}x{ncols}xi64>"


def dense_literal(value: np.ndarray) -> str:
    """An elements attribute holding `value` exactly: its raw little-endian bytes in hex (one
    element when all are bitwise equal, a splat)."""
    arr = np.ascontiguousarray(value)
    if arr.size > 1:
        flat = arr.reshape(-1)
        raw = flat.view(np.uint8).reshape(flat.size, -1)
        if (raw == raw[0]).all():
            arr = flat[:1]
    return f'dense<"0x{arr.tobytes().hex().upper()}"> : {tensor_type(value.shape, value.dtype)}'


# ---------------------------------------------------------------------------------------------
# Writing functions


class FuncBuilder:
    """Appends operations to one function body (or one region); value names come from a counter
    shared by the function and all its regions, so they never clash."""

    def __init__(self, module: "ModuleLowering", counter=None):
        self.module = module
        self.lines: list[str] = []
        self._counter = counter if counter is not None else itertools.count()

    def fresh(self) -> str:
        return f"%{next(self._counter)}"

    def op(self, name: str, operands: Sequence[Value], results: Sequence[tuple], *,
           attrs: str | None = None, regions: Sequence[str] = ()) -> list[Value]:
        """Emit `name` in generic syntax; `results` are (shape, dtype) pairs."""
        results = [(s, None) if s is TOKEN else (tuple(s), np.dtype(d)) for s, d in results]
        n = len(results)
        base = self.fresh() if n else ""
        if n == 1:
            outs = [Value(base, *results[0])]
            lhs = f"{base} = "
        else:
            outs = [Value(f"{base}#{i}", *r) for i, r in enumerate(results)]
            lhs = f"{base}:{n} = " if n else ""
        line = f'{lhs}"{name}"({", ".join(o.name for o in operands)})'
        if regions:
            line += " (" + ", ".join(regions) + ")"
        if attrs:
            line += " {" + attrs + "}"
        out_types = [tensor_type(*r) for r in results]
        line += (f" : ({', '.join(o.type for o in operands)}) -> "
                 + (out_types[0] if n == 1 else "(" + ", ".join(out_types) + ")"))
        loc = self.module.loc
        if loc is not None:
            line += loc
        self.lines.append(line)
        return outs

    def op1(self, name: str, operands: Sequence[Value], shape=None, dtype=None, *,
            attrs: str | None = None, regions: Sequence[str] = ()) -> Value:
        """A one-result op; the result's shape and dtype default to the first operand's."""
        shape = operands[0].shape if shape is None else shape
        dtype = operands[0].dtype if dtype is None else dtype
        return self.op(name, operands, [(shape, dtype)], attrs=attrs, regions=regions)[0]

    def region(self, arg_types: Sequence[tuple], body: Callable[..., Sequence[Value]],
               terminator: str = "stablehlo.return") -> str:
        """A one-block region: body(builder, *block_args) returns the values it yields."""
        sub = FuncBuilder(self.module, self._counter)
        args = [Value(sub.fresh(), *t) for t in arg_types]
        outs = list(body(sub, *args))
        sub.lines.append(f'"{terminator}"({", ".join(o.name for o in outs)}) : '
                         f'({", ".join(o.type for o in outs)}) -> ()')
        header = "^bb0(" + ", ".join(f"{a.name}: {a.type}" for a in args) + "):"
        return "{\n" + header + "\n" + _indent(sub.lines, 2) + "\n}"

    def const(self, value: Any, dtype: np.dtype | None = None) -> Value:
        arr = np.asarray(value) if dtype is None else np.asarray(value).astype(dtype)
        return self.op1("stablehlo.constant", [], arr.shape, arr.dtype,
                        attrs=f"value = {dense_literal(arr)}")


def _indent(lines: Sequence[str], n: int) -> str:
    pad = " " * n
    return "\n".join(pad + ln.replace("\n", "\n" + pad) for ln in lines)


def _func_text(visibility: str, name: str, args: Sequence[Value], arg_attrs: Sequence[str],
               results: Sequence[Value], body: Sequence[str],
               res_attrs: Sequence[str] | None = None) -> str:
    params = ", ".join(f"{a.name}: {a.type}" + (f" {{{attr}}}" if attr else "")
                       for a, attr in zip(args, arg_attrs))
    res_types = ", ".join(r.type for r in results)
    if res_attrs is not None and any(res_attrs):
        res_types = ", ".join(r.type + (f" {{{attr}}}" if attr else "")
                              for r, attr in zip(results, res_attrs))
        ret_types = ", ".join(r.type for r in results)
        ret = f'"func.return"({", ".join(r.name for r in results)}) : ({ret_types}) -> ()'
        return (f"func.func {visibility} @{name}({params}) -> ({res_types}) {{\n"
                + _indent([*body, ret], 2) + "\n}")
    ret = (f'"func.return"({", ".join(r.name for r in results)}) : ({res_types}) -> ()')
    return (f"func.func {visibility} @{name}({params}) -> ({res_types}) {{\n"
            + _indent([*body, ret], 2) + "\n}")


def symbol_name(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "fun"
    return s if s[0].isalpha() or s[0] == "_" else "f_" + s


# ---------------------------------------------------------------------------------------------
# Lowering jaxprs


class AxisEnv:
    """The mapped axis of a pmap being lowered: its name and size (one replica per index)."""

    __slots__ = ("name", "size")

    def __init__(self, name: Any, size: int):
        self.name, self.size = name, size


class RuleContext:
    """What a lowering rule sees besides its operands (documented for plugin authors as
    plax.extend.lowering.XlaRuleContext; `b` is a FuncBuilder, an XlaBuilder)."""

    __slots__ = ("b", "module", "prim", "avals_in", "avals_out")

    def __init__(self, b: FuncBuilder, prim, avals_in, avals_out):
        self.b, self.module, self.prim = b, b.module, prim
        self.avals_in, self.avals_out = avals_in, avals_out

    @property
    def aval_out(self):
        return self.avals_out[0]


# primitives defined as compositions of others (define_primitive(composition=...)): lowered
# as their jaxpr where no lowering rule is registered
_compositions = plax_registry.rules("composition")


class ModuleLowering:
    """One module: the private functions of nested jaxprs, and the axis environment."""

    def __init__(self, axis_env: AxisEnv | None = None, spmd: Any = None):
        self.axis_env = axis_env
        # a partitioned program: its partitions' devices (plax Devices, in order) and mesh
        self.spmd = spmd
        # the location of the operations written now (` loc("scope/sin")` for an equation
        # traced in a plax.named_scope, else None), and the scope nested jaxprs lower in
        self.loc: str | None = None
        self.scope = ""
        self.table = plax_registry.lowering_table("xla")
        self.functions: list[str] = []
        self._private: dict[int, tuple[str, ClosedJaxpr]] = {}
        self._names: set[str] = {"main"}
        self.host_callbacks: list[Callable] = []

    def add_host_callback(self, fn: Callable) -> int:
        """Register a host function the module calls (a custom call's `index` attribute)."""
        self.host_callbacks.append(fn)
        return len(self.host_callbacks) - 1

    def private_function(self, closed: ClosedJaxpr, name: str) -> str:
        """The symbol of a private function computing `closed` (lowered once per module)."""
        hit = self._private.get(id(closed))
        if hit is not None and hit[1] is closed:
            return hit[0]
        base = symbol_name(name)
        fname = base
        for k in itertools.count(1):
            if fname not in self._names:
                break
            fname = f"{base}_{k}"
        self._names.add(fname)
        self._private[id(closed)] = (fname, closed)
        b = FuncBuilder(self)
        args = [Value(b.fresh(), *value_type(a)) for a in closed.in_avals]
        consts = [b.const(np.asarray(c)) for c in closed.consts]
        outs = lower_jaxpr(b, closed.jaxpr, consts, args)
        self.functions.append(_func_text("private", fname, args, [""] * len(args), outs,
                                         b.lines))
        return fname

    def module_text(self, name: str, main: str, num_replicas: int = 1) -> str:
        if self.host_callbacks:  # a unique name: the text is the key of its callbacks
            name = f"{name}_callbacks{next(_callback_modules)}"
        parts = len(self.spmd.devices) if self.spmd is not None else 1
        attrs = (f"mhlo.num_replicas = {num_replicas} : i32, "
                 f"mhlo.num_partitions = {parts} : i32")
        text = (f"module @{symbol_name(name)} attributes {{{attrs}}} {{\n"
                + _indent([main, *self.functions], 2) + "\n}\n")
        if self.host_callbacks:
            _pending_callbacks[text] = list(self.host_callbacks)
        return text


# host callbacks of lowered modules not yet compiled, by module text (unique when it has any)
_callback_modules = itertools.count()
_pending_callbacks: dict[str, list[Callable]] = {}


def take_host_callbacks(text: str) -> list[Callable]:
    """The host functions the module `text` calls (handed over once, to its executable)."""
    return _pending_callbacks.pop(text, [])


def call_closed(b: FuncBuilder, closed: ClosedJaxpr, name: str, args: Sequence[Value]
                ) -> list[Value]:
    """A func.call of the private function computing `closed` on `args`."""
    fname = b.module.private_function(closed, name)
    results = [value_type(a) for a in closed.out_avals]
    return b.op("func.call", list(args), results, attrs=f"callee = @{fname}")


def inline_closed(b: FuncBuilder, closed: ClosedJaxpr, args: Sequence[Value]) -> list[Value]:
    """The equations of `closed` emitted in place (inside a region, say) on `args`."""
    consts = [b.const(np.asarray(c)) for c in closed.consts]
    return lower_jaxpr(b, closed.jaxpr, consts, args)


def _literal(b: FuncBuilder, lit: Literal) -> Value:
    return b.const(np.asarray(lit.val, dtype=lit.aval.dtype))


def zeros(b: FuncBuilder, shape: Sequence[int], dtype: np.dtype) -> Value:
    z = b.const(np.zeros((), dtype))
    if not shape:
        return z
    return b.op1("stablehlo.broadcast_in_dim", [z], shape, dtype,
                 attrs=f"broadcast_dimensions = {i64_array(())}")


def apply_rule(b: FuncBuilder, prim, ins: Sequence[Value], avals_in, avals_out,
               params: dict) -> list[Value]:
    """Lower one equation; returns one Value per output, checked against the avals."""
    if avals_out and all(a is not abstract_token and 0 in a.shape for a in avals_out):
        # nothing to compute: an empty result is all-zeros whatever the operation
        return [zeros(b, a.shape, a.dtype) for a in avals_out]
    rule = b.module.table.get(prim) or _compositions.get(prim)
    if rule is None:
        raise UnsupportedPrimitiveError(
            f"the xla backend has no lowering rule for primitive '{prim.name}'; register one "
            f"with plax.extend.registry.add_lowering('xla', {prim.name}_p, rule) or run it on "
            "another backend")
    if isinstance(rule, Composition):  # the jaxpr of a plax function: a private function
        out = call_closed(b, rule.jaxpr(avals_in, params), prim.name, ins)
        out = out if prim.multiple_results else out[0]
    else:
        out = rule(RuleContext(b, prim, avals_in, avals_out), *ins, **params)
    outs = list(out) if prim.multiple_results else [out]
    if len(outs) != len(avals_out):
        raise LoweringError(f"lowering of '{prim.name}' gave {len(outs)} results, expected "
                            f"{len(avals_out)}")
    for v, a in zip(outs, avals_out):
        shape, dtype = value_type(a)
        if v.shape != (shape if shape is TOKEN else tuple(shape)) or v.dtype != dtype:
            raise LoweringError(f"lowering of '{prim.name}' produced {v.type}, expected "
                                f"{tensor_type(shape, dtype)} (params {params})")
    return outs


def lower_jaxpr(b: FuncBuilder, jaxpr, consts: Sequence[Value],
                args: Sequence[Value]) -> list[Value]:
    """Emit the equations of `jaxpr` into `b`; returns the values of its outputs."""
    env: dict = {}
    for v, c in zip(jaxpr.constvars, consts):
        env[v] = c
    for v, a in zip(jaxpr.invars, args, strict=True):
        env[v] = a

    def read(x):
        return _literal(b, x) if isinstance(x, Literal) else env[x]

    module = b.module
    outer_loc, outer_scope = module.loc, module.scope
    try:
        for eqn in jaxpr.eqns:
            names = eqn.name_stack
            if names or outer_scope:  # named: the operations get `loc("scope/prim")`
                scope = f"{outer_scope}/{names}" if outer_scope and names else \
                    (outer_scope or names)
                module.scope = scope
                module.loc = f' loc("{_escape(scope)}/{_escape(eqn.primitive.name)}")'
            elif module.loc is not None:
                module.loc, module.scope = None, ""
            ins = [read(x) for x in eqn.invars]
            outs = apply_rule(b, eqn.primitive, ins, [x.aval for x in eqn.invars],
                              [v.aval for v in eqn.outvars], eqn.params)
            for v, o in zip(eqn.outvars, outs):
                env[v] = o
    finally:
        module.loc, module.scope = outer_loc, outer_scope
    return [read(x) for x in jaxpr.outvars]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _aliases(in_avals, out_avals, donated: Sequence[int]) -> list[str]:
    """`tf.aliasing_output` attributes: each donated input reuses the first free output of
    its type, so XLA writes that output into the donated buffer."""
    attrs = [""] * len(in_avals)
    free = list(range(len(out_avals)))
    for i in sorted(set(donated)):
        a = in_avals[i]
        if a.shape is TOKEN:
            continue
        for k in free:
            o = out_avals[k]
            if o.shape == a.shape and o.dtype == a.dtype:
                attrs[i] = f"tf.aliasing_output = {k} : i32"
                free.remove(k)
                break
    return attrs


def lower_closed_jaxpr(closed: ClosedJaxpr, name: str = "main", *, donated: Sequence[int] = (),
                       axis_env: AxisEnv | None = None, num_replicas: int = 1,
                       prologue: Callable | None = None, epilogue: Callable | None = None,
                       spmd: Any = None, arg_shardings: Sequence[str] | None = None,
                       scratch: Sequence[int] = ()) -> tuple[str, list[int]]:
    """The module text of `closed` and the indices of the inputs it aliases to outputs.

    `prologue(b, args) -> values` and `epilogue(b, outs) -> values` let pmap add the code that
    selects each replica's slice of the inputs and gathers the outputs. With `spmd` (devices
    and mesh of a partitioned program) each input carries its `arg_shardings` text.
    `scratch`: output indices that get one more (unused) parameter each, after the inputs,
    aliased to that output: a donated buffer passed there is where XLA writes the output (no
    fresh memory)."""
    module = ModuleLowering(axis_env, spmd)
    b = FuncBuilder(module)
    in_avals = closed.in_avals
    args = [Value(b.fresh(), *value_type(a)) for a in in_avals]
    consts = [b.const(np.asarray(c)) for c in closed.consts]
    vals = prologue(b, args) if prologue is not None else args
    outs = lower_jaxpr(b, closed.jaxpr, consts, vals)
    if epilogue is not None:
        outs = epilogue(b, outs)
    attrs = _aliases(args, outs, donated) if donated else [""] * len(args)
    if arg_shardings is not None:
        attrs = [", ".join(x for x in (a, f'mhlo.sharding = "{s}"' if s else "") if x)
                 for a, s in zip(attrs, arg_shardings)]
    for k in scratch:
        args.append(Value(b.fresh(), outs[k].shape, outs[k].dtype))
        attrs.append(f"tf.aliasing_output = {k} : i32")
    res_attrs = None
    if spmd is not None and epilogue is None:  # outputs constrained last: laid out so
        res_attrs = [f'mhlo.sharding = "{spmd.sharding_text(c, len(o.shape))}"' if c is not None
                     else "" for c, o in zip(out_constraints(closed.jaxpr), outs)]
    main = _func_text("public", "main", args, attrs, outs, b.lines, res_attrs)
    aliased = [i for i, a in enumerate(attrs) if a and "tf.aliasing_output" in a]
    return module.module_text(name, main, num_replicas), aliased


def out_constraints(jaxpr) -> list:
    """Per output of `jaxpr`: the sharding of the sharding constraint computing it (looking
    into nested jit calls: `jit(f, out_shardings=...)`), or None. A partitioned program gives
    such outputs that layout as a result attribute: XLA's propagation does not carry it out
    of a called function on its own."""
    from plax import lax
    from plax.sharding import NamedSharding, PartitionSpec
    made = {}
    for eqn in jaxpr.eqns:
        for k, v in enumerate(eqn.outvars):
            made[id(v)] = (eqn, k)
    out = []
    for v in jaxpr.outvars:
        hit, s = made.get(id(v)), None
        if hit is not None:
            eqn, k = hit
            inner = eqn.params.get("jaxpr")
            if eqn.primitive is lax.sharding_constraint_p:
                s = eqn.params.get("sharding")
            elif eqn.primitive.name in ("jit", "pjit") and hasattr(inner, "jaxpr"):
                s = out_constraints(inner.jaxpr)[k]
        if isinstance(s, NamedSharding) and any(
                p is PartitionSpec.UNCONSTRAINED for p in s.spec):
            s = None
        out.append(s)
    return out


def lower_primitive(prim, avals_in, avals_out, params: dict, spmd: Any = None,
                    arg_shardings: Sequence[str] | None = None) -> str:
    """A module running one primitive on its inputs (the eager path)."""
    module = ModuleLowering(None, spmd)
    b = FuncBuilder(module)
    args = [Value(b.fresh(), *value_type(a)) for a in avals_in]
    outs = apply_rule(b, prim, args, avals_in, avals_out, params)
    attrs = [f'mhlo.sharding = "{s}"' if s else "" for s in arg_shardings] \
        if arg_shardings is not None else [""] * len(args)
    main = _func_text("public", "main", args, attrs, outs, b.lines)
    return module.module_text(prim.name, main)
