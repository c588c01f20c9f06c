"""jvp and batching rules of sort and top_k, as JAX's: the jvp sorts an iota along with the
operands to learn the permutation, then applies it to the tangents with a gather."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero
from plax_transforms.batching import moveaxis
from plax_transforms.rules._util import shape, take_along

JVP: dict = {}
BATCH: dict = {}


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shp = shape(primals[0])
    n = shp[dimension]
    iota = lax.broadcasted_iota(np.int32 if n < np.iinfo(np.int32).max else np.int64, shp,
                                dimension)
    # the iota rides along as a non-key operand: it comes out as the permutation
    *out, perm = lax.sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable,
                                 num_keys=num_keys)
    t_out = [t if type(t) is Zero else take_along(t, perm, dimension) for t in tangents]
    return out, t_out


def _sort_batch(vals, dims, *, dimension, is_stable, num_keys):
    proto, bdim = next((v, d) for v, d in zip(vals, dims, strict=True) if d is not None)
    full_shape = shape(proto)
    operands = []
    for v, d in zip(vals, dims, strict=True):
        if d is None:
            kept = tuple(i for i in range(len(full_shape)) if i != bdim)
            operands.append(lax.broadcast_in_dim(v, full_shape, kept))
        else:
            operands.append(moveaxis(v, d, bdim))
    new_dim = dimension + (bdim <= dimension)
    out = lax.sort_p.bind(*operands, dimension=new_dim, is_stable=is_stable, num_keys=num_keys)
    return out, [bdim] * len(out)


JVP[lax.sort_p] = _sort_jvp
BATCH[lax.sort_p] = _sort_batch


def _top_k_jvp(primals, tangents, *, k, axis):
    (x,), (t,) = primals, tangents
    values, idx = lax.top_k_p.bind(x, k=k, axis=axis)
    return [values, idx], [take_along(t, idx, axis), Zero(get_aval(idx))]


def _top_k_batch(vals, dims, *, k, axis):
    (x,), (d,) = vals, dims
    return lax.top_k_p.bind(x, k=k, axis=axis + (d <= axis)), [d, d]


JVP[lax.top_k_p] = _top_k_jvp
BATCH[lax.top_k_p] = _top_k_batch
