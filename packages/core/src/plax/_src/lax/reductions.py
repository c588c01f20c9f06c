"""Reductions: reduce_{sum,prod,max,min,and,or,xor} over `axes`, argmax/argmin, and the cumulative
cum{sum,prod,max,min,logsumexp} along one `axis`. As in lax, axes are nonnegative and unique, and
results keep the operand's dtype (no accumulation upcast; plax.numpy does that)."""

from __future__ import annotations

from plax._src import dtypes
from plax._src.config import config
from plax._src.core import PlaxTypeError, Primitive, ShapedArray
from plax._src.lax._params import (
    check_dims, check_no_sharding, int_tuple, is_int_param, static_int, static_ints)
from plax._src.registry import add_abstract_eval

__all__ = [
    "reduce_sum_p", "reduce_prod_p", "reduce_max_p", "reduce_min_p", "reduce_and_p",
    "reduce_or_p", "reduce_xor_p", "argmax_p", "argmin_p", "cumsum_p", "cumprod_p", "cummax_p",
    "cummin_p", "cumlogsumexp_p",
    "reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
    "reduce_xor", "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp",
]


def _number(d):
    return d != dtypes.bool_


def _int_or_bool(d):
    return dtypes.is_int(d) or d == dtypes.bool_


def _any(d):
    return True


_KINDS = {_number: "numeric (not bool)", _int_or_bool: "boolean or integer",
          dtypes.is_float: "floating"}


def _check_dtype(op: str, accepts, x: ShapedArray) -> None:
    if not accepts(x.dtype):
        raise PlaxTypeError(f"{op} does not accept dtype {x.dtype.name}; it needs "
                            f"{_KINDS[accepts]} dtypes")


def _reduced_shape(op: str, x: ShapedArray, axes) -> tuple[int, ...]:
    axes = int_tuple(op, "axes", axes)
    check_dims(op, "axes", axes, x.ndim)
    return tuple(d for i, d in enumerate(x.shape) if i not in axes)


# ---------------------------------------------------------------------------------------------
# reduce_*


def _reducer(name: str, accepts, keep_weak: bool, **traits) -> Primitive:
    p = Primitive(name, reduction=True, **traits)

    def rule(x, *, axes, **params):
        _check_dtype(name, accepts, x)
        return ShapedArray(_reduced_shape(name, x, axes), x.dtype, keep_weak and x.weak_type)

    add_abstract_eval(p, rule)
    return p


reduce_sum_p = Primitive("reduce_sum", reduction=True, linear_in=(0,))


def _reduce_sum_rule(x, *, axes, out_sharding=None):
    # out_sharding is JAX 0.10's param (always None here), kept so printed jaxprs match JAX's
    check_no_sharding("reduce_sum", out_sharding)
    _check_dtype("reduce_sum", _number, x)
    if x.dtype in (dtypes.float16, dtypes.bfloat16) and not config.allow_f16_reductions and \
            any(x.shape[d] != 1 for d in axes):
        raise ValueError(f"reduce_sum on operand {x.str_short()} is not allowed when "
                         "allow_f16_reductions=False.")
    return ShapedArray(_reduced_shape("reduce_sum", x, axes), x.dtype, x.weak_type)


add_abstract_eval(reduce_sum_p, _reduce_sum_rule)

reduce_prod_p = _reducer("reduce_prod", _number, keep_weak=True)
reduce_max_p = _reducer("reduce_max", _any, keep_weak=True)
reduce_min_p = _reducer("reduce_min", _any, keep_weak=True)
reduce_and_p = _reducer("reduce_and", _int_or_bool, keep_weak=False)
reduce_or_p = _reducer("reduce_or", _int_or_bool, keep_weak=False)
reduce_xor_p = _reducer("reduce_xor", _int_or_bool, keep_weak=False)


# ---------------------------------------------------------------------------------------------
# argmax / argmin: the index of the first maximum (minimum); a NaN counts as the extreme, so the
# first NaN wins (as XLA's reduction does it).


def _argminmax(name: str) -> Primitive:
    p = Primitive(name, reduction=True)

    def rule(x, *, axes, index_dtype):
        axes = int_tuple(name, "axes", axes)
        if len(axes) != 1:
            raise PlaxTypeError(f"{name} reduces exactly one axis, got axes {axes}")
        check_dims(name, "axes", axes, x.ndim)
        axis, = axes
        if x.shape[axis] == 0:
            raise PlaxTypeError(f"{name} needs a non-empty reduced dimension, got axis {axis} "
                                f"of operand shape {x.shape}")
        if dtypes.is_complex(x.dtype):
            raise PlaxTypeError(f"{name} does not accept dtype {x.dtype.name}: complex values "
                                "are not ordered")
        if index_dtype not in dtypes.SUPPORTED or not dtypes.is_int(index_dtype):
            raise PlaxTypeError(f"{name}: index_dtype must be an integer dtype, got "
                                f"{index_dtype}")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype, False)

    add_abstract_eval(p, rule)
    return p


argmax_p = _argminmax("argmax")
argmin_p = _argminmax("argmin")


# ---------------------------------------------------------------------------------------------
# Cumulative reductions: same shape as the operand, scanned along `axis` (backwards if
# `reverse`).


def _cumulative(name: str, accepts, **traits) -> Primitive:
    p = Primitive(name, **traits)

    def rule(x, *, axis, reverse):
        _check_dtype(name, accepts, x)
        if not is_int_param(axis) or not 0 <= axis < x.ndim:
            raise PlaxTypeError(f"{name}: axis {axis!r} is out of range for an operand of shape "
                                f"{x.shape} (valid: 0 to {x.ndim - 1}; lax takes no negative "
                                "axes)")
        if not isinstance(reverse, bool):
            raise PlaxTypeError(f"{name}: reverse must be a bool, got {reverse!r}")
        return ShapedArray(x.shape, x.dtype, x.weak_type)

    add_abstract_eval(p, rule)
    return p


cumsum_p = _cumulative("cumsum", _number, linear_in=(0,))
cumprod_p = _cumulative("cumprod", _number)
cummax_p = _cumulative("cummax", _number)
cummin_p = _cumulative("cummin", _number)
# JAX accepts integers here too and then fails while running; refuse them up front
cumlogsumexp_p = _cumulative("cumlogsumexp", dtypes.is_float)


# ---------------------------------------------------------------------------------------------
# User functions


def reduce_sum(operand, axes, *, out_sharding=None):
    """Sum over `axes` (in the operand's dtype: no accumulation upcast)."""
    return reduce_sum_p.bind(operand, axes=static_ints("reduce_sum", "axes", axes),
                             out_sharding=out_sharding)


def reduce_prod(operand, axes):
    return reduce_prod_p.bind(operand, axes=static_ints("reduce_prod", "axes", axes))


def reduce_max(operand, axes):
    return reduce_max_p.bind(operand, axes=static_ints("reduce_max", "axes", axes))


def reduce_min(operand, axes):
    return reduce_min_p.bind(operand, axes=static_ints("reduce_min", "axes", axes))


def reduce_and(operand, axes):
    return reduce_and_p.bind(operand, axes=static_ints("reduce_and", "axes", axes))


def reduce_or(operand, axes):
    return reduce_or_p.bind(operand, axes=static_ints("reduce_or", "axes", axes))


def reduce_xor(operand, axes):
    return reduce_xor_p.bind(operand, axes=static_ints("reduce_xor", "axes", axes))


def argmax(operand, axis, index_dtype):
    """Index of the first maximum along `axis` (the first NaN, if any)."""
    return argmax_p.bind(operand, axes=(static_int("argmax", "axis", axis),),
                         index_dtype=dtypes.canonicalize_dtype(index_dtype))


def argmin(operand, axis, index_dtype):
    """Index of the first minimum along `axis` (the first NaN, if any)."""
    return argmin_p.bind(operand, axes=(static_int("argmin", "axis", axis),),
                         index_dtype=dtypes.canonicalize_dtype(index_dtype))


def cumsum(operand, axis=0, reverse=False):
    return cumsum_p.bind(operand, axis=static_int("cumsum", "axis", axis), reverse=bool(reverse))


def cumprod(operand, axis=0, reverse=False):
    return cumprod_p.bind(operand, axis=static_int("cumprod", "axis", axis),
                          reverse=bool(reverse))


def cummax(operand, axis=0, reverse=False):
    return cummax_p.bind(operand, axis=static_int("cummax", "axis", axis), reverse=bool(reverse))


def cummin(operand, axis=0, reverse=False):
    return cummin_p.bind(operand, axis=static_int("cummin", "axis", axis), reverse=bool(reverse))


def cumlogsumexp(operand, axis=0, reverse=False):
    return cumlogsumexp_p.bind(operand, axis=static_int("cumlogsumexp", "axis", axis),
                               reverse=bool(reverse))
