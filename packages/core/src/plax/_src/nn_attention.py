"""plax.nn's scaled dot-product attention (as jax.nn.dot_product_attention, its XLA
implementation: grouped-query heads, bias, boolean mask, causal and local-window masks,
per-example sequence lengths) and log1mexp."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.nn import logsumexp, softmax
from plax._src.registry import get_api


def _log1mexp_impl(x):
    return pnp.where(x < math.log(2.0), pnp.log(-pnp.expm1(-x)), pnp.log1p(-pnp.exp(-x)))


def log1mexp(x):
    """log(1 - exp(-x)) for x > 0, accurate at both ends."""
    x = pnp.asarray(x)
    if not dtypes.is_inexact(x.dtype):
        x = x.astype(dtypes.default_float_dtype())
    custom_jvp = get_api("custom_jvp")
    if custom_jvp is None:
        return _log1mexp_impl(x)
    f = custom_jvp(_log1mexp_impl)
    f.defjvps(lambda g, ans, x: g / pnp.expm1(x))
    return f(x)


def _large_negative(dtype):
    top = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
    return np.asarray(-0.7 * top, dtype)


def _grouped(t, B, K, G, T, S):  # noqa: N803
    """A (B or 1, N or 1, T, S) bias or mask as (B, K, G, T, S)."""
    if t is None:
        return None
    t = pnp.asarray(t)
    while t.ndim < 4:
        t = t[None]
    tb, tn = t.shape[0], t.shape[1]
    if tn == 1:
        return pnp.broadcast_to(t[:, :, None], (tb, 1, G, T, S))
    if tn != K * G:
        raise ValueError(f"dot_product_attention: bias/mask has {tn} heads, expected 1 or "
                         f"{K * G}")
    return pnp.reshape(t, (tb, K, G, t.shape[2], t.shape[3]))


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None, local_window_size=None,
                          implementation=None, return_residual: bool = False):
    """softmax(q k^T * scale + bias, masked) v over shapes (B, T, N, H) for the query and
    (B, S, K, H) for key and value (N a multiple of K: grouped-query attention); the batch
    axis may be omitted."""
    if implementation not in (None, "xla"):
        raise NotImplementedError(f"dot_product_attention: implementation={implementation!r} "
                                  "is not available in plax (use None or 'xla')")
    query, key, value = (pnp.asarray(a) for a in (query, key, value))
    unbatched = query.ndim == 3
    if unbatched:
        query, key, value = query[None], key[None], value[None]
        if bias is not None:
            bias = pnp.asarray(bias)
            bias = bias[None] if bias.ndim == 3 else bias
        if mask is not None:
            mask = pnp.asarray(mask)
            mask = mask[None] if mask.ndim == 3 else mask
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(f"dot_product_attention expects rank-4 (or rank-3) query/key/value, "
                         f"got shapes {query.shape}, {key.shape}, {value.shape}")
    B, T, N, H = query.shape  # noqa: N806
    _, S, K, _ = key.shape  # noqa: N806
    if key.shape != value.shape or key.shape[0] != B or key.shape[3] != H:
        raise ValueError(f"dot_product_attention: key and value must both have shape "
                         f"(B, S, K, H) = ({B}, S, K, {H}), got {key.shape} and {value.shape}")
    if N % K:
        raise ValueError(f"dot_product_attention: the query heads ({N}) must be a multiple "
                         f"of the key/value heads ({K})")
    if mask is not None and pnp.asarray(mask).dtype != np.bool_:
        raise ValueError(f"dot_product_attention: mask must be boolean, got dtype "
                         f"{pnp.asarray(mask).dtype}")
    G = N // K  # noqa: N806
    scale = 1.0 / math.sqrt(H) if scale is None else scale
    logits_dt = pnp.promote_types(query.dtype, np.float32)
    q = pnp.reshape(query, (B, T, K, G, H))
    logits = pnp.einsum("BTKGH,BSKH->BKGTS", q, key, preferred_element_type=logits_dt)
    logits = logits * np.asarray(scale, logits.dtype)
    if bias is not None:
        logits = (logits + _grouped(bias, B, K, G, T, S)).astype(logits.dtype)
    keep = None

    def both(a, b):
        return b if a is None else pnp.logical_and(a, b)

    if mask is not None:
        keep = both(keep, _grouped(mask, B, K, G, T, S))
    if is_causal:
        keep = both(keep, pnp.tril(pnp.ones((T, S), bool)))
    if local_window_size is not None:
        left, right = local_window_size
        qp, kp = pnp.arange(T)[:, None], pnp.arange(S)[None, :]
        keep = both(keep, (qp <= kp + left) & (qp >= kp - right))
    qlen = None if query_seq_lengths is None else pnp.asarray(query_seq_lengths)
    kvlen = None if key_value_seq_lengths is None else pnp.asarray(key_value_seq_lengths)
    if qlen is not None:
        keep = both(keep, (pnp.arange(T)[None, :, None] < qlen[:, None, None])[:, None, None])
    if kvlen is not None:
        keep = both(keep, (pnp.arange(S)[None, None, :] < kvlen[:, None, None])[:, None, None])
    if keep is not None:
        logits = pnp.where(keep, logits, _large_negative(logits.dtype))
    logits = logits.astype(np.float32)
    probs = softmax(logits, axis=-1).astype(key.dtype)
    out = pnp.einsum("BKGTS,BSKH->BTKGH", probs, value).reshape(B, T, N, H)
    if qlen is not None:
        out = out * (pnp.arange(T)[None, :] < qlen[:, None])[:, :, None, None].astype(out.dtype)
    if return_residual:
        lse = logsumexp(logits, axis=-1).astype(key.dtype)  # B K G T
        lse = lax.stop_gradient(pnp.transpose(lse.reshape(B, N, T), (0, 2, 1)))
        return (out[0], lse[0]) if unbatched else (out, lse)
    return out[0] if unbatched else out
