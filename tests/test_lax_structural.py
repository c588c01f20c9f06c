"""lax's structural and slicing primitives: values against NumPy (several shapes and dtypes,
0-d and empty arrays), weak types, the jaxpr text against what JAX prints for the same lax
program, the jaxpr checker, and the errors for bad shapes, dimensions and dtypes."""

from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest
from conftest import HAVE_JAX, requires_jax
from helpers import rand

import plax
import plax.lax as lax
from plax._src.core import JaxprTypeError, PlaxTypeError

DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.float16, ml_dtypes.bfloat16, np.float32,
          np.complex64]


def check(actual, expected):
    """Exact comparison (these ops move elements, they never round), dtype and shape included."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape)
    wide = {"c": np.complex128, "f": np.float64, "V": np.float64}.get(actual.dtype.kind)
    if wide is not None:  # kind "V" is bfloat16, which assert_array_equal cannot compare
        actual, expected = actual.astype(wide), expected.astype(wide)
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------------------------------------
# Values against NumPy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_shape,shape,dims", [
    ((), (), ()), ((), (2, 3), ()), ((3,), (2, 3), (1,)), ((2, 1), (2, 4), (0, 1)),
    ((2, 3), (3, 2), (1, 0)), ((1, 3), (4, 3, 2), (2, 1)), ((0,), (2, 0), (1,)),
    ((1,), (0, 5), (0,)),
])
def test_broadcast_in_dim(backend, dtype, in_shape, shape, dims):
    x = rand(in_shape, dtype)
    # reference: transpose the operand into target order, insert size-1 dims, broadcast
    order = np.argsort(dims)
    expanded = [1] * len(shape)
    for d, s in zip(sorted(dims), np.transpose(x, order).shape, strict=True):
        expanded[d] = s
    expected = np.broadcast_to(np.transpose(x, order).reshape(expanded), shape)
    out = lax.broadcast_in_dim(x, shape, dims)
    assert out.shape == shape and out.dtype == np.dtype(dtype)
    check(out, expected)


@pytest.mark.parametrize("dtype", [np.bool_, np.int32, ml_dtypes.bfloat16, np.float32])
def test_broadcast_expand_dims_and_rank(backend, dtype):
    x = rand((2, 3), dtype)
    check(lax.broadcast(x, (4, 1)), np.broadcast_to(x, (4, 1, 2, 3)))
    check(lax.expand_dims(x, (0, -1)), x[None, :, :, None])
    check(lax.expand_dims(x, (1,)), x[:, None])
    check(lax.broadcast_to_rank(x, 4), x[None, None])
    assert lax.broadcast(lax.iota(np.int32, 3), ()).shape == (3,)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_shape,new_sizes,dims", [
    ((2, 3), (3, 2), None), ((2, 3), (6,), (1, 0)), ((), (1, 1), None), ((1, 1), (), None),
    ((2, 3, 4), (4, 6), (2, 0, 1)), ((0, 3), (3, 0), None), ((4,), (2, 2), None),
])
def test_reshape(backend, dtype, in_shape, new_sizes, dims):
    x = rand(in_shape, dtype)
    expected = (x if dims is None else np.transpose(x, dims)).reshape(new_sizes)
    check(lax.reshape(x, new_sizes, dims), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_squeeze_rev(backend, dtype):
    x = rand((2, 1, 3), dtype)
    for perm in itertools.permutations(range(3)):
        check(lax.transpose(x, perm), np.transpose(x, perm))
    check(lax.squeeze(x, (1,)), x[:, 0])
    check(lax.squeeze(x, (-2,)), x[:, 0])
    check(lax.squeeze(np.ones((1, 1), dtype), (0, 1)), np.ones((), dtype))
    for dims in [(), (0,), (2,), (0, 2), (0, 1, 2)]:
        check(lax.rev(x, dims), np.flip(x, dims) if dims else x)
    e = rand((0, 4), dtype)
    check(lax.rev(e, (0, 1)), e)
    check(lax.transpose(e, (1, 0)), e.T)
    check(lax.transpose(rand((), dtype), ()), rand((), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenate(backend, dtype):
    a, b, c = rand((2, 3), dtype, 0), rand((2, 0), dtype, 1), rand((2, 4), dtype, 2)
    check(lax.concatenate([a, b, c], 1), np.concatenate([a, b, c], 1))
    check(lax.concatenate([a, a], 0), np.concatenate([a, a], 0))
    one = lax.iota(np.float32, 3)
    assert lax.concatenate([one], 0) is one  # a single array is returned as is, as in JAX


def pad_reference(x, value, config):
    """out[lo + k * (interior + 1)] = x[k] wherever that lands in the output (XLA's Pad)."""
    shape = [lo + hi + (d + (d - 1) * i if d else 0)
             for (lo, hi, i), d in zip(config, x.shape, strict=True)]
    out = np.full(shape, value, x.dtype)
    for k in np.ndindex(*x.shape):
        pos = tuple(lo + kk * (i + 1) for kk, (lo, _, i) in zip(k, config, strict=True))
        if all(0 <= p < n for p, n in zip(pos, shape, strict=True)):
            out[pos] = x[k]
    return out


PAD_CONFIGS = [
    ((2, 3), [(1, 2, 0), (0, -1, 1)]),
    ((2, 3), [(0, 0, 0), (0, 0, 0)]),
    ((5,), [(-1, -2, 0)]),
    ((5,), [(-3, 2, 2)]),
    ((5,), [(-2, -6, 1)]),
    ((4,), [(2, -6, 0)]),
    ((3,), [(-1, -1, 3)]),
    ((0, 2), [(1, 1, 3), (2, -1, 0)]),
    ((), []),
    ((1, 3), [(0, 0, 5), (3, 0, 1)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,config", PAD_CONFIGS)
def test_pad(backend, dtype, shape, config):
    x = rand(shape, dtype)
    value = rand((), dtype, seed=7)
    config = [tuple(c) for c in config]
    out = lax.pad(x, value, config)
    check(out, pad_reference(x, value, config))


def test_pad_python_scalar_and_weak_types(backend):
    x = np.arange(4, dtype=np.float32)
    check(lax.pad(x, 0.5, [(1, 1, 1)]), pad_reference(x, np.float32(0.5), [(1, 1, 1)]))
    assert not lax.pad(x, 0.5, [(1, 0, 0)]).weak_type
    assert lax.pad(1.0, 0.0, []).weak_type


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice(backend, dtype):
    x = rand((5, 6), dtype)
    check(lax.slice(x, (1, 0), (4, 6)), x[1:4, 0:6])
    check(lax.slice(x, (0, 1), (5, 6), (2, 3)), x[0:5:2, 1:6:3])
    check(lax.slice(x, (2, 2), (2, 5), (1, 4)), x[2:2, 2:5:4])
    check(lax.slice(rand((), dtype), (), ()), rand((), dtype))
    check(lax.slice_in_dim(x, -3, None, axis=1), x[:, -3:])
    check(lax.slice_in_dim(x, None, -1, 2), x[:-1:2])
    check(lax.index_in_dim(x, -1, 1, keepdims=False), x[:, -1])
    check(lax.index_in_dim(x, 2), x[2:3])
    check(lax.collapse(rand((2, 3, 4), dtype), 1), rand((2, 3, 4), dtype).reshape(2, 12))
    check(lax.collapse(rand((2, 3, 4), dtype), 0, 2), rand((2, 3, 4), dtype).reshape(6, 4))


def dynamic_slice_reference(x, starts, sizes):
    starts = [min(max(s + d if s < 0 else s, 0), d - n)
              for s, d, n in zip(starts, x.shape, sizes, strict=True)]
    return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes, strict=True))], starts


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.float16, np.float32, np.complex64])
@pytest.mark.parametrize("starts,sizes", [
    ((0, 0), (2, 3)), ((1, 2), (2, 2)), ((4, 9), (2, 3)), ((-1, -2), (1, 2)), ((-20, 3), (3, 0)),
    ((2, 1), (0, 6)), ((0, 0), (4, 6)),
])
def test_dynamic_slice_and_update(backend, dtype, starts, sizes):
    x = rand((4, 6), dtype)
    expected, clamped = dynamic_slice_reference(x, starts, sizes)
    check(lax.dynamic_slice(x, starts, sizes), expected)
    # start indices given as Arrays of another integer dtype, or as one index array
    check(lax.dynamic_slice(x, [np.int16(s) for s in starts], sizes), expected)
    check(lax.dynamic_slice(x, np.array(starts, np.int32), sizes), expected)
    update = rand(sizes, dtype, seed=3)
    want = x.copy()
    want[tuple(slice(s, s + n) for s, n in zip(clamped, sizes, strict=True))] = update
    check(lax.dynamic_update_slice(x, update, starts), want)


def test_dynamic_slice_traced_indices(backend):
    x = np.arange(20, dtype=np.float32).reshape(4, 5)

    def f(x, i, j):
        return (lax.dynamic_slice(x, (i, j), (2, 2)),
                lax.dynamic_update_slice(x, np.zeros((1, 3), np.float32), (i, j)))

    for i, j in [(0, 0), (1, 2), (3, 4), (-1, -2), (-9, 7)]:
        closed = plax.make_jaxpr(f)(x, np.int32(i), np.int32(j))
        closed.check()
        got = plax._src.core.jaxpr_as_fun(closed)(x, np.int32(i), np.int32(j))
        expected, clamped = dynamic_slice_reference(x, (i, j), (2, 2))
        check(got[0], expected)
        _, clamped = dynamic_slice_reference(x, (i, j), (1, 3))
        want = x.copy()
        want[clamped[0], clamped[1]:clamped[1] + 3] = 0
        check(got[1], want)
    # unsigned indices are never negative: no select is staged for them
    jaxpr = plax.make_jaxpr(lambda x, i: lax.dynamic_slice(x, (i, i), (1, 1)))(x, np.uint8(200))
    assert [e.primitive.name for e in jaxpr.eqns] == ["dynamic_slice"]
    check(lax.dynamic_slice(x, (np.uint8(200), np.uint8(1)), (1, 2)), x[3:4, 1:3])


def test_dynamic_in_dim_helpers(backend):
    x = rand((3, 5), np.float32)
    check(lax.dynamic_slice_in_dim(x, 1, 3, axis=1), x[:, 1:4])
    check(lax.dynamic_slice_in_dim(x, np.int8(-1), 2), x[1:3])
    check(lax.dynamic_index_in_dim(x, 4, axis=1, keepdims=False), x[:, 4])
    check(lax.dynamic_index_in_dim(x, -1), x[2:3])
    want = x.copy()
    want[:, 3:5] = 7
    check(lax.dynamic_update_slice_in_dim(x, np.full((3, 2), 7, np.float32), 4, axis=1), want)
    want = x.copy()
    want[1] = 0
    check(lax.dynamic_update_index_in_dim(x, np.zeros(5, np.float32), 1, 0), want)
    check(lax.dynamic_update_index_in_dim(x, np.zeros((1, 5), np.float32), 1, 0), want)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.float16, ml_dtypes.bfloat16,
                                   np.float32, np.complex64])
def test_iota(backend, dtype):
    check(lax.iota(dtype, 5), np.arange(5).astype(dtype))
    check(lax.iota(dtype, 0), np.zeros(0, dtype))
    for dim in range(3):
        expected = np.broadcast_to(
            np.arange((2, 3, 4)[dim]).reshape([-1 if i == dim else 1 for i in range(3)]),
            (2, 3, 4)).astype(dtype)
        check(lax.broadcasted_iota(dtype, (2, 3, 4), dim), expected)


def test_full_full_like_and_weak_types(backend):
    out = lax.full((2, 3), 3.0)
    assert out.dtype == np.float32 and out.weak_type
    check(out, np.full((2, 3), 3.0, np.float32))
    out = lax.full((2,), 3, np.int8)
    assert out.dtype == np.int8 and not out.weak_type
    check(lax.full((), True), np.array(True))
    check(lax.full((2,), 2.7, np.int32), np.array([2, 2], np.int32))
    # float -> int as XLA converts: NaN -> 0, saturating; ints wrap
    check(lax.full((2,), np.nan, np.int32), np.zeros(2, np.int32))
    check(lax.full((1,), -1e20, np.int32), np.array([np.iinfo(np.int32).min], np.int32))
    check(lax.full((1,), 300, np.uint8), np.array([44], np.uint8))
    check(lax.full((1,), 1 + 2j, np.float32), np.array([1.0], np.float32))
    like = lax.full_like(np.ones((2, 2), np.int8), 3)
    assert like.dtype == np.int8 and not like.weak_type
    check(like, np.full((2, 2), 3, np.int8))
    assert lax.full_like(3.0, 1).weak_type  # like a weakly typed value: stays weak
    check(lax.full_like(np.ones(3, np.float32), 2, np.int32, (2,)), np.array([2, 2], np.int32))
    check(lax.zeros_like_array(np.ones((2, 0), np.float16)), np.zeros((2, 0), np.float16))
    check(lax.zeros_like_array(np.ones((), np.complex64)), np.zeros((), np.complex64))
    # Python scalars go through bind like any value and keep their weak type
    assert lax.broadcast_in_dim(2.0, (3,), ()).weak_type
    assert lax.concatenate([np.ones(1, np.float32), lax.full((1,), 2.0)], 0).weak_type is False
    assert lax.dynamic_slice(lax.full((3,), 1.0), (1,), (1,)).weak_type


def test_no_op_calls_return_the_array(backend):
    x = lax.iota(np.float32, 6)
    y = lax.reshape(x, (2, 3))
    assert lax.reshape(y, (2, 3)) is y
    assert lax.transpose(y, (0, 1)) is y
    assert lax.squeeze(y, ()) is y
    jaxpr = plax.make_jaxpr(lambda a: lax.transpose(lax.reshape(a, (6,)), (0,)))(x)
    assert jaxpr.eqns == []


# ---------------------------------------------------------------------------------------------
# Jaxprs: the checker, and the text against JAX's


def _program(L, x, i):
    y = L.broadcast_in_dim(x, (4, 2, 3), (1, 2))
    y = L.reshape(y, (8, 3))
    y = L.transpose(y, (1, 0))
    y = L.rev(y, (1,))
    y = L.concatenate([y, L.slice(y, (0, 0), (3, 2))], 1)
    y = L.pad(y, 0.0, ((1, -1, 1), (0, 2, 0)))
    y = L.dynamic_update_slice(y, L.dynamic_slice(y, (i, 1), (2, 3)), (0, i))
    y = L.squeeze(L.expand_dims(y, (0,)), (0,))
    return L.add(y, L.convert_element_type(L.broadcasted_iota(np.int32, y.shape, 1), np.float32))


def test_checker_accepts_and_catches():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    closed = plax.make_jaxpr(lambda x, i: _program(lax, x, i))(x, np.int32(1))
    closed.check()
    got = plax._src.core.jaxpr_as_fun(closed)(x, np.int32(1))[0]
    check(got, _program(lax, x, np.int32(1)))  # eager and staged agree
    # a wrong param is caught by re-running the abstract-eval rule
    eqn = next(e for e in closed.jaxpr.eqns if e.primitive is lax.transpose_p)
    eqn.params = dict(eqn.params, permutation=(0, 0))
    with pytest.raises(JaxprTypeError, match="transpose.*permutation"):
        closed.check()


def _bid_params_hidden() -> bool:
    text = str(plax.make_jaxpr(lambda x: lax.broadcast_in_dim(x, (2,), (0,)))(np.ones(1)))
    return "shape=" not in text


JAXPR_CASES = {
    "reshape": lambda L: lambda x: L.reshape(x, (3, 2)),
    "reshape_dims": lambda L: lambda x: L.reshape(x, (6,), (1, 0)),
    "collapse": lambda L: lambda x: L.collapse(x, 0),
    "transpose": lambda L: lambda x: L.transpose(x, (1, 0)),
    "squeeze": lambda L: lambda x: L.squeeze(L.reshape(x, (1, 2, 3)), (0,)),
    "rev": lambda L: lambda x: L.rev(x, (0, 1)),
    "concatenate": lambda L: lambda x: L.concatenate([x, x, x], 1),
    "pad": lambda L: lambda x: L.pad(x, 0.0, ((1, 2, 0), (0, -1, 1))),
    "slice": lambda L: lambda x: L.slice(x, (0, 1), (2, 3)),
    "slice_strides": lambda L: lambda x: L.slice(x, (0, 0), (2, 3), (1, 2)),
    "slice_in_dim": lambda L: lambda x: L.slice_in_dim(x, 1, 3, axis=1),
    "index_in_dim": lambda L: lambda x: L.index_in_dim(x, -1, 0, keepdims=False),
    "dynamic_slice": lambda L: lambda x: L.dynamic_slice(x, (1, -2), (1, 2)),
    "dynamic_update_slice": lambda L: lambda x: L.dynamic_update_slice(
        x, L.slice(x, (0, 0), (1, 2)), (1, 1)),
    "iota": lambda L: lambda x: L.iota(np.int32, 4),
    "broadcasted_iota": lambda L: lambda x: L.broadcasted_iota(np.float32, (2, 3), 1),
}
# broadcast_in_dim: JAX's printer hides `shape` and `sharding` (and empty dimensions); plax's
# does too once core's pp_eqn applies core._pp_param_rules
BID_CASES = {
    "broadcast_in_dim": lambda L: lambda x: L.broadcast_in_dim(x, (4, 2, 3), (1, 2)),
    "expand_dims": lambda L: lambda x: L.expand_dims(x, (0, 2)),
    "full": lambda L: lambda x: L.full((2,), 3.0),
}


def _same_text(make):
    import jax
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert str(plax.make_jaxpr(make(lax))(x)) == str(jax.make_jaxpr(make(jax.lax))(x))


@requires_jax
@pytest.mark.parametrize("name", sorted(JAXPR_CASES))
def test_jaxpr_text_matches_jax(name):
    _same_text(JAXPR_CASES[name])


@requires_jax
@pytest.mark.xfail(HAVE_JAX and not _bid_params_hidden(), strict=True,
                   reason="core's printer does not apply core._pp_param_rules yet")
@pytest.mark.parametrize("name", sorted(BID_CASES))
def test_broadcast_in_dim_jaxpr_text_matches_jax(name):
    _same_text(BID_CASES[name])


@requires_jax
def test_traced_dynamic_slice_matches_jax_values():
    import jax
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    for i in (-7, -1, 0, 2, 9):
        ours = plax._src.core.jaxpr_as_fun(plax.make_jaxpr(
            lambda x, i: lax.dynamic_slice(x, (i, i), (2, 3)))(x, np.int32(i)))(x, np.int32(i))
        theirs = jax.jit(lambda x, i: jax.lax.dynamic_slice(x, (i, i), (2, 3)))(x, np.int32(i))
        check(ours[0], np.asarray(theirs))
    for cfg in PAD_CONFIGS[:8]:
        shape, config = cfg
        x = rand(shape, np.float32)
        check(lax.pad(x, np.float32(-1), config),
              np.asarray(jax.lax.pad(x, np.float32(-1), config)))


# ---------------------------------------------------------------------------------------------
# Errors


F32 = np.ones((2, 3), np.float32)

ERRORS = [
    (lambda: lax.broadcast_in_dim(F32, (2, 4), (0, 1)), "neither 1 nor the size 4"),
    (lambda: lax.broadcast_in_dim(F32, (3, 2, 3), (1,)), "one entry per operand dimension"),
    (lambda: lax.broadcast_in_dim(F32, (2, 3), (0, 2)), r"out of range.*rank 2"),
    (lambda: lax.broadcast_in_dim(F32, (3,), (0, 0)), "lower rank"),
    (lambda: lax.broadcast_in_dim(F32, (2, 3, 3), (1, 1)), "must be unique"),
    (lambda: lax.broadcast_in_dim(F32, (2, -3), (0, 1)), "shape must be nonnegative"),
    (lambda: lax.reshape(F32, (4,)), r"shape \(2, 3\) \(6 elements\) into shape \(4,\)"),
    (lambda: lax.reshape(F32, (6,), (0, 0)), "must be a permutation"),
    (lambda: lax.reshape(F32, (6,), out_sharding="x"), "sharding must be None"),
    (lambda: lax.transpose(F32, (0, 0)), r"not a permutation.*\(2, 3\)"),
    (lambda: lax.transpose(F32, (0,)), "not a permutation"),
    (lambda: lax.squeeze(F32, (0,)), "only dimensions of size 1"),
    (lambda: lax.squeeze_p.bind(F32, dimensions=(2,)), "out of range"),
    (lambda: lax.rev(F32, (-1,)), "no negative dimensions"),
    (lambda: lax.rev(F32, (1, 1)), "must be unique"),
    (lambda: lax.concatenate([F32, F32.astype(np.int32)], 0), "same dtypes.*float32, int32"),
    (lambda: lax.concatenate([F32, np.ones(3, np.float32)], 0), "same rank"),
    (lambda: lax.concatenate([F32, np.ones((3, 3), np.float32)], 1), "differ only in dim"),
    (lambda: lax.concatenate([F32, F32], 2), "dimension 2 is out of range"),
    (lambda: lax.concatenate([1.0, 2.0], 0), "out of range"),
    (lambda: lax.pad(F32, np.int32(0), ((0, 0, 0), (0, 0, 0))), "same dtype.*float32 and int32"),
    (lambda: lax.pad(F32, np.zeros(2, np.float32), ((0, 0, 0),) * 2), "must be a scalar"),
    (lambda: lax.pad(F32, 0.0, ((0, 0, 0),)), "one \\(low, high, interior\\) triple per"),
    (lambda: lax.pad(F32, 0.0, ((0, 0, -1), (0, 0, 0))), "interior padding must be nonneg"),
    (lambda: lax.pad(F32, 0.0, ((-3, 0, 0), (0, 0, 0))), "removes more elements"),
    (lambda: lax.pad(F32, 0.0, ((0, 0), (0, 0, 0))), "triple"),
    (lambda: lax.slice(F32, (0, 0), (3, 3)), r"limit <= size.*\(2, 3\)"),
    (lambda: lax.slice(F32, (1, 2), (0, 3)), "start <= limit"),
    (lambda: lax.slice(F32, (0,), (2,)), "one entry per dimension"),
    (lambda: lax.slice(F32, (0, 0), (2, 3), (1, 0)), "strides must be positive"),
    (lambda: lax.dynamic_slice(F32, (0, 0), (3, 1)), "at most the size"),
    (lambda: lax.dynamic_slice(F32, (np.int8(0), np.int32(0)), (1, 1)), "one dtype.*int8, int32"),
    (lambda: lax.dynamic_slice(F32, (0.5, 0), (1, 1)), "start index 0 must be an integer"),
    (lambda: lax.dynamic_slice_p.bind(F32, np.zeros(2, np.int32), np.int32(0), slice_sizes=(1, 1)),
     "start index 0 must be a scalar"),
    (lambda: lax.dynamic_slice_p.bind(F32, np.int32(0), slice_sizes=(1, 1)),
     "one start index per operand dimension"),
    (lambda: lax.dynamic_update_slice(F32, np.ones((1, 1), np.int32), (0, 0)), "same dtype"),
    (lambda: lax.dynamic_update_slice(F32, np.ones((3, 1), np.float32), (0, 0)), "fit inside"),
    (lambda: lax.dynamic_update_slice(F32, np.ones(1, np.float32), (0, 0)), "rank"),
    (lambda: lax.iota(np.bool_, 3), "iota does not accept dtype bool"),
    (lambda: lax.iota(np.int32, -1), "shape must be nonnegative"),
    (lambda: lax.broadcasted_iota(np.int32, (2, 3), 2),
     r"dimension must be an integer in \[0, 2\)"),
]


@pytest.mark.parametrize("fn,match", ERRORS)
def test_abstract_eval_errors(fn, match):
    with pytest.raises(PlaxTypeError, match=match):
        fn()


def test_user_argument_errors():
    with pytest.raises(ValueError, match="repeated axis"):
        lax.expand_dims(F32, (0, 0))
    with pytest.raises(ValueError, match="repeated axis"):
        lax.expand_dims(F32, (0, -4))
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        lax.squeeze(F32, (2,))
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 with size 3"):
        lax.index_in_dim(F32, 5, 1)
    with pytest.raises(ValueError, match="one start index per operand dimension"):
        lax.dynamic_slice(F32, (0,), (1, 1))
    with pytest.raises(ValueError, match="allow_negative_indices=False"):
        lax.dynamic_slice(F32, (-1, 0), (1, 1), allow_negative_indices=False)
    with pytest.raises(ValueError, match="non-empty"):
        lax.concatenate([], 0)
    with pytest.raises(TypeError, match="scalar fill_value"):
        lax.full((2,), np.ones(2))
    with pytest.raises(TypeError, match="sequence of integers"):
        lax.transpose(F32, 1)
    with pytest.raises(plax.ConcretizationTypeError):
        plax.make_jaxpr(lambda x, n: lax.slice(x, (0, 0), (n, 3)))(F32, 2)
    with pytest.raises(ValueError, match="invalid dimension range"):
        lax.collapse(F32, 1, 0)


@requires_jax
def test_weak_types_match_jax():
    import jax
    for L in (lax, jax.lax):
        w = L.full((3,), 2.0)
        got = [L.broadcast_in_dim(w, (2, 3), (1,)), L.reshape(w, (3, 1)), L.rev(w, (0,)),
               L.transpose(w, (0,)), L.squeeze(L.expand_dims(w, (0,)), (0,)),
               L.concatenate([w, w], 0), L.concatenate([w, L.iota(np.float32, 2)], 0),
               L.pad(w, 0.0, ((1, 1, 0),)), L.pad(w, np.float32(0), ((1, 1, 0),)),
               L.slice(w, (0,), (2,)), L.dynamic_slice(w, (1,), (1,)),
               L.dynamic_update_slice(w, L.full((1,), 1.0), (0,)), L.iota(np.float32, 2)]
        flags = [bool(g.weak_type) for g in got]
        if L is lax:
            ours = flags
    assert ours == flags
