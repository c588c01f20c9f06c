"""Microscaling (MX) matrix products of plax.nn, as jax.nn's: scaled_matmul (block-scaled
operands, contracted over their last dimension), scaled_dot_general (quantize both operands to
mxfp8 or nvfp4 blocks, then scaled_matmul, with JAX's custom gradient: the cotangent and the
other operand quantized by the gradient config, a straight-through estimator), and
get_scaled_dot_general_config.

JAX runs these only through cuDNN on NVIDIA GPUs. plax computes the same quantities with a
dequantize-then-dot composition on every backend: a quantized value is a float32 holding a
value of the narrow type exactly (plax arrays do not hold the 8- and 4-bit float types), a
scale one of float8_e8m0fnu's powers of two (or, for nvfp4, a float8_e4m3fn value), and the
product sums (value * scale) pairs in float32, the accumulation cuDNN uses."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Any

import ml_dtypes
import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src import dtypes
from plax._src.lax.compositions import narrow_float_operand

__all__ = ["BlockScaleConfig", "get_scaled_dot_general_config", "scaled_dot_general",
           "scaled_matmul"]


@dataclasses.dataclass
class BlockScaleConfig:
    """How one operand is quantized (as JAX's): `mode` 'mxfp8' or 'nvfp4', `block_size`
    consecutive entries share a scale, values of `data_type`, scales of `scale_type`, and
    nvfp4's `global_scale`."""
    mode: str
    block_size: int
    data_type: Any
    scale_type: Any
    global_scale: Any
    infer_only: bool


def get_scaled_dot_general_config(mode: str, global_scale=None) -> BlockScaleConfig:
    """The quantization config of `mode`: 'mxfp8' (float8_e4m3fn values in blocks of 32 with
    float8_e8m0fnu scales) or 'nvfp4' (float4_e2m1fn values in blocks of 16 with
    float8_e4m3fn scales and a float32 global scale, 1 by default)."""
    if mode == "nvfp4":
        gs = pnp.ones((1,), np.float32) if global_scale is None else global_scale
        return BlockScaleConfig("nvfp4", 16, ml_dtypes.float4_e2m1fn, ml_dtypes.float8_e4m3fn,
                                gs, False)
    if mode == "mxfp8":
        return BlockScaleConfig("mxfp8", 32, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e8m0fnu,
                                None, False)
    raise ValueError(f"Unsupported mode: {mode}")


# ---------------------------------------------------------------------------------------------
# scaled_matmul


def scaled_matmul(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
    """Block-scaled batched matrix product (as jax.nn.scaled_matmul): lhs (B, M, K) and rhs
    (B, N, K) times their scales (B, M, K_a) and (B, N, K_b), each scale covering K // K_a
    consecutive entries along K; the result (B, M, N), summed in float32."""
    a, b, sa, sb = (pnp.asarray(narrow_float_operand(x, np.float32))
                    for x in (lhs, rhs, lhs_scales, rhs_scales))
    if not all(x.ndim == 3 for x in (a, b, sa, sb)):
        raise ValueError("scaled_matmul requires all inputs to be 3-dimensional arrays")
    if a.shape[2] != b.shape[2] or a.shape[0] != b.shape[0]:
        raise ValueError(f"scaled_matmul requires inputs a and b to have matching batch (B) "
                         f"and contract (K) dimensions, but got shapes {a.shape} and "
                         f"{b.shape}")
    if sa.shape[2] != sb.shape[2] or sa.shape[0] != sb.shape[0]:
        raise ValueError(f"scaled_matmul requires scales to have matching batch (B) and "
                         f"contract (K) dimensions, but got shapes {sa.shape} and {sb.shape}")
    if sa.shape[1] != a.shape[1] or sb.shape[1] != b.shape[1]:
        raise ValueError(f"scaled_matmul requires scales to match non-contract dimensions of "
                         f"inputs, but got shapes a: {a.shape}, b: {b.shape}, a_scales: "
                         f"{sa.shape}, b_scales: {sb.shape}")
    if a.shape[2] % sa.shape[2]:
        raise ValueError(f"scaled_matmul: the contract dimension {a.shape[2]} is not a "
                         f"multiple of the scales' {sa.shape[2]}")
    out = dtypes.canonicalize_dtype(preferred_element_type)
    return _scaled_matmul(a, b, sa, sb, out)


def _scaled_matmul(a, b, sa, sb, out):
    f32 = np.float32
    a = a.astype(f32) * pnp.repeat(sa.astype(f32), a.shape[2] // sa.shape[2], axis=2)
    b = b.astype(f32) * pnp.repeat(sb.astype(f32), b.shape[2] // sb.shape[2], axis=2)
    res = lax.dot_general(a, b, (((2,), (2,)), ((0,), (0,))), preferred_element_type=f32)
    return res.astype(out)


# ---------------------------------------------------------------------------------------------
# quantization (JAX's quantize, with the narrow types held in float32)


def _round_to_format(x, mantissa_bits: int, min_exponent: int):
    """float32 `x` (within the format's range) rounded to nearest-even on the grid of a float
    format with `mantissa_bits` and smallest normal exponent `min_exponent` (subnormals
    included): what a cast to float8_e4m3fn (3, -6) or float4_e2m1fn (1, 0) gives."""
    bits = lax.bitcast_convert_type(x, np.uint32)
    exp = ((bits >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int32) - 127
    step_exp = pnp.maximum(exp, min_exponent) - mantissa_bits
    step = lax.bitcast_convert_type(((step_exp + 127) << 23).astype(np.uint32), np.float32)
    return pnp.round(x / step) * step


_FORMATS = {np.dtype(ml_dtypes.float8_e4m3fn): (3, -6),
            np.dtype(ml_dtypes.float4_e2m1fn): (1, 0)}


def _cast_narrow(x, dtype):
    mant, emin = _FORMATS[np.dtype(dtype)]
    return _round_to_format(x.astype(np.float32), mant, emin)


def _e8m0_round_up(x):
    """JAX's cast_to_e8m0_with_rounding_up: the exponent field of float32 `x`, plus one when
    its mantissa is not zero (a power of two at least x), as uint32."""
    bits = lax.bitcast_convert_type(x.astype(np.float32), np.uint32)
    exp, mant = bits >> np.uint32(23), bits & np.uint32(0x7FFFFF)
    up = (mant > 0) & (exp != 0xFE) & ~((exp == 0) & (mant <= 0x400000))
    return pnp.where(up, exp + np.uint32(1), exp)


def _e8m0_value(exp, dtype):
    """The power of two an e8m0 exponent stands for, in `dtype` (0 becomes a tiny value, as
    JAX's e8m0_to_dtype)."""
    val = lax.bitcast_convert_type(exp << np.uint32(23), np.float32)
    tiny = 2.0 ** -15 if np.dtype(dtype) == np.float16 else 2.0 ** -127
    return pnp.where(val == 0, np.float32(tiny), val).astype(dtype)


def _quantize(x, config: BlockScaleConfig):
    """(values, scales) of x (B, M, K) quantized in blocks of config.block_size along K:
    values float32 holding data_type values (B, M, K), scales float32 (B, M, K / block)."""
    shape = x.shape
    bs = config.block_size
    if shape[-1] < bs or shape[-1] % bs:
        raise ValueError(f"scaled_dot_general: the contracting size {shape[-1]} must be a "
                         f"positive multiple of the block size {bs} ({config.mode})")
    x = pnp.reshape(x, shape[:-1] + (shape[-1] // bs, bs))
    big = np.asarray(float(ml_dtypes.finfo(config.data_type).max), x.dtype)

    def block_scales(v):
        return pnp.max(pnp.abs(v), axis=-1, keepdims=True) / big
    if config.mode == "mxfp8":
        exp = _e8m0_round_up(block_scales(x))
        scaled = x / _e8m0_value(exp, x.dtype)
        scales = _e8m0_value(exp, np.float32)
    elif config.mode == "nvfp4":
        scale_max = np.asarray(float(ml_dtypes.finfo(config.scale_type).max), x.dtype)
        x = x / pnp.asarray(config.global_scale).astype(x.dtype)
        scales = _cast_narrow(pnp.clip(block_scales(x), 0, scale_max), config.scale_type)
        scaled = x / scales.astype(x.dtype)
    else:
        raise ValueError(f"Unrecognized mode: {config.mode}.")
    values = _cast_narrow(pnp.clip(scaled, -big, big), config.data_type)
    return pnp.reshape(values, shape), pnp.reshape(scales, scales.shape[:-1])


# ---------------------------------------------------------------------------------------------
# scaled_dot_general


def _to_3d(x, contract, batch):
    """x transposed to (batch, free, contracting) and flattened to (B, M, K)."""
    free = [d for d in range(x.ndim) if d not in contract and d not in batch]
    order = sorted(batch) + free + sorted(contract)
    size = lambda ds: math.prod(x.shape[d] for d in ds)  # noqa: E731
    return pnp.reshape(pnp.transpose(x, order), (size(batch), size(free), size(contract)))


def _out_shape(lshape, rshape, ldn, rdn):
    (lc, lb), (rc, rb) = ldn, rdn
    return (tuple(s for i, s in enumerate(lshape) if i in lb)
            + tuple(s for i, s in enumerate(lshape) if i not in lc and i not in lb)
            + tuple(s for i, s in enumerate(rshape) if i not in rc and i not in rb))


def _scaled_dot_impl(lhs, rhs, dn, out_dtype, configs):
    (lc, rc), (lb, rb) = dn
    lq, ls = _quantize(_to_3d(lhs, lc, lb), configs[0])
    rq, rs = _quantize(_to_3d(rhs, rc, rb), configs[1])
    nv = configs[0].mode == "nvfp4"
    out = _scaled_matmul(lq, rq, ls, rs, np.float32 if nv else out_dtype)
    if nv:
        gscale = pnp.asarray(configs[0].global_scale) * pnp.asarray(configs[1].global_scale)
        out = (out * gscale).astype(out_dtype)
    return pnp.reshape(out, _out_shape(lhs.shape, rhs.shape, (lc, lb), (rc, rb)))


def _transpose_lhs(g, x, y, dn, out_dtype, configs, swap_ans=False):
    """The cotangent of x in dot(x, y) (or dot(y, x) when swap_ans), as JAX's
    scaled_dot_general_transpose_lhs."""
    (xc, yc), (xb, yb) = dn
    x_kept = [d for d in range(x.ndim) if d not in xc and d not in xb]
    y_kept = [d for d in range(y.ndim) if d not in yc and d not in yb]
    nb = len(xb)
    if swap_ans:
        ans_batch, ans_y = list(range(nb)), list(range(nb, nb + len(y_kept)))
    else:
        ans_batch = list(range(nb))
        ans_y = list(range(nb + len(x_kept), nb + len(x_kept) + len(y_kept)))
    xc_by_y = [xc[i] for i in np.argsort(yc)]
    out_axes = np.argsort(list(xb) + x_kept + xc_by_y)
    y_dn, g_dn = (y_kept, list(yb)), (ans_y, ans_batch)
    y3, g3 = _to_3d(y, *y_dn), _to_3d(g, *g_dn)
    if configs[0].mode != "nvfp4":
        gq, gs = _quantize(g3, configs[0])
        yq, ys = _quantize(y3, configs[1])
        out = _scaled_matmul(gq, yq, gs, ys, out_dtype)
    else:
        out = pnp.matmul(g3, pnp.swapaxes(y3, 1, 2), preferred_element_type=out_dtype)
    out = pnp.reshape(out, _out_shape(g.shape, y.shape, g_dn, y_dn))
    return pnp.transpose(out, tuple(int(i) for i in out_axes))


def _scaled_dot_bwd(dn, out_dtype, configs, res, g):
    lhs, rhs = res
    (lc, rc), (lb, rb) = dn
    grad_lhs = _transpose_lhs(g, lhs, rhs, dn, out_dtype, [configs[2], configs[1]])
    grad_rhs = _transpose_lhs(g, rhs, lhs, ((rc, lc), (rb, lb)), out_dtype,
                              [configs[2], configs[0]], swap_ans=True)
    if configs[2].mode == "nvfp4":
        # straight-through estimator: entries clipped by the forward quantization get 0
        big = float(ml_dtypes.finfo(configs[0].data_type).max)
        smax = float(ml_dtypes.finfo(configs[0].scale_type).max)
        lim_l = pnp.asarray(configs[0].global_scale) * big * smax
        lim_r = pnp.asarray(configs[1].global_scale) * big * smax
        grad_lhs = pnp.where(pnp.abs(lhs) <= lim_l, grad_lhs, 0)
        grad_rhs = pnp.where(pnp.abs(rhs) <= lim_r, grad_rhs, 0)
    return grad_lhs.astype(lhs.dtype), grad_rhs.astype(rhs.dtype)


@functools.lru_cache(maxsize=None)
def _scaled_dot_fn():
    """scaled_dot_general's function with its custom gradient (plax.custom_vjp, where
    plax-transforms is installed: without it there are no gradients to define)."""
    from plax._src import registry
    cvjp = registry.get_api("custom_vjp")

    def fn(lhs, rhs, dn, out_dtype, configs):
        return _scaled_dot_impl(lhs, rhs, dn, out_dtype, configs)
    if cvjp is None:
        return fn
    f = cvjp(fn, nondiff_argnums=(2, 3, 4))

    def fwd(lhs, rhs, dn, out_dtype, configs):
        return _scaled_dot_impl(lhs, rhs, dn, out_dtype, configs), (lhs, rhs)
    f.defvjp(fwd, _scaled_dot_bwd)
    return f


class _Configs(tuple):
    """The configs as a hashable static argument (compared by identity of their arrays)."""
    def __hash__(self):
        return hash(tuple(id(c) for c in self))

    def __eq__(self, other):
        return isinstance(other, _Configs) and all(a is b for a, b in zip(self, other)) \
            and len(self) == len(other)


def scaled_dot_general(lhs, rhs, dimension_numbers, preferred_element_type=np.float32,
                       configs=None, implementation=None):
    """dot_general of lhs and rhs quantized block-wise by `configs` (as
    jax.nn.scaled_dot_general): configs[0] and [1] for the operands, configs[2] for the
    cotangent in the gradient (see get_scaled_dot_general_config); without configs,
    lax.dot_general. preferred_element_type: float32, bfloat16 or float16."""
    if implementation is not None:
        warnings.warn("Backend selector, now ignored. The system chooses the backend "
                      "automatically.", DeprecationWarning, stacklevel=2)
    if configs is None:
        return lax.dot_general(lhs, rhs, dimension_numbers,
                               preferred_element_type=preferred_element_type)
    out = dtypes.canonicalize_dtype(preferred_element_type)
    if out not in (dtypes.float32, dtypes.bfloat16, dtypes.float16):
        raise TypeError(f"Only support preferred_element_type in (f32, bf16, f16), but got "
                        f"{out}")
    if len(configs) < 3:
        raise ValueError(f"scaled_dot_general needs 3 configs (lhs, rhs, gradient), got "
                         f"{len(configs)}")
    lhs, rhs = pnp.asarray(lhs), pnp.asarray(rhs)
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    squeeze = False
    if not dn[1][0] or not dn[1][1]:
        # no batch dimension: one of size 1 added at the end of each operand, then dropped
        if not dn[1][0]:
            lhs, lb2 = pnp.expand_dims(lhs, lhs.ndim), (lhs.ndim,)
        else:
            lb2 = dn[1][0]
        if not dn[1][1]:
            rhs, rb2 = pnp.expand_dims(rhs, rhs.ndim), (rhs.ndim,)
        else:
            rb2 = dn[1][1]
        squeeze = (lb2, rb2) != dn[1]
        dn = (dn[0], (lb2, rb2))
    res = _scaled_dot_fn()(lhs, rhs, dn, out, _Configs(configs))
    return pnp.squeeze(res, axis=0) if squeeze else res
