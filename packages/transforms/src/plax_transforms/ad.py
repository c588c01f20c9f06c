"""Forward and reverse mode: jvp, linearize, vjp, grad and friends.

Reverse mode is JAX's: `linearize` runs the jvp with primals known and tangents unknown under a
partial-evaluation trace, which evaluates known work and records the tangent (linear) work as a
jaxpr; `vjp` transposes that jaxpr. So a primitive needs a jvp rule and, if linear, a transpose
rule. Tangents may be symbolic `Zero`s, so unused inputs cost nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from plax.extend import dtypes, registry
from plax.extend import trace_context
from plax.tree_util import Partial, tree_flatten, tree_map, tree_structure, tree_unflatten
from plax.extend import (
    Array, ClosedJaxpr, JaxprTrace, Literal, Trace, Tracer, Var, abstract_token, get_aval,
    literal_value, make_array, set_current_trace)
from plax.extend.ad import (  # noqa: F401  (importable from here too)
    UndefinedPrimal, Zero, add_tangents, instantiate, is_differentiable, is_undefined,
    tangent_aval, zeros_like_aval)


# ---------------------------------------------------------------------------------------------
# jvp


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self):
        return get_aval(self.primal)

    def to_concrete_value(self):
        p = self.primal
        return p.to_concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    __slots__ = ("parent",)

    def __init__(self, parent: Trace):
        self.parent = parent

    def lift(self, x):
        if type(x) is JVPTracer and x._trace is self:
            return x.primal, x.tangent
        return x, Zero(get_aval(x))

    def process_primitive(self, prim, args, params):
        primals, tangents = [], []
        for a in args:
            p, t = self.lift(a)
            primals.append(p)
            tangents.append(t)
        parent = self.parent
        if all(type(t) is Zero for t in tangents):
            with set_current_trace(parent):
                return prim.bind(*primals, **params)
        rule = _jvp_rules.get(prim)
        if rule is None:
            raise registry.missing_rule_error("jvp", prim, "differentiation (jvp)")
        with set_current_trace(parent):
            out_p, out_t = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [self._wrap(p, t) for p, t in zip(out_p, out_t)]
        return self._wrap(out_p, out_t)

    def _wrap(self, p, t):
        if type(t) is not Zero:
            aval = get_aval(p)
            if aval is abstract_token or not is_differentiable(aval.dtype):  # no tangent
                t = Zero(aval)
        return JVPTracer(self, p, t)


def _is_float0(t) -> bool:
    from plax.dtypes import float0
    return getattr(t, "dtype", None) == float0 and not isinstance(t, (Tracer, Array))


def _check_tangent(p, t, i):
    pa = get_aval(p)
    if _is_float0(t):
        if is_differentiable(pa.dtype) or tuple(np.shape(t)) != pa.shape:
            raise TypeError(f"jvp: a float0 tangent is for an integer or boolean primal of its "
                            f"shape; argument {i} has primal {pa.str_short()} and a float0 "
                            f"tangent of shape {tuple(np.shape(t))}")
        return
    ta = get_aval(t)
    if pa.shape != ta.shape:
        raise ValueError(f"jvp: primal and tangent arguments must have equal shapes; argument "
                         f"{i} has primal shape {pa.shape} and tangent shape {ta.shape}")
    if is_differentiable(pa.dtype) and pa.dtype != ta.dtype:
        raise TypeError(f"jvp: primal and tangent arguments must have equal dtypes; argument "
                        f"{i} has primal dtype {pa.dtype.name} and tangent dtype "
                        f"{ta.dtype.name}")


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
             instantiate_zeros: bool = True):
    """Forward mode on flat lists; tangents may contain Zero."""
    from plax.extend import current_trace
    trace = JVPTrace(current_trace())
    ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
    with set_current_trace(trace):
        outs = fun(*ins)
    out_p, out_t = [], []
    for o in outs:
        p, t = trace.lift(o)
        out_p.append(p)
        out_t.append(instantiate(t) if instantiate_zeros else t)
    trace.invalidate()
    return out_p, out_t


def _describe(out) -> str:
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of length {len(out)}"
    aval = getattr(out, "aval", None)
    return f"an array {aval.str_short()}" if aval is not None else type(out).__name__


class _FlatFun:
    """`fun` over the leaves of `in_tree`; after a call, `.out_tree` (and `.aux` when the
    function returns (output, aux)) describe what it returned."""

    def __init__(self, fun: Callable, in_tree, has_aux: bool = False):
        self.fun, self.in_tree, self.has_aux = fun, in_tree, has_aux
        self.out_tree = self.aux = None

    def __call__(self, *xs):
        out = self.fun(*tree_unflatten(self.in_tree, xs))
        if self.has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                name = getattr(self.fun, "__name__", "fun")
                raise TypeError(
                    f"has_aux=True: {name} must return a pair (output, aux), but returned "
                    f"{_describe(out)}")
            out, self.aux = out
        leaves, self.out_tree = tree_flatten(out)
        return leaves


def jvp(fun: Callable, primals, tangents, has_aux: bool = False):
    """(fun(*primals), the directional derivative of fun at primals along tangents)."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    flat_p, tree_p = tree_flatten(tuple(primals))
    flat_t, tree_t = tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise TypeError(f"jvp: primal and tangent trees differ: {tree_p} vs {tree_t}")
    for i, (p, t) in enumerate(zip(flat_p, flat_t)):
        _check_tangent(p, t, i)
    # JAX's tangent of an integer or boolean primal: a float0 array, a symbolic zero here
    flat_t = [Zero(get_aval(p)) if _is_float0(t) else t for p, t in zip(flat_p, flat_t)]
    flat_fun = _FlatFun(fun, tree_p, has_aux)
    out_p, out_t = jvp_flat(flat_fun, flat_p, flat_t)
    tree = flat_fun.out_tree
    res = (tree_unflatten(tree, out_p), tree_unflatten(tree, out_t))
    if has_aux:
        return (*res, _strip_tracers(flat_fun.aux))
    return res


def _strip_tracers(aux):
    # aux outputs leave the transformation as their primal values
    def strip(x):
        while isinstance(x, JVPTracer):
            x = x.primal
        return x
    return tree_map(strip, aux)


# ---------------------------------------------------------------------------------------------
# Partial evaluation: known work runs now, work on unknown (tangent) values is recorded


# the rules, as read-only live views of the registry's tables
_jvp_rules = registry.rules("jvp")
_transpose_rules = registry.rules("transpose")
# primitive -> rule(trace, args, params) for primitives that carry jaxprs (cond, scan, ...):
# it evaluates what is known and records the rest, given at least one unknown input
pe_rules = registry.rules("partial_eval")


def is_unknown(trace, x) -> bool:
    return isinstance(x, Tracer) and x._trace is trace


class PartialEvalTrace(JaxprTrace):
    """Evaluates equations whose inputs are all known in the parent trace; records the rest."""

    __slots__ = ("parent",)

    def __init__(self, parent: Trace):
        super().__init__("linearize")
        self.parent = parent

    def process_primitive(self, prim, args, params):
        for a in args:
            if isinstance(a, Tracer) and a._trace is self:
                break
        else:
            with set_current_trace(self.parent):
                return prim.bind(*args, **params)
        rule = pe_rules.get(prim)
        if rule is not None:
            return rule(self, args, params)
        if prim.call_primitive and "jaxpr" in params:
            # inline calls: known parts then run eagerly, unknown parts are recorded
            from plax.extend import eval_jaxpr
            closed = params["jaxpr"]
            with set_current_trace(self):
                return eval_jaxpr(closed.jaxpr, closed.consts, *args)
        return super().process_primitive(prim, args, params)


def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns: Sequence[bool],
                       instantiate: Sequence[bool] | bool = False):
    """Split `closed` into a known part and an unknown part.

    Returns (known, unknown, out_unknowns, num_res): `known` maps the known inputs to the known
    outputs followed by residuals; `unknown` maps residuals followed by the unknown inputs to
    the unknown outputs. Outputs with `instantiate` set are always unknown."""
    from plax.extend import current_trace
    from plax.extend import convert_constvars_jaxpr, trace_to_jaxpr
    from plax.extend import eval_jaxpr
    in_avals = closed.in_avals
    nout = len(closed.out_avals)
    inst = [instantiate] * nout if isinstance(instantiate, bool) else list(instantiate)
    box: dict = {}

    def known_fun(*known_args):
        pe = PartialEvalTrace(current_trace())
        it = iter(known_args)
        args = [pe.new_arg(a) if u else next(it) for a, u in zip(in_avals, unknowns)]
        try:
            with set_current_trace(pe):
                outs = eval_jaxpr(closed.jaxpr, closed.consts, *args)
            out_uk = [is_unknown(pe, o) or i for o, i in zip(outs, inst)]
            jaxpr_uk, residuals = pe.to_jaxpr([o for o, u in zip(outs, out_uk) if u])
        finally:
            pe.invalidate()
        box.update(jaxpr=jaxpr_uk, out_uk=out_uk, nres=len(residuals))
        return [o for o, u in zip(outs, out_uk) if not u] + list(residuals)

    known_avals = [a for a, u in zip(in_avals, unknowns) if not u]
    kjaxpr, kconsts, _ = trace_to_jaxpr(known_fun, known_avals, name="partial_eval")
    unknown = ClosedJaxpr(convert_constvars_jaxpr(box["jaxpr"]), [])
    return ClosedJaxpr(kjaxpr, kconsts), unknown, box["out_uk"], box["nres"]


def linearize_flat(fun: Callable, primals: Sequence[Any]):
    """Returns (primal outputs, linear ClosedJaxpr from input tangents to output tangents)."""
    from plax.extend import current_trace
    parent = current_trace()
    pe = PartialEvalTrace(parent)
    if any(get_aval(p) is abstract_token for p in primals):
        raise TypeError("cannot differentiate with respect to a token (tokens have no tangent "
                        "space): pass it as a non-differentiated argument (argnums)")
    tangent_in = [pe.new_arg(tangent_aval(get_aval(p)).strip_weak_type()) for p in primals]
    jt = JVPTrace(pe)
    ins = [JVPTracer(jt, p, t if is_differentiable(get_aval(p).dtype) else Zero(get_aval(p)))
           for p, t in zip(primals, tangent_in)]
    try:
        with set_current_trace(jt):
            outs = fun(*ins)
        out_p, out_t = [], []
        for o in outs:
            p, t = jt.lift(o)
            out_p.append(p)
            out_t.append(t)
        with set_current_trace(pe):
            out_t = [instantiate(t) for t in out_t]
        jaxpr, consts = pe.to_jaxpr(out_t)
    finally:
        jt.invalidate()
        pe.invalidate()
    return out_p, ClosedJaxpr(jaxpr, consts)


# ---------------------------------------------------------------------------------------------
# Transposition


def backward_pass(jaxpr, consts: Sequence[Any], args: Sequence[Any], cts_out: Sequence[Any]):
    """Transpose `jaxpr` with respect to the args that are UndefinedPrimal.

    Equations with no linear input are evaluated forward first; the rest are transposed in
    reverse order. Returns cotangents for every arg (Zero where none flowed)."""
    env: dict = {}
    linear: set = set()

    def read(x):
        return literal_value(x) if type(x) is Literal else env[x]

    for v, c in zip(jaxpr.constvars, consts):
        env[v] = c
    for v, a in zip(jaxpr.invars, args):
        if is_undefined(a):
            linear.add(v)
        else:
            env[v] = a
    lin_eqns = []
    for eqn in jaxpr.eqns:
        if any(type(x) is Var and x in linear for x in eqn.invars):
            lin_eqns.append(eqn)
            linear.update(eqn.outvars)
    for eqn in lin_eqns:  # every missing rule reported before anything runs
        if eqn.primitive not in _transpose_rules:
            raise registry.missing_rule_error(
                "transpose", eqn.primitive, "reverse-mode differentiation (grad, vjp)")
    lin_ids = set(map(id, lin_eqns))
    for eqn in jaxpr.eqns:
        if id(eqn) not in lin_ids:
            outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
            if not eqn.primitive.multiple_results:
                outs = [outs]
            env.update(zip(eqn.outvars, outs))

    ct_env: dict = {}

    def write_ct(v, ct):
        if type(v) is not Var or v not in linear or type(ct) is Zero or ct is None:
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_tangents(prev, ct)

    for v, ct in zip(jaxpr.outvars, cts_out):
        write_ct(v, ct)
    for eqn in reversed(lin_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts):
            continue
        cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts)]
        invals = [UndefinedPrimal(x.aval) if type(x) is Var and x in linear else read(x)
                  for x in eqn.invars]
        rule = _transpose_rules[eqn.primitive]
        ct_arg = cts if eqn.primitive.multiple_results else cts[0]
        if eqn.name_stack:  # the transposed equations keep their plax.named_scope path
            outer = trace_context.name_stack
            trace_context.name_stack = f"{outer}/{eqn.name_stack}" if outer else eqn.name_stack
            try:
                cts_in = rule(ct_arg, *invals, **eqn.params)
            finally:
                trace_context.name_stack = outer
        else:
            cts_in = rule(ct_arg, *invals, **eqn.params)
        for x, ct in zip(eqn.invars, cts_in):
            write_ct(x, ct)
    return [ct_env.get(v, Zero(v.aval)) if v in linear else None for v in jaxpr.invars]


def _ct_to_aval(ct, aval, weak: bool = False):
    """Cotangents come back with the input's dtype (weak scalars sum into strong ones) and,
    when `weak`, its weak type (as JAX's, where the transpose of the weak-type conversion that
    promotion inserts restores it)."""
    from plax import lax
    weak = weak and aval.weak_type
    if type(ct) is Zero:
        ct = zeros_like_aval(aval)
    ca = get_aval(ct)
    if ca.dtype != aval.dtype or ca.weak_type != weak:
        ct = lax.convert_element_type_p.bind(ct, new_dtype=aval.dtype, weak_type=weak)
    return ct


def _keeps_weak(cts, out_avals) -> bool:
    """JAX's cotangents of weakly typed inputs stay weak unless a strong cotangent was fed to a
    weakly typed output (then nothing converts it back)."""
    return all(get_aval(c).weak_type or not a.weak_type for c, a in zip(cts, out_avals))


# ---------------------------------------------------------------------------------------------
# vjp and grad


def _float0_zeros(aval):
    """JAX's cotangent of an integer or boolean input: a NumPy array of dtype float0 (no
    bits), not an Array."""
    from plax.dtypes import float0
    return np.zeros(aval.shape, float0)


class _Pullback:
    """vjp's backward function without its residuals: `pullback(residuals, cotangent)`;
    integer and boolean inputs get float0 cotangents with `float0` (as JAX's vjp), zeros of
    their dtype without (jacrev)."""

    __slots__ = ("jaxpr", "in_tree", "out_tree", "in_avals", "out_avals", "float0")

    def __init__(self, jaxpr, in_tree, out_tree, in_avals, out_avals, float0=True):
        self.jaxpr, self.in_tree, self.out_tree = jaxpr, in_tree, out_tree
        self.in_avals, self.out_avals, self.float0 = in_avals, out_avals, float0

    def __call__(self, consts, ct):
        in_tree, out_tree, in_avals, out_avals = (self.in_tree, self.out_tree, self.in_avals,
                                                  self.out_avals)
        float0 = self.float0
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"vjp: the cotangent's tree {ct_tree} differs from the primal "
                            f"output's tree {out_tree}")
        for i, (c, a) in enumerate(zip(flat_ct, out_avals)):
            if a is abstract_token:  # (JAX cannot either)
                raise TypeError(f"vjp: output {i} is a token, which has no cotangent; return "
                                "tokens as auxiliary data (has_aux=True) instead")
            ca = get_aval(c)
            if ca.shape != a.shape:
                raise ValueError(f"vjp: cotangent {i} has shape {ca.shape}, expected {a.shape}")
        args = [UndefinedPrimal(v.aval) for v in self.jaxpr.invars]
        cts = backward_pass(self.jaxpr, consts, args, flat_ct)
        weak = _keeps_weak(flat_ct, out_avals)
        # a complex input of a real output reached it through real/imag/abs, whose transposes
        # build the complex cotangent with a strong zero: strong in JAX
        real_out = any(not dtypes.is_complex(a.dtype) for a in out_avals)
        cts = [_float0_zeros(a) if float0 and not is_differentiable(a.dtype) else
               _ct_to_aval(c, a, weak and not (real_out and dtypes.is_complex(a.dtype)))
               for c, a in zip(cts, in_avals)]
        return tree_unflatten(in_tree, cts)


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """(fun(*primals), vjp_fun) where vjp_fun(cotangent) gives cotangents of the primals;
    integer and boolean primals get float0 cotangents, as JAX's."""
    return _vjp(fun, primals, has_aux, float0=True)


def _vjp(fun: Callable, primals, has_aux: bool, float0: bool):
    flat_p, in_tree = tree_flatten(primals)
    flat_fun = _FlatFun(fun, in_tree, has_aux)
    out_p, lin = linearize_flat(flat_fun, flat_p)
    out_tree = flat_fun.out_tree
    in_avals = [get_aval(p) for p in flat_p]
    out_avals = [get_aval(p) for p in out_p]
    # a pytree (JAX's Partial): the residuals are its leaves, so it passes through jit (and
    # fwd_and_bwd's jitted bwd reuses one compilation across steps)
    vjp_fun = Partial(_Pullback(lin.jaxpr, in_tree, out_tree, in_avals, out_avals, float0),
                      list(lin.consts))

    primal_out = tree_unflatten(out_tree, out_p)
    if has_aux:
        return primal_out, vjp_fun, _strip_tracers(flat_fun.aux)
    return primal_out, vjp_fun


def fwd_and_bwd(fun: Callable, argnums, has_aux: bool = False, jitted: bool = True):
    """(fwd, bwd) as jax.fwd_and_bwd: `fwd(*args)` is `vjp` of `fun` in the arguments
    `argnums` ((out, residuals), or (out, residuals, aux) with has_aux); `bwd(residuals, ct)`
    their cotangents (one, or a tuple when argnums is a sequence). Both jitted by default:
    residuals are a pytree, so bwd compiles once across steps."""
    if not callable(fun):
        raise TypeError(f"fwd_and_bwd: expected a callable, got {fun!r}")
    multi = isinstance(argnums, (tuple, list))

    def fwd(*args):
        nums = _argnums_tuple(argnums, len(args))

        def partial_fun(*dyn):
            full = list(args)
            for i, d in zip(nums, dyn):
                full[i] = d
            return fun(*full)
        return vjp(partial_fun, *(args[i] for i in nums), has_aux=has_aux)

    def bwd(f_vjp, outgrad):
        g = f_vjp(outgrad)
        return g if multi else g[0]

    if jitted:
        from plax_transforms.jit import jit
        return jit(fwd), jit(bwd)
    return fwd, bwd


def _argnums_tuple(argnums, nargs: int) -> tuple[int, ...]:
    multi = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if multi else (argnums,)
    for a in nums:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums {argnums!r} is out of range for a function called with "
                             f"{nargs} positional arguments")
    return tuple(int(a) % nargs for a in nums)


def _check_grad_input(x, fname, allow_int):
    for leaf in tree_flatten(x)[0]:
        aval = get_aval(leaf)
        if aval is abstract_token:
            raise TypeError(f"{fname} requires real- or complex-valued inputs, but got a token "
                            "(tokens have no tangent space): differentiate with respect to "
                            "other arguments (argnums)")
        dt = aval.dtype
        if not allow_int and not dtypes.is_inexact(dt):
            raise TypeError(f"{fname} requires real- or complex-valued inputs (input dtype that "
                            f"is a sub-dtype of np.inexact), but got {dt.name}. If you want to "
                            "use integer-valued inputs, use vjp or set allow_int to True.")


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
                   allow_int: bool = False):
    """A function returning (fun(*args), gradient of fun with respect to args[argnums])."""

    def vg(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        for n in nums:
            _check_grad_input(args[n], "grad", allow_int)

        def partial_fun(*diff_args):
            full = list(args)
            for n, a in zip(nums, diff_args):
                full[n] = a
            return fun(*full, **kwargs)

        diff = tuple(args[n] for n in nums)
        if has_aux:
            out, f_vjp, aux = vjp(partial_fun, *diff, has_aux=True)
        else:
            out, f_vjp = vjp(partial_fun, *diff)
        _check_scalar_output(out, holomorphic)
        from plax import lax
        out_aval = get_aval(out)
        one = lax.full((), 1, out_aval.dtype)
        if out_aval.weak_type:  # JAX's seed is ones_like(out): weak when out is
            one = lax.convert_element_type_p.bind(one, new_dtype=out_aval.dtype, weak_type=True)
        g = f_vjp(one)
        g = g if isinstance(argnums, (tuple, list)) else g[0]
        if has_aux:
            return (out, aux), g
        return out, g

    vg.__name__ = f"value_and_grad({getattr(fun, '__name__', 'fun')})"
    vg.__wrapped__ = fun
    return vg


def _check_scalar_output(out, holomorphic):
    leaves, tree = tree_flatten(out)
    if len(leaves) != 1 or tree_structure(0) != tree:
        raise TypeError("Gradient only defined for scalar-output functions. Output was "
                        f"{out!r:.200}")
    aval = get_aval(leaves[0])
    if aval.shape != ():
        raise TypeError("Gradient only defined for scalar-output functions. Output had shape: "
                        f"{aval.shape}.")
    if not dtypes.is_inexact(aval.dtype) or (dtypes.is_complex(aval.dtype) and not holomorphic):
        raise TypeError(f"grad requires real-valued outputs (output dtype that is a sub-dtype "
                        f"of np.floating), but got {aval.dtype.name}. For holomorphic "
                        "differentiation, pass holomorphic=True.")


def grad(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
         allow_int: bool = False):
    """The gradient of scalar-valued `fun` with respect to argument(s) `argnums`."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    def g(*args, **kwargs):
        res, gr = vg(*args, **kwargs)
        if has_aux:
            return gr, res[1]
        return gr

    g.__name__ = f"grad({getattr(fun, '__name__', 'fun')})"
    g.__wrapped__ = fun
    return g


def _as_weak(x, weak: bool, strip: bool = False):
    """`x` made weakly typed when `weak` (and, with `strip`, strongly typed when not)."""
    a = get_aval(x)
    if a.weak_type == weak or (not weak and not strip):
        return x
    from plax import lax
    return lax.convert_element_type_p.bind(x, new_dtype=a.dtype, weak_type=weak)


def _std_basis(flat_avals):
    """Identity-matrix basis tangents for jacfwd/jacrev: one batch of size sum(sizes)."""
    from plax import lax
    import plax.numpy as jnp
    total = int(sum(a.size for a in flat_avals))
    dt = dtypes.result_type(*[a.dtype for a in flat_avals]) if flat_avals else np.float32
    eye = jnp.eye(total, dtype=dt)
    out, start = [], 0
    for a in flat_avals:
        piece = lax.slice(eye, (0, start), (total, start + a.size))
        out.append(lax.reshape(lax.convert_element_type(piece, a.dtype), (total, *a.shape)))
        start += a.size
    return out, total


def jacfwd(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    """Jacobian by forward mode (vmap of jvp over a standard basis)."""
    from plax_transforms.batching import vmap

    def jac(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        for n in nums:
            _check_grad_input(args[n], "jacfwd", False)
        diff = tuple(args[n] for n in nums)
        flat, tree = tree_flatten(diff)

        def f_flat(*xs):
            full = list(args)
            for n, a in zip(nums, tree_unflatten(tree, xs)):
                full[n] = a
            return fun(*full, **kwargs)

        basis, total = _std_basis([get_aval(x) for x in flat])

        weak_out: list = []

        def push(*ts):
            if has_aux:
                out, tan, aux = jvp(f_flat, tuple(flat), tuple(ts), has_aux=True)
            else:
                out, tan = jvp(f_flat, tuple(flat), tuple(ts))
            weak_out[:] = [get_aval(o).weak_type for o in tree_flatten(out)[0]]
            return (tan, aux) if has_aux else tan

        if has_aux:
            tans, aux = vmap(push, out_axes=(-1, None))(*basis)
        else:
            tans = vmap(push, out_axes=-1)(*basis)
        leaves, out_tree = tree_flatten(tans)
        tans = tree_unflatten(out_tree, [_as_weak(t, w) for t, w in zip(leaves, weak_out)])
        res = _split_jac(tans, [get_aval(x) for x in flat], tree, argnums, last=True)
        return (res, aux) if has_aux else res

    return jac


def _split_jac(jac_tree, in_avals, in_tree, argnums, last: bool):
    """Split the basis axis of each output leaf back into the inputs' shapes."""
    from plax import lax

    def split(leaf):
        pieces, start = [], 0
        shp = get_aval(leaf).shape
        out_shape = shp[:-1] if last else shp[1:]
        for a in in_avals:
            if last:
                p = lax.slice_in_dim(leaf, start, start + a.size, axis=len(shp) - 1)
                p = lax.reshape(p, (*out_shape, *a.shape))
            else:
                p = lax.slice_in_dim(leaf, start, start + a.size, axis=0)
                p = lax.reshape(p, (*a.shape, *out_shape))
            # JAX's jacobian is weak where both ends are (forward mode: the output's weak type
            # is carried by `leaf`; the input's is asked here)
            pieces.append(_as_weak(p, a.weak_type and get_aval(leaf).weak_type, strip=True))
            start += a.size
        per_arg = tree_unflatten(in_tree, pieces)
        return per_arg if isinstance(argnums, (tuple, list)) else per_arg[0]

    return tree_map(split, jac_tree)


def jacrev(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False,
           allow_int: bool = False):
    """Jacobian by reverse mode (vmap of vjp over a standard basis of the output)."""
    from plax_transforms.batching import vmap

    def jac(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        for n in nums:
            _check_grad_input(args[n], "jacrev", allow_int)
        diff = tuple(args[n] for n in nums)

        def partial_fun(*d):
            full = list(args)
            for n, a in zip(nums, d):
                full[n] = a
            return fun(*full, **kwargs)

        if has_aux:
            out, f_vjp, aux = _vjp(partial_fun, diff, True, float0=False)
        else:
            out, f_vjp = _vjp(partial_fun, diff, False, float0=False)
        flat_out, out_tree = tree_flatten(out)
        out_avals = [get_aval(o) for o in flat_out]
        basis, total = _std_basis(out_avals)
        cts = vmap(lambda *b: f_vjp(tree_unflatten(out_tree, list(b))))(*basis)
        # cts: tuple over diff args, leaves with a leading basis axis over all outputs
        flat_in, in_tree = tree_flatten(diff)
        in_avals = [get_aval(x) for x in flat_in]
        flat_cts = tree_flatten(cts)[0]
        # reshape each to (out_shape..., in_shape...) per output leaf
        per_out = []
        start = 0
        from plax import lax
        for oa in out_avals:
            leaves = []
            for c, ia in zip(flat_cts, in_avals):
                piece = lax.slice_in_dim(c, start, start + oa.size, axis=0)
                # reverse mode: weak where the input is (as grad's)
                leaves.append(_as_weak(lax.reshape(piece, (*oa.shape, *ia.shape)),
                                       ia.weak_type, strip=True))
            start += oa.size
            per_arg = tree_unflatten(in_tree, leaves)
            per_out.append(per_arg if isinstance(argnums, (tuple, list)) else per_arg[0])
        res = tree_unflatten(out_tree, per_out)
        return (res, aux) if has_aux else res

    return jac


def hessian(fun: Callable, argnums=0, has_aux: bool = False, holomorphic: bool = False):
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


def linearize(fun: Callable, *primals):
    """(fun(*primals), f_jvp) where f_jvp(*tangents) evaluates the linearized function."""
    flat_p, in_tree = tree_flatten(primals)
    flat_fun = _FlatFun(fun, in_tree)
    out_p, lin = linearize_flat(flat_fun, flat_p)
    out_tree = flat_fun.out_tree

    def f_jvp(*tangents):
        flat_t, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise TypeError(f"linearize: tangent tree {t_tree} differs from primal tree {in_tree}")
        from plax.extend import eval_jaxpr
        outs = eval_jaxpr(lin.jaxpr, lin.consts, *flat_t)
        # a tangent that does not depend on the inputs is a literal of the jaxpr: an Array of
        # the literal's type (a weak zero stays weak), as every other output
        outs = [o if isinstance(o, (Tracer, Array)) else make_array(np.asarray(o, v.aval.dtype),
                                                                   v.aval)
                for o, v in zip(outs, lin.jaxpr.outvars)]
        return tree_unflatten(out_tree, outs)

    return tree_unflatten(out_tree, out_p), f_jvp


def linear_transpose(fun: Callable, *primals):
    flat_p, in_tree = tree_flatten(primals)
    avals = [get_aval(p) for p in flat_p]
    from plax.extend import trace_to_jaxpr
    jaxpr, consts, _ = trace_to_jaxpr(_FlatFun(fun, in_tree), avals, name="linear_transpose")

    def transposed(ct):
        flat_ct, _ = tree_flatten(ct)
        cts = backward_pass(jaxpr, consts, [UndefinedPrimal(a) for a in avals], flat_ct)
        return tree_unflatten(in_tree, [_ct_to_aval(c, a) for c, a in zip(cts, avals)])

    return transposed
