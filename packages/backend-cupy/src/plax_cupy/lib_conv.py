"""conv_general_dilated through xp for the GPU build: dilate and pad the input, take its windows
as a strided view (im2col), contract them with the kernel in one batched matmul per group
(cuBLAS). 16-bit floats accumulate in float32. The host build keeps the NumPy library call."""

from __future__ import annotations

import math

import numpy as np

from plax_cupy import xp as X


def _dilate_dim(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def _dilate_and_pad(x, axes, dilation, padding):
    """Zeros between elements along `axes` (dilation), then edge padding (negative crops)."""
    xp = X.xp
    if any(d > 1 for d in dilation):
        shape = list(x.shape)
        for a, d in zip(axes, dilation):
            shape[a] = _dilate_dim(shape[a], d)
        out = xp.zeros(shape, x.dtype)
        idx = [slice(None)] * x.ndim
        for a, d in zip(axes, dilation):
            idx[a] = slice(None, None, d)
        out[tuple(idx)] = x
        x = out
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for a, (lo, hi) in zip(axes, padding):
        widths[a] = (max(lo, 0), max(hi, 0))
        crop[a] = slice(max(-lo, 0), x.shape[a] + max(lo, 0) + max(hi, 0) - max(-hi, 0))
    if any(w != (0, 0) for w in widths):
        x = xp.pad(x, widths)
    return x[tuple(crop)]


def _windows(x, axes, window, strides, dilation, out_sizes):
    """x.shape (spatial dims -> out_sizes) + window: window element k at output i is
    x[i * stride + k * dilation]."""
    if X.on_gpu():
        from cupy.lib.stride_tricks import sliding_window_view
    else:
        from numpy.lib.stride_tricks import sliding_window_view
    eff = [_dilate_dim(k, d) for k, d in zip(window, dilation)]
    view = sliding_window_view(x, eff, axis=axes)
    idx = [slice(None)] * view.ndim
    for a, s, n in zip(axes, strides, out_sizes):
        idx[a] = slice(0, (n - 1) * s + 1 if n else 0, s)
    for j, d in enumerate(dilation):
        idx[x.ndim + j] = slice(None, None, d)
    return view[tuple(idx)]


def _conv(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
          feature_group_count, batch_group_count, precision, preferred_element_type):
    xp = X.xp
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    out_dtype = np.dtype(preferred_element_type or lhs.dtype)
    half = out_dtype.itemsize < 4 and (out_dtype.kind == "f" or out_dtype.name == "bfloat16")
    ct = np.dtype(np.float32) if half else out_dtype
    x = xp.transpose(lhs, lhs_spec).astype(ct, copy=False)   # (N, C, spatial...)
    w = xp.transpose(rhs, rhs_spec).astype(ct, copy=False)   # (O, I, window...)
    nsp = x.ndim - 2
    axes = tuple(range(2, 2 + nsp))
    b, g = batch_group_count, feature_group_count
    n, _ = x.shape[:2]
    o, cg = w.shape[:2]
    win = w.shape[2:]
    sizes = []
    for i, a in enumerate(axes):
        padded = _dilate_dim(x.shape[a], lhs_dilation[i]) + sum(padding[i])
        eff = _dilate_dim(win[i], rhs_dilation[i])
        sizes.append(max(0, (padded - eff) // window_strides[i] + 1) if padded >= eff else 0)
    out_t = (n // b, o) + tuple(sizes)                       # (N / B, O, spatial...)
    out_shape = [0] * len(out_t)
    for k, d in enumerate(out_spec):
        out_shape[d] = out_t[k]
    if 0 in out_t or 0 in x.shape or 0 in w.shape:
        return xp.zeros(out_shape, out_dtype)
    x = _dilate_and_pad(x, axes, lhs_dilation, padding)
    pat = _windows(x, axes, win, window_strides, rhs_dilation, out_t[2:])
    groups, nb, k = b * g, n // b, math.prod(win)
    npos = math.prod(out_t[2:])
    # patches (B, Nb, G, Cg, out..., window...) -> (B*G, Nb*out, Cg*window)
    pat = pat.reshape((b, nb, g, cg) + out_t[2:] + win)
    perm = (0, 2, 1) + tuple(range(4, 4 + nsp)) + (3,) + tuple(range(4 + nsp, 4 + 2 * nsp))
    pat = xp.ascontiguousarray(xp.transpose(pat, perm)).reshape(groups, nb * npos, cg * k)
    ker = w.reshape(groups, o // groups, cg * k).transpose(0, 2, 1)
    if X.on_gpu() and ct.kind in "biu":
        pat, ker = pat.astype(np.float64), ker.astype(np.float64)  # no integer GEMM
    with X.quiet():  # integer wraparound and inf/nan are the answer, as XLA
        res = xp.matmul(pat, ker)                            # (groups, Nb*out, Og)
    res = res.reshape((groups, nb) + out_t[2:] + (o // groups,))
    res = xp.moveaxis(xp.moveaxis(res, -1, 1), 2, 0).reshape(out_t)
    return xp.transpose(res, tuple(int(i) for i in np.argsort(out_spec))).astype(out_dtype)


GPU_RULES = {"conv_general_dilated": _conv}
