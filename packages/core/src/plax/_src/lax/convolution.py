"""Convolution: the `conv_general_dilated` primitive (as jax.lax's: dimension numbers, strides,
padding, lhs/rhs dilation, feature and batch groups, precision, preferred element type) and
its user functions conv, conv_with_general_padding, conv_transpose, conv_dimension_numbers
and conv_general_dilated_patches."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.lax._params import check_no_sharding, static_int, static_ints
from plax._src.lax.linalg import canonicalize_precision_pair as canonicalize_precision
from plax._src.registry import add_abstract_eval

__all__ = ["ConvDimensionNumbers", "ConvGeneralDilatedDimensionNumbers",
           "conv_dimension_numbers", "conv_general_permutations", "conv_general_dilated",
           "conv", "conv_with_general_padding", "conv_transpose", "conv_general_dilated_patches",
           "conv_general_dilated_local", "padtype_to_pads", "conv_shape_tuple",
           "conv_general_shape_tuple", "conv_transpose_shape_tuple", "conv_general_dilated_p"]


class ConvDimensionNumbers(NamedTuple):
    """Where the dimensions of a convolution are (as jax.lax.ConvDimensionNumbers): each spec
    lists (batch, feature, spatial...) dimensions of lhs and out, and (out feature, in feature,
    spatial...) dimensions of rhs."""
    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


# what jax.lax's type hints call the accepted forms: None, three strings, or the named tuple
ConvGeneralDilatedDimensionNumbers = Any


def conv_general_permutations(dimension_numbers) -> tuple[tuple[int, ...], ...]:
    """The (lhs, rhs, out) specs of string dimension numbers such as ('NHWC', 'HWIO', 'NHWC');
    spatial dimensions are numbered in the order rhs lists them."""
    lhs_s, rhs_s, out_s = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for i, (a, b) in enumerate(pairs):
        spec = dimension_numbers[i]
        if spec.count(a) != 1 or spec.count(b) != 1:
            raise TypeError(f"conv_general_dilated: dimension_numbers[{i}] must contain "
                            f"exactly one '{a}' and one '{b}', got {spec!r}")
        if len(spec) != len(set(spec)):
            raise TypeError(f"conv_general_dilated: dimension_numbers[{i}] must not repeat a "
                            f"dimension, got {spec!r}")
    if not set(lhs_s) - {"N", "C"} == set(rhs_s) - {"O", "I"} == set(out_s) - {"N", "C"}:
        raise TypeError(f"conv_general_dilated: the spatial dimensions of lhs, rhs and out "
                        f"specs must agree, got {dimension_numbers!r}")

    def perm(spec, pair):
        spatial = [i for i, c in enumerate(spec) if c not in pair]
        if spec is not rhs_s:
            spatial.sort(key=lambda i: rhs_s.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1]), *spatial)

    return tuple(perm(s, p) for s, p in zip(dimension_numbers, pairs))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """ConvDimensionNumbers from None (NCHW-style layouts), three strings, or itself."""
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise TypeError(f"conv_general_dilated: lhs and rhs must have the same rank, got shapes "
                        f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        spec = tuple(range(nd))
        return ConvDimensionNumbers(spec, spec, spec)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
    if len(dimension_numbers) != 3:
        raise TypeError(f"conv_general_dilated: dimension_numbers must have 3 entries (lhs, "
                        f"rhs, out), got {dimension_numbers!r}")
    if not all(isinstance(s, str) for s in dimension_numbers):
        raise TypeError(f"conv_general_dilated: dimension_numbers must be None, a "
                        f"ConvDimensionNumbers or three strings, got {dimension_numbers!r}")
    for i, s in enumerate(dimension_numbers):
        if len(s) != nd:
            raise TypeError(f"conv_general_dilated: dimension_numbers[{i}] {s!r} must have one "
                            f"letter per dimension of lhs and rhs (shapes {tuple(lhs_shape)} "
                            f"and {tuple(rhs_shape)})")
    return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))


def dilate_dim(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def padtype_to_pads(in_shape, window_shape, window_strides, padding: str):
    """Explicit (low, high) pairs for the padding strings 'SAME', 'SAME_LOWER' and 'VALID'."""
    kind = padding.upper() if isinstance(padding, str) else padding
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"padding must be 'SAME', 'SAME_LOWER', 'VALID' or a sequence of "
                         f"(low, high) pairs, got {padding!r}")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides, strict=True):
        out = -(-n // s)
        total = max(0, (out - 1) * s + k - n)
        small = total // 2
        pads.append((small, total - small) if kind == "SAME" else (total - small, small))
    return pads


# ---------------------------------------------------------------------------------------------
# the primitive

conv_general_dilated_p = Primitive("conv_general_dilated", linear_in=(0, 1))


def _result_dtype(lhs, rhs, preferred_element_type):
    if lhs.dtype != rhs.dtype:
        raise PlaxTypeError(f"conv_general_dilated: lhs and rhs must have the same dtype, got "
                            f"{lhs.dtype.name} and {rhs.dtype.name}")
    if lhs.dtype == dtypes.bool_:
        raise PlaxTypeError("conv_general_dilated does not accept dtype bool")
    dt = lhs.dtype
    pet = preferred_element_type
    if pet is not None and pet != dt:
        # JAX's combinations: (integer, integer or floating), (floating, floating),
        # (complex, complex), never narrower than the operands
        ok = (dtypes.is_int(dt) and (dtypes.is_int(pet) or dtypes.is_float(pet))
              or dtypes.is_float(dt) and dtypes.is_float(pet)
              or dtypes.is_complex(dt) and dtypes.is_complex(pet))
        if not ok:
            raise PlaxTypeError(f"conv_general_dilated: preferred_element_type {pet.name} is "
                                f"incompatible with operands of dtype {dt.name} (allowed: "
                                "integer -> integer or floating, floating -> floating, complex "
                                "-> complex)")
        if pet.itemsize < dt.itemsize:
            raise PlaxTypeError(f"conv_general_dilated: preferred_element_type {pet.name} must "
                                f"not be narrower than the operand dtype {dt.name}")
        dt = pet
    return dt


def _check_positive(what: str, values, n: int):
    if len(values) != n:
        raise PlaxTypeError(f"conv_general_dilated: {what} must have one entry per spatial "
                            f"dimension ({n}), got {values}")
    if any(v < 1 for v in values):
        raise PlaxTypeError(f"conv_general_dilated: {what} must be positive, got {values}")


def conv_shape(lhs_shape, rhs_shape, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count) -> tuple[int, ...]:
    """The output shape (checking every parameter against the operand shapes)."""
    op = "conv_general_dilated"
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nd = len(lhs_shape)
    for name, spec in zip(("lhs", "rhs", "out"), dimension_numbers):
        if sorted(spec) != list(range(nd)):
            raise PlaxTypeError(f"{op}: dimension_numbers {name}_spec {tuple(spec)} must be a "
                                f"permutation of the {nd} dimensions of the operands")
    if nd < 2:
        raise PlaxTypeError(f"{op}: operands need a batch and a feature dimension, got rank {nd}")
    n_sp = nd - 2
    for what, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation)):
        _check_positive(what, v, n_sp)
    if len(padding) != n_sp:
        raise PlaxTypeError(f"{op}: padding must have one (low, high) pair per spatial "
                            f"dimension ({n_sp}), got {padding}")
    fgc, bgc = feature_group_count, batch_group_count
    if fgc < 1 or bgc < 1:
        raise PlaxTypeError(f"{op}: feature_group_count and batch_group_count must be >= 1, "
                            f"got {fgc} and {bgc}")
    if fgc > 1 and bgc > 1:
        raise PlaxTypeError(f"{op}: at most one of feature_group_count ({fgc}) and "
                            f"batch_group_count ({bgc}) may exceed 1")
    n, c = lhs_shape[lhs_spec[0]], lhs_shape[lhs_spec[1]]
    o, i = rhs_shape[rhs_spec[0]], rhs_shape[rhs_spec[1]]
    if c % fgc:
        raise PlaxTypeError(f"{op}: lhs feature dimension ({c}) must be a multiple of "
                            f"feature_group_count ({fgc})")
    if c // fgc != i:
        raise PlaxTypeError(f"{op}: lhs feature dimension divided by feature_group_count "
                            f"({c} / {fgc} = {c // fgc}) must equal the rhs input feature "
                            f"dimension ({i}); lhs shape {tuple(lhs_shape)}, rhs shape "
                            f"{tuple(rhs_shape)}")
    if o % fgc:
        raise PlaxTypeError(f"{op}: rhs output feature dimension ({o}) must be a multiple of "
                            f"feature_group_count ({fgc})")
    if n % bgc:
        raise PlaxTypeError(f"{op}: lhs batch dimension ({n}) must be a multiple of "
                            f"batch_group_count ({bgc})")
    if o % bgc:
        raise PlaxTypeError(f"{op}: rhs output feature dimension ({o}) must be a multiple of "
                            f"batch_group_count ({bgc})")
    spatial = []
    for k in range(n_sp):
        size = dilate_dim(lhs_shape[lhs_spec[2 + k]], lhs_dilation[k]) + sum(padding[k])
        win = dilate_dim(rhs_shape[rhs_spec[2 + k]], rhs_dilation[k])
        spatial.append(max(0, (size - win) // window_strides[k] + 1) if size >= 0 else 0)
    out_t = (n // bgc, o, *spatial)
    out = [0] * nd
    for pos, d in enumerate(out_spec):
        out[d] = out_t[pos]
    return tuple(out)


def _conv_abstract(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type, out_sharding=None):
    # out_sharding is JAX 0.10's param (always None here), kept so printed jaxprs match JAX's
    check_no_sharding("conv_general_dilated", out_sharding)
    if lhs.ndim != rhs.ndim:
        raise PlaxTypeError(f"conv_general_dilated: lhs and rhs must have the same rank, got "
                            f"shapes {lhs.shape} and {rhs.shape}")
    dt = _result_dtype(lhs, rhs, preferred_element_type)
    shape = conv_shape(lhs.shape, rhs.shape, window_strides=window_strides, padding=padding,
                       lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                       dimension_numbers=dimension_numbers,
                       feature_group_count=feature_group_count,
                       batch_group_count=batch_group_count)
    return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)


add_abstract_eval(conv_general_dilated_p, _conv_abstract)


# ---------------------------------------------------------------------------------------------
# User functions


def _pairs(padding) -> tuple[tuple[int, int], ...]:
    try:
        out = tuple((static_int("conv_general_dilated", "padding", lo),
                     static_int("conv_general_dilated", "padding", hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"conv_general_dilated: padding must be 'SAME', 'SAME_LOWER', 'VALID' "
                        f"or a sequence of (low, high) integer pairs, got {padding!r}") from None
    return out


def conv_general_dilated(lhs, rhs, window_strides: Sequence[int], padding: Any,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers=None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision=None,
                         preferred_element_type=None, out_sharding=None):
    """General n-d convolution (cross-correlation, as XLA's) of `lhs` with kernel `rhs`
    (as jax.lax.conv_general_dilated); `padding` is a string or (low, high) pairs."""
    op = "conv_general_dilated"
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n_sp = la.ndim - 2
    lhs_dilation = (1,) * n_sp if lhs_dilation is None else static_ints(op, "lhs_dilation",
                                                                         lhs_dilation)
    rhs_dilation = (1,) * n_sp if rhs_dilation is None else static_ints(op, "rhs_dilation",
                                                                         rhs_dilation)
    window_strides = static_ints(op, "window_strides", window_strides)
    if isinstance(padding, str):
        if len(rhs_dilation) != n_sp or len(window_strides) != n_sp:
            raise TypeError(f"{op}: window_strides {window_strides} and rhs_dilation "
                            f"{rhs_dilation} must have one entry per spatial dimension ({n_sp})")
        window = [dilate_dim(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        in_shape = [la.shape[d] for d in dn.lhs_spec[2:]]
        padding = tuple(padtype_to_pads(in_shape, window, window_strides, padding))
    else:
        padding = _pairs(padding)
    pet = None if preferred_element_type is None else \
        dtypes.canonicalize_dtype(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding,
        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=dn, feature_group_count=static_int(op, "feature_group_count",
                                                             feature_group_count),
        batch_group_count=static_int(op, "batch_group_count", batch_group_count),
        precision=canonicalize_precision(precision), preferred_element_type=pet,
        out_sharding=out_sharding)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """conv_general_dilated in NCHW/OIHW layouts without dilation (as jax.lax.conv)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """conv_general_dilated in NCHW/OIHW layouts (as jax.lax.conv_with_general_padding)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: str):
    """The padding of conv_transpose along one dimension (as JAX's _conv_transpose_padding)."""
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else int(np.ceil(pad_len / 2))
    elif padding == "VALID":
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    else:
        raise ValueError(f"conv_transpose: padding must be 'SAME', 'VALID' or a sequence of "
                         f"(low, high) pairs, got {padding!r}")
    return pad_a, pad_len - pad_a


def conv_transpose(lhs, rhs, strides: Sequence[int], padding, rhs_dilation=None,
                   dimension_numbers=None, transpose_kernel: bool = False, precision=None,
                   preferred_element_type=None):
    """The transposed ("deconvolution") convolution of TensorFlow/Flax (as
    jax.lax.conv_transpose): lhs dilated by `strides`, the kernel optionally flipped and its
    feature dimensions swapped (`transpose_kernel`, the gradient of conv)."""
    la, ra = get_aval(lhs), get_aval(rhs)
    if la.ndim < 2:
        raise TypeError(f"conv_transpose: lhs must have rank >= 2, got shape {la.shape}")
    if dimension_numbers is None:
        default = {3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                   5: ("NHWDC", "HWDIO", "NHWDC")}
        if la.ndim not in default:
            raise ValueError(f"conv_transpose: no default dimension_numbers for rank {la.ndim}")
        dimension_numbers = default[la.ndim]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    k_sdims = [ra.shape[d] for d in dn.rhs_spec[2:]]
    n_sp = len(k_sdims)
    rhs_dilation = (1,) * n_sp if rhs_dilation is None else \
        static_ints("conv_transpose", "rhs_dilation", rhs_dilation)
    strides = static_ints("conv_transpose", "strides", strides)
    effective = [dilate_dim(k, r) for k, r in zip(k_sdims, rhs_dilation)]
    if isinstance(padding, str):
        pads = [_conv_transpose_padding(k, s, padding) for k, s in zip(effective, strides)]
    else:
        pads = padding
    if transpose_kernel:
        from plax._src.lax.structural import rev, transpose
        rhs = rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(ra.ndim))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * n_sp, pads, lhs_dilation=strides,
                                rhs_dilation=rhs_dilation, dimension_numbers=dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_patches(lhs, filter_shape: Sequence[int], window_strides, padding,
                                 lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                                 precision=None, preferred_element_type=None):
    """The patches a convolution with a `filter_shape` window would see, as output features
    ordered (input feature, *filter positions) (as jax.lax.conv_general_dilated_patches): a
    convolution with a one-hot kernel, grouped by input feature."""
    la = get_aval(lhs)
    filter_shape = static_ints("conv_general_dilated_patches", "filter_shape", filter_shape)
    if len(filter_shape) != la.ndim - 2:
        raise ValueError(f"conv_general_dilated_patches: filter_shape {filter_shape} must have "
                         f"one entry per spatial dimension of lhs (shape {la.shape})")
    dn = conv_dimension_numbers(la.shape, (0,) * la.ndim, dimension_numbers)
    c = la.shape[dn.lhs_spec[1]]
    size = int(np.prod(filter_shape))
    # kernel in OIHW-like (out = c * size, in = 1, *filter_shape) order, then rhs_spec's layout
    eye = np.eye(size, dtype=la.dtype).reshape((size, 1, *filter_shape))
    kernel = np.tile(eye, (c,) + (1,) * (len(filter_shape) + 1))
    rhs = np.transpose(kernel, np.argsort(dn.rhs_spec))
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                dn, feature_group_count=c, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_local(lhs, rhs, window_strides, padding, filter_shape,
                               lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                               precision=None):
    """An unshared ("locally connected") convolution: a separate kernel per output position
    (as jax.lax.conv_general_dilated_local). `rhs` has the output's spatial sizes where a
    kernel has its window, and C * prod(filter_shape) input features (patches' order)."""
    from plax._src.lax.linalg import dot_general
    from plax._src.lax.structural import transpose
    lhs_prec, rhs_prec = canonicalize_precision(precision) or (None, None)
    filter_shape = tuple(filter_shape)
    patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                           lhs_dilation, rhs_dilation, dimension_numbers,
                                           precision=lhs_prec)
    la = get_aval(lhs)
    _, rhs_spec, out_spec = conv_dimension_numbers(la.shape, (1, 1) + filter_shape,
                                                   dimension_numbers)
    lhs_b = list(out_spec[2:])
    rhs_b = [rhs_spec[2:][i] for i in sorted(range(len(lhs_b)), key=lambda k: lhs_b[k])]
    dn = (((out_spec[1],), (rhs_spec[1],)), (tuple(sorted(lhs_b)), tuple(rhs_b)))
    out = dot_general(patches, rhs, dn, precision=rhs_prec)
    # out: (spatial in order..., N, O) -> the out_spec layout
    nd = la.ndim
    src = list(range(nd - 2)) + [nd - 2, nd - 1]
    dims = [d for d in range(nd) if d not in (out_spec[0], out_spec[1])] + \
        [out_spec[0], out_spec[1]]
    perm = [0] * nd
    for s_, d in zip(src, dims):
        perm[d] = s_
    return transpose(out, tuple(perm))


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count=1):
    """The output shape of a convolution in NCHW/OIHW/NCHW layouts (as jax.lax's)."""
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    nd = len(lhs_shape)
    spec = tuple(range(nd))
    return conv_shape(tuple(lhs_shape), tuple(rhs_shape), window_strides=tuple(strides),
                      padding=tuple(map(tuple, pads)), lhs_dilation=(1,) * (nd - 2),
                      rhs_dilation=(1,) * (nd - 2),
                      dimension_numbers=ConvDimensionNumbers(spec, spec, spec),
                      feature_group_count=lhs_shape[1] // rhs_shape[1],
                      batch_group_count=batch_group_count)


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                             dimension_numbers):
    """The output shape of conv_general_dilated without dilation (as jax.lax's)."""
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    out = conv_shape_tuple([lhs_shape[d] for d in dn.lhs_spec],
                           [rhs_shape[d] for d in dn.rhs_spec], window_strides, padding)
    return tuple(out[i] for i in np.argsort(dn.out_spec))


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                               dimension_numbers):
    """The output shape of conv_transpose (as jax.lax's)."""
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lt = [lhs_shape[d] for d in dn.lhs_spec]
    rt = [rhs_shape[d] for d in dn.rhs_spec]
    if isinstance(padding, str):
        padding = [_conv_transpose_padding(k, s, padding) for k, s in zip(rt[2:],
                                                                           window_strides)]
    space = [(i - 1) * s - k + 2 + lo + hi
             for i, k, s, (lo, hi) in zip(lt[2:], rt[2:], window_strides, padding)]
    out = (lt[0], rt[0], *space)
    return tuple(out[i] for i in np.argsort(dn.out_spec))
