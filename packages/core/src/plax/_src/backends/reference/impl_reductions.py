"""NumPy implementations of the reductions, argmax/argmin and cumulative reductions.

Results keep the operand's dtype (integer sums wrap, as in XLA); 16-bit floats are computed in
float32 and rounded once at the end, since NumPy has no float16/bfloat16 accumulators."""

from __future__ import annotations

import numpy as np

from plax._src import dtypes
from plax._src.lax import reductions as rd


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if dtypes.is_float(x.dtype) and x.dtype.itemsize == 2 else x


def _sum(x, *, axes, out_sharding=None):
    return np.sum(_wide(x), axis=tuple(axes), dtype=_wide(x).dtype).astype(x.dtype)


def _prod(x, *, axes):
    return np.prod(_wide(x), axis=tuple(axes), dtype=_wide(x).dtype).astype(x.dtype)


def _max_identity(dt: np.dtype):
    if dt == np.bool_:
        return False
    if dtypes.is_int(dt):
        return np.iinfo(dt).min
    return -np.inf


def _min_identity(dt: np.dtype):
    if dt == np.bool_:
        return True
    if dtypes.is_int(dt):
        return np.iinfo(dt).max
    return np.inf


def _max(x, *, axes):
    # `initial` gives empty reductions XLA's identity (-inf, the smallest integer, False)
    w = _wide(x)
    return np.max(w, axis=tuple(axes), initial=np.array(_max_identity(x.dtype), w.dtype))


def _min(x, *, axes):
    w = _wide(x)
    return np.min(w, axis=tuple(axes), initial=np.array(_min_identity(x.dtype), w.dtype))


def _and(x, *, axes):
    ones = np.array(True) if x.dtype == np.bool_ else np.array(-1).astype(x.dtype)
    return np.bitwise_and.reduce(x, axis=tuple(axes), initial=ones)


def _or(x, *, axes):
    return np.bitwise_or.reduce(x, axis=tuple(axes))


def _xor(x, *, axes):
    return np.bitwise_xor.reduce(x, axis=tuple(axes))


def _argmax(x, *, axes, index_dtype):
    # np.argmax returns the first maximum, and the first NaN when there is one, as XLA does
    return np.argmax(_wide(x), axis=axes[0]).astype(index_dtype)


def _argmin(x, *, axes, index_dtype):
    return np.argmin(_wide(x), axis=axes[0]).astype(index_dtype)


def _cumulative(accumulate):
    def rule(x, *, axis, reverse):
        w = _wide(x)
        if reverse:
            w = np.flip(w, axis)
        out = accumulate(w, axis)
        if reverse:
            out = np.flip(out, axis)
        return out.astype(x.dtype)
    return rule


def _logaddexp_accumulate(w, axis):
    with np.errstate(all="ignore"):  # logaddexp(-inf, -inf) warns; the result -inf is right
        return np.logaddexp.accumulate(w, axis=axis)


IMPLS = {
    rd.reduce_sum_p: _sum,
    rd.reduce_prod_p: _prod,
    rd.reduce_max_p: _max,
    rd.reduce_min_p: _min,
    rd.reduce_and_p: _and,
    rd.reduce_or_p: _or,
    rd.reduce_xor_p: _xor,
    rd.argmax_p: _argmax,
    rd.argmin_p: _argmin,
    rd.cumsum_p: _cumulative(lambda w, axis: np.cumsum(w, axis=axis, dtype=w.dtype)),
    rd.cumprod_p: _cumulative(lambda w, axis: np.cumprod(w, axis=axis, dtype=w.dtype)),
    rd.cummax_p: _cumulative(lambda w, axis: np.maximum.accumulate(w, axis=axis)),
    rd.cummin_p: _cumulative(lambda w, axis: np.minimum.accumulate(w, axis=axis)),
    rd.cumlogsumexp_p: _cumulative(_logaddexp_accumulate),
}
