"""NumPy implementation of dot_general: transpose both operands to (batch, free, contract)
layouts, flatten to batched matrices and use np.matmul. 16-bit floats accumulate in float32.
Under a dot algorithm the operands are first rounded to its types and the sum to its
accumulation type (as XLA runs it), and CPU's rule on presets applies."""

from __future__ import annotations

import math

import numpy as np

from plax._src import dtypes
from plax._src.lax import linalg as la


def _compute_dtype(out_dtype: np.dtype) -> np.dtype:
    if dtypes.is_float(out_dtype) and out_dtype.itemsize < 4:
        return dtypes.float32
    return out_dtype


def _dot_general(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    # the abstract rule's result dtype: the operands meet in it (the backend casts the output)
    out = preferred_element_type or (lhs.dtype if _rank(lhs.dtype) >= _rank(rhs.dtype)
                                     else rhs.dtype)
    if la.is_algorithm(precision):
        precision.check_platform("cpu")
        alg = precision.compute_dtypes(lhs.dtype, rhs.dtype, out)
        lhs, rhs = lhs.astype(alg[0], copy=False), rhs.astype(alg[1], copy=False)
        res = _dot_general(lhs, rhs, dimension_numbers=dimension_numbers, precision=None,
                           preferred_element_type=alg[2])
        return res.astype(out, copy=False)
    ct = _compute_dtype(np.dtype(out))
    batch = [lhs.shape[d] for d in lb]
    lf, rf = [lhs.shape[d] for d in lfree], [rhs.shape[d] for d in rfree]
    k = math.prod(lhs.shape[d] for d in lc)
    a = np.transpose(lhs, list(lb) + lfree + list(lc)).astype(ct, copy=False)
    b = np.transpose(rhs, list(rb) + list(rc) + rfree).astype(ct, copy=False)
    a = a.reshape(batch + [math.prod(lf), k])
    b = b.reshape(batch + [k, math.prod(rf)])
    with np.errstate(all="ignore"):  # integer wraparound and inf/nan are the answer, as XLA
        res = np.matmul(a, b)
    return res.reshape(batch + lf + rf).astype(out, copy=False)


def _rank(dt):
    return la._dtype_rank(np.dtype(dt))


IMPLS = {
    la.dot_general_p: _dot_general,
}
