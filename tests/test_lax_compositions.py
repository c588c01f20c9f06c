"""plax.lax's operations built from other primitives (split, stack, unstack, tile, empty,
shape_as_value, approx_max_k/min_k, mulhi, clz, index_take, broadcast_shapes, broadcast_like,
ragged_dot, dtype, composite, platform_dependent, optimization_barrier, reduce_precision)
against jax.lax: values and dtypes, under jit and grad, and their errors; with the other small
names of the surface (plax.typeof, plax.float0, plax.scipy.integrate.trapezoid,
plax.test_util.check_jvp and check_vjp)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, installed_backends, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.lax as pl

X = np.arange(6, dtype=np.int32).reshape(2, 3)
F = np.float32([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
I32 = (np.int32([-5, 70000, 2**31 - 1, -2**31, -1, 0]),
       np.int32([3, 70000, 2**31 - 1, -2**31, 7, -9]))
LHS = np.arange(20, dtype=np.float32).reshape(5, 4) / 10
RHS = np.arange(24, dtype=np.float32).reshape(2, 4, 3) / 10

CASES = {
    "tile": lambda lx: lx.tile(X, (2, 3)),
    "split": lambda lx: lx.split(np.arange(5), (2, 0, 3)),
    "stack": lambda lx: lx.stack([X, X + 1], 1),
    "unstack": lambda lx: lx.unstack(X, 1),
    "empty": lambda lx: lx.empty((2, 2), np.float32),
    "shape_as_value": lambda lx: (lx.shape_as_value((2, 3)), lx.shape_as_value(())),
    "approx_max_k": lambda lx: lx.approx_max_k(F, 2),
    "approx_min_k": lambda lx: lx.approx_min_k(F, 3),
    "approx_max_k_axis0": lambda lx: lx.approx_max_k(F, 1, reduction_dimension=0),
    "mulhi_int32": lambda lx: lx.mulhi(*I32),
    "mulhi_uint32": lambda lx: lx.mulhi(np.uint32([5, 2**32 - 1, 123456789]),
                                        np.uint32([3, 2**32 - 1, 987654321])),
    "mulhi_int8": lambda lx: lx.mulhi(np.int8([-128, 127, -3, 100]),
                                      np.int8([-128, 127, 5, -100])),
    "index_take": lambda lx: lx.index_take(X, (np.array([1, 0, 5]), np.array([2, 0, 1])),
                                           (0, 1)),
    "index_take_one_axis": lambda lx: lx.index_take(np.arange(24.0).reshape(2, 3, 4),
                                                    (np.array([1, 0]),), (1,)),
    "broadcast_like": lambda lx: lx.broadcast_like(np.float32([1, 2, 3]), X),
    "ragged_dot": lambda lx: lx.ragged_dot(LHS, RHS, np.int32([2, 2])),
    "composite": lambda lx: lx.composite(lambda a: a * 2 + 1, "my.op")(F),
    "optimization_barrier": lambda lx: lx.optimization_barrier((F, X)),
}


@requires_jax
def test_against_jax():
    import jax
    import jax.lax as jl
    expected_all = jax.jit(lambda: {n: c(jl) for n, c in CASES.items()})()
    for name, case in CASES.items():  # (one compile of JAX's cases)
        got, want = jax.tree_util.tree_leaves(case(pl)), jax.tree_util.tree_leaves(
            expected_all[name])
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            assert np.asarray(g).dtype == w.dtype, (name, np.asarray(g).dtype, w.dtype)
            assert_close(g, np.asarray(w), rtol=1e-6)
    # clz eagerly: XLA's constant folding of clz gives -32 for negative int32 under jit
    for v in (I32[0], np.uint8([0, 1, 255, 16]), np.int16([0, 1, -1, 300])):
        got, want = pl.clz(v), jl.clz(v)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert pl.broadcast_shapes((2, 1), (1, 3)) == jl.broadcast_shapes((2, 1), (1, 3))
    assert pl.dtype(np.float64(1)) == jl.dtype(np.float64(1)) == np.float32


def test_jit_grad_and_platform():
    out = plax.jit(lambda a: pl.stack(pl.split(a, (2, 3), axis=1)[::-1][0:1]))(F)
    assert_close(out, F[None, :, 2:])
    g = plax.grad(lambda lhs: pl.ragged_dot(lhs, RHS, np.int32([3, 1])).sum())(LHS)
    rows = [RHS[0].sum(1)] * 3 + [RHS[1].sum(1)] + [np.zeros(4, np.float32)]
    assert_close(g, np.stack(rows), rtol=1e-6)
    assert_close(plax.grad(lambda a: pl.tile(a, (2, 1)).sum())(F), np.full_like(F, 2))
    if "xla" in installed_backends():  # the integer compositions compiled by XLA
        with plax.default_backend("xla"):
            hi, lz = plax.jit(lambda a, b: (pl.mulhi(a, b), pl.clz(a)))(*I32)
        with plax.default_backend("reference"):
            assert np.array_equal(hi, pl.mulhi(*I32)) and np.array_equal(lz, pl.clz(I32[0]))
    cpu = pl.platform_dependent(F, cpu=lambda a: a * 3, default=lambda a: a)
    assert_close(cpu, F * 3)  # every installed backend here runs on the host
    assert_close(pl.platform_dependent(F, tpu=lambda a: a * 3, default=lambda a: -a), -F)


def test_errors():
    with pytest.raises(ValueError, match="Sum of sizes 4"):
        pl.split(np.arange(5), (2, 2))
    with pytest.raises(ValueError, match="reps length"):
        pl.tile(X, (2,))
    with pytest.raises(ValueError, match="Incompatible shapes"):
        pl.broadcast_shapes((2,), (3,))
    with pytest.raises(TypeError, match="integer operands"):
        pl.mulhi(F, F)
    with pytest.raises(ValueError, match="k must be in"):
        pl.approx_max_k(F, 6)
    with pytest.raises(ValueError, match="ragged_dot"):
        pl.ragged_dot(LHS, RHS, np.int32([1, 2, 2]))
    with pytest.raises(NotImplementedError, match="no function for platform"):
        pl.platform_dependent(F, tpu=lambda a: a)


@requires_jax
def test_typeof_and_float0():
    import jax
    for v in (1.0, np.float32(2), X, F):
        ours, theirs = plax.typeof(v), jax.typeof(v)
        assert (ours.shape, ours.dtype, ours.weak_type) == (
            theirs.shape, theirs.dtype, theirs.weak_type)
    assert plax.float0 == jax.dtypes.float0 and plax.float0.itemsize == 0


@requires_jax
def test_scipy_integrate_trapezoid():
    import jax.scipy.integrate as ji

    import plax.scipy.integrate as pi
    y, x = F, np.float32([0, 0.5, 1.5, 2, 4])
    for args in ((y,), (y, x), (y, None, 0.25, 0)):
        got, want = pi.trapezoid(*args), ji.trapezoid(*args)
        assert got.dtype == want.dtype
        assert_close(got, np.asarray(want), rtol=1e-6)


def test_test_util_check_jvp_and_vjp():
    """jax.test_util's signatures: the caller passes partial(plax.jvp, f) / partial(vjp, f);
    a wrong derivative fails the check."""
    import functools

    from plax.test_util import check_jvp, check_vjp

    def f(x, z):
        return plax.numpy.sin(x) * plax.numpy.abs(z) ** 2, x * z

    args = (np.float32([0.3, 1.2]), np.complex64([2 - 1j, 0.5j]))
    check_jvp(f, functools.partial(plax.jvp, f), args)
    check_vjp(f, functools.partial(plax.vjp, f), args)
    with pytest.raises(AssertionError, match="tangent"):
        check_jvp(f, lambda a, t: (f(*a), f(*t)), args)
    with pytest.raises(AssertionError, match="cotangent projection"):
        check_vjp(f, lambda *a: (f(*a), lambda ct: a), args)


@requires_jax
def test_reduce_precision_bit_exact_as_xla():
    """Rounding to bfloat16, float16, fp8 (e4m3/e5m2-like) and e8m0 formats, with overflow,
    underflow, subnormals, signed zeros, infinities and NaN: the same bits as XLA's."""
    import jax
    import jax.lax as jl
    rng = np.random.RandomState(0)
    with np.errstate(over="ignore"):  # some magnitudes are beyond float32: inf on purpose
        x = np.concatenate([rng.randn(400) * np.exp(rng.uniform(-90, 90, 400)),
                            [0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-42, 3.4e38, 65504,
                             65520, 1.0009765625, 1.00048828125, 6e-8]]).astype(np.float32)
    formats = [(8, 7), (5, 10), (4, 3), (5, 2), (8, 0), (1, 0), (6, 5)]
    expected = jax.jit(lambda v: [jl.reduce_precision(v, e, m) for e, m in formats])(x)
    for (e, m), want in zip(formats, expected):
        got = pl.reduce_precision(x, e, m)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True), (e, m)
        assert np.array_equal(np.signbit(got), np.signbit(want)), (e, m)
    with pytest.raises(TypeError, match="floating operand"):
        pl.reduce_precision(X, 5, 10)


@requires_jax
def test_scatter_apply_as_jax():
    """func applied once per hit: twice at a repeated index, never at a dropped one (the
    default mode), at the clamped one with mode='clip'; windows of rows too."""
    import jax
    import jax.lax as jl
    import jax.numpy as jnp
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.int32([[1, 1], [2, 3], [1, 1], [9, 0], [0, 2]])

    def cases(lx, m):
        points = lx.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0, 1),
                                            scatter_dims_to_operand_dims=(0, 1))
        rows = lx.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                          scatter_dims_to_operand_dims=(0,))
        return [lx.scatter_apply(x, idx, m.sin, points, update_shape=(5,)),
                lx.scatter_apply(x, idx, m.sin, points, update_shape=(5,), mode="clip"),
                lx.scatter_apply(x, np.int32([[2], [0], [2]]), lambda v: v * 2 + 1, rows,
                                 update_shape=(3, 4))]

    expected = jax.jit(lambda: cases(jl, jnp))()
    for got, want in zip(plax.jit(lambda: cases(pl, plax.numpy))(), expected):
        assert_close(got, np.asarray(want), rtol=1e-6)
