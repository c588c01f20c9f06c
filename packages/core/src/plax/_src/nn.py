"""Activation functions and the softmax family of plax.nn, in the numerically stable forms JAX
uses (softplus through logaddexp, log_sigmoid as -softplus(-x), max-shifted log-sum-exp).
Those JAX jits run eagerly as one compiled program each, as JAX's; traced, they are inlined."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.compiled import compiled
from plax._src.core import concrete_or_error, get_aval


def _promote_inexact(x):
    """`x` as an array of an inexact dtype (integers and bools go to the default float)."""
    x = pnp.asarray(x)
    if not dtypes.is_inexact(x.dtype):
        x = lax._convert_element_type(x, dtypes.default_float_dtype(), get_aval(x).weak_type)
    return x


# ---------------------------------------------------------------------------------------------
# Elementwise activations


def identity(x):
    return pnp.asarray(x)


@compiled(inline=True)
def relu(x):
    """max(x, 0). Written as a select so the derivative at 0 is 0 (JAX's choice), NaN stays NaN."""
    x = pnp.asarray(x)
    return pnp.where(x <= 0, 0, x)


@compiled(inline=True)
def relu6(x):
    """min(max(x, 0), 6), with derivative 0 at both kinks."""
    x = pnp.asarray(x)
    return pnp.where(x <= 0, 0, pnp.where(x >= 6, 6., x))


def sigmoid(x):
    return lax.logistic(x)


@compiled(inline=True)
def softplus(x):
    """log(1 + exp(x)), as logaddexp(x, 0): finite for every finite x."""
    return pnp.logaddexp(x, 0)


@compiled(inline=True)
def log_sigmoid(x):
    x = pnp.asarray(x)
    return -softplus(-x)


@compiled(inline=True)
def silu(x):
    x = pnp.asarray(x)
    return x * sigmoid(x)


swish = silu


def soft_sign(x):
    x = pnp.asarray(x)
    return x / (pnp.abs(x) + 1)


@compiled(inline=True)
def elu(x, alpha=1.0):
    x = pnp.asarray(x)
    # expm1 only sees the non-positive part, so large x cannot overflow into inf * 0
    return pnp.where(x > 0, x, alpha * pnp.expm1(pnp.where(x > 0, 0., x)))


@compiled(inline=True)
def leaky_relu(x, negative_slope=1e-2):
    x = pnp.asarray(x)
    return pnp.where(x >= 0, x, negative_slope * x)


@compiled(inline=True)
def celu(x, alpha=1.0):
    return pnp.maximum(x, 0.0) + alpha * pnp.expm1(pnp.minimum(x, 0.0) / alpha)


@compiled(inline=True)
def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def hard_tanh(x):
    x = pnp.asarray(x)
    return pnp.where(x > 1, 1, pnp.where(x < -1, -1, x))


def hard_sigmoid(x):
    return relu6(pnp.asarray(x) + 3.) / 6.


def hard_silu(x):
    x = pnp.asarray(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    x = pnp.asarray(x)
    return x * pnp.tanh(softplus(x))


def squareplus(x, b=4):
    x = pnp.asarray(x)
    return (x + pnp.sqrt(pnp.square(x) + b)) / 2


def sparse_plus(x):
    x = pnp.asarray(x)
    return pnp.where(x <= -1.0, 0.0, pnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
    return 0.5 * pnp.clip(pnp.asarray(x) + 1.0, 0.0, 2.0)


def gelu(x, approximate: bool = True):
    """x * Phi(x), Phi the standard normal CDF; `approximate` uses the tanh form."""
    x = _promote_inexact(x)
    if approximate:
        sqrt_2_over_pi = np.sqrt(2 / np.pi).astype(x.dtype)
        cdf = 0.5 * (1.0 + pnp.tanh(sqrt_2_over_pi * (x + 0.044715 * (x ** 3))))
        return x * cdf
    sqrt_half = np.sqrt(0.5).astype(x.dtype)
    return pnp.asarray(0.5 * x * lax.erfc(-x * sqrt_half), dtype=x.dtype)


@compiled("axis", inline=True)
def glu(x, axis: int = -1):
    """The first half of x along `axis` gated by the sigmoid of the second half."""
    x = pnp.asarray(x)
    size = x.shape[_axis("glu", axis, x.ndim)]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got {size} "
                         f"(input shape {x.shape})")
    x1, x2 = pnp.split(x, 2, axis)
    return x1 * sigmoid(x2)


def _axis(name: str, axis, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of dimension "
                         f"{ndim}")
    return axis % ndim


# ---------------------------------------------------------------------------------------------
# Normalizing functions


def _reduction_axes(name: str, axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(_axis(name, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis}")
    return out


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
    """log(sum(b * exp(a))) over `axis`, shifted by the maximum so it neither overflows nor
    underflows. With `return_sign`, returns (log|sum|, sign(sum)); otherwise a negative sum
    gives NaN."""
    if where is not None:
        a = pnp.where(where, a, 0)
    if b is not None:
        a, b = _promote_pair_inexact(a, b)
        a = pnp.where(b != 0, a, -np.inf)
    else:
        a = _promote_inexact(a)
    dims = _reduction_axes("logsumexp", axis, a.ndim)
    amax = pnp.max(pnp.real(a), axis=dims, keepdims=keepdims, where=where, initial=-np.inf)
    # an infinite max would give inf - inf: shift by 0 instead
    amax = lax.stop_gradient(pnp.where(pnp.isfinite(amax), amax, 0))
    amax_kept = amax if keepdims else pnp.expand_dims(amax, dims)
    exp_a = pnp.exp(a - amax_kept.astype(a.dtype))
    if b is not None:
        exp_a = exp_a * b
    sumexp = pnp.sum(exp_a, axis=dims, keepdims=keepdims, where=where)
    sign = pnp.sign(sumexp)
    if return_sign or not dtypes.is_complex(sumexp.dtype):
        sumexp = pnp.abs(sumexp)
    out = pnp.log(sumexp) + amax.astype(sumexp.dtype)
    if return_sign:
        return out, sign
    if b is not None and not dtypes.is_complex(out.dtype):
        out = pnp.where(sign < 0, np.nan, out)
    return out


def _promote_pair_inexact(a, b):
    a, b = pnp.asarray(a), pnp.asarray(b)
    dt = dtypes.result_type(a, b)
    if not dtypes.is_inexact(dt):
        dt = dtypes.default_float_dtype()
    return a.astype(dt), b.astype(dt)


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
    """log(mean(exp(x))) over `axis`: logsumexp minus the log of the element count."""
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    x = pnp.asarray(x)
    dims = _reduction_axes("logmeanexp", axis, x.ndim)
    if where is None:
        count = pnp.asarray(int(np.prod([x.shape[d] for d in dims])), dtype=lse.dtype)
    else:
        count = pnp.sum(pnp.broadcast_to(where, x.shape), axis=dims, keepdims=keepdims,
                        dtype=lse.dtype)
    return lse - pnp.log(count)


def _lowest(dtype):
    """-inf, or the lowest value of an integer dtype (what JAX's -inf converts to there)."""
    if dtypes.is_inexact(dtype):
        return -np.inf
    return False if dtype == dtypes.bool_ else int(np.iinfo(dtype).min)


def softmax(x, axis=-1, where=None):
    """exp(x) / sum(exp(x)) along `axis` (int, tuple or None), computed as exp(x - max(x)).
    Entries masked out by `where` are 0."""
    x = pnp.asarray(x)
    axes = _reduction_axes("softmax", axis, x.ndim)
    lowest = _lowest(x.dtype)
    x_max = pnp.max(x, axes, where=where, initial=lowest, keepdims=True)
    x_safe = x if where is None else pnp.where(where, x, lowest)
    unnormalized = pnp.exp(x_safe - lax.stop_gradient(x_max))
    result = unnormalized / pnp.sum(unnormalized, axes, where=where, keepdims=True)
    if where is not None:
        result = pnp.where(where, result, 0)
    return result


@compiled("axis", inline=True)
def log_softmax(x, axis=-1, where=None):
    """x - logsumexp(x) along `axis`, computed from x - max(x). Masked-out entries are -inf."""
    x = pnp.asarray(x)
    axes = _reduction_axes("log_softmax", axis, x.ndim)
    lowest = _lowest(x.dtype)
    x_max = pnp.max(x, axes, where=where, initial=lowest, keepdims=True)
    x_safe = x if where is None else pnp.where(where, x, lowest)
    shifted = x_safe - lax.stop_gradient(x_max)
    shifted_logsumexp = pnp.log(pnp.sum(pnp.exp(shifted), axes, where=where, keepdims=True))
    result = shifted - shifted_logsumexp
    if where is not None:
        return pnp.where(where, result, -np.inf)
    return result


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast"):
    """(x - mean) / sqrt(variance + epsilon), the statistics taken over `axis` unless given.
    algorithm="fast" uses mean(x**2) - mean(x)**2 (clipped at 0), "stable" the two-pass form."""
    x = pnp.asarray(x)
    axes = _reduction_axes("standardize", axis, x.ndim)
    if mean is None:
        mean = pnp.mean(x, axes, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = pnp.mean(pnp.square(x - mean), axes, keepdims=True, where=where)
        elif algorithm == "fast":
            variance = pnp.mean(pnp.square(x), axes, keepdims=True, where=where) \
                - pnp.square(mean)
            variance = pnp.clip(variance, 0)  # cancellation can make it slightly negative
        else:
            raise ValueError(f"standardize: unknown algorithm {algorithm!r}; expected 'fast' "
                             "or 'stable'")
    return (x - mean) * lax.rsqrt(pnp.asarray(variance + epsilon))


def one_hot(x: Any, num_classes: int, *, dtype=None, axis: int = -1):
    """x[..., None] == arange(num_classes), as `dtype` (default float), the class axis at
    `axis`. Out-of-range indices give all-zero rows."""
    num_classes = concrete_or_error(operator.index, num_classes,
                                    "the num_classes argument of plax.nn.one_hot")
    if num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be non-negative, got {num_classes}")
    x = pnp.asarray(x)
    dtype = dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)
    out_axis = _axis("one_hot", axis, x.ndim + 1)
    lhs = pnp.expand_dims(x, out_axis)
    rhs_shape = [1] * x.ndim
    rhs_shape.insert(out_axis, num_classes)
    rhs = lax.broadcasted_iota(x.dtype, tuple(rhs_shape), out_axis)
    return (lhs == rhs).astype(dtype)


def tanh(x):
    return pnp.tanh(x)
