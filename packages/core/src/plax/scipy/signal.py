"""plax.scipy.signal: N-dimensional convolution and correlation (direct, or through the FFT),
their 2-D forms, detrend, and the spectral estimates stft, istft, welch and csd (as
jax.scipy.signal). The direct method sums shifted copies of the larger input weighted by the
smaller one's entries: exact, differentiable, one term per entry of the smaller input. The
spectral estimates cut the signal into windowed segments (one gather), FFT them, and average
(welch, csd) or overlap-add them back (istft), following SciPy's _spectral_helper as JAX does."""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from plax import lax
from plax import numpy as pnp
from plax._src.core import concrete_or_error
from plax._src.numpy.util import canonicalize_axis, promote_dtypes_inexact, to_complex

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "csd", "detrend",
           "fftconvolve", "istft", "stft", "welch"]

_MODES = ("full", "same", "valid")


def _out_shape(mode: str, s1, s2, full):
    if mode == "full":
        return full
    if mode == "same":
        return tuple(s1)
    return tuple(a - b + 1 for a, b in zip(s1, s2))


def _crop(x, full, out):
    start = tuple((f - o) // 2 for f, o in zip(full, out))
    return lax.slice(x, start, tuple(s + o for s, o in zip(start, out)))


def _check(name, in1, in2, mode):
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {list(_MODES)}, got {mode!r}")
    if in1.ndim != in2.ndim:
        raise ValueError(f"{name}: in1 and in2 should have the same dimensionality, got "
                         f"{in1.ndim} and {in2.ndim}")
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"{name}: zero-size arrays not supported in convolutions, got shapes "
                         f"{in1.shape} and {in2.shape}.")


def _swap_for_valid(name, in1, in2):
    no_swap = all(a >= b for a, b in zip(in1.shape, in2.shape))
    swap = all(a <= b for a, b in zip(in1.shape, in2.shape))
    if not (no_swap or swap):
        raise ValueError(f"{name}: for 'valid' mode, one input must be at least as large as "
                         "the other in every dimension.")
    return (in2, in1) if swap and not no_swap else (in1, in2)


def _direct(in1, in2, mode):
    if mode == "valid":
        in1, in2 = _swap_for_valid("convolve", in1, in2)
    s1, s2 = in1.shape, in2.shape
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    out = _out_shape(mode, s1, s2, full)
    big, small = (in1, in2) if in1.size >= in2.size else (in2, in1)
    pads = [(k - 1, k - 1) for k in small.shape]
    padded = pnp.pad(big, pads)
    flipped = pnp.flip(small)
    acc = None
    for idx in itertools.product(*(range(k) for k in small.shape)):
        window = lax.slice(padded, idx, tuple(i + f for i, f in zip(idx, full)))
        term = window * flipped[idx]
        acc = term if acc is None else acc + term
    return _crop(acc, full, out)


def fftconvolve(in1, in2, mode: str = "full", axes: int | Sequence[int] | None = None):
    """Convolution of two N-d arrays through the FFT (over `axes`; other axes must agree in
    size and are treated as a batch)."""
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("fftconvolve", in1, in2, mode)
    if axes is None:
        axes = tuple(range(in1.ndim))
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    axes = tuple(canonicalize_axis(a, in1.ndim, "fftconvolve") for a in axes)
    batch = [i for i in range(in1.ndim) if i not in axes]
    if any(in1.shape[i] != in2.shape[i] for i in batch):
        raise ValueError(f"fftconvolve: in1 and in2 must have matching shapes on the "
                         f"non-convolved axes, got {in1.shape} and {in2.shape}")
    if mode == "valid":
        in1, in2 = _swap_for_valid("fftconvolve", in1, in2)
    s1 = [in1.shape[a] for a in axes]
    s2 = [in2.shape[a] for a in axes]
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    complex_ = pnp.iscomplexobj(in1) or pnp.iscomplexobj(in2)
    fft, ifft = (pnp.fft.fftn, pnp.fft.ifftn) if complex_ else (pnp.fft.rfftn, pnp.fft.irfftn)
    conv = ifft(fft(in1, full, axes) * fft(in2, full, axes), full, axes)
    out = _out_shape(mode, s1, s2, full)
    start = [0] * in1.ndim
    size = list(conv.shape)
    for a, f, o in zip(axes, full, out):
        start[a], size[a] = (f - o) // 2, o
    return lax.slice(conv, tuple(start), tuple(s + n for s, n in zip(start, size)))


def convolve(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """Convolution of two N-d arrays: method 'direct' (or 'auto') or 'fft'."""
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method not in ("direct", "auto"):
        raise ValueError(f"convolve: got method={method!r}; expected 'auto', 'direct' or 'fft'")
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("convolve", in1, in2, mode)
    return _direct(in1, in2, mode)


def correlate(in1, in2, mode: str = "full", method: str = "auto", precision=None):
    """Cross-correlation of two N-d arrays: convolve with in2 conjugated and reversed."""
    in2 = pnp.asarray(in2)
    return convolve(in1, pnp.flip(pnp.conj(in2)), mode, method=method, precision=precision)


def _check_2d(name, in1, in2, boundary, fillvalue):
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"{name}() only supports boundary='fill', fillvalue=0")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f"{name}() only supports 2-dimensional inputs.")


def convolve2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
               precision=None):
    """Convolution of two 2-d arrays (zero fill outside)."""
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return convolve(in1, in2, mode)


def correlate2d(in1, in2, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
                precision=None):
    """Cross-correlation of two 2-d arrays (zero fill outside)."""
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    in1, in2 = promote_dtypes_inexact(pnp.asarray(in1), pnp.asarray(in2))
    _check("correlate2d", in1, in2, mode)
    swap = all(a <= b for a, b in zip(in1.shape, in2.shape))
    same_shape = in1.shape == in2.shape
    # SciPy's conventions: the 'same' window is centred on the flipped problem, and a larger
    # in2 swaps the roles of the inputs
    if mode != "same" and swap and not (mode == "valid" and same_shape):
        out = _direct(pnp.flip(in2), pnp.conj(in1), mode)
        return out if mode == "valid" else pnp.conj(out)
    return pnp.flip(_direct(pnp.flip(in1), pnp.conj(in2), mode))


def detrend(data, axis: int = -1, type: str = "linear", bp=0,  # noqa: A002 - SciPy's name
            overwrite_data=None):
    """`data` minus its mean ('constant') or minus a least-squares line fitted on each
    segment between the breakpoints `bp` ('linear')."""
    if overwrite_data is not None:
        raise NotImplementedError("overwrite_data argument not implemented.")
    if type not in ("constant", "linear"):
        raise ValueError("Trend type must be 'linear' or 'constant'.")
    x, = promote_dtypes_inexact(pnp.asarray(data))
    if type == "constant":
        return x - pnp.mean(x, axis, keepdims=True)
    axis = canonicalize_axis(axis, x.ndim, "detrend")
    n = x.shape[axis]
    bps = np.sort(np.unique(np.r_[0, bp, n]))
    if np.any(bps > n) or np.any(bps < 0):
        raise ValueError("Breakpoints must be non-negative and less than length of data along "
                         "given axis.")
    moved = pnp.moveaxis(x, axis, 0)
    pieces = []
    for lo, hi in zip(bps[:-1], bps[1:]):
        seg = moved[int(lo):int(hi)]
        m = int(hi - lo)
        t = pnp.arange(1, m + 1, dtype=x.dtype) / m
        t = pnp.reshape(t, (m,) + (1,) * (seg.ndim - 1))
        tc = t - pnp.mean(t)
        slope = pnp.sum(tc * (seg - pnp.mean(seg, 0)), 0) / pnp.sum(tc * tc)
        pieces.append(seg - pnp.mean(seg, 0) - slope * tc)
    return pnp.moveaxis(pnp.concatenate(pieces, 0), 0, axis)


# ---------------------------------------------------------------------------------------------
# Spectral estimates: stft, istft, csd, welch


def _hann(n: int, dtype):
    if n == 1:
        return pnp.ones((1,), dtype)
    return (pnp.sin(pnp.linspace(0, np.pi, n, endpoint=False)) ** 2).astype(dtype)


def _named_window(window, n: int, dtype):
    """A window given by name or (name, *params) tuple: 'hann' directly, others through
    scipy.signal.get_window (periodic, as SciPy's spectral functions use them)."""
    if isinstance(window, str) and window == "hann":
        return _hann(n, dtype)
    from scipy.signal import get_window  # imported on first use
    return pnp.asarray(get_window(window, n), dtype)


def _triage_segments(window, nperseg, input_length: int, dtype):
    """(window array, nperseg) from a window name/tuple (nperseg defaults to the input
    length, capped there) or a 1-d window array (nperseg is its length)."""
    if isinstance(window, (str, tuple)):
        n = input_length if nperseg is None else int(nperseg)
        if n > input_length:
            warnings.warn(f"nperseg={n} is greater than input_length={input_length}, using "
                          f"nperseg={input_length}", stacklevel=3)
            n = input_length
        return _named_window(window, n, dtype), n
    win = pnp.asarray(window, dtype)
    n = win.size if nperseg is None else int(nperseg)
    if win.ndim != 1:
        raise ValueError("window must be 1-D")
    if input_length < win.size:
        raise ValueError("window is longer than input signal")
    if n != win.size:
        raise ValueError("value specified for nperseg is different from length of window")
    return win, n


def _segments(x, nperseg: int, noverlap: int):
    """x [..., n] cut into its segments [..., nseg, nperseg] (one gather of static indices)."""
    n = x.shape[-1]
    if nperseg == 1 and noverlap == 0:
        return x[..., None]
    starts = np.arange(0, n - nperseg + 1, nperseg - noverlap)
    idx = starts[:, None] + np.arange(nperseg)[None, :]
    return pnp.take(x, pnp.asarray(idx.astype(np.int32)), axis=-1)


def _fft_segments(x, win, detrend_func, nperseg, noverlap, nfft, sides):
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(win.dtype)
    seg = detrend_func(_segments(x, nperseg, noverlap))
    if pnp.iscomplexobj(win) and not pnp.iscomplexobj(seg):
        seg = seg.astype(to_complex(seg.dtype))
    seg = win * seg
    if sides == "twosided":
        return pnp.fft.fft(seg, n=nfft)
    return pnp.fft.rfft(pnp.real(seg), n=nfft)


def _odd_ext(x, n: int):
    if n < 1:
        return x
    if n > x.shape[-1] - 1:
        raise ValueError(f"The extension length n ({n}) is too big. It must not exceed "
                         f"x.shape[axis]-1, which is {x.shape[-1] - 1}.")
    left = 2 * x[..., :1] - pnp.flip(x[..., 1:n + 1], -1)
    right = 2 * x[..., -1:] - pnp.flip(x[..., -(n + 1):-1], -1)
    return pnp.concatenate((left, x, right), axis=-1)


def _pad_last(mode, **kw):
    def pad(x, n):
        return pnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(n, n)], mode, **kw)
    return pad


_BOUNDARY = {"even": _pad_last("reflect"), "odd": _odd_ext, "constant": _pad_last("edge"),
             "zeros": _pad_last("constant", constant_values=0.0), None: None}


def _static_int(x, what: str) -> int:
    return concrete_or_error(int, x, what)


def _spectral_helper(x, y, fs, window, nperseg, noverlap, nfft, detrend_type,
                     return_onesided, scaling, axis, mode, boundary=None, padded=False):
    """(freqs, times, segment spectra [..., freq, segment] moved back to `axis`) as SciPy's
    _spectral_helper; y=None is the auto-spectrum."""
    if boundary not in _BOUNDARY:
        raise ValueError(f"Unknown boundary option '{boundary}', must be one of: "
                         f"{list(_BOUNDARY)}")
    x = pnp.asarray(x)
    axis = canonicalize_axis(_static_int(axis, "axis of windowed-FFT"), x.ndim, "spectral")
    if y is None:
        x, = promote_dtypes_inexact(x)
        outer = x.shape[:axis] + x.shape[axis + 1:]
    else:
        if mode != "psd":
            raise ValueError("two-argument mode is available only when mode=='psd'")
        x, y = promote_dtypes_inexact(x, pnp.asarray(y))
        if x.ndim != y.ndim:
            raise ValueError(f"two-arguments must have the same rank ({x.ndim} vs {y.ndim}).")
        try:
            outer = np.broadcast_shapes(x.shape[:axis] + x.shape[axis + 1:],
                                        y.shape[:axis] + y.shape[axis + 1:])
        except ValueError as err:
            raise ValueError("x and y cannot be broadcast together.") from err
    result_dtype = to_complex(x.dtype)
    freq_dtype = np.finfo(result_dtype).dtype
    if nperseg is not None:
        nperseg = _static_int(nperseg, "nperseg of windowed-FFT")
        if nperseg < 1:
            raise ValueError("nperseg must be a positive integer")
    win, nperseg = _triage_segments(window, nperseg, x.shape[axis], x.dtype)
    noverlap = nperseg // 2 if noverlap is None else _static_int(noverlap, "noverlap")
    nfft = nperseg if nfft is None else _static_int(nfft, "nfft of windowed-FFT")
    if y is None and x.size == 0:
        return (pnp.zeros(x.shape, freq_dtype), pnp.zeros(x.shape, freq_dtype),
                pnp.zeros(x.shape, result_dtype))
    if y is not None and (x.size == 0 or y.size == 0):
        shape = list(outer)
        shape.insert(axis, min(x.shape[axis], y.shape[axis]))
        return (pnp.zeros(shape, freq_dtype), pnp.zeros(shape, freq_dtype),
                pnp.zeros(shape, result_dtype))
    x = pnp.moveaxis(x, axis, -1)
    if y is not None:
        if y.ndim > 1:
            y = pnp.moveaxis(y, axis, -1)
        if x.shape[-1] < y.shape[-1]:
            x = pnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, y.shape[-1] - x.shape[-1])])
        elif y.shape[-1] < x.shape[-1]:
            y = pnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, x.shape[-1] - y.shape[-1])])
    if nfft < nperseg:
        raise ValueError("nfft must be greater than or equal to nperseg.")
    if noverlap >= nperseg:
        raise ValueError("noverlap must be less than nperseg.")
    nstep = nperseg - noverlap
    if boundary is not None:
        x = _BOUNDARY[boundary](x, nperseg // 2)
        if y is not None:
            y = _BOUNDARY[boundary](y, nperseg // 2)
    if padded:
        nadd = (-(x.shape[-1] - nperseg) % nstep) % nperseg
        x = pnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, nadd)])
        if y is not None:
            y = pnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, nadd)])
    if isinstance(detrend_type, str):
        def detrend_func(d):
            return detrend(d, type=detrend_type, axis=-1)
    elif callable(detrend_type):
        def detrend_func(d):
            # JAX 0.10.2 hands a callable the segments with `axis` (canonical, so never -1)
            # moved last, and moves it back: the same here, for the same results
            return pnp.moveaxis(detrend_type(pnp.moveaxis(d, axis, -1)), -1, axis)
    elif not detrend_type:
        def detrend_func(d):
            return d
    else:
        raise ValueError(f"Unsupported detrend type: {detrend_type}")
    if scaling == "density":
        scale = 1.0 / (fs * (win * win).sum())
    elif scaling == "spectrum":
        scale = 1.0 / win.sum() ** 2
    else:
        raise ValueError(f"Unknown scaling: {scaling}")
    if mode == "stft":
        scale = pnp.sqrt(scale)
    sides = "onesided" if return_onesided else "twosided"
    if return_onesided and (pnp.iscomplexobj(x) or (y is not None and pnp.iscomplexobj(y))):
        sides = "twosided"
        warnings.warn("Input data is complex, switching to return_onesided=False", stacklevel=3)
    if sides == "twosided":
        freqs = pnp.fft.fftfreq(nfft, 1 / fs, dtype=freq_dtype)
    else:
        freqs = pnp.fft.rfftfreq(nfft, 1 / fs, dtype=freq_dtype)
    result = _fft_segments(x, win, detrend_func, nperseg, noverlap, nfft, sides)
    if y is not None:
        result = pnp.conjugate(result) * _fft_segments(y, win, detrend_func, nperseg,
                                                       noverlap, nfft, sides)
    elif mode == "psd":
        result = pnp.conjugate(result) * result
    result = result * pnp.asarray(scale).astype(result.dtype)
    if sides == "onesided" and mode == "psd":
        end = None if nfft % 2 else -1
        result = result.at[..., 1:end].mul(2)
    time = pnp.arange(nperseg / 2, x.shape[-1] - nperseg / 2 + 1, nstep,
                      dtype=freq_dtype) / fs
    if boundary is not None:
        time = time - (nperseg / 2) / fs
    result = result.astype(result_dtype)
    if y is None and mode != "stft":
        result = pnp.real(result)
    return freqs, time, pnp.moveaxis(result, -1, axis)


def stft(x, fs=1.0, window: Any = "hann", nperseg: int = 256, noverlap: int | None = None,
         nfft: int | None = None, detrend: bool | str | Callable = False,
         return_onesided: bool = True, boundary: str | None = "zeros", padded: bool = True,
         axis: int = -1):
    """Short-time Fourier transform of `x` along `axis`: (f, t, Zxx), as
    jax.scipy.signal.stft (SciPy's with scaling='spectrum')."""
    return _spectral_helper(x, None, fs, window, nperseg, noverlap, nfft, detrend,
                            return_onesided, scaling="spectrum", axis=axis, mode="stft",
                            boundary=boundary, padded=padded)


def _median_bias(n: int) -> float:
    ii_2 = np.arange(2.0, n, 2)
    return 1 + np.sum(1.0 / (ii_2 + 1) - 1.0 / ii_2)


def csd(x, y, fs=1.0, window: Any = "hann", nperseg: int | None = None,
        noverlap: int | None = None, nfft: int | None = None,
        detrend: bool | str | Callable = "constant", return_onesided: bool = True,
        scaling: str = "density", axis: int = -1, average: str = "mean"):
    """Cross power spectral density of `x` and `y` by Welch's method: (f, Pxy), averaging
    the segments' periodograms by 'mean' or 'median' (y=None gives x's PSD)."""
    freqs, _, pxy = _spectral_helper(x, y, fs, window, nperseg, noverlap, nfft, detrend,
                                     return_onesided, scaling, axis, mode="psd")
    if y is not None:
        pxy = pxy.astype(to_complex(pxy.dtype))
    if pxy.ndim >= 2 and pxy.size > 0:
        if pxy.shape[-1] > 1:
            if average == "median":
                bias = _median_bias(pxy.shape[-1])
                if pnp.iscomplexobj(pxy):
                    pxy = (pnp.median(pnp.real(pxy), axis=-1)
                           + 1j * pnp.median(pnp.imag(pxy), axis=-1))
                else:
                    pxy = pnp.median(pxy, axis=-1)
                pxy = pxy / pnp.asarray(bias).astype(pxy.dtype)
            elif average == "mean":
                pxy = pxy.mean(axis=-1)
            else:
                raise ValueError(f'average must be "median" or "mean", got {average}')
        else:
            pxy = pnp.reshape(pxy, pxy.shape[:-1])
    return freqs, pxy


def welch(x, fs=1.0, window: Any = "hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None,
          detrend: bool | str | Callable = "constant", return_onesided: bool = True,
          scaling: str = "density", axis: int = -1, average: str = "mean"):
    """Power spectral density of `x` by Welch's method: (f, Pxx)."""
    freqs, pxx = csd(x, None, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap,
                     nfft=nfft, detrend=detrend, return_onesided=return_onesided,
                     scaling=scaling, axis=axis, average=average)
    return freqs, pnp.real(pxx)


def _overlap_and_add(x, step: int):
    """x [..., frames, frame_length] summed with frame i shifted by i * step: [..., out]."""
    *batch, nframes, seglen = x.shape
    out_len = step * (nframes - 1) + seglen
    # each frame placed in a zero row of out_len at its offset (a pad per frame), then summed
    idx = (np.arange(nframes)[:, None] * step + np.arange(seglen)[None, :]).reshape(-1)
    flat = pnp.reshape(x, (*batch, nframes * seglen))
    zeros = pnp.zeros((*batch, out_len), x.dtype)
    return zeros.at[..., pnp.asarray(idx.astype(np.int32))].add(flat)


def istft(Zxx, fs=1.0, window: Any = "hann", nperseg: int | None = None,
          noverlap: int | None = None, nfft: int | None = None, input_onesided: bool = True,
          boundary: bool = True, time_axis: int = -1, freq_axis: int = -2):
    """Inverse short-time Fourier transform: (t, x), the inverse of stft by weighted
    overlap-add, as jax.scipy.signal.istft."""
    Zxx = pnp.asarray(Zxx)
    if Zxx.ndim < 2:
        raise ValueError("Input stft must be at least 2d!")
    freq_axis = canonicalize_axis(freq_axis, Zxx.ndim, "istft")
    time_axis = canonicalize_axis(time_axis, Zxx.ndim, "istft")
    if freq_axis == time_axis:
        raise ValueError("Must specify differing time and frequency axes!")
    Zxx = Zxx.astype(to_complex(Zxx.dtype))
    n_default = 2 * (Zxx.shape[freq_axis] - 1) if input_onesided else Zxx.shape[freq_axis]
    nperseg = _static_int(nperseg or n_default, "nperseg: segment length of STFT")
    if nperseg < 1:
        raise ValueError("nperseg must be a positive integer")
    if nfft is None:
        nfft_ = n_default + (1 if input_onesided and nperseg == n_default + 1 else 0)
    else:
        nfft_ = _static_int(nfft, "nfft of STFT")
    if nfft_ < nperseg:
        raise ValueError(f"FFT length ({nfft_}) must be longer than nperseg ({nperseg}).")
    noverlap = _static_int(noverlap or nperseg // 2, "noverlap of STFT")
    if noverlap >= nperseg:
        raise ValueError("noverlap must be less than nperseg.")
    nstep = nperseg - noverlap
    if time_axis != Zxx.ndim - 1 or freq_axis != Zxx.ndim - 2:
        outer = tuple(i for i in range(Zxx.ndim) if i not in (time_axis, freq_axis))
        Zxx = pnp.transpose(Zxx, outer + (freq_axis, time_axis))
    ifunc = pnp.fft.irfft if input_onesided else pnp.fft.ifft
    xsubs = ifunc(Zxx, axis=-2, n=nfft)[..., :nperseg, :]
    if isinstance(window, (str, tuple)):
        win = _named_window(window, nperseg, xsubs.dtype)
    else:
        win = pnp.asarray(window)
        if win.ndim != 1:
            raise ValueError("window must be 1-D")
        if win.shape[0] != nperseg:
            raise ValueError(f"window must have length of {nperseg}")
    xsubs = xsubs * win.sum()  # undoes stft's 'spectrum' scaling
    win = pnp.reshape(win, (1,) * (xsubs.ndim - 2) + (nperseg, 1))
    x = _overlap_and_add(pnp.swapaxes(xsubs * win, -2, -1), nstep)
    win_sq = pnp.broadcast_to(win * win, win.shape[:-1] + (xsubs.shape[-1],))
    norm = _overlap_and_add(pnp.swapaxes(win_sq, -2, -1), nstep)
    if boundary:
        x = x[..., nperseg // 2:-(nperseg // 2)]
        norm = norm[..., nperseg // 2:-(nperseg // 2)]
    x = x / pnp.where(norm > 1e-10, norm, 1.0)
    if x.ndim > 1 and time_axis != Zxx.ndim - 1:
        if freq_axis < time_axis:
            time_axis -= 1
        x = pnp.moveaxis(x, -1, time_axis)
    time = pnp.arange(x.shape[0], dtype=np.finfo(x.dtype).dtype) / fs
    return time, x
