"""jvp, transpose and batching rules of the window reductions, as JAX's: reduce_window_sum is
linear (its transpose pads the strided cotangent and sums windows again); max/min pooling
differentiate through select_and_gather_add, whose transpose is select_and_scatter_add (and
the other way round). vmap gives the batch axis a window of size 1."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, instantiate, is_undefined
from plax_transforms.batching import bdim_at_front
from plax_transforms.rules._util import dtype, linear_unary_jvp, shape, skip_zero_ct

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}

_WINDOW = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


def _dil(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def _with_unit_window(params: dict, at: int) -> dict:
    """The window params with a size-1, unpadded, undilated window inserted at dimension `at`."""
    unit = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
            "base_dilation": 1, "window_dilation": 1}
    out = dict(params)
    for k, v in unit.items():
        if k in params:
            seq = list(params[k])
            seq.insert(at, v)
            out[k] = tuple(seq)
    return out


# ---------------------------------------------------------------------------------------------
# reduce_window_sum


@skip_zero_ct
def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    in_shape = x.aval.shape
    # every input element reaches the outputs whose windows cover it: dilate the cotangent by
    # the strides, pad it so that each window sees them, and sum windows with the roles of
    # strides and base dilation swapped (JAX's _reduce_window_sum_transpose_rule)
    lhs_d = [_dil(d, r) for d, r in zip(in_shape, base_dilation)]
    win_d = [_dil(d, r) for d, r in zip(window_dimensions, window_dilation)]
    out_d = [_dil(d, r) for d, r in zip(shape(ct), window_strides)]
    before = [k - lo - 1 for k, (lo, _) in zip(win_d, padding)]
    after = [a + k - 1 - o - b for a, k, o, b in zip(lhs_d, win_d, out_d, before)]
    cfg = tuple((lo, hi, s - 1) for lo, hi, s in zip(before, after, window_strides))
    padded = lax.pad(ct, np.zeros((), dtype(ct)), cfg)
    ones = (1,) * len(in_shape)
    out = lax.reduce_window_sum_p.bind(
        padded, window_dimensions=tuple(window_dimensions), window_strides=tuple(base_dilation),
        padding=((0, 0),) * len(in_shape), base_dilation=ones,
        window_dilation=tuple(window_dilation))
    return [out]


def _window_batch(prim):
    def rule(vals, dims, **params):
        (x,), (d,) = vals, dims
        return prim.bind(x, **_with_unit_window(params, d)), d
    return rule


JVP[lax.reduce_window_sum_p] = linear_unary_jvp(lax.reduce_window_sum_p)
TRANSPOSE[lax.reduce_window_sum_p] = _reduce_window_sum_transpose
for _p in (lax.reduce_window_sum_p, lax.reduce_window_max_p, lax.reduce_window_min_p):
    BATCH[_p] = _window_batch(_p)


# ---------------------------------------------------------------------------------------------
# reduce_window_max / min: the tangent at each window's selected element


def _chooser_jvp(prim, select_prim: str):
    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        out = prim.bind(x, **params)
        if type(t) is Zero:
            return out, Zero(get_aval(out))
        return out, lax.select_and_gather_add_p.bind(t, x, select_prim=select_prim, **params)
    return rule


JVP[lax.reduce_window_max_p] = _chooser_jvp(lax.reduce_window_max_p, "ge")
JVP[lax.reduce_window_min_p] = _chooser_jvp(lax.reduce_window_min_p, "le")


# ---------------------------------------------------------------------------------------------
# select_and_gather_add(tangents, operand) and select_and_scatter_add(source, operand): linear
# in their first operand, each the other's transpose


def _first_linear_jvp(prim):
    def rule(primals, tangents, **params):
        (v, x), (tv, _) = primals, tangents
        out = prim.bind(v, x, **params)
        if type(tv) is Zero:
            return out, Zero(get_aval(out))
        return out, prim.bind(instantiate(tv), x, **params)
    return rule


def _extreme(select_prim: str, dt):
    if dt == np.bool_:
        return select_prim == "le"
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return info.min if select_prim == "ge" else info.max
    return -np.inf if select_prim == "ge" else np.inf


def _gather_transpose(ct, t, x, *, select_prim, window_dimensions, window_strides, padding,
                      base_dilation, window_dilation):
    if is_undefined(x):
        raise ValueError("select_and_gather_add is linear in its tangents only, not in the "
                         "operand")
    if any(d != 1 for d in window_dilation):
        raise NotImplementedError(f"the transpose (vjp) of select_and_gather_add (max/min "
                                  f"pooling) with window dilation is not implemented, as in "
                                  f"JAX; got window_dilation={tuple(window_dilation)}")
    if type(ct) is Zero:
        return [None, None]
    nd = len(window_dimensions)
    dilated = any(d != 1 for d in base_dilation)
    if dilated:
        fill = np.array(_extreme(select_prim, dtype(x)), dtype(x))
        x = lax.pad(x, fill, tuple((0, 0, d - 1) for d in base_dilation))
    out = lax.select_and_scatter_add_p.bind(
        ct, x, select_prim=select_prim, window_dimensions=tuple(window_dimensions),
        window_strides=tuple(window_strides), padding=tuple(padding))
    if dilated:
        out = lax.slice(out, (0,) * nd, shape(out), tuple(base_dilation))
    return [out, None]


def _scatter_transpose(ct, s, x, *, select_prim, window_dimensions, window_strides, padding):
    if is_undefined(x):
        raise ValueError("select_and_scatter_add is linear in its source only, not in the "
                         "operand")
    if type(ct) is Zero:
        return [None, None]
    ones = (1,) * len(window_dimensions)
    out = lax.select_and_gather_add_p.bind(
        ct, x, select_prim=select_prim, window_dimensions=window_dimensions,
        window_strides=window_strides, padding=padding, base_dilation=ones,
        window_dilation=ones)
    return [out, None]


def _select_batch(prim):
    """Both operands batched at the front (an unbatched one broadcast), with a size-1 window
    there: the values' and the operand's batch axes then line up whatever their shapes."""
    def rule(vals, dims, **params):
        (v, x), (dv, dx) = vals, dims
        size = shape(v)[dv] if dv is not None else shape(x)[dx]
        v, x = bdim_at_front(v, dv, size), bdim_at_front(x, dx, size)
        return prim.bind(v, x, **_with_unit_window(params, 0)), 0
    return rule


JVP[lax.select_and_gather_add_p] = _first_linear_jvp(lax.select_and_gather_add_p)
JVP[lax.select_and_scatter_add_p] = _first_linear_jvp(lax.select_and_scatter_add_p)
TRANSPOSE[lax.select_and_gather_add_p] = _gather_transpose
TRANSPOSE[lax.select_and_scatter_add_p] = _scatter_transpose
BATCH[lax.select_and_gather_add_p] = _select_batch(lax.select_and_gather_add_p)
BATCH[lax.select_and_scatter_add_p] = _select_batch(lax.select_and_scatter_add_p)


# ---------------------------------------------------------------------------------------------
# the generic reduce_window: batching (its init values unbatched, as JAX requires); its jvp
# reduces (primal, tangent) pairs by the jvp of the computation, as JAX's


def _generic_batch(vals, dims, *, jaxpr, **params):
    n = len(vals) // 2
    xs, inits = vals[:n], vals[n:]
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("vmap of lax.reduce_window over batched init values is not "
                                  "implemented (as in JAX)")
    size = next(shape(x)[d] for x, d in zip(xs, dims) if d is not None)
    xs = [bdim_at_front(x, d, size) for x, d in zip(xs, dims[:n])]
    outs = lax.reduce_window_p.bind(*xs, *inits, jaxpr=jaxpr, **_with_unit_window(params, 0))
    return outs, [0] * n


def _generic_jvp(primals, tangents, *, jaxpr, **params):
    import plax
    from plax.extend import eval_jaxpr
    n = len(primals) // 2
    xs, inits = primals[:n], primals[n:]
    outs = lax.reduce_window_p.bind(*xs, *inits, jaxpr=jaxpr, **params)
    if all(type(t) is Zero for t in tangents):
        return outs, [Zero(get_aval(o)) for o in outs]
    ts = [instantiate(t) for t in tangents]

    def pair_fn(a, b):
        (ax, at), (bx, bt) = a, b
        out, tan = plax.jvp(lambda *p: eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *p),
                            (*ax, *bx), (*at, *bt))
        return list(out), list(tan)

    windows = {k: params[k] for k in _WINDOW}
    res = lax.reduce_window((list(xs), ts[:n]), (list(inits), ts[n:]), pair_fn,
                            **windows)
    return outs, list(res[1])


BATCH[lax.reduce_window_p] = _generic_batch
JVP[lax.reduce_window_p] = _generic_jvp
