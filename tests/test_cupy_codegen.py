"""plax_cupy code generation: every elementwise primitive on every dtype it accepts, the view-like
ops and the reductions, run as generated kernels in the host build (g++) and compared with the
reference backend, XLA's traps included (NaN max/min, integer division by zero, INT_MIN / -1,
shifts past the bit width, float -> int saturation, round half to even, 16-bit floats); then
every kernel of this corpus compiled by NVRTC to an sm_90 cubin, with no register spills."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from plax import lax

from conftest import assert_close
from cupy_helpers import assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused

ALL = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
       "float16", "bfloat16", "float32", "float64", "complex64", "complex128"]
N = 64


def _dt(name):
    return np.dtype(plax.numpy.dtype(name)) if name == "bfloat16" else np.dtype(name)


def inputs(name):
    """Two operands with the dtype's hard cases first, then random values."""
    dt = _dt(name)
    rng = np.random.default_rng(1)
    if dt == np.bool_:
        return rng.random(N) < 0.5, rng.random(N) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        bits = 8 * dt.itemsize
        hard_x = [info.min, info.max, 0, 1, info.min, 7, 5, info.max, 3, 100 % (info.max + 1)]
        hard_y = [-1 if dt.kind == "i" else 1, 0, 0, bits, 0, bits + 3, 2 * bits, 1, bits - 1, 3]
        x = np.concatenate([np.array(hard_x, dt), rng.integers(info.min, info.max, N - 10,
                                                               dtype=dt, endpoint=True)])
        y = np.concatenate([np.array(hard_y, dt), rng.integers(info.min, info.max, N - 10,
                                                               dtype=dt, endpoint=True)])
        return x.astype(dt), y.astype(dt)
    hard_x = [np.nan, 1.0, np.inf, -np.inf, 0.0, -0.0, 2.5, -2.5, 0.5, 1e30, -3e9, 3.0]
    hard_y = [1.0, np.nan, 2.0, np.inf, 0.0, 1.0, 0.0, -1.0, 0.5, 3.0, 7.0, np.inf]
    if dt.kind == "c":
        re = np.concatenate([hard_x, rng.standard_normal(N - 12)])
        im = np.concatenate([hard_y, rng.standard_normal(N - 12)])
        with np.errstate(invalid="ignore"):
            return (re + 1j * im).astype(dt), (im - 0.5j * re).astype(dt)
    x = np.concatenate([hard_x, rng.standard_normal(N - 12) * 3])
    y = np.concatenate([hard_y, rng.standard_normal(N - 12) * 3])
    with np.errstate(over="ignore"):
        return x.astype(dt), y.astype(dt)


UNARY_FLOAT = ["neg", "sign", "floor", "ceil", "is_finite", "exp", "exp2", "log", "log1p",
               "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
               "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "erf", "erfc",
               "lgamma", "erf_inv", "digamma"]
BINARY_FLOAT = ["add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter",
                "eq", "ne", "lt", "le", "gt", "ge"]
BINARY_INT = ["add", "sub", "mul", "div", "rem", "max", "min", "bitwise_and", "bitwise_or",
              "bitwise_xor", "shift_left", "shift_right_logical", "shift_right_arithmetic",
              "eq", "ne", "lt", "le", "gt", "ge"]
EXACT = {"neg", "sign", "floor", "ceil", "is_finite", "abs", "add", "sub", "max", "min", "eq",
         "ne", "lt", "le", "gt", "ge", "round0", "round1", "select_n", "clamp", "real", "imag",
         "conj", "rem", "nextafter", "not", "population_count", "bitcast"}


def ops_for(name):
    """[(label, f(x, y))] for every elementwise primitive that accepts dtype `name`."""
    dt = _dt(name)
    ops = []
    kind = dt.kind if name != "bfloat16" else "f"
    if kind == "f":
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x)) for n in UNARY_FLOAT]
        # 16-bit nextafter steps bits in a library call, not in a kernel
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x, y)) for n in BINARY_FLOAT
                if n != "nextafter" or dt.itemsize > 2]
        ops += [("round0", lambda x, y: lax.round(x, 0)), ("round1", lambda x, y: lax.round(x, 1)),
                ("clamp", lambda x, y: lax.clamp(lax.neg(lax.abs(y)), x, lax.abs(y))),
                ("select_n3", lambda x, y: lax.select_n(lax.convert_element_type(
                    lax.rem(lax.abs(x), np.asarray(4, x.dtype)), np.int32), x, y, lax.neg(x))),
                ("complex", lambda x, y: lax.complex(x, y)) if name in ("float32", "float64")
                else ("add_lit", lambda x, y: lax.add(x, np.asarray(2, x.dtype)[()]))]
        ops += [(f"ipow{k}", lambda x, y, k=k: lax.integer_pow(x, k)) for k in (0, 2, 3, -2)]
    elif kind in "iu":
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x, y)) for n in BINARY_INT]
        ops += [("not", lambda x, y: lax.bitwise_not(x)),
                ("population_count", lambda x, y: lax.population_count(x)),
                ("clamp", lambda x, y: lax.clamp(lax.min(x, y), x, lax.max(x, y))),
                ("ipow3", lambda x, y: lax.integer_pow(x, 3)), ("sign", lambda x, y: lax.sign(x))]
        if kind == "i":
            ops += [("neg", lambda x, y: lax.neg(x)), ("abs", lambda x, y: lax.abs(x))]
        if dt.itemsize >= 4:
            other = np.dtype(f"{'u' if kind == 'i' else 'i'}{dt.itemsize}")
            ops.append(("bitcast", lambda x, y: lax.bitcast_convert_type(x, other)))
    elif kind == "b":
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x, y))
                for n in ("bitwise_and", "bitwise_or", "bitwise_xor", "eq", "ne", "max", "min")]
        ops.append(("not", lambda x, y: lax.bitwise_not(x)))
    else:
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x, y))
                for n in ("add", "sub", "mul", "div", "eq", "ne")]
        ops += [(n, lambda x, y, n=n: getattr(lax, n)(x))
                for n in ("neg", "conj", "real", "imag", "abs", "exp", "log", "sign")]
        ops.append(("ipow3", lambda x, y: lax.integer_pow(x, 3)))
    ops.append(("select_n", lambda x, y: lax.select_n(lax.lt(x, y) if kind in "fiu"
                                                      else lax.ne(x, y), x, y)))
    ops += [(f"to_{t}", lambda x, y, t=t: lax.convert_element_type(x, _dt(t))) for t in ALL]
    return ops


def _program(name):
    ops = ops_for(name)
    return ops, (lambda x, y: [f(x, y) for _, f in ops])


@pytest.fixture(scope="module", autouse=True)
def prebuilt():
    """The whole corpus built by one compiler call (g++'s start-up dominates small kernels)."""
    from plax_cupy import fused
    fused.build_kernels(_corpus())


@pytest.fixture(scope="module")
def results():
    """Every dtype's program planned and run."""
    out = {}
    with plax.enable_x64():
        for name in ALL:
            ops, f = _program(name)
            x, y = inputs(name)
            got, steps, launches = run_fused(f, x, y)
            out[name] = (ops, got, reference(f, x, y), steps, launches)
    return out


def _mismatch(label, g, w):
    try:
        if label in EXACT or label.startswith("to_") or g.dtype.kind in "biu":
            if g.dtype.kind in "fc" or g.dtype.name == "bfloat16":
                np.testing.assert_array_equal(g.astype(np.complex128), w.astype(np.complex128))
            else:
                np.testing.assert_array_equal(g, w)
        else:
            with np.errstate(all="ignore"):
                kw = {"atol": 1e-5, "rtol": 1e-5} if g.dtype.name == "float32" else {}
                assert_close(g, w, **kw)
    except AssertionError as e:
        return f"{label}: {str(e)[:600]}"
    return None


@pytest.mark.parametrize("name", ALL)
def test_elementwise_matches_reference(results, name):
    ops, got, want, steps, launches = results[name]
    assert len(steps) == 1 and launches == 1, "all of a dtype's ops fuse into one kernel"
    bad = []
    for (label, _), g, w in zip(ops, got, want, strict=True):
        assert g.dtype == w.dtype, label
        if label in ("abs", "sign") and _dt(name).kind == "c":
            label = "complex " + label  # hypot differs from NumPy's in the last bit
        bad.append(_mismatch(label, g, w))
    bad = [b for b in bad if b]
    assert not bad, f"{name}:\n" + "\n".join(bad)


def _views(x):
    y = lax.rev(x, (0,))
    y = lax.slice(y, (1, 0), (7, 6), (2, 1))              # (3, 6)
    y = lax.transpose(y, (1, 0))                          # (6, 3)
    y = lax.pad(y, lax.convert_element_type(0, x.dtype), ((1, 2, 1), (-1, 1, 0)))  # (14, 3)
    y = lax.concatenate([y, lax.broadcast_in_dim(x[0, :3], (2, 3), (1,))], 0)      # (16, 3)
    y = lax.reshape(y, (4, 12))
    z = lax.reshape(y, (3, 16), dimensions=(1, 0))
    io = lax.convert_element_type(lax.iota(np.int32, 48).reshape(3, 16), x.dtype)
    return [y, lax.squeeze(lax.reshape(z, (3, 1, 16)), (1,)), lax.select_n(
        lax.ne(io, io), z, io)]


def _reductions(x):
    dt = x.dtype
    if dt == np.bool_:
        return [lax.reduce_and(x, (0,)), lax.reduce_or(x, (1,)), lax.reduce_xor(x, (0, 1)),
                lax.reduce_max(x, (1,)), lax.reduce_min(x, (0,))]
    out = [lax.reduce_sum(x, (1,)), lax.reduce_sum(x, (0,)), lax.reduce_prod(x[:2], (0,))]
    if dt.kind != "c":
        out += [lax.reduce_max(x, (0, 1)), lax.reduce_min(x, (1,)),
                lax.argmax(x, 1, np.int32), lax.argmin(x, 0, np.int64)]
    if dt.kind in "iu":
        out += [lax.reduce_and(x, (0,)), lax.reduce_or(x, (1,)), lax.reduce_xor(x, (1,))]
    return out


@pytest.mark.parametrize("name", ALL)
def test_views_and_reductions_match_reference(name):
    with plax.enable_x64():
        dt = _dt(name)
        x = inputs(name)[0][:48].reshape(8, 6) if dt.kind != "f" or name == "bfloat16" \
            else (np.arange(48) % 11 - 5).astype(dt).reshape(8, 6)
        if dt.kind == "f" or name in ("float16", "bfloat16"):
            x = (np.arange(48) % 11 - 5).astype(dt).reshape(8, 6)
        f = lambda x: _views(x) + _reductions(x)  # noqa: E731
        got, steps, _ = run_fused(f, x)
        want = reference(f, x)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        if g.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w)
        else:
            assert_close(g, w)


def _corpus():
    ks = []
    with plax.enable_x64():
        for name in ALL:
            ks += kernels_of(_program(name)[1], *inputs(name))
            x = inputs(name)[0][:48].reshape(8, 6)
            ks += kernels_of(lambda x: _views(x) + _reductions(x), x)
        big = np.zeros((1000, 300), np.float32)
        ks += kernels_of(lambda x: lax.reduce_sum(lax.exp(x), (1,)) * 2, big)
        ks += kernels_of(lambda x: lax.reduce_max(x, (0,)), big)
        ks += kernels_of(lambda x: lax.argmax(x, 1, np.int32) + 1, big)
        ks += kernels_of(lambda x, i: lax.dynamic_slice(x, (i, i), (5, 7)), big, np.int64(3))
        ks += kernels_of(lambda x: lax.reduce_max(x, (0,)), np.zeros((4000, 30), np.float32))
        for dt in (np.float16, np.float64, np.int64):
            long = np.zeros((2, 1 << 17), dt)
            ks += kernels_of(lambda x: (lax.reduce_sum(x, (1,)), lax.reduce_min(x, (1,))), long)
        huge = plax.ShapeDtypeStruct((3, 1 << 30), np.float32)
        ks += kernels_of(lambda x: lax.exp(lax.transpose(x, (1, 0))), huge)
    return ks


def test_every_kernel_compiles_with_nvrtc_for_sm90_without_spills():
    ks = _corpus()
    assert any(len(k.entries) == 2 for k in ks)  # split reductions are in the corpus
    assert_nvrtc_sm90_without_spills(ks + ks[:3])  # repeats compile once


def test_indexing_is_32_bit_when_it_fits():
    small = kernels_of(lambda x: lax.exp(x), np.zeros((10, 10), np.float32))[0]
    assert "for (int i" in small.body and "long long" not in small.body
