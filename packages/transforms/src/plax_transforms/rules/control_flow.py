"""Rules of cond, while and scan: jvp, partial evaluation and batching for all; transpose for cond
and scan, so reverse mode works through them (and fori_loop with a static trip count), while a
transposed while loop raises JAX's error. A batched predicate turns cond into a select and keeps
a while loop running, finished members unchanged, until all are done."""

from __future__ import annotations

from typing import Callable, Sequence

from plax import lax
from plax import lax as cf
from plax.extend import dce_jaxpr
from plax.extend import set_current_trace
from plax.extend import convert_constvars_jaxpr, trace_to_jaxpr
from plax.extend import ClosedJaxpr, Jaxpr, JaxprTrace, Tracer, Var, eval_jaxpr, get_aval
from plax_transforms.ad import (
    UndefinedPrimal, Zero, backward_pass, instantiate, is_undefined, is_unknown, jvp_flat,
    partial_eval_jaxpr, zeros_like_aval)
from plax_transforms.batching import batch_flat, bdim_at_front, matchaxis, moveaxis, needs_trace

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}
PARTIAL_EVAL: dict = {}


def fun_of(closed: ClosedJaxpr) -> Callable:
    return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


def trace_closed(fun: Callable, avals, name: str) -> ClosedJaxpr:
    """Trace a flat function to a ClosedJaxpr whose consts are concrete values."""
    jaxpr, consts, _ = trace_to_jaxpr(fun, list(avals), name=name)
    if any(isinstance(c, Tracer) for c in consts):
        raise AssertionError(f"{name}: a rule closed over a traced value")
    return ClosedJaxpr(jaxpr, consts)


def _nz(ts) -> list[bool]:
    return [type(t) is not Zero for t in ts]


def jvp_closed(closed: ClosedJaxpr, nonzeros: Sequence[bool], instantiate_out=True):
    """The jvp of `closed` as a jaxpr taking (primals, nonzero tangents) and returning
    (primal outs, tangent outs); with instantiate_out a list, only those tangents are
    produced (others must be zero). Returns (jaxpr, out_nonzeros)."""
    avals = closed.in_avals
    n = len(avals)
    box = {}

    def f(*args):
        ps, it = args[:n], iter(args[n:])
        ts = [next(it) if z else Zero(a) for z, a in zip(nonzeros, avals)]
        out_p, out_t = jvp_flat(fun_of(closed), ps, ts, instantiate_zeros=False)
        nz = _nz(out_t)
        box["nz"] = nz
        if isinstance(instantiate_out, bool):
            inst = [instantiate_out] * len(out_t)
        else:
            inst = instantiate_out
        keep = [t if type(t) is not Zero else instantiate(t)
                for t, i in zip(out_t, inst) if i]
        return [*out_p, *keep]

    t_avals = [a.strip_weak_type() for a, z in zip(avals, nonzeros) if z]
    return trace_closed(f, [*avals, *t_avals], "jvp"), box["nz"]


def batch_closed(closed: ClosedJaxpr, dims, size: int, axis_name, out_dims):
    """`closed` batched with input dims `dims`; outputs moved to `out_dims` (None = must be
    unbatched). Returns the batched ClosedJaxpr."""
    def f(*vals):
        outs, ods = batch_flat(fun_of(closed), vals, dims, size, axis_name, out_dim_dst=None)
        return [matchaxis(o, d, t, size) for o, d, t in zip(outs, ods, out_dims)]

    avals = []
    for a, d in zip(closed.in_avals, dims):
        if d is None:
            avals.append(a)
        else:
            shape = list(a.shape)
            shape.insert(d, size)
            avals.append(a.update(shape=tuple(shape)))
    return trace_closed(f, avals, "vmap")


def batched_out_dims(closed: ClosedJaxpr, dims, size: int, axis_name) -> list:
    """Which outputs of `closed` come out batched for input dims `dims` (a trial trace)."""
    box = {}

    def f(*vals):
        outs, ods = batch_flat(fun_of(closed), vals, dims, size, axis_name, out_dim_dst=None)
        box["d"] = ods
        return outs

    avals = []
    for a, d in zip(closed.in_avals, dims):
        if d is None:
            avals.append(a)
        else:
            shape = list(a.shape)
            shape.insert(d, size)
            avals.append(a.update(shape=tuple(shape)))
    trace_to_jaxpr(f, avals, name="vmap probe")
    return [d is not None for d in box["d"]]


# =============================================================================================
# cond


def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nz = _nz(tangents[1:])
    # one tangent-nonzero pattern for all branches: instantiate every output tangent
    new = tuple(jvp_closed(b, nz)[0] for b in branches)
    outs = cf.cond_p.bind(index, *ops, *[t for t in tangents[1:] if type(t) is not Zero],
                          branches=new)
    m = len(branches[0].out_avals)
    return outs[:m], outs[m:]


JVP[cf.cond_p] = _cond_jvp


@needs_trace
def _cond_batch(trace, vals, dims, *, branches):
    index, *ops = vals
    size, name = trace.axis_size, trace.axis_name
    nout = len(branches[0].out_avals)
    if dims[0] is not None:
        # a batched predicate: run every branch on every member and select
        ops0 = [bdim_at_front(v, d, size) if d is not None else v for v, d in zip(ops, dims[1:])]
        op_dims = [0 if d is not None else None for d in dims[1:]]
        results = [batch_flat(fun_of(b), ops0, op_dims, size, name) for b in branches]
        idx = bdim_at_front(index, dims[0], size)
        outs = []
        for i in range(nout):
            shape = get_aval(results[0][i]).shape
            which = lax.broadcast_in_dim(idx, shape, (0,))
            if len(branches) == 2:
                which = lax.ne(which, lax.full(shape, 0, which.dtype))
            outs.append(lax.select_n(which, *[r[i] for r in results]))
        return outs, [0] * nout
    out_batched = [False] * nout
    for b in branches:
        out_batched = [x or y for x, y in
                       zip(out_batched, batched_out_dims(b, dims[1:], size, name))]
    out_dims = [0 if x else None for x in out_batched]
    new = tuple(batch_closed(b, dims[1:], size, name, out_dims) for b in branches)
    return cf.cond_p.bind(index, *ops, branches=new), out_dims


BATCH[cf.cond_p] = _cond_batch


def _cond_partial_eval(trace: JaxprTrace, args, params):
    branches = params["branches"]
    index, *ops = args
    if is_unknown(trace, index):
        return JaxprTrace.process_primitive(trace, cf.cond_p, args, params)
    uk = [is_unknown(trace, x) for x in ops]
    nout = len(branches[0].out_avals)
    out_uk = [False] * nout
    for b in branches:
        out_uk = [x or y for x, y in zip(out_uk, partial_eval_jaxpr(b, uk)[2])]
    splits = [partial_eval_jaxpr(b, uk, instantiate=out_uk) for b in branches]
    res_avals = [k.out_avals[len(k.out_avals) - nres:] if nres else []
                 for k, _, _, nres in splits]
    all_res = [a for ra in res_avals for a in ra]
    known_ops = [x for x, u in zip(ops, uk) if not u]
    # known branches: known outs, then every branch's residual slot (zeros for the others')
    known_branches, unknown_branches = [], []
    offset = 0
    for known, unknown, _, nres in splits:
        def kf(*xs, known=known, nres=nres, offset=offset):
            outs = fun_of(known)(*xs)
            nk = len(outs) - nres
            res = [zeros_like_aval(a) for a in all_res]
            res[offset:offset + nres] = outs[nk:]
            return [*outs[:nk], *res]

        def uf(*xs, unknown=unknown, nres=nres, offset=offset):
            res, rest = xs[:len(all_res)], xs[len(all_res):]
            return fun_of(unknown)(*res[offset:offset + nres], *rest)

        known_branches.append(trace_closed(kf, known.in_avals, "cond known"))
        unk_in = [*all_res, *[get_aval(x) for x, u in zip(ops, uk) if u]]
        unknown_branches.append(trace_closed(uf, unk_in, "cond unknown"))
        offset += nres
    with set_current_trace(trace.parent):
        kouts = cf.cond_p.bind(index, *known_ops, branches=tuple(known_branches))
    nk = len(kouts) - len(all_res)
    known_outs, residuals = kouts[:nk], kouts[nk:]
    unknown_outs = JaxprTrace.process_primitive(
        trace, cf.cond_p, [index, *residuals, *[x for x, u in zip(ops, uk) if u]],
        {"branches": tuple(unknown_branches)})
    it_k, it_u = iter(known_outs), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in out_uk]


PARTIAL_EVAL[cf.cond_p] = _cond_partial_eval


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise ValueError("cond is not linear in its index")
    lin = [is_undefined(x) for x in ops]
    cts = [instantiate(c) for c in cts]
    lin_avals = [x.aval for x in ops if is_undefined(x)]
    known = [x for x in ops if not is_undefined(x)]

    def transposed(b):
        def f(*xs):
            k, c = xs[:len(known)], xs[len(known):]
            it = iter(k)
            args = [UndefinedPrimal(x.aval) if lx else next(it) for x, lx in zip(ops, lin)]
            res = backward_pass(b.jaxpr, b.consts, args, list(c))
            return [instantiate(r) if type(r) is Zero else r
                    for r, lx in zip(res, lin) if lx]
        return trace_closed(f, [*[get_aval(k) for k in known], *[get_aval(c) for c in cts]],
                            "cond transpose")

    new = tuple(transposed(b) for b in branches)
    outs = cf.cond_p.bind(index, *known, *cts, branches=new)
    it = iter(outs)
    del lin_avals
    return [None] + [next(it) if lx else None for lx in lin]


TRANSPOSE[cf.cond_p] = _cond_transpose


# =============================================================================================
# while


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = primals[:nc], primals[nc:nc + nb], primals[nc + nb:]
    bct, cart = tangents[nc:nc + nb], tangents[nc + nb:]
    nz_b = _nz(bct)
    nz_c = _nz(cart)
    while True:  # the carries whose tangent is nonzero: a fixpoint
        _, out_nz = jvp_closed(body_jaxpr, nz_b + nz_c, instantiate_out=False)
        new = [a or b for a, b in zip(nz_c, out_nz)]
        if new == nz_c:
            break
        nz_c = new
    body_new, _ = jvp_closed(body_jaxpr, nz_b + nz_c, instantiate_out=nz_c)
    # body_new inputs: bconsts, carry, bconst tangents, carry tangents -> reorder so that
    # consts = bconsts + bconst tangents and carry = carry + carry tangents
    nbt = sum(nz_b)
    jx = body_new.jaxpr
    nbc, ncar = nb, len(carry)
    inv = jx.invars
    reordered = [*inv[:nbc], *inv[nbc + ncar:nbc + ncar + nbt], *inv[nbc:nbc + ncar],
                 *inv[nbc + ncar + nbt:]]
    body_new = ClosedJaxpr(Jaxpr(jx.constvars, reordered, jx.outvars, jx.eqns), body_new.consts)
    t_avals = [get_aval(c).strip_weak_type() for c, z in zip(carry, nz_c) if z]

    def cond_aug(*xs):
        return fun_of(cond_jaxpr)(*xs[:nc + len(carry)])

    cond_new = trace_closed(cond_aug, [*cond_jaxpr.in_avals, *t_avals], "while cond")
    ct_in = [instantiate(t) for t, z in zip(cart, nz_c) if z]
    outs = cf.while_p.bind(*cconsts, *bconsts, *[t for t in bct if type(t) is not Zero],
                           *carry, *ct_in, cond_jaxpr=cond_new, body_jaxpr=body_new,
                           cond_nconsts=nc, body_nconsts=nb + nbt)
    n = len(carry)
    it = iter(outs[n:])
    return outs[:n], [next(it) if z else Zero(get_aval(c)) for c, z in zip(carry, nz_c)]


JVP[cf.while_p] = _while_jvp


_WHILE_REVERSE_ERROR = (
    "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with a "
    "dynamic trip count (dynamic start/stop values). Try using lax.scan, or lax.fori_loop with "
    "static (Python int) start/stop values.")


def _known_only(known: ClosedJaxpr, nout: int):
    """The first `nout` outputs of a partial_eval_jaxpr known part (its residuals dropped), as a
    const-free jaxpr and the consts it now takes as leading inputs."""
    jx = known.jaxpr
    pruned = dce_jaxpr(Jaxpr(jx.constvars, jx.invars, jx.outvars[:nout], jx.eqns))
    return ClosedJaxpr(convert_constvars_jaxpr(pruned), []), list(known.consts)


def _while_partial_eval(trace: JaxprTrace, args, params):
    """As JAX: carries that stay known (and a known predicate) run in a loop of their own now;
    the whole loop is recorded for the unknown ones, recomputing the known part. Transposing
    that recorded loop is what fails in reverse mode."""
    cj, bj = params["cond_jaxpr"], params["body_jaxpr"]
    nc, nb = params["cond_nconsts"], params["body_nconsts"]
    cc, bc, carry = args[:nc], args[nc:nc + nb], args[nc + nb:]
    uk_cc = [is_unknown(trace, x) for x in cc]
    uk_bc = [is_unknown(trace, x) for x in bc]
    uk_c = [is_unknown(trace, x) for x in carry]
    while True:
        _, _, out_uk, _ = partial_eval_jaxpr(bj, uk_bc + uk_c, instantiate=uk_c)
        new = [a or b for a, b in zip(uk_c, out_uk)]
        if new == uk_c:
            break
        uk_c = new
    cond_known, _, cond_uk, _ = partial_eval_jaxpr(cj, uk_cc + uk_c)
    if cond_uk[0] or all(uk_c):
        return JaxprTrace.process_primitive(trace, cf.while_p, args, params)
    body_known, _, _, _ = partial_eval_jaxpr(bj, uk_bc + uk_c, instantiate=uk_c)
    ncar_k = sum(1 for u in uk_c if not u)
    cond_k, cond_kc = _known_only(cond_known, 1)
    body_k, body_kc = _known_only(body_known, ncar_k)
    known_cc = [*cond_kc, *[x for x, u in zip(cc, uk_cc) if not u]]
    known_bc = [*body_kc, *[x for x, u in zip(bc, uk_bc) if not u]]
    known_car = [x for x, u in zip(carry, uk_c) if not u]
    with set_current_trace(trace.parent):
        kouts = cf.while_p.bind(*known_cc, *known_bc, *known_car, cond_jaxpr=cond_k,
                                body_jaxpr=body_k, cond_nconsts=len(known_cc),
                                body_nconsts=len(known_bc))
    uouts = JaxprTrace.process_primitive(trace, cf.while_p, args, params)
    it = iter(kouts)
    return [o if u else next(it) for o, u in zip(uouts, uk_c)]


def _while_transpose(cts, *args, **params):
    raise ValueError(_WHILE_REVERSE_ERROR)


TRANSPOSE[cf.while_p] = _while_transpose
PARTIAL_EVAL[cf.while_p] = _while_partial_eval


@needs_trace
def _while_batch(trace, vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    size, name = trace.axis_size, trace.axis_name
    nc, nb = cond_nconsts, body_nconsts
    cdims, bdims, car_dims = dims[:nc], dims[nc:nc + nb], dims[nc + nb:]
    car_b = [d is not None for d in car_dims]
    while True:
        out_b = batched_out_dims(body_jaxpr, [*bdims, *[0 if b else None for b in car_b]],
                                 size, name)
        new = [a or b for a, b in zip(car_b, out_b)]
        if new == car_b:
            break
        car_b = new
    pred_b = batched_out_dims(cond_jaxpr, [*cdims, *[0 if b else None for b in car_b]],
                              size, name)[0]
    if pred_b:
        car_b = [True] * len(car_b)
    cvals, bvals, carry = vals[:nc], vals[nc:nc + nb], vals[nc + nb:]
    carry = [matchaxis(v, d, 0 if b else None, size) for v, d, b in zip(carry, car_dims, car_b)]
    cdims_c = [0 if b else None for b in car_b]
    cond_b = batch_closed(cond_jaxpr, [*cdims, *cdims_c], size, name,
                          [0 if pred_b else None])
    body_b = batch_closed(body_jaxpr, [*bdims, *cdims_c], size, name, cdims_c)
    if not pred_b:
        outs = cf.while_p.bind(*cvals, *bvals, *carry, cond_jaxpr=cond_b, body_jaxpr=body_b,
                               cond_nconsts=nc, body_nconsts=nb)
        return outs, cdims_c

    # batched predicate: loop while any member runs; finished members keep their carry
    def cond_any(*xs):
        p = fun_of(cond_b)(*xs)[0]
        return [lax.reduce_or(p, (0,))]

    def body_sel(*xs):
        cc, bc, car = xs[:nc], xs[nc:nc + nb], xs[nc + nb:]
        p = fun_of(cond_b)(*cc, *car)[0]
        new = fun_of(body_b)(*bc, *car)
        out = []
        for n_, o in zip(new, car):
            shape = get_aval(o).shape
            out.append(lax.select(lax.broadcast_in_dim(p, shape, (0,)), n_, o))
        return out

    c_avals = [get_aval(v) for v in (*cvals, *carry)]
    b_avals = [get_aval(v) for v in (*cvals, *bvals, *carry)]
    cond_new = trace_closed(cond_any, c_avals, "while cond (batched)")
    body_new = trace_closed(body_sel, b_avals, "while body (batched)")
    outs = cf.while_p.bind(*cvals, *cvals, *bvals, *carry, cond_jaxpr=cond_new,
                           body_jaxpr=body_new, cond_nconsts=nc, body_nconsts=nc + nb)
    return outs, [0] * len(outs)


BATCH[cf.while_p] = _while_batch


# =============================================================================================
# scan


def _scan_split(seq, num_consts, num_carry):
    return (list(seq[:num_consts]), list(seq[num_consts:num_consts + num_carry]),
            list(seq[num_consts + num_carry:]))


def _scan_jvp(primals, tangents, *, jaxpr, length, reverse, unroll, num_consts, num_carry,
              **params):
    consts, carry, xs = _scan_split(primals, num_consts, num_carry)
    ct, cart, xst = _scan_split(tangents, num_consts, num_carry)
    nz_k, nz_c, nz_x = _nz(ct), _nz(cart), _nz(xst)
    ny = len(jaxpr.out_avals) - num_carry
    while True:
        _, out_nz = jvp_closed(jaxpr, nz_k + nz_c + nz_x, instantiate_out=False)
        new = [a or b for a, b in zip(nz_c, out_nz[:num_carry])]
        if new == nz_c:
            break
        nz_c = new
    inst = nz_c + [True] * ny
    body, _ = jvp_closed(jaxpr, nz_k + nz_c + nz_x, instantiate_out=inst)
    # inputs of body: consts, carry, xs, const tangents, carry tangents, xs tangents
    # -> scan layout: consts + const tangents, carry + carry tangents, xs + xs tangents
    jx = body.jaxpr
    inv = jx.invars
    nk, ncr, nx = num_consts, num_carry, len(xs)
    ntk, ntc = sum(nz_k), sum(nz_c)
    p_k, p_c, p_x = inv[:nk], inv[nk:nk + ncr], inv[nk + ncr:nk + ncr + nx]
    rest = inv[nk + ncr + nx:]
    t_k, t_c, t_x = rest[:ntk], rest[ntk:ntk + ntc], rest[ntk + ntc:]
    # outputs of body: carry, ys, carry tangents (nz_c), ys tangents
    outv = jx.outvars
    o_c, o_y = outv[:ncr], outv[ncr:ncr + ny]
    o_tc, o_ty = outv[ncr + ny:ncr + ny + ntc], outv[ncr + ny + ntc:]
    body = ClosedJaxpr(Jaxpr(jx.constvars, [*p_k, *t_k, *p_c, *t_c, *p_x, *t_x],
                             [*o_c, *o_tc, *o_y, *o_ty], jx.eqns), body.consts)
    cart_in = [instantiate(t) for t, z in zip(cart, nz_c) if z]
    outs = cf.scan_p.bind(*consts, *[t for t in ct if type(t) is not Zero], *carry, *cart_in,
                          *xs, *[t for t in xst if type(t) is not Zero], jaxpr=body,
                          length=length, reverse=reverse, unroll=unroll,
                          num_consts=nk + ntk, num_carry=ncr + ntc)
    c_out, tc_out = outs[:ncr], outs[ncr:ncr + ntc]
    y_out, ty_out = outs[ncr + ntc:ncr + ntc + ny], outs[ncr + ntc + ny:]
    it = iter(tc_out)
    carry_t = [next(it) if z else Zero(get_aval(c)) for c, z in zip(c_out, nz_c)]
    return [*c_out, *y_out], [*carry_t, *ty_out]


JVP[cf.scan_p] = _scan_jvp


def _scan_partial_eval(trace: JaxprTrace, args, params):
    """Known carries and ys are computed now by a scan of the known part, which also stacks the
    per-iteration residuals; the unknown part is recorded as a scan over those. Residuals that
    are loop-invariant (a known const) or are a known xs are passed as they are, not stacked."""
    jaxpr, num_consts, num_carry = params["jaxpr"], params["num_consts"], params["num_carry"]
    consts, carry, xs = _scan_split(args, num_consts, num_carry)
    uk_k = [is_unknown(trace, x) for x in consts]
    uk_c = [is_unknown(trace, x) for x in carry]
    uk_x = [is_unknown(trace, x) for x in xs]
    ny = len(jaxpr.out_avals) - num_carry
    while True:
        _, _, out_uk, _ = partial_eval_jaxpr(jaxpr, uk_k + uk_c + uk_x,
                                             instantiate=uk_c + [False] * ny)
        new = [a or b for a, b in zip(uk_c, out_uk[:num_carry])]
        if new == uk_c:
            break
        uk_c = new
    known, unknown, out_uk, nres = partial_eval_jaxpr(jaxpr, uk_k + uk_c + uk_x,
                                                      instantiate=uk_c + [False] * ny)
    kc = [*known.consts, *[x for x, u in zip(consts, uk_k) if not u]]
    kcar = [x for x, u in zip(carry, uk_c) if not u]
    kx = [x for x, u in zip(xs, uk_x) if not u]
    nkc = len(kcar)
    kj = convert_constvars_jaxpr(known.jaxpr)
    # where each residual comes from: a known const ("c"), a known xs ("x") or the body ("s")
    pos = {v: i for i, v in enumerate(kj.invars)}
    nout_k = len(kj.outvars) - nres
    kinds, srcs = [], []
    for r in kj.outvars[nout_k:]:
        p = pos.get(r) if isinstance(r, Var) else None
        if p is not None and p < len(kc):
            kinds.append("c")
            srcs.append(kc[p])
        elif p is not None and p >= len(kc) + nkc:
            kinds.append("x")
            srcs.append(kx[p - len(kc) - nkc])
        else:
            kinds.append("s")
            srcs.append(None)
    keep = [True] * nout_k + [k == "s" for k in kinds]
    kj = dce_jaxpr(Jaxpr([], kj.invars, [v for v, k in zip(kj.outvars, keep) if k], kj.eqns))
    with set_current_trace(trace.parent):
        kouts = cf.scan_p.bind(*kc, *kcar, *kx, jaxpr=ClosedJaxpr(kj, []), length=params["length"],
                               reverse=params["reverse"], unroll=params["unroll"],
                               num_consts=len(kc), num_carry=nkc)
    k_carry, k_ys, stacked = kouts[:nkc], kouts[nkc:nout_k], iter(kouts[nout_k:])
    res_vals = [next(stacked) if k == "s" else src for k, src in zip(kinds, srcs)]
    # unknown scan: its inputs were (residuals, unknown consts, unknown carry, unknown xs);
    # reorder to (unknown consts, const residuals, unknown carry, other residuals, unknown xs)
    jx = unknown.jaxpr
    r, a = jx.invars[:nres], jx.invars[nres:]
    n_uk, n_uc = sum(uk_k), sum(uk_c)
    r_c = [v for v, k in zip(r, kinds) if k == "c"]
    r_x = [v for v, k in zip(r, kinds) if k != "c"]
    reordered = [*a[:n_uk], *r_c, *a[n_uk:n_uk + n_uc], *r_x, *a[n_uk + n_uc:]]
    unknown = ClosedJaxpr(Jaxpr(jx.constvars, reordered, jx.outvars, jx.eqns), unknown.consts)
    uc = [x for x, u in zip(consts, uk_k) if u]
    ucar = [x for x, u in zip(carry, uk_c) if u]
    ux = [x for x, u in zip(xs, uk_x) if u]
    res_c = [v for v, k in zip(res_vals, kinds) if k == "c"]
    res_x = [v for v, k in zip(res_vals, kinds) if k != "c"]
    uouts = JaxprTrace.process_primitive(
        trace, cf.scan_p, [*uc, *res_c, *ucar, *res_x, *ux],
        dict(params, jaxpr=unknown, num_consts=n_uk + len(res_c), num_carry=n_uc))
    u_carry, u_ys = uouts[:n_uc], uouts[n_uc:]
    ik, iu = iter(k_carry), iter(u_carry)
    carry_out = [next(iu) if u else next(ik) for u in uk_c]
    ik, iu = iter(k_ys), iter(u_ys)
    ys_out = [next(iu) if u else next(ik) for u in out_uk[num_carry:]]
    return [*carry_out, *ys_out]


PARTIAL_EVAL[cf.scan_p] = _scan_partial_eval


def _scan_transpose(cts, *args, jaxpr, length, reverse, unroll, num_consts, num_carry,
                    **params):
    consts, carry, xs = _scan_split(args, num_consts, num_carry)
    lin_k = [is_undefined(x) for x in consts]
    lin_x = [is_undefined(x) for x in xs]
    # a carry with a known init (an instantiated zero tangent) is still transposed as linear
    ct_carry = [instantiate(c) for c in cts[:num_carry]]
    ct_ys = [instantiate(c) for c in cts[num_carry:]]
    known_k = [x for x in consts if not is_undefined(x)]
    known_x = [x for x in xs if not is_undefined(x)]
    lin_k_avals = [x.aval for x in consts if is_undefined(x)]
    carry_avals = [c.aval if is_undefined(c) else get_aval(c) for c in carry]

    def body(carry_in, x_in):
        acc, ct_c = carry_in
        kx, ct_y = x_in
        itk, itx = iter(known_k), iter(kx)
        argv = ([UndefinedPrimal(x.aval) if lk else next(itk) for x, lk in zip(consts, lin_k)]
                + [UndefinedPrimal(a) for a in carry_avals]
                + [UndefinedPrimal(x.aval) if lx else next(itx) for x, lx in zip(xs, lin_x)])
        res = backward_pass(jaxpr.jaxpr, jaxpr.consts, argv, [*ct_c, *ct_y])
        res = [instantiate(r) if type(r) is Zero else r for r in res]
        r_k, r_c, r_x = _scan_split(res, num_consts, num_carry)
        acc = [lax.add(a, r) for a, r in zip(acc, [r for r, lk in zip(r_k, lin_k) if lk])]
        return (acc, r_c), [r for r, lx in zip(r_x, lin_x) if lx]

    init = ([zeros_like_aval(a) for a in lin_k_avals], ct_carry)
    (ct_k, ct_c0), ct_xs = cf.scan(body, init, (known_x, ct_ys), length=length,
                                   reverse=not reverse)
    itk, itx = iter(ct_k), iter(ct_xs)
    return ([next(itk) if lk else None for lk in lin_k]
            + [c if is_undefined(x) else None for c, x in zip(ct_c0, carry)]
            + [next(itx) if lx else None for lx in lin_x])


TRANSPOSE[cf.scan_p] = _scan_transpose


@needs_trace
def _scan_batch(trace, vals, dims, *, jaxpr, length, reverse, unroll, num_consts, num_carry,
                **params):
    size, name = trace.axis_size, trace.axis_name
    consts, carry, xs = _scan_split(vals, num_consts, num_carry)
    kd, cd, xd = _scan_split(dims, num_consts, num_carry)
    ny = len(jaxpr.out_avals) - num_carry
    car_b = [d is not None for d in cd]
    k_dims = [0 if d is not None else None for d in kd]
    x_dims = [0 if d is not None else None for d in xd]
    while True:
        out_b = batched_out_dims(jaxpr, [*k_dims, *[0 if b else None for b in car_b], *x_dims],
                                 size, name)
        new = [a or b for a, b in zip(car_b, out_b[:num_carry])]
        if new == car_b:
            break
        car_b = new
    c_dims = [0 if b else None for b in car_b]
    body = batch_closed(jaxpr, [*k_dims, *c_dims, *x_dims], size, name, [*c_dims, *[0] * ny])
    consts = [moveaxis(v, d, 0) if d is not None else v for v, d in zip(consts, kd)]
    carry = [matchaxis(v, d, t, size) for v, d, t in zip(carry, cd, c_dims)]
    xs = [moveaxis(v, d, 1) if d is not None else v for v, d in zip(xs, xd)]
    outs = cf.scan_p.bind(*consts, *carry, *xs, jaxpr=body, length=length, reverse=reverse,
                          unroll=unroll, num_consts=num_consts, num_carry=num_carry, **params)
    return outs, [*c_dims, *[1] * ny]


BATCH[cf.scan_p] = _scan_batch
