"""The core: abstract values, primitives, traces and tracers, and the jaxpr IR.

Work happens only through `Primitive.bind`, which hands the call to the current trace (kept in a
thread-local context, not a global stack). With no transform active the current trace is the
eval trace, which runs the primitive eagerly on a backend (`plax._src.dispatch`).

The jaxpr grammar:

    Jaxpr    ::= { lambda Var* ; Var* . let Eqn* in ( Atom* ) }
    Eqn      ::= Var* = Primitive [ Param* ] Atom*
    Atom     ::= Var | Literal
    Literal  ::= a Python/NumPy scalar with its aval, printed `2.0:f32[]`
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import operator
import threading
from typing import Any, Callable, Sequence

import numpy as np

from plax._src import dtypes
from plax._src import pretty_printer as pp
from plax._src.array_methods import ArrayMethods
from plax._src.errors import (  # noqa: F401  (ConcretizationTypeError, ... re-exported here)
    ConcretizationTypeError, TracerArrayConversionError, TracerBoolConversionError,
    TracerIntegerConversionError, UnexpectedTracerError)


# ---------------------------------------------------------------------------------------------
# Errors


class PlaxTypeError(TypeError):
    """Bad input to a primitive: the message names the primitive, the argument and the problem."""


# ---------------------------------------------------------------------------------------------
# Abstract values


class ShapedArray:
    """The type of an array: shape, dtype and whether the dtype is weak (from a Python scalar)."""

    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        self.shape = tuple(shape) if type(shape) is not tuple else shape
        self.dtype = dtype if type(dtype) is np.dtype else dtypes._as_dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> "ShapedArray":
        return ShapedArray(self.shape, self.dtype, False) if self.weak_type else self

    def __eq__(self, other):
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self):
        h = self._hash
        if h is None:
            h = self._hash = hash((self.shape, self.dtype, self.weak_type))
        return h

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(str(d) for d in self.shape)}]"

    def __repr__(self):
        w = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{w})"

    __str__ = str_short


class AbstractToken:
    """The type of an XLA token (`plax.lax.create_token`), printed `Tok`: it orders effects and
    carries no data (no shape, no dtype). One instance, `abstract_token`."""

    __slots__ = ()
    _instance = None

    def __new__(cls):
        inst = cls._instance
        if inst is None:
            inst = cls._instance = object.__new__(cls)
        return inst

    def str_short(self) -> str:
        return "Tok"

    def __repr__(self):
        return "AbstractToken()"

    def __reduce__(self):
        return (AbstractToken, ())


abstract_token = AbstractToken()


class Token:
    """A concrete token (what `plax.lax.create_token()` returns outside of any trace): a unit
    value, so every Token is equal to every other. A pytree leaf; jit takes and returns it."""

    __slots__ = ()
    aval = abstract_token

    def block_until_ready(self) -> None:
        return None

    def __eq__(self, other):
        return type(other) is Token

    def __hash__(self):
        return hash(Token)

    def __repr__(self):
        return "Token()"


def raise_to_shaped(aval: ShapedArray) -> ShapedArray:
    return aval


_PY_SCALARS = (bool, int, float, complex)


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, Array, NumPy value or Python scalar."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    t = type(x)
    if t in _PY_SCALARS:
        return ShapedArray((), dtypes.scalar_dtype(x), t is not bool)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype), False)
    if hasattr(x, "__jax_array__"):
        return get_aval(x.__jax_array__())
    raise PlaxTypeError(f"value of type {t.__name__} is not a valid plax type: {x!r:.200}")


def is_valid_value(x: Any) -> bool:
    return (isinstance(x, (Tracer, np.ndarray, np.generic) + _PY_SCALARS)
            or getattr(x, "aval", None) is not None)


# ---------------------------------------------------------------------------------------------
# Primitives


class Primitive:
    """A named operation. `bind` is the only way work happens.

    Traits read by transforms and backends instead of lists of names:
      elementwise: applies independently per element, operands of one shape (fusible)
      reduction: reduces over `axes` (fusible as a trailing reduction)
      linear_in: indices of operands the primitive is linear in (for the transpose machinery)
      effectful: has side effects, never removed or reordered
    """

    __slots__ = ("name", "multiple_results", "elementwise", "reduction", "linear_in",
                 "effectful", "call_primitive", "module")

    def __init__(self, name: str, *, multiple_results: bool = False, elementwise: bool = False,
                 reduction: bool = False, linear_in: tuple[int, ...] = (),
                 effectful: bool = False, call_primitive: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.elementwise = elementwise
        self.reduction = reduction
        self.linear_in = tuple(linear_in)
        self.effectful = effectful
        self.call_primitive = call_primitive
        self.module = None

    def bind(self, *args, **params):
        return _ctx.trace.process_primitive(self, args, params)

    def __repr__(self):
        return self.name

    __str__ = __repr__


def abstract_eval(prim: Primitive, avals: Sequence[ShapedArray], params: dict):
    """Output aval(s) of `prim` on `avals`: a list when `prim.multiple_results`, else one aval."""
    from plax._src import registry
    try:
        rule = registry._abstract_eval[prim]
    except KeyError:
        registry.ensure_plugins_loaded()
        rule = registry._abstract_eval.get(prim)
        if rule is None:
            raise NotImplementedError(
                f"primitive '{prim.name}' has no abstract evaluation rule; register one with "
                f"plax.extend.registry.add_abstract_eval") from None
    return rule(*avals, **params)


# ---------------------------------------------------------------------------------------------
# Traces and tracers


class Trace:
    """Interprets primitives. Subclasses implement `process_primitive`.

    A trace recognises its own tracers by identity (`x._trace is self`); any other value is a
    constant to it. Rules run with the trace's parent as the current trace.
    """

    __slots__ = ("__weakref__",)

    def process_primitive(self, prim: Primitive, args: Sequence[Any], params: dict):
        raise NotImplementedError

    def process_custom_jvp_call(self, prim, fun, jvp, args, params):
        raise NotImplementedError(f"{type(self).__name__} does not support custom_jvp")

    def process_custom_vjp_call(self, prim, fun, fwd, bwd, args, params):
        raise NotImplementedError(f"{type(self).__name__} does not support custom_vjp")

    def invalidate(self) -> None:
        pass

    @property
    def is_valid(self) -> bool:
        return True


class EvalTrace(Trace):
    """Runs primitives eagerly on a backend."""

    __slots__ = ()

    def process_primitive(self, prim, args, params):
        # dispatch imports core, so its eager path is looked up on first use and then put in
        # this method's place (one call frame fewer per eager op)
        from plax._src.dispatch import eval_primitive
        EvalTrace.process_primitive = eval_primitive
        return eval_primitive(self, prim, args, params)

    def __repr__(self):
        return "EvalTrace"


EVAL_TRACE = EvalTrace()


class _TraceContext(threading.local):
    def __init__(self):
        self.trace: Trace = EVAL_TRACE
        # the plax.named_scope path equations traced now get ("" outside any scope)
        self.name_stack: str = ""


_ctx = _TraceContext()


def current_trace() -> Trace:
    return _ctx.trace


@contextlib.contextmanager
def set_current_trace(trace: Trace):
    ctx = _ctx
    prev = ctx.trace
    ctx.trace = trace
    try:
        yield
    finally:
        ctx.trace = prev


def bind(prim: Primitive, *args, **params):
    return _ctx.trace.process_primitive(prim, args, params)


class Tracer(ArrayMethods):
    """A value standing for an array during tracing; carries its trace and an abstract value."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return len(self.aval.shape)

    @property
    def size(self):
        return self.aval.size

    @property
    def weak_type(self):
        return self.aval.weak_type

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def to_concrete_value(self):
        """The concrete value this tracer stands for, or None when it is abstract (as JAX's:
        the primal of a JVP tracer outside jit is concrete, so `if x > 0:` works under grad)."""
        return None

    def _concrete_error(self, what: str, cls=ConcretizationTypeError):
        return cls(
            f"{what} was called on a traced array with shape/dtype {self.aval.str_short()} "
            f"inside {type(self._trace).__name__}. The value is not known while tracing: use "
            "plax.numpy.where / plax.lax.cond instead of Python control flow on it, or mark the "
            "argument static (static_argnums)")

    def __bool__(self):
        v = self.to_concrete_value()
        if v is not None:
            return bool(v)
        raise self._concrete_error("bool()", TracerBoolConversionError)

    def __int__(self):
        v = self.to_concrete_value()
        if v is not None:
            return int(v)
        raise self._concrete_error("int()")

    def __float__(self):  # never concrete, as JAX's
        raise self._concrete_error("float()")

    def __complex__(self):
        raise self._concrete_error("complex()")

    def __index__(self):
        v = self.to_concrete_value()
        if v is not None:
            return operator.index(v)
        raise self._concrete_error("__index__ (use as a Python integer)",
                                   TracerIntegerConversionError)

    def item(self, *args):
        v = self.to_concrete_value()
        if v is not None:
            return np.asarray(v).item(*args)
        raise self._concrete_error("item()")

    def tolist(self):
        raise self._concrete_error("tolist()")

    def __array__(self, dtype=None, copy=None):
        raise TracerArrayConversionError(
            f"a traced array {self.aval.str_short()} was converted to a NumPy array "
            f"(np.asarray or a NumPy function) inside {type(self._trace).__name__}; use plax.numpy "
            "functions on traced values")

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __hash__(self):
        raise TypeError(f"unhashable type: traced array ({self.aval.str_short()})")

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"

    def block_until_ready(self):
        return self


def full_lower(x):
    return x


# ---------------------------------------------------------------------------------------------
# The jaxpr


class Var:
    """A variable of a jaxpr; compared by identity."""

    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = next(Var._counter)

    def __repr__(self):
        return f"Var(id={self.count}):{self.aval.str_short()}"


class Literal:
    """A constant scalar inlined into an equation."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray):
        self.val, self.aval = val, aval

    def __repr__(self):
        return f"Literal({self.val!r})"

    def pp(self) -> str:
        v = self.val
        if isinstance(v, np.ndarray):
            v = v.item() if v.ndim == 0 else v
        if isinstance(v, np.generic):
            v = v.item()
        if self.aval.dtype == dtypes.bool_:
            s = str(bool(v))
        elif dtypes.is_inexact(self.aval.dtype) and not isinstance(v, (float, complex)):
            s = str(float(v))
        else:
            s = str(v)
        return f"{s}:{self.aval.str_short()}"


Atom = Var | Literal


class JaxprEqn:
    """One equation; `name_stack` is the `plax.named_scope` path it was traced in ("a/b",
    relative to the jaxpr holding it; "" outside any scope)."""

    __slots__ = ("invars", "outvars", "primitive", "params", "name_stack")

    def __init__(self, invars, outvars, primitive: Primitive, params: dict,
                 name_stack: str = ""):
        self.invars, self.outvars = list(invars), list(outvars)
        self.primitive, self.params = primitive, params
        self.name_stack = name_stack

    def replace(self, invars=None, outvars=None, params=None) -> "JaxprEqn":
        return JaxprEqn(self.invars if invars is None else invars,
                        self.outvars if outvars is None else outvars, self.primitive,
                        self.params if params is None else params, self.name_stack)

    def __repr__(self):
        return pp_eqn(self, _PpContext()).format()


class Jaxpr:
    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars, invars, outvars, eqns):
        self.constvars, self.invars = list(constvars), list(invars)
        self.outvars, self.eqns = list(outvars), list(eqns)

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def check(self) -> None:
        check_jaxpr(self)

    def pretty_print(self, width: int = 80, *, name_stack: bool = False) -> str:
        """The jaxpr as text; `name_stack=True` ends each equation traced inside a
        `plax.named_scope` with a `# [scope/path]` comment (as JAX's printer)."""
        return pp_toplevel_jaxpr(self, name_stack).format(width)

    def __str__(self):
        return self.pretty_print()

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr with values for its constvars."""

    __slots__ = ("jaxpr", "consts")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        assert len(consts) == len(jaxpr.constvars), (len(consts), len(jaxpr.constvars))
        self.jaxpr, self.consts = jaxpr, list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def check(self) -> None:
        check_jaxpr(self.jaxpr)

    def pretty_print(self, width: int = 80, *, name_stack: bool = False) -> str:
        return self.jaxpr.pretty_print(width, name_stack=name_stack)

    def __str__(self):
        return self.jaxpr.pretty_print()

    __repr__ = __str__


class JaxprTypeError(TypeError):
    """The jaxpr checker found an ill-typed or ill-formed jaxpr."""


def _typecompat(a: ShapedArray, b: ShapedArray) -> bool:
    if a is abstract_token or b is abstract_token:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype


def check_jaxpr(jaxpr: Jaxpr) -> None:
    """Checks that variables are bound once before use and each equation's types are right,
    re-running the abstract-eval rules. Raises JaxprTypeError naming the equation."""
    env: set = set()

    def read(x, where):
        if isinstance(x, Literal):
            if get_aval(x.val).shape != () and np.shape(x.val) != x.aval.shape:
                raise JaxprTypeError(f"{where}: literal {x.pp()} has a wrong shape")
            return x.aval
        if not isinstance(x, Var):
            raise JaxprTypeError(f"{where}: {x!r} is not a Var or Literal")
        if x not in env:
            raise JaxprTypeError(f"{where}: variable {x!r} is used before it is bound")
        return x.aval

    def write(v, where):
        if v in env:
            raise JaxprTypeError(f"{where}: variable {v!r} is bound twice")
        env.add(v)

    for v in jaxpr.constvars:
        write(v, "constvars")
    for v in jaxpr.invars:
        write(v, "invars")
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.primitive.name})"
        in_avals = [read(x, where) for x in eqn.invars]
        for val in eqn.params.values():
            for sub in (val if isinstance(val, tuple) else (val,)):
                if isinstance(sub, ClosedJaxpr):
                    check_jaxpr(sub.jaxpr)
                elif isinstance(sub, Jaxpr):
                    check_jaxpr(sub)
        try:
            out = abstract_eval(eqn.primitive, in_avals, eqn.params)
        except Exception as e:
            raise JaxprTypeError(f"{where}: abstract evaluation failed: {e}") from e
        outs = list(out) if eqn.primitive.multiple_results else [out]
        if len(outs) != len(eqn.outvars):
            raise JaxprTypeError(f"{where}: {len(eqn.outvars)} outvars, rule gives {len(outs)}")
        for v, a in zip(eqn.outvars, outs):
            if not _typecompat(v.aval, a):
                raise JaxprTypeError(f"{where}: outvar has type {v.aval.str_short()} but the "
                                     f"primitive produces {a.str_short()}")
            write(v, where)
    for x in jaxpr.outvars:
        read(x, "outvars")


# ---------------------------------------------------------------------------------------------
# Printing, in JAX's layout


def _encode_name(n: int) -> str:
    s = ""
    while not s or n:
        n, i = divmod(n, 26)
        s += chr(97 + i)
    return s[::-1]


class _PpContext:
    """Variable names shared by a jaxpr and the jaxprs nested in it (JAX's naming: fresh names
    a, b, ..., skipping the names of hoisted jaxprs; `_` for unused top-level binders)."""

    def __init__(self, names: dict | None = None, name_stack: bool = False):
        self.names: dict[Var, str] = dict(names or {})
        self.counter = 0
        self.name_stack = name_stack  # end equations with their `# [named/scope]`
        self.shared: dict[Jaxpr, str] = {}  # jaxprs printed once, up front, by name

    def name(self, v: Var) -> str:
        n = self.names.get(v)
        if n is None:
            shared_names = set(self.shared.values())
            n = _encode_name(self.counter)
            self.counter += 1
            while n in shared_names:
                n = _encode_name(self.counter)
                self.counter += 1
            self.names[v] = n
        return n

    def suggest(self, for_vars, like_vars) -> None:
        """Name a call's inner binders like the outer atoms they alias, each outer var once."""
        if len(for_vars) != len(like_vars):
            return
        seen: set = set()
        for f, like in zip(for_vars, like_vars):
            if (isinstance(like, Var) and like not in seen and isinstance(f, Var)
                    and f not in self.names):
                seen.add(like)
                self.names[f] = self.name(like)


def _pp_atom(x, ctx: _PpContext) -> str:
    if isinstance(x, Literal):
        return x.pp()
    return ctx.name(x)


def _pp_binder(v: Var, ctx: _PpContext) -> pp.Doc:
    return pp.text(f"{ctx.name(v)}:{v.aval.str_short()}")


def _pp_vars(docs) -> pp.Doc:
    return pp.nest(2, pp.group(pp.join(pp.group(pp.brk()), docs)))


_pp_param_rules: dict[Primitive, Callable] = {}


def _jaxprs_in_params(params: dict):
    for val in params.values():
        for v in (val if isinstance(val, tuple) else (val,)):
            if isinstance(v, ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, Jaxpr):
                yield v


def _pp_param(k: str, v: Any, ctx: _PpContext) -> pp.Doc:
    if isinstance(v, (Jaxpr, ClosedJaxpr)):
        return pp.text(f"{k}=") + pp_jaxpr(v.jaxpr if isinstance(v, ClosedJaxpr) else v, ctx)
    if type(v) is tuple and v and all(isinstance(j, (Jaxpr, ClosedJaxpr)) for j in v):
        inner = [pp_jaxpr(j.jaxpr if isinstance(j, ClosedJaxpr) else j, ctx) for j in v]
        return pp.text(f"{k}=") + pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("("), pp.brk(""), pp.join(pp.brk(), inner)])),
            pp.brk(""), pp.text(")")]))
    if isinstance(v, np.dtype):
        s = str(v)
    elif callable(v) and hasattr(v, "__name__"):
        s = v.__name__
    else:
        s = str(v)
    return pp.text(f"{k}={s}")


def pp_eqn(eqn: JaxprEqn, ctx: _PpContext) -> pp.Doc:
    params = eqn.params
    if eqn.primitive.call_primitive:
        jx = params.get("jaxpr")
        inner = jx.jaxpr if isinstance(jx, ClosedJaxpr) else jx
        if isinstance(inner, Jaxpr) and inner not in ctx.shared:
            # before the binders are named, as JAX does: the outer outvars get fresh names here
            ctx.suggest(inner.invars, eqn.invars)
            ctx.suggest(inner.outvars, eqn.outvars)
    lhs = _pp_vars([_pp_binder(v, ctx) for v in eqn.outvars])
    shown = _pp_param_rules.get(eqn.primitive)
    if shown is not None:  # a primitive may hide params JAX's printer hides (defaults)
        params = shown(params)
    if params:
        keys = sorted(params)
        if eqn.primitive.call_primitive and "name" in params:  # JAX prints a call's name first
            keys.remove("name")
            keys.insert(0, "name")
        kv = [_pp_param(k, params[k], ctx) for k in keys]
        pdoc = pp.group(pp.concat([
            pp.nest(2, pp.concat([pp.text("["), pp.brk(""), pp.join(pp.brk(), kv)])),
            pp.brk(""), pp.text("]")]))
    else:
        pdoc = pp.nil()
    rhs = [pp.text(eqn.primitive.name), pdoc,
           pp.text(" ") + _pp_vars([pp.text(_pp_atom(x, ctx)) for x in eqn.invars])]
    if ctx.name_stack and eqn.name_stack:
        rhs.append(pp.comment(f" # [{eqn.name_stack}]"))
    if eqn.outvars:
        return pp.concat([lhs, pp.text(" = "), *rhs])
    return pp.concat(rhs)


def _pp_skeleton(jaxpr: Jaxpr, ctx: _PpContext) -> pp.Doc:
    constvars = _pp_vars([_pp_binder(v, ctx) for v in jaxpr.constvars])
    invars = _pp_vars([_pp_binder(v, ctx) for v in jaxpr.invars])
    eqns = pp.join(pp.brk("; "), [pp_eqn(e, ctx) for e in jaxpr.eqns])
    outs = _pp_vars_sep([pp.text(_pp_atom(x, ctx)) for x in jaxpr.outvars], ",")
    outvars = pp.concat([pp.text("("), outs,
                         pp.text(")" if len(jaxpr.outvars) != 1 else ",)")])
    return pp.group(pp.nest(2, pp.concat([
        pp.text("{ "), pp.text("lambda "), constvars, pp.text("; "), invars, pp.text(". "),
        pp.text("let"), pp.nest(2, pp.brk() + eqns), pp.brk(), pp.text("in "), outvars,
    ])) + pp.text(" }"))


def pp_jaxpr(jaxpr: Jaxpr, ctx: _PpContext) -> pp.Doc:
    name = ctx.shared.get(jaxpr)
    return pp.text(name) if name is not None else _pp_skeleton(jaxpr, ctx)


def _unused_binders(jaxpr: Jaxpr) -> dict:
    """Equation outputs nothing reads: printed `_` (at the top level only, as JAX)."""
    used = {v for v in jaxpr.outvars if isinstance(v, Var)}
    out = {}
    for eqn in reversed(jaxpr.eqns):
        for v in eqn.outvars:
            if v not in used:
                out[v] = "_"
        used.update(v for v in eqn.invars if isinstance(v, Var))
    return out


def _shared_jaxprs(top: Jaxpr) -> list[tuple[Jaxpr, str]]:
    """Nested jaxprs that appear more than once, or have more than 10 equations, are printed
    once before the top-level jaxpr (`let name = { ... } in`), named after their call."""
    counts: dict[Jaxpr, int] = {}
    names: dict[Jaxpr, str] = {}
    queue = collections.deque([top])
    while queue:
        jaxpr = queue.popleft()
        counts[jaxpr] = counts.get(jaxpr, 0) + 1 + (jaxpr is not top and len(jaxpr.eqns) > 10)
        for eqn in jaxpr.eqns:
            call_name = eqn.params.get("name")
            for sub in _jaxprs_in_params(eqn.params):
                queue.append(sub)
                if isinstance(call_name, str):
                    names.setdefault(sub, call_name.strip("<>"))
    taken: dict[str, int] = {}
    shared = []
    for jaxpr, c in counts.items():
        if c == 1:
            continue
        name = names.get(jaxpr, "jaxpr")
        n = taken.get(name, 0)
        taken[name] = n + 1
        if n:
            name += str(n)
            taken[name] = taken.get(name, 0) + 1
        shared.append((jaxpr, name))
    return shared


def pp_toplevel_jaxpr(jaxpr: Jaxpr, name_stack: bool = False) -> pp.Doc:
    ctx = _PpContext(_unused_binders(jaxpr), name_stack)
    shared = _shared_jaxprs(jaxpr)
    ctx.shared.update(shared)
    docs = [pp.concat([pp.text(f"let {name} = "), _pp_skeleton(j, ctx), pp.text(" in"),
                       pp.brk()]) for j, name in shared]
    return pp.concat(docs + [_pp_skeleton(jaxpr, ctx)])


def _pp_vars_sep(docs, sep: str) -> pp.Doc:
    return pp.nest(2, pp.group(pp.join(pp.text(sep) + pp.group(pp.brk()), docs)))


# ---------------------------------------------------------------------------------------------
# Evaluating a jaxpr by binding its equations (under whatever trace is current)


def literal_value(lit: Literal) -> Any:
    """The value a Literal stands for when its jaxpr is evaluated: its NumPy scalar, or, for a
    weakly typed literal, a value that is weakly typed too (the Python scalar it was traced
    from when that has the literal's dtype, else a weak array), so that re-tracing a jaxpr
    (transforms, checkpoint, linearize) keeps the weak types of the original program."""
    v = lit.val
    if not lit.aval.weak_type:
        return v
    py = v.item() if isinstance(v, (np.generic, np.ndarray)) else v
    if type(py) in _PY_SCALARS and get_aval(py) == lit.aval:
        return py
    from plax._src.lax.elementwise import _convert_element_type
    return _convert_element_type(v, lit.aval.dtype, weak_type=True)


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    env: dict[Var, Any] = {}

    def read(x):
        return literal_value(x) if type(x) is Literal else env[x]

    for v, val in zip(jaxpr.constvars, consts):
        env[v] = val
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, val in zip(jaxpr.invars, args):
        env[v] = val
    ctx = _ctx
    for eqn in jaxpr.eqns:
        if eqn.name_stack:  # re-traced equations keep their plax.named_scope path
            outer = ctx.name_stack
            ctx.name_stack = f"{outer}/{eqn.name_stack}" if outer else eqn.name_stack
            try:
                outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
            finally:
                ctx.name_stack = outer
        else:
            outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
        if eqn.primitive.multiple_results:
            for v, o in zip(eqn.outvars, outs):
                env[v] = o
        else:
            env[eqn.outvars[0]] = outs
    return [read(x) for x in jaxpr.outvars]


def jaxpr_as_fun(closed: ClosedJaxpr) -> Callable:
    def fun(*args):
        return eval_jaxpr(closed.jaxpr, closed.consts, *args)
    return fun


def concrete_or_error(fn: Callable, x: Any, context: str = ""):
    """Returns fn(x) for a concrete x (a tracer's concrete value, as JAX's); for an abstract
    tracer raises ConcretizationTypeError with context."""
    if isinstance(x, Tracer):
        v = x.to_concrete_value()
        if v is not None:
            return fn(v)
        raise ConcretizationTypeError(
            f"a concrete value is required{(' for ' + context) if context else ''}, but got a "
            f"traced array {x.aval.str_short()}; pass it as a static argument instead")
    return fn(x)


def canonicalize_shape(shape, context: str = "shape") -> tuple[int, ...]:
    try:
        if isinstance(shape, (int, np.integer)) or (isinstance(shape, Tracer)):
            shape = (shape,)
        return tuple(concrete_or_error(operator.index, d, context) for d in shape)
    except TypeError as e:
        if isinstance(e, ConcretizationTypeError):
            raise
        raise TypeError(f"{context} must be a sequence of integers, got {shape!r}") from None
