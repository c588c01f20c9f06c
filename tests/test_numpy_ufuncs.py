"""plax.numpy's elementwise functions: values against NumPy on several shapes (broadcasting,
empty, 0-d) and dtypes (bool, int8, uint8, int32, float16, float32, complex64), result dtypes and
weak types against JAX, the same results under make_jaxpr, and errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import grid

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun

DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.float16, np.float32, np.complex64]
SHAPES = [(), (0,), (5,), (2, 3)]
# plax.numpy is backend-independent (lax ops only): the full grids run on the reference backend,
# other backends (which compile every op) get a smaller, representative one
SMALL_DTYPES = [np.int32, np.float16, np.complex64]
SMALL_SHAPES = [(2, 3)]


def rand(shape, dtype, seed=0, positive=False, nonzero=False, small=False):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        x = rng.random(shape) < 0.5
        return np.ones(shape, bool) if nonzero else x
    if dt.kind in "iu":
        lo = 1 if (positive or dt.kind == "u") else (-3 if small else -20)
        hi = 4 if small else 20
        x = rng.integers(lo, hi, shape).astype(dt)
        return np.where(x == 0, 1, x).astype(dt) if nonzero else x
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    x = rng.standard_normal(shape) * 3
    if positive:
        x = np.abs(x) + 0.5
    return x.astype(dt)


def jax_type(fn, *args):
    """(dtype, weak_type) of JAX's result, found by abstract evaluation (nothing compiles).
    NumPy arrays are passed as abstract arguments, Python scalars are closed over."""
    import jax
    arrays = [a for a in args if isinstance(a, np.ndarray)]

    def f(*arrs):
        it = iter(arrs)
        return fn(*(next(it) if isinstance(a, np.ndarray) else a for a in args))
    out = jax.eval_shape(f, *arrays)
    return out.dtype, out.weak_type


def plax_type(fn, *args):
    """(dtype, weak_type) of plax's result by abstract evaluation (nothing runs, so the dtype
    tests stay fast on backends that compile)."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]

    def f(*arrs):
        it = iter(arrs)
        return fn(*(next(it) if isinstance(a, np.ndarray) else a for a in args))
    out = plax.eval_shape(f, *arrays)
    return np.dtype(out.dtype), out.weak_type


def traced_equal(f, *args):
    """f traced by make_jaxpr and evaluated again gives the eager result."""
    eager = f(*args)
    closed = plax.make_jaxpr(f)(*args)
    closed.check()
    again = jaxpr_as_fun(closed)(*args)[0]
    assert np.asarray(again).dtype == np.asarray(eager).dtype
    assert_close(again, eager)


# ---------------------------------------------------------------------------------------------
# Unary functions: (name, NumPy function, input domain)

UNARY = [
    ("sin", np.sin, None), ("cos", np.cos, None), ("tan", np.tan, None),
    ("arcsin", np.arcsin, "unit"), ("arccos", np.arccos, "unit"), ("arctan", np.arctan, None),
    ("sinh", np.sinh, "small"), ("cosh", np.cosh, "small"), ("tanh", np.tanh, None),
    ("arcsinh", np.arcsinh, None), ("arccosh", np.arccosh, "ge1"),
    ("arctanh", np.arctanh, "unit"), ("exp", np.exp, "small"), ("exp2", np.exp2, "small"),
    ("expm1", np.expm1, "small"), ("log", np.log, "positive"), ("log2", np.log2, "positive"),
    ("log10", np.log10, "positive"), ("log1p", np.log1p, "positive"),
    ("sqrt", np.sqrt, "positive"), ("cbrt", np.cbrt, None), ("square", np.square, "small"),
    ("reciprocal", lambda x: np.reciprocal(x.astype(np.result_type(x, np.float16))),
     "nonzero"),
    ("sign", np.sign, None), ("floor", np.floor, None), ("ceil", np.ceil, None),
    ("trunc", np.trunc, None), ("fix", np.trunc, None), ("rint", np.rint, None),
    ("round", np.round, None), ("isnan", np.isnan, None), ("isinf", np.isinf, None),
    ("isfinite", np.isfinite, None), ("isposinf", np.isposinf, None),
    ("isneginf", np.isneginf, None), ("signbit", np.signbit, None),
    ("negative", np.negative, None), ("abs", np.abs, None),
    ("positive", lambda x: +x if x.dtype != bool else x, None),
    ("fabs", np.fabs, None), ("deg2rad", lambda x: x * (np.pi / 180), None),
    ("rad2deg", lambda x: x * (180 / np.pi), None),
    ("sinc", np.sinc, None), ("conjugate", np.conjugate, None), ("real", np.real, None),
    ("imag", np.imag, None), ("angle", np.angle, None), ("invert", np.invert, None),
    ("logical_not", np.logical_not, None),
]

# where plax (like JAX) refuses a dtype NumPy accepts, or the reverse
REFUSED = {
    ("negative", np.bool_), ("sign", np.bool_), ("invert", np.float16),
    ("invert", np.float32), ("invert", np.complex64), ("cbrt", np.complex64),
    ("fabs", np.complex64), ("floor", np.complex64), ("ceil", np.complex64),
    ("trunc", np.complex64), ("fix", np.complex64), ("signbit", np.complex64),
    ("isposinf", np.complex64), ("isneginf", np.complex64), ("round", np.bool_),
}


def domain_input(shape, dtype, domain):
    x = rand(shape, dtype, positive=domain in ("positive", "ge1"), nonzero=domain == "nonzero",
             small=domain == "small")
    dt = np.dtype(dtype)
    if dt.kind in "fc":
        if domain == "unit":
            x = (x / (np.abs(x).max() + 1 if x.size else 1)).astype(dt)
        elif domain == "ge1":
            x = (x + 1).astype(dt)
        elif domain == "small":
            x = (x / 4).astype(dt)
    elif domain == "unit":
        x = np.clip(x, 0 if dt.kind == "u" else -1, 1).astype(dt)
    return x


def np_expected(np_fn, x, out_dtype):
    """NumPy's answer computed in a wide type from the input converted like JAX converts it,
    then cast to plax's result dtype."""
    dt = np.dtype(out_dtype)
    if dt.kind in "fc" and x.dtype.kind in "biu":
        xin = x.astype(dt)  # integers become the default float first, as JAX
    else:
        xin = x
    if xin.dtype == np.float16:
        xin = xin.astype(np.float32)
    with np.errstate(all="ignore"):
        out = np_fn(xin)
    return np.asarray(out).astype(dt)


@pytest.mark.parametrize("name,np_fn,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_against_numpy(backend, name, np_fn, domain):
    fn = getattr(pnp, name)
    for dtype in grid(backend, DTYPES, SMALL_DTYPES):
        for shape in grid(backend, SHAPES, SMALL_SHAPES):
            x = domain_input(shape, dtype, domain)
            case = f"{name} on {np.dtype(dtype).name}{list(shape)}"
            if (name, dtype) in REFUSED:
                with pytest.raises((TypeError, ValueError), match=name):
                    fn(x)
                continue
            out = fn(x)
            assert out.shape == x.shape, case
            expected = np_expected(np_fn, x, out.dtype)
            assert_close(out, expected, dtype=np.float16 if dtype == np.float16 else None,
                         err_msg=case)


@requires_jax
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [u[0] for u in UNARY if u[0] != "fix"])
def test_unary_dtypes_match_jax(name, dtype):
    import jax.numpy as jnp
    x = domain_input((3,), dtype, None)
    try:
        expected, _ = jax_type(getattr(jnp, name), x)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            plax_type(getattr(pnp, name), x)
        return
    assert plax_type(getattr(pnp, name), x)[0] == expected


@requires_jax
@pytest.mark.parametrize("name", [u[0] for u in UNARY if u[0] not in ("fix", "angle")])
@pytest.mark.parametrize("value", [2, 2.5, True, 1 + 1j], ids=repr)
def test_unary_weak_types_match_jax(name, value):
    import jax.numpy as jnp
    try:
        dt, weak = jax_type(getattr(jnp, name), value)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            plax_type(getattr(pnp, name), value)
        return
    out_dt, out_weak = plax_type(getattr(pnp, name), value)
    assert out_dt == dt
    if out_dt != np.bool_:  # JAX's weakly typed bools are not reproduced (see below)
        assert out_weak == weak


def test_unary_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 2.5, -2.5, 3.5, 0.5, -0.5], np.float32)
    for name in ["floor", "ceil", "trunc", "rint", "round", "sign", "isnan", "isinf",
                 "isfinite", "signbit", "abs", "sqrt", "exp", "log", "sinc", "cbrt"]:
        with np.errstate(all="ignore"):
            expected = getattr(np, name)(x)
        # exact where the function is exact; transcendental ones may differ in the last bit
        assert_close(getattr(pnp, name)(x), expected, err_msg=name,
                     **({} if name in ("exp", "log", "sinc", "cbrt") else dict(rtol=0, atol=0)))


def test_round_decimals():
    x = np.array([1.2345, -2.5, 2.5, 0.125, 1e4 + 0.5], np.float32)
    for d in [0, 1, 2, -1, -2]:
        assert_close(pnp.round(x, d), np.round(x, d))
    xi = np.array([15, 25, -15, 149, 150, 151, -150], np.int32)
    for d in [0, 1, -1, -2]:
        np.testing.assert_array_equal(np.asarray(pnp.round(xi, d)), np.round(xi, d))
    assert pnp.round(np.float16(2.345), 2).dtype == np.float16


# ---------------------------------------------------------------------------------------------
# Binary functions: (name, NumPy function, kind of second argument)

BINARY = [
    ("add", np.add, None), ("subtract", np.subtract, None), ("multiply", np.multiply, None),
    ("divide", np.divide, "nonzero"), ("true_divide", np.true_divide, "nonzero"),
    ("floor_divide", np.floor_divide, "nonzero"), ("remainder", np.remainder, "nonzero"),
    ("mod", np.mod, "nonzero"), ("fmod", np.fmod, "nonzero"), ("power", np.power, "exponent"),
    ("maximum", np.maximum, None), ("minimum", np.minimum, None), ("fmax", np.fmax, None),
    ("fmin", np.fmin, None), ("hypot", np.hypot, None), ("arctan2", np.arctan2, None),
    ("logaddexp", np.logaddexp, None), ("logaddexp2", np.logaddexp2, None),
    ("copysign", np.copysign, None), ("nextafter", np.nextafter, None),
    ("heaviside", np.heaviside, None), ("logical_and", np.logical_and, None),
    ("logical_or", np.logical_or, None), ("logical_xor", np.logical_xor, None),
    ("bitwise_and", np.bitwise_and, None), ("bitwise_or", np.bitwise_or, None),
    ("bitwise_xor", np.bitwise_xor, None), ("left_shift", np.left_shift, "shift"),
    ("right_shift", np.right_shift, "shift"), ("equal", np.equal, None),
    ("not_equal", np.not_equal, None), ("less", np.less, None),
    ("less_equal", np.less_equal, None), ("greater", np.greater, None),
    ("greater_equal", np.greater_equal, None),
]
INT_ONLY = {"left_shift", "right_shift"}
INT_OR_BOOL = {"bitwise_and", "bitwise_or", "bitwise_xor"}
# arctan2 of complex numbers is refused (plax's lax.atan2 is real-only; JAX accepts it)
REAL_ONLY = {"floor_divide", "remainder", "mod", "fmod", "hypot", "arctan2", "copysign",
             "nextafter", "heaviside"}
FLOAT_RESULT = {"divide", "true_divide", "hypot", "arctan2", "logaddexp", "logaddexp2",
                "copysign", "nextafter", "heaviside"}
# (dtype1, dtype2) pairs, each with the shapes of the two operands
PAIRS = [(np.int32, np.int32), (np.int8, np.uint8), (np.float16, np.float32),
         (np.bool_, np.bool_), (np.int32, np.float32), (np.float32, np.float32),
         (np.complex64, np.float32), (np.uint8, np.uint8)]
BSHAPES = [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (4,)), ((0, 3), (1, 3)), ((), ())]


def refused(name, dt1, dt2):
    kinds = {np.dtype(dt1).kind, np.dtype(dt2).kind}
    if name in INT_ONLY:
        return not kinds <= {"i", "u", "b"}
    if name in INT_OR_BOOL:
        return not kinds <= {"i", "u", "b"}
    if name in REAL_ONLY and "c" in kinds:
        return True
    if name == "subtract" and kinds == {"b"}:
        return True
    if name == "nextafter" and np.dtype(dt1) == np.float16 != np.dtype(dt2):
        return False
    return False


def second_arg(kind, shape, dtype):
    if kind == "nonzero":
        return rand(shape, dtype, seed=1, nonzero=True)
    if kind == "exponent":
        return rand(shape, dtype, seed=1, positive=True, small=True) if np.dtype(
            dtype).kind in "iub" else rand(shape, dtype, seed=1)
    if kind == "shift":
        return (rand(shape, dtype, seed=1, positive=True) % 7).astype(dtype)
    return rand(shape, dtype, seed=1)


def binary_expected(np_fn, name, x, y, out_dtype):
    import plax._src.dtypes as pdt
    comp = pdt.result_type(x, y)
    if name in FLOAT_RESULT and np.dtype(comp).kind in "biu":
        comp = np.float32
    if name in ("power", "left_shift", "right_shift") and np.dtype(comp) == np.bool_:
        comp = np.int32
    if name in ("logaddexp", "logaddexp2") and np.dtype(comp).kind == "c":
        base = np.e if name == "logaddexp" else 2.0
        np_fn = lambda a, b: np.log(base ** a + base ** b) / np.log(base)  # noqa: E731
    xw, yw = x.astype(comp), y.astype(comp)
    if xw.dtype == np.float16 and name not in ("nextafter",):
        xw, yw = xw.astype(np.float32), yw.astype(np.float32)
    with np.errstate(all="ignore"):
        out = np_fn(xw, yw)
    return np.asarray(out).astype(out_dtype)


SMALL_PAIRS = [(np.int8, np.uint8), (np.float16, np.float32), (np.bool_, np.bool_)]
SMALL_BSHAPES = [((2, 1), (1, 3))]


@pytest.mark.parametrize("name,np_fn,kind", BINARY, ids=[b[0] for b in BINARY])
def test_binary_against_numpy(backend, name, np_fn, kind):
    fn = getattr(pnp, name)
    for dt1, dt2 in grid(backend, PAIRS, SMALL_PAIRS):
        for shapes in grid(backend, BSHAPES, SMALL_BSHAPES):
            case = f"{name} on {np.dtype(dt1).name}{list(shapes[0])}, " \
                   f"{np.dtype(dt2).name}{list(shapes[1])}"
            x = rand(shapes[0], dt1, positive=name == "power", small=name == "power")
            y = second_arg(kind, shapes[1], dt2)
            if name == "power" and np.dtype(dt1).kind == "c":
                y = rand(shapes[1], dt2, seed=1, positive=True, small=True)
            if refused(name, dt1, dt2):
                with pytest.raises(TypeError, match="remainder" if name == "mod" else name):
                    fn(x, y)
                continue
            out = fn(x, y)
            assert out.shape == np.broadcast_shapes(x.shape, y.shape), case
            expected = binary_expected(np_fn, name, x, y, out.dtype)
            low = np.float16 in (dt1, dt2)
            assert_close(out, expected, dtype=np.float16 if low else None, err_msg=case)


@requires_jax
@pytest.mark.parametrize("dtypes", PAIRS, ids=lambda p: f"{np.dtype(p[0])}-{np.dtype(p[1])}")
@pytest.mark.parametrize("name", [b[0] for b in BINARY])
def test_binary_dtypes_match_jax(name, dtypes):
    import jax.numpy as jnp
    x, y = rand((3,), dtypes[0]), second_arg("shift", (3,), dtypes[1])
    if name == "arctan2" and np.complex64 in dtypes:
        pytest.skip("plax's lax.atan2 is real-only")
    try:
        expected, _ = jax_type(getattr(jnp, name), x, y)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            plax_type(getattr(pnp, name), x, y)
        return
    assert plax_type(getattr(pnp, name), x, y)[0] == expected


SCALARS = [2, 2.5, True, 1 + 1j]


@requires_jax
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.float16, np.float32,
                                   np.bool_, np.complex64])
@pytest.mark.parametrize("name", ["add", "multiply", "true_divide", "power", "maximum",
                                  "floor_divide", "remainder", "equal", "arctan2",
                                  "logical_and", "bitwise_or", "left_shift"])
def test_python_scalar_promotion_matches_jax(name, dtype, scalar):
    """Python scalars are weakly typed: `x_f16 + 1.0` stays float16, as in JAX."""
    import jax.numpy as jnp
    x = rand((3,), dtype, positive=True, small=True)
    for args in ((x, scalar), (scalar, x)):
        if name == "arctan2" and (isinstance(scalar, complex) or dtype == np.complex64):
            continue  # plax's lax.atan2 is real-only
        try:
            dt, weak = jax_type(getattr(jnp, name), *args)
        except (TypeError, ValueError, OverflowError):
            with pytest.raises((TypeError, ValueError, OverflowError)):
                plax_type(getattr(pnp, name), *args)
            continue
        out_dt, out_weak = plax_type(getattr(pnp, name), *args)
        # JAX marks some boolean results weak; plax's bools are never weak (no effect on
        # promotion: bool is the bottom of the lattice either way)
        assert out_dt == dt, args
        if out_dt != np.bool_ and name != "power":
            assert out_weak == weak, args


@requires_jax
def test_weakly_typed_arrays_match_jax():
    import jax.numpy as jnp
    weak = pnp.asarray(2.0)  # weakly typed float32, as jnp.asarray(2.0)
    assert weak.weak_type and jnp.asarray(2.0).weak_type
    f16 = np.ones(3, np.float16)
    i8 = np.ones(3, np.int8)
    for a, b, ja, jb in [(weak, f16, jnp.asarray(2.0), f16), (weak, i8, jnp.asarray(2.0), i8),
                         (weak, 3, jnp.asarray(2.0), 3), (pnp.asarray(3), i8, jnp.asarray(3), i8),
                         (pnp.asarray(3), 2.0, jnp.asarray(3), 2.0)]:
        out, expected = pnp.add(a, b), jnp.add(ja, jb)
        assert (out.dtype, out.weak_type) == (expected.dtype, expected.weak_type)


def test_operators_forward_to_numpy_functions():
    x = pnp.arange(1, 7).reshape(2, 3)
    xn = np.arange(1, 7).reshape(2, 3)
    for op in ["__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__",
               "__pow__", "__and__", "__or__", "__xor__", "__lshift__", "__rshift__", "__eq__",
               "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__radd__", "__rsub__",
               "__rtruediv__", "__rpow__"]:
        got, want = getattr(x, op)(2), getattr(xn.astype(np.int32), op)(2)
        assert_close(got, np.asarray(want).astype(np.asarray(got).dtype))
    assert_close(-x, -xn)
    assert_close(abs(-x), xn)
    assert_close(~x, ~xn.astype(np.int32))
    q, r = divmod(x, 4)
    assert_close(q, xn // 4)
    assert_close(r, xn % 4)
    assert_close(x @ x.T, xn @ xn.T)


def test_integer_division_and_power_details():
    a = np.array([-7, -6, 7, 6, 0], np.int32)
    b = np.array([2, -4, -3, 4, 5], np.int32)
    np.testing.assert_array_equal(np.asarray(pnp.floor_divide(a, b)), a // b)
    np.testing.assert_array_equal(np.asarray(pnp.remainder(a, b)), a % b)
    np.testing.assert_array_equal(np.asarray(pnp.fmod(a, b)), np.fmod(a, b))
    # integer powers are exact and wrap like NumPy's, for any exponent width
    base = np.array([3, -3, 2, -1, 0, 1], np.int32)
    exp = np.array([19, 7, 31, 12345, 3, 99], np.int32)
    np.testing.assert_array_equal(np.asarray(pnp.power(base, exp)), np.power(base, exp))
    np.testing.assert_array_equal(np.asarray(pnp.power(np.int8(3), np.int8(5))), 243 - 256)
    # a negative integer exponent: the reciprocal truncated toward zero
    np.testing.assert_array_equal(np.asarray(pnp.power(np.array([1, -1, -1, 2], np.int32),
                                                       np.array([-2, -3, -2, -1], np.int32))),
                                  [1, -1, 1, 0])
    with pytest.raises(ValueError, match="negative"):
        pnp.power(np.arange(3), -1)
    f = np.array([-7.5, 7.5, -0.0, 3.0], np.float32)
    g = np.array([2.0, -2.0, 3.0, np.inf], np.float32)
    assert_close(pnp.floor_divide(f, g), np.floor_divide(f, g))
    assert_close(pnp.remainder(f, g), np.remainder(f, g))


def test_nan_handling_of_extrema():
    x = np.array([1.0, np.nan, np.nan, 2.0], np.float32)
    y = np.array([np.nan, 3.0, np.nan, 1.0], np.float32)
    inf = np.array([np.inf, -np.inf, np.inf], np.float32)
    with np.errstate(invalid="ignore"):
        for name in ["maximum", "minimum", "fmax", "fmin", "logaddexp", "hypot", "copysign"]:
            assert_close(getattr(pnp, name)(x, y), getattr(np, name)(x, y), err_msg=name)
        for name in ["logaddexp", "logaddexp2", "hypot"]:
            np.testing.assert_array_equal(np.asarray(getattr(pnp, name)(inf, inf[::-1])),
                                          getattr(np, name)(inf, inf[::-1]), err_msg=name)
    assert_close(pnp.hypot(np.float32(3e30), np.float32(4e30)), 5e30)


@pytest.mark.parametrize("name", ["sin", "sqrt", "floor", "isnan", "signbit", "real", "sinc",
                                  "square"])
def test_unary_under_make_jaxpr(name):
    traced_equal(getattr(pnp, name), rand((2, 3), np.float32, positive=True))


@pytest.mark.parametrize("name", ["add", "true_divide", "floor_divide", "remainder", "power",
                                  "fmax", "hypot", "logaddexp", "copysign", "heaviside",
                                  "logical_xor", "arctan2"])
def test_binary_under_make_jaxpr(name):
    traced_equal(getattr(pnp, name), rand((2, 3), np.float32, positive=True),
                 rand((3,), np.float32, seed=2, positive=True))
    traced_equal(lambda a: getattr(pnp, name)(a, 2), rand((2, 3), np.int32, positive=True))


def test_scalar_literal_in_jaxpr():
    """`x_f16 + 1.0` records one add with a float16 literal (no convert), as JAX."""
    text = str(plax.make_jaxpr(lambda x: x + 1.0)(np.ones(3, np.float16)))
    assert "add a 1.0:f16[]" in text and "convert" not in text
    text = str(plax.make_jaxpr(lambda x, y: x * y)(np.ones(3, np.float32),
                                                   np.ones((2, 3), np.float32)))
    assert "broadcast_in_dim" in text and "mul" in text


def test_errors():
    with pytest.raises(TypeError, match="add requires ndarray or scalar arguments.*list"):
        pnp.add([1, 2], 3)
    with pytest.raises(ValueError, match="add: incompatible shapes"):
        pnp.add(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="bitwise_and does not accept dtype float32"):
        pnp.bitwise_and(np.ones(3, np.float32), 1)
    with pytest.raises(TypeError, match="negative does not accept dtype bool"):
        pnp.negative(np.ones(3, bool))
    with pytest.raises(TypeError, match="subtract"):
        pnp.subtract(np.ones(3, bool), True)
    with pytest.raises(OverflowError, match="300"):
        pnp.add(np.ones(3, np.int8), 300)
    with pytest.raises(TypeError, match="hypot does not accept dtype complex64"):
        pnp.hypot(np.ones(2, np.complex64), 1)
