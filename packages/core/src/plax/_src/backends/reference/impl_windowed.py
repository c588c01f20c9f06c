"""NumPy implementations of the window reductions: pad (and dilate) the operand with the
reduction's identity, view its windows through strides (no copies), and reduce over the window
axes; the pooling derivatives select in each window as JAX does on CPUs and GPUs (XLA's select
computation applied element by element in window order; select_and_scatter_add's padding is
the lowest/highest value and can be selected, select_and_gather_add skips it)."""

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


def _keeps(select_prim):
    """select(selected, candidate): the selection stays unless this holds."""
    return np.greater_equal if select_prim == "ge" else np.less_equal


def _select_and_gather_add(tangents, operand, *, select_prim, **params):
    """XLA's reduce_window over (operand, tangent) pairs: from (lowest, 0) ('ge'; highest for
    'le'), each operand element of the window in order replaces the pair unless
    select(pair, element) holds (so a NaN is taken and then given up to the next element, and
    a window of lowest values keeps the tangent 0); padding and dilation holes are skipped."""
    fill = _lowest(operand.dtype) if select_prim == "ge" else _highest(operand.dtype)
    xw = _windows_of(operand, fill, **params)
    tw = _windows_of(tangents, np.zeros((), tangents.dtype), **params)
    ok = _windows_of(np.ones(operand.shape, bool), False, **params)
    nd = operand.ndim
    out_shape = xw.shape[:nd]
    best = np.full(out_shape, fill, operand.dtype)
    out = np.zeros(out_shape, tangents.dtype)
    keeps = _keeps(select_prim)
    with np.errstate(invalid="ignore"):
        for pos in np.ndindex(*xw.shape[nd:]):
            at = (Ellipsis, *pos)
            take = ok[at] & ~keeps(best, xw[at])
            best = np.where(take, xw[at], best)
            out = np.where(take, tw[at], out)
    return out


def _select_and_scatter_add(source, operand, *, select_prim, window_dimensions, window_strides,
                            padding):
    """JAX's select_and_scatter_add on CPUs and GPUs: the operand padded with the lowest
    ('ge'; highest for 'le') value, then XLA's select_and_scatter: in each window the first
    element is selected, and each later one in order replaces it unless select(selected,
    element) holds; the source value is added at the selection (dropped when that is
    padding)."""
    nd = operand.ndim
    if nd == 0:
        return np.array(source, copy=True)
    ones = (1,) * nd
    fill = _lowest(operand.dtype) if select_prim == "ge" else _highest(operand.dtype)
    xw = _windows_of(operand, fill, window_dimensions=window_dimensions,
                     window_strides=window_strides, padding=padding, base_dilation=ones,
                     window_dilation=ones)
    out_shape = source.shape
    best = np.full(out_shape, fill, operand.dtype)
    k = np.full(out_shape, -1, np.int64)  # the selected position in the window
    keeps = _keeps(select_prim)
    with np.errstate(invalid="ignore"):
        for i, pos in enumerate(np.ndindex(*window_dimensions)):
            v = xw[(Ellipsis, *pos)]
            take = (k < 0) | ~keeps(best, v)
            best = np.where(take, v, best)
            k = np.where(take, i, k)
    offsets = np.unravel_index(np.maximum(k, 0), window_dimensions)
    grid = np.indices(out_shape, sparse=True)
    # padded coordinate of each selected element, back in the operand's coordinates
    coords = [np.broadcast_to(grid[d] * window_strides[d] + offsets[d] - padding[d][0],
                              out_shape) for d in range(nd)]
    inside = k >= 0
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
