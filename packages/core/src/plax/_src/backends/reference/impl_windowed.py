"""NumPy implementations of the window reductions: pad (and dilate) the operand with the
reduction's identity, view its windows through strides (no copies), and reduce over the window
axes; the pooling derivatives pick each window's first extreme with argmax/argmin."""

from __future__ import annotations

import numpy as np

from plax._src import dtypes
from plax._src.backends.reference.impl_convolution import dilate_and_pad, windows
from plax._src.lax import windowed as wd


def _lowest(dt):
    if dt == np.bool_:
        return False
    return np.iinfo(dt).min if dtypes.is_int(dt) else -np.inf


def _highest(dt):
    if dt == np.bool_:
        return True
    return np.iinfo(dt).max if dtypes.is_int(dt) else np.inf


def _windows_of(x, fill, *, window_dimensions, window_strides, padding, base_dilation,
                window_dilation):
    """x's windows: shape out_shape + window_dimensions."""
    axes = tuple(range(x.ndim))
    out = wd.window_shape("reduce_window", x.shape, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation)
    padded = dilate_and_pad(x, axes, base_dilation, padding, fill)
    return windows(padded, axes, window_dimensions, window_strides, window_dilation, out)


def _reducer(reduce, identity, widen: bool):
    def rule(x, **params):
        dt = x.dtype
        if widen and dtypes.is_float(dt) and dt.itemsize < 4:
            x = x.astype(np.float32)
        view = _windows_of(x, identity(x.dtype), **params)
        win_axes = tuple(range(x.ndim, view.ndim))
        with np.errstate(all="ignore"):  # integer wraparound and inf - inf, as XLA
            out = reduce(view, axis=win_axes) if win_axes else view
        return np.asarray(out).astype(dt, copy=False)
    return rule


def _zero(dt):
    return np.zeros((), dt)


def _argpick(select_prim):
    return np.argmax if select_prim == "ge" else np.argmin


def _select_and_gather_add(tangents, operand, *, select_prim, **params):
    fill = _lowest(operand.dtype) if select_prim == "ge" else _highest(operand.dtype)
    xw = _windows_of(operand, fill, **params)
    tw = _windows_of(tangents, np.zeros((), tangents.dtype), **params)
    out_shape = xw.shape[:operand.ndim]
    xf = xw.reshape(out_shape + (-1,))
    k = _argpick(select_prim)(xf, axis=-1)[..., None]
    return np.take_along_axis(tw.reshape(out_shape + (-1,)), k, -1)[..., 0]


def _select_and_scatter_add(source, operand, *, select_prim, window_dimensions, window_strides,
                            padding):
    nd = operand.ndim
    ones = (1,) * nd
    fill = _lowest(operand.dtype) if select_prim == "ge" else _highest(operand.dtype)
    xw = _windows_of(operand, fill, window_dimensions=window_dimensions,
                     window_strides=window_strides, padding=padding, base_dilation=ones,
                     window_dilation=ones)
    out_shape = source.shape
    k = _argpick(select_prim)(xw.reshape(out_shape + (-1,)), axis=-1)
    offsets = np.unravel_index(k, window_dimensions)
    grid = np.indices(out_shape, sparse=True) if nd else ()
    # padded coordinate of each selected element, back in the operand's coordinates
    coords = [grid[d] * window_strides[d] + offsets[d] - padding[d][0] for d in range(nd)]
    coords = [np.broadcast_to(c, out_shape) for c in coords]
    inside = np.ones(out_shape, bool)
    for d in range(nd):
        inside &= (coords[d] >= 0) & (coords[d] < operand.shape[d])
    lin = np.ravel_multi_index([c[inside] for c in coords], operand.shape)
    out = np.bincount(lin, weights=source[inside].astype(np.float64), minlength=operand.size)
    return out.reshape(operand.shape).astype(source.dtype)


def _reduce_window(*args, jaxpr, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation):
    from plax._src.backends.reference.impl_control_flow import plan
    n = len(args) // 2
    xs, inits = args[:n], args[n:]
    params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                  padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)
    views = [_windows_of(x, i, **params) for x, i in zip(xs, inits)]
    out_shape = views[0].shape[:xs[0].ndim]
    acc = [np.broadcast_to(i, out_shape).copy() for i in inits]
    # the computation is a scalar function of elementwise operations: it runs on all windows
    # at once, one window position at a time
    f = plan(jaxpr)
    for pos in np.ndindex(*window_dimensions):
        acc = [np.asarray(a) for a in f(acc + [v[(Ellipsis, *pos)] for v in views])]
    return [np.broadcast_to(a, out_shape).astype(x.dtype, copy=False)
            for a, x in zip(acc, xs)]


IMPLS = {
    wd.reduce_window_sum_p: _reducer(np.sum, _zero, widen=True),
    wd.reduce_window_max_p: _reducer(np.max, _lowest, widen=False),
    wd.reduce_window_min_p: _reducer(np.min, _highest, widen=False),
    wd.reduce_window_p: _reduce_window,
    wd.select_and_gather_add_p: _select_and_gather_add,
    wd.select_and_scatter_add_p: _select_and_scatter_add,
}
