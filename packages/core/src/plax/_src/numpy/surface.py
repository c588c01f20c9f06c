"""The rest of jax.numpy's surface: insert/delete, digitize, choose, compress, gcd/lcm,
geomspace, window functions, set operations, polynomial helpers, index tricks and the ml_dtypes
scalar types (float8, int4, ...). Index arguments that shape the output (insert's and
delete's `obj`, compress's condition without `size`) must be concrete, as in JAX."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import ml_dtypes
import numpy as np

import plax.numpy as pnp
from plax import lax
from plax._src import dtypes
from plax._src.core import concrete_or_error

__all__ = ["finfo", "iinfo", "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz", "float8_e4m3fn",
           "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
           "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "int1", "int2", "int4", "uint1",
           "uint2", "uint4", "single", "double", "csingle", "cdouble", "character", "flexible",
           "object_", "ComplexWarning", "get_printoptions", "printoptions", "set_printoptions",
           "index_exp", "s_", "iterable", "load", "save", "savez", "insert", "delete",
           "compress", "extract", "place", "put", "fill_diagonal", "digitize", "choose", "gcd",
           "lcm", "bitwise_count", "modf", "spacing", "iscomplex", "isreal", "geomspace",
           "bartlett", "blackman", "hamming", "hanning", "kaiser", "fromfunction",
           "frombuffer", "fromstring", "fromiter", "vander", "ix_", "block", "resize",
           "rollaxis", "diag_indices_from", "mask_indices", "ravel_multi_index", "unique_all",
           "unique_inverse", "union1d", "setdiff1d", "intersect1d", "setxor1d", "polyadd",
           "polysub", "polymul", "polyder", "polyint", "polydiv", "poly", "trim_zeros",
           "sort_complex", "ediff1d", "trapezoid", "unwrap", "unstack", "matvec", "vecmat",
           "apply_over_axes", "array_repr", "array_str", "i0", "packbits", "unpackbits"]

# --- scalar types (numpy's and ml_dtypes') --------------------------------------------------
float8_e3m4 = ml_dtypes.float8_e3m4
float8_e4m3 = ml_dtypes.float8_e4m3
float8_e4m3b11fnuz = ml_dtypes.float8_e4m3b11fnuz
float8_e4m3fn = ml_dtypes.float8_e4m3fn
float8_e4m3fnuz = ml_dtypes.float8_e4m3fnuz
float8_e5m2 = ml_dtypes.float8_e5m2
float8_e5m2fnuz = ml_dtypes.float8_e5m2fnuz
float8_e8m0fnu = ml_dtypes.float8_e8m0fnu
float4_e2m1fn = ml_dtypes.float4_e2m1fn
float6_e2m3fn = ml_dtypes.float6_e2m3fn
float6_e3m2fn = ml_dtypes.float6_e3m2fn
int1, int2, int4 = ml_dtypes.int1 if hasattr(ml_dtypes, "int1") else ml_dtypes.int2, \
    ml_dtypes.int2, ml_dtypes.int4
uint1, uint2, uint4 = ml_dtypes.uint1 if hasattr(ml_dtypes, "uint1") else ml_dtypes.uint2, \
    ml_dtypes.uint2, ml_dtypes.uint4
single, double, csingle, cdouble = np.float32, np.float64, np.complex64, np.complex128
character, flexible, object_ = np.character, np.flexible, np.object_
ComplexWarning = np.exceptions.ComplexWarning
get_printoptions, printoptions, set_printoptions = (np.get_printoptions, np.printoptions,
                                                    np.set_printoptions)
index_exp, s_ = np.index_exp, np.s_
iterable = np.iterable
from plax.dtypes import finfo, iinfo  # noqa: E402  (ml_dtypes types too: float8, int4)
load, save, savez = np.load, np.save, np.savez


def _static(x, what: str):
    return concrete_or_error(np.asarray, x, what)


def _gather_flat(sources, index):
    """Elements of the concatenated flattened `sources` at the host integer array `index`."""
    flat = pnp.concatenate([pnp.ravel(s) for s in sources])
    return pnp.take(flat, pnp.asarray(index.reshape(-1)), axis=0).reshape(index.shape)


# --- insert / delete / compress / extract --------------------------------------------------


def insert(arr, obj, values, axis: int | None = None):
    """A copy of `arr` with `values` inserted before `obj` along `axis` (NumPy's rules)."""
    arr = pnp.asarray(arr)
    values = pnp.asarray(values).astype(arr.dtype)
    obj = obj if isinstance(obj, slice) else _static(obj, "insert's obj")
    src = np.arange(arr.size).reshape(arr.shape)
    vals = np.arange(arr.size, arr.size + values.size).reshape(values.shape)
    index = np.insert(src, obj, vals, axis=axis)
    return _gather_flat([arr, values], index)


def delete(arr, obj, axis: int | None = None, *, assume_unique_indices: bool = False):
    """A copy of `arr` without the entries `obj` along `axis`."""
    arr = pnp.asarray(arr)
    obj = obj if isinstance(obj, slice) else _static(obj, "delete's obj")
    index = np.delete(np.arange(arr.size).reshape(arr.shape), obj, axis=axis)
    return _gather_flat([arr], index)


def compress(condition, a, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0, out=None):
    """The slices of `a` along `axis` where `condition` is True (`size` for a traced one)."""
    a = pnp.asarray(a)
    if axis is None:
        a, axis = pnp.ravel(a), 0
    cond = pnp.asarray(condition).astype(bool)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1D array")
    n = a.shape[axis]
    cond = cond[:n] if cond.shape[0] >= n else pnp.pad(cond, (0, n - cond.shape[0]))
    idx = pnp.nonzero(cond, size=size, fill_value=n)[0]
    moved = pnp.moveaxis(a, axis, 0)
    padded = pnp.concatenate([moved, pnp.full((1,) + moved.shape[1:], fill_value, a.dtype)])
    return pnp.moveaxis(padded[idx], 0, axis)


def extract(condition, arr, *, size: int | None = None, fill_value: Any = 0):
    """The entries of `arr` where `condition` is True, flattened."""
    return compress(pnp.ravel(condition), pnp.ravel(arr), size=size, fill_value=fill_value)


def place(arr, mask, vals, *, inplace: bool = True):
    """`arr` with the entries where `mask` holds replaced by `vals` (cycled); arrays are
    immutable, so inplace=False is required (as in JAX)."""
    if inplace:
        raise ValueError("plax.numpy.place cannot modify arrays in place; pass inplace=False")
    arr = pnp.asarray(arr)
    m = _static(mask, "place's mask").astype(bool).reshape(-1)
    vals = pnp.ravel(pnp.asarray(vals, arr.dtype))
    pos = np.nonzero(m)[0]
    if pos.size == 0:
        return arr
    take = pnp.take(vals, pnp.asarray(np.arange(pos.size) % vals.shape[0]))
    return pnp.ravel(arr).at[pnp.asarray(pos)].set(take).reshape(arr.shape)


def put(a, ind, v, mode: str | None = None, *, inplace: bool = True):
    """`a` with its flat entries `ind` set to `v` (cycled); inplace=False is required."""
    if inplace:
        raise ValueError("plax.numpy.put cannot modify arrays in place; pass inplace=False")
    a = pnp.asarray(a)
    ind = pnp.ravel(pnp.asarray(ind))
    v = pnp.ravel(pnp.asarray(v, a.dtype))
    if mode == "wrap":
        ind = ind % a.size
    elif mode == "clip":
        ind = pnp.clip(ind, 0, a.size - 1)
    elif mode not in (None, "fill", "raise"):
        raise ValueError(f"put: mode must be one of 'raise', 'wrap', 'clip', got {mode!r}")
    v = pnp.take(v, pnp.arange(ind.shape[0]) % v.shape[0]) if v.shape[0] else v
    return pnp.ravel(a).at[ind].set(v, mode="clip" if mode == "clip" else None
                                    ).reshape(a.shape)


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """`a` with its main diagonal set to `val` (cycled); inplace=False is required."""
    if inplace:
        raise ValueError("plax.numpy.fill_diagonal cannot modify arrays in place; pass "
                         "inplace=False")
    a = pnp.asarray(a)
    if a.ndim < 2:
        raise ValueError("array must be at least 2-d")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    if a.ndim == 2:  # NumPy's flat stride, wrapping past the square part when asked
        end = a.size if wrap else min(a.shape[1] * a.shape[1], a.size)
        flat = np.arange(0, end, a.shape[1] + 1)
        idx, n = tuple(np.unravel_index(flat, a.shape)), flat.size
    else:
        n = a.shape[0]
        idx = (np.arange(n),) * a.ndim
    val = pnp.ravel(pnp.asarray(val, a.dtype))
    val = pnp.take(val, pnp.asarray(np.arange(n) % val.shape[0]))
    return a.at[tuple(pnp.asarray(i) for i in idx)].set(val)


# --- searching and choosing ----------------------------------------------------------------


def digitize(x, bins, right: bool = False, *, method: str | None = None):
    """The index of the bin of `bins` (monotonic) each entry of `x` falls in."""
    x, bins = pnp.asarray(x), pnp.asarray(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array; got bins={bins}")
    if bins.shape[0] == 0:
        return pnp.zeros(x.shape, dtype=dtypes.default_int_dtype())
    side = "left" if right else "right"
    kw = {} if method is None else dict(method=method)
    up = pnp.searchsorted(bins, x, side=side, **kw)
    down = bins.shape[0] - pnp.searchsorted(bins[::-1], x, side=side, **kw)
    return pnp.where(bins[-1] >= bins[0], up, down).astype(dtypes.default_int_dtype())


def choose(a, choices, out=None, mode: str = "raise"):
    """choices[a[i]][i] for every index i (a and the choices broadcast together)."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to plax.numpy.choose is not supported.")
    a = pnp.asarray(a)
    if not dtypes.is_int(a.dtype):
        raise TypeError(f"choose: a must be an integer array, got dtype {a.dtype}")
    n = len(choices)
    if mode == "wrap":
        a = a % n
    elif mode == "clip":
        a = pnp.clip(a, 0, n - 1)
    elif mode == "raise":
        try:
            host = np.asarray(a)
        except Exception:
            raise ValueError("choose: mode='raise' needs a concrete index array; use mode="
                             "'wrap' or 'clip' under transformations") from None
        if host.size and (host.min() < 0 or host.max() >= n):
            raise ValueError("invalid entry in choice array")
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    stacked = pnp.stack(pnp.broadcast_arrays(*choices, a)[:-1])
    a = pnp.broadcast_to(a, stacked.shape[1:])
    return pnp.take_along_axis(stacked, a[None], axis=0)[0]


# --- integer arithmetic --------------------------------------------------------------------


def _int_pair(name, x1, x2):
    x1, x2 = pnp.asarray(x1), pnp.asarray(x2)
    dt = pnp.result_type(x1, x2)
    if not dtypes.is_int(dt):
        raise ValueError(f"Arguments to plax.numpy.{name} must be integers.")
    return pnp.broadcast_arrays(x1.astype(dt), x2.astype(dt))


def gcd(x1, x2):
    """Greatest common divisor of |x1| and |x2| (Euclid's algorithm, elementwise)."""
    x1, x2 = _int_pair("gcd", x1, x2)
    a, b = pnp.abs(x1), pnp.abs(x2)

    def body(ab):
        a, b = ab
        nz = b != 0
        safe = pnp.where(nz, b, pnp.ones_like(b))
        return pnp.where(nz, b, a), pnp.where(nz, a % safe, pnp.zeros_like(b))

    return lax.while_loop(lambda ab: pnp.any(ab[1] != 0), body, (a, b))[0]


def lcm(x1, x2):
    """Least common multiple of |x1| and |x2| (0 if either is 0)."""
    x1, x2 = _int_pair("lcm", x1, x2)
    d = gcd(x1, x2)
    safe = pnp.where(d == 0, pnp.ones_like(d), d)
    return pnp.where(d == 0, pnp.zeros_like(d), pnp.abs(x1 * (x2 // safe)))


def bitwise_count(x):
    """The number of 1 bits in |x|."""
    x = pnp.asarray(x)
    return lax.population_count(pnp.abs(x)).astype(np.uint8)


def modf(x, out=None):
    """The fractional and integral parts of x (both with x's sign)."""
    x = pnp.asarray(x)
    if not dtypes.is_inexact(x.dtype):
        x = x.astype(dtypes.default_float_dtype())
    whole = pnp.trunc(x)
    return x - whole, whole


def spacing(x):
    """The distance from x to the next float of larger magnitude."""
    x = pnp.asarray(x)
    if not dtypes.is_inexact(x.dtype):
        x = x.astype(dtypes.default_float_dtype())
    big = pnp.full_like(x, np.inf)
    out = pnp.nextafter(x, pnp.where(x < 0, -big, big)) - x
    return pnp.where(pnp.isinf(x), pnp.full_like(x, np.nan), out)


def iscomplex(x):
    x = pnp.asarray(x)
    return pnp.imag(x) != 0 if pnp.iscomplexobj(x) else pnp.zeros(x.shape, bool)


def isreal(x):
    x = pnp.asarray(x)
    return pnp.imag(x) == 0 if pnp.iscomplexobj(x) else pnp.ones(x.shape, bool)


# --- creation --------------------------------------------------------------------------------


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
    """Numbers spaced evenly on a log scale from start to stop (signs kept, as NumPy)."""
    start, stop = pnp.asarray(start), pnp.asarray(stop)
    dt = dtypes.canonicalize_dtype(dtype) if dtype is not None else \
        pnp.result_type(start, stop, float)
    sign = pnp.sign(start)
    res = sign * pnp.logspace(pnp.log10(start / sign), pnp.log10(stop / sign), num,
                              endpoint=endpoint, base=10.0, dtype=dt, axis=0)
    if num > 0:
        res = res.at[0].set(start)
        if endpoint and num > 1:
            res = res.at[-1].set(stop)
    return pnp.moveaxis(res, 0, axis).astype(dt)


def _window(name, M):
    M = int(concrete_or_error(int, M, f"M argument of plax.numpy.{name}"))
    return M, dtypes.default_float_dtype()


def bartlett(M):
    M, dt = _window("bartlett", M)
    if M <= 1:
        return pnp.ones(M, dt)
    n = pnp.arange(M, dtype=dt)
    return 1 - pnp.abs(2 * n - (M - 1)) / (M - 1)


def _cosine_window(name, M, coeffs):
    M, dt = _window(name, M)
    if M <= 1:
        return pnp.ones(M, dt)
    n = pnp.arange(M, dtype=dt)
    out = pnp.zeros(M, dt)
    for k, c in enumerate(coeffs):
        out = out + c * pnp.cos(2 * math.pi * k * n / (M - 1))
    return out


def blackman(M):
    return _cosine_window("blackman", M, (0.42, -0.5, 0.08))


def hamming(M):
    return _cosine_window("hamming", M, (0.54, -0.46))


def hanning(M):
    return _cosine_window("hanning", M, (0.5, -0.5))


def kaiser(M, beta):
    M, dt = _window("kaiser", M)
    if M <= 1:
        return pnp.ones(M, dt)
    from plax.scipy.special import i0
    n = pnp.arange(M, dtype=dt)
    alpha = 0.5 * (M - 1)
    beta = pnp.asarray(beta, dt)
    return i0(beta * pnp.sqrt(1 - ((n - alpha) / alpha) ** 2)) / i0(beta)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """function(*indices) over the grid of `shape`."""
    return function(*pnp.indices(shape, dtype=dtype), **kwargs)


def frombuffer(buffer, dtype=float, count: int = -1, offset: int = 0):
    return pnp.asarray(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset))


def fromstring(string, dtype=float, count: int = -1, *, sep: str):
    return pnp.asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def fromiter(iterable, dtype, count: int = -1):
    return pnp.asarray(np.fromiter(iterable, dtype=dtype, count=count))


def vander(x, N: int | None = None, increasing: bool = False):
    """The Vandermonde matrix of the 1-D x: columns x**(N-1), ..., x**0."""
    x = pnp.asarray(x)
    if x.ndim != 1:
        raise ValueError("x must be a one-dimensional array")
    N = x.shape[0] if N is None else int(N)  # noqa: N806
    powers = pnp.arange(N) if increasing else pnp.arange(N - 1, -1, -1)
    return pnp.power(x[:, None], powers[None, :].astype(x.dtype) if dtypes.is_inexact(
        x.dtype) else powers[None, :])


def ix_(*args):
    """Open meshes from 1-D index arrays, for indexing the cross product."""
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = pnp.asarray(a)
        if a.ndim != 1:
            raise ValueError(f"Arguments to plax.numpy.ix_ must be 1-dimensional, got shape "
                             f"{a.shape}")
        if a.dtype == np.bool_:
            a = pnp.nonzero(a)[0]
        out.append(a.reshape((1,) * i + (a.shape[0],) + (1,) * (n - i - 1)))
    return tuple(out)


def block(arrays):
    """An array assembled from nested lists of blocks (the innermost lists join along the
    last axis)."""
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list)
                                                                    else 0)

    def max_ndim(x):
        return max(max_ndim(e) for e in x) if isinstance(x, list) else pnp.ndim(x)

    d = depth(arrays)
    nd = max(d, max_ndim(arrays))

    def build(x, level):
        if not isinstance(x, list):
            a = pnp.asarray(x)
            return a.reshape((1,) * (nd - a.ndim) + a.shape)
        parts = [build(e, level + 1) for e in x]
        return pnp.concatenate(parts, axis=nd - d + level)

    if d == 0:
        return pnp.asarray(arrays)
    return build(arrays, 0)


def resize(a, new_shape):
    """`a` flattened, repeated (or cut) to fill `new_shape`."""
    a = pnp.ravel(pnp.asarray(a))
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    size = math.prod(new_shape)
    if a.size == 0 or size == 0:
        return pnp.zeros(new_shape, a.dtype)
    reps = -(-size // a.size)
    return pnp.tile(a, reps)[:size].reshape(new_shape)


def rollaxis(a, axis: int, start: int = 0):
    """Move `axis` to the position before `start` (prefer moveaxis)."""
    a = pnp.asarray(a)
    n = a.ndim
    axis = axis % n if -n <= axis < n else axis
    if not -n <= start <= n:
        raise ValueError(f"start={start} must satisfy {-n} <= start <= {n}")
    start = start % (n + 1) if start < 0 else start
    if axis < start:
        start -= 1
    return pnp.moveaxis(a, axis, start)


def diag_indices_from(arr):
    arr = pnp.asarray(arr)
    if arr.ndim < 2 or len(set(arr.shape)) != 1:
        raise ValueError("input array must be at least 2-d and with all dimensions equal")
    return pnp.diag_indices(arr.shape[0], arr.ndim)


def mask_indices(n: int, mask_func, k: int = 0, *, size: int | None = None):
    """Indices of the nonzero entries of mask_func(ones((n, n)), k)."""
    return pnp.nonzero(mask_func(pnp.ones((n, n)), k), size=size)


def ravel_multi_index(multi_index, dims, mode: str = "raise", order: str = "C"):
    """Flat indices of the index tuples `multi_index` into an array of shape `dims`."""
    dims = tuple(int(d) for d in dims)
    idx = [pnp.asarray(i) for i in multi_index]
    if len(idx) != len(dims):
        raise ValueError(f"parameter multi_index must be a sequence of length {len(dims)}")
    if mode == "wrap":
        idx = [i % d for i, d in zip(idx, dims)]
    elif mode == "clip":
        idx = [pnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    elif mode != "raise":
        raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', or 'clip'")
    strides = np.cumprod((1,) + (dims[::-1] if order == "C" else dims)[:-1])
    strides = strides[::-1] if order == "C" else strides
    out = 0
    for i, s in zip(idx, strides):
        out = out + i * int(s)
    return pnp.asarray(out)


# --- sets ------------------------------------------------------------------------------------


class _UniqueAll(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class _UniqueInverse(NamedTuple):
    values: Any
    inverse_indices: Any


def unique_all(x, /, *, size: int | None = None, fill_value: Any = None):
    values, indices, inverse, counts = pnp.unique(
        x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False,
        size=size, fill_value=fill_value)
    return _UniqueAll(values, indices, inverse.reshape(pnp.shape(x)), counts)


def unique_inverse(x, /, *, size: int | None = None, fill_value: Any = None):
    values, inverse = pnp.unique(x, return_inverse=True, equal_nan=False, size=size,
                                 fill_value=fill_value)
    return _UniqueInverse(values, inverse.reshape(pnp.shape(x)))


def union1d(ar1, ar2, *, size: int | None = None, fill_value: Any = None):
    both = pnp.concatenate([pnp.ravel(pnp.asarray(ar1)), pnp.ravel(pnp.asarray(ar2))])
    return pnp.unique(both, size=size, fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None):
    a = pnp.ravel(pnp.asarray(ar1))
    if not assume_unique:
        a = pnp.unique(a, size=size, fill_value=fill_value) if size is not None else \
            pnp.unique(a)
    keep = ~pnp.isin(a, pnp.ravel(pnp.asarray(ar2)))
    if size is None:
        return a[np.asarray(keep)]
    idx = pnp.nonzero(keep, size=size, fill_value=a.shape[0])[0]
    fill = a[0] if fill_value is None else fill_value
    return pnp.concatenate([a, pnp.full((1,), fill, a.dtype)])[idx]


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value: Any = None):
    a, b = pnp.ravel(pnp.asarray(ar1)), pnp.ravel(pnp.asarray(ar2))
    if return_indices:
        if size is not None:
            raise NotImplementedError("intersect1d with return_indices and size")
        ha, hb = np.asarray(a), np.asarray(b)
        vals, ia, ib = np.intersect1d(ha, hb, assume_unique=assume_unique,
                                      return_indices=True)
        return pnp.asarray(vals), pnp.asarray(ia), pnp.asarray(ib)
    ua = a if assume_unique else pnp.unique(a)
    keep = pnp.isin(ua, b)
    if size is None:
        return ua[np.asarray(keep)]
    idx = pnp.nonzero(keep, size=size, fill_value=ua.shape[0])[0]
    fill = (ua[0] if ua.shape[0] else 0) if fill_value is None else fill_value
    return pnp.concatenate([ua, pnp.full((1,), fill, ua.dtype)])[idx]


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None):
    a, b = pnp.ravel(pnp.asarray(ar1)), pnp.ravel(pnp.asarray(ar2))
    if not assume_unique:
        a, b = pnp.unique(a), pnp.unique(b)
    both = pnp.concatenate([a[np.asarray(~pnp.isin(a, b))], b[np.asarray(~pnp.isin(b, a))]])
    return pnp.unique(both, size=size, fill_value=fill_value)


# --- polynomials and misc --------------------------------------------------------------------


def _trim(p):
    return pnp.atleast_1d(pnp.asarray(p))


def polyadd(a1, a2):
    a1, a2 = _trim(a1), _trim(a2)
    n = max(a1.shape[0], a2.shape[0])
    return pnp.pad(a1, (n - a1.shape[0], 0)) + pnp.pad(a2, (n - a2.shape[0], 0))


def polysub(a1, a2):
    return polyadd(a1, -_trim(a2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    a1, a2 = _trim(a1), _trim(a2)
    from plax.scipy.signal import convolve
    out = convolve(a1, a2) if dtypes.is_inexact(pnp.result_type(a1, a2)) else \
        pnp.round(convolve(a1, a2)).astype(pnp.result_type(a1, a2))
    return out


def polyder(p, m: int = 1):
    p = _trim(p)
    if m < 0:
        raise ValueError("Order of derivative must be positive")
    for _ in range(m):
        n = p.shape[0]
        p = p[:-1] * pnp.arange(n - 1, 0, -1).astype(p.dtype if dtypes.is_inexact(p.dtype)
                                                     else p.dtype)
    return p


def polyint(p, m: int = 1, k=None):
    p = _trim(p)
    if not dtypes.is_inexact(p.dtype):
        p = p.astype(dtypes.default_float_dtype())
    ks = pnp.zeros(m, p.dtype) if k is None else pnp.broadcast_to(pnp.asarray(k, p.dtype),
                                                                  (m,))
    for i in range(m):
        n = p.shape[0]
        p = pnp.concatenate([p / pnp.arange(n, 0, -1).astype(p.dtype), ks[i:i + 1]])
    return p


def polydiv(u, v, *, trim_leading_zeros: bool = False):
    """Quotient and remainder of the polynomial division u / v."""
    u, v = _trim(u), _trim(v)
    dt = pnp.result_type(u, v, float)
    u, v = u.astype(dt), v.astype(dt)
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = 1.0 / v[0]
    q = pnp.zeros(max(m - n + 1, 1), dt)
    r = u
    for k in range(m - n + 1):
        d = scale * r[k]
        q = q.at[k].set(d)
        r = r.at[k:k + n + 1].add(-d * v)
    return q, r


def poly(seq_of_zeros):
    """The coefficients of the monic polynomial with the given roots (1-D input)."""
    z = pnp.atleast_1d(pnp.asarray(seq_of_zeros))
    if z.ndim != 1:
        raise NotImplementedError("poly of a matrix (its characteristic polynomial) needs "
                                  "eigenvalues")
    dt = pnp.result_type(z, float)
    out = pnp.ones(1, dt)
    for i in range(z.shape[0]):
        out = polymul(out, pnp.stack([pnp.ones((), dt), -z[i].astype(dt)]))
    return out


def trim_zeros(filt, trim: str = "fb"):
    f = _static(filt, "trim_zeros' filt")
    return pnp.asarray(np.trim_zeros(f, trim))


def sort_complex(a):
    a = pnp.sort(pnp.asarray(a))
    return a.astype(pnp.result_type(a, np.complex64))


def ediff1d(ary, to_end=None, to_begin=None):
    d = pnp.diff(pnp.ravel(pnp.asarray(ary)))
    parts = ([pnp.ravel(pnp.asarray(to_begin, d.dtype))] if to_begin is not None else []) + \
        [d] + ([pnp.ravel(pnp.asarray(to_end, d.dtype))] if to_end is not None else [])
    return pnp.concatenate(parts)


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """The trapezoid-rule integral of y along `axis` (sample points x, or spacing dx)."""
    y = pnp.moveaxis(pnp.asarray(y), axis, -1)
    if not dtypes.is_inexact(y.dtype):
        y = y.astype(dtypes.default_float_dtype())
    if x is None:
        d = dx
    else:
        x = pnp.asarray(x)
        d = pnp.diff(x) if x.ndim == 1 else pnp.diff(pnp.moveaxis(x, axis, -1), axis=-1)
    return pnp.sum(d * (y[..., 1:] + y[..., :-1]), axis=-1) * 0.5


def unwrap(p, discont=None, axis: int = -1, period=2 * math.pi):
    """p with jumps larger than `discont` between neighbours replaced by their period
    complement."""
    p = pnp.asarray(p)
    if not dtypes.is_inexact(p.dtype):
        p = p.astype(dtypes.default_float_dtype())
    half = period / 2
    discont = half if discont is None else discont
    dd = pnp.diff(p, axis=axis)
    ddmod = pnp.mod(dd + half, period) - half
    ddmod = pnp.where((ddmod == -half) & (dd > 0), pnp.full_like(ddmod, half), ddmod)
    correction = pnp.where(pnp.abs(dd) < discont, pnp.zeros_like(dd), ddmod - dd)
    first = lax.slice_in_dim(p, 0, 1, axis=axis % p.ndim)
    rest = lax.slice_in_dim(p, 1, p.shape[axis], axis=axis % p.ndim)
    return pnp.concatenate([first, rest + pnp.cumsum(correction, axis=axis)], axis=axis)


def unstack(x, /, *, axis: int = 0):
    x = pnp.asarray(x)
    if x.ndim == 0:
        raise ValueError("Unstack requires arrays with rank > 0, however a scalar array was "
                         "passed.")
    return tuple(pnp.moveaxis(x, axis, 0))


def matvec(x1, x2, /):
    """Matrix-vector products over the last axes (batch axes broadcast)."""
    return pnp.einsum("...ij,...j->...i", x1, x2)


def vecmat(x1, x2, /):
    """Vector-matrix products conj(x1) @ x2 over the last axes."""
    return pnp.einsum("...i,...ij->...j", pnp.conj(x1), x2)


def apply_over_axes(func, a, axes):
    a = pnp.asarray(a)
    for axis in axes:
        b = func(a, axis)
        a = b if b.ndim == a.ndim else pnp.expand_dims(b, axis)
    return a


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None):
    return np.array_repr(np.asarray(arr), max_line_width, precision, suppress_small)


def array_str(a, max_line_width=None, precision=None, suppress_small=None):
    return np.array_str(np.asarray(a), max_line_width, precision, suppress_small)


def i0(x):
    """The modified Bessel function of the first kind, order 0."""
    from plax.scipy.special import i0 as _i0
    return _i0(x)


def packbits(a, axis: int | None = None, bitorder: str = "big"):
    """Booleans (nonzero entries) packed 8 to a uint8 along `axis` (zero-padded)."""
    a = pnp.asarray(a)
    if bitorder not in ("big", "little"):
        raise ValueError("'order' must be either 'little' or 'big'")
    if axis is None:
        a, axis = pnp.ravel(a), 0
    a = pnp.moveaxis((a != 0).astype(np.uint8), axis, -1)
    n = a.shape[-1]
    a = pnp.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, -n % 8)]).reshape(a.shape[:-1] + (-1, 8))
    shifts = np.arange(8)[::-1] if bitorder == "big" else np.arange(8)
    out = pnp.sum(a << pnp.asarray(shifts.astype(np.uint8)), axis=-1).astype(np.uint8)
    return pnp.moveaxis(out, -1, axis)


def unpackbits(a, axis: int | None = None, count: int | None = None, bitorder: str = "big"):
    """The bits of the uint8 array `a` as a uint8 array of 0s and 1s along `axis`."""
    a = pnp.asarray(a)
    if a.dtype != np.uint8:
        raise TypeError("Expected an input array of unsigned byte data type")
    if bitorder not in ("big", "little"):
        raise ValueError("'order' must be either 'little' or 'big'")
    if axis is None:
        a, axis = pnp.ravel(a), 0
    shifts = np.arange(8)[::-1] if bitorder == "big" else np.arange(8)
    moved = pnp.moveaxis(a, axis, -1)
    bits = (moved[..., None] >> pnp.asarray(shifts.astype(np.uint8))) & np.uint8(1)
    bits = bits.reshape(moved.shape[:-1] + (8 * moved.shape[-1],))
    if count is not None:
        bits = bits[..., :count]
    return pnp.moveaxis(bits, -1, axis)


# --- index tricks ----------------------------------------------------------------------------


class _Grid:
    """mgrid/ogrid: NumPy's dense or open grids from static slices, as plax arrays."""

    def __init__(self, np_grid):
        self._grid = np_grid

    def __getitem__(self, key):
        out = self._grid[key]
        if isinstance(out, (list, tuple)):
            return [pnp.asarray(o) for o in out]
        arr = np.asarray(out)
        if arr.dtype == np.float64 or arr.dtype == np.int64:
            arr = arr.astype(dtypes.canonicalize_dtype(arr.dtype))
        return pnp.asarray(arr)


class _Concatenator:
    """r_/c_: concatenate arrays and static slices (slices become aranges or linspaces) along
    an axis; r_ takes an optional leading axis string such as '0' or '-1'."""

    def __init__(self, axis: int, columns: bool):
        self._axis, self._columns = axis, columns

    def _item(self, x):
        if isinstance(x, slice):
            x = np.r_[x]
            x = x.astype(dtypes.canonicalize_dtype(x.dtype))
        a = pnp.atleast_1d(pnp.asarray(x))
        if self._columns and a.ndim == 1:
            a = a[:, None]
        return a

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        axis = self._axis
        if key and isinstance(key[0], str):
            try:
                axis = int(key[0])
            except ValueError:
                raise NotImplementedError(f"plax.numpy.r_ directive {key[0]!r}: only an "
                                          "integer axis is supported") from None
            key = key[1:]
        return pnp.concatenate([self._item(x) for x in key], axis=axis)


mgrid = _Grid(np.mgrid)
ogrid = _Grid(np.ogrid)
r_ = _Concatenator(0, False)
c_ = _Concatenator(-1, True)
__all__ += ["mgrid", "ogrid", "r_", "c_"]


# --- scatter along an axis, histograms in several dimensions, polynomial fits ---------------


def put_along_axis(arr, indices, values, axis: int | None, inplace: bool = True, *,
                   mode: str | None = None):
    """`arr` with values[i] written at indices[i] along `axis` (inplace=False is required)."""
    if inplace:
        raise ValueError("plax.numpy.put_along_axis cannot modify arrays in place; pass "
                         "inplace=False")
    arr, indices = pnp.asarray(arr), pnp.asarray(indices)
    if axis is None:
        arr, axis, shape = pnp.ravel(arr), 0, pnp.shape(arr)
        indices = pnp.ravel(indices)
    else:
        shape = None
    axis = axis % arr.ndim
    if indices.ndim != arr.ndim:
        raise ValueError(f"put_along_axis: indices must have the array's rank {arr.ndim}, "
                         f"got shape {indices.shape}")
    bshape = tuple(max(a, i) if d != axis else i for d, (a, i) in
                   enumerate(zip(arr.shape, indices.shape)))
    indices = pnp.broadcast_to(indices, bshape)
    values = pnp.broadcast_to(pnp.asarray(values, arr.dtype), bshape)
    idx = tuple(indices if d == axis else lax.broadcasted_iota(np.int32, bshape, d)
                for d in range(arr.ndim))
    out = arr.at[idx].set(values, mode=mode)
    return out if shape is None else out.reshape(shape)


def histogramdd(sample, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """(counts, edges per dimension) of the N points of the (N, D) `sample`."""
    sample = pnp.asarray(sample)
    if not pnp.issubdtype(sample.dtype, np.inexact):
        sample = sample.astype(dtypes.default_float_dtype())
    if weights is not None:
        weights = pnp.asarray(weights)
        if weights.shape != sample.shape[:1]:
            raise ValueError("should have one weight for each sample.")
    n, d = sample.shape
    if range is not None and len(range) != d:
        raise ValueError(f"For sample.shape={(n, d)}, range must be a sequence of {d} pairs or "
                         f"Nones; got range={range}")
    try:
        per_dim = list(bins)
    except TypeError:
        per_dim = d * [bins]
    else:
        if len(per_dim) != d:
            raise ValueError("should be a bin for each dimension.")
    idx, edges = [], []
    for i in builtins_range(d):
        e = pnp.histogram_bin_edges(sample[:, i], per_dim[i],
                                    None if range is None else range[i], weights)
        b = pnp.searchsorted(e, sample[:, i], side="right")
        idx.append(pnp.where(sample[:, i] == e[-1], b - 1, b))
        edges.append(e)
    nbins = tuple(e.shape[0] + 1 for e in edges)
    flat = ravel_multi_index(tuple(idx), nbins, mode="clip")
    hist = pnp.bincount(flat, weights, length=math.prod(nbins)).reshape(nbins)
    hist = hist[d * (slice(1, -1),)]
    if density:
        hist = hist.astype(sample.dtype)
        hist = hist / hist.sum()
        for norm in ix_(*[pnp.diff(e) for e in edges]):
            hist = hist / norm
    return hist, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """(counts, x edges, y edges) of the points (x[i], y[i])."""
    sample = pnp.stack(pnp.broadcast_arrays(pnp.asarray(x), pnp.asarray(y)), axis=1)
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n != 1 and n != 2:
        bins = [bins, bins]
    hist, edges = histogramdd(sample, bins, range, weights, density)
    return hist, edges[0], edges[1]


builtins_range = __builtins__["range"] if isinstance(__builtins__, dict) else __builtins__.range


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov: bool = False):
    """Least-squares polynomial fit of degree `deg` (columns scaled as NumPy does)."""
    from plax.numpy import linalg
    x, y = pnp.asarray(x), pnp.asarray(y)
    dt = pnp.result_type(x, y, float)
    x, y = x.astype(dt), y.astype(dt)
    deg = int(deg)
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1 or x.shape[0] == 0:
        raise TypeError("expected 1D vector for x (non-empty)")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise TypeError("expected y of shape (len(x),) or (len(x), k)")
    rcond = x.shape[0] * float(dtypes.finfo(dt).eps) if rcond is None else rcond
    lhs, rhs = vander(x, deg + 1), y
    if w is not None:
        w = pnp.asarray(w, dt)
        lhs = lhs * w[:, None]
        rhs = rhs * (w if rhs.ndim == 1 else w[:, None])
    scale = pnp.sqrt((lhs * lhs).sum(axis=0))
    lhs = lhs / scale[None, :]
    c, resids, rank, s = linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T
    if full:
        return c, resids, rank, s, pnp.asarray(rcond)
    if cov:
        base = linalg.inv(lhs.T @ lhs) / pnp.outer(scale, scale)
        n_pts = x.shape[0]
        if n_pts <= deg + 1:
            raise ValueError("the number of data points must exceed order to scale the "
                             "covariance matrix")
        fac = resids / (n_pts - (deg + 1)) if cov != "unscaled" else 1
        if y.ndim == 1:
            return c, base * fac
        return c, base[:, :, None] * fac
    return c


def roots(p, *, strip_zeros: bool = True):
    """The roots of the polynomial with coefficients p (highest power first): eigenvalues of
    its companion matrix, complex."""
    from plax.numpy import linalg
    p = pnp.atleast_1d(pnp.asarray(p))
    if p.ndim != 1:
        raise ValueError("Input must be a rank-1 array.")
    if strip_zeros:  # leading zeros only (as JAX; trailing ones give roots at 0)
        nz = np.nonzero(_static(p, "roots' p (with strip_zeros=True)"))[0]
        if nz.size == 0:
            return pnp.zeros(0, pnp.result_type(p, np.complex64))
        p = p[int(nz[0]):]
    dt = pnp.result_type(p, np.complex64)
    if p.shape[0] < 2:
        r = pnp.zeros(0, dt)
    else:
        n = p.shape[0] - 1
        comp = pnp.zeros((n, n), p.dtype if pnp.issubdtype(p.dtype, np.inexact)
                         else dtypes.default_float_dtype())
        comp = comp.at[0, :].set(-p[1:] / p[0])
        comp = comp.at[pnp.arange(1, n), pnp.arange(n - 1)].set(1)
        r = linalg.eigvals(comp).astype(dt)
    return r


__all__ += ["put_along_axis", "histogramdd", "histogram2d", "polyfit", "roots"]
