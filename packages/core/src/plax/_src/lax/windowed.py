"""Window reductions (as jax.lax's): reduce_window_{sum,max,min} and the generic reduce_window
over a user computation, with strides, padding, base (input) and window dilation; the max/min
pooling derivatives select_and_gather_add (jvp) and select_and_scatter_add (its transpose);
and associative_scan, the parallel prefix scan over pytrees."""

from __future__ import annotations

from typing import Callable

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.lax._params import canonicalize_axis, static_ints
from plax._src.lax.convolution import dilate_dim, padtype_to_pads
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_unflatten

__all__ = ["reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min",
           "select_and_scatter_add", "select_and_gather_add", "associative_scan",
           "reduce_window_shape_tuple", "reduce",
           "reduce_window_p", "reduce_window_sum_p", "reduce_window_max_p",
           "reduce_window_min_p", "select_and_scatter_add_p", "select_and_gather_add_p"]


def window_shape(op: str, shape, window_dimensions, window_strides, padding, base_dilation,
                 window_dilation) -> tuple[int, ...]:
    """The output shape of a window reduction (checking the params against `shape`)."""
    nd = len(shape)
    for what, v in (("window_dimensions", window_dimensions),
                    ("window_strides", window_strides), ("base_dilation", base_dilation),
                    ("window_dilation", window_dilation), ("padding", padding)):
        if len(v) != nd:
            raise PlaxTypeError(f"{op}: {what} must have one entry per operand dimension "
                                f"({nd}, shape {tuple(shape)}), got {tuple(v)}")
    for what, v in (("window_dimensions", window_dimensions),
                    ("window_strides", window_strides), ("base_dilation", base_dilation),
                    ("window_dilation", window_dilation)):
        if any(d < 1 for d in v):
            raise PlaxTypeError(f"{op}: {what} must be positive, got {tuple(v)}")
    out = []
    for d in range(nd):
        size = dilate_dim(shape[d], base_dilation[d]) + padding[d][0] + padding[d][1]
        win = dilate_dim(window_dimensions[d], window_dilation[d])
        if size < win:
            raise PlaxTypeError(f"{op}: the window ({win} with dilation) is larger than the "
                                f"padded operand ({size}) along dimension {d}; operand shape "
                                f"{tuple(shape)}, window {tuple(window_dimensions)}, padding "
                                f"{tuple(padding)}")
        out.append((size - win) // window_strides[d] + 1)
    return tuple(out)


_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


# ---------------------------------------------------------------------------------------------
# reduce_window_{sum,max,min}


def _monoid(name: str, **traits) -> Primitive:
    p = Primitive(name, **traits)

    def rule(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        if x.dtype == dtypes.bool_ and name == "reduce_window_sum":
            raise PlaxTypeError(f"{name} does not accept dtype bool")
        if dtypes.is_complex(x.dtype) and name != "reduce_window_sum":
            raise PlaxTypeError(f"{name} does not accept dtype {x.dtype.name}: complex values "
                                "are not ordered")
        shape = window_shape(name, x.shape, window_dimensions, window_strides, padding,
                             base_dilation, window_dilation)
        return ShapedArray(shape, x.dtype, x.weak_type)

    add_abstract_eval(p, rule)
    return p


reduce_window_sum_p = _monoid("reduce_window_sum", linear_in=(0,))
reduce_window_max_p = _monoid("reduce_window_max")
reduce_window_min_p = _monoid("reduce_window_min")


# ---------------------------------------------------------------------------------------------
# reduce_window: n operands and n scalar initial values, combined by a traced computation (a
# ClosedJaxpr over 2n scalars whose consts are concrete values)

reduce_window_p = Primitive("reduce_window", multiple_results=True)


def _generic_abstract(*args, jaxpr, window_dimensions, window_strides, padding, base_dilation,
                      window_dilation):
    n = len(args) // 2
    operands, inits = args[:n], args[n:]
    for x, i in zip(operands, inits):
        if i.shape != () or i.dtype != x.dtype:
            raise PlaxTypeError(f"reduce_window: each init value must be a scalar of its "
                                f"operand's dtype, got {i.str_short()} for an operand "
                                f"{x.str_short()}")
        if x.shape != operands[0].shape:
            raise PlaxTypeError(f"reduce_window: operands must have one shape, got "
                                f"{[o.shape for o in operands]}")
    shape = window_shape("reduce_window", operands[0].shape, window_dimensions,
                         window_strides, padding, base_dilation, window_dilation)
    return [ShapedArray(shape, x.dtype, False) for x in operands]


add_abstract_eval(reduce_window_p, _generic_abstract)


# ---------------------------------------------------------------------------------------------
# select_and_gather_add(tangents, operand): per window, the tangent where the operand is
# selected (its max for select_prim 'ge', min for 'le'); the jvp of reduce_window_max/min.
# select_and_scatter_add(source, operand): each source value added where the operand's window
# selects (the transpose of select_and_gather_add in its tangents); max-pool's gradient.

select_and_gather_add_p = Primitive("select_and_gather_add", linear_in=(0,))
select_and_scatter_add_p = Primitive("select_and_scatter_add", linear_in=(0,))

_SELECT = ("ge", "le")


def _check_select(op: str, select_prim, t, x):
    if select_prim not in _SELECT:
        raise PlaxTypeError(f"{op}: select_prim must be 'ge' or 'le', got {select_prim!r}")
    if t.dtype != x.dtype:
        raise PlaxTypeError(f"{op}: the values and the operand must have one dtype, got "
                            f"{t.dtype.name} and {x.dtype.name}")
    if dtypes.is_complex(x.dtype) or x.dtype == dtypes.bool_:
        raise PlaxTypeError(f"{op} does not accept dtype {x.dtype.name}")


def _gather_abstract(t, x, *, select_prim, window_dimensions, window_strides, padding,
                     base_dilation, window_dilation):
    _check_select("select_and_gather_add", select_prim, t, x)
    if t.shape != x.shape:
        raise PlaxTypeError(f"select_and_gather_add: tangents {t.shape} and operand {x.shape} "
                            "must have one shape")
    shape = window_shape("select_and_gather_add", x.shape, window_dimensions, window_strides,
                         padding, base_dilation, window_dilation)
    return ShapedArray(shape, t.dtype, t.weak_type)


def _scatter_abstract(source, x, *, select_prim, window_dimensions, window_strides, padding):
    _check_select("select_and_scatter_add", select_prim, source, x)
    ones = (1,) * x.ndim
    want = window_shape("select_and_scatter_add", x.shape, window_dimensions, window_strides,
                        padding, ones, ones)
    if source.shape != want:
        raise PlaxTypeError(f"select_and_scatter_add: source shape {source.shape} must be the "
                            f"window reduction's output shape {want} (operand {x.shape})")
    return ShapedArray(x.shape, source.dtype, source.weak_type)


add_abstract_eval(select_and_gather_add_p, _gather_abstract)
add_abstract_eval(select_and_scatter_add_p, _scatter_abstract)


# ---------------------------------------------------------------------------------------------
# User functions


def _window_params(op: str, shape, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation) -> dict:
    nd = len(shape)
    window_dimensions = static_ints(op, "window_dimensions", window_dimensions)
    window_strides = static_ints(op, "window_strides", window_strides)
    base_dilation = (1,) * nd if base_dilation is None else \
        static_ints(op, "base_dilation", base_dilation)
    window_dilation = (1,) * nd if window_dilation is None else \
        static_ints(op, "window_dilation", window_dilation)
    if isinstance(padding, str):
        if len(window_dimensions) != nd or len(window_dilation) != nd:
            raise TypeError(f"lax.{op}: window_dimensions {window_dimensions} must have one "
                            f"entry per operand dimension (shape {tuple(shape)})")
        win = [dilate_dim(w, d) for w, d in zip(window_dimensions, window_dilation)]
        padding = padtype_to_pads(shape, win, window_strides, padding)
    try:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"lax.{op}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or a "
                        f"sequence of (low, high) pairs, got {padding!r}") from None
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


def reduce_window_sum(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    p = _window_params("reduce_window_sum", get_aval(operand).shape, window_dimensions,
                       window_strides, padding, base_dilation, window_dilation)
    return reduce_window_sum_p.bind(operand, **p)


def reduce_window_max(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    p = _window_params("reduce_window_max", get_aval(operand).shape, window_dimensions,
                       window_strides, padding, base_dilation, window_dilation)
    return reduce_window_max_p.bind(operand, **p)


def reduce_window_min(operand, window_dimensions, window_strides, padding, base_dilation=None,
                      window_dilation=None):
    p = _window_params("reduce_window_min", get_aval(operand).shape, window_dimensions,
                       window_strides, padding, base_dilation, window_dilation)
    return reduce_window_min_p.bind(operand, **p)


def _identity(kind: str, dt):
    if kind == "add":
        return 0
    if dt == dtypes.bool_:
        return kind == "min"
    if dtypes.is_int(dt):
        info = np.iinfo(dt)
        return info.min if kind == "max" else info.max
    return -np.inf if kind == "max" else np.inf


def _monoid_of(computation, init, operand):
    """reduce_window_{sum,max,min}_p when `computation` is lax.add/max/min with a concrete
    identity as its init value (as JAX picks them), else None."""
    from plax._src.lax import elementwise as ew
    kinds = {ew.add: ("add", reduce_window_sum_p), ew.max: ("max", reduce_window_max_p),
             ew.min: ("min", reduce_window_min_p)}
    hit = kinds.get(computation)
    if hit is None:
        return None
    try:
        value = np.asarray(init)
    except Exception:  # noqa: BLE001 - a traced init value: not known to be the identity
        return None
    if value.shape != ():
        return None
    dt = get_aval(operand).dtype
    if value.item() != _identity(hit[0], dt):
        return None
    return hit[1]


def reduce_window(operand, init_value, computation: Callable, window_dimensions,
                  window_strides, padding, base_dilation=None, window_dilation=None):
    """Reduce every window of `operand` (a pytree of arrays, with a matching pytree of scalar
    `init_value`s) by `computation` (as jax.lax.reduce_window); add/max/min with their
    identity use the dedicated primitives."""
    flat, tree = tree_flatten(operand)
    inits, init_tree = tree_flatten(init_value)
    if tree != init_tree:
        raise TypeError(f"lax.reduce_window: operand {tree} and init_value {init_tree} must "
                        "have one tree structure")
    if not flat:
        raise TypeError("lax.reduce_window: operand has no arrays")
    p = _window_params("reduce_window", get_aval(flat[0]).shape, window_dimensions,
                       window_strides, padding, base_dilation, window_dilation)
    if len(flat) == 1:
        prim = _monoid_of(computation, inits[0], flat[0])
        if prim is not None:
            return tree_unflatten(tree, [prim.bind(flat[0], **p)])
    from plax._src.dispatch import asarray_value
    from plax._src.lax.elementwise import convert_element_type
    inits = [convert_element_type(i if hasattr(i, "aval") else asarray_value(i),
                                  get_aval(x).dtype) for i, x in zip(inits, flat)]
    closed = _trace_computation(computation, tree, [get_aval(x).dtype for x in flat])
    outs = reduce_window_p.bind(*flat, *inits, jaxpr=closed, **p)
    return tree_unflatten(tree, outs)


def _trace_computation(computation, tree, dts):
    """The ClosedJaxpr of computation(a, b) on scalars of dtypes `dts` (a and b of structure
    `tree`); values it closes over must be concrete (they become the jaxpr's consts)."""
    from plax._src.core import ClosedJaxpr, Tracer
    from plax._src.tracing import trace_to_jaxpr
    box = []

    def flat_fun(*leaves):
        a = tree_unflatten(tree, leaves[:len(dts)])
        b = tree_unflatten(tree, leaves[len(dts):])
        out, out_tree = tree_flatten(computation(a, b))
        box.append(out_tree)
        return out

    scalars = [ShapedArray((), dt) for dt in dts]
    jaxpr, consts, _ = trace_to_jaxpr(flat_fun, scalars * 2, name="reduce_window")
    if box[-1] != tree:
        raise TypeError(f"lax.reduce_window: computation must return the operand's structure "
                        f"{tree}, got {box[-1]}")
    if any(isinstance(c, Tracer) for c in consts):
        raise TypeError("lax.reduce_window: computation must not close over traced values "
                        "(pass them through the operands instead)")
    for o, dt in zip(jaxpr.outvars, dts):
        if o.aval.shape != () or o.aval.dtype != dt:
            raise TypeError(f"lax.reduce_window: computation must return scalars of the "
                            f"operands' dtypes {[d.name for d in dts]}, got "
                            f"{[v.aval.str_short() for v in jaxpr.outvars]}")
    return ClosedJaxpr(jaxpr, list(consts))


def select_and_scatter_add(source, operand, select_prim, window_dimensions, window_strides,
                           padding):
    """Add each element of `source` at the position its window of `operand` selects
    (select_prim lax.ge_p/'ge' for the max, lax.le_p/'le' for the min)."""
    p = _window_params("select_and_scatter_add", get_aval(operand).shape, window_dimensions,
                       window_strides, padding, None, None)
    del p["base_dilation"], p["window_dilation"]
    return select_and_scatter_add_p.bind(source, operand, select_prim=_select_name(select_prim),
                                         **p)


def select_and_gather_add(tangents, operand, select_prim, window_dimensions, window_strides,
                          padding, base_dilation=None, window_dilation=None):
    """Per window of `operand`, the element of `tangents` at the selected position."""
    p = _window_params("select_and_gather_add", get_aval(operand).shape, window_dimensions,
                       window_strides, padding, base_dilation, window_dilation)
    return select_and_gather_add_p.bind(tangents, operand,
                                        select_prim=_select_name(select_prim), **p)


def reduce(operands, init_values, computation: Callable, dimensions):
    """Reduce `operands` (a pytree of arrays of one shape, with a matching pytree of scalar
    `init_values`) over `dimensions` by `computation` (as jax.lax.reduce): add, mul, max, min
    and the bitwise ops with their identity use the reduce_* primitives; any other computation
    reduces one window spanning `dimensions`."""
    from plax._src.lax import elementwise as ew
    from plax._src.lax import reductions as rd
    from plax._src.lax.structural import reshape
    flat, tree = tree_flatten(operands)
    inits, init_tree = tree_flatten(init_values)
    if tree != init_tree:
        raise TypeError(f"lax.reduce: operands {tree} and init_values {init_tree} must have "
                        "one tree structure")
    if not flat:
        raise TypeError("lax.reduce: operands has no arrays")
    shape = get_aval(flat[0]).shape
    dims = tuple(canonicalize_axis("reduce", d, len(shape)) for d in dimensions)
    if len(set(dims)) != len(dims):
        raise ValueError(f"lax.reduce: dimensions must be unique, got {tuple(dimensions)}")
    if len(flat) == 1:
        dt = get_aval(flat[0]).dtype
        monoids = {ew.add: (0, rd.reduce_sum), ew.mul: (1, rd.reduce_prod),
                   ew.max: (_identity("max", dt), rd.reduce_max),
                   ew.min: (_identity("min", dt), rd.reduce_min)}
        if dt == dtypes.bool_ or dtypes.is_int(dt):
            monoids[ew.bitwise_or] = (0, rd.reduce_or)
            monoids[ew.bitwise_and] = (True if dt == dtypes.bool_ else -1, rd.reduce_and)
            monoids[ew.bitwise_xor] = (0, rd.reduce_xor)
        hit = monoids.get(computation)
        if hit is not None:
            try:
                known = np.asarray(inits[0])
            except Exception:  # noqa: BLE001 - a traced init value
                known = None
            if known is not None and known.shape == () and known.item() == hit[0]:
                return tree_unflatten(tree, [hit[1](flat[0], dims)])
    window = tuple(shape[d] if d in dims else 1 for d in range(len(shape)))
    outs = tree_flatten(reduce_window(tree_unflatten(tree, flat), init_values, computation,
                                      window, (1,) * len(shape), "VALID"))[0]
    kept = tuple(n for d, n in enumerate(shape) if d not in dims)
    return tree_unflatten(tree, [reshape(o, kept) for o in outs])


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None) -> tuple[int, ...]:
    """The output shape of a window reduction (as jax.lax's)."""
    nd = len(operand_shape)
    return window_shape("reduce_window", tuple(operand_shape), tuple(window_dimensions),
                        tuple(window_strides), tuple(map(tuple, padding)),
                        (1,) * nd if base_dilation is None else tuple(base_dilation),
                        (1,) * nd if window_dilation is None else tuple(window_dilation))


def _select_name(select_prim) -> str:
    name = getattr(select_prim, "name", select_prim)
    if name not in _SELECT:
        raise ValueError(f"select_prim must be lax.ge_p or lax.le_p ('ge' or 'le'), got "
                         f"{select_prim!r}")
    return name


# ---------------------------------------------------------------------------------------------
# associative_scan


def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
    """Inclusive scan of the pytree `elems` along `axis` by the associative `fn(a, b)` (as
    jax.lax.associative_scan), in O(log n) rounds: combine neighbouring pairs, scan the
    half-length result, then fill in the elements between."""
    from plax._src.lax.slice_ops import slice_in_dim
    from plax._src.lax.structural import concatenate, rev
    flat, tree = tree_flatten(elems)
    if not flat:
        return elems
    nd = get_aval(flat[0]).ndim
    axis = canonicalize_axis("associative_scan", axis, nd)
    n = get_aval(flat[0]).shape[axis]
    if any(get_aval(e).shape[axis] != n for e in flat[1:]):
        raise ValueError(f"lax.associative_scan: every array of elems must have the same size "
                         f"along axis {axis}, got {[get_aval(e).shape for e in flat]}")
    if reverse:
        flat = [rev(e, (axis,)) for e in flat]

    def combine(a, b):
        out, out_tree = tree_flatten(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        if out_tree != tree:
            raise TypeError(f"lax.associative_scan: fn must return the structure of elems "
                            f"{tree}, got {out_tree}")
        return out

    def sl(e, start, stop, stride=1):
        return slice_in_dim(e, start, stop, stride=stride, axis=axis)

    def scan(es):
        m = get_aval(es[0]).shape[axis]
        if m < 2:
            return es
        odd = scan(combine([sl(e, 0, m - 1, 2) for e in es], [sl(e, 1, m, 2) for e in es]))
        rest = [sl(e, 2, m, 2) for e in es]
        prev = odd if m % 2 else [sl(e, 0, get_aval(e).shape[axis] - 1) for e in odd]
        even = combine(prev, rest) if m > 2 else [sl(e, 0, 0) for e in es]
        even = [concatenate([sl(e, 0, 1), r], axis) for e, r in zip(es, even)]
        return [_interleave(a, b, axis, m) for a, b in zip(even, odd)]

    out = scan(flat)
    if reverse:
        out = [rev(e, (axis,)) for e in out]
    return tree_unflatten(tree, out)


def _interleave(even, odd, axis: int, n: int):
    """even[0], odd[0], even[1], odd[1], ... (n elements) along `axis`."""
    from plax._src.lax.slice_ops import slice_in_dim
    from plax._src.lax.structural import concatenate, reshape
    sh = get_aval(even).shape
    m = sh[axis]
    if get_aval(odd).shape[axis] < m:  # pad odd with any element; it is sliced off below
        odd = concatenate([odd, slice_in_dim(even, 0, 1, axis=axis)], axis)
    split = sh[:axis + 1] + (1,) + sh[axis + 1:]
    pair = concatenate([reshape(even, split), reshape(odd, split)], axis + 1)
    merged = reshape(pair, sh[:axis] + (2 * m,) + sh[axis + 1:])
    return slice_in_dim(merged, 0, n, axis=axis)
