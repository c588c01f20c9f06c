"""NumPy implementation of conv_general_dilated: dilate and pad the input (channels last), view
its windows through strides, and sum one batched matmul (over the groups) per window position.
16-bit floats accumulate in float32."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from plax._src import dtypes
from plax._src.lax import convolution as cv


def _compute_dtype(out_dtype: np.dtype) -> np.dtype:
    if dtypes.is_float(out_dtype) and out_dtype.itemsize < 4:
        return np.dtype(np.float32)
    return np.dtype(out_dtype)


def dilate_and_pad(x, spatial_axes, dilation, padding, fill=0):
    """x with `fill` inserted between elements along `spatial_axes` (dilation) and padded
    (negative padding crops), as lax.pad's interior and edge padding."""
    if any(d > 1 for d in dilation):
        shape = list(x.shape)
        for a, d in zip(spatial_axes, dilation):
            shape[a] = cv.dilate_dim(shape[a], d)
        out = np.full(shape, fill, x.dtype)
        idx = [slice(None)] * x.ndim
        for a, d in zip(spatial_axes, dilation):
            idx[a] = slice(None, None, d)
        out[tuple(idx)] = x
        x = out
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for a, (lo, hi) in zip(spatial_axes, padding):
        widths[a] = (max(lo, 0), max(hi, 0))
        crop[a] = slice(max(-lo, 0), x.shape[a] + max(lo, 0) + max(hi, 0) - max(-hi, 0))
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, constant_values=fill)
    return x[tuple(crop)]


def windows(x, spatial_axes, window, strides, dilation, out_sizes):
    """A view of shape x.shape (spatial dims replaced by `out_sizes`) + window: the element of
    window position k at output position i is x[i * stride + k * dilation]."""
    eff = [cv.dilate_dim(k, d) for k, d in zip(window, dilation)]
    view = sliding_window_view(x, eff, axis=spatial_axes)
    idx = [slice(None)] * view.ndim
    for a, s, n in zip(spatial_axes, strides, out_sizes):
        idx[a] = slice(0, (n - 1) * s + 1 if n else 0, s)
    for j, d in enumerate(dilation):
        idx[x.ndim + j] = slice(None, None, d)
    return view[tuple(idx)]


def _conv(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
          feature_group_count, batch_group_count, precision, preferred_element_type,
          out_sharding=None):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    out_dtype = np.dtype(preferred_element_type or lhs.dtype)
    ct = _compute_dtype(out_dtype)
    nsp = lhs.ndim - 2
    # channels last: (N, spatial..., C), the layout whose window slices are cheap to copy
    x = np.transpose(lhs, (lhs_spec[0], *lhs_spec[2:], lhs_spec[1])).astype(ct, copy=False)
    w = np.transpose(rhs, rhs_spec).astype(ct, copy=False)   # (O, I, window...)
    out_shape = cv.conv_shape(lhs.shape, rhs.shape, window_strides=window_strides,
                              padding=padding, lhs_dilation=lhs_dilation,
                              rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                              feature_group_count=feature_group_count,
                              batch_group_count=batch_group_count)
    out_t = tuple(out_shape[d] for d in out_spec)            # (N / B, O, spatial...)
    n, o, cg = x.shape[0], w.shape[0], w.shape[1]
    win, out_sp = w.shape[2:], out_t[2:]
    if 0 in out_t or 0 in x.shape or 0 in w.shape:
        return np.zeros(out_shape, out_dtype)
    sp_axes = tuple(range(1, 1 + nsp))
    x = dilate_and_pad(x, sp_axes, lhs_dilation, padding)
    pat = windows(x, sp_axes, win, window_strides, rhs_dilation, out_sp)  # (N, out, C, win)
    b, g = batch_group_count, feature_group_count
    groups, nb, og = b * g, n // b, o // (b * g)
    ker = w.reshape((groups, og, cg) + win)
    # the sum over window positions of one (groups, Nb*out, Cg) @ (groups, Cg, Og) product each
    acc = None
    with np.errstate(all="ignore"):  # integer wraparound and inf/nan are the answer, as XLA
        for pos in np.ndindex(*win):
            xs = pat[(..., *pos)].reshape((b, nb) + out_sp + (g, cg))
            xs = np.moveaxis(xs, 2 + nsp, 1).reshape(groups, nb * math.prod(out_sp), cg)
            term = np.matmul(xs, ker[(..., *pos)].transpose(0, 2, 1))
            acc = term if acc is None else acc + term
    res = acc.reshape((groups, nb) + out_sp + (og,))
    # -> (Nb, groups, Og, out...) = (Nb, O, out...)
    res = np.moveaxis(np.moveaxis(res, -1, 1), 2, 0).reshape(out_t)
    return np.transpose(res, np.argsort(out_spec)).astype(out_dtype, copy=False)


IMPLS = {
    cv.conv_general_dilated_p: _conv,
}
