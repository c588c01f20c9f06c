"""Samplers of plax.random (uniform, normal, randint, permutation, ...), built from the threefry
bits of `plax._src.prng` with the same algorithms as jax.random, so one key gives JAX's numbers.
Keys are raw uint32[2] arrays; see `plax.random` for the key functions."""

from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from plax import lax
from plax._src import dtypes, prng
from plax._src.compiled import compiled
from plax._src.core import canonicalize_shape, concrete_or_error, get_aval
from plax._src.lax import elementwise as ew

# ---------------------------------------------------------------------------------------------
# Argument handling


def _aval(x):
    if isinstance(x, (list, tuple)):
        raise TypeError(f"random functions take arrays or scalars, not {type(x).__name__}; "
                        "convert with plax.numpy.asarray first")
    return get_aval(x)


def _value(x, dtype=None):
    """`x` as a typed (non-weak) plax operand of `dtype` (default: its own canonical dtype)."""
    aval = _aval(x)
    dtype = aval.dtype if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not hasattr(x, "aval"):  # a Python or NumPy value: convert on the host
        if type(x) is int:
            info = np.iinfo(dtype) if dtypes.is_int(dtype) else None
            if info is not None and not info.min <= x <= info.max:
                raise OverflowError(f"Python int {x} is too large to convert to {dtype.name}")
        return np.asarray(x, dtype=dtype)
    if aval.dtype == dtype and not aval.weak_type:
        return x
    return ew.convert_element_type(x, dtype)


def _float_dtype(name: str, dtype, kinds=dtypes.is_float, what="a float"):
    dt = dtypes.canonicalize_dtype(float if dtype is None else dtype)
    if not kinds(dt):
        raise ValueError(f"dtype argument to `{name}` must be {what} dtype, got {dt.name}")
    return dt


def _check_shape(name: str, shape: tuple, *param_shapes) -> None:
    """Parameters must broadcast to exactly `shape`."""
    if any(d < 0 for d in shape):
        raise ValueError(f"random.{name}: the shape argument {tuple(shape)} has a negative "
                         "dimension")
    try:
        out = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(f"random.{name}: parameter shapes {', '.join(map(str, param_shapes))} "
                         f"must be broadcast-compatible with the shape argument {shape}, and "
                         f"broadcasting must give that shape exactly")


def _broadcast_to(x, shape: tuple):
    """Broadcast (NumPy rules) to `shape`; scalars stay scalars (lax ops take rank-0 operands)."""
    xs = get_aval(x).shape
    if xs == () or xs == tuple(shape):
        return x
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(xs), len(shape))))


def _canonicalize_axis(name: str, axis, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"random.{name}: axis {axis} is out of bounds for an array of "
                         f"dimension {ndim}")
    return axis % ndim


def _index(x, i: int):
    """x[i] along the leading axis."""
    aval = get_aval(x)
    sl = lax.slice(x, (i,) + (0,) * (aval.ndim - 1), (i + 1,) + aval.shape[1:])
    return lax.reshape(sl, aval.shape[1:])


# ---------------------------------------------------------------------------------------------
# Bits and uniform floats


@compiled("shape", "dtype")
def bits(key, shape: Sequence[int] = (), dtype=None):
    """Uniform random unsigned integers (default uint32, uint64 under x64)."""
    key = prng.check_key("bits", key)
    dt = dtypes.canonicalize_dtype(np.uint64 if dtype is None else dtype)
    if not dtypes.is_unsigned(dt):
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dt.name}")
    shape = canonicalize_shape(shape)
    return prng.random_bits(prng.key_parts(key), dt.itemsize * 8, shape)


@compiled("shape", "dtype")
def uniform(key, shape: Sequence[int] = (), dtype=None, minval=0., maxval=1.):
    """Uniform floats in [minval, maxval)."""
    key = prng.check_key("uniform", key)
    dt = _float_dtype("uniform", dtype)
    shape = canonicalize_shape(shape)
    return _uniform(prng.key_parts(key), minval, maxval, shape, dt)


def _uniform(parts, minval, maxval, shape: tuple, dtype):
    # Fill the mantissa with random bits under the exponent of 1.0, giving [1, 2); subtract 1.
    _check_shape("uniform", shape, _aval(minval).shape, _aval(maxval).shape)
    minval = _broadcast_to(_value(minval, dtype), shape)
    maxval = _broadcast_to(_value(maxval, dtype), shape)
    finfo = dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    rng_bits = 8 if nmant < 8 else nbits  # bfloat16 draws 8 bits for its 7 mantissa bits
    uint = prng.UINT_DTYPES[nbits]
    rbits = prng.random_bits(parts, rng_bits, shape)
    if rng_bits != nbits:
        rbits = ew.convert_element_type(rbits, uint)
    float_bits = ew.shift_right_logical(rbits, np.asarray(rng_bits - nmant, uint))
    float_bits = ew.bitwise_or(float_bits, np.asarray(1.0, dtype).view(uint))
    floats = ew.sub(ew.bitcast_convert_type(float_bits, dtype), np.asarray(1.0, dtype))
    scaled = ew.add(ew.mul(floats, ew.sub(maxval, minval)), minval)
    return ew.max(minval, scaled)


# ---------------------------------------------------------------------------------------------
# Integers


def _convert_and_clip_integer(val, dtype):
    """Convert an integer array to `dtype`, saturating at its range instead of wrapping."""
    src = get_aval(val).dtype
    lo = max(int(np.iinfo(dtype).min), int(np.iinfo(src).min))
    hi = min(int(np.iinfo(dtype).max), int(np.iinfo(src).max))
    clipped = ew.clamp(np.asarray(lo, src), val, np.asarray(hi, src))
    return ew.convert_element_type(clipped, dtype)


@compiled("shape", "dtype")
def randint(key, shape: Sequence[int], minval, maxval, dtype=None):
    """Uniform integers in [minval, maxval) (JAX's algorithm: 2 x nbits random bits per value
    reduced modulo the span, so bias is negligible unless the span is close to 2**nbits)."""
    key = prng.check_key("randint", key)
    dt = dtypes.canonicalize_dtype(int if dtype is None else dtype)
    if not dtypes.is_int(dt):
        raise TypeError(f"randint only accepts integer dtypes, got {dt.name}")
    shape = canonicalize_shape(shape)
    _check_shape("randint", shape, _aval(minval).shape, _aval(maxval).shape)
    info = np.iinfo(dt)
    sample_dt = dt
    if info.bits < 32:  # sample narrow types at 32 bits to keep the modulo bias small
        sample_dt = dtypes.int32
        minval = ew.clamp(np.int32(info.min), _as_int(minval, dtypes.int32), np.int32(info.max))
        maxval = ew.clamp(np.int32(info.min), _as_int(maxval, dtypes.int32),
                          np.int32(int(info.max) + 1))
    out = _randint(prng.key_parts(key), minval, maxval, shape, sample_dt)
    return ew.convert_element_type(out, dt)


def _as_int(x, dtype=None):
    v = _value(x)
    if not dtypes.is_int(get_aval(v).dtype):
        v = _value(v, dtypes.default_int_dtype())
    return v if dtype is None else _value(v, dtype)


def _randint(parts, minval, maxval, shape, dtype):
    minval, maxval = _as_int(minval), _as_int(maxval)
    # maxval above the dtype's range (e.g. 256 for uint8) means "up to and including max"
    top = _convert_and_clip_integer(np.asarray(np.iinfo(dtype).max, dtype),
                                    get_aval(maxval).dtype)
    maxval_out_of_range = _broadcast_to(ew.gt(maxval, top), shape)
    minval = _broadcast_to(_convert_and_clip_integer(minval, dtype), shape)
    maxval = _broadcast_to(_convert_and_clip_integer(maxval, dtype), shape)
    nbits = np.iinfo(dtype).bits
    k1, k2 = prng.split_parts(parts, 2)
    higher = prng.random_bits(k1, nbits, shape)
    lower = prng.random_bits(k2, nbits, shape)

    udt = prng.UINT_DTYPES[nbits]
    span = ew.convert_element_type(ew.sub(maxval, minval), udt)
    one = np.asarray(1, udt)
    # an empty range returns minval (span 1); an out-of-range maxval widens the span by one,
    # wrapping to 0 for the full range, where the remainders below then leave the bits as is
    span = _where(ew.le(maxval, minval), one, span)
    span = _where(ew.bitwise_and(maxval_out_of_range, ew.gt(maxval, minval)),
                  ew.add(span, one), span)
    # (higher * 2**nbits + lower) % span, without overflow: (a*b) % n = ((a%n) * (b%n)) % n
    multiplier = ew.rem(np.asarray(2 ** (nbits // 2), udt), span)
    multiplier = ew.rem(ew.mul(multiplier, multiplier), span)
    offset = ew.add(ew.mul(ew.rem(higher, span), multiplier), ew.rem(lower, span))
    offset = ew.rem(offset, span)
    return ew.add(minval, ew.convert_element_type(offset, dtype))


def _where(pred, on_true, on_false):
    """select with rank-0 operands broadcast to the predicate's shape."""
    shape = get_aval(pred).shape
    t = lax.broadcast_in_dim(on_true, shape, ()) if get_aval(on_true).shape != shape else on_true
    f = lax.broadcast_in_dim(on_false, shape, ()) if get_aval(on_false).shape != shape \
        else on_false
    return ew.select(pred, t, f)


# ---------------------------------------------------------------------------------------------
# Continuous distributions


@compiled("shape", "dtype")
def normal(key, shape: Sequence[int] = (), dtype=None):
    """Standard normal floats (complex dtypes: real and imaginary parts each of variance 1/2)."""
    key = prng.check_key("normal", key)
    shape = canonicalize_shape(shape)
    dt = _float_dtype("normal", dtype, dtypes.is_inexact, "a float or complex")
    parts = prng.key_parts(key)
    if dtypes.is_complex(dt):
        real_dt = dtypes.float64 if dt == dtypes.complex128 else dtypes.float32
        k_re, k_im = prng.split_parts(parts, 2)
        sqrt2 = np.asarray(np.sqrt(2), real_dt)
        re = ew.div(_normal_real(k_re, shape, real_dt), sqrt2)
        im = ew.div(_normal_real(k_im, shape, real_dt), sqrt2)
        return ew.complex(re, im)
    return _normal_real(parts, shape, dt)


def _normal_real(parts, shape, dtype):
    # inverse-CDF sampling on (-1, 1): the open interval keeps erf_inv finite
    lo = np.nextafter(np.asarray(-1., dtype), np.asarray(0., dtype))
    u = _uniform(parts, lo, 1., shape, dtype)
    return ew.mul(np.asarray(np.sqrt(2), dtype), ew.erf_inv(u))


@compiled("shape", "dtype")
def truncated_normal(key, lower, upper, shape: Sequence[int] | None = None, dtype=None):
    """Standard normal floats truncated to the open interval (lower, upper)."""
    key = prng.check_key("truncated_normal", key)
    dt = _float_dtype("truncated_normal", dtype)
    lshape, ushape = _aval(lower).shape, _aval(upper).shape
    if shape is None:
        shape = np.broadcast_shapes(lshape, ushape)
    else:
        shape = canonicalize_shape(shape)
        _check_shape("truncated_normal", shape, lshape, ushape)
    sqrt2 = np.asarray(np.sqrt(2), dt)
    lower, upper = _value(lower, dt), _value(upper, dt)
    a = ew.erf(ew.div(lower, sqrt2))
    b = ew.erf(ew.div(upper, sqrt2))
    u = _uniform(prng.key_parts(key), a, b, shape, dt)
    out = ew.mul(sqrt2, ew.erf_inv(u))
    # rounding (or u == a) could land on a bound: clamp into the open interval
    lo = _broadcast_to(ew.nextafter(lower, np.asarray(np.inf, dt)), shape)
    hi = _broadcast_to(ew.nextafter(upper, np.asarray(-np.inf, dt)), shape)
    return ew.min(ew.max(out, lo), hi)


@compiled("shape", "dtype")
def exponential(key, shape: Sequence[int] = (), dtype=None):
    """Exponential(1) floats: -log(1 - u)."""
    key = prng.check_key("exponential", key)
    dt = _float_dtype("exponential", dtype)
    shape = canonicalize_shape(shape)
    u = _uniform(prng.key_parts(key), 0., 1., shape, dt)
    return ew.neg(ew.log1p(ew.neg(u)))


@compiled("shape", "dtype", "mode")
def gumbel(key, shape: Sequence[int] = (), dtype=None, mode: str | None = None):
    """Standard Gumbel floats. mode="high" spends twice the bits to reach further into the
    tail (largest float32 sample ~32 instead of ~16)."""
    key = prng.check_key("gumbel", key)
    dt = _float_dtype("gumbel", dtype)
    shape = canonicalize_shape(shape)
    return _gumbel(prng.key_parts(key), shape, dt, _gumbel_mode(mode))


def _gumbel_mode(mode):
    mode = "low" if mode is None else mode
    if mode not in ("low", "high"):
        raise ValueError(f"gumbel mode must be 'low' or 'high', got {mode!r}")
    return mode


def _gumbel(parts, shape, dtype, mode):
    info = dtypes.finfo(dtype)
    if mode == "high":
        u = _uniform(parts, 0., 1., (2,) + shape, dtype)
        high, low = _index(u, 0), _index(u, 1)
        fine = ew.add(ew.add(high, ew.mul(np.asarray(2.0 ** -info.nmant, dtype), low)),
                      np.asarray(info.tiny, dtype))
        x = ew.select(ew.ge(high, np.asarray(0.5, dtype)), high, fine)
        return ew.neg(ew.log(ew.neg(ew.log1p(ew.neg(x)))))
    u = _uniform(parts, np.asarray(info.tiny, dtype), 1., shape, dtype)
    return ew.neg(ew.log(ew.neg(ew.log(u))))


# ---------------------------------------------------------------------------------------------
# Discrete distributions


@compiled("shape", "mode")
def bernoulli(key, p=0.5, shape: Sequence[int] | None = None, mode: str = "low"):
    """Booleans that are True with probability p (mode="high" resolves p below ~1e-7)."""
    if mode not in ("high", "low"):
        raise ValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    key = prng.check_key("bernoulli", key)
    dt = _aval(p).dtype
    if not dtypes.is_float(dt):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {dt.name}.")
    pshape = _aval(p).shape
    if shape is None:
        shape = pshape
    else:
        shape = canonicalize_shape(shape)
        _check_shape("bernoulli", shape, pshape)
    p = _broadcast_to(_value(p, dt), shape)
    parts = prng.key_parts(key)
    if mode == "high":
        u = _uniform(parts, 0., 1., (2,) + shape, dt)
        u1, u2 = _index(u, 0), _index(u, 1)
        u2 = ew.mul(u2, np.asarray(2.0 ** -dtypes.finfo(dt).nmant, dt))
        return ew.lt(u2, ew.sub(p, u1))
    return ew.lt(_uniform(parts, 0., 1., shape, dt), p)


@compiled("axis", "shape", "replace", "mode")
def categorical(key, logits, axis: int = -1, shape: Sequence[int] | None = None,
                replace: bool = True, mode: str | None = None):
    """Indices drawn from softmax(logits, axis) by the Gumbel-max trick (Gumbel top-k without
    replacement)."""
    key = prng.check_key("categorical", key)
    logits = _value(logits)
    laval = get_aval(logits)
    if not dtypes.is_float(laval.dtype):
        raise TypeError(f"random.categorical: logits must have a floating dtype, got "
                        f"{laval.dtype.name}")
    if laval.ndim == 0:
        raise ValueError("random.categorical: logits must have at least one dimension")
    axis = _canonicalize_axis("categorical", axis, laval.ndim)
    batch_shape = laval.shape[:axis] + laval.shape[axis + 1:]
    if shape is None:
        shape = batch_shape
    else:
        shape = canonicalize_shape(shape)
        _check_shape("categorical", shape, batch_shape)
    mode = _gumbel_mode(mode)
    parts = prng.key_parts(key)
    prefix = shape[:len(shape) - len(batch_shape)]
    idx_dt = dtypes.default_int_dtype()
    if replace:
        gshape = prefix + shape[len(prefix):len(prefix) + axis] + (laval.shape[axis],) \
            + shape[len(prefix) + axis:]
        g = _gumbel(parts, gshape, laval.dtype, mode)
        b = lax.broadcast_in_dim(logits, gshape, tuple(range(len(prefix), len(gshape))))
        return lax.argmax(ew.add(g, b), len(prefix) + axis, idx_dt)
    k = math.prod(prefix)
    n = laval.shape[axis]
    if k > n:
        raise ValueError(f"Number of samples without replacement ({k}) cannot exceed number "
                         f"of categories ({n}).")
    scores = ew.add(logits, _gumbel(parts, laval.shape, laval.dtype, mode))
    perm = tuple(i for i in range(laval.ndim) if i != axis) + (axis,)
    _, indices = lax.top_k(lax.transpose(scores, perm), k)  # batch_shape + (k,)
    nb = len(batch_shape)
    indices = lax.transpose(indices, (nb,) + tuple(range(nb)))
    return ew.convert_element_type(lax.reshape(indices, shape), idx_dt)


def _shuffle(parts, x, axis: int, sort_keys_shape=None):
    """Sort by fresh random 32-bit keys, a number of rounds that makes key collisions
    (which would bias the permutation) negligible: ceil(3 ln(n) / ln(2**32 - 1))."""
    xa = get_aval(x)
    n = xa.size if sort_keys_shape is None else math.prod(sort_keys_shape)
    num_rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(num_rounds):
        parts, sub = prng.split_parts(parts, 2)
        if sort_keys_shape is None:
            sort_keys = prng.random_bits(sub, 32, xa.shape)
        else:  # one key per position along `axis`, shared by every slice
            sort_keys = prng.random_bits(sub, 32, sort_keys_shape)
            sort_keys = lax.broadcast_in_dim(sort_keys, xa.shape, (axis,))
        _, x = lax.sort((sort_keys, x), dimension=axis, is_stable=True, num_keys=1)
    return x


@compiled("axis", "independent", static_if_int=("x",))
def permutation(key, x, axis: int = 0, independent: bool = False):
    """A random permutation of range(x) for an integer x, or of x's entries along `axis`
    (each slice along `axis` shuffled separately when `independent`)."""
    key = prng.check_key("permutation", key)
    aval = _aval(x)
    parts = prng.key_parts(key)
    if aval.ndim == 0:
        if not dtypes.is_int(aval.dtype):
            raise TypeError("x must be an integer or at least 1-dimensional")
        _canonicalize_axis("permutation", axis, 1)
        n = concrete_or_error(int, x, "argument x of plax.random.permutation()")
        return _shuffle(parts, lax.iota(dtypes.default_int_dtype(), n), 0)
    axis = _canonicalize_axis("permutation", axis, aval.ndim)
    x = _value(x)
    if independent or aval.ndim == 1:
        return _shuffle(parts, x, axis)
    # the same permutation for every slice: JAX shuffles arange(n) and gathers; sorting x by
    # the same keys broadcast across the other axes is that permutation, without a gather
    return _shuffle(parts, x, axis, sort_keys_shape=(aval.shape[axis],))


@compiled("shape", "replace", "axis", "mode", static_if_int=("a",))
def choice(key, a, shape: Sequence[int] = (), replace: bool = True, p=None, axis: int = 0,
           mode: str | None = None):
    """Random samples from the entries of `a` along `axis` (or from range(a) for an integer),
    with or without replacement, uniform or weighted by the probabilities `p`."""
    key = prng.check_key("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of random.choice must be a sequence, got {shape!r}")
    shape = canonicalize_shape(shape)
    arr = _value(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        n_inputs = concrete_or_error(int, a, "the argument a of plax.random.choice()")
    else:
        axis = _canonicalize_axis("choice", axis, aval.ndim)
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    out_shape = shape if aval.ndim == 0 else aval.shape[:axis] + shape + aval.shape[axis + 1:]
    if n_draws == 0:
        return lax.full(out_shape, 0, aval.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                         f"(size {n_inputs}) when 'replace=False'")
    parts = prng.key_parts(key)
    idx_dt = dtypes.default_int_dtype()
    if p is None:
        if not replace:
            perm = permutation(key, n_inputs if aval.ndim == 0 else arr, axis)
            taken = lax.slice_in_dim(perm, 0, n_draws, axis=0 if aval.ndim == 0 else axis)
            return lax.reshape(taken, out_shape)
        ind = _randint(parts, 0, n_inputs, shape, idx_dt)
    else:
        p_arr = _value(p)
        if not dtypes.is_inexact(get_aval(p_arr).dtype):
            p_arr = _value(p_arr, dtypes.default_float_dtype())
        pa = get_aval(p_arr)
        if pa.shape != (n_inputs,):
            raise ValueError("p must be None or a 1D vector with the same size as "
                             f"a.shape[axis]. p has shape {pa.shape} and a.shape[axis] is "
                             f"{n_inputs}.")
        if replace:
            ind = _sample_cumulative(parts, p_arr, shape)
        else:  # Gumbel top-k
            g = ew.add(_gumbel(parts, (n_inputs,), pa.dtype, _gumbel_mode(mode)),
                       ew.log(p_arr))
            ind = ew.convert_element_type(lax.top_k(g, n_draws)[1], idx_dt)
    if aval.ndim == 0:
        return lax.reshape(ind, shape)
    from plax import numpy as pnp
    taken = pnp.take(arr, lax.reshape(ind, (n_draws,)), axis=axis)
    return lax.reshape(taken, out_shape)


def _sample_cumulative(parts, p, shape):
    """Inverse-CDF sampling: the first index whose cumulative probability reaches r, for r
    uniform in (0, total] (searchsorted on the cumulative sums, side='left')."""
    pa = get_aval(p)
    cum = lax.cumsum(p, axis=0)
    total = _index(cum, pa.shape[0] - 1)
    u = _uniform(parts, 0., 1., shape, pa.dtype)
    r = ew.mul(total, ew.sub(np.asarray(1, pa.dtype), u))
    # count of cumulative sums below r == searchsorted(cum, r, side='left')
    full = shape + pa.shape
    below = ew.lt(lax.broadcast_in_dim(cum, full, (len(shape),)),
                  lax.broadcast_in_dim(r, full, tuple(range(len(shape)))))
    below = ew.convert_element_type(below, dtypes.default_int_dtype())
    return lax.reduce_sum(below, (len(shape),))
