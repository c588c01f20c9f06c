"""plax.ops (as jax.ops): segment reductions. `segment_sum(data, segment_ids, num_segments)`
combines the rows of `data` (its leading axis) that share a segment id; ids outside
[0, num_segments) are dropped (mode 'fill'/'drop', the default) or clamped (mode 'clip'), as
JAX's. Each is one scatter of plax.lax, so jit, vmap and grad apply as to any scatter."""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["segment_sum", "segment_prod", "segment_max", "segment_min"]


def _identity(kind: str, dtype: np.dtype):
    if kind == "add":
        return 0
    if kind == "multiply":
        return 1
    if dtype == np.bool_:
        return kind == "min"
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return info.max if kind == "min" else info.min
    return np.inf if kind == "min" else -np.inf


def _segment_update(name, kind, reducer, data, segment_ids, num_segments, indices_are_sorted,
                    unique_indices, bucket_size, mode):
    from plax import numpy as pnp
    from plax._src.core import Tracer
    from plax._src.numpy.util import check_arraylike
    check_arraylike(name, data, segment_ids)
    data = pnp.asarray(data)
    segment_ids = pnp.asarray(segment_ids)
    if not (np.issubdtype(segment_ids.dtype, np.integer)):
        raise TypeError(f"{name}: segment_ids must be an array of integers, got dtype "
                        f"{segment_ids.dtype}")
    if segment_ids.ndim != 1:
        raise ValueError(f"{name}: segment_ids must be one-dimensional (one id per row of "
                         f"data), got shape {tuple(segment_ids.shape)}")
    if data.ndim == 0 or data.shape[0] != segment_ids.shape[0]:
        raise ValueError(f"{name}: data's leading axis must match segment_ids' length "
                         f"{segment_ids.shape[0]}, got data of shape {tuple(data.shape)}")
    if num_segments is None:
        if isinstance(segment_ids, Tracer):
            raise ValueError(f"{name}: num_segments must be given (a static int) when "
                             "segment_ids is traced, e.g. under jit: the output's size "
                             "depends on it")
        num_segments = int(np.max(np.asarray(segment_ids))) + 1
    if isinstance(num_segments, Tracer):
        raise ValueError(f"{name}: num_segments must be a static int (it sets the output's "
                         "shape), got a traced value")
    num_segments = operator.index(num_segments)
    if num_segments < 0:
        raise ValueError("num_segments must be non-negative.")
    dtype = data.dtype
    fill = _identity(kind, np.dtype(dtype))
    opts = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                mode="fill" if mode is None else mode, wrap_negative_indices=False)
    if bucket_size is None:
        out = pnp.full((num_segments,) + tuple(data.shape[1:]), fill, dtype=dtype)
        return getattr(out.at[segment_ids], kind)(data, **opts)
    bucket_size = operator.index(bucket_size)
    if bucket_size <= 0:
        raise ValueError(f"{name}: bucket_size must be a positive int, got {bucket_size}")
    n = segment_ids.shape[0]
    num_buckets = -(-n // bucket_size)
    out = pnp.full((num_buckets, num_segments) + tuple(data.shape[1:]), fill, dtype=dtype)
    buckets = pnp.arange(n) // bucket_size
    out = getattr(out.at[buckets, segment_ids], kind)(data, **opts)
    return reducer(out, axis=0).astype(dtype)


def _reduction(name: str, kind: str, reducer_name: str, what: str):
    def segment_op(data, segment_ids, num_segments=None, indices_are_sorted=False,
                   unique_indices=False, bucket_size=None, mode=None):
        from plax import numpy as pnp
        return _segment_update(name, kind, getattr(pnp, reducer_name), data, segment_ids,
                               num_segments, indices_are_sorted, unique_indices, bucket_size,
                               mode)
    segment_op.__name__ = segment_op.__qualname__ = name
    segment_op.__doc__ = (
        f"The {what} of the rows of `data` in each segment: out[s] combines data[i] for "
        "segment_ids[i] == s, for s in range(num_segments) (default max(segment_ids) + 1, which "
        "needs concrete ids). Empty segments hold the identity; ids out of range are dropped "
        "(mode None/'fill'/'drop') or clamped ('clip'). `indices_are_sorted` and "
        "`unique_indices` are promises passed to the scatter; `bucket_size` scatters into "
        "buckets of that many rows first and combines the buckets after (as JAX's).")
    return segment_op


segment_sum = _reduction("segment_sum", "add", "sum", "sum")
segment_prod = _reduction("segment_prod", "multiply", "prod", "product")
segment_max = _reduction("segment_max", "max", "max", "maximum")
segment_min = _reduction("segment_min", "min", "min", "minimum")
