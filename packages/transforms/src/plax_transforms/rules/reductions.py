"""jvp, transpose and batching rules of the reductions and cumulative reductions, as JAX's: max/min
split the tangent among tied extrema, products differentiate a product tree (exact at zeros),
cumprod/cummax/cummin/cumlogsumexp differentiate a parallel prefix scan (lax.associative_scan)."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax_transforms.rules._util import (
    dtype, linear_unary_jvp, shape, skip_zero_ct, zero_jvp)

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


# ---------------------------------------------------------------------------------------------
# batching: reduced axes and the batch axis never coincide, so only the numbering shifts


def _reduce_batch(prim):
    def rule(vals, dims, *, axes, **params):
        (x,), (d,) = vals, dims
        new_axes = tuple(a + (a >= d) for a in axes)
        out_dim = d - sum(a < d for a in axes)
        return prim.bind(x, axes=new_axes, **params), out_dim
    return rule


def _cumulative_batch(prim):
    def rule(vals, dims, *, axis, reverse):
        (x,), (d,) = vals, dims
        return prim.bind(x, axis=axis + (d <= axis), reverse=reverse), d
    return rule


for _p in (lax.reduce_sum_p, lax.reduce_prod_p, lax.reduce_max_p, lax.reduce_min_p,
           lax.reduce_and_p, lax.reduce_or_p, lax.reduce_xor_p, lax.argmax_p, lax.argmin_p):
    BATCH[_p] = _reduce_batch(_p)
for _p in (lax.cumsum_p, lax.cumprod_p, lax.cummax_p, lax.cummin_p, lax.cumlogsumexp_p):
    BATCH[_p] = _cumulative_batch(_p)

# integer or boolean results: no derivative
for _p in (lax.reduce_and_p, lax.reduce_or_p, lax.reduce_xor_p, lax.argmax_p, lax.argmin_p):
    JVP[_p] = zero_jvp(_p)


# ---------------------------------------------------------------------------------------------
# reduce_sum, cumsum: linear


@skip_zero_ct
def _reduce_sum_transpose(ct, x, *, axes, out_sharding=None):
    in_shape = x.aval.shape
    kept = tuple(d for d in range(len(in_shape)) if d not in axes)
    return [lax.broadcast_in_dim(ct, in_shape, kept)]


JVP[lax.reduce_sum_p] = linear_unary_jvp(lax.reduce_sum_p)
TRANSPOSE[lax.reduce_sum_p] = _reduce_sum_transpose


@skip_zero_ct
def _cumsum_transpose(ct, x, *, axis, reverse):
    # each input reaches every output at or after it: a cumulative sum the other way round
    return [lax.cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


JVP[lax.cumsum_p] = linear_unary_jvp(lax.cumsum_p)
TRANSPOSE[lax.cumsum_p] = _cumsum_transpose


# ---------------------------------------------------------------------------------------------
# reduce_max, reduce_min: the tangent at the extrema, averaged over ties


def _chooser_jvp(prim):
    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        keep_shape = tuple(1 if i in axes else s for i, s in enumerate(shape(x)))
        at_extremum = lax.convert_element_type(lax.eq(x, lax.reshape(ans, keep_shape)),
                                               dtype(t))
        counts = lax.reduce_sum(at_extremum, axes)
        return ans, lax.div(lax.reduce_sum(lax.mul(t, at_extremum), axes), counts)
    return rule


JVP[lax.reduce_max_p] = _chooser_jvp(lax.reduce_max_p)
JVP[lax.reduce_min_p] = _chooser_jvp(lax.reduce_min_p)


# ---------------------------------------------------------------------------------------------
# Combining (primal, tangent) pairs: the jvps of the binary operations that reduce_prod and the
# cumulative reductions are built from. Each takes and returns [primal, tangent].


def _mul_pair(a, b):
    (x, tx), (y, ty) = a, b
    return [lax.mul(x, y), lax.add(lax.mul(tx, y), lax.mul(x, ty))]


def _tie_weight(pick, x, y, like):
    """1 where pick(x, y), 1/2 where x == y, else 0 (lax.max's and lax.min's jvp weights)."""
    w = lax.convert_element_type(pick(x, y), dtype(like))
    half = lax.convert_element_type(lax.eq(x, y), dtype(like))
    return lax.add(w, lax.mul(half, np.array(0.5, dtype(like))))


def _extremum_pair(op, pick):
    def combine(a, b):
        (x, tx), (y, ty) = a, b
        t = lax.add(lax.mul(tx, _tie_weight(pick, x, y, tx)),
                    lax.mul(ty, _tie_weight(pick, y, x, ty)))
        return [op(x, y), t]
    return combine


def _logaddexp(x, y):
    amax = lax.max(x, y)
    delta = lax.sub(x, y)
    # delta is NaN for NaNs or for infinities of one sign, where x + y is the answer
    return lax.select(lax.ne(delta, delta), lax.add(x, y),
                      lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta))))))


def _replace_posinf(x):
    return lax.select(lax.eq(x, np.array(np.inf, dtype(x))), lax.full_like(x, 0), x)


def _logaddexp_pair(a, b):
    (x, tx), (y, ty) = a, b
    out = _logaddexp(x, y)
    # JAX's logaddexp jvp: exp(x - out) weights with +inf replaced by 0 (so an infinite
    # operand gets weight 1); -inf operands get weight 0, and NaN when both are -inf
    ro = _replace_posinf(out)
    t = lax.add(lax.mul(tx, lax.exp(lax.sub(_replace_posinf(x), ro))),
                lax.mul(ty, lax.exp(lax.sub(_replace_posinf(y), ro))))
    return [out, t]


# ---------------------------------------------------------------------------------------------
# reduce_prod: a product tree over the reduced elements (JAX's _reduce_jvp)


def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    in_shape = shape(x)
    kept = [d for d in range(len(in_shape)) if d not in axes]
    kept_shape = tuple(in_shape[d] for d in kept)
    n = math.prod(in_shape[a] for a in axes)
    perm = (*axes, *kept)
    flat = [lax.reshape(lax.transpose(v, perm), (n, *kept_shape)) for v in (x, t)]
    if n == 0:
        return lax.reduce_prod_p.bind(x, axes=axes), lax.full(kept_shape, 0, dtype(t))
    while shape(flat[0])[0] > 1:
        m = shape(flat[0])[0]
        half = (m + 1) // 2
        first = [lax.slice_in_dim(v, 0, half) for v in flat]
        second = [lax.slice_in_dim(v, half, m) for v in flat]
        if m % 2:  # pad the shorter half with the pair (1, 0)
            cfg = ((0, 1, 0),) + ((0, 0, 0),) * len(kept_shape)
            second = [lax.pad(v, np.array(fill, dtype(v)), cfg)
                      for v, fill in zip(second, (1, 0), strict=True)]
        flat = _mul_pair(first, second)
    p, tp = (lax.reshape(v, kept_shape) for v in flat)
    return p, tp


JVP[lax.reduce_prod_p] = _reduce_prod_jvp


# ---------------------------------------------------------------------------------------------
# cumprod, cummax, cummin, cumlogsumexp: a prefix scan of (primal, tangent) pairs


def _cumulative_jvp(combine):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        elems = [x, t]
        if reverse:
            elems = [lax.rev(e, (axis,)) for e in elems]
        out = lax.associative_scan(combine, elems, axis=axis)
        if reverse:
            out = [lax.rev(e, (axis,)) for e in out]
        return out[0], out[1]
    return rule


JVP[lax.cumprod_p] = _cumulative_jvp(_mul_pair)
JVP[lax.cummax_p] = _cumulative_jvp(_extremum_pair(lax.max, lax.gt))
JVP[lax.cummin_p] = _cumulative_jvp(_extremum_pair(lax.min, lax.lt))
JVP[lax.cumlogsumexp_p] = _cumulative_jvp(_logaddexp_pair)
