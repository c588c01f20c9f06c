"""jvp, transpose and batching rules of dot_general. It is bilinear: the jvp is the sum of the
two one-sided products, and each transpose contracts the cotangent with the other operand
over the free dimensions, then permutes the result back into the operand's layout."""

from __future__ import annotations

import numpy as np

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, is_undefined
from plax_transforms.batching import moveaxis
from plax_transforms.rules._util import dtype, ndim, shift_dims, skip_zero_ct

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


def _dnums(lc, rc, lb, rb):
    return lax.DotDimensionNumbers(((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb))))


def _free(rank: int, *used) -> list[int]:
    taken = {d for dims in used for d in dims}
    return [d for d in range(rank) if d not in taken]


def _dot_jvp(primals, tangents, **params):
    (lhs, rhs), (tl, tr) = primals, tangents
    out = lax.dot_general_p.bind(lhs, rhs, **params)
    acc = None
    if type(tl) is not Zero:
        acc = lax.dot_general_p.bind(tl, rhs, **params)
    if type(tr) is not Zero:
        term = lax.dot_general_p.bind(lhs, tr, **params)
        acc = term if acc is None else lax.add(acc, term)
    return out, (Zero(get_aval(out)) if acc is None else acc)


def _transpose_operand(ct, x_aval, y, x_contract, y_contract, x_batch, y_batch,
                       x_first: bool, precision, preferred_element_type):
    """Cotangent of operand x of dot_general(x, y) (or of (y, x) when not x_first)."""
    nb = len(x_batch)
    x_kept = _free(x_aval.ndim, x_contract, x_batch)
    y_kept = _free(ndim(y), y_contract, y_batch)
    # where the output keeps y's free dimensions: after x's, or right after the batch dims
    start = nb + len(x_kept) if x_first else nb
    ct_y_dims = range(start, start + len(y_kept))
    x_contract_by_y = [x_contract[i] for i in np.argsort(y_contract)]
    # dot_general(ct, y) gives x's batch dims, x's free dims, then x's contracting dims ordered
    # as y's; dot_general(y, ct) the batch dims, the contracting dims, then the free dims.
    # When nothing is contracted (an outer product: the weight gradient of a vector-matrix
    # product) the swapped one comes out in x's layout and saves a transposed copy (under vmap,
    # of the whole batch of gradients). With a contraction, XLA folds the transpose into the
    # matrix product, and that form runs faster (an MLP step: 2.1 against 2.9 ms).
    order = list(x_batch) + x_kept + x_contract_by_y
    swapped = list(x_batch) + x_contract_by_y + x_kept
    ident = list(range(len(order)))
    if not y_kept and order != ident and swapped == ident:
        dn = _dnums(y_kept, ct_y_dims, y_batch, range(nb))
        out = lax.dot_general_p.bind(y, ct, dimension_numbers=dn, precision=precision,
                                     preferred_element_type=preferred_element_type)
    else:
        dn = _dnums(ct_y_dims, y_kept, range(nb), y_batch)
        prod = lax.dot_general_p.bind(ct, y, dimension_numbers=dn, precision=precision,
                                      preferred_element_type=preferred_element_type)
        out = lax.transpose(prod, tuple(int(i) for i in np.argsort(order)))
    if dtype(out) != x_aval.dtype:
        out = lax.convert_element_type(out, x_aval.dtype)
    return out


@skip_zero_ct
def _dot_transpose(ct, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("dot_general is linear in each operand separately, not in both at once")
    if is_undefined(lhs):
        return [_transpose_operand(ct, lhs.aval, rhs, lc, rc, lb, rb, True, precision,
                                   preferred_element_type), None]
    return [None, _transpose_operand(ct, rhs.aval, lhs, rc, lc, rb, lb, False, precision,
                                     preferred_element_type)]


def _dot_batch(vals, dims, *, dimension_numbers, precision, preferred_element_type):
    (lhs, rhs), (dl, dr) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers
    params = dict(precision=precision, preferred_element_type=preferred_element_type)
    if dl is not None and dr is not None:
        # both batched: one more batch dimension, first in the output
        lhs, rhs = moveaxis(lhs, dl, 0), moveaxis(rhs, dr, 0)
        dn = _dnums(shift_dims(lc), shift_dims(rc), (0, *shift_dims(lb)), (0, *shift_dims(rb)))
        return lax.dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), 0

    # one side batched: its batch axis stays where it is, as one more free dimension
    def bump(ds, d):
        return tuple(x + (x >= d) for x in ds)

    if dl is not None:
        lc, lb = bump(lc, dl), bump(lb, dl)
        out_dim = len(lb) + _free(ndim(lhs), lc, lb).index(dl)
    else:
        rc, rb = bump(rc, dr), bump(rb, dr)
        n_lhs_free = len(_free(ndim(lhs), lc, lb))
        out_dim = len(lb) + n_lhs_free + _free(ndim(rhs), rc, rb).index(dr)
    dn = _dnums(lc, rc, lb, rb)
    return lax.dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), out_dim


JVP[lax.dot_general_p] = _dot_jvp
TRANSPOSE[lax.dot_general_p] = _dot_transpose
BATCH[lax.dot_general_p] = _dot_batch
