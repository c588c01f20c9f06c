"""Sample statistics of jax.scipy.stats: mode, rankdata and sem."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from plax import numpy as pnp


class ModeResult(NamedTuple):
    mode: object
    count: object


def mode(a, axis: int | None = 0, nan_policy: str = "propagate", keepdims: bool = False):
    """The most frequent value along `axis` (the smallest among ties) and its count."""
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(f"Illegal nan_policy value {nan_policy!r}; expected one of "
                         "{'propagate', 'omit', 'raise'}")
    if nan_policy != "propagate":
        raise NotImplementedError(f"mode with nan_policy={nan_policy!r}")
    a = pnp.asarray(a)
    if axis is None:
        a, axis = pnp.ravel(a), 0
    axis = axis % max(a.ndim, 1)
    x = pnp.moveaxis(a, axis, -1) if a.ndim else a[None]
    if x.shape[-1] == 0:
        out = pnp.full(x.shape[:-1], np.nan, dtype=pnp.result_type(a.dtype, float))
        return ModeResult(out, pnp.zeros(x.shape[:-1], dtype=int))
    s = pnp.sort(x, axis=-1)
    # count of each sorted value: compare every pair (fine for the sizes mode is used on)
    counts = pnp.sum(s[..., :, None] == s[..., None, :], axis=-1)
    idx = pnp.argmax(counts, axis=-1)
    m = pnp.take_along_axis(s, idx[..., None], axis=-1)[..., 0]
    cnt = pnp.take_along_axis(counts, idx[..., None], axis=-1)[..., 0]
    if keepdims:
        m, cnt = pnp.expand_dims(m, axis), pnp.expand_dims(cnt, axis)
    return ModeResult(m, cnt)


def rankdata(a, method: str = "average", *, axis: int | None = None,
             nan_policy: str = "propagate"):
    """Ranks (from 1) of the values of `a`, ties resolved by `method` (average, min, max,
    dense or ordinal)."""
    if method not in ("average", "min", "max", "dense", "ordinal"):
        raise ValueError(f"unknown method '{method}'")
    if nan_policy != "propagate":
        raise NotImplementedError(f"rankdata with nan_policy={nan_policy!r}")
    a = pnp.asarray(a)
    if axis is None:
        return rankdata(pnp.ravel(a), method, axis=0)
    if a.ndim != 1:
        moved = pnp.moveaxis(a, axis, -1)
        from plax import vmap
        f = lambda v: rankdata(v, method, axis=0)  # noqa: E731
        for _ in range(moved.ndim - 1):
            f = vmap(f)
        return pnp.moveaxis(f(moved), -1, axis)
    n = a.shape[0]
    order = pnp.argsort(a, stable=True)
    if method == "ordinal":
        return pnp.zeros(n, dtype=int).at[order].set(pnp.arange(1, n + 1))
    s = a[order]
    new = pnp.concatenate([pnp.ones(1, dtype=bool), s[1:] != s[:-1]])
    dense_sorted = pnp.cumsum(new)
    dense = pnp.zeros(n, dtype=dense_sorted.dtype).at[order].set(dense_sorted)
    if method == "dense":
        return dense
    # first sorted position of each group, and one past its last
    starts = pnp.nonzero(pnp.concatenate([new, pnp.ones(1, dtype=bool)]), size=n + 1,
                         fill_value=n)[0]
    count = starts[dense]   # one past the last position of each value's group
    first = starts[dense - 1] + 1
    if method == "max":
        return count
    if method == "min":
        return first
    return 0.5 * (count + first)


def sem(a, axis: int | None = 0, ddof: int = 1, nan_policy: str = "propagate", *,
        keepdims: bool = False):
    """Standard error of the mean: std(a, ddof) / sqrt(n) along `axis`."""
    a = pnp.asarray(a)
    if nan_policy == "omit":
        cnt = pnp.sum(~pnp.isnan(a), axis=axis, keepdims=keepdims)
        return pnp.nanstd(a, axis=axis, ddof=ddof, keepdims=keepdims) / pnp.sqrt(cnt)
    if nan_policy != "propagate":
        raise ValueError(f"nan_policy must be 'propagate' or 'omit', got {nan_policy!r}")
    n = a.size if axis is None else a.shape[axis]
    return pnp.std(a, axis=axis, ddof=ddof, keepdims=keepdims) / np.sqrt(n)
