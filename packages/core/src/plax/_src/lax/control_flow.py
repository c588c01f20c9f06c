"""Control flow as primitives carrying closed jaxprs: cond (switch), while, scan; with the user
functions cond, switch, while_loop, fori_loop, scan and map built on them.

Functions are traced once to jaxprs. Values they close over become explicit leading operands
(`*_nconsts`), so the primitives' jaxprs are const-free and every transform can see all inputs.
"""

from __future__ import annotations

import operator
from typing import Callable, Sequence

import numpy as np

from plax._src import dtypes
from plax._src.core import (
    ClosedJaxpr, Jaxpr, PlaxTypeError, Primitive, ShapedArray, Tracer, Var, get_aval)
from plax._src.registry import add_abstract_eval
from plax._src.tracing import convert_constvars_jaxpr, trace_to_jaxpr
from plax._src.tree_util import tree_flatten, tree_unflatten

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "cond_p", "while_p",
           "scan_p"]

cond_p = Primitive("cond", multiple_results=True)
while_p = Primitive("while", multiple_results=True)
scan_p = Primitive("scan", multiple_results=True)


def _aval_of(x) -> ShapedArray:
    return get_aval(x)


def _trace_flat(fun: Callable, in_tree, in_avals, name: str):
    """Trace fun(*unflatten(in_tree, args)) -> (const-free ClosedJaxpr over consts+args,
    consts, out_tree)."""
    box = []

    def flat_fun(*flat):
        out = fun(*tree_unflatten(in_tree, flat))
        leaves, tree = tree_flatten(out)
        box.append(tree)
        return leaves

    jaxpr, consts, _ = trace_to_jaxpr(flat_fun, list(in_avals), name=name)
    return ClosedJaxpr(convert_constvars_jaxpr(jaxpr), []), consts, box[-1]


def _avals_str(avals) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _check_same_types(what: str, tree_a, avals_a, tree_b, avals_b, name_a: str, name_b: str):
    if tree_a != tree_b:
        raise PlaxTypeError(f"{what}: {name_a} has tree structure {tree_a} but {name_b} has "
                            f"{tree_b}; they must match")
    for i, (a, b) in enumerate(zip(avals_a, avals_b)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise PlaxTypeError(
                f"{what}: {name_a} and {name_b} must have identical types; leaf {i} is "
                f"{a.str_short()} in {name_a} but {b.str_short()} in {name_b} "
                f"(all: {_avals_str(avals_a)} vs {_avals_str(avals_b)})")


# ---------------------------------------------------------------------------------------------
# cond / switch


def _join_consts(jaxprs_consts: list[tuple[ClosedJaxpr, list]]):
    """Give every branch the union of all branches' consts as leading inputs."""
    all_consts = [c for _, cs in jaxprs_consts for c in cs]
    branches = []
    offset = 0
    for closed, consts in jaxprs_consts:
        jx = closed.jaxpr
        n = len(consts)
        before = [Var(get_aval(c)) for c in all_consts[:offset]]
        after = [Var(get_aval(c)) for c in all_consts[offset + n:]]
        invars = before + jx.invars[:n] + after + jx.invars[n:]
        branches.append(ClosedJaxpr(Jaxpr([], invars, jx.outvars, jx.eqns), []))
        offset += n
    return tuple(branches), all_consts


def switch(index, branches: Sequence[Callable], *operands):
    """Apply branches[index](*operands), with index clamped into range."""
    from plax import lax
    if not branches:
        raise ValueError("switch needs at least one branch")
    for b in branches:
        if not callable(b):
            raise TypeError(f"switch branches must be callable, got {b!r}")
    idx_aval = _aval_of(index)
    if idx_aval.shape != () or not (dtypes.is_int(idx_aval.dtype)):
        raise PlaxTypeError(f"switch index must be a scalar integer, got {idx_aval.str_short()}")
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
    aval = _aval_of(pred)
    if aval.shape != ():
        raise PlaxTypeError(f"cond pred must be a scalar, got an array of shape {aval.shape}")
    if aval.dtype != dtypes.bool_:
        if dtypes.is_inexact(aval.dtype):
            raise PlaxTypeError(f"cond pred must be a boolean or integer scalar, got "
                                f"{aval.dtype.name}")
        pred = lax.ne(pred, lax._convert_element_type(0, aval.dtype))
    index = lax.convert_element_type(pred, np.int32)
    return _cond(index, (false_fun, true_fun), operands, "cond")


def _cond(index, funs, operands, what):
    flat_ops, in_tree = tree_flatten(tuple(operands))
    in_avals = [_aval_of(x) for x in flat_ops]
    traced = [_trace_flat(f, in_tree, in_avals, f"{what} branch {i}")
              for i, f in enumerate(funs)]
    out_tree0 = traced[0][2]
    out_avals0 = traced[0][0].out_avals
    names = ["false_fun", "true_fun"] if what == "cond" else [f"branch {i}"
                                                              for i in range(len(funs))]
    for i, (closed, _, tree) in enumerate(traced[1:], 1):
        _check_same_types(f"{what} branches", out_tree0, out_avals0, tree, closed.out_avals,
                          names[0], names[i])
    branches, consts = _join_consts([(c, cs) for c, cs, _ in traced])
    # weak types differ between branches only if the dtypes agree; the result is strong then
    outs = cond_p.bind(index, *consts, *flat_ops, branches=branches)
    return tree_unflatten(out_tree0, outs)


def _cond_abstract(index, *args, branches):
    if index.shape != () or index.dtype != np.int32:
        raise PlaxTypeError(f"cond index must be a scalar int32, got {index.str_short()}")
    for i, b in enumerate(branches):
        ins = b.in_avals
        if len(ins) != len(args):
            raise PlaxTypeError(f"cond branch {i} takes {len(ins)} operands, got {len(args)}")
        for a, e in zip(args, ins):
            if a.shape != e.shape or a.dtype != e.dtype:
                raise PlaxTypeError(f"cond branch {i} expects {_avals_str(ins)}, got "
                                    f"{_avals_str(args)}")
    outs = branches[0].out_avals
    weak = [all(b.out_avals[i].weak_type for b in branches) for i in range(len(outs))]
    return [ShapedArray(a.shape, a.dtype, w) for a, w in zip(outs, weak)]


add_abstract_eval(cond_p, _cond_abstract)


# ---------------------------------------------------------------------------------------------
# while_loop / fori_loop


def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """Repeat body_fun on the carry while cond_fun(carry) is True."""
    flat_init, in_tree = tree_flatten(init_val)
    args_tree = tree_flatten((init_val,))[1]
    avals = [_aval_of(x) for x in flat_init]
    cond_closed, cond_consts, _ = _trace_flat(cond_fun, args_tree, avals, "while cond")
    c_out = cond_closed.out_avals
    if len(c_out) != 1 or c_out[0].shape != () or c_out[0].dtype != dtypes.bool_:
        raise PlaxTypeError(f"while_loop cond_fun must return a boolean scalar, got "
                            f"{_avals_str(c_out)}")
    body_closed, body_consts, body_tree = _trace_flat(body_fun, args_tree, avals, "while body")
    _check_same_types("while_loop body_fun output and input (the carry)", in_tree, avals,
                      body_tree, body_closed.out_avals, "the carry input", "body_fun's output")
    # a weakly typed init whose body output is strong: retrace with strong types
    if any(a.weak_type and not b.weak_type for a, b in zip(avals, body_closed.out_avals)):
        from plax import lax
        flat_init = [lax._convert_element_type(x, _aval_of(x).dtype, b.weak_type)
                     for x, b in zip(flat_init, body_closed.out_avals)]
        return while_loop(cond_fun, body_fun, tree_unflatten(in_tree, flat_init))
    outs = while_p.bind(*cond_consts, *body_consts, *flat_init, cond_jaxpr=cond_closed,
                        body_jaxpr=body_closed, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    return tree_unflatten(in_tree, outs)


def _while_abstract(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    carry = args[cond_nconsts + body_nconsts:]
    expected = body_jaxpr.in_avals[body_nconsts:]
    for a, e in zip(carry, expected):
        if a.shape != e.shape or a.dtype != e.dtype:
            raise PlaxTypeError(f"while carry {_avals_str(carry)} does not match the body's "
                                f"inputs {_avals_str(expected)}")
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
    lo_c, hi_c = _concrete_int(lower), _concrete_int(upper)
    la, ha = _aval_of(lower), _aval_of(upper)
    for name, a in (("lower", la), ("upper", ha)):
        if a.shape != () or not dtypes.is_int(a.dtype):
            raise PlaxTypeError(f"fori_loop {name} must be a scalar integer, got "
                                f"{a.str_short()}")
    dt = dtypes.result_type(lower, upper)
    if lo_c is not None and hi_c is not None:
        n = max(hi_c - lo_c, 0)
        i0 = lax._convert_element_type(lo_c, dt, False)

        def step(carry, _):
            i, v = carry
            return (lax.add(i, lax._convert_element_type(1, dt, False)), body_fun(i, v)), None

        (_, out), _ = scan(step, (i0, init_val), None, length=n,
                           unroll=1 if unroll is None else unroll)
        return out
    lower = lax._convert_element_type(lower, dt, False)
    upper = lax._convert_element_type(upper, dt, False)

    def c(carry):
        return lax.lt(carry[0], carry[1])

    def b(carry):
        i, hi, v = carry
        return lax.add(i, lax._convert_element_type(1, dt, False)), hi, body_fun(i, v)

    return while_loop(c, b, (lower, upper, init_val))[2]


# ---------------------------------------------------------------------------------------------
# scan / map


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
    """Loop f(carry, x) -> (carry, y) over the leading axis of xs, stacking the ys."""
    from plax import lax
    flat_init, carry_tree = tree_flatten(init)
    flat_xs, xs_tree = tree_flatten(xs)
    lengths = {_aval_of(x).shape[0] if _aval_of(x).shape else None for x in flat_xs}
    if None in lengths:
        bad = [_aval_of(x).str_short() for x in flat_xs if not _aval_of(x).shape]
        raise PlaxTypeError(f"scan got value with no leading axis to scan over: {bad}")
    if length is not None:
        length = operator.index(length)
        if lengths and lengths != {length}:
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {sorted(lengths)}")
    else:
        if len(lengths) > 1:
            raise ValueError(f"scan got values with different leading axis sizes: "
                             f"{sorted(lengths)}")
        if not lengths:
            raise ValueError("scan got no values to scan over and `length` not provided")
        length = lengths.pop()
    carry_avals = [_aval_of(x) for x in flat_init]
    x_avals = [_aval_of(x).update(shape=_aval_of(x).shape[1:]) for x in flat_xs]
    in_tree = tree_flatten((init, xs))[1]

    def body(carry, x):
        return f(carry, x)

    flat_in_tree = tree_flatten((tree_unflatten(carry_tree, flat_init),
                                 tree_unflatten(xs_tree, flat_xs)))[1]
    closed, consts, out_tree = _trace_flat(body, flat_in_tree, carry_avals + x_avals, "scan body")
    outs = closed.out_avals
    # the body returns (carry, y)
    try:
        carry_out_tree, y_tree = out_tree.children()
    except Exception:  # noqa: BLE001
        carry_out_tree = y_tree = None
    if carry_out_tree is None or out_tree.num_children != 2:
        raise PlaxTypeError("scan body function must return a pair (carry, y); got tree "
                            f"{out_tree}")
    ncarry = carry_out_tree.num_leaves
    _check_same_types("scan body function carry input and carry output", carry_tree,
                      carry_avals, carry_out_tree, outs[:ncarry], "the carry input",
                      "the carry output")
    if any(a.weak_type and not b.weak_type for a, b in zip(carry_avals, outs[:ncarry])):
        flat_init = [lax._convert_element_type(x, _aval_of(x).dtype, b.weak_type)
                     for x, b in zip(flat_init, outs[:ncarry])]
        return scan(f, tree_unflatten(carry_tree, flat_init), xs, length, reverse, unroll)
    del in_tree
    unroll = length if unroll is True else (1 if unroll is False else int(unroll))
    res = scan_p.bind(*consts, *flat_init, *flat_xs, jaxpr=closed, length=length,
                      reverse=bool(reverse), unroll=unroll, num_consts=len(consts),
                      num_carry=len(flat_init))
    return (tree_unflatten(carry_tree, res[:ncarry]), tree_unflatten(y_tree, res[ncarry:]))


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
    carry_out = [ShapedArray(a.shape, a.dtype, a.weak_type) for a in outs[:num_carry]]
    ys = [ShapedArray((length, *a.shape), a.dtype, a.weak_type) for a in outs[num_carry:]]
    return carry_out + ys


add_abstract_eval(scan_p, _scan_abstract)


def map(f: Callable, xs, *, batch_size: int | None = None):  # noqa: A001
    """Apply f over the leading axis of xs sequentially (a scan without a carry)."""
    if batch_size is not None:
        from plax import lax
        from plax._src import registry
        from plax._src.tree_util import tree_map
        flat, _ = tree_flatten(xs)
        n = _aval_of(flat[0]).shape[0]
        if n % batch_size:
            raise ValueError(f"lax.map batch_size={batch_size} must divide the leading axis "
                             f"size {n}")
        vmap = registry.get_api("vmap")
        if vmap is None:
            raise RuntimeError("lax.map with batch_size needs the plax-transforms plugin (vmap)")
        grouped = tree_map(lambda x: lax.reshape(x, (n // batch_size, batch_size,
                                                     *_aval_of(x).shape[1:])), xs)
        _, ys = scan(lambda c, x: (c, vmap(f)(x)), (), grouped)
        return tree_map(lambda y: lax.reshape(y, (n, *_aval_of(y).shape[2:])), ys)
    _, ys = scan(lambda c, x: (c, f(x)), (), xs)
    return ys
