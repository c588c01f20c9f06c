"""The xla backend's elementwise primitives against the reference backend: every unary and
binary op on every dtype it accepts (special values, broadcasting, 0-d and empty operands),
XLA's integer and conversion semantics spelled out, and a few values checked against JAX.

To keep compilation cheap, each dtype's ops run as one jitted program on xla (a few eager calls
check the per-primitive path), compared with the same ops run eagerly on the reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.lax as lax
from plax._src.core import PlaxTypeError

# the reference backend warns on NaN inputs of some bfloat16 ops; the values are what count
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

BF16 = ml_dtypes.bfloat16
DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.uint8, np.uint32, np.float16, BF16,
          np.float32, np.complex64]

UNARY = ["neg", "sign", "floor", "ceil", "is_finite", "exp", "exp2", "log", "log1p", "expm1",
         "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
         "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "erf", "erfc", "erf_inv",
         "lgamma", "digamma", "bitwise_not", "population_count", "real", "imag", "conj",
         "square", "reciprocal", "stop_gradient"]
BINARY = ["add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter",
          "bitwise_and", "bitwise_or", "bitwise_xor", "shift_left", "shift_right_logical",
          "shift_right_arithmetic", "eq", "ne", "lt", "le", "gt", "ge", "complex"]


def values(shape, dtype, seed=0, special=True):
    """Random values of `dtype`; floats include NaN, +-inf, +-0 and |x| > 1 (domain edges)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -20
        return rng.integers(lo, 20, shape).astype(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) * 2 + 1j * rng.standard_normal(shape)).astype(dt)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    if special and x.size >= 6:
        x.flat[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5]
    return x.astype(dt)


def _on_reference(fn, *args):
    with plax.default_backend("reference"):
        return fn(*args)


def _applicable(name, *args):
    """Whether lax.<name> accepts these operand dtypes (its abstract evaluation decides)."""
    try:
        plax.eval_shape(getattr(lax, name), *args)
        return True
    except PlaxTypeError:
        return False


def _check(out, ref, dtype):
    out, ref = np.asarray(out), np.asarray(ref)
    assert out.dtype == ref.dtype and out.shape == ref.shape, (out.dtype, ref.dtype)
    if out.dtype.kind in "biu":
        np.testing.assert_array_equal(out, ref)
    else:
        assert_close(out, ref, dtype, rtol=1e-4 if np.dtype(dtype).itemsize > 2 else 2e-2,
                     atol=1e-5 if np.dtype(dtype).itemsize > 2 else 2e-2)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unary_ops_match_reference(dtype):
    x = values((3, 4), dtype)
    # integer reciprocal divides by zero at 0 (XLA: -1); JAX refuses negative integer powers
    names = [n for n in UNARY if _applicable(n, x)
             and not (n == "reciprocal" and np.dtype(dtype).kind in "iu")]
    assert names
    fns = [getattr(lax, n) for n in names]
    args = [x for n in names]
    with plax.default_backend("xla"):
        outs = plax.jit(lambda *a: [f(v) for f, v in zip(fns, a)])(*args)
    for n, f, a, o in zip(names, fns, args, outs):
        ref = _on_reference(f, a)
        try:
            _check(o, ref, dtype)
        except AssertionError as e:
            raise AssertionError(f"lax.{n} on {np.dtype(dtype).name}: {e}") from None


def dtypes_is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f" or np.dtype(dtype) == np.dtype(BF16)


def _binary_args(name, dtype):
    a, b = values((3, 4), dtype, 1), values((3, 4), dtype, 2)
    dt = np.dtype(dtype)
    if dt.kind in "iu" and name in ("div", "rem"):
        b[0, 0] = 0  # XLA: x / 0 is -1 (signed) or all ones (unsigned); x % 0 is x
        if dt.kind == "i":
            a[1, 1], b[1, 1] = np.iinfo(dt).min, -1  # INT_MIN / -1 wraps to INT_MIN
    if dt.kind in "iu" and name.startswith("shift"):
        b = ((np.arange(12) * 3) % (dt.itemsize * 8 + 6)).reshape(3, 4).astype(dt)
        if dt.kind == "i":
            b[0, :2] = [-1, -8]  # negative amounts count as huge: 0 / sign fill
    if name == "complex" and dtypes_is_float(dtype):
        # the reference's a + 1j*b turns infinite parts into NaN; XLA (and JAX) does not
        a, b = (np.nan_to_num(v.astype(np.float32), posinf=3.0, neginf=-3.0).astype(dtype)
                for v in (a, b))
    return a, b


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_binary_ops_match_reference(dtype):
    cases = []
    for n in BINARY:
        a, b = _binary_args(n, dtype)
        if not _applicable(n, a, b) or (n == "rem" and np.dtype(dtype).kind == "c"):
            continue  # complex rem: see test_complex_rem_is_refused
        cases.append((n, a, b))
        if n in ("add", "max", "pow", "lt", "shift_left", "atan2"):  # lax's implicit broadcasts
            cases.append((n, a[:, :1], b[:1, :]))
            cases.append((n, a[0, 0], b[:2]))
    assert cases
    fns = [getattr(lax, n) for n, _, _ in cases]
    with plax.default_backend("xla"):
        outs = plax.jit(lambda *ab: [f(ab[2 * i], ab[2 * i + 1]) for i, f in enumerate(fns)])(
            *[v for _, a, b in cases for v in (a, b)])
    for (n, a, b), f, o in zip(cases, fns, outs):
        try:
            _check(o, _on_reference(f, a, b), dtype)
        except AssertionError as e:
            raise AssertionError(f"lax.{n}{a.shape}x{b.shape} on {np.dtype(dtype).name}: {e}"
                                 ) from None


@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3)])
@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.complex64])
def test_eager_ops_on_0d_and_empty(shape, dtype):
    x, y = values(shape, dtype, 1, special=False), values(shape, dtype, 2, special=False)
    with plax.default_backend("xla"):  # eagerly: one compiled program per primitive
        for f in (lax.neg, lax.abs, lax.exp if np.dtype(dtype).kind != "i" else lax.sign):
            _check(f(x), _on_reference(f, x), dtype)
        for f in (lax.add, lax.mul, lax.eq, lax.max):
            _check(f(x, y), _on_reference(f, x, y), dtype)


def test_integer_semantics_are_xla_s():
    with plax.default_backend("xla"):
        i = np.array([7, -7, 7, np.iinfo(np.int32).min, 5], np.int32)
        j = np.array([0, 0, -2, -1, 3], np.int32)
        np.testing.assert_array_equal(lax.div(i, j), [-1, -1, -3, np.iinfo(np.int32).min, 1])
        np.testing.assert_array_equal(lax.rem(i, j), [7, -7, 1, 0, 2])
        u = np.array([7, 9], np.uint8)
        np.testing.assert_array_equal(lax.div(u, np.zeros(2, np.uint8)), [255, 255])
        x = np.array([1, -8, -8, 1], np.int8)
        s = np.array([8, 9, 100, -1], np.int8)
        np.testing.assert_array_equal(lax.shift_left(x, s), [0, 0, 0, 0])
        np.testing.assert_array_equal(lax.shift_right_arithmetic(x, s), [0, -1, -1, 0])
        np.testing.assert_array_equal(lax.shift_right_logical(x, s), [0, 0, 0, 0])
        np.testing.assert_array_equal(lax.integer_pow(np.int8(3), 5), np.int8(-13))  # wraps
        np.testing.assert_array_equal(lax.population_count(np.array([-1, 5], np.int16)),
                                      [16, 2])


@pytest.mark.parametrize("new", [np.int8, np.uint8, np.int32, np.uint32, np.bool_])
def test_float_to_int_conversion_saturates(new):
    x = np.array([np.nan, 1e10, -1e10, 3.9, -3.9, np.inf, -np.inf, 200.5, -0.0], np.float32)
    with plax.default_backend("xla"):
        out = lax.convert_element_type(x, new)
    np.testing.assert_array_equal(out, _on_reference(lax.convert_element_type, x, new))
    if new is np.int8:
        np.testing.assert_array_equal(out, [0, 127, -128, 3, -3, 127, -128, 127, 0])


def test_signed_division_of_the_minimum_matches_xla():
    """|INT_MIN| overflows the signed type: the reference divides magnitudes unsigned."""
    for dt in (np.int8, np.int32):
        lo = np.iinfo(dt).min
        a = np.array([lo, lo, lo, lo, -7, 7, lo + 1], dt)
        b = np.array([2, 3, -1, -3, 2, -2, -1], dt)
        for op in (lax.div, lax.rem):
            with plax.default_backend("xla"):
                want = op(a, b)
            np.testing.assert_array_equal(_on_reference(op, a, b), want)
    np.testing.assert_array_equal(_on_reference(lax.div, a, b),
                                  [-(2**30), -715827882, lo, 715827882, -3, -3, 2**31 - 1])


EDGES = [np.inf, -np.inf, np.nan, 2.0**63, -2.0**63, -2.0**63 - 4096, 2.0**64, 2.0**64 - 4096,
         2.0**63 - 1024, 1e30, -1e30, 2.0**32, -2.0**31 - 1, 65536.0, 255.5, -1.5, -0.7]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@requires_jax
def test_float_to_every_int_at_the_edges_matches_xla_and_jax():
    """+-inf, NaN, +-2**63, 2**64 and friends: saturating, NaN -> 0, the same on the reference,
    xla and JAX (the reference's clip in float64 used to overflow at the 64-bit bounds)."""
    import jax
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        _edges_match_jax(jax)
    finally:
        jax.config.update("jax_enable_x64", old)


def _edges_match_jax(jax):
    with plax.enable_x64():
        for src in (np.float64, np.float32, np.float16, BF16, np.complex128):
            x = np.array(EDGES).astype(src)
            want = jax.jit(lambda v: [jax.lax.convert_element_type(
                v.real if v.dtype.kind == "c" else v, dt) for dt in INTS])(x)
            with plax.default_backend("xla"):
                got = plax.jit(lambda v: [lax.convert_element_type(v, dt) for dt in INTS])(x)
            for dt, w, g in zip(INTS, want, got):
                msg = f"{np.dtype(src)} -> {np.dtype(dt)}"
                ref = _on_reference(lax.convert_element_type, x, dt)
                np.testing.assert_array_equal(ref, np.asarray(w), err_msg=msg)
                np.testing.assert_array_equal(g, np.asarray(w), err_msg=msg)


@pytest.mark.parametrize("src", DTYPES, ids=lambda d: np.dtype(d).name)
def test_conversions_between_all_dtypes(src):
    x = values((8,), src, special=False)
    targets = [d for d in DTYPES if d is not src]
    with plax.default_backend("xla"):
        outs = plax.jit(lambda v: [lax.convert_element_type(v, d) for d in targets])(x)
    for d, o in zip(targets, outs):
        _check(o, _on_reference(lax.convert_element_type, x, d), d)


def test_x64_dtypes():
    with plax.enable_x64(), plax.default_backend("xla"):
        for dt in (np.float64, np.int64, np.uint64, np.complex128):
            a, b = values((5,), dt, 1, special=False), values((5,), dt, 2, special=False)
            out = lax.add(lax.mul(a, b), a)
            assert out.dtype == np.dtype(dt)
            _check(out, _on_reference(lambda p, q: lax.add(lax.mul(p, q), p), a, b), dt)
        big = np.array([2 ** 40 + 1, -3], np.int64)
        np.testing.assert_array_equal(lax.add(big, big), big * 2)
        d = np.array([1 / 3, 1e-300], np.float64)
        assert np.asarray(lax.mul(d, np.float64(1.0))).tolist() == d.tolist()  # not via f32
        assert lax.convert_element_type(np.float32(2.5), np.float64).dtype == np.float64
    with plax.default_backend("xla"):  # x64 off: Python floats are float32, weakly typed
        y = lax.add(np.float32(1), 2.0)
        assert y.dtype == np.float32 and not y.weak_type


def test_rounding_select_clamp_and_bitcast():
    with plax.default_backend("xla"):
        x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 2.4], np.float32)
        np.testing.assert_array_equal(lax.round(x, 0), [1, 2, 3, -1, -3, 2])  # away from 0
        np.testing.assert_array_equal(lax.round(x, 1), [0, 2, 2, -0, -2, 2])  # to even
        p = np.array([True, False, True])
        a, b = np.arange(3, dtype=np.float32), -np.arange(3, dtype=np.float32)
        np.testing.assert_array_equal(lax.select(p, a, b), [0, -1, 2])
        which = np.array([2, 0, 1], np.int32)
        np.testing.assert_array_equal(lax.select_n(which, a, b, a * 10), [0, 1, -2])
        np.testing.assert_array_equal(lax.select_n(np.bool_(True), a, b), b)
        np.testing.assert_array_equal(lax.clamp(np.float32(0), x, np.float32(1)),
                                      [0.5, 1, 1, 0, 0, 1])
        bits = lax.bitcast_convert_type(np.float32(1.0), np.int32)
        assert int(bits) == 0x3F800000
        halves = lax.bitcast_convert_type(np.array([1.0], np.float32), np.uint16)
        assert halves.shape == (1, 2)
        np.testing.assert_array_equal(lax.bitcast_convert_type(halves, np.float32), [1.0])
        np.testing.assert_array_equal(lax.nextafter(np.float32(1), np.float32(2)),
                                      np.nextafter(np.float32(1), np.float32(2)))


def test_nan_propagation_and_complex_order_in_max_min():
    with plax.default_backend("xla"):
        a = np.array([1.0, np.nan, 3.0, -0.0], np.float32)
        b = np.array([np.nan, 2.0, 1.0, 0.0], np.float32)
        np.testing.assert_array_equal(lax.max(a, b), [np.nan, np.nan, 3.0, 0.0])
        np.testing.assert_array_equal(lax.min(a, b), [np.nan, np.nan, 1.0, -0.0])
        z = np.array([1 + 5j, 2 + 0j, 1 + 1j], np.complex64)
        w = np.array([1 + 6j, 1 + 9j, 1 + 1j], np.complex64)
        np.testing.assert_array_equal(lax.max(z, w), [1 + 6j, 2 + 0j, 1 + 1j])
        np.testing.assert_array_equal(lax.min(z, w), [1 + 5j, 1 + 9j, 1 + 1j])


def test_complex_rem_is_refused():
    # lax lets it through (JAX does not); XLA would crash on it, so the lowering refuses it
    with plax.default_backend("xla"), pytest.raises(Exception, match="rem does not accept"):
        lax.rem(np.complex64(1 + 1j), np.complex64(2))


def test_errors_name_the_op():
    with plax.default_backend("xla"):
        with pytest.raises(PlaxTypeError, match="sin does not accept dtype int32"):
            lax.sin(np.int32(1))
        with pytest.raises(PlaxTypeError, match="add"):
            lax.add(np.ones(3, np.float32), np.ones(4, np.float32))


@requires_jax
def test_special_values_match_jax():
    import jax
    import jax.numpy as jjnp
    x = np.array([-np.inf, 0.0, -0.0, -1.0, -2.5, 0.5, np.inf, np.nan], np.float32)
    for backend in ("xla", "reference"):  # the poles of lgamma/digamma included
        with plax.default_backend(backend):
            for name in ("lgamma", "digamma", "erf_inv", "acosh", "atanh", "logistic"):
                ours = np.asarray(getattr(lax, name)(x))
                theirs = np.asarray(getattr(jax.lax, name)(jjnp.asarray(x)))
                np.testing.assert_allclose(ours, theirs, rtol=1e-5, equal_nan=True,
                                           err_msg=f"{name} on {backend}")
        c = np.asarray(lax.complex(np.float32(np.inf), np.float32(np.inf)))
        assert c == jax.lax.complex(jjnp.float32(np.inf), jjnp.float32(np.inf))
