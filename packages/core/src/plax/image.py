"""plax.image (as jax.image): resizing and scale-and-translate of images by separable
resampling kernels (triangle, Keys cubic, OpenCV/PyTorch cubic, Lanczos 3 and 5, box area),
antialiased when downsampling, each spatial axis one matrix contraction; nearest neighbour by
indexing."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np

from plax import numpy as pnp
from plax._src.core import canonicalize_shape
from plax._src.numpy.util import promote_dtypes_inexact

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


class ResizeMethod(enum.Enum):
    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s: str) -> ResizeMethod:
        names = {"nearest": "NEAREST", "linear": "LINEAR", "bilinear": "LINEAR",
                 "trilinear": "LINEAR", "triangle": "LINEAR", "lanczos3": "LANCZOS3",
                 "lanczos5": "LANCZOS5", "cubic": "CUBIC", "bicubic": "CUBIC",
                 "tricubic": "CUBIC", "cubic-pytorch": "CUBIC_PYTORCH",
                 "bicubic-pytorch": "CUBIC_PYTORCH", "area": "AREA"}
        if s not in names:
            raise ValueError(f'Unknown resize method "{s}"')
        return ResizeMethod[names[s]]


def _lanczos(radius):
    def kernel(x):
        y = radius * pnp.sin(np.pi * x) * pnp.sin(np.pi * x / radius)
        safe = pnp.where(x != 0, np.pi ** 2 * x ** 2, 1)
        out = pnp.where(x > 1e-3, y / safe, 1)
        return pnp.where(x > radius, 0.0, out)
    return kernel


def _keys_cubic(x):
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = pnp.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return pnp.where(x >= 2.0, 0.0, out)


def _opencv_cubic(x, a=-0.75):
    out = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    out = pnp.where(x >= 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, out)
    return pnp.where(x >= 2.0, 0.0, out)


def _triangle(x):
    return pnp.maximum(0, 1 - pnp.abs(x))


_AREA = object()
_KERNELS = {ResizeMethod.LINEAR: (1, _triangle), ResizeMethod.LANCZOS3: (3, _lanczos(3.0)),
            ResizeMethod.LANCZOS5: (5, _lanczos(5.0)), ResizeMethod.CUBIC: (2, _keys_cubic),
            ResizeMethod.CUBIC_PYTORCH: (2, _opencv_cubic), ResizeMethod.AREA: (1, _AREA)}
_TINY = 1000.0 * float(np.finfo(np.float32).eps)


def _normalize(w):
    total = pnp.sum(w, axis=0, keepdims=True)
    return pnp.where(pnp.abs(total) > _TINY, w / pnp.where(total != 0, total, 1), 0)


def _weights(n_in: int, n_out: int, scale, translation, kernel, antialias: bool,
             edge_padding: bool, radius: int):
    """The (n_in, n_out) matrix taking an axis of n_in samples to n_out: output sample j sits
    at input coordinate (j + 1/2 - translation) / scale - 1/2; the kernel is widened by
    1/scale when antialiasing a downsample."""
    dtype = pnp.result_type(scale, translation)
    inv = 1.0 / scale
    kscale = pnp.maximum(inv, 1.0) if antialias else 1.0
    sample = (pnp.arange(n_out, dtype=dtype) + 0.5) * inv - translation * inv - 0.5
    if edge_padding:
        k = math.ceil(radius * max(1.0 / float(scale), 1.0)) if antialias else radius
    else:
        k = 0
    taps = pnp.arange(-k, n_in + k, dtype=dtype)
    if kernel is _AREA:
        left = pnp.arange(n_out, dtype=dtype) * inv - translation * inv
        cols = pnp.arange(n_in, dtype=dtype)
        w = pnp.maximum(0.0, pnp.minimum((left + inv)[None, :], (cols + 1.0)[:, None])
                        - pnp.maximum(left[None, :], cols[:, None]))
    else:
        w = kernel(pnp.abs(sample[None, :] - taps[:, None]) / kscale)
    if edge_padding:  # taps past the edges fold onto the edge samples
        rows = pnp.clip(taps.astype(np.int32), 0, n_in - 1)
        folded = pnp.zeros((n_in, n_out), dtype).at[
            rows[:, None], pnp.broadcast_to(pnp.arange(n_out), w.shape)].add(w)
        return _normalize(folded)
    w = _normalize(w)
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return pnp.where(inside[None, :], w, 0)


def _scale_and_translate(x, shape, dims, scale, translation, method, antialias, precision):
    if method == ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    edge_padding = method == ResizeMethod.CUBIC_PYTORCH and not antialias
    for i, d in enumerate(dims):
        w = _weights(x.shape[d], shape[d], scale[i], translation[i], kernel, antialias,
                     edge_padding, radius).astype(x.dtype)
        moved = pnp.moveaxis(x, d, -1)
        x = pnp.moveaxis(pnp.matmul(moved, w, precision=precision), -1, d)
    return x


def _method(method) -> ResizeMethod:
    return ResizeMethod.from_string(method) if isinstance(method, str) else method


def _check_rank(shape, image):
    if len(shape) != image.ndim:
        raise ValueError(f"shape must have length equal to the number of dimensions of x; "
                         f" {shape} vs {image.shape}")


def scale_and_translate(image, shape, spatial_dims: Sequence[int], scale, translation,
                        method, antialias: bool = True, precision="highest"):
    """Resample `image` to `shape` along spatial_dims, output coordinate y taking input
    x = (y - translation) / scale (per dimension), by the kernel of `method`."""
    shape = canonicalize_shape(shape)
    image = pnp.asarray(image)
    _check_rank(shape, image)
    method = _method(method)
    if method == ResizeMethod.NEAREST:
        raise ValueError("Nearest neighbor resampling is not currently supported for "
                         "scale_and_translate.")
    image, = promote_dtypes_inexact(image)
    scale, translation = promote_dtypes_inexact(pnp.asarray(scale), pnp.asarray(translation))
    dims = [d % image.ndim for d in spatial_dims]
    if not dims:
        return image
    return _scale_and_translate(image, shape, dims, [scale[i] for i in range(len(dims))],
                                [translation[i] for i in range(len(dims))], method,
                                antialias, precision)


def resize(image, shape, method, antialias: bool = True, precision="highest"):
    """`image` resampled to `shape` (each axis whose size changes): 'nearest', 'linear',
    'cubic', 'cubic-pytorch', 'lanczos3', 'lanczos5' or 'area' (or a ResizeMethod);
    antialiased when shrinking unless antialias=False."""
    shape = canonicalize_shape(shape)
    image = pnp.asarray(image)
    _check_rank(shape, image)
    method = _method(method)
    if method == ResizeMethod.NEAREST:
        for d in [d for d in range(image.ndim) if image.shape[d] != shape[d]]:
            m, n = image.shape[d], shape[d]
            offsets = pnp.floor((np.arange(n, dtype=np.float32) + 0.5) * np.float32(m)
                                / np.float32(n)).astype(np.int32)
            image = pnp.take(image, offsets, axis=d)
        return image
    image, = promote_dtypes_inexact(image)
    dims = [d for d in range(image.ndim) if image.shape[d] != shape[d]]
    scale = [1.0 if shape[d] == 0 else shape[d] / image.shape[d] for d in dims]
    return _scale_and_translate(image, shape, dims, scale, [0.0] * len(dims), method,
                                antialias, precision)
