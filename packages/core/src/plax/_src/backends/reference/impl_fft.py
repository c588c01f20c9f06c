"""NumPy implementation of fft: numpy.fft over the trailing dimensions, cast to the result
dtype (NumPy computes in double precision)."""

from __future__ import annotations

import numpy as np

from plax._src.lax import fft as lf

_COMPLEX = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}
_REAL = {np.dtype(np.complex64): np.float32, np.dtype(np.complex128): np.float64}


def _fft(x, *, fft_type, fft_lengths):
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == lf.FftType.FFT:
        out, dt = np.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == lf.FftType.IFFT:
        out, dt = np.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == lf.FftType.RFFT:
        out, dt = np.fft.rfftn(x, axes=axes), _COMPLEX[x.dtype]
    else:
        out, dt = np.fft.irfftn(x, s=fft_lengths, axes=axes), _REAL[x.dtype]
    return np.asarray(out).astype(dt, copy=False)


IMPLS = {
    lf.fft_p: _fft,
}
