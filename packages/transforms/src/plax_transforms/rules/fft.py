"""jvp, transpose and batching rules of fft. It is linear: the jvp is the fft of the tangent.
The DFT matrix is symmetric, so FFT and IFFT are their own transposes; RFFT and IRFFT
transpose into each other, weighting the entries that RFFT's half spectrum stands for twice
(all but the zero frequency and, for even lengths, the Nyquist one), as JAX does."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax_transforms.batching import moveaxis
from plax_transforms.rules._util import dtype, linear_unary_jvp, ndim, shape, skip_zero_ct

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}

_FftType = lax.FftType


def _half_weights(m: int, n: int) -> np.ndarray:
    """1 for the zero frequency (and the Nyquist one when n is even), 2 for the others."""
    w = np.full((m,), 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _last_axis_const(values: np.ndarray, like, dt):
    """`values` (a vector along the last axis) broadcast to the shape of `like`."""
    return lax.broadcast_in_dim(np.asarray(values, dtype=dt), shape(like), (ndim(like) - 1,))


@skip_zero_ct
def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    n_total = math.prod(fft_lengths)
    if fft_type == _FftType.RFFT:
        w = n_total / _half_weights(shape(ct)[-1], fft_lengths[-1])
        scaled = lax.mul(lax.conj(ct), _last_axis_const(w, ct, dtype(ct)))
        out = lax.fft(scaled, _FftType.IRFFT, fft_lengths)
    elif fft_type == _FftType.IRFFT:
        spec = lax.fft(ct, _FftType.RFFT, fft_lengths)
        w = _half_weights(shape(spec)[-1], fft_lengths[-1]) / n_total
        out = lax.conj(lax.mul(spec, _last_axis_const(w, spec, dtype(spec))))
    else:
        out = lax.fft(ct, fft_type, fft_lengths)
    return [out]


def _fft_batch(vals, dims, *, fft_type, fft_lengths):
    (x,), (d,) = vals, dims
    return lax.fft_p.bind(moveaxis(x, d, 0), fft_type=fft_type, fft_lengths=fft_lengths), 0


JVP[lax.fft_p] = linear_unary_jvp(lax.fft_p)
TRANSPOSE[lax.fft_p] = _fft_transpose
BATCH[lax.fft_p] = _fft_batch
