"""Control flow as primitives carrying closed jaxprs: cond (switch), while, scan; with the user
functions cond, switch, while_loop, fori_loop, scan and map built on them.

Functions are traced once to jaxprs. Values they close over become explicit leading operands
(`*_nconsts`), so the primitives' jaxprs are const-free and every transform can see all inputs.
"""

from __future__ import annotations

import operator
import types
from typing import Callable, Sequence

import numpy as np

from plax._src import dtypes, prng_keys, state
from plax._src.config import config
from plax._src.core import (
    ClosedJaxpr, ConcretizationTypeError, Jaxpr, PlaxTypeError, Primitive, ShapedArray, Tracer,
    Var, get_aval)
from plax._src.registry import add_abstract_eval
from plax._src.tracing import convert_constvars_jaxpr, trace_to_jaxpr
from plax._src.tree_util import keystr, tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "cond_p", "while_p",
           "scan_p"]

cond_p = Primitive("cond", multiple_results=True)
while_p = Primitive("while", multiple_results=True)
scan_p = Primitive("scan", multiple_results=True)


# ---------------------------------------------------------------------------------------------
# Tracing the user's functions and checking what they return


def _trace_flat(fun: Callable, in_tree, in_avals, name: str):
    """Trace fun(*unflatten(in_tree, args)) -> (const-free ClosedJaxpr over consts+args,
    consts, out_tree)."""
    box = []

    def flat_fun(*flat):
        out = fun(*tree_unflatten(in_tree, flat))
        leaves, tree = tree_flatten(out)
        box.append(tree)
        return leaves

    jaxpr, consts, _, refs = trace_to_jaxpr(flat_fun, list(in_avals), name=name, refs=True)
    if refs:  # Refs made outside: the caller threads their values through (_with_refs)
        raise state.UsesRefs(refs)
    return ClosedJaxpr(convert_constvars_jaxpr(jaxpr), []), consts, box[-1]


def _with_refs(run: Callable):
    """run(refs) with refs=[] first; when the traced functions turn out to use Refs made
    outside them, again with those Refs, for `run` to thread their values through the
    primitive as extra operands (JAX's discharge of the Ref effects of a loop or a cond)."""
    refs: list = []
    while True:
        try:
            return run(refs)
        except state.UsesRefs as e:
            new = [r for r in e.refs if all(r is not q for q in refs)]
            if not new:
                raise
            refs = refs + new


def _avals_str(avals) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _leaf_paths(tree) -> list[str]:
    pairs, _ = tree_flatten_with_path(tree_unflatten(tree, list(range(tree.num_leaves))))
    return [keystr(p) for p, _ in pairs]


def _check_same_types(what: str, tree_a, avals_a, tree_b, avals_b, name_a: str, name_b: str):
    """Equal tree structures, and per leaf equal shapes and dtypes (weak types may differ)."""
    if tree_a != tree_b:
        raise PlaxTypeError(f"{what}: {name_a} has tree structure {tree_a} but {name_b} has "
                            f"{tree_b}, so their pytree structures differ; they must match")
    for path, a, b in zip(_leaf_paths(tree_a), avals_a, avals_b):
        if a.shape != b.shape:
            why = "so the shapes do not match"
        elif a.dtype != b.dtype:
            why = "so the dtypes do not match"
        else:
            continue
        where = f" at {path}" if path else ""
        raise PlaxTypeError(
            f"{what} must have equal types: {name_a}{where} has type {a.str_short()} but "
            f"{name_b}{where} has type {b.str_short()}, {why} (all: {_avals_str(avals_a)} vs "
            f"{_avals_str(avals_b)})")


def _promote_weak_typed_inputs(vals, in_avals, out_avals):
    """A weakly typed carry init (a Python scalar) takes the type of the body's output when the
    dtypes differ, as JAX does: `while_loop(c, lambda i: i + 1.5, 0)` carries a float32."""
    new, changed = [], False
    for v, a, o in zip(vals, in_avals, out_avals):
        if a.weak_type and (a.shape != o.shape or a.dtype != o.dtype):
            dt = dtypes.result_type(v, types.SimpleNamespace(aval=o))
            from plax import lax
            v, changed = lax.convert_element_type(v, dt), True
        new.append(v)
    return new, changed


# ---------------------------------------------------------------------------------------------
# Small jaxpr surgery: what JAX does so the staged loops and branches carry no dead weight


def _forwarding(jaxpr: Jaxpr) -> list:
    """For each output, the index of the input it is (unchanged), else None."""
    pos = {v: i for i, v in enumerate(jaxpr.invars)}
    return [pos.get(v) if type(v) is Var else None for v in jaxpr.outvars]


def _prune_outputs(closed: ClosedJaxpr, keep: Sequence[bool]) -> ClosedJaxpr:
    jx = closed.jaxpr
    outs = [v for v, k in zip(jx.outvars, keep) if k]
    return ClosedJaxpr(_dce(Jaxpr(jx.constvars, jx.invars, outs, jx.eqns)), closed.consts)


def _move_inputs_to_front(closed: ClosedJaxpr, to_front: Sequence[bool]) -> ClosedJaxpr:
    jx = closed.jaxpr
    invars = ([v for v, m in zip(jx.invars, to_front) if m]
              + [v for v, m in zip(jx.invars, to_front) if not m])
    return ClosedJaxpr(Jaxpr(jx.constvars, invars, jx.outvars, jx.eqns), closed.consts)


def _dce(jaxpr: Jaxpr, prune_inputs: Sequence[bool] | None = None) -> Jaxpr:
    """Drop equations nothing needs; with `prune_inputs`, also those inputs (where True) that
    nothing reads."""
    live = {v for v in jaxpr.outvars if type(v) is Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.effectful or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(x for x in eqn.invars if type(x) is Var)
    invars = jaxpr.invars
    if prune_inputs is not None:
        invars = [v for v, p in zip(invars, prune_inputs) if not p or v in live]
    return Jaxpr(jaxpr.constvars, invars, jaxpr.outvars, kept[::-1])


def _as_output(x):
    """An input forwarded to the output unchanged, as an array (never a Python scalar)."""
    if isinstance(x, Tracer) or hasattr(x, "aval"):
        return x
    from plax._src.dispatch import asarray_value
    return asarray_value(x)


# ---------------------------------------------------------------------------------------------
# cond / switch


def _join_consts(traced: list[tuple[ClosedJaxpr, list]]):
    """Give every branch the union of all branches' consts (each distinct value once, as JAX)
    as leading inputs."""
    consts, where = [], {}
    for _, cs in traced:
        for c in cs:
            if id(c) not in where:
                where[id(c)] = len(consts)
                consts.append(c)
    branches = []
    for closed, cs in traced:
        jx = closed.jaxpr
        lead = [Var(get_aval(c)) for c in consts]
        for c, v in zip(cs, jx.invars):
            lead[where[id(c)]] = v
        invars = lead + jx.invars[len(cs):]
        branches.append(ClosedJaxpr(Jaxpr([], invars, jx.outvars, jx.eqns), []))
    return branches, consts


def switch(index, branches: Sequence[Callable], *operands):
    """Apply branches[index](*operands), with index clamped into range."""
    from plax import lax
    branches = list(branches)
    if not branches:
        raise ValueError("switch: empty branch sequence; it needs at least one branch")
    for b in branches:
        if not callable(b):
            raise TypeError(f"switch branches must be callable, got {b!r}")
    idx_aval = get_aval(index)
    if idx_aval.shape != ():
        raise PlaxTypeError(f"switch index must be a scalar, got {idx_aval.str_short()}")
    if not dtypes.is_int(idx_aval.dtype):
        raise PlaxTypeError(f"switch index must be an integer, got {idx_aval.str_short()}")
    if len(branches) == 1:
        return branches[0](*operands)
    index = lax.convert_element_type(index, np.int32)
    index = lax.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    return _cond(index, branches, operands, "switch")


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """true_fun(*operands) if pred else false_fun(*operands), both traced, one run."""
    from plax import lax
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("cond: true_fun and false_fun must be callable")
    aval = get_aval(pred)
    if aval.shape != ():
        raise PlaxTypeError(f"cond pred must be a scalar, got an array of shape {aval.shape}")
    if aval.dtype != dtypes.bool_:
        if dtypes.is_complex(aval.dtype) or not (dtypes.is_int(aval.dtype)
                                                 or dtypes.is_float(aval.dtype)):
            raise PlaxTypeError(f"cond pred must be a boolean or real number scalar, got "
                                f"{aval.str_short()}")
        pred = lax.ne(pred, np.zeros((), aval.dtype)[()])
    index = lax.convert_element_type(pred, np.int32)
    return _cond(index, (false_fun, true_fun), operands, "cond")


def _cond(index, funs, operands, what):
    if config.debug_key_reuse:  # the operand keys some branch consumes are consumed
        box: list = []

        def recording(f):
            def g(*args):
                out = f(*args)
                box.append(prng_keys.consumed_positions(args))
                return out
            return g
        out = _cond_checked(index, [recording(f) for f in funs], operands, what)
        prng_keys.consume_positions(tuple(operands), sorted(set().union(*box)), what)
        return out
    return _cond_checked(index, funs, operands, what)


def _cond_checked(index, funs, operands, what):
    leaves, tree = tree_flatten(tuple(operands))
    if any(state.is_ref(x) for x in leaves):  # Ref operands: the branches close over them
        def closing(f):
            def g(*vals):
                it = iter(vals)
                return f(*tree_unflatten(tree, [x if state.is_ref(x) else next(it)
                                                for x in leaves]))
            return g
        funs = [closing(f) for f in funs]
        operands = tuple(x for x in leaves if not state.is_ref(x))

    def run(refs):
        if not refs:
            return _cond_traced(index, funs, operands, what)
        vals = state.current_values(refs)

        def with_refs(f):
            def g(ops, vs):
                with state.bound(refs, vs) as b:
                    out = f(*ops)
                    return out, b.finals()
            return g

        out, vs = _cond_traced(index, [with_refs(f) for f in funs], (tuple(operands), vals),
                               what)
        state.write_back(refs, vs)
        return out
    return _with_refs(run)


def _cond_traced(index, funs, operands, what):
    flat_ops, in_tree = tree_flatten(tuple(operands))
    in_avals = [get_aval(x) for x in flat_ops]
    traced = [_trace_flat(f, in_tree, in_avals, f"{what} branch {i}")
              for i, f in enumerate(funs)]
    names = (["false_fun", "true_fun"] if what == "cond"
             else [f"branch {i}" for i in range(len(funs))])
    # JAX reports the true branch first for cond
    ref = 1 if what == "cond" else 0
    for i, (closed, _, tree) in enumerate(traced):
        if i != ref:
            _check_same_types(f"{what} branch outputs", traced[ref][2],
                              traced[ref][0].out_avals, tree, closed.out_avals,
                              f"{names[ref]} output", f"{names[i]} output")
    branches, consts = _join_consts([(c, cs) for c, cs, _ in traced])
    # outputs that every branch forwards from the same input need not go through the cond
    fwds = [_forwarding(b.jaxpr) for b in branches]
    in_fwd = [f[0] if len(set(f)) == 1 else None for f in zip(*fwds)]
    keep = [f is None for f in in_fwd]
    if not all(keep):
        branches = [_prune_outputs(b, keep) for b in branches]
    outs = iter(cond_p.bind(index, *consts, *flat_ops, branches=tuple(branches)))
    inputs = [*consts, *flat_ops]
    res = [next(outs) if f is None else _as_output(inputs[f]) for f in in_fwd]
    return tree_unflatten(traced[ref][2], res)


def _cond_abstract(index, *args, branches):
    if index.shape != () or index.dtype != np.int32:
        raise PlaxTypeError(f"cond index must be a scalar int32, got {index.str_short()}")
    outs = branches[0].out_avals
    for i, b in enumerate(branches):
        ins = b.in_avals
        if len(ins) != len(args):
            raise PlaxTypeError(f"cond branch {i} takes {len(ins)} operands, got {len(args)}")
        for a, e in zip(args, ins):
            if a.shape != e.shape or a.dtype != e.dtype:
                raise PlaxTypeError(f"cond branch {i} expects {_avals_str(ins)}, got "
                                    f"{_avals_str(args)}")
        bo = b.out_avals
        if len(bo) != len(outs) or any(x.shape != y.shape or x.dtype != y.dtype
                                       for x, y in zip(outs, bo)):
            raise PlaxTypeError(f"cond branch {i} returns {_avals_str(bo)} but branch 0 "
                                f"returns {_avals_str(outs)}")
    # as JAX: the result has branch 0's types (weak types included)
    return list(outs)


add_abstract_eval(cond_p, _cond_abstract)


# ---------------------------------------------------------------------------------------------
# while_loop / fori_loop


def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """Repeat body_fun on the carry while cond_fun(carry) is True."""
    if not callable(cond_fun) or not callable(body_fun):
        raise TypeError("while_loop: cond_fun and body_fun must be callable")
    if config.debug_key_reuse:
        box: list = []
        cond_fun = prng_keys.checked_loop_body(cond_fun, "while_loop cond", lambda _: None)
        body_fun = prng_keys.checked_loop_body(body_fun, "while_loop", None, box)
        out = _while_loop_checked(cond_fun, body_fun, init_val)
        if box:  # the init keys the body consumes are consumed
            prng_keys.consume_positions((init_val,), box[-1], "while_loop")
        return out
    return _while_loop_checked(cond_fun, body_fun, init_val)


def _while_loop_checked(cond_fun, body_fun, init_val):

    def run(refs):
        if not refs:
            return _while_loop(cond_fun, body_fun, init_val)
        vals = state.current_values(refs)

        def c(carry):
            with state.bound(refs, carry[1]):
                return cond_fun(carry[0])

        def b(carry):
            with state.bound(refs, carry[1]) as bd:
                out = body_fun(carry[0])
                return out, bd.finals()

        out, vs = _while_loop(c, b, (init_val, vals))
        state.write_back(refs, vs)
        return out
    return _with_refs(run)


def _while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    flat_init, in_tree = tree_flatten(init_val)
    args_tree = tree_flatten((init_val,))[1]

    def trace(avals):
        cj, cc, _ = _trace_flat(cond_fun, args_tree, avals, "while cond")
        c_out = cj.out_avals
        if len(c_out) != 1 or c_out[0].shape != () or c_out[0].dtype != dtypes.bool_:
            raise PlaxTypeError(f"while_loop cond_fun must return a boolean scalar, but got "
                                f"output type(s) {_avals_str(c_out)}")
        bj, bc, bt = _trace_flat(body_fun, args_tree, avals, "while body")
        if bt != in_tree:
            _check_same_types("while_loop body_fun carry input and carry output", in_tree,
                              avals, bt, bj.out_avals, "the carry input", "the carry output")
        return cj, cc, bj, bc, bt

    avals = [get_aval(x) for x in flat_init]
    cond_closed, cond_consts, body_closed, body_consts, body_tree = trace(avals)
    flat_init, changed = _promote_weak_typed_inputs(flat_init, avals, body_closed.out_avals)
    if changed:
        avals = [get_aval(x) for x in flat_init]
        cond_closed, cond_consts, body_closed, body_consts, body_tree = trace(avals)
    _check_same_types("while_loop body_fun carry input and carry output", in_tree, avals,
                      body_tree, body_closed.out_avals, "the carry input", "the carry output")
    # a carry the body passes through unchanged and the cond never reads is a body const
    nb = len(body_consts)
    fwd = _forwarding(body_closed.jaxpr)
    nofwd = [f != nb + i for i, f in enumerate(fwd)]
    cj = cond_closed.jaxpr
    nc = len(cond_consts)
    pruned = _dce(cj, [False] * nc + [not n for n in nofwd])
    kept = set(pruned.invars)
    move = [not n and v not in kept for n, v in zip(nofwd, cj.invars[nc:])]
    if any(move):
        cond_closed = ClosedJaxpr(pruned, [])
        body_closed = _prune_outputs(body_closed, [not m for m in move])
        body_closed = _move_inputs_to_front(body_closed, [False] * nb + move)
        moved = [x for x, m in zip(flat_init, move) if m]
        body_consts = [*moved, *body_consts]
        flat_init = [x for x, m in zip(flat_init, move) if not m]
    outs = while_p.bind(*cond_consts, *body_consts, *flat_init, cond_jaxpr=cond_closed,
                        body_jaxpr=body_closed, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    if any(move):
        it_o, it_m = iter(outs), iter(moved)
        outs = [_as_output(next(it_m)) if m else next(it_o) for m in move]
    return tree_unflatten(in_tree, outs)


def _while_abstract(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    carry = args[cond_nconsts + body_nconsts:]
    expected = body_jaxpr.in_avals[body_nconsts:]
    cond_in = cond_jaxpr.in_avals[cond_nconsts:]
    for a, e, c in zip(carry, expected, cond_in):
        if a.shape != e.shape or a.dtype != e.dtype or a.shape != c.shape or a.dtype != c.dtype:
            raise PlaxTypeError(f"while carry {_avals_str(carry)} does not match the body's "
                                f"inputs {_avals_str(expected)}")
    if len(carry) != len(expected) or len(body_jaxpr.out_avals) != len(expected):
        raise PlaxTypeError(f"while: the body takes {len(expected)} carries and returns "
                            f"{len(body_jaxpr.out_avals)}, got {len(carry)}")
    return [ShapedArray(a.shape, a.dtype, a.weak_type) for a in body_jaxpr.out_avals]


add_abstract_eval(while_p, _while_abstract)


def _concrete_int(x):
    if isinstance(x, Tracer):
        return None
    try:
        v = np.asarray(x)
    except Exception:  # noqa: BLE001
        return None
    if v.shape != () or not (np.issubdtype(v.dtype, np.integer)):
        return None
    return int(v)


def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll=None):
    """for i in range(lower, upper): val = body_fun(i, val). A scan when the trip count is
    static (so reverse mode works), a while_loop otherwise (as JAX)."""
    from plax import lax
    if not callable(body_fun):
        raise TypeError("fori_loop: body_fun argument should be callable")
    la, ha = get_aval(lower), get_aval(upper)
    if la.dtype == ha.dtype:
        dt = la.dtype
    else:
        # a weakly typed bound (a Python int) takes the other's integer type
        dt = None
        if dtypes.is_signed(la.dtype) and dtypes.is_signed(ha.dtype):
            if la.weak_type and not ha.weak_type:
                dt = ha.dtype
            elif ha.weak_type and not la.weak_type:
                dt = la.dtype
        if dt is None:
            raise PlaxTypeError(f"fori_loop: lower and upper arguments must have equal types, "
                                f"got {la.dtype.name} and {ha.dtype.name}")
    for name, a in (("lower", la), ("upper", ha)):
        if a.shape != () or not dtypes.is_int(a.dtype):
            raise PlaxTypeError(f"fori_loop {name} must be a scalar integer, got "
                                f"{a.str_short()}")
    lo_c, hi_c = _concrete_int(lower), _concrete_int(upper)
    if lo_c is not None and hi_c is not None:
        # as JAX: the counter starts as a Python int, so it is weakly typed in the body
        def step(carry, _):
            i, v = carry
            return (i + 1, body_fun(i, v)), None

        (_, out), _ = scan(step, (lo_c, init_val), None, length=max(hi_c - lo_c, 0),
                           unroll=False if unroll is None else unroll)
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("fori_loop: `unroll` can only be used when the loop bounds are "
                         "statically known")
    if la.dtype != dt:
        lower = lax.convert_element_type(lower, dt)
    if ha.dtype != dt:
        upper = lax.convert_element_type(upper, dt)

    def c(carry):
        return lax.lt(carry[0], carry[1])

    def b(carry):
        i, hi, v = carry
        return lax.add(i, np.ones((), dt)[()]), hi, body_fun(i, v)

    return while_loop(c, b, (lower, upper, init_val))[2]


# ---------------------------------------------------------------------------------------------
# scan / map


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
    """Loop f(carry, x) -> (carry, y) over the leading axis of xs, stacking the ys."""
    if not callable(f):
        raise TypeError("scan: f argument should be callable")
    if config.debug_key_reuse:
        box: list = []
        f = prng_keys.checked_loop_body(
            f, "scan", lambda out: out[0] if isinstance(out, (tuple, list)) else None, box)
        out = _scan_refs(f, init, xs, length, reverse, unroll)
        if box:  # the init and xs keys the body consumes are consumed
            prng_keys.consume_positions((init, xs), box[-1], "scan")
        return out
    return _scan_refs(f, init, xs, length, reverse, unroll)


def _scan_refs(f, init, xs, length, reverse, unroll):

    def run(refs):
        if not refs:
            return _scan(f, init, xs, length, reverse, unroll)
        vals = state.current_values(refs)

        def body(carry, x):
            with state.bound(refs, carry[1]) as b:
                out = f(carry[0], x)
                if not isinstance(out, (tuple, list)) or len(out) != 2:
                    raise PlaxTypeError(f"scan body output must be a pair (carry, y), got "
                                        f"{type(out).__name__}")
                return (out[0], b.finals()), out[1]

        (c, vs), ys = _scan(body, (init, vals), xs, length, reverse, unroll)
        state.write_back(refs, vs)
        return c, ys
    return _with_refs(run)


def _scan(f, init, xs, length, reverse, unroll):
    flat_init, carry_tree = tree_flatten(init)
    flat_xs, xs_tree = tree_flatten(xs)
    xs_avals = [get_aval(x) for x in flat_xs]
    if any(not a.shape for a in xs_avals):
        bad = [a.str_short() for a in xs_avals if not a.shape]
        raise ValueError(f"scan got value with no leading axis to scan over: "
                         f"{', '.join(bad)}")
    lengths = [a.shape[0] for a in xs_avals]
    if length is not None:
        if isinstance(length, Tracer):
            raise ConcretizationTypeError(
                "the `length` argument to scan expects a concrete int value; for a loop with "
                "a dynamic trip count use while_loop or fori_loop")
        length = operator.index(length)
        if any(n != length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {lengths}")
    else:
        if len(set(lengths)) > 1:
            raise ValueError(f"scan got values with different leading axis sizes: "
                             f"{', '.join(str(n) for n in lengths)}")
        if not lengths:
            raise ValueError("scan got no values to scan over and `length` not provided")
        length = lengths[0]
    if isinstance(unroll, Tracer):
        raise ConcretizationTypeError("the `unroll` argument to scan expects a concrete int "
                                      "or bool value")
    if isinstance(unroll, (bool, np.bool_)):
        unroll = max(length, 1) if unroll else 1
    unroll = operator.index(unroll)
    if unroll < 0:
        raise ValueError(f"scan: `unroll` must be a bool or a non-negative int, got {unroll}")
    x_avals = [a.update(shape=a.shape[1:]) for a in xs_avals]
    in_tree = tree_flatten((init, xs))[1]

    def trace(carry_avals):
        closed, consts, out_tree = _trace_flat(f, in_tree, carry_avals + x_avals, "scan body")
        if out_tree.num_children != 2 or type(tree_unflatten(
                out_tree, [0] * out_tree.num_leaves)) not in (tuple, list):
            raise PlaxTypeError(f"scan body output must be a pair (carry, y), got tree "
                                f"{out_tree}")
        carry_out_tree, y_tree = out_tree.children()
        return closed, consts, carry_out_tree, y_tree

    carry_avals = [get_aval(x) for x in flat_init]
    closed, consts, carry_out_tree, y_tree = trace(carry_avals)
    ncarry = carry_out_tree.num_leaves
    if carry_out_tree == carry_tree:
        flat_init, changed = _promote_weak_typed_inputs(flat_init, carry_avals,
                                                        closed.out_avals[:ncarry])
        if changed:
            carry_avals = [get_aval(x) for x in flat_init]
            closed, consts, carry_out_tree, y_tree = trace(carry_avals)
    _check_same_types("scan body function carry input and carry output", carry_tree,
                      carry_avals, carry_out_tree, closed.out_avals[:ncarry],
                      "the carry input", "the carry output")
    nk = len(consts)
    # a carry passed through unchanged is a const; a y that is its x is that xs
    fwd = _forwarding(closed.jaxpr)
    move = [fwd[i] == nk + i for i in range(ncarry)]
    x_fwd = [f - nk - ncarry if f is not None and f >= nk + ncarry else None
             for f in fwd[ncarry:]]
    args_init = flat_init
    if any(move):
        closed = _move_inputs_to_front(closed, [False] * nk + move + [False] * len(flat_xs))
        moved = [x for x, m in zip(flat_init, move) if m]
        consts = [*moved, *consts]
        args_init = [x for x, m in zip(flat_init, move) if not m]
    keep = [not m for m in move] + [f is None for f in x_fwd]
    if not all(keep):
        closed = _prune_outputs(closed, keep)
    res = scan_p.bind(*consts, *args_init, *flat_xs, jaxpr=closed, length=length,
                      reverse=bool(reverse), unroll=unroll, num_consts=len(consts),
                      num_carry=len(args_init))
    it = iter(res)
    it_m = iter(flat_init[i] for i in range(ncarry) if move[i])
    carry_out = [_as_output(next(it_m)) if m else next(it) for m in move]
    ys = [next(it) if f is None else _as_output(flat_xs[f]) for f in x_fwd]
    return tree_unflatten(carry_tree, carry_out), tree_unflatten(y_tree, ys)


def _scan_abstract(*args, jaxpr, length, reverse, unroll, num_consts, num_carry, **_):
    ins = jaxpr.in_avals
    consts, carry, xs = (args[:num_consts], args[num_consts:num_consts + num_carry],
                         args[num_consts + num_carry:])
    if len(args) != len(ins):
        raise PlaxTypeError(f"scan got {len(args)} operands, its body takes {len(ins)}")
    for a, e in zip((*consts, *carry), ins[:num_consts + num_carry]):
        if a.shape != e.shape or a.dtype != e.dtype:
            raise PlaxTypeError(f"scan operand {a.str_short()} does not match the body input "
                                f"{e.str_short()}")
    for a, e in zip(xs, ins[num_consts + num_carry:]):
        if a.shape != (length, *e.shape) or a.dtype != e.dtype:
            raise PlaxTypeError(f"scan xs operand {a.str_short()} does not match the body "
                                f"input {e.str_short()} with length {length}")
    outs = jaxpr.out_avals
    for a, e in zip(outs[:num_carry], carry):
        if a.shape != e.shape or a.dtype != e.dtype:
            raise PlaxTypeError(f"scan body returns carry {a.str_short()} for the carry input "
                                f"{e.str_short()}")
    carry_out = [ShapedArray(a.shape, a.dtype, a.weak_type) for a in outs[:num_carry]]
    ys = [ShapedArray((length, *a.shape), a.dtype, a.weak_type) for a in outs[num_carry:]]
    return carry_out + ys


add_abstract_eval(scan_p, _scan_abstract)


def map(f: Callable, xs, *, batch_size: int | None = None):  # noqa: A001
    """Apply f over the leading axis of xs sequentially (a scan without a carry); with
    batch_size, `batch_size` members at a time under vmap (the remainder in one more vmap)."""
    if batch_size is None:
        _, ys = scan(lambda c, x: (c, f(x)), (), xs)
        return ys
    from plax import lax
    from plax._src import registry
    from plax._src.tree_util import tree_map
    batch_size = operator.index(batch_size)
    if batch_size < 0:
        raise ValueError(f"lax.map batch_size must be non-negative, got {batch_size}")
    vmap = registry.get_api("vmap")
    if vmap is None:
        raise RuntimeError("lax.map with batch_size needs the plax-transforms plugin (vmap)")
    flat, _ = tree_flatten(xs)
    if not flat:
        raise ValueError("lax.map got no values to map over")
    n = get_aval(flat[0]).shape[0]
    nb, rem = divmod(n, batch_size) if batch_size else (0, n)
    done = nb * batch_size

    def rows(x, lo, hi):
        a = get_aval(x)
        return lax.slice(x, (lo, *[0] * (a.ndim - 1)), (hi, *a.shape[1:]))

    def group(x):
        x = rows(x, 0, done) if rem else x
        return lax.reshape(x, (nb, batch_size, *get_aval(x).shape[1:]))

    # the same order of work as JAX: split, scan over whole batches, the remainder, join
    scan_xs = tree_map(group, xs) if nb else None
    rest_xs = tree_map(lambda x: rows(x, done, n), xs) if rem else None
    if scan_xs is not None:
        _, scan_ys = scan(lambda c, x: (c, vmap(f)(x)), (), scan_xs)
    if rest_xs is None:
        return tree_map(lambda y: lax.reshape(y, (done, *get_aval(y).shape[2:])), scan_ys)
    rest_ys = vmap(f)(rest_xs)
    if scan_xs is None:
        return rest_ys
    return tree_map(lambda a, b: lax.concatenate(
        [lax.reshape(a, (done, *get_aval(a).shape[2:])), b], 0), scan_ys, rest_ys)
