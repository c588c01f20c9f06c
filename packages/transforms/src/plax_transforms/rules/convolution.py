"""jvp, transpose and batching rules of conv_general_dilated, as JAX's. It is bilinear: the jvp
is the sum of the one-sided convolutions. The lhs cotangent is the cotangent convolved with the
reversed kernel (strides becoming lhs dilation); the rhs cotangent is lhs convolved with the
cotangent (feature groups becoming batch groups). vmap folds the batch axis into the batch,
feature or group dimensions."""

from __future__ import annotations

from plax import lax
from plax.extend import get_aval
from plax_transforms.ad import Zero, is_undefined
from plax_transforms.rules._util import dtype, shape, skip_zero_ct, zeros

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}

_conv_p = lax.conv_general_dilated_p


def _dil(d: int, r: int) -> int:
    return 0 if d == 0 else 1 + r * (d - 1)


def _conv_jvp(primals, tangents, **params):
    (lhs, rhs), (tl, tr) = primals, tangents
    out = _conv_p.bind(lhs, rhs, **params)
    acc = None
    if type(tl) is not Zero:
        acc = _conv_p.bind(tl, rhs, **params)
    if type(tr) is not Zero:
        term = _conv_p.bind(lhs, tr, **params)
        acc = term if acc is None else lax.add(acc, term)
    return out, (Zero(get_aval(out)) if acc is None else acc)


# ---------------------------------------------------------------------------------------------
# reshaping one axis into or out of another (the group/batch bookkeeping of JAX's rules)


def reshape_axis_into(src: int, dst: int, x):
    """Merge axis `src` into axis `dst` (numbered after `src` is removed), as its major part."""
    perm = [i for i in range(len(shape(x))) if i != src]
    perm.insert(dst, src)
    new = [shape(x)[i] for i in perm]
    new[dst:dst + 2] = [new[dst] * new[dst + 1]]
    return lax.reshape(lax.transpose(x, tuple(perm)), tuple(new))


def reshape_axis_out_of(src: int, size1: int, x):
    """Split axis `src` into (size1, rest)."""
    s = list(shape(x))
    s[src:src + 1] = [size1, s[src] // size1]
    return lax.reshape(x, tuple(s))


# ---------------------------------------------------------------------------------------------
# transposes


def _spec_t(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _vjp_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil):
    lhs_d = [_dil(d, r) for d, r in zip(in_shape, lhs_dil)]
    rhs_d = [_dil(d, r) for d, r in zip(window, rhs_dil)]
    out_d = [_dil(d, r) for d, r in zip(out_shape, strides)]
    before = [k - lo - 1 for k, (lo, _) in zip(rhs_d, padding)]
    after = [a + k - 1 - o - b for a, k, o, b in zip(lhs_d, rhs_d, out_d, before)]
    return tuple(zip(before, after))


def _vjp_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil):
    if not in_shape:
        return ()
    lhs_d = [_dil(d, r) for d, r in zip(in_shape, lhs_dil)]
    rhs_d = [_dil(d, r) for d, r in zip(window, rhs_dil)]
    out_d = [_dil(d, r) for d, r in zip(out_shape, strides)]
    lo = [p for p, _ in padding]
    hi = [o - a + k - p - 1 for o, a, k, p in zip(out_d, lhs_d, rhs_d, lo)]
    return tuple(zip(lo, hi))


def _take(s, dims):
    return [s[d] for d in dims]


def _transpose_lhs(g, lhs_aval, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type, out_sharding=None):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    fgc = feature_group_count
    if fgc > 1:
        # the feature groups move into the transposed kernel's output feature dimension
        rhs = reshape_axis_out_of(rhs_spec[0], fgc, rhs)
        rhs = reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    elif batch_group_count > 1:
        rhs = reshape_axis_out_of(rhs_spec[0], batch_group_count, rhs)
        rhs = reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
        fgc = batch_group_count
    dn = lax.ConvDimensionNumbers(out_spec, _spec_t(rhs_spec), lhs_spec)
    pads = _vjp_lhs_padding(_take(lhs_aval.shape, lhs_spec[2:]), _take(shape(rhs), rhs_spec[2:]),
                            window_strides, _take(shape(g), out_spec[2:]), padding,
                            lhs_dilation, rhs_dilation)
    out = _conv_p.bind(g, lax.rev(rhs, tuple(rhs_spec[2:])), window_strides=lhs_dilation,
                       padding=pads, lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
                       dimension_numbers=dn, feature_group_count=fgc, batch_group_count=1,
                       precision=precision, preferred_element_type=preferred_element_type,
                       out_sharding=out_sharding)
    if batch_group_count > 1:
        out = reshape_axis_out_of(lhs_spec[1], batch_group_count, out)
        out = reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
    return out


def _transpose_rhs(g, lhs, rhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count, precision,
                   preferred_element_type, out_sharding=None):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    fgc, bgc = feature_group_count, batch_group_count
    if bgc > 1:
        fgc, bgc = bgc, 1
    elif fgc > 1:
        fgc, bgc = 1, fgc
    dn = lax.ConvDimensionNumbers(_spec_t(lhs_spec), _spec_t(out_spec), _spec_t(rhs_spec))
    pads = _vjp_rhs_padding(_take(shape(lhs), lhs_spec[2:]),
                            _take(rhs_aval.shape, rhs_spec[2:]), window_strides,
                            _take(shape(g), out_spec[2:]), padding, lhs_dilation, rhs_dilation)
    return _conv_p.bind(lhs, g, window_strides=rhs_dilation, padding=pads,
                        lhs_dilation=lhs_dilation, rhs_dilation=window_strides,
                        dimension_numbers=dn, feature_group_count=fgc, batch_group_count=bgc,
                        precision=precision, preferred_element_type=preferred_element_type,
                       out_sharding=out_sharding)


def _cast(x, aval):
    return x if dtype(x) == aval.dtype else lax.convert_element_type(x, aval.dtype)


@skip_zero_ct
def _conv_transpose(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("conv_general_dilated is linear in each operand separately, not in "
                         "both at once")
    if is_undefined(lhs):
        return [_cast(_transpose_lhs(ct, lhs.aval, rhs, **params), lhs.aval), None]
    if 0 in shape(ct):
        return [None, zeros(rhs.aval.shape, rhs.aval.dtype)]
    return [None, _cast(_transpose_rhs(ct, lhs, rhs.aval, **params), rhs.aval)]


# ---------------------------------------------------------------------------------------------
# batching


def _conv_batch(vals, dims, **params):
    (lhs, rhs), (ld, rd) = vals, dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    p = dict(params)
    if ld is not None and rd is not None:
        size = shape(lhs)[ld]
        if bgc > 1:
            new_lhs = reshape_axis_into(ld, lhs_spec[0], lhs)
            p["batch_group_count"] = bgc * size
        else:
            new_lhs = reshape_axis_into(ld, lhs_spec[1], lhs)
            p["feature_group_count"] = fgc * size
        new_rhs = reshape_axis_into(rd, rhs_spec[0], rhs)
        out = _conv_p.bind(new_lhs, new_rhs, **p)
        return reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if ld is not None:
        size = shape(lhs)[ld]
        if bgc == 1:
            out = _conv_p.bind(reshape_axis_into(ld, lhs_spec[0], lhs), rhs, **p)
        else:
            # the batch groups stay outermost in the batch dimension
            x = reshape_axis_out_of(lhs_spec[0] + int(ld <= lhs_spec[0]), bgc, lhs)
            x = reshape_axis_into(ld + int(lhs_spec[0] < ld), lhs_spec[0] + 1, x)
            x = reshape_axis_into(lhs_spec[0], lhs_spec[0], x)
            out = _conv_p.bind(x, rhs, **p)
        return reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    size = shape(rhs)[rd]
    if fgc == 1 and bgc == 1:
        out = _conv_p.bind(lhs, reshape_axis_into(rd, rhs_spec[0], rhs), **p)
        return reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    # the groups stay outermost in the kernel's output features, and so in the output's
    groups = fgc if fgc > 1 else bgc
    w = reshape_axis_out_of(rhs_spec[0] + int(rd <= rhs_spec[0]), groups, rhs)
    w = reshape_axis_into(rd + int(rhs_spec[0] < rd), rhs_spec[0] + 1, w)
    w = reshape_axis_into(rhs_spec[0], rhs_spec[0], w)
    out = _conv_p.bind(lhs, w, **p)
    out = reshape_axis_out_of(out_spec[1], groups, out)
    out = reshape_axis_out_of(out_spec[1] + 1, size, out)
    return reshape_axis_into(out_spec[1], out_spec[1] + 1, out), out_spec[1]


JVP[_conv_p] = _conv_jvp
TRANSPOSE[_conv_p] = _conv_transpose
BATCH[_conv_p] = _conv_batch
