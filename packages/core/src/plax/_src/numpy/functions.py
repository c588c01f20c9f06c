"""Higher-level plax.numpy functions written as compositions of other plax.numpy and lax
operations, following JAX's implementations: vectorize and apply_along_axis (built on vmap),
piecewise, interp, polyval, convolve/correlate, cov/corrcoef, gradient and histograms.
"""

from __future__ import annotations

import builtins
import functools
import operator
import re
from typing import Any, Callable

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.core import concrete_or_error
from plax._src.numpy import creation, logic, reductions, shape as shape_ops, sorting, ufuncs
from plax._src.numpy.util import (
    broadcast_shapes, canonicalize_axis, check_arraylike, ensure_array,
    promote_args_inexact, promote_dtypes, promote_dtypes_inexact, to_inexact)

__all__ = ["vectorize", "piecewise", "interp", "polyval", "convolve", "correlate", "cov",
           "corrcoef", "gradient", "apply_along_axis", "histogram", "histogram_bin_edges"]


def _vmap(*args, **kwargs):
    import plax
    return plax.vmap(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# vectorize, apply_along_axis, piecewise

_DIMENSION_NAME = r"\w+"
_CORE_DIMENSION_LIST = "(?:{0:}(?:,{0:})*)?".format(_DIMENSION_NAME)
_ARGUMENT = rf"\({_CORE_DIMENSION_LIST}\)"
_ARGUMENT_LIST = "{0:}(?:,{0:})*".format(_ARGUMENT)
_SIGNATURE = "^{0:}->{0:}$".format(_ARGUMENT_LIST)


def _parse_gufunc_signature(signature: str):
    if not re.match(_SIGNATURE, signature):
        raise ValueError(f"not a valid gufunc signature: {signature}")
    return ([tuple(re.findall(_DIMENSION_NAME, arg)) for arg in re.findall(_ARGUMENT, arg_list)]
            for arg_list in signature.split("->"))


def _update_dim_sizes(dim_sizes, shp, core_dims, error_context, *, is_input):
    n = len(core_dims)
    if is_input:
        if len(shp) < n:
            raise ValueError(f"input with shape {shp!r} does not have enough dimensions for all "
                             f"core dimensions {core_dims!r} {error_context}")
    elif len(shp) != n:
        raise ValueError(f"output shape {shp!r} does not match core dimensions {core_dims!r} "
                         f"{error_context}")
    core_shape = shp[-n:] if core_dims else ()
    for dim, size in zip(core_dims, core_shape):
        if dim not in dim_sizes:
            dim_sizes[dim] = size
        elif size != dim_sizes[dim]:
            raise ValueError(f"inconsistent size for core dimension {dim!r}: {size!r} vs "
                             f"{dim_sizes[dim]!r} {error_context}")


def _apply_excluded(func, excluded, args, kwargs):
    if not excluded:
        return func, args, kwargs
    dynamic_args = [a for i, a in enumerate(args) if i not in excluded]
    dynamic_kwargs = {k: v for k, v in kwargs.items() if k not in excluded}
    static_args = [(i, args[i]) for i in sorted(e for e in excluded if isinstance(e, int))
                   if i < len(args)]
    static_kwargs = {k: v for k, v in kwargs.items() if k in excluded}

    def new_func(*args, **kwargs):
        args = list(args)
        for i, arg in static_args:
            args.insert(i, arg)
        return func(*args, **kwargs, **static_kwargs)
    return new_func, dynamic_args, dynamic_kwargs


def vectorize(pyfunc: Callable, *, excluded=frozenset(), signature: str | None = None
              ) -> Callable:
    """NumPy's vectorize done as JAX does: the function is mapped with vmap over the
    broadcast leading (loop) dimensions, so it is traced once, not called per element.
    `excluded` names positional indices or keywords passed through unmapped; `signature` is a
    gufunc signature such as "(n),(n)->()" giving each argument's core dimensions. Keyword
    arguments that are not excluded are passed unmapped too."""
    if any(not isinstance(e, (str, int)) for e in excluded):
        raise TypeError("plax.numpy.vectorize can only exclude integer or string arguments, "
                        f"but excluded={excluded!r}")
    if any(isinstance(e, int) and e < 0 for e in excluded):
        raise ValueError(f"excluded={excluded!r} contains negative numbers")

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        error_context = (f"on vectorized function with excluded={excluded!r} and "
                         f"signature={signature!r}")
        excluded_func, args, kwargs = _apply_excluded(pyfunc, excluded, args, kwargs)
        if signature is not None:
            input_core_dims, output_core_dims = _parse_gufunc_signature(signature)
        else:
            input_core_dims, output_core_dims = [()] * len(args), None
        none_args = {i for i, a in enumerate(args) if a is None}
        if none_args:
            if any(input_core_dims[i] != () for i in none_args):
                raise ValueError(f"Cannot pass None at locations {none_args} with "
                                 f"signature={signature!r}")
            excluded_func, args, _ = _apply_excluded(excluded_func, none_args, args, {})
            input_core_dims = [d for i, d in enumerate(input_core_dims) if i not in none_args]
        args = tuple(creation.asarray(a) for a in args)
        if len(args) != len(input_core_dims):
            raise TypeError(f"wrong number of positional arguments: expected "
                            f"{len(input_core_dims)!r}, got {len(args)!r} {error_context}")
        dim_sizes: dict = {}
        noncore = []
        for arg, core_dims in zip(args, input_core_dims):
            _update_dim_sizes(dim_sizes, arg.shape, core_dims, error_context, is_input=True)
            noncore.append(arg.shape[:arg.ndim - len(core_dims)])
        broadcast_shape = broadcast_shapes(*noncore, fun_name="vectorize")

        if output_core_dims is None:
            checked_func = excluded_func
        else:
            def checked_func(*a):
                out = excluded_func(*a)
                outs = out if isinstance(out, tuple) else [out]
                if len(output_core_dims) > 1 and not isinstance(out, tuple):
                    raise TypeError("output must be a tuple when multiple outputs are "
                                    f"expected, got: {out!r}\n{error_context}")
                if len(outs) != len(output_core_dims):
                    raise TypeError(f"wrong number of output arguments: expected "
                                    f"{len(output_core_dims)!r}, got {len(outs)!r} "
                                    f"{error_context}")
                sizes = dict(dim_sizes)
                for o, core_dims in zip(outs, output_core_dims):
                    _update_dim_sizes(sizes, tuple(np.shape(o)), core_dims, error_context,
                                      is_input=False)
                return out

        squeezed_args, rev_filled_shapes = [], []
        for arg, nc in zip(args, noncore):
            filled = (1,) * (len(broadcast_shape) - len(nc)) + nc
            rev_filled_shapes.append(filled[::-1])
            squeezed_args.append(shape_ops.squeeze(
                arg, axis=tuple(i for i, s in enumerate(nc) if s == 1)))
        vectorized_func = checked_func
        dims_to_expand = []
        for negdim, axis_sizes in enumerate(zip(*rev_filled_shapes)):
            in_axes = tuple(None if size == 1 else 0 for size in axis_sizes)
            if all(a is None for a in in_axes):
                dims_to_expand.append(len(broadcast_shape) - 1 - negdim)
            else:
                vectorized_func = _vmap(vectorized_func, in_axes)
        result = vectorized_func(*squeezed_args)
        if not dims_to_expand:
            return result
        if isinstance(result, tuple):
            return tuple(shape_ops.expand_dims(r, tuple(dims_to_expand)) for r in result)
        return shape_ops.expand_dims(result, tuple(dims_to_expand))
    return wrapped


def apply_along_axis(func1d: Callable, axis: int, arr: Any, *args, **kwargs) -> Any:
    """func1d applied to the 1-D slices of `arr` along `axis`, through nested vmaps (as JAX);
    the dimensions func1d returns replace `axis` in the result."""
    check_arraylike("apply_along_axis", arr)
    num_dims = np.ndim(arr) if not hasattr(arr, "aval") else arr.ndim
    axis = canonicalize_axis(axis, num_dims, "apply_along_axis")

    def func(a):
        return func1d(a, *args, **kwargs)
    for i in range(1, num_dims - axis):
        func = _vmap(func, in_axes=i, out_axes=-1)
    for _ in range(axis):
        func = _vmap(func, in_axes=0, out_axes=0)
    return func(arr)


def piecewise(x: Any, condlist: Any, funclist: list, *args, **kw) -> Any:
    """Evaluate the piece of funclist whose condition holds (the last true one wins; with one
    more function than conditions, the extra one is the default, else the default is 0).
    Functions get the whole `x` (vectorized with lax.switch, as JAX), constants are used as
    they are; results are cast to x's dtype."""
    x = ensure_array(x, "piecewise")
    nc, nf = len(condlist), len(funclist)
    if nf == nc + 1:
        funclist = list(funclist[-1:]) + list(funclist[:-1])
    elif nf == nc:
        funclist = [0] + list(funclist)
    else:
        raise ValueError(f"with {nc} condition(s), either {nc} or {nc + 1} functions are "
                         f"expected; got {nf}")
    conds = creation.asarray(condlist, dtype=bool)
    indices = reductions.argmax(reductions.cumsum(shape_ops.concatenate(
        [creation.zeros_like(conds[:1]), conds], 0), 0), 0)
    dt = x.dtype

    def call(f):
        return lambda v: creation.asarray(f(v, *args, **kw)).astype(dt)

    def const(c):
        return lambda v: creation.array(c, dtype=dt)
    branches = [call(f) if callable(f) else const(f) for f in funclist]
    return vectorize(lax.switch, excluded=(1,))(indices, branches, x)


# ---------------------------------------------------------------------------------------------
# interp, polyval, convolve, correlate


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing). left/right give the
    values outside [xp[0], xp[-1]] (default fp[0]/fp[-1]; 'extrapolate' continues the end
    segments); with `period`, x and xp are taken modulo it."""
    check_arraylike("interp", x, xp, fp)
    if np.shape(xp) != np.shape(fp) or np.ndim(xp) != 1:
        raise ValueError("xp and fp must be one-dimensional arrays of equal size")
    x_arr, xp_arr = (ensure_array(a) for a in promote_dtypes_inexact(x, xp))
    fp_arr = ensure_array(promote_dtypes_inexact(fp)[0])
    extrapolate = []
    for name, val in (("left", left), ("right", right)):
        if isinstance(val, str) and val != "extrapolate":
            raise ValueError(f"the only valid string value of `{name}` is 'extrapolate', but "
                             f"got: {val!r}")
        extrapolate.append(isinstance(val, str))
    if dtypes.is_complex(x_arr.dtype):
        raise ValueError("interp: complex x values not supported.")
    if period is not None:
        if np.ndim(period) != 0:
            raise ValueError(f"period must be a scalar; got {period}")
        period = ufuncs.abs(period)
        x_arr = ufuncs.remainder(x_arr, period)
        xp_arr = ufuncs.remainder(xp_arr, period)
        xp_arr, fp_arr = lax.sort((xp_arr, fp_arr), num_keys=1)
        xp_arr = shape_ops.concatenate([ufuncs.subtract(xp_arr[-1:], period), xp_arr,
                                        ufuncs.add(xp_arr[:1], period)])
        fp_arr = shape_ops.concatenate([fp_arr[-1:], fp_arr, fp_arr[:1]])
    i = logic.clip(sorting.searchsorted(xp_arr, x_arr, side="right"), 1, xp_arr.shape[0] - 1)
    im1 = ufuncs.subtract(i, 1)
    df = ufuncs.subtract(fp_arr[i], fp_arr[im1])
    dx = ufuncs.subtract(xp_arr[i], xp_arr[im1])
    delta = ufuncs.subtract(x_arr, xp_arr[im1])
    eps = dtypes.finfo(xp_arr.dtype).eps
    try:
        epsilon = np.spacing(np.asarray(eps, xp_arr.dtype))
    except TypeError:  # no spacing ufunc loop for this dtype
        epsilon = np.spacing(np.float32(eps))
    dx0 = ufuncs.less_equal(ufuncs.abs(dx), float(epsilon))
    f = logic.where(dx0, fp_arr[im1], ufuncs.add(
        fp_arr[im1], ufuncs.multiply(ufuncs.divide(delta, logic.where(dx0, 1, dx)), df)))
    if not extrapolate[0] and period is None:
        f = logic.where(ufuncs.less(x_arr, xp_arr[0]), fp_arr[0] if left is None else left, f)
    if not extrapolate[1] and period is None:
        f = logic.where(ufuncs.greater(x_arr, xp_arr[-1]), fp_arr[-1] if right is None else right,
                        f)
    return f


def polyval(p: Any, x: Any, *, unroll: int = 16) -> Any:
    """The polynomial with coefficients p (highest power first) at x, by Horner's rule in a
    lax.scan over p's first axis. Arguments are promoted as usual (integers stay integers)."""
    check_arraylike("polyval", p, x)
    p_arr, x_arr = (ensure_array(a) for a in promote_dtypes(p, x))
    shp = broadcast_shapes(p_arr.shape[1:], x_arr.shape, fun_name="polyval")
    y = lax.full(shp, 0, x_arr.dtype)  # never weak (as JAX: full_like with a dtype)
    y, _ = lax.scan(lambda y, c: (ufuncs.add(ufuncs.multiply(y, x_arr), c), None), y, p_arr,
                    unroll=unroll)
    return y


def _conv(x, y, mode, op, precision, preferred_element_type):
    if np.ndim(x) != 1 or np.ndim(y) != 1:
        raise ValueError(f"{op}() only support 1-dimensional inputs.")
    if preferred_element_type is None:
        x, y = (ensure_array(a) for a in promote_dtypes_inexact(x, y))
    else:
        x, y = (ensure_array(a) for a in promote_dtypes(x, y))
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"{op}: inputs cannot be empty, got shapes {x.shape} and {y.shape}.")
    reverse = False
    if op == "correlate":
        y = ufuncs.conjugate(y)
        if x.shape[0] < y.shape[0]:
            x, y, reverse = y, x, True
    else:
        if x.shape[0] < y.shape[0]:
            x, y = y, x
        y = lax.rev(y, (0,))
    n, m = x.shape[0], y.shape[0]
    if mode == "valid":
        lo, hi = 0, 0
    elif mode == "same":
        lo, hi = m // 2, m - m // 2 - 1
    elif mode == "full":
        lo, hi = m - 1, m - 1
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    # one lax.conv_general_dilated (a cross-correlation) of shape (1, 1, n) by (1, 1, m)
    from plax._src.lax.convolution import conv_general_dilated
    out = conv_general_dilated(lax.reshape(x, (1, 1, n)), lax.reshape(y, (1, 1, m)), (1,),
                               [(lo, hi)], precision=precision,
                               preferred_element_type=preferred_element_type)
    out = lax.reshape(out, (out.shape[2],))
    return lax.rev(out, (0,)) if reverse else out


def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """Discrete linear convolution of 1-D a and v; mode 'full' (length n+m-1), 'same'
    (length max(n, m)) or 'valid' (length max(n, m) - min(n, m) + 1). Integer inputs become
    the default float unless preferred_element_type is given (as JAX)."""
    check_arraylike("convolve", a, v)
    return _conv(a, v, mode, "convolve", precision, preferred_element_type)


def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Cross-correlation of 1-D a and v (v conjugated), modes as for convolve; the default
    mode is 'valid' (as NumPy)."""
    check_arraylike("correlate", a, v)
    return _conv(a, v, mode, "correlate", precision, preferred_element_type)


# ---------------------------------------------------------------------------------------------
# cov, corrcoef


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None, dtype: Any = None) -> Any:
    """Covariance matrix of the variables (rows, or columns when rowvar=False) of m and y;
    normalized by N - 1 (N with bias=True, N - ddof when ddof is given); integer fweights and
    aweights weight the observations. A single variable gives a 0-d result."""
    if y is not None:
        m, y = (ensure_array(a) for a in promote_args_inexact("cov", m, y))
        if y.ndim > 2:
            raise ValueError("y has more than 2 dimensions")
    else:
        m = ensure_array(promote_args_inexact("cov", m)[0])
    if m.ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    if dtype is not None and not dtypes.is_inexact(np.dtype(dtype)):
        raise ValueError("cov: dtype must be a subclass of float or complex; got "
                         f"dtype={dtype!r}")
    X = shape_ops.atleast_2d(m)
    if not rowvar and m.ndim != 1:
        X = X.T
    if X.shape[0] == 0:
        return creation.zeros((0, 0), dtypes.default_float_dtype())
    if y is not None:
        y_arr = shape_ops.atleast_2d(y)
        if not rowvar and y_arr.shape[0] != 1:
            y_arr = y_arr.T
        X = shape_ops.concatenate((X, y_arr), axis=0)
    if X.shape[1] == 0:
        return creation.full(() if X.shape[0] == 1 else (X.shape[0], X.shape[0]), np.nan,
                             dtype=X.dtype)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w = None
    if fweights is not None:
        fweights = ensure_array(fweights, "cov")
        if fweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional fweights")
        if fweights.shape[0] != X.shape[1]:
            raise RuntimeError("incompatible numbers of samples and fweights")
        if not dtypes.is_int(fweights.dtype):
            raise TypeError("fweights must be integer.")
        w = ufuncs.abs(fweights)
    if aweights is not None:
        aweights = ensure_array(aweights, "cov")
        if aweights.ndim > 1:
            raise RuntimeError("cannot handle multidimensional aweights")
        if aweights.shape[0] != X.shape[1]:
            raise RuntimeError("incompatible numbers of samples and aweights")
        aweights = ufuncs.abs(aweights)
        w = aweights if w is None else ufuncs.multiply(w, aweights)
    if dtype is not None:
        X = X.astype(dtype)
        w = w.astype(dtype) if w is not None else w
    avg, w_sum = reductions.average(X, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        f = X.shape[1] - ddof
    elif ddof == 0:
        f = w_sum
    elif aweights is None:
        f = ufuncs.subtract(w_sum, ddof)
    else:
        f = ufuncs.subtract(w_sum, ufuncs.divide(
            ufuncs.multiply(ddof, reductions.sum(ufuncs.multiply(w, aweights))), w_sum))
    X = ufuncs.subtract(X, avg[:, None])
    X_T = X.T if w is None else ufuncs.multiply(X, w[None, :]).T
    from plax._src.numpy.linalg_ops import dot
    return shape_ops.squeeze(ufuncs.true_divide(dot(X, ufuncs.conjugate(X_T)), f))


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, dtype: Any = None) -> Any:
    """Pearson correlation coefficients: cov(x, y) normalized by the standard deviations and
    clipped to [-1, 1] (real and imaginary parts separately)."""
    check_arraylike("corrcoef", x)
    if dtype is not None and not dtypes.is_inexact(np.dtype(dtype)):
        raise ValueError("corrcoef: dtype must be a subclass of float or complex; got "
                         f"dtype={dtype!r}")
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return ufuncs.divide(c, c)
    d = shape_ops.diagonal(c)
    stddev = ufuncs.sqrt(ufuncs.real(d)).astype(c.dtype)
    c = ufuncs.divide(ufuncs.divide(c, stddev[:, None]), stddev[None, :])
    real_part = logic.clip(ufuncs.real(c), -1, 1)
    if dtypes.is_complex(c.dtype):
        return lax.complex(real_part, logic.clip(ufuncs.imag(c), -1, 1))
    return real_part


# ---------------------------------------------------------------------------------------------
# gradient


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int | None = None) -> Any:
    """Central differences in the interior and one-sided first differences at the edges
    (NumPy's edge_order=1), along each of `axis` (all by default); a list of arrays for
    several axes. Spacings are scalars or 1-D coordinate arrays, one for all axes or one per
    axis. JAX raises for any edge_order; plax accepts edge_order=1 (what is computed) and
    raises NotImplementedError for 2."""
    if edge_order is not None and edge_order != 1:
        raise NotImplementedError(f"gradient: edge_order={edge_order!r} is not supported; only "
                                  "edge_order=1 (one-sided first differences at the edges)")
    check_arraylike("gradient", f, *varargs)
    a, *spacing = (ensure_array(v) for v in promote_dtypes_inexact(f, *varargs))

    def along(a, h, ax):
        def sliced(arr, start, stop):
            n = arr.shape[ax]
            start = start % n if start is not None and start < 0 else (start or 0)
            stop = n if stop is None else (stop % n if stop < 0 else stop)
            return lax.slice_in_dim(arr, start, stop, axis=ax)
        upper = ufuncs.subtract(sliced(a, 1, 2), sliced(a, 0, 1))
        lower = ufuncs.subtract(sliced(a, -1, None), sliced(a, -2, -1))
        if h.ndim == 0:
            inner = ufuncs.divide(ufuncs.multiply(
                ufuncs.subtract(sliced(a, 2, None), sliced(a, None, -2)), 0.5), h)
            lower, upper = ufuncs.divide(lower, h), ufuncs.divide(upper, h)
        elif h.ndim == 1:
            if h.shape[0] != a.shape[ax]:
                raise ValueError("Spacing arrays must have the same length as the dimension "
                                 "along which the gradient is calculated.")
            h_shape = [1] * a.ndim
            h_shape[ax] = h.shape[0]
            h = lax.reshape(h, tuple(h_shape))
            upper = ufuncs.divide(upper, ufuncs.subtract(sliced(h, 1, 2), sliced(h, 0, 1)))
            lower = ufuncs.divide(lower, ufuncs.subtract(sliced(h, -1, None), sliced(h, -2, -1)))
            dx1 = ufuncs.subtract(sliced(h, 1, -1), sliced(h, 0, -2))
            dx2 = ufuncs.subtract(sliced(h, 2, None), sliced(h, 1, -1))
            s = ufuncs.add(dx1, dx2)
            ca = ufuncs.divide(ufuncs.negative(dx2), ufuncs.multiply(dx1, s))
            cb = ufuncs.divide(ufuncs.subtract(dx2, dx1), ufuncs.multiply(dx1, dx2))
            cc = ufuncs.divide(dx1, ufuncs.multiply(dx2, s))
            inner = ufuncs.add(ufuncs.add(ufuncs.multiply(ca, sliced(a, 0, -2)),
                                          ufuncs.multiply(cb, sliced(a, 1, -1))),
                               ufuncs.multiply(cc, sliced(a, 2, None)))
        else:
            raise ValueError("Spacing arrays must be 1D arrays or scalars.")
        return shape_ops.concatenate((upper, inner, lower), axis=ax)

    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = tuple(canonicalize_axis(i, a.ndim, "gradient")
                     for i in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if not axes:
        return []
    if builtins.min(s for i, s in enumerate(a.shape) if i in axes) < 2:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "2 elements are required.")
    if not spacing:
        dx = [ensure_array(creation.array(1.0, dtype=a.dtype))] * len(axes)
    elif len(spacing) == 1:
        dx = spacing * len(axes)
    elif len(spacing) == len(axes):
        dx = spacing
    else:
        raise TypeError(f"Invalid number of spacing arguments {len(spacing)} for axis={axis!r}")
    grads = [along(a, h, ax) for ax, h in zip(axes, dx)]
    return grads[0] if len(axes) == 1 else grads


# ---------------------------------------------------------------------------------------------
# histograms


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None,  # noqa: A002
                        weights: Any = None) -> Any:
    """The bin edges histogram uses: `bins` itself when it is an array, else bins + 1 evenly
    spaced edges over `range` (default [a.min(), a.max()], widened by 0.5 each way when
    empty). An int `bins` must be concrete."""
    del weights
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    check_arraylike("histogram_bin_edges", a, bins)
    arr = creation.asarray(a)
    dt = to_inexact(arr.dtype)
    if np.ndim(bins) == 1:
        return creation.asarray(bins, dtype=dt)
    bins_int = concrete_or_error(operator.index, bins, "bins argument of histogram_bin_edges")
    if range is None:
        range = [reductions.min(arr), reductions.max(arr)]  # noqa: A001
    range = creation.asarray(range, dtype=dt)  # noqa: A001
    if range.shape != (2,):
        raise ValueError(f"`range` must be either None or a sequence of scalars, got {range}")
    empty = ufuncs.equal(reductions.ptp(range), 0)
    lo = logic.where(empty, ufuncs.subtract(range[0], 0.5), range[0])
    hi = logic.where(empty, ufuncs.add(range[1], 0.5), range[1])
    return creation.linspace(lo, hi, bins_int + 1, dtype=dt)


def histogram(a: Any, bins: Any = 10, range: Any = None, weights: Any = None,  # noqa: A002
              density: bool | None = None) -> tuple:
    """(counts, bin_edges): the (weighted) number of values of `a` in each bin, the last bin
    closed on the right; values outside the edges are dropped. density=True divides by the
    bin widths and the total. An int `bins` must be concrete (static under jit)."""
    if weights is None:
        check_arraylike("histogram", a, bins)
        a = ensure_array(promote_dtypes_inexact(a)[0])
        weights = creation.ones_like(a)
    else:
        check_arraylike("histogram", a, bins, weights)
        if np.shape(a) != np.shape(weights):
            raise ValueError("weights should have the same shape as a.")
        a, weights = (ensure_array(v) for v in promote_dtypes_inexact(a, weights))
    bin_edges = histogram_bin_edges(a, bins, range, weights)
    n = bin_edges.shape[0]
    bin_idx = sorting.searchsorted(bin_edges, a, side="right")
    bin_idx = logic.where(ufuncs.equal(a, bin_edges[-1]), n - 1, bin_idx)
    counts = creation.zeros(n, weights.dtype).at[bin_idx].add(weights)[1:]
    if density:
        widths = reductions.diff(bin_edges)
        counts = ufuncs.divide(ufuncs.divide(counts, widths), reductions.sum(counts))
    return counts, bin_edges
