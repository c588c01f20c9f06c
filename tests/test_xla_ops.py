"""The xla backend's non-elementwise primitives against the reference backend: structural and
slicing ops, reductions (argmax/argmin, cumulative ones included), gather/scatter in every mode,
sort/top_k, dot_general, iota and control flow. Each case runs under jit on xla, eagerly on xla
and eagerly on the reference, on several shapes and dtypes including 0-d and empty arrays."""

from __future__ import annotations

import functools

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close
from helpers import rand as _rand

import plax
import plax.lax as lax
from plax.extend import registry

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN inputs, reference side

BF16 = ml_dtypes.bfloat16
GDN, SDN = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers
# integers in [-9, 9) (unsigned: [0, 9)); bools True with probability 0.5
rand = functools.partial(_rand, lo=-9, hi=9)


def same(fn, *args, dtype=None, eager=True, **tol):
    """fn(*args) under jit on xla (and eagerly on xla) equals fn on the reference backend."""
    with plax.default_backend("reference"):
        ref = plax.tree_util.tree_leaves(fn(*args))
    with plax.default_backend("xla"):
        runs = [plax.tree_util.tree_leaves(plax.jit(fn)(*args))]
        if eager:
            runs.append(plax.tree_util.tree_leaves(fn(*args)))
    for outs in runs:
        assert len(outs) == len(ref)
        for o, r in zip(outs, ref):
            assert o.backend == "xla"
            o, r = np.asarray(o), np.asarray(r)
            assert (o.dtype, o.shape) == (r.dtype, r.shape)
            if o.dtype.kind in "biu":
                np.testing.assert_array_equal(o, r)
            else:
                assert_close(o, r, dtype or o.dtype, **tol)


def test_every_primitive_has_a_lowering_rule():
    prims = registry.primitives()
    table = registry.lowering_table("xla")
    # a primitive with a registered composition (core's special functions) is lowered as it
    # every primitive plax.lax exports (tests define others of their own); checkify's `check`
    # has none on purpose: as JAX's, it is functionalized by checkify before it runs
    core = {p for k, p in vars(plax.lax).items() if k.endswith("_p")}
    missing = sorted(n for n, p in prims.items() if p not in table
                     and registry.get_rule("composition", p) is None
                     and p in registry.impl_table("reference") and p in core)
    assert not missing, f"primitives without an xla lowering rule: {missing}"


# ---------------------------------------------------------------------------------------------
# structural and slicing


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint32, BF16, np.float32,
                                   np.complex64])
def test_structural_ops(dtype):
    x = rand((2, 3, 4), dtype)
    pad_value = x.reshape(-1)[0]
    same(lambda x: [lax.broadcast_in_dim(x, (5, 2, 3, 4), (1, 2, 3)),
                    lax.broadcast_in_dim(x[:, :1], (2, 7, 4), (0, 1, 2)),
                    lax.reshape(x, (4, 6)), lax.reshape(x, (6, 4), (2, 1, 0)),
                    lax.transpose(x, (2, 0, 1)), lax.squeeze(x[:1], (0,)),
                    lax.rev(x, (0, 2)), lax.concatenate([x, x[:, :1], x[:, :0]], 1),
                    lax.pad(x, pad_value, ((1, 2, 1), (-1, 0, 0), (0, -2, 2))),
                    lax.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 3)),
                    lax.dynamic_slice(x, (np.int32(1), np.int32(-5), np.int32(9)), (1, 2, 3)),
                    lax.dynamic_update_slice(x, x[:1, :2, :2], (np.int32(5), np.int32(0),
                                                                   np.int32(1)))], x)


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1,)])
def test_structural_ops_on_0d_and_empty(shape):
    x = rand(shape, np.float32)
    ones = (1,) * len(shape)
    same(lambda x: [lax.broadcast_in_dim(x, (2, *shape), tuple(range(1, len(shape) + 1))),
                    lax.reshape(x, (*shape, 1)), lax.rev(x, tuple(range(len(shape)))),
                    lax.pad(x, np.float32(7), tuple((1, 1, 0) for _ in shape)),
                    lax.slice(x, (0,) * len(shape), shape),
                    lax.dynamic_slice(x, [np.int32(0)] * len(shape), (0,) * len(shape)),
                    lax.broadcast_in_dim(np.float32(2), ones, ())], x)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32, BF16, np.complex64])
def test_iota(dtype):
    same(lambda: [lax.iota(dtype, 5), lax.broadcasted_iota(dtype, (2, 3, 4), 1),
                  lax.broadcasted_iota(dtype, (0, 3), 1)])


def test_dynamic_indices_are_clamped_traced():
    x = np.arange(10, dtype=np.float32)
    f = plax.jit(lambda x, i: (lax.dynamic_slice(x, (i,), (4,)),
                               lax.dynamic_update_slice(x, -x[:3], (i,))))
    with plax.default_backend("xla"):
        for i in (-3, -30, 0, 8, 100):
            s, u = f(x, np.int32(i))
            j = i + 10 if i < 0 else i  # negative indices count from the end, then clamp
            k = min(max(j, 0), 6)
            np.testing.assert_array_equal(s, x[k:k + 4])
            k = min(max(j, 0), 7)
            expected = x.copy()
            expected[k:k + 3] = -x[:3]
            np.testing.assert_array_equal(u, expected)


# ---------------------------------------------------------------------------------------------
# reductions


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int32, np.float16, BF16,
                                   np.float32, np.complex64])
@pytest.mark.parametrize("shape,axes", [((), ()), ((5,), (0,)), ((2, 3, 4), (0, 2)),
                                        ((0, 3), (0,)), ((2, 0), (1,))])
def test_reductions(dtype, shape, axes):
    x = rand(shape, dtype)
    kind = np.dtype(dtype).kind
    ops = []
    if kind != "b":
        ops += [lax.reduce_sum, lax.reduce_prod]
    ops += [lax.reduce_max, lax.reduce_min]
    if kind in "biu":
        ops += [lax.reduce_and, lax.reduce_or, lax.reduce_xor]
    same(lambda x: [op(x, axes) for op in ops], x, eager=False)


def test_reduction_nan_and_complex_order():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -np.inf]], np.float32)
    z = np.array([1 + 2j, 1 + 3j, 0 + 5j], np.complex64)
    same(lambda x, z: [lax.reduce_max(x, (1,)), lax.reduce_min(x, (0,)),
                       lax.reduce_max(z, (0,)), lax.reduce_min(z, (0,))], x, z)
    with plax.default_backend("xla"):
        assert complex(lax.reduce_max(z, (0,))) == 1 + 3j


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint32, np.float16, np.float32])
def test_argmax_argmin_first_extreme_and_nan(dtype):
    x = rand((3, 6), dtype, 2)
    x[1] = x[1, 0]  # ties: the first index wins
    same(lambda x: [lax.argmax(x, 1, np.int32), lax.argmin(x, 0, np.int32),
                    lax.argmax(x, 0, np.uint8)], x)
    if np.dtype(dtype).kind == "f":
        y = np.array([[1, np.nan, 5, np.nan], [np.inf, 2, np.inf, 0]], dtype)
        same(lambda y: [lax.argmax(y, 1, np.int32), lax.argmin(y, 1, np.int32)], y)


@pytest.mark.parametrize("op", [lax.cumsum, lax.cumprod, lax.cummax, lax.cummin,
                                lax.cumlogsumexp])
@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.float32, np.complex64])
def test_cumulative(op, dtype):
    if op is lax.cumlogsumexp and np.dtype(dtype).kind != "f":
        return
    if op in (lax.cummax, lax.cummin) and np.dtype(dtype).kind == "c":
        return
    x = rand((3, 7), dtype, 1)
    if op is lax.cumprod:
        x = (x / 2).astype(dtype) if np.dtype(dtype).kind != "i" else x % 3
    same(lambda x: [op(x, 1), op(x, 0, reverse=True), op(x[:, :1], 1), op(x[:0], 0),
                    op(x.reshape(-1), 0)], x, eager=False)


def test_cumulative_long_axis_and_special_values():
    x = np.linspace(-3, 3, 1001).astype(np.float32)
    # summation orders differ (a log-depth scan vs a loop): compare at the sums' magnitude
    same(lambda x: [lax.cumsum(x), lax.cummax(x, reverse=True), lax.cumlogsumexp(x)], x,
         atol=1e-3, eager=False)
    y = np.array([-np.inf, -np.inf, 0.0, np.nan, 1.0], np.float32)
    same(lambda y: [lax.cumlogsumexp(y), lax.cummax(y), lax.cumsum(y)], y)


# ---------------------------------------------------------------------------------------------
# gather and scatter


GATHER_CASES = [
    # (operand shape, indices, dimension numbers, slice sizes)
    ((5, 3), np.array([[0], [4], [2], [-1], [7]], np.int32), GDN((1,), (0,), (0,)), (1, 3)),
    ((5, 3), np.array([[1, 1], [4, 2], [-2, 9]], np.int32), GDN((1,), (0,), (0, 1)), (1, 2)),
    ((4, 5, 3), np.array([[[1], [3]], [[0], [9]]], np.int32), GDN((2, 3), (1,), (1,)),
     (4, 1, 3)),
    ((3, 5), np.array([[1], [4], [0]], np.uint8), GDN((), (1,), (1,), (0,), (0,)), (1, 1)),
    ((), np.zeros((3, 0), np.int32), GDN((), (), ()), ()),
    ((5, 0), np.array([[2]], np.int32), GDN((1,), (0,), (0,)), (1, 0)),
]


@pytest.mark.parametrize("mode", ["clip", "fill", "promise_in_bounds"])
@pytest.mark.parametrize("case", range(len(GATHER_CASES)))
def test_gather(case, mode):
    shape, idx, dn, sizes = GATHER_CASES[case]
    x = rand(shape, np.float32)
    same(lambda x, i: lax.gather(x, i, dn, sizes, mode=mode), x, idx)
    if mode == "fill":
        xi = rand(shape, np.int16)
        same(lambda x, i: lax.gather(x, i, dn, sizes, mode=mode, fill_value=-7), xi, idx)


SCATTER_CASES = [
    ((5, 3), np.array([[0], [4], [0], [-1], [7]], np.int32), (5, 3), SDN((1,), (0,), (0,))),
    ((5, 4), np.array([[1, 1], [3, 2], [1, 1]], np.int32), (3, 2, 2),
     SDN((1, 2), (), (0, 1))),
    ((3, 5), np.array([[1], [4], [1]], np.int32), (3,), SDN((), (1,), (1,), (0,), (0,))),
    ((), np.zeros((3, 0), np.int32), (3,), SDN((), (), ())),
    ((4,), np.zeros((2, 0), np.int32), (2, 4), SDN((1,), (), ())),
    ((6,), np.array([[5], [2 ** 31 - 1]], np.uint32), (2, 1), SDN((1,), (), (0,))),
]
SCATTERS = [lax.scatter, lax.scatter_add, lax.scatter_sub, lax.scatter_mul, lax.scatter_min,
            lax.scatter_max]


@pytest.mark.parametrize("mode", ["clip", "fill"])
@pytest.mark.parametrize("case", range(len(SCATTER_CASES)))
def test_scatters(case, mode):
    shape, idx, ushape, dn = SCATTER_CASES[case]
    x, u = rand(shape, np.float32), rand(ushape, np.float32, 1)
    same(lambda x, i, u: [s(x, i, u, dn, mode=mode) for s in SCATTERS[1:]], x, idx, u,
         eager=False)
    if len(np.unique(idx.reshape(len(idx), -1), axis=0)) == len(idx) or mode == "clip":
        # replacing with duplicate indices: one update wins (the last one here, as on CPU)
        same(lambda x, i, u: lax.scatter(x, i, u, dn, mode=mode), x, idx, u, eager=False)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.complex64, BF16])
def test_scatter_dtypes(dtype):
    x, u = rand((6,), dtype), rand((3,), dtype, 1)
    idx = np.array([[1], [4], [1]], np.int32)
    dn = SDN((), (0,), (0,))
    ops = [lax.scatter_max, lax.scatter_min] if np.dtype(dtype).kind != "c" else []
    if np.dtype(dtype).kind != "b":
        ops += [lax.scatter_add, lax.scatter_mul]
    same(lambda x, i, u: [s(x, i, u, dn) for s in ops], x, idx, u, eager=False)


# ---------------------------------------------------------------------------------------------
# sorting, top_k, dot_general


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint32, np.float16, BF16, np.float32,
                                   np.complex64])
def test_sort_and_top_k(dtype):
    x = rand((3, 8), dtype, 4)
    x[0, :4] = x[0, 4:]  # duplicates: the sort is stable
    if np.dtype(dtype).kind in "fV":
        x[1, :5] = np.array([np.nan, -0.0, 0.0, -np.nan, -np.inf]).astype(dtype)
    keys = rand((3, 8), np.int32, 5) % 3
    same(lambda x, k: [lax.sort(x, 1), lax.sort(x, 0), lax.sort_key_val(k, x, 1),
                       lax.sort((k, x), 1, num_keys=2)], x, keys)
    if np.dtype(dtype).kind != "c":
        same(lambda x: [lax.top_k(x, 3), lax.top_k(x, 0), lax.top_k(x, 3, axis=0)], x)


@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.int8, np.int8),
                                    (np.float16, np.float16), (BF16, BF16),
                                    (np.complex64, np.complex64), (np.int8, np.float32),
                                    (np.bool_, np.bool_), (np.uint8, np.int32)])
def test_dot_general(dtypes):
    a, b = rand((2, 3, 4), dtypes[0], 1), rand((2, 4, 5), dtypes[1], 2)
    same(lambda a, b: [lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
                       lax.dot_general(a, b, (((), ()), ((), ()))),
                       lax.dot_general(a[:, :, :0], b[:, :0], (((2,), (1,)), ((0,), (0,)))),
                       lax.dot(a[0], b[0])], a, b, eager=False)


def test_dot_preferred_element_type_and_precision():
    a, b = rand((3, 4), np.int8, 1), rand((4, 2), np.int8, 2)
    same(lambda a, b: lax.dot(a, b, preferred_element_type=np.int32), a * 20, b * 20)
    f, g = rand((3, 4), np.float32, 1), rand((4, 2), np.float32, 2)
    same(lambda a, b: lax.dot(a, b, precision=lax.Precision.HIGHEST), f, g)


# ---------------------------------------------------------------------------------------------
# control flow


def test_control_flow():
    def f(x, n):
        y = lax.fori_loop(0, n, lambda i, c: c * 0.5 + i, x)
        z = lax.cond(y.sum() > 1, lambda a: a * 2, lambda a: a - 1, y)
        c, ys = lax.scan(lambda c, t: (c + t, c * t), z[0], z)
        c2, ys2 = lax.scan(lambda c, t: (c * 2, c - t), c, z, reverse=True)
        w = lax.while_loop(lambda s: s[0] < 5, lambda s: (s[0] + 1, s[1] * 2), (0, c))
        idx = lax.convert_element_type(lax.reduce_max(x, (0,)) > 0, np.int32) + 1
        s = lax.switch(idx, [lambda a: a, lambda a: a + 1, lambda a: a * 3], z)
        e = lax.scan(lambda c, t: (c, t), 0.0, x[:0])
        return y, z, c, ys, c2, ys2, w, s, e
    x = np.arange(4, dtype=np.float32) - 1.5
    same(lambda x: f(x, 3), x)
    same(lambda x: f(x, 0), x)


def test_grad_and_vmap_through_control_flow_under_jit():
    def loss(w, xs):
        c, _ = lax.scan(lambda c, x: (lax.tanh(c * w + x), c), np.float32(0.1), xs)
        return lax.cond(c > 0, lambda v: v * v, lambda v: -v, c)
    xs = np.linspace(-1, 1, 6).astype(np.float32)
    same(lambda w, xs: plax.grad(loss)(w, xs), np.float32(0.7), xs, eager=False)
    same(lambda w, xs: plax.vmap(loss, (0, None))(w, xs),
         np.array([0.1, -0.4, 0.9], np.float32), xs, eager=False)
