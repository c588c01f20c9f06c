"""Fast Fourier transforms: the `fft` primitive over the trailing `len(fft_lengths)` (1 to 3)
dimensions, with its `FftType` (as jax.lax.fft). FFT/IFFT map complex to complex (IFFT divides
by the transform size), RFFT maps real to complex keeping fft_lengths[-1] // 2 + 1 entries of
the last dimension, and IRFFT inverts it, giving a real result of shape fft_lengths.
"""

from __future__ import annotations

import enum
import operator

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval

__all__ = ["FftType", "fft", "fft_p"]


class FftType(enum.IntEnum):
    """Which transform `fft` computes (as jax.lax.FftType; printed in jaxprs by value, as JAX
    prints it)."""
    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3

    def __repr__(self):
        return f"FftType.{self.name}"


_REAL = {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}
_COMPLEX = {dtypes.float32: dtypes.complex64, dtypes.float64: dtypes.complex128}


def _to_fft_type(fft_type) -> FftType:
    if isinstance(fft_type, FftType):
        return fft_type
    if isinstance(fft_type, str) and fft_type.upper() in FftType.__members__:
        return FftType[fft_type.upper()]
    raise ValueError(f"fft: fft_type must be a lax.FftType or one of 'fft', 'ifft', 'rfft', "
                     f"'irfft', got {fft_type!r}")


def _complex_of(dt):
    if dtypes.is_complex(dt):
        return dt
    if dt == dtypes.float64 or (not dtypes.is_float(dt) and dtypes.x64_enabled()):
        return dtypes.complex128
    return dtypes.complex64


# ---------------------------------------------------------------------------------------------
# the primitive

fft_p = Primitive("fft", linear_in=(0,))


def _fft_abstract(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    if not 1 <= k <= 3:
        raise PlaxTypeError(f"fft: fft_lengths must name 1 to 3 dimensions, got {fft_lengths}")
    if k > x.ndim:
        raise PlaxTypeError(f"fft: operand of shape {x.shape} has fewer dimensions than "
                            f"fft_lengths {fft_lengths}")
    lead, minor = x.shape[:-k], x.shape[-k:]
    if fft_type == FftType.RFFT:
        if x.dtype not in _COMPLEX:
            raise PlaxTypeError(f"fft: RFFT operand must be float32 or float64, got "
                                f"{x.dtype.name}")
        if minor != tuple(fft_lengths):
            raise PlaxTypeError(f"fft: RFFT operand shape {x.shape}: its trailing dimensions "
                                f"must equal fft_lengths {fft_lengths}")
        shape = lead + tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        dt = _COMPLEX[x.dtype]
    elif fft_type == FftType.IRFFT:
        if x.dtype not in _REAL:
            raise PlaxTypeError(f"fft: IRFFT operand must be complex64 or complex128, got "
                                f"{x.dtype.name}")
        want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        if minor != want:
            raise PlaxTypeError(f"fft: IRFFT operand shape {x.shape}: its trailing dimensions "
                                f"must be {want} for fft_lengths {fft_lengths}")
        shape = lead + tuple(fft_lengths)
        dt = _REAL[x.dtype]
    else:
        if x.dtype not in _REAL:
            raise PlaxTypeError(f"fft: {fft_type.name} operand must be complex64 or "
                                f"complex128, got {x.dtype.name}")
        if minor != tuple(fft_lengths):
            raise PlaxTypeError(f"fft: {fft_type.name} operand shape {x.shape}: its trailing "
                                f"dimensions must equal fft_lengths {fft_lengths}")
        shape, dt = x.shape, x.dtype
    return ShapedArray(shape, dt, x.weak_type)


add_abstract_eval(fft_p, _fft_abstract)


def fft(x, fft_type, fft_lengths):
    """The `fft_type` transform over the trailing len(fft_lengths) dimensions of `x` (as
    jax.lax.fft): RFFT converts its operand to a float type (complex operands are an error),
    the others to a complex type (float32 -> complex64, float64 -> complex128)."""
    typ = _to_fft_type(fft_type)
    try:
        lengths = tuple(operator.index(n) for n in fft_lengths)
    except TypeError:
        raise TypeError(f"fft: fft_lengths must be a sequence of ints, got "
                        f"{fft_lengths!r}") from None
    from plax._src.lax.elementwise import convert_element_type
    dt = get_aval(x).dtype
    if typ == FftType.RFFT:
        if dtypes.is_complex(dt):
            raise ValueError(f"fft: RFFT needs a real operand, got {dt.name}")
        target = dt if dtypes.is_float(dt) else dtypes.default_float_dtype()
    else:
        target = _complex_of(dt)
    if target != dt:
        x = convert_element_type(x, target)
    if not lengths:
        return x
    return fft_p.bind(x, fft_type=typ, fft_lengths=lengths)
