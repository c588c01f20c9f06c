"""jax.lax operations that plax builds from its primitives: split, stack, unstack, tile,
broadcast_shapes, broadcast_like, empty, dtype, shape_as_value, index_take, clz, mulhi,
approx_max_k / approx_min_k (exact, as JAX on CPU), ragged_dot, optimization_barrier,
composite, platform_dependent, reduce_precision (on the bit pattern) and scatter_apply."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, get_aval
from plax._src.lax import elementwise as ew
from plax._src.lax import slicing, sorting, structural
from plax._src.lax._params import canonicalize_axis

__all__ = ["split", "stack", "unstack", "tile", "broadcast_shapes", "broadcast_like", "empty",
           "dtype", "shape_as_value", "index_take", "clz", "mulhi", "approx_max_k",
           "approx_min_k", "ragged_dot", "optimization_barrier", "composite",
           "platform_dependent", "reduce_precision", "scatter_apply"]


def _asarray(x):
    from plax import numpy as pnp
    return pnp.asarray(x)


def split(operand, sizes: Sequence[int], axis: int = 0) -> list:
    """Pieces of `operand` along `axis` of the given sizes (which must sum to its length)."""
    operand = _asarray(operand)
    axis = canonicalize_axis("split", axis, operand.ndim)
    sizes = [operator.index(s) for s in sizes]
    if any(s < 0 for s in sizes) or sum(sizes) != operand.shape[axis]:
        raise ValueError(f"Sum of sizes {sum(sizes)} must be equal to dimension {axis} of the "
                         f"operand shape {list(operand.shape)}")
    out, start = [], 0
    for s in sizes:
        out.append(structural.slice_in_dim(operand, start, start + s, axis=axis))
        start += s
    return out


def stack(operands: Sequence, axis: int = 0):
    """Join equally shaped arrays along a new axis."""
    operands = [_asarray(x) for x in operands]
    if not operands:
        raise ValueError("stack: need at least one operand")
    axis = canonicalize_axis("stack", axis, operands[0].ndim + 1)
    return structural.concatenate([structural.expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x, axis: int = 0) -> tuple:
    """The slices of `x` along `axis`, that axis removed."""
    x = _asarray(x)
    axis = canonicalize_axis("unstack", axis, x.ndim)
    return tuple(structural.squeeze(structural.slice_in_dim(x, i, i + 1, axis=axis), (axis,))
                 for i in range(x.shape[axis]))


def tile(operand, reps: Sequence[int]):
    """`operand` repeated reps[i] times along each axis i (len(reps) == operand.ndim)."""
    operand = _asarray(operand)
    reps = tuple(operator.index(r) for r in reps)
    if len(reps) != operand.ndim:
        raise ValueError(f"reps length must be equal to the ndim of x, got len(reps)="
                         f"{len(reps)} and x.ndim={operand.ndim}.")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    shape = [d for r, s in zip(reps, operand.shape) for d in (r, s)]
    dims = tuple(range(1, 2 * operand.ndim, 2))
    out = structural.broadcast_in_dim(operand, shape, dims)
    return structural.reshape(out, tuple(r * s for r, s in zip(reps, operand.shape)))


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    """The NumPy broadcast of `shapes` (a ValueError naming them when incompatible)."""
    from plax._src.numpy.util import broadcast_shapes as bs
    shapes = [tuple(s) for s in shapes]
    try:
        return bs(*shapes)
    except ValueError:
        raise ValueError(f"Incompatible shapes for broadcasting: shapes={shapes}") from None


def broadcast_like(arr, like_arr):
    """`arr` broadcast (NumPy's rules) to the shape of `like_arr`."""
    from plax import numpy as pnp
    return pnp.broadcast_to(arr, get_aval(like_arr).shape)


def empty(shape, dtype, *, out_sharding=None):
    """An array of `shape` and `dtype` whose contents the program must not read (zeros)."""
    if out_sharding is not None:
        raise NotImplementedError("empty: out_sharding is not supported")
    return structural.full(shape, 0, dtype)


def dtype(x) -> np.dtype:
    """The canonical dtype of an array, a scalar or a dtype-like (float64 is float32 unless
    x64 is on)."""
    return dtypes.canonicalize_dtype(dtypes.dtype(x))


def shape_as_value(shape):
    """A shape as an int32 vector (an empty one for a scalar shape)."""
    return np.asarray(tuple(shape), np.int32).reshape(len(tuple(shape)))


def index_take(src, idxs, axes: Sequence[int]):
    """src[idxs[0], idxs[1], ...] along `axes` (indices clamped into range): the indexed
    elements first, then src's other dimensions."""
    src = _asarray(src)
    axes = tuple(canonicalize_axis("index_take", a, src.ndim) for a in axes)
    idxs = [_asarray(i) for i in idxs]
    if len(idxs) != len(axes):
        raise ValueError(f"index_take: {len(idxs)} index arrays for {len(axes)} axes")
    indices = structural.concatenate([structural.expand_dims(i, (1,)) for i in idxs], 1)
    hi = np.asarray([src.shape[a] - 1 for a in axes], indices.dtype)
    indices = ew.clamp(np.zeros((), indices.dtype), indices,
                       structural.broadcast_in_dim(hi, indices.shape, (1,)))
    slice_sizes = tuple(1 if d in axes else n for d, n in enumerate(src.shape))
    dnums = slicing.GatherDimensionNumbers(
        offset_dims=tuple(range(1, src.ndim - len(axes) + 1)), collapsed_slice_dims=axes,
        start_index_map=axes)
    return slicing.gather(src, indices, dnums, slice_sizes)


def _check_int(name, *xs):
    for x in xs:
        dt = get_aval(x).dtype
        if not dtypes.is_int(dt):
            raise PlaxTypeError(f"{name} requires integer operands, got {dt}")


def _unsigned(dt):
    return np.dtype(f"uint{np.dtype(dt).itemsize * 8}")


def clz(x):
    """The number of leading zero bits of each integer."""
    x = _asarray(x)
    _check_int("clz", x)
    bits = x.dtype.itemsize * 8
    u = ew.bitcast_convert_type(x, _unsigned(x.dtype)) if dtypes.is_signed(x.dtype) else x
    shift = 1
    while shift < bits:  # smear the highest set bit downwards
        u = ew.bitwise_or(u, ew.shift_right_logical(u, np.asarray(shift, u.dtype)))
        shift *= 2
    count = ew.population_count(u)
    out = ew.sub(np.asarray(bits, u.dtype), count)
    return ew.convert_element_type(out, x.dtype)


def mulhi(x, y, /):
    """The high half of the double-width product of two integers of one dtype (signed
    operands as two's complement), by 16/8/4-bit limbs: no wider dtype needed."""
    x, y = _asarray(x), _asarray(y)
    _check_int("mulhi", x, y)
    if x.dtype != y.dtype:
        raise PlaxTypeError(f"mulhi requires operands of one dtype, got {x.dtype} and {y.dtype}")
    x, y = _bcast(x, y)
    signed = dtypes.is_signed(x.dtype)
    ut = _unsigned(x.dtype)
    ux = ew.bitcast_convert_type(x, ut) if signed else x
    uy = ew.bitcast_convert_type(y, ut) if signed else y
    half = ut.itemsize * 4
    mask, h = np.asarray((1 << half) - 1, ut), np.asarray(half, ut)
    a, b = ew.bitwise_and(ux, mask), ew.shift_right_logical(ux, h)
    c, d = ew.bitwise_and(uy, mask), ew.shift_right_logical(uy, h)
    t = ew.mul(a, c)
    m1 = ew.add(ew.mul(b, c), ew.shift_right_logical(t, h))
    m2 = ew.add(ew.mul(a, d), ew.bitwise_and(m1, mask))
    hi = ew.add(ew.add(ew.mul(b, d), ew.shift_right_logical(m1, h)),
                ew.shift_right_logical(m2, h))
    if not signed:
        return hi
    # two's complement: x y = ux uy - 2**w (uy [x < 0] + ux [y < 0]) mod 2**(2w)
    zero = structural.full_like(ux, 0)
    hi = ew.sub(hi, ew.select(ew.lt(x, np.zeros((), x.dtype)), uy, zero))
    hi = ew.sub(hi, ew.select(ew.lt(y, np.zeros((), y.dtype)), ux, zero))
    return ew.bitcast_convert_type(hi, x.dtype)


def _bcast(x, y):
    from plax import numpy as pnp
    return tuple(pnp.broadcast_arrays(x, y))


def _approx_k(operand, k, reduction_dimension, largest):
    operand = _asarray(operand)
    axis = canonicalize_axis("approx_max_k", reduction_dimension, operand.ndim)
    k = operator.index(k)
    if not 0 <= k <= operand.shape[axis]:
        raise ValueError(f"k must be in [0, {operand.shape[axis]}] (the size of reduction "
                         f"dimension {axis}), got {k}")
    from plax import numpy as pnp
    moved = pnp.moveaxis(operand, axis, -1)
    if largest:
        vals, idx = sorting.top_k(moved, k)
    else:
        order = pnp.argsort(moved, axis=-1, stable=True)[..., :k]
        vals, idx = pnp.take_along_axis(moved, order, axis=-1), order.astype(np.int32)
    return [pnp.moveaxis(vals, -1, axis), pnp.moveaxis(idx, -1, axis)]


def approx_max_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
    """The k largest values along `reduction_dimension` and their indices: exact (JAX's
    algorithm on CPU; recall_target does not apply)."""
    return _approx_k(operand, k, reduction_dimension, True)


def approx_min_k(operand, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True):
    """The k smallest values along `reduction_dimension` and their indices (exact)."""
    return _approx_k(operand, k, reduction_dimension, False)


def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
    """lhs [m, k] times rhs [g, k, n] where the rows of lhs come in g consecutive groups of
    group_sizes [g] rows, group i multiplied by rhs[i]; rows past the groups give 0."""
    from plax import numpy as pnp
    if group_offset is not None:
        raise NotImplementedError("ragged_dot: group_offset is not supported")
    lhs, rhs, group_sizes = _asarray(lhs), _asarray(rhs), _asarray(group_sizes)
    if lhs.ndim != 2 or rhs.ndim != 3 or group_sizes.ndim != 1:
        raise ValueError(f"ragged_dot expects lhs [m, k], rhs [g, k, n], group_sizes [g]; "
                         f"got {lhs.shape}, {rhs.shape}, {group_sizes.shape}")
    if lhs.shape[1] != rhs.shape[1] or rhs.shape[0] != group_sizes.shape[0]:
        raise ValueError(f"ragged_dot: shapes {lhs.shape}, {rhs.shape}, {group_sizes.shape} "
                         f"do not agree (lhs [m, k], rhs [g, k, n], group_sizes [g])")
    ends = pnp.cumsum(group_sizes)
    row = pnp.arange(lhs.shape[0])[None, :]
    mask = (row < ends[:, None]) & (row >= (ends - group_sizes)[:, None])
    masked = pnp.where(mask[:, :, None], lhs[None], pnp.zeros((), lhs.dtype))
    return pnp.einsum("gmk,gkn->mn", masked, rhs, precision=precision,
                      preferred_element_type=preferred_element_type)


def optimization_barrier(operand, /):
    """`operand` (a pytree) unchanged, through one `optimization_barrier_p` equation: the
    xla backend emits stablehlo.optimization_barrier, so XLA does not move computations
    across it (as JAX's)."""
    from plax._src.lax.staging import optimization_barrier_bind
    return optimization_barrier_bind(operand)


def composite(decomposition: Callable, name: str, version: int = 0):
    """Mark `decomposition` as the composite operation `name`: plax runs the decomposition
    (JAX emits a stablehlo.composite whose body it is)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"composite: name must be a non-empty string, got {name!r}")

    @functools.wraps(decomposition)
    def call(*args, **kwargs):
        return decomposition(*args, **kwargs)
    call.composite_name, call.composite_version = name, version
    return call


def platform_dependent(*args, default: Callable | None = None, **per_platform: Callable):
    """Call the function given for the platform of the default backend's devices ('cpu',
    'cuda', 'rocm', 'tpu'; the reference backend's are 'cpu'), or `default`."""
    platform = _platform()
    fun = per_platform.get(platform, default)
    if fun is None:
        raise NotImplementedError(f"platform_dependent: no function for platform {platform!r} "
                                  f"(given: {sorted(per_platform)}) and no default")
    return fun(*args)


def _platform() -> str:
    import plax
    return plax.devices(plax.default_backend())[0].platform


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """`operand` rounded to a float format with the given exponent and mantissa bits (and
    stored back in its own dtype), as XLA's ReducePrecision: the mantissa rounded to nearest
    even on the bit pattern, exponents beyond the format's range to signed infinity or zero;
    NaN stays NaN."""
    x = _asarray(operand)
    if not dtypes.is_float(x.dtype):
        raise PlaxTypeError(f"reduce_precision requires a floating operand, got {x.dtype}")
    exponent_bits, mantissa_bits = operator.index(exponent_bits), operator.index(mantissa_bits)
    if exponent_bits < 1 or mantissa_bits < 0:
        raise ValueError(f"reduce_precision: exponent_bits must be >= 1 and mantissa_bits >= "
                         f"0, got {exponent_bits} and {mantissa_bits}")
    info = dtypes.finfo(x.dtype)
    src_mant, nbits = int(info.nmant), x.dtype.itemsize * 8
    src_exp = nbits - 1 - src_mant
    ut = _unsigned(x.dtype)

    def k(v):
        return np.asarray(v & ((1 << nbits) - 1), ut)

    bits = ew.bitcast_convert_type(x, ut)
    if mantissa_bits < src_mant:
        shift = src_mant - mantissa_bits
        last = 1 << shift
        last_bit = ew.shift_right_logical(ew.bitwise_and(bits, k(last)), k(shift))
        bits = ew.add(bits, ew.add(last_bit, k((last >> 1) - 1)))
        bits = ew.bitwise_and(bits, k(~(last - 1)))
    if exponent_bits < src_exp:
        exp_mask = ((1 << src_exp) - 1) << src_mant
        bias, reduced_bias = (1 << (src_exp - 1)) - 1, (1 << (exponent_bits - 1)) - 1
        exponent = ew.bitwise_and(bits, k(exp_mask))
        overflow = ew.gt(exponent, k((bias + reduced_bias) << src_mant))
        underflow = ew.le(exponent, k((bias - reduced_bias) << src_mant))
        signed_zero = ew.bitwise_and(bits, k(1 << (nbits - 1)))
        signed_inf = ew.bitwise_or(signed_zero, k(exp_mask))
        bits = ew.select(overflow, signed_inf, ew.select(underflow, signed_zero, bits))
    out = ew.bitcast_convert_type(bits, x.dtype)
    return ew.select(ew.ne(x, x), x, out)  # NaN stays NaN (XLA's, whatever the bits)


def scatter_apply(operand, scatter_indices, func: Callable, dimension_numbers, *,
                  update_shape: Sequence[int] = (), indices_are_sorted: bool = False,
                  unique_indices: bool = False, mode=None):
    """`operand` with the elementwise `func` applied at the scattered positions, once per
    time each is hit (as XLA's scatter with the combiner (x, _) -> func(x)): the hits are
    counted by a scatter-add of ones, then func applied where the count is not yet reached.
    Not differentiable (as JAX's)."""
    from plax import numpy as pnp
    operand = _asarray(operand)
    ones = pnp.ones(tuple(update_shape), np.int32)
    counts = slicing.scatter_add(pnp.zeros(operand.shape, np.int32), scatter_indices, ones,
                                 dimension_numbers, indices_are_sorted=indices_are_sorted,
                                 unique_indices=unique_indices, mode=mode)

    def cond(carry):
        i, _ = carry
        return pnp.any(counts > i)

    def body(carry):
        i, x = carry
        return i + 1, pnp.where(counts > i, func(x), x)

    from plax._src.lax.control_flow import while_loop
    return while_loop(cond, body, (np.int32(0), operand))[1]
