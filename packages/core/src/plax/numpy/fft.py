"""plax.numpy.fft: discrete Fourier transforms (as jax.numpy.fft)."""

from plax._src.numpy.fft import *  # noqa: F401,F403
from plax._src.numpy.fft import (  # noqa: F401
    fft, fft2, fftfreq, fftn, fftshift, hfft, ifft, ifft2, ifftn, ifftshift, ihfft, irfft,
    irfft2, irfftn, rfft, rfft2, rfftfreq, rfftn)
