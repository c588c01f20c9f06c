"""plax.scipy.linalg's special matrices (as jax.scipy.linalg): block_diag, toeplitz, hankel,
circulant, leslie, companion, fiedler, fiedler_companion, convolution_matrix, hilbert,
invhilbert, pascal, invpascal, helmert, hadamard and dft. Vector arguments batch over
their leading dimensions; sizes are static Python ints."""

from __future__ import annotations

import math
import operator

import numpy as np

import plax.numpy as jnp
from plax._src import dtypes
from plax._src.numpy.util import check_arraylike, promote_dtypes, promote_dtypes_inexact

__all__ = [
    "block_diag", "circulant", "companion", "convolution_matrix", "dft", "fiedler",
    "fiedler_companion", "hadamard", "hankel", "helmert", "hilbert", "invhilbert",
    "invpascal", "leslie", "pascal", "toeplitz",
]


def _gather_last(v, idx: np.ndarray):
    """v[..., idx] for a static integer index array."""
    return jnp.take(v, jnp.asarray(idx.reshape(-1)), axis=-1).reshape(v.shape[:-1] + idx.shape)


def block_diag(*arrs):
    """The block-diagonal matrix of the (at most 2-D) arguments."""
    if not arrs:
        arrs = (jnp.zeros((1, 0)),)
    check_arraylike("scipy.linalg.block_diag", *arrs)
    arrs = [jnp.atleast_2d(a) for a in promote_dtypes(*arrs)]
    for i, a in enumerate(arrs):
        if a.ndim > 2:
            raise ValueError(f"scipy.linalg.block_diag: arguments must have at most 2 "
                             f"dimensions, got shape {a.shape} at argument {i}")
    total = sum(a.shape[1] for a in arrs)
    rows, col = [], 0
    for a in arrs:
        rows.append(jnp.pad(a, ((0, 0), (col, total - col - a.shape[1]))))
        col += a.shape[1]
    return jnp.concatenate(rows, axis=0)


def _align(c, r):
    c, r = jnp.atleast_1d(c), jnp.atleast_1d(r)
    c, r = promote_dtypes(c, r)
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    return jnp.broadcast_to(c, batch + c.shape[-1:]), jnp.broadcast_to(r, batch + r.shape[-1:])


def toeplitz(c, r=None):
    """T[i, j] = c[i - j] for i >= j, r[j - i] above the diagonal (r[0] unused); r defaults
    to conj(c)."""
    check_arraylike("scipy.linalg.toeplitz", c, *([] if r is None else [r]))
    c = jnp.asarray(c)
    r = jnp.conj(c) if r is None else jnp.asarray(r)
    c, r = _align(c, r)
    m, n = c.shape[-1], r.shape[-1]
    elems = jnp.concatenate([c[..., ::-1], r[..., 1:]], axis=-1)
    idx = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return _gather_last(elems, idx)


def hankel(c, r=None):
    """H[i, j] = c[i + j] while inside c, then r[i + j - m + 1]; r defaults to zeros."""
    check_arraylike("scipy.linalg.hankel", c, *([] if r is None else [r]))
    c = jnp.asarray(c)
    if c.ndim == 0:
        raise ValueError("scipy.linalg.hankel: c must be at least 1-dimensional")
    r = jnp.zeros_like(c) if r is None else jnp.asarray(r)
    if r.ndim == 0:
        raise ValueError("scipy.linalg.hankel: r must be at least 1-dimensional")
    c, r = _align(c, r)
    m, n = c.shape[-1], r.shape[-1]
    elems = jnp.concatenate([c, r[..., 1:]], axis=-1)
    idx = np.arange(m)[:, None] + np.arange(n)[None, :]
    return _gather_last(elems, idx)


def circulant(c):
    """C[i, j] = c[(i - j) mod n]."""
    check_arraylike("scipy.linalg.circulant", c)
    c = jnp.atleast_1d(jnp.asarray(c))
    n = c.shape[-1]
    return _gather_last(c, (np.arange(n)[:, None] - np.arange(n)[None, :]) % n)


def leslie(f, s):
    """The Leslie matrix: fecundities f in the first row, survival rates s below the
    diagonal."""
    check_arraylike("scipy.linalg.leslie", f, s)
    f, s = promote_dtypes(jnp.atleast_1d(f), jnp.atleast_1d(s))
    n = f.shape[-1]
    if n < 2:
        raise ValueError(f"scipy.linalg.leslie: f must have length at least 2, got shape "
                         f"{f.shape}")
    if s.shape[-1] != n - 1:
        raise ValueError(f"scipy.linalg.leslie: s must be one shorter than f, got shapes "
                         f"{f.shape} and {s.shape}")
    batch = np.broadcast_shapes(f.shape[:-1], s.shape[:-1])
    f, s = jnp.broadcast_to(f, batch + (n,)), jnp.broadcast_to(s, batch + (n - 1,))
    sub = s[..., :, None] * jnp.eye(n - 1, n, dtype=s.dtype)  # row i: s[i] at column i
    return jnp.concatenate([f[..., None, :], sub], axis=-2)


def companion(a):
    """The companion matrix of the polynomial with coefficients a (highest first)."""
    a, = promote_dtypes_inexact(jnp.atleast_1d(a))
    n = a.shape[-1]
    if n < 2:
        raise ValueError(f"scipy.linalg.companion: a must have length at least 2, got shape "
                         f"{a.shape}")
    first = -a[..., 1:] / a[..., :1]
    below = jnp.broadcast_to(jnp.eye(n - 2, n - 1, dtype=a.dtype), a.shape[:-1] +
                             (n - 2, n - 1))
    return jnp.concatenate([first[..., None, :], below], axis=-2)


def fiedler(a):
    """F[i, j] = |a[i] - a[j]|."""
    check_arraylike("scipy.linalg.fiedler", a)
    a = jnp.atleast_1d(jnp.asarray(a))
    return jnp.abs(a[..., :, None] - a[..., None, :])


def fiedler_companion(a):
    """The pentadiagonal Fiedler companion matrix of the polynomial a (highest first)."""
    a, = promote_dtypes_inexact(jnp.atleast_1d(a))
    n = a.shape[-1] - 1
    if n < 0:
        raise ValueError("scipy.linalg.fiedler_companion: a must not be empty")
    if n == 0:
        return jnp.zeros(a.shape[:-1] + (0, 0), a.dtype)
    a = a / a[..., :1]
    if n == 1:
        return -a[..., 1:, None]
    # which entry of (-a[1:], 1) each cell holds (a static pattern), -1 for zero
    pick = np.full((n, n), -1)
    pick[0, 0] = 0
    pick[1, 0] = n
    for i in range(0, n, 2):
        if i + 1 < n:
            pick[i, i + 1] = i + 1
        if i + 2 < n:
            pick[i, i + 2] = n
        if i >= 2:
            pick[i, i - 1] = i
    for i in range(3, n, 2):
        pick[i, i - 2] = n
    vals = jnp.concatenate([-a[..., 1:], jnp.ones(a.shape[:-1] + (1,), a.dtype),
                            jnp.zeros(a.shape[:-1] + (1,), a.dtype)], axis=-1)
    return _gather_last(vals, np.where(pick < 0, n + 1, pick))


def convolution_matrix(a, n: int, mode: str = "full"):
    """The Toeplitz matrix A with A @ v = convolve(a, v, mode) for v of length n."""
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"scipy.linalg.convolution_matrix: n must be positive, got {n}")
    check_arraylike("scipy.linalg.convolution_matrix", a)
    a = jnp.asarray(a)
    if a.ndim == 0:
        raise ValueError("scipy.linalg.convolution_matrix: a must be at least 1-dimensional")
    m = a.shape[-1]
    if m < 1:
        raise ValueError(f"scipy.linalg.convolution_matrix: len(a) must be at least 1, got "
                         f"shape {a.shape}")
    if mode not in ("full", "valid", "same"):
        raise ValueError(f"scipy.linalg.convolution_matrix: mode must be 'full', 'valid' or "
                         f"'same', got {mode!r}")
    pad = [(0, 0)] * (a.ndim - 1) + [(0, n - 1)]
    az, raz = jnp.pad(a, pad), jnp.pad(a[..., ::-1], pad)
    length = m + n - 1
    if mode == "same":
        trim = min(n, m) - 1
        tb, te = trim // 2, trim - trim // 2
    elif mode == "valid":
        tb = te = min(n, m) - 1
    else:
        tb = te = 0
    return toeplitz(az[..., tb:length - te], raz[..., length - n - tb:length - tb])


def _float():
    return dtypes.default_float_dtype()


def hilbert(n: int):
    """H[i, j] = 1 / (i + j + 1)."""
    i = np.arange(n)
    return jnp.asarray(1.0 / (i[:, None] + i[None, :] + 1), _float())


def invhilbert(n: int):
    """The inverse of the n x n Hilbert matrix (exact integers, as floats)."""
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = i + j
            out[i, j] = ((-1) ** s * (s + 1) * math.comb(n + i, n - j - 1)
                         * math.comb(n + j, n - i - 1) * math.comb(s, i) ** 2)
    return jnp.asarray(out, _float())


def _check_kind(kind):
    kind = "symmetric" if kind is None else kind
    if kind not in ("symmetric", "lower", "upper"):
        raise ValueError(f"kind must be 'symmetric', 'lower' or 'upper', got {kind!r}")
    return kind


def pascal(n: int, kind: str | None = None):
    """The Pascal matrix: binomial coefficients, symmetric, lower or upper triangular."""
    kind = _check_kind(kind)
    low = np.array([[math.comb(i, j) for j in range(n)] for i in range(n)], float)
    out = {"lower": low, "upper": low.T, "symmetric": low @ low.T}[kind]
    return jnp.asarray(out.reshape(n, n), _float())


def invpascal(n: int, kind: str | None = None):
    """The inverse of pascal(n, kind)."""
    kind = _check_kind(kind)
    low = np.array([[(-1) ** (i - j) * math.comb(i, j) for j in range(n)] for i in range(n)],
                   float).reshape(n, n)
    out = {"lower": low, "upper": low.T, "symmetric": low.T @ low}[kind]
    return jnp.asarray(out, _float())


def helmert(n: int, full: bool = False):
    """The Helmert matrix (n - 1 orthonormal contrast rows; the constant row first with
    full)."""
    if n < 1:
        raise ValueError(f"scipy.linalg.helmert: n must be positive, got {n}")
    h = np.zeros((n - 1, n))
    for i in range(n - 1):
        k = i + 1
        h[i, :k] = 1 / np.sqrt(k * (k + 1))
        h[i, k] = -k / np.sqrt(k * (k + 1))
    if full:
        h = np.concatenate([np.full((1, n), 1 / np.sqrt(n)), h])
    return jnp.asarray(h, _float())


def hadamard(n: int, dtype=int):
    """The Sylvester-construction Hadamard matrix of order n (a power of 2)."""
    if n < 1 or not math.log2(n).is_integer():
        raise ValueError(f"scipy.linalg.hadamard: n must be a positive power of 2, got {n}")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return jnp.asarray(h, dtypes.canonicalize_dtype(dtype))


def dft(n: int, scale: str | None = None, *, dtype=None):
    """The n-point DFT matrix (scaled by 1/sqrt(n) with 'sqrtn', 1/n with 'n')."""
    if scale not in (None, "sqrtn", "n"):
        raise ValueError(f"scipy.linalg.dft: scale must be None, 'sqrtn' or 'n', got {scale!r}")
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else (
        np.dtype(np.complex128) if dtypes.x64_enabled() else np.dtype(np.complex64))
    if not dtypes.is_complex(dt):
        raise ValueError(f"scipy.linalg.dft: dtype must be complex, got {dt}")
    k = np.arange(n)
    w = np.exp(-2j * np.pi * np.outer(k, k) / n)
    if scale == "sqrtn":
        w = w / np.sqrt(n)
    elif scale == "n":
        w = w / n
    return jnp.asarray(w, dt)
