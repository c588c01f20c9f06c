"""Library implementations of the reductions, argmax/argmin and cumulative reductions through
`xp`. Results keep the operand's dtype (integer sums wrap, as in XLA); 16-bit floats are
computed in float32 and rounded once at the end."""

from __future__ import annotations

import numpy as np

from plax_cupy import xp as X


def _wide(x):
    dt = x.dtype
    half = dt.itemsize == 2 and (dt.kind == "f" or dt.name == "bfloat16")
    return x.astype(np.float32) if half else x


def _sum(x, *, axes, out_sharding=None):
    w = _wide(x)
    return X.xp.sum(w, axis=tuple(axes), dtype=w.dtype).astype(x.dtype)


def _prod(x, *, axes):
    w = _wide(x)
    with X.quiet():
        return X.xp.prod(w, axis=tuple(axes), dtype=w.dtype).astype(x.dtype)


def _identity(dt, low: bool):
    """XLA's identity of max (low) or min: -inf, the smallest integer, False (and mirrors)."""
    if dt == np.bool_:
        return not low
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return info.min if low else info.max
    return -np.inf if low else np.inf


def _extremum(name: str, low: bool):
    def rule(x, *, axes):
        xp = X.xp
        w = _wide(x)
        axes = tuple(axes)
        if any(x.shape[a] == 0 for a in axes):  # empty: the identity
            shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
            return xp.full(shape, _identity(x.dtype, low), dtype=w.dtype)
        return getattr(xp, name)(w, axis=axes)
    return rule


def _bitwise(name: str, identity):
    def rule(x, *, axes):
        xp = X.xp
        axes = tuple(axes)
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        if x.size == 0 or not axes:
            return xp.full(shape, identity(x.dtype), dtype=x.dtype) if x.size == 0 else x
        if not X.on_gpu():
            return getattr(np, name).reduce(x, axis=axes)
        kept = [i for i in range(x.ndim) if i not in axes]
        flat = xp.transpose(x, kept + list(axes)).reshape(shape + (-1,))
        op = getattr(xp, name)
        while flat.shape[-1] > 1:  # fold halves: log2(n) elementwise steps
            n = flat.shape[-1]
            h = n // 2
            folded = op(flat[..., :h], flat[..., h:2 * h])
            flat = folded if n % 2 == 0 else xp.concatenate([folded, flat[..., 2 * h:]], -1)
        return flat[..., 0]
    return rule


def _all_ones(dt):
    return True if dt == np.bool_ else np.array(-1).astype(dt)


def _argext(name: str):
    def rule(x, *, axes, index_dtype):
        # the first extremum, and the first NaN when there is one, as XLA does
        return getattr(X.xp, name)(_wide(x), axis=axes[0]).astype(index_dtype)
    return rule


def _cumulative(accumulate):
    def rule(x, *, axis, reverse):
        xp = X.xp
        w = _wide(x)
        if reverse:
            w = xp.flip(w, axis)
        with X.quiet():
            out = accumulate(w, axis)
        if reverse:
            out = xp.flip(out, axis)
        return out.astype(x.dtype)
    return rule


def _cummax(w, axis, low=False):
    xp = X.xp
    if not X.on_gpu():
        return (np.minimum if low else np.maximum).accumulate(w, axis=axis)
    # CuPy has no ufunc.accumulate for maximum: a doubling scan (log2(n) steps)
    op = xp.minimum if low else xp.maximum
    out = xp.moveaxis(w, axis, -1).copy()
    shift = 1
    while shift < out.shape[-1]:
        out[..., shift:] = op(out[..., shift:], out[..., :-shift].copy())
        shift *= 2
    return xp.moveaxis(out, -1, axis)


def _cumlogsumexp(w, axis):
    xp = X.xp
    if not X.on_gpu():
        return np.logaddexp.accumulate(w, axis=axis)
    out = xp.moveaxis(w, axis, -1).copy()
    shift = 1
    while shift < out.shape[-1]:
        out[..., shift:] = xp.logaddexp(out[..., shift:], out[..., :-shift].copy())
        shift *= 2
    return xp.moveaxis(out, -1, axis)


LIBRARY = {
    "reduce_sum": _sum,
    "reduce_prod": _prod,
    "reduce_max": _extremum("max", True),
    "reduce_min": _extremum("min", False),
    "reduce_and": _bitwise("bitwise_and", _all_ones),
    "reduce_or": _bitwise("bitwise_or", lambda dt: False if dt == np.bool_ else 0),
    "reduce_xor": _bitwise("bitwise_xor", lambda dt: False if dt == np.bool_ else 0),
    "argmax": _argext("argmax"),
    "argmin": _argext("argmin"),
    "cumsum": _cumulative(lambda w, axis: X.xp.cumsum(w, axis=axis, dtype=w.dtype)),
    "cumprod": _cumulative(lambda w, axis: X.xp.cumprod(w, axis=axis, dtype=w.dtype)),
    "cummax": _cumulative(_cummax),
    "cummin": _cumulative(lambda w, axis: _cummax(w, axis, low=True)),
    "cumlogsumexp": _cumulative(_cumlogsumexp),
}
