"""jax.lax operations that plax builds from its primitives: split, stack, unstack, tile,
broadcast_shapes, broadcast_like, empty, dtype, shape_as_value, index_take, clz, mulhi,
approx_max_k / approx_min_k (exact, as JAX on CPU), ragged_dot and ragged_dot_general (JAX's
CPU lowering: the ragged operand expanded to one masked copy per group, then one dot_general),
scaled_dot (JAX's decomposition: operands times their block scales in bfloat16, then
dot_general), optimization_barrier,
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
from plax._src.records import FrozenRecord

__all__ = ["split", "stack", "unstack", "tile", "broadcast_shapes", "broadcast_like", "empty",
           "dtype", "shape_as_value", "index_take", "clz", "mulhi", "approx_max_k",
           "approx_min_k", "ragged_dot", "ragged_dot_general", "RaggedDotDimensionNumbers",
           "scaled_dot", "optimization_barrier", "composite",
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


class RaggedDotDimensionNumbers(FrozenRecord):
    """Dot, lhs ragged and rhs group dimensions of ragged_dot_general (as
    jax.lax.RaggedDotDimensionNumbers): dot_dimension_numbers is ((lhs_contracting,
    rhs_contracting), (lhs_batch, rhs_batch))."""
    dot_dimension_numbers: tuple
    lhs_ragged_dimensions: tuple
    rhs_group_dimensions: tuple

    def __init__(self, dot_dimension_numbers, lhs_ragged_dimensions, rhs_group_dimensions):
        object.__setattr__(self, "dot_dimension_numbers",
                           tuple(tuple(map(tuple, t)) for t in dot_dimension_numbers))
        object.__setattr__(self, "lhs_ragged_dimensions", tuple(lhs_ragged_dimensions))
        object.__setattr__(self, "rhs_group_dimensions", tuple(rhs_group_dimensions))


_BASIC_RAGGED = RaggedDotDimensionNumbers((([1], [1]), ([], [])), [0], [0])


def ragged_dot(lhs, rhs, group_sizes, precision=None, preferred_element_type=None,
               group_offset=None, out_sharding=None):
    """lhs [m, k] times rhs [g, k, n] where the rows of lhs come in g consecutive groups of
    group_sizes [g] rows, group i multiplied by rhs[i]; rows past the groups give 0."""
    lhs, rhs, group_sizes = _asarray(lhs), _asarray(rhs), _asarray(group_sizes)
    if lhs.ndim != 2 or rhs.ndim != 3 or group_sizes.ndim != 1:
        raise ValueError(f"ragged_dot expects lhs [m, k], rhs [g, k, n], group_sizes [g]; "
                         f"got {lhs.shape}, {rhs.shape}, {group_sizes.shape}")
    if lhs.shape[1] != rhs.shape[1] or rhs.shape[0] != group_sizes.shape[0]:
        raise ValueError(f"ragged_dot: shapes {lhs.shape}, {rhs.shape}, {group_sizes.shape} "
                         f"do not agree (lhs [m, k], rhs [g, k, n], group_sizes [g])")
    return ragged_dot_general(lhs, rhs, group_sizes, _BASIC_RAGGED, precision=precision,
                              preferred_element_type=preferred_element_type,
                              group_offset=group_offset, out_sharding=out_sharding)


def _ragged_mode(ndim: int, dn: RaggedDotDimensionNumbers):
    (lc, _), (lb, _) = dn.dot_dimension_numbers
    dim = dn.lhs_ragged_dimensions[0]
    if not 0 <= dim < ndim:
        raise TypeError(f"ragged_dot_general requires lhs ragged dimension numbers to be "
                        f"nonnegative and less than the number of axes of the lhs value, got "
                        f"{dim} for lhs of rank {ndim}.")
    if dim in lc:
        return "contracting", dim
    if dim in lb:
        return "batch", dim
    return "noncontracting", dim


def _ragged_prefix(mode: str, ndim: int, dim: int, batch, contract) -> list[int]:
    """The dimensions of an operand group_sizes [b..., x..., g] runs over, in its order."""
    batch, contract = list(batch), list(contract)
    free = [d for d in range(ndim) if d not in batch and d not in contract]
    if mode == "noncontracting":
        return batch + free[:free.index(dim)]
    if mode == "contracting":
        return batch + contract[:contract.index(dim)]
    return batch[:batch.index(dim)]


def _ragged_to_dense(x, gs, dim: int, prefix: list[int]):
    """[g, *x.shape]: copy i of x keeps, along `dim`, only the rows of group i (rows
    [start_i, end_i) from the cumulative group sizes), which may differ along the `prefix`
    dimensions of x (gs is [*prefix sizes, g])."""
    from plax import numpy as pnp
    g = gs.shape[-1]
    ends = pnp.cumsum(gs, axis=-1)
    starts = ends - gs
    # group axis first, the prefix axes in x's order, size-1 axes elsewhere
    order = [len(prefix)] + [prefix.index(d) for d in sorted(prefix)]
    shape = [g] + [x.shape[d] if d in prefix else 1 for d in range(x.ndim)]
    starts = pnp.reshape(pnp.transpose(starts, order), shape)
    ends = pnp.reshape(pnp.transpose(ends, order), shape)
    iota = pnp.reshape(pnp.arange(x.shape[dim], dtype=gs.dtype),
                       [1] + [x.shape[dim] if d == dim else 1 for d in range(x.ndim)])
    mask = (starts <= iota) & (iota < ends)
    return pnp.where(mask, x[None], pnp.zeros((), x.dtype))


def ragged_dot_general(lhs, rhs, group_sizes, ragged_dot_dimension_numbers,
                       precision=None, preferred_element_type=None, group_offset=None,
                       out_sharding=None):
    """Ragged matrix multiplication (as jax.lax.ragged_dot_general): lhs has one ragged
    dimension whose rows come in groups of group_sizes ([g], or [b..., x..., g] per outer
    dimension). Ragged along a free dimension of lhs, group i meets rhs's slice i along its
    group dimension; along a contracting dimension, the result gets a leading group
    dimension (one partial product per group); along a batch dimension it is dot_general."""
    from plax import numpy as pnp
    from plax._src.lax.linalg import dot_general
    dn = ragged_dot_dimension_numbers
    if not isinstance(dn, RaggedDotDimensionNumbers):
        raise TypeError(f"ragged_dot_general: ragged_dot_dimension_numbers must be a "
                        f"lax.RaggedDotDimensionNumbers, got {dn!r}")
    if group_offset is not None:
        raise NotImplementedError("Unimplemented group_offset support.")
    lhs, rhs, group_sizes = _asarray(lhs), _asarray(rhs), _asarray(group_sizes)
    if not dtypes.is_int(group_sizes.dtype):
        raise TypeError("ragged_dot_general requires that group_sizes.dtype is subtype of "
                        "np.integer.")
    if len(dn.lhs_ragged_dimensions) != 1:
        raise TypeError("ragged_dot_general expects exactly one lhs ragged dimension.")
    mode, dim = _ragged_mode(lhs.ndim, dn)
    (lc, rc), (lb, rb) = dn.dot_dimension_numbers
    prefix = _ragged_prefix(mode, lhs.ndim, dim, lb, lc)
    if group_sizes.ndim == 0:
        raise TypeError("expected rank of group_sizes to be >=1.")
    expected = tuple(lhs.shape[i] for i in prefix) + (group_sizes.shape[-1],)
    if group_sizes.ndim == 1:
        group_sizes = pnp.broadcast_to(group_sizes, expected)
    elif group_sizes.shape != expected:
        raise TypeError(f"expected group_sizes to have shape {expected}, got "
                        f"{group_sizes.shape}.")
    g = group_sizes.shape[-1]
    groups = dn.rhs_group_dimensions
    if mode in ("contracting", "batch") and groups:
        raise TypeError("ragged_dot_general requires zero group dimensions in the rhs when "
                        "lhs ragged dimension is contracting or batch.")
    if mode == "noncontracting":
        if len(groups) != 1:
            raise TypeError("ragged_dot_general requires exactly one rhs group dimension when "
                            "lhs ragged dimension is noncontracting.")
        rg = groups[0]
        if not 0 <= rg < rhs.ndim:
            raise TypeError(f"ragged_dot_general requires rhs group dimension numbers to be "
                            f"nonnegative and less than the number of axes of the rhs value, "
                            f"got {rg} for rhs of rank {rhs.ndim}.")
        if rg in rb or rg in rc:
            raise TypeError("ragged_dot_general requires rhs group dimension numbers to be "
                            "distinct from contracting and batch dimensions.")
        if rhs.shape[rg] != g:
            raise TypeError(f"expected rhs group dimension size to be {g}, got "
                            f"{rhs.shape[rg]}.")
    dot = functools.partial(dot_general, precision=precision,
                            preferred_element_type=preferred_element_type)
    inc = lambda dims: [d + 1 for d in dims]  # noqa: E731
    if mode == "noncontracting":
        dense = _ragged_to_dense(lhs, group_sizes, dim, prefix)
        return dot(dense, rhs, ((inc(lc) + [0], list(rc) + [groups[0]]), (inc(lb), list(rb))))
    if mode == "contracting":
        rdim = rc[list(lc).index(dim)]
        rprefix = _ragged_prefix(mode, rhs.ndim, rdim, rb, rc)
        return dot(_ragged_to_dense(lhs, group_sizes, dim, prefix),
                   _ragged_to_dense(rhs, group_sizes, rdim, rprefix),
                   ((inc(lc), inc(rc)), ([0] + inc(lb), [0] + inc(rb))))
    return dot(lhs, rhs, dn.dot_dimension_numbers)


def narrow_float_operand(x, to):
    """A host array of one of the 8- and 4-bit float types (ml_dtypes: float8_*, float4_*,
    which plax arrays do not hold) converted on the host to `to` (exact for bfloat16 and
    wider: every value of those types is one of bfloat16's); other values unchanged."""
    dt = getattr(x, "dtype", None)
    if isinstance(x, (np.ndarray, np.generic)) and dt is not None \
            and dt.name.startswith(("float8_", "float4_")):
        return np.asarray(x).astype(to)
    return x


def _scale_broadcast(scale, shape, contracting):
    """`scale` repeated along each contracting dimension up to the operand's size (each
    scale covers a block of consecutive entries)."""
    from plax import numpy as pnp
    for d in contracting:
        if scale.shape[d] != shape[d]:
            scale = pnp.repeat(scale, shape[d] // scale.shape[d], axis=d)
    return scale


def _check_scale(side: str, operand, scale, contracting) -> None:
    for i, size in enumerate(operand.shape):
        if i in contracting:
            if size % scale.shape[i] != 0:
                raise TypeError(f"{side} contracting dim {i} of size {size} must be divisible "
                                f"by its scale's dim size {scale.shape[i]}.")
            if size // scale.shape[i] < 2:
                raise TypeError(f"The ratio of {side} contracting dim {i} to its scale's dim "
                                f"size ({size // scale.shape[i]}) must be at least 2.")
        elif scale.shape[i] != size:
            raise TypeError(f"{side} dim {i} of size {size} does not match scale dim size "
                            f"{scale.shape[i]}.")


def scaled_dot(lhs, rhs, *, lhs_scale=None, rhs_scale=None, dimension_numbers=None,
               preferred_element_type=None):
    """(lhs * lhs_scale) @ (rhs * rhs_scale) as dot_general with `dimension_numbers` (as
    jax.lax.scaled_dot): each scale entry covers a block of at least 2 consecutive entries
    along the contracting dimensions. Computed as JAX's decomposition: operands and scales in
    bfloat16, the products, one dot_general into preferred_element_type (bfloat16 by
    default). The microscaling types (float8_e4m3fn data, float8_e8m0fnu scales, ...) are
    accepted as host arrays and widened exactly to bfloat16 (plax arrays do not hold them)."""
    from plax import numpy as pnp
    from plax._src.lax.linalg import _normalize_dimension_numbers, dot_general
    bf16 = dtypes.bfloat16
    lhs, rhs = (_asarray(narrow_float_operand(x, bf16)) for x in (lhs, rhs))
    if dimension_numbers is None:
        if lhs.ndim < 2:
            raise TypeError("scaled_dot does not support 0-rank and 1-rank operands.")
        n = lhs.ndim
        dimension_numbers = (((n - 1,), (n - 2,)), (tuple(range(n - 2)), tuple(range(n - 2))))
    dimension_numbers = _normalize_dimension_numbers(dimension_numbers)
    (lc, rc), (lb, rb) = dimension_numbers

    def scale_or_ones(scale, x, contract):
        if scale is None:
            return pnp.ones([1 if d in contract else s for d, s in enumerate(x.shape)], bf16)
        return _asarray(narrow_float_operand(scale, bf16))
    lhs_scale = scale_or_ones(lhs_scale, lhs, lc)
    rhs_scale = scale_or_ones(rhs_scale, rhs, rc)
    if len({lhs.ndim, rhs.ndim, lhs_scale.ndim, rhs_scale.ndim}) != 1:
        raise TypeError(f"All input tensors must have the same rank. Got lhs rank: {lhs.ndim} "
                        f"rhs rank: {rhs.ndim} lhs_scale rank: {lhs_scale.ndim} rhs_scale "
                        f"rank: {rhs_scale.ndim}.")
    if len(lb) != len(rb):
        raise TypeError(f"LHS and RHS must have the same number of batch dimensions, got "
                        f"{len(lb)} and {len(rb)}.")
    if len(lc) != len(rc):
        raise TypeError(f"LHS and RHS must have the same number of contracting dimensions, "
                        f"got {len(lc)} and {len(rc)}.")
    for i, j in zip(lb, rb):
        if len({lhs.shape[i], rhs.shape[j], lhs_scale.shape[i], rhs_scale.shape[j]}) != 1:
            raise TypeError(f"All input tensors must have the same batch dimension size for "
                            f"batch dims ({i}, {j}).")
    for i, j in zip(lc, rc):
        if lhs.shape[i] != rhs.shape[j]:
            raise TypeError(f"LHS contracting dim {i} of size {lhs.shape[i]} does not match "
                            f"RHS contracting dim {j} of size {rhs.shape[j]}.")
    _check_scale("LHS", lhs, lhs_scale, lc)
    _check_scale("RHS", rhs, rhs_scale, rc)
    out = bf16 if preferred_element_type is None else \
        dtypes.canonicalize_dtype(preferred_element_type)

    def scaled(x, scale, contract):
        # the bfloat16 product, formed exactly in float32 and rounded once to bfloat16 by
        # reduce_precision: XLA CPU would fold a bfloat16 multiply's rounding away into the
        # float32 dot that follows (convert pairs are simplified), JAX's program keeps it
        f32 = dtypes.float32
        prod = (x.astype(bf16).astype(f32)
                * _scale_broadcast(scale, x.shape, contract).astype(bf16).astype(f32))
        return reduce_precision(prod, exponent_bits=8, mantissa_bits=7).astype(bf16)
    return dot_general(scaled(lhs, lhs_scale, lc), scaled(rhs, rhs_scale, rc),
                       dimension_numbers, preferred_element_type=out)


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
