"""Library implementations of dot_general (cuBLAS through xp.matmul: both operands to
(batch, free, contract) layouts, flattened to batched matrices; 16-bit floats accumulate in
float32) and fft (cuFFT / numpy.fft over the trailing dimensions)."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax_cupy import xp as X

def _rank(dt) -> tuple:
    """XLA's 'higher precision type' order for mixed-dtype dots (as JAX): complex above real,
    then exponent range, mantissa, bit width, signed above unsigned."""
    from plax.numpy import finfo
    dt = np.dtype(dt)
    real = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(dt, dt)
    fl = real.kind == "f" or real.name == "bfloat16"
    bits = 1 if real == np.bool_ else real.itemsize * 8
    return (dt.kind == "c", finfo(real).maxexp if fl else -1, finfo(real).nmant if fl else -1,
            bits, real.kind != "u")


def _dot_general(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    xp = X.xp
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    out = np.dtype(preferred_element_type or (lhs.dtype if _rank(lhs.dtype) >= _rank(rhs.dtype)
                                              else rhs.dtype))
    if isinstance(precision, (lax.DotAlgorithm, lax.DotAlgorithmPreset)):
        # a dot algorithm: operands rounded to its types, the sum to its accumulation type
        if not X.on_gpu():
            precision.check_platform("cpu")
        lt, rt, acc = precision.compute_dtypes(lhs.dtype, rhs.dtype, out)
        res = _dot_general(lhs.astype(lt, copy=False), rhs.astype(rt, copy=False),
                           dimension_numbers=dimension_numbers, precision=None,
                           preferred_element_type=acc)
        return res.astype(out, copy=False)
    half = out.itemsize < 4 and (out.kind == "f" or out.name == "bfloat16")
    ct = np.dtype(np.float32) if half else out
    if X.on_gpu() and ct.kind in "biu":
        ct_run = np.dtype(np.float64)  # cuBLAS has no integer GEMM: exact for |x| < 2**53
    else:
        ct_run = ct
    batch = [lhs.shape[d] for d in lb]
    lf, rf = [lhs.shape[d] for d in lfree], [rhs.shape[d] for d in rfree]
    k = math.prod(lhs.shape[d] for d in lc)
    a = xp.transpose(lhs, list(lb) + lfree + list(lc)).astype(ct_run, copy=False)
    b = xp.transpose(rhs, list(rb) + list(rc) + rfree).astype(ct_run, copy=False)
    a = a.reshape(batch + [math.prod(lf), k])
    b = b.reshape(batch + [k, math.prod(rf)])
    with X.quiet():  # integer wraparound and inf/nan are the answer, as XLA
        res = xp.matmul(a, b)
    return res.reshape(batch + lf + rf).astype(out, copy=False)


_COMPLEX = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}
_REAL = {np.dtype(np.complex64): np.float32, np.dtype(np.complex128): np.float64}


def _fft(x, *, fft_type, fft_lengths):
    fft = X.xp.fft
    kind = getattr(fft_type, "name", str(fft_type))
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if kind == "FFT":
        out, dt = fft.fftn(x, axes=axes), x.dtype
    elif kind == "IFFT":
        out, dt = fft.ifftn(x, axes=axes), x.dtype
    elif kind == "RFFT":
        out, dt = fft.rfftn(x, axes=axes), _COMPLEX[x.dtype]
    else:
        out, dt = fft.irfftn(x, s=fft_lengths, axes=axes), _REAL[x.dtype]
    return X.xp.asarray(out).astype(dt, copy=False)


LIBRARY = {
    "dot_general": _dot_general,
    "fft": _fft,
}
