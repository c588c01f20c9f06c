"""custom_jvp, custom_vjp and checkpoint (remat).

A custom function is processed where JAX processes it: eagerly it just runs; a jvp trace that
sees a tangent calls the user's rule (custom_vjp: fwd, and `custom_lin`, a linear primitive
whose transpose is bwd) without running the function; a batch trace sends custom_jvp calls one
level down with the function and rule batched; traces that would only pass the call on are
skipped, so Python control flow on concrete values works. Where it is staged (jit, make_jaxpr,
vmap of custom_vjp) it binds a call primitive carrying the traced function and the rules.
checkpoint binds a call whose partial evaluation saves only what the policy allows and
recomputes the rest in the backward pass.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

from plax.extend import EVAL_TRACE, current_trace, set_current_trace
from plax.tree_util import tree_flatten, tree_map, tree_unflatten
from plax.extend import (
    JVP_OF_CUSTOM_VJP, ClosedJaxpr, Jaxpr, JaxprTrace, Literal, UnexpectedTracerError, Var,
    checkpoint_p, custom_jvp_call_p, custom_lin_p, custom_vjp_call_p, eval_jaxpr, get_aval,
    linear_call_p)
from plax_transforms.ad import (
    JVPTrace, JVPTracer, PartialEvalTrace, Zero, instantiate, is_unknown, pe_rules)
from plax_transforms.batching import (
    BatchTrace, BatchTracer, batch_flat, matchaxis, needs_trace)
from plax_transforms.jit import closed_call_jaxpr
from plax.extend.ad import SymbolicZero, instantiate_symbolic
from plax.custom_derivatives import CustomVJPPrimal


def _rule_tangents(ts, symbolic_zeros: bool):
    """Tangents as a custom_jvp rule sees them: Zeros instantiated, or (symbolic_zeros=True,
    as JAX's) given as SymbolicZero."""
    if symbolic_zeros:
        return [SymbolicZero(t.aval) if type(t) is Zero else t for t in ts]
    return [instantiate(t) for t in ts]



def _resolve_args(fun, args, kwargs):
    if not kwargs:
        return args
    try:
        ba = inspect.signature(fun).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{getattr(fun, '__name__', 'function')}: {e}") from None
    ba.apply_defaults()
    if ba.kwargs:
        raise TypeError("custom_jvp/custom_vjp functions take keyword arguments only when they "
                        "name positional parameters")
    return ba.args


def _split_nondiff(args, nondiff):
    nd = [args[i] for i in nondiff]
    dyn = [a for i, a in enumerate(args) if i not in nondiff]
    return nd, dyn


def _merge(nondiff, nd_vals, dyn, n):
    it_nd, it_d = iter(nd_vals), iter(dyn)
    return [next(it_nd) if i in nondiff else next(it_d) for i in range(n)]


def _check_out(name, tree_a, avals_a, tree_b, avals_b):
    if tree_a != tree_b:
        raise TypeError(f"{name}: the rule's output tree {tree_b} differs from the primal "
                        f"function's output tree {tree_a}")
    for i, (a, b) in enumerate(zip(avals_a, avals_b)):
        if a.shape != b.shape:
            raise TypeError(f"{name}: output {i} has shape {b.shape} from the rule but "
                            f"{a.shape} from the primal function")


def _no_const_tangents(name, tangents, num_consts):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise TypeError(
            f"a {name} function closes over a value that is being differentiated; pass that "
            "value as an explicit argument instead (plax cannot differentiate through closed-"
            "over values of custom rules)")


def _rule_trace(args):
    """The trace a custom_jvp/custom_vjp call is processed in, and the arguments as it sees
    them. As in JAX, a jvp trace none of whose nonzero tangents reach the call, and a
    partial-eval trace that knows every argument, pass the call on to the trace below them,
    so the function runs where its values are concrete (`if x > 0:` works)."""
    trace = current_trace()
    leaves, tree = tree_flatten(args)
    while True:
        if type(trace) is JVPTrace:
            mine = [type(x) is JVPTracer and x._trace is trace for x in leaves]
            if any(m and type(x.tangent) is not Zero for x, m in zip(leaves, mine)):
                break
            leaves = [x.primal if m else x for x, m in zip(leaves, mine)]
        elif not (type(trace) is PartialEvalTrace
                  and not any(is_unknown(trace, x) for x in leaves)):
            break
        trace = trace.parent
    return trace, tree_unflatten(tree, leaves)


def _nondiff_batched(trace: BatchTrace, args, nondiff_argnums) -> bool:
    n = len(args)
    return any(trace.lift(x)[1] is not None for i in nondiff_argnums
               for x in tree_flatten(args[i % n])[0])


def _batched_call(outer: BatchTrace, fun, vals, dims):
    """fun(*vals) run batched by `outer` (along `dims`, and for the values it closes over),
    every output with the batch axis first."""
    box = []

    def flat(*xs):
        leaves, tree = tree_flatten(fun(*xs))
        box.append(tree)
        return leaves

    outs = _batch_rule_fun(outer, flat, vals, dims)
    return tree_unflatten(box[0], outs)


def _lift_dyn(trace: JVPTrace, nondiff_argnums, args):
    """(nondiff values, dynamic args, their treedef, primal leaves, tangent leaves)."""
    n = len(args)
    nondiff = tuple(i % n for i in nondiff_argnums)
    nd_vals, dyn = _split_nondiff(args, nondiff)
    leaves, in_tree = tree_flatten(tuple(dyn))
    lifted = [trace.lift(x) for x in leaves]
    return nondiff, nd_vals, dyn, in_tree, [p for p, _ in lifted], [t for _, t in lifted]


_CLOSURE_HINT = (
    " (a custom_jvp/custom_vjp function or rule closes over a value that is being "
    "differentiated: pass that value as an explicit argument instead, since plax, like JAX, "
    "cannot differentiate through closed-over values of custom rules)")


def _run_rule(rule, *args):
    try:
        return rule(*args)
    except UnexpectedTracerError as e:
        raise UnexpectedTracerError(str(e) + _CLOSURE_HINT) from e


class _TracedCall:
    """The primal function of a custom_jvp/custom_vjp call traced on its differentiable
    arguments' leaves (nondiff arguments stay Python values), const-free."""

    def __init__(self, fun, nondiff_argnums, args, name: str):
        self.n = n = len(args)
        self.nondiff = nondiff = tuple(i % n for i in nondiff_argnums)
        nd_vals, self.dyn = _split_nondiff(args, nondiff)
        self.nd_vals = nd_vals
        self.leaves, self.in_tree = tree_flatten(tuple(self.dyn))
        in_tree, box = self.in_tree, []

        def flat_fun(*xs):
            out = fun(*_merge(nondiff, nd_vals, tree_unflatten(in_tree, xs), n))
            ol, ot = tree_flatten(out)
            box.append(ot)
            return ol

        self.closed, self.consts = closed_call_jaxpr(
            flat_fun, [get_aval(x) for x in self.leaves], name)
        self.out_tree = box[-1]


# ---------------------------------------------------------------------------------------------
# custom_jvp


def _user_jvp(user_jvp, nondiff, nd_vals, in_tree, primals, tangents, out_tree=None,
              out_avals=None):
    """The user's jvp rule on flat primals and tangents: (primal leaves, tangent leaves, tree),
    checked against the function's outputs when known, else against the rule's own primal."""
    ps = tree_unflatten(in_tree, primals)
    ts = tree_unflatten(in_tree, tangents)
    out = user_jvp(*nd_vals, tuple(ps), tuple(ts)) if nondiff else user_jvp(tuple(ps), tuple(ts))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("a custom_jvp rule must return a pair (primal_out, "
                        f"tangent_out), got {out!r:.100}")
    p_out, t_out = out
    pl, pt = tree_flatten(p_out)
    tl, tt = tree_flatten(t_out)
    tl = [instantiate_symbolic(x) for x in tl]
    p_avals = [get_aval(x) for x in pl]
    if out_tree is not None:
        _check_out("custom_jvp rule primal output", out_tree, out_avals, pt, p_avals)
    _check_out("custom_jvp rule tangent output", out_tree if out_tree is not None else pt,
               out_avals if out_avals is not None else p_avals, tt, [get_aval(x) for x in tl])
    return pl, tl, pt




class custom_jvp:
    """Give a function a custom jvp rule: `f.defjvp(lambda primals, tangents: (out, t_out))`."""

    def __init__(self, fun: Callable, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None
        self.symbolic_zeros = False

    # a property, not an instance attribute: wrappers that copy __dict__ (functools.wraps)
    # must not pick up a `fun` that bypasses the rule
    fun = property(lambda self: self._fun)

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One function per argument: jvps[i](g_i, primal_out, *primals) -> tangent part."""
        def jvp(primals, tangents):
            out = self(*primals)
            acc = None
            for f, t in zip(jvps, tangents):
                if f is None:
                    continue
                term = f(t, out, *primals)
                acc = term if acc is None else tree_map(lambda a, b: a + b, acc, term)
            if acc is None:
                acc = tree_map(lambda o: o * 0, out)
            return out, acc
        self.defjvp(jvp)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function "
                                 f"{getattr(self._fun, '__name__', '')} using defjvp.")
        args = _resolve_args(self._fun, args, kwargs)
        trace, args = _rule_trace(args)
        with set_current_trace(trace):
            if trace is EVAL_TRACE:
                return _run_rule(self._fun, *args)
            if type(trace) is JVPTrace:
                return self._jvp(trace, args)
            if isinstance(trace, BatchTrace) and not _nondiff_batched(
                    trace, args, self.nondiff_argnums):
                return self._batched(trace, args)
            return self._bind(args)

    def _batched(self, trace: BatchTrace, args):
        """JAX's BatchTrace.process_custom_jvp_call: the call goes one level down with the
        batched arguments' values (where Python control flow on the concrete ones works); its
        function and rule run batched by this trace (for the batched arguments and for what
        they close over), their outputs with the batch axis first, and come back as this
        trace's values."""
        n = len(args)
        nondiff = {i % n for i in self.nondiff_argnums}
        lowered, dims = [], []  # per argument: its value and its leaves' batch dims
        for a in args:
            leaves, tree = tree_flatten(a)
            lifted = [trace.lift(x) for x in leaves]
            lowered.append(tree_unflatten(tree, [v for v, _ in lifted]))
            dims.append([d for _, d in lifted])
        fun, user_jvp = self._fun, self.jvp
        dyn_dims = [d for i in range(n) if i not in nondiff for d in dims[i]]

        def fun_b(*a):
            flat, tree = tree_flatten(a)
            return _batched_call(trace, lambda *xs: fun(*tree_unflatten(tree, xs)), flat,
                                 [d for ds in dims for d in ds])

        def jvp_b(*a):
            nd, ps, ts = a[:-2], a[-2], a[-1]
            pl, pt = tree_flatten(ps)
            tl, tt = tree_flatten(ts)
            t_dims = list(dyn_dims)
            for i, (t, d) in enumerate(zip(tl, dyn_dims)):
                if type(t) is SymbolicZero and d is not None:  # the per-example zero
                    shape = t.aval.shape[:d] + t.aval.shape[d + 1:]
                    tl[i], t_dims[i] = SymbolicZero(t.aval.update(shape=shape)), None

            def call(*xs):
                p_out, t_out = user_jvp(*nd, tree_unflatten(pt, xs[:len(pl)]),
                                        tree_unflatten(tt, xs[len(pl):]))
                return p_out, tree_map(instantiate_symbolic, t_out)
            return _batched_call(trace, call, [*pl, *tl], [*dyn_dims, *t_dims])

        inner = custom_jvp(fun_b, nondiff_argnums=self.nondiff_argnums)
        inner.defjvp(jvp_b, symbolic_zeros=self.symbolic_zeros)
        inner.__name__ = self.__name__
        with set_current_trace(trace.parent):
            out = inner(*lowered)
        return tree_map(lambda o: BatchTracer(trace, o, 0), out)

    def _jvp(self, trace: JVPTrace, args):
        """JAX's JVPTrace.process_custom_jvp_call: the user's rule on the primals and
        tangents, one level down; the function itself does not run."""
        nondiff, nd_vals, _, in_tree, ps, ts = _lift_dyn(trace, self.nondiff_argnums, args)
        with set_current_trace(trace.parent):
            ts = _rule_tangents(ts, self.symbolic_zeros)
            pl, tl, out_tree = _run_rule(_user_jvp, self.jvp, nondiff, nd_vals, in_tree, ps, ts)
        return tree_unflatten(out_tree, [trace._wrap(p, t) for p, t in zip(pl, tl)])

    def _bind(self, args):
        c = _TracedCall(self._fun, self.nondiff_argnums, args, f"custom_jvp({self.__name__})")
        nondiff, nd_vals, in_tree = c.nondiff, c.nd_vals, c.in_tree
        leaves, closed, consts, out_tree = c.leaves, c.closed, c.consts, c.out_tree
        out_avals = closed.out_avals
        user_jvp = self.jvp

        def jvp_fun(primals, tangents):
            pl, tl, _ = _user_jvp(user_jvp, nondiff, nd_vals, in_tree, primals, tangents,
                                  out_tree, out_avals)
            return pl, tl

        outs = custom_jvp_call_p.bind(*consts, *leaves, call_jaxpr=closed, jvp_fun=jvp_fun,
                                      num_consts=len(consts),
                                      symbolic_zeros=self.symbolic_zeros)
        return tree_unflatten(out_tree, outs)


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp_fun, num_consts,
                         symbolic_zeros):
    _no_const_tangents("custom_jvp", tangents, num_consts)
    ps = primals[num_consts:]
    ts = _rule_tangents(tangents[num_consts:], symbolic_zeros)
    out_p, out_t = jvp_fun(list(ps), ts)
    return out_p, out_t


class _RuleBatchTrace(BatchTrace):
    """The trace a user's rule runs in when its call is batched: it also takes the tracers of
    the vmap that batched the call as its own, since the rule may close over them (JAX
    recognises them by the trace's tag), and those of the vmap behind that one when it is
    itself a rule's (a rule calling a custom function whose own rule is batched)."""

    __slots__ = ("outer", "owners")

    def __init__(self, parent, outer: BatchTrace):
        super().__init__(parent, outer.axis_size, outer.axis_name)
        self.outer = outer
        self.owners = (self, *getattr(outer, "owners", (outer,)))

    def lift(self, x):
        if type(x) is BatchTracer and any(x._trace is t for t in self.owners):
            return x.val, x.bdim
        return x, None


def _batch_rule_fun(outer: BatchTrace, fun, vals, dims, out_dim_dst=0):
    """batch_flat for a user's rule, in a _RuleBatchTrace of `outer`."""
    return batch_flat(fun, vals, dims, outer.axis_size, out_dim_dst=out_dim_dst,
                      trace=_RuleBatchTrace(current_trace(), outer))


@needs_trace
def _custom_jvp_call_batch(trace, vals, dims, *, call_jaxpr, jvp_fun, num_consts,
                           symbolic_zeros):
    from plax_transforms.rules.control_flow import batch_closed
    nout = len(call_jaxpr.out_avals)
    new_call = batch_closed(call_jaxpr, dims, trace.axis_size, trace.axis_name, [0] * nout)
    p_dims = list(dims[num_consts:])

    def new_jvp(primals, tangents):
        tangents, t_dims = list(tangents), list(p_dims)
        for i, (t, d) in enumerate(zip(tangents, p_dims)):
            if type(t) is SymbolicZero and d is not None:  # the per-example zero, unbatched
                shape = t.aval.shape[:d] + t.aval.shape[d + 1:]
                tangents[i], t_dims[i] = SymbolicZero(t.aval.update(shape=shape)), None

        def flat(*xs):
            n = len(primals)
            po, to = jvp_fun(list(xs[:n]), list(xs[n:]))
            return [*po, *to]
        outs = _batch_rule_fun(trace, flat, [*primals, *tangents], [*p_dims, *t_dims])
        return outs[:nout], outs[nout:]

    outs = custom_jvp_call_p.bind(*vals, call_jaxpr=new_call, jvp_fun=new_jvp,
                                  num_consts=num_consts, symbolic_zeros=symbolic_zeros)
    return outs, [0] * nout


# ---------------------------------------------------------------------------------------------
# custom_vjp


class custom_vjp:
    """Give a function a custom vjp: `f.defvjp(fwd, bwd)` with fwd(*args) -> (out, residuals)
    and bwd(residuals, cotangent) -> a tuple of cotangents, one per argument. With
    `symbolic_zeros=True` (as JAX's), fwd gets each differentiable argument leaf as a
    CustomVJPPrimal (value, perturbed: whether it has a tangent), bwd gets a SymbolicZero for
    each zero cotangent and may return SymbolicZeros."""

    def __init__(self, fun: Callable, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self.symbolic_zeros = False

    fun = property(lambda self: self._fun)

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        self.fwd, self.bwd, self.symbolic_zeros = fwd, bwd, bool(symbolic_zeros)

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function "
                                 f"{getattr(self._fun, '__name__', '')} using defvjp.")
        args = _resolve_args(self._fun, args, kwargs)
        trace, args = _rule_trace(args)
        with set_current_trace(trace):
            if trace is EVAL_TRACE:
                return _run_rule(self._fun, *args)
            if type(trace) is JVPTrace:
                return self._jvp(trace, args)
            return self._bind(args)

    def _jvp(self, trace: JVPTrace, args):
        """JAX's JVPTrace.process_custom_vjp_call: fwd on the primals one level down, and a
        custom_lin equation (transposed into bwd) for the tangents; the function does not run."""
        nondiff, nd_vals, dyn, in_tree, ps, ts = _lift_dyn(trace, self.nondiff_argnums, args)
        box: dict = {}
        fwd_fun, bwd_fun = _vjp_rules(self.fwd, self.bwd, nondiff, nd_vals, dyn, len(args),
                                      in_tree, box, self.symbolic_zeros)
        with set_current_trace(trace.parent):
            outs, res = _run_rule(fwd_fun, ps, [type(t) is not Zero for t in ts])
            ts = [instantiate(t) for t in ts]
            out_avals = tuple(get_aval(o).strip_weak_type() for o in outs)
            t_out = custom_lin_p.bind(*res, *ts, num_res=len(res), bwd_fun=bwd_fun,
                                      out_avals=out_avals)
        return tree_unflatten(box["out_tree"], [trace._wrap(p, t) for p, t in zip(outs, t_out)])

    def _bind(self, args):
        c = _TracedCall(self._fun, self.nondiff_argnums, args, f"custom_vjp({self.__name__})")
        box = {"out_tree": c.out_tree, "out_avals": c.closed.out_avals}
        fwd_fun, bwd_fun = _vjp_rules(self.fwd, self.bwd, c.nondiff, c.nd_vals, c.dyn, c.n,
                                      c.in_tree, box, self.symbolic_zeros)
        outs = custom_vjp_call_p.bind(*c.consts, *c.leaves, call_jaxpr=c.closed,
                                      fwd_fun=fwd_fun, bwd_fun=bwd_fun,
                                      num_consts=len(c.consts))
        return tree_unflatten(c.out_tree, outs)


def _vjp_rules(fwd, bwd, nondiff, nd_vals, dyn, n, in_tree, box: dict,
               symbolic_zeros: bool = False):
    """The user's fwd and bwd on flat values. `box` holds the function's output tree and avals
    when it was traced (fwd's output is checked against them), else fwd's own are put there.
    fwd_fun(primals, perturbed) takes whether each primal leaf has a tangent; bwd_fun(res,
    cts) takes cotangents that may be Zeros and returns Zeros for zero cotangents."""
    res_box = []

    def fwd_fun(primals, perturbed=None):
        if symbolic_zeros:  # each leaf as JAX's CustomVJPPrimal(value, perturbed)
            flags = [True] * len(primals) if perturbed is None else perturbed
            primals = [CustomVJPPrimal(p, f) for p, f in zip(primals, flags)]
        r = fwd(*_merge(nondiff, nd_vals, tree_unflatten(in_tree, primals), n))
        if not isinstance(r, (tuple, list)) or len(r) != 2:
            raise TypeError(f"a custom_vjp fwd function must return a pair (output, "
                            f"residuals), got {r!r:.100}")
        out, res = r
        ol, ot = tree_flatten(out)
        avals = [get_aval(x) for x in ol]
        if "out_avals" in box:
            _check_out("custom_vjp fwd output", box["out_tree"], box["out_avals"], ot, avals)
        else:
            box["out_tree"] = ot
        rl, rt = tree_flatten(res)
        res_box.append(rt)
        return ol, rl

    def bwd_fun(res, cts):
        r = tree_unflatten(res_box[-1], res)
        cts = [(SymbolicZero(c.aval) if symbolic_zeros else instantiate(c))
               if type(c) is Zero else c for c in cts]
        ct = tree_unflatten(box["out_tree"], cts)
        out = bwd(*nd_vals, r, ct) if nondiff else bwd(r, ct)
        if not isinstance(out, tuple):
            raise TypeError(f"a custom_vjp bwd function must return a tuple with one "
                            f"cotangent per differentiable argument, got "
                            f"{type(out).__name__}")
        if len(out) != len(dyn):
            raise TypeError(f"a custom_vjp bwd function returned {len(out)} cotangents but "
                            f"the function has {len(dyn)} differentiable arguments")
        flat = []
        for arg, c in zip(dyn, out):
            arg_leaves, arg_tree = tree_flatten(arg)
            if c is None:
                flat.extend(Zero(get_aval(x)) for x in arg_leaves)
                continue
            cl, ctree = tree_flatten(c, is_leaf=lambda v: type(v) is SymbolicZero)
            if ctree != arg_tree:
                raise TypeError(f"custom_vjp bwd returned a cotangent with tree {ctree} "
                                f"for an argument with tree {arg_tree}")
            for j, (x, ct) in enumerate(zip(arg_leaves, cl)):
                if type(ct) is SymbolicZero:  # a zero cotangent, said symbolically
                    cl[j] = Zero(get_aval(x))
                    continue
                if get_aval(ct).shape != get_aval(x).shape:
                    raise ValueError(
                        f"custom_vjp bwd rule must produce cotangents with the shapes of "
                        f"the primal arguments; got {get_aval(ct).str_short()} for an "
                        f"argument of type {get_aval(x).str_short()}")
            flat.extend(cl)
        return flat

    return fwd_fun, bwd_fun


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd_fun, bwd_fun, num_consts):
    _no_const_tangents("custom_vjp", tangents, num_consts)
    ps = list(primals[num_consts:])
    outs, res = fwd_fun(ps, [type(t) is not Zero for t in tangents[num_consts:]])
    ts = [instantiate(t) for t in tangents[num_consts:]]
    out_avals = tuple(a.strip_weak_type() for a in call_jaxpr.out_avals)
    t_out = custom_lin_p.bind(*res, *ts, num_res=len(res), bwd_fun=bwd_fun,
                              out_avals=out_avals)
    return outs, t_out


def _custom_lin_jvp(*args, **params):
    # pushing a tangent through custom_lin (forward mode, or vmap of a linearized function
    # evaluated forward: jacfwd) is an impossible request: the error, named up front
    raise TypeError(JVP_OF_CUSTOM_VJP)


def _custom_lin_transpose(cts, *args, num_res, bwd_fun, out_avals):
    res = args[:num_res]
    cts_in = bwd_fun(list(res), list(cts))  # (zero cotangents as Zeros: bwd_fun's to give)
    return [None] * num_res + [None if type(c) is Zero else c for c in cts_in]


@needs_trace
def _custom_vjp_call_batch(trace, vals, dims, *, call_jaxpr, fwd_fun, bwd_fun, num_consts):
    from plax_transforms.rules.control_flow import batch_closed
    nout = len(call_jaxpr.out_avals)
    new_call = batch_closed(call_jaxpr, dims, trace.axis_size, trace.axis_name, [0] * nout)
    p_dims = list(dims[num_consts:])

    def new_fwd(primals, perturbed=None):
        def flat(*xs):
            o, r = fwd_fun(list(xs), perturbed)
            return [*o, *r]
        outs = _batch_rule_fun(trace, flat, primals, p_dims)
        return outs[:nout], outs[nout:]

    def new_bwd(res, cts):
        cts = [instantiate(c) for c in cts]  # batched as values

        def flat(*xs):
            r, c = xs[:len(res)], xs[len(res):]
            return [instantiate(z) for z in bwd_fun(list(r), list(c))]
        return _bwd_to_dims(trace, flat, res, cts, p_dims)

    outs = custom_vjp_call_p.bind(*vals, call_jaxpr=new_call, fwd_fun=new_fwd, bwd_fun=new_bwd,
                                  num_consts=num_consts)
    return outs, [0] * nout


def _bwd_to_dims(trace, flat, res, cts, p_dims):
    """Batched bwd: cotangents come back with each primal's own batch dim (None: summed)."""
    from plax import lax
    size = trace.axis_size
    outs, ods = _batch_rule_fun(trace, flat, [*res, *cts], [0] * (len(res) + len(cts)),
                                out_dim_dst=None)
    result = []
    for o, d, want in zip(outs, ods, p_dims):
        if want is None and d is not None:
            result.append(lax.reduce_sum(o, (d,)))
        else:
            result.append(matchaxis(o, d, want, size))
    return result


# ---------------------------------------------------------------------------------------------
# checkpoint / remat


def nothing_saveable(prim, *avals, **params) -> bool:
    return False


def everything_saveable(prim, *avals, **params) -> bool:
    return True


def dots_saveable(prim, *avals, **params) -> bool:
    return prim.name == "dot_general"


def dots_with_no_batch_dims_saveable(prim, *avals, **params) -> bool:
    if prim.name != "dot_general":
        return False
    (_, _), (lb, rb) = params["dimension_numbers"]
    return not lb and not rb


class checkpoint_policies:
    """Which intermediates checkpoint may save for the backward pass (the rest is recomputed)."""
    nothing_saveable = staticmethod(nothing_saveable)
    everything_saveable = staticmethod(everything_saveable)
    dots_saveable = staticmethod(dots_saveable)
    checkpoint_dots = staticmethod(dots_saveable)
    dots_with_no_batch_dims_saveable = staticmethod(dots_with_no_batch_dims_saveable)


def checkpoint(fun: Callable | None = None, *, prevent_cse: bool = True, policy=None,
               static_argnums=(), concrete: bool = False):
    """Recompute `fun`'s intermediates in the backward pass instead of storing them
    (`policy` decides what may be stored: checkpoint_policies.*)."""
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy,
                                 static_argnums=static_argnums)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        bad = [i for i in static if not -len(args) <= i < len(args)]
        if bad:
            raise ValueError(f"checkpoint({getattr(fun, '__name__', 'fun')}): static_argnums "
                             f"{tuple(bad)} out of range for a call with {len(args)} "
                             f"positional arguments (valid: {-len(args)} to {len(args) - 1})")
        if current_trace() is EVAL_TRACE:
            return fun(*args, **kwargs)
        st = {i % len(args) for i in static}
        dyn = [a for i, a in enumerate(args) if i not in st]
        leaves, in_tree = tree_flatten((tuple(dyn), kwargs))
        box = []

        def flat_fun(*xs):
            d, kw = tree_unflatten(in_tree, xs)
            it = iter(d)
            full = [args[i] if i in st else next(it) for i in range(len(args))]
            ol, ot = tree_flatten(fun(*full, **kw))
            box.append(ot)
            return ol

        closed, consts = closed_call_jaxpr(flat_fun, [get_aval(x) for x in leaves],
                                           f"checkpoint({getattr(fun, '__name__', 'fun')})")
        outs = checkpoint_p.bind(*consts, *leaves, jaxpr=closed, prevent_cse=prevent_cse,
                                 differentiated=False, policy=policy)
        return tree_unflatten(box[-1], outs)

    return wrapped


remat = checkpoint


def _checkpoint_jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy):
    from plax_transforms.rules.control_flow import jvp_closed
    nz = [type(t) is not Zero for t in tangents]
    new, _ = jvp_closed(jaxpr, nz)
    outs = checkpoint_p.bind(*primals, *[t for t in tangents if type(t) is not Zero],
                             jaxpr=new, prevent_cse=prevent_cse, differentiated=True,
                             policy=policy)
    m = len(jaxpr.out_avals)
    return outs[:m], outs[m:]


@needs_trace
def _checkpoint_batch(trace, vals, dims, *, jaxpr, **params):
    from plax_transforms.rules.control_flow import batch_closed
    nout = len(jaxpr.out_avals)
    new = batch_closed(jaxpr, dims, trace.axis_size, trace.axis_name, [0] * nout)
    return checkpoint_p.bind(*vals, jaxpr=new, **params), [0] * nout


def _checkpoint_transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy):
    """The backward pass of a checkpointed piece is itself one checkpoint equation: it takes the
    saved inputs and the cotangents, recomputes the intermediates and transposes (as JAX's
    transposed remat), so a compiler keeps the recomputation where the backward pass needs it."""
    from plax_transforms.ad import (
        UndefinedPrimal, backward_pass, is_undefined, partial_eval_jaxpr)
    lin = [is_undefined(a) for a in args]
    known = [a for a in args if not is_undefined(a)]
    cts = [instantiate(c) for c in cts]
    # split the body first: its non-linear part (recomputed here, in the backward pass) may
    # sit inside equations that also carry linear values (a jvp-ed scan's primal carry), which
    # backward_pass alone would try to transpose
    kjaxpr, ujaxpr, out_uk, nres = partial_eval_jaxpr(jaxpr, lin)

    def transposed(*xs):
        kouts = eval_jaxpr(kjaxpr.jaxpr, kjaxpr.consts, *xs[:len(known)])
        residuals = kouts[len(kouts) - nres:] if nres else []
        full = [*residuals, *[UndefinedPrimal(a.aval) for a, u in zip(args, lin) if u]]
        ucts = [c for c, u in zip(xs[len(known):], out_uk) if u]
        res = backward_pass(ujaxpr.jaxpr, ujaxpr.consts, full, ucts)[nres:]
        return [instantiate(r) for r in res]

    avals = [get_aval(x) for x in (*known, *cts)]
    closed, consts = closed_call_jaxpr(transposed, avals, "checkpoint transpose")
    outs = iter(checkpoint_p.bind(*consts, *known, *cts, jaxpr=closed, prevent_cse=prevent_cse,
                                  differentiated=True, policy=policy))
    return [next(outs) if u else None for u in lin]


def _checkpoint_partial_eval(trace: JaxprTrace, args, params):
    """Known outputs are computed now; the unknown outputs are recorded as one checkpoint
    equation whose inputs are the known inputs (and, per policy, saved intermediates), so
    the backward pass recomputes everything else."""
    closed = params["jaxpr"]
    policy = params["policy"] or nothing_saveable
    jx = closed.jaxpr
    uk_in = [is_unknown(trace, a) for a in args]
    known_vars = {v for v, u in zip(jx.invars, uk_in) if not u}
    saved_eqns = []
    for eqn in jx.eqns:
        if all(type(x) is Literal or x in known_vars for x in eqn.invars):
            known_vars.update(eqn.outvars)
            if policy(eqn.primitive, *[x.aval for x in eqn.invars], **eqn.params):
                saved_eqns.append(eqn)
    saved_vars = [v for e in saved_eqns for v in e.outvars]
    known_args = [a for a, u in zip(args, uk_in) if not u]
    out_uk = [not (type(v) is Literal or v in known_vars) for v in jx.outvars]
    # 1. the known part: known outputs and saved intermediates, from the known inputs
    known_in = [v for v, u in zip(jx.invars, uk_in) if not u]
    known_jaxpr = _dce(Jaxpr([], known_in,
                             [v for v, u in zip(jx.outvars, out_uk) if not u] + saved_vars,
                             jx.eqns))
    with set_current_trace(trace.parent):
        kouts = eval_jaxpr(known_jaxpr, [], *known_args)
    nk = len(kouts) - len(saved_vars)
    known_outs, saved = kouts[:nk], kouts[nk:]
    # 2. an equation with known and unknown inputs (a jvp-ed scan) may still give known
    # outputs (its primal results): partial evaluation finds them, and they must stay known,
    # or the linear part would multiply unknowns
    if any(e.primitive in pe_rules and e not in saved_eqns for e in jx.eqns):
        from plax_transforms.ad import partial_eval_jaxpr
        kjaxpr, _, pe_uk, nres = partial_eval_jaxpr(closed, uk_in)
        if pe_uk != out_uk:
            with set_current_trace(trace.parent):
                pe_outs = eval_jaxpr(kjaxpr.jaxpr, kjaxpr.consts, *known_args)
            it_old, it_pe = iter(known_outs), iter(pe_outs[:len(pe_outs) - nres])
            known_outs = []
            for old, new in zip(out_uk, pe_uk):
                v = next(it_pe) if not new else None
                if not old:
                    v = next(it_old)
                if not new:
                    known_outs.append(v)
            out_uk = pe_uk
    # 3. the unknown part: everything else, recomputed from inputs and saved values
    saved_set = set(map(id, saved_eqns))
    rest = [e for e in jx.eqns if id(e) not in saved_set]
    unk = _dce(Jaxpr([], [*jx.invars, *saved_vars],
                     [v for v, u in zip(jx.outvars, out_uk) if u], rest))
    uouts = JaxprTrace.process_primitive(
        trace, checkpoint_p, [*args, *saved],
        dict(params, jaxpr=ClosedJaxpr(unk, closed.consts)))
    ik, iu = iter(known_outs), iter(uouts)
    return [next(iu) if u else next(ik) for u in out_uk]


def _dce(jaxpr: Jaxpr) -> Jaxpr:
    """Drop equations whose outputs are not needed (inputs are kept)."""
    live = {v for v in jaxpr.outvars if type(v) is Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.effectful or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(x for x in eqn.invars if type(x) is Var)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, kept[::-1])


def register(reg) -> None:
    reg.add_jvp(custom_jvp_call_p, _custom_jvp_call_jvp)
    reg.add_batch(custom_jvp_call_p, _custom_jvp_call_batch)
    reg.add_jvp(custom_vjp_call_p, _custom_vjp_call_jvp)
    reg.add_batch(custom_vjp_call_p, _custom_vjp_call_batch)
    reg.add_jvp(custom_lin_p, _custom_lin_jvp)
    reg.add_batch(custom_lin_p, _custom_lin_jvp)
    reg.add_transpose(custom_lin_p, _custom_lin_transpose)
    reg.add_jvp(checkpoint_p, _checkpoint_jvp)
    reg.add_batch(checkpoint_p, _checkpoint_batch)
    reg.add_transpose(checkpoint_p, _checkpoint_transpose)
    reg.add_partial_eval(checkpoint_p, _checkpoint_partial_eval)
    api = {"custom_jvp": custom_jvp, "custom_vjp": custom_vjp, "checkpoint": checkpoint,
           "remat": remat, "checkpoint_policies": checkpoint_policies,
           "custom_gradient": custom_gradient, "closure_convert": closure_convert}
    for name, obj in api.items():
        reg.register_api(name, obj)
    _register_linear_call(reg)



# ---------------------------------------------------------------------------------------------
# custom_gradient and closure_convert


class _GradientRule:
    """custom_gradient's residuals: the gradient function traced to a jaxpr (static) and the
    values it closes over (the residual arrays)."""
    __slots__ = ("jaxpr", "consts", "in_tree", "out_tree")

    def __init__(self, jaxpr, consts, in_tree, out_tree):
        self.jaxpr, self.consts, self.in_tree, self.out_tree = jaxpr, consts, in_tree, out_tree


def _register_gradient_rule():
    from plax.tree_util import register_pytree_node
    register_pytree_node(
        _GradientRule, lambda r: (list(r.consts), (r.jaxpr, r.in_tree, r.out_tree)),
        lambda aux, consts: _GradientRule(aux[0], list(consts), aux[1], aux[2]))


_register_gradient_rule()


def custom_gradient(fun: Callable) -> Callable:
    """As jax.custom_gradient (TensorFlow's spelling of a custom vjp): `fun(*args)` returns
    (output, vjp) where vjp(output cotangent) gives the tuple of argument cotangents; vjp may
    close over values of the forward pass, but not branch on them."""
    from plax.extend import trace_to_jaxpr

    @custom_vjp
    def wrapped(*args, **kwargs):
        ans, _ = fun(*args, **kwargs)
        return ans

    def fwd(*args, **kwargs):
        ans, rule = fun(*args, **kwargs)
        ans_flat, out_tree = tree_flatten((ans,))
        box = []

        def flat_rule(*cts):
            out = rule(*tree_unflatten(out_tree, list(cts)))
            leaves, tree = tree_flatten(out)
            box.append(tree)
            return leaves

        avals = [get_aval(x).strip_weak_type() for x in ans_flat]
        jaxpr, consts, _ = trace_to_jaxpr(flat_rule, avals, name="custom_gradient vjp")
        return ans, _GradientRule(jaxpr, list(consts), box[-1], out_tree)

    def bwd(res, ct):
        cts_flat, tree = tree_flatten((ct,))
        if tree != res.out_tree:
            raise TypeError(f"custom_gradient: the output cotangent's tree {tree} differs "
                            f"from the output's {res.out_tree}")
        out = tree_unflatten(res.in_tree, eval_jaxpr(res.jaxpr, res.consts, *cts_flat))
        if res.in_tree.num_leaves == 1 and res.in_tree.is_leaf():
            out = (out,)
        return out

    wrapped.defvjp(fwd, bwd)
    functools.update_wrapper(wrapped, fun, updated=())
    return wrapped


def _maybe_perturbed(x) -> bool:
    """Whether a value closed over may carry a tangent (JAX's heuristic): a traced value of an
    inexact dtype; concrete values and integer values never do."""
    from plax.extend import Tracer, dtypes
    return isinstance(x, Tracer) and dtypes.is_inexact(get_aval(x).dtype)


def closure_convert(fun: Callable, *example_args):
    """As jax.closure_convert: (converted, hoisted) where converted(*args, *hoisted) computes
    fun(*args) and `hoisted` are the traced values fun closes over that may carry tangents,
    now explicit arguments (for custom_vjp/custom_jvp functions taking fun as a nondiff
    argument). fun is traced once, on the example arguments' shapes and dtypes."""
    from plax.extend import trace_to_jaxpr
    flat_args, in_tree = tree_flatten(example_args)
    avals = [get_aval(x) for x in flat_args]
    box = []

    def flat_fun(*xs):
        out = fun(*tree_unflatten(in_tree, list(xs)))
        leaves, tree = tree_flatten(out)
        box.append(tree)
        return leaves

    jaxpr, consts, _ = trace_to_jaxpr(flat_fun, avals, name="closure_convert")
    out_tree = box[-1]
    hoist = [_maybe_perturbed(c) for c in consts]
    closure_consts = [c for c, h in zip(consts, hoist) if not h]
    hoisted = [c for c, h in zip(consts, hoist) if h]
    num_hoisted = len(hoisted)

    def converted_fun(*args_hconsts):
        num_args = len(args_hconsts) - num_hoisted
        args, hconsts = args_hconsts[:num_args], args_hconsts[num_args:]
        it_c, it_h = iter(closure_consts), iter(hconsts)
        all_consts = [next(it_h) if h else next(it_c) for h in hoist]
        all_args, in_tree2 = tree_flatten(tuple(args))
        if in_tree != in_tree2:
            raise TypeError("The inputs to the closure produced by closure_convert must have "
                            "the same Pytree structure as the example arguments passed when "
                            f"closure_convert was called. Expected {in_tree}, but got "
                            f"{in_tree2}")
        return tree_unflatten(out_tree, eval_jaxpr(jaxpr, all_consts, *all_args))

    return converted_fun, hoisted


# ---------------------------------------------------------------------------------------------
# linear_call: a function linear in some arguments, with its own transpose


def linear_call(fun: Callable, fun_transpose: Callable, residual_args, linear_args):
    """`fun(residual_args, linear_args)`, a function linear in `linear_args`, whose transpose
    (reverse mode: grad, vjp, linear_transpose) is `fun_transpose(residual_args, ct)` instead
    of the transpose of what `fun` computes; the transpose of that is `fun` again, as JAX's
    `jax.custom_derivatives.linear_call`. `fun_transpose` returns a value of `linear_args`'
    structure, shapes and dtypes. Its forward-mode derivative is `fun` on the tangents; the
    residual arguments are not differentiated (an error if they are), and like JAX's it has
    no batching rule."""
    if not (callable(fun) and callable(fun_transpose)):
        raise TypeError("linear_call: fun and fun_transpose must be callable, got "
                        f"{type(fun).__name__} and {type(fun_transpose).__name__}")
    res, res_tree = tree_flatten(residual_args)
    lin, lin_tree = tree_flatten(linear_args)
    res_avals = [get_aval(x) for x in res]
    lin_avals = [get_aval(x) for x in lin]
    callee, consts, out_tree = _trace_pair(fun, res_tree, res_avals, lin_tree, lin_avals,
                                           "linear_call")
    thunk = _LinearTranspose(fun_transpose, res_tree, res_avals, out_tree,
                             callee.out_avals, lin_tree, lin_avals)
    outs = linear_call_p.bind(*consts, *res, *lin, callee=callee, transpose_thunk=thunk,
                              num_callee_consts=len(consts), num_res=len(res))
    return tree_unflatten(out_tree, outs)


def _trace_pair(fun, res_tree, res_avals, arg_tree, arg_avals, name: str):
    """`fun(residuals, args)` (two pytrees) traced on flat avals: (its closed jaxpr, the
    consts it closes over, its output tree)."""
    n = len(res_avals)
    trees = []

    def flat(*xs):
        out = fun(tree_unflatten(res_tree, list(xs[:n])), tree_unflatten(arg_tree, list(xs[n:])))
        leaves, tree = tree_flatten(out)
        trees.append(tree)
        return leaves

    closed, consts = closed_call_jaxpr(flat, list(res_avals) + list(arg_avals), name)
    return closed, consts, trees[0]


class _LinearTranspose:
    """linear_call's transpose thunk: `fun_transpose` traced once (on first use) on the
    residuals' and the outputs' avals, its output checked against the linear inputs'."""

    def __init__(self, fun, res_tree, res_avals, ct_tree, ct_avals, lin_tree, lin_avals):
        self.fun, self.res_tree, self.res_avals = fun, res_tree, list(res_avals)
        self.ct_tree, self.ct_avals = ct_tree, list(ct_avals)
        self.lin_tree, self.lin_avals = lin_tree, list(lin_avals)
        self._traced = None

    def __call__(self):
        if self._traced is None:
            closed, consts, tree = _trace_pair(self.fun, self.res_tree, self.res_avals,
                                               self.ct_tree, self.ct_avals,
                                               "linear_call transpose")
            if tree != self.lin_tree:
                raise TypeError(
                    "linear_call: fun_transpose must return the structure of linear_args: "
                    f"got {tree}, linear_args is {self.lin_tree}")
            for i, (got, want) in enumerate(zip(closed.out_avals, self.lin_avals)):
                if (got.shape, got.dtype) != (want.shape, want.dtype):
                    raise TypeError(
                        f"linear_call: fun_transpose's output {i} is {got.str_short()}, the "
                        f"linear argument it transposes to is {want.str_short()}")
            self._traced = (closed, consts)
        return self._traced


class _Known:
    """The transpose thunk of a transposed linear_call: the original function and consts."""

    def __init__(self, closed, consts):
        self._traced = (closed, list(consts))

    def __call__(self):
        return self._traced


def _linear_call_jvp(primals, tangents, *, callee, transpose_thunk, num_callee_consts,
                     num_res):
    k = num_callee_consts + num_res
    if any(type(t) is not Zero for t in tangents[:num_callee_consts]):
        raise TypeError("linear_call: fun closes over a value that is being differentiated; "
                        "pass it in residual_args or linear_args instead")
    if any(type(t) is not Zero for t in tangents[num_callee_consts:k]):
        raise TypeError("linear_call: differentiating with respect to residual_args is not "
                        "supported (fun is linear in linear_args only; as JAX's)")
    params = dict(callee=callee, transpose_thunk=transpose_thunk,
                  num_callee_consts=num_callee_consts, num_res=num_res)
    outs = linear_call_p.bind(*primals, **params)
    lin_t = tangents[k:]
    if all(type(t) is Zero for t in lin_t):
        return outs, [Zero(a) for a in callee.out_avals]
    touts = linear_call_p.bind(*primals[:k], *[instantiate(t) for t in lin_t], **params)
    return outs, touts


def _linear_call_transpose(cts, *args, callee, transpose_thunk, num_callee_consts, num_res):
    from plax.extend.ad import is_undefined
    k = num_callee_consts + num_res
    if any(is_undefined(x) for x in args[:k]):
        raise TypeError("linear_call: transposing with respect to residual_args (or values fun "
                        "closes over) is not supported; it is linear in linear_args only")
    t_closed, t_consts = transpose_thunk()
    consts, res = list(args[:num_callee_consts]), list(args[num_callee_consts:k])
    cts = [instantiate(ct) for ct in cts]
    outs = linear_call_p.bind(*t_consts, *res, *cts, callee=t_closed,
                              transpose_thunk=_Known(callee, consts),
                              num_callee_consts=len(t_consts), num_res=num_res)
    return [None] * k + list(outs)


def _linear_call_batch(args, dims, **params):
    raise NotImplementedError(
        "vmap of linear_call is not supported (JAX has no batching rule for it either): "
        "vmap the functions inside it instead, or write the batched function with linear_call")


def _register_linear_call(reg) -> None:
    reg.add_jvp(linear_call_p, _linear_call_jvp)
    reg.add_transpose(linear_call_p, _linear_call_transpose)
    reg.add_batch(linear_call_p, _linear_call_batch)
    reg.register_api("linear_call", linear_call)
