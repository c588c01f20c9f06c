"""Rules of custom_linear_solve, as JAX's: the jvp solves for dx = A^-1 (db - dA x) with the
same solve; the transpose solves the transposed system (vecmat and transpose_solve swap places
with matvec and solve); batching finds, by a fixpoint over all four jaxprs, which parts of x and
b are batched, and batches every jaxpr alike."""

from __future__ import annotations

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, add_tangents, instantiate, is_undefined, jvp_flat
from plax_transforms.batching import matchaxis, moveaxis, needs_trace
from plax_transforms.rules.control_flow import batch_closed, batched_out_dims, fun_of

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


def _split(args, const_lengths):
    args, parts, start = list(args), [], 0
    for n in const_lengths:
        parts.append(args[start:start + n])
        start += n
    return type(const_lengths)(*parts), args[start:]


def _flat(parts) -> list:
    return [x for p in parts for x in p]


def _linear_solve_jvp(primals, tangents, *, const_lengths, jaxprs):
    # A x - b = 0  =>  dA x + A dx - db = 0  =>  dx = A^-1 (db - dA x)
    x = lax.linear_solve_p.bind(*primals, const_lengths=const_lengths, jaxprs=jaxprs)
    params, _ = _split(primals, const_lengths)
    params_dot, b_dot = _split(tangents, const_lengths)
    n = len(b_dot)
    x_leaves, aux = x[:n], x[n:]
    if all(type(t) is Zero for t in params_dot.matvec):
        rhs = list(b_dot)
    else:
        # dA x: the tangent of matvec in its consts alone (x held fixed)
        _, dax = jvp_flat(fun_of(jaxprs.matvec), [*params.matvec, *x_leaves],
                          [*params_dot.matvec, *[Zero(get_aval(v)) for v in x_leaves]],
                          instantiate_zeros=False)
        rhs = [add_tangents(db, t if type(t) is Zero else lax.neg(t))
               for db, t in zip(b_dot, dax)]
    if all(type(t) is Zero for t in rhs):
        return x, [Zero(get_aval(v)) for v in x]
    rhs = [instantiate(t) for t in rhs]
    x_dot = lax.linear_solve_p.bind(*_flat(params), *rhs, const_lengths=const_lengths,
                                    jaxprs=jaxprs)
    return x, [*x_dot[:n], *[Zero(get_aval(a)) for a in aux]]


JVP[lax.linear_solve_p] = _linear_solve_jvp


def _linear_solve_transpose(cts, *args, const_lengths, jaxprs):
    if jaxprs.transpose_solve is None:
        raise TypeError("transpose_solve required for backwards mode automatic "
                        "differentiation of custom_linear_solve")
    params, b = _split(args, const_lengths)
    if any(is_undefined(x) for xs in params for x in xs):
        raise NotImplementedError("custom_linear_solve is linear in b only: its transpose "
                                  "with respect to the values its functions close over is "
                                  "not defined (as in JAX)")
    x_ct = [instantiate(c) for c in cts[:len(b)]]
    b_ct = lax.linear_solve_p.bind(*_flat(params.transpose()), *x_ct,
                                   const_lengths=const_lengths.transpose(),
                                   jaxprs=jaxprs.transpose())
    return [None] * sum(const_lengths) + list(b_ct[:len(b)])


TRANSPOSE[lax.linear_solve_p] = _linear_solve_transpose


def _or(*flags):
    return [any(f) for f in zip(*flags)]


@needs_trace
def _linear_solve_batch(trace, vals, dims, *, const_lengths, jaxprs):
    size, name = trace.axis_size, trace.axis_name
    params, b = _split(vals, const_lengths)
    params_dims, b_dims = _split(dims, const_lengths)
    # consts batched along axis 0 (moved there below)
    pdims = type(const_lengths)(*[[None if d is None else 0 for d in ds] for ds in params_dims])
    matvec, vecmat, solve, solve_t = jaxprs
    n_op = len(matvec.out_avals)
    num_aux = len(solve.out_avals) - n_op
    orig_b_bat = [d is not None for d in b_dims]

    def dims_of(flags):
        return [0 if f else None for f in flags]

    def probe(closed, const_dims, flags):
        return batched_out_dims(closed, [*const_dims, *dims_of(flags)], size, name)

    # fixpoint: which parts of x (solve's outputs, aux included) and b are batched, the same
    # for all four jaxprs
    b_bat, x_bat = list(orig_b_bat), [False] * len(solve.out_avals)
    for _ in range(2 + len(b_bat) + len(x_bat)):
        solve_x = _or(probe(solve, pdims.solve, b_bat), x_bat)
        if vecmat is None:
            x_out = solve_x
        else:
            vecmat_x = probe(vecmat, pdims.vecmat, b_bat)
            x_out = _or(vecmat_x + [True] * num_aux, solve_x)
        x_noaux = x_out[:n_op]
        b_out = _or(probe(matvec, pdims.matvec, x_noaux), orig_b_bat, b_bat)
        if solve_t is not None:
            b_out = _or(b_out, probe(solve_t, pdims.transpose_solve, x_noaux)[:len(b_bat)])
        if x_out == x_bat and b_out == b_bat:
            break
        x_bat, b_bat = x_out, b_out
    else:
        raise AssertionError("custom_linear_solve batching: no fixpoint")
    x_noaux = x_bat[:n_op]
    new = type(jaxprs)(
        batch_closed(matvec, [*pdims.matvec, *dims_of(x_noaux)], size, name, dims_of(b_bat)),
        None if vecmat is None else batch_closed(
            vecmat, [*pdims.vecmat, *dims_of(b_bat)], size, name, dims_of(x_noaux)),
        batch_closed(solve, [*pdims.solve, *dims_of(b_bat)], size, name, dims_of(x_bat)),
        None if solve_t is None else batch_closed(
            solve_t, [*pdims.transpose_solve, *dims_of(x_noaux)], size, name,
            dims_of(b_bat + x_bat[n_op:])))
    new_params = [moveaxis(v, d, 0) if d is not None else v
                  for v, d in zip(_flat(params), _flat(params_dims))]
    new_b = [matchaxis(v, d, 0 if f else None, size) for v, d, f in zip(b, b_dims, b_bat)]
    outs = lax.linear_solve_p.bind(*new_params, *new_b, const_lengths=const_lengths,
                                   jaxprs=new)
    return outs, dims_of(x_bat)


BATCH[lax.linear_solve_p] = _linear_solve_batch
