"""plax_cupy's window kernels: reduce_window_sum/max/min, select_and_gather_add and
select_and_scatter_add as generated kernels (one thread per output element looping over its
window; the scatter one thread per source element adding at its window's selected position),
against the reference backend in the host build (g++) over strides, padding (negative,
asymmetric, SAME/VALID), base and window dilation, 1-D to 4-D, every dtype the primitives
accept, NaNs, infinities and ties; under jit, eagerly and through plax.grad; the fusion of
producers and epilogues (a ReLU then max-pool is one kernel); every window kernel compiled by
NVRTC for sm_90 without register spills."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import plax
from plax import lax
from plax.extend import registry

from conftest import assert_close, requires_jax
from cupy_helpers import assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused

WINDOW_PRIMS = ("reduce_window_sum", "reduce_window_max", "reduce_window_min",
                "select_and_gather_add", "select_and_scatter_add")

# (operand shape, window, strides, padding, base dilation, window dilation)
CONFIGS = [
    ((13,), (3,), (2,), ((1, 2),), (1,), (1,)),
    ((13,), (3,), (1,), ((-2, 1),), (2,), (1,)),
    ((7, 9), (2, 3), (1, 2), ((0, 0), (2, -1)), (1, 1), (2, 1)),
    ((4, 5, 6), (2, 2, 3), (2, 1, 2), ((1, 1), (0, 2), (1, 0)), (2, 1, 1), (1, 2, 1)),
    ((2, 8, 8, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", None, None),   # NHWC 2x2 max-pool
    ((2, 9, 7, 4), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", None, None),    # NHWC 3x3 stride 2
    ((0, 3), (2, 1), (1, 1), ((2, 1), (0, 0)), (1, 1), (1, 1)),        # only padding
    ((), (), (), (), (), ()),
]
# select_and_scatter_add has no dilations (and the reference's rule fails on a 0-d operand)
SCATTER_CONFIGS = [c for c in CONFIGS if c[0] and c[4] in (None, (1,) * len(c[0]))
                   and c[5] in (None, (1,) * len(c[0]))] + [
    ((6, 7), (3, 2), (2, 1), ((1, 2), (-1, 1)), None, None),
    ((2, 9, 7, 4), (1, 3, 3, 1), (1, 2, 2, 1), "VALID", None, None)]


@pytest.fixture(autouse=True)
def _x64():
    """64-bit dtypes as they are (uint64, int64, float64 operands)."""
    with plax.enable_x64():
        yield


def _dt(name):
    return np.dtype(plax.numpy.dtype(name))


def _operand(shape, name, seed, ties=False):
    """Random values of dtype `name` with its hard cases: NaNs and infinities for floats,
    extreme values for integers; `ties`: few distinct values, so windows hold equal maxima."""
    dt = _dt(name)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dt == np.bool_:
        return (rng.random(shape) < 0.5)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if ties:
            return rng.integers(max(info.min, -3), 3, shape, endpoint=True).astype(dt)
        x = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        x[:4] = [info.min, info.max, 0, info.min][:min(4, n)] if n >= 4 else x[:4]
        return x.reshape(shape)
    if ties:
        x = rng.integers(-3, 3, n, endpoint=True).astype(np.float64)
        x[rng.random(n) < 0.1] = -np.inf
    else:
        x = rng.standard_normal(n) * 4
        x[rng.random(n) < 0.05] = np.inf
        x[rng.random(n) < 0.05] = -np.inf
    x[rng.random(n) < 0.04] = np.nan
    if dt.kind == "c":  # (NumPy's allclose fails on complex infinities)
        x = np.where(np.isinf(x), 1e30, x) + 1j * rng.standard_normal(n)
    return x.astype(dt).reshape(shape)


def _monoid_fn(op, cfgs):
    fn = getattr(lax, op)

    def f(*xs):
        return [fn(x, w, s, p, b, d) for x, (_, w, s, p, b, d) in zip(xs, cfgs)]
    return f


MONOID_DTYPES = {
    "reduce_window_sum": ["int8", "int32", "uint64", "float16", "bfloat16", "float32",
                          "float64", "complex64", "complex128"],
    "reduce_window_max": ["bool", "int8", "uint64", "int64", "float16", "bfloat16", "float32",
                          "float64"],
    "reduce_window_min": ["bool", "uint8", "int16", "float16", "bfloat16", "float32"],
}


@pytest.mark.parametrize("op,dtype", [(op, d) for op, ds in MONOID_DTYPES.items() for d in ds])
def test_reduce_window_matches_reference(op, dtype):
    cfgs = CONFIGS
    xs = [_operand(c[0], dtype, k, ties=(k % 2 == 1)) for k, c in enumerate(cfgs)]
    f = _monoid_fn(op, cfgs)
    got, steps, launches = run_fused(f, *xs)
    want = reference(f, *xs)
    assert {s.kind for s in steps} == {"window"}
    for g, w, c in zip(got, want, cfgs):
        assert g.dtype == w.dtype, c
        if _dt(dtype).kind in "fcV" and op == "reduce_window_sum":
            # sums in another order than NumPy's pairwise one (16-bit: float32, rounded once)
            assert_close(g, w, rtol=1e-2 if _dt(dtype).itemsize == 2 else 1e-5, atol=1e-5)
        else:  # max/min and integer sums: bit for bit, NaNs where the reference has them
            np.testing.assert_array_equal(g.astype(np.float64) if g.dtype.kind == "V"
                                          else g, w.astype(np.float64) if w.dtype.kind == "V"
                                          else w, err_msg=str(c))


def _select_fn(prim_name, cfgs):
    def f(*args):
        outs = []
        for k, (_, w, s, p, b, d) in enumerate(cfgs):
            t, x = args[2 * k], args[2 * k + 1]
            for sel in ("ge", "le"):
                if prim_name == "select_and_gather_add":
                    outs.append(lax.select_and_gather_add(t, x, sel, w, s, p, b, d))
                else:
                    outs.append(lax.select_and_scatter_add(t, x, sel, w, s, p))
        return outs
    return f


def _out_shape(cfg):
    shape, w, s, p, b, d = cfg
    aval = plax.eval_shape(lambda x: lax.reduce_window_sum(x, w, s, p, b, d),
                           plax.ShapeDtypeStruct(shape, np.float32))
    return aval.shape


SELECT_DTYPES = ["int8", "int32", "uint64", "float16", "bfloat16", "float32", "float64"]


@pytest.mark.parametrize("dtype", SELECT_DTYPES)
def test_select_and_gather_add_matches_reference(dtype):
    """The tangent XLA's select picks in each window: from the lowest (highest) value with a
    zero tangent, each element in order taken unless the selection is >= (<=) it (so NaNs are
    taken and given up again); padding skipped."""
    args = []
    for k, c in enumerate(CONFIGS):
        args += [_operand(c[0], dtype, 100 + k), _operand(c[0], dtype, k, ties=True)]
    f = _select_fn("select_and_gather_add", CONFIGS)
    got, steps, _ = run_fused(f, *args)
    assert {s.kind for s in steps} == {"window"}
    for g, w in zip(got, reference(f, *args)):
        np.testing.assert_array_equal(g.astype(np.float64), w.astype(np.float64))


@pytest.mark.parametrize("dtype", SELECT_DTYPES)
def test_select_and_scatter_add_matches_reference(dtype):
    """Each source value added where its window of the operand selects (ties: the first;
    padding selected: dropped); small integer sources, so every sum is exact in every dtype."""
    args = []
    for k, c in enumerate(SCATTER_CONFIGS):
        src = np.random.default_rng(k).integers(-3, 3, _out_shape(c), endpoint=True)
        if _dt(dtype).kind == "u":
            src = np.abs(src)
        args += [src.astype(_dt(dtype)), _operand(c[0], dtype, k, ties=True)]
    f = _select_fn("select_and_scatter_add", SCATTER_CONFIGS)
    got, steps, _ = run_fused(f, *args)
    assert {s.kind for s in steps} == {"window_scatter"}
    for g, w in zip(got, reference(f, *args)):
        np.testing.assert_array_equal(g.astype(np.float64), w.astype(np.float64))


def _pool(x, kind="max", window=3, stride=2, padding="SAME"):
    w, s = (1, window, window, 1), (1, stride, stride, 1)
    if kind == "max":
        return lax.reduce_window_max(x, w, s, padding)
    return lax.reduce_window_sum(x, w, s, padding) / float(window * window)


NHWC = np.random.default_rng(7).standard_normal((2, 9, 8, 4)).astype(np.float32)


def test_relu_then_max_pool_is_one_kernel():
    f = functools.partial(lambda x: _pool(lax.max(x, np.zeros((), x.dtype))))
    got, steps, launches = run_fused(f, NHWC)
    assert launches == 1 and [s.kind for s in steps] == ["window"]
    np.testing.assert_array_equal(got[0], reference(f, NHWC)[0])


def test_avg_pool_divide_is_its_epilogue():
    f = functools.partial(lambda x: _pool(x, "avg", 2, 2, "VALID"))
    got, steps, launches = run_fused(f, NHWC)
    assert launches == 1 and "div" in [e.primitive.name for e in steps[0].eqns]
    assert_close(got[0], reference(f, NHWC)[0])


def test_max_pool_backward_launches():
    """ReLU, max-pool, sum: the backward is the zeroed output and the scatter (one group, two
    launches, the cotangent's broadcast and the ReLU inlined) and the ReLU mask (one loop
    kernel), as XLA's select-and-scatter fusion and its loop fusion."""
    f = plax.grad(lambda x: _pool(lax.max(x, np.zeros((), x.dtype))).sum())
    got, steps, launches = run_fused(f, NHWC)
    assert [s.kind for s in steps] == ["window_scatter", "loop"] and launches == 3
    np.testing.assert_array_equal(got[0], reference(f, NHWC)[0])


@pytest.mark.parametrize("kind,padding", [("max", "SAME"), ("max", "VALID"), ("avg", "SAME")])
def test_pool_grad_on_cupy_matches_reference(kind, padding):
    x = NHWC.astype(np.float64)
    x[0, 0, 0, :2] = x[0, 0, 1, :2]  # ties in a window: the first one gets the gradient

    def loss(x):
        return (_pool(lax.tanh(x), kind, 3, 2, padding) ** 2).sum()
    with plax.default_backend("cupy"):
        got = [np.asarray(plax.grad(loss)(x)), np.asarray(plax.jit(plax.grad(loss))(x))]
    with plax.default_backend("reference"):
        want = np.asarray(plax.grad(loss)(x))
    for g in got:
        assert_close(g, want, rtol=1e-12, atol=1e-12)


def _launches():
    import plax_cupy
    return plax_cupy.launch_count()


@pytest.mark.parametrize("prim", WINDOW_PRIMS)
def test_eager_calls_run_the_kernel(prim):
    shape, w, s, p, _, _ = ((2, 7, 6, 3), (1, 3, 2, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (0, 1),
                                                                          (0, 0)), None, None)
    x = _operand(shape, "float32", 3, ties=True)
    t = _operand(shape, "float32", 4)
    src = np.ones(_out_shape((shape, w, s, p, None, None)), np.float32)
    call = {"reduce_window_sum": lambda: lax.reduce_window_sum(x, w, s, p),
            "reduce_window_max": lambda: lax.reduce_window_max(x, w, s, p),
            "reduce_window_min": lambda: lax.reduce_window_min(x, w, s, p, (1, 2, 1, 1)),
            "select_and_gather_add": lambda: lax.select_and_gather_add(t, x, "ge", w, s, p),
            "select_and_scatter_add": lambda: lax.select_and_scatter_add(src, x, "le", w, s, p),
            }[prim]
    with plax.default_backend("cupy"):
        before = _launches()
        got = np.asarray(call())
        assert _launches() > before, "the eager call runs the generated kernel"
        with plax.config.override("cupy_fusion", False):  # the kernel still: no host rule
            before = _launches()
            off = np.asarray(plax.jit(call)())
            assert _launches() > before
    with plax.default_backend("reference"):
        want = np.asarray(call())
    assert_close(got, want)
    assert_close(off, want)


def test_window_primitives_leave_host_primitives():
    hosted = set(registry.get_backend("cupy").host_primitives())
    assert not hosted & set(WINDOW_PRIMS)


def _corpus():
    ks = []
    for op, dts in MONOID_DTYPES.items():
        for dt in (dts[0], dts[-1], "float16"):
            xs = [np.zeros(c[0], _dt(dt)) for c in CONFIGS[2:6]]
            ks += kernels_of(_monoid_fn(op, CONFIGS[2:6]), *xs)
    for prim, cfgs in (("select_and_gather_add", CONFIGS[2:6]),
                       ("select_and_scatter_add", SCATTER_CONFIGS[-3:])):
        for dt in ("bfloat16", "float32", "int8", "float64"):
            args = []
            for c in cfgs:
                t = np.zeros(c[0] if prim == "select_and_gather_add" else _out_shape(c), _dt(dt))
                args += [t, np.zeros(c[0], _dt(dt))]
            ks += kernels_of(_select_fn(prim, cfgs), *args)
    ks += kernels_of(lambda x: _pool(lax.max(x, np.zeros((), x.dtype))), NHWC)
    relu_avg = lambda x: _pool(lax.max(x, np.zeros((), x.dtype)), "avg").sum()  # noqa: E731
    ks += kernels_of(plax.grad(relu_avg), NHWC)
    big = plax.ShapeDtypeStruct((64, 112, 112, 64), np.float32)
    ks += kernels_of(lambda x: _pool(x), big)
    ks += kernels_of(plax.grad(lambda x: _pool(x).sum()), big)
    return ks


def test_every_window_kernel_compiles_with_nvrtc_for_sm90_without_spills():
    ks = _corpus()
    assert any(k.entries[-1].endswith("_scatter") for k in ks)
    assert_nvrtc_sm90_without_spills(ks)


def _overlapping_pools(x):
    """Stride-1 3x3 max-pool (every element in up to nine windows: colliding atomic adds in the
    backward), its gradient, and a dilated average pool."""
    def loss(x):
        m = lax.reduce_window_max(x, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
        a = lax.reduce_window_sum(x, (1, 2, 2, 1), (1, 1, 1, 1), "VALID", None, (1, 2, 1, 1))
        return (m * m).sum() + a.sum()
    return plax.value_and_grad(loss)(x)


def test_window_kernels_under_emulated_gpu_threads():
    """The window kernels as 3 blocks of 64 POSIX threads (the scatter's adds under the
    emulation's lock, as the GPU's atomics), against the reference: ties included."""
    from plax_cupy import compiler
    x = _operand((2, 11, 10, 3), "float64", 5, ties=True)
    x[np.isnan(x) | np.isinf(x)] = 1.0
    emulated = compiler.build_emulated(kernels_of(_overlapping_pools, x), 3, 64)
    got, steps, _ = run_fused(_overlapping_pools, x, functions=emulated)
    assert "window_scatter" in [s.kind for s in steps]
    for g, w in zip(got, reference(_overlapping_pools, x)):
        assert_close(g, w, rtol=1e-12, atol=1e-12)


@requires_jax
@pytest.mark.parametrize("select", ["max", "min"])
def test_pool_gradients_with_ties_match_jax(select):
    """JAX (XLA) selects in each window element by element with its select computation (ties:
    the first extreme; NaNs taken and given up to the next element; -inf/inf windows): so do
    the kernels and the reference backend for the gradient (select_and_scatter_add). The JVP
    (select_and_gather_add) visits the window row-major on both; XLA's CPU reduce_window
    visits some windows in tiles of the minor dimension instead (measured: a (2, 3) window as
    [0,0] [0,1] [1,0] [1,1] [0,2] [1,2]), so among tied and NaN elements its choice can
    differ from JAX's there: the JVP is compared with the reference backend."""
    import jax
    from jax import lax as jlax
    x = _operand((2, 9, 8, 3), "float32", 9, ties=True)
    assert np.isnan(x).any() and np.isinf(x).any()

    def make(L):
        init, op = (-np.inf, L.max) if select == "max" else (np.inf, L.min)

        def loss(x):  # (plax's reduce_window binds reduce_window_max/min for these)
            return (L.reduce_window(x, np.float32(init), op, (1, 3, 3, 1), (1, 2, 2, 1),
                                    "SAME") * 1.5).sum()
        return loss
    want = np.asarray(jax.grad(make(jlax))(x))
    t = _operand((2, 9, 8, 3), "float32", 10)
    t[~np.isfinite(t)] = 1.0
    with plax.default_backend("reference"):
        want_t = np.asarray(plax.jvp(make(lax), (x,), (t,))[1])
    for b in ("cupy", "reference"):
        with plax.default_backend(b):
            got = np.asarray(plax.jit(plax.grad(make(lax)))(x))
            got_t = np.asarray(plax.jit(lambda x, t: plax.jvp(make(lax), (x,), (t,))[1])(x, t))
            jaxpr = str(plax.make_jaxpr(plax.grad(make(lax)))(x))
        assert "select_and_scatter_add" in jaxpr
        np.testing.assert_array_equal(got, want, err_msg=b)
        np.testing.assert_allclose(got_t, want_t, rtol=1e-6, err_msg=b)


def test_epilogue_reads_the_window_result_and_the_operand_at_the_output_index():
    """A local-maximum mask (x equal to its stride-1 SAME max-pool, NMS's test): one kernel,
    the epilogue reading the pooled value and x itself at the output index; and a vmapped
    pool (the batch dimension a window of 1)."""
    x = _operand((3, 8, 7), "float32", 11, ties=True)

    def f(x):
        m = lax.reduce_window_max(x, (1, 3, 3), (1, 1, 1), "SAME")
        return lax.select(x == m, x, lax.full_like(x, -1.0))
    got, steps, launches = run_fused(f, x)
    assert launches == 1 and [s.kind for s in steps] == ["window"]
    np.testing.assert_array_equal(got[0], reference(f, x)[0])
    g = plax.vmap(lambda x: _pool(x[None, ..., None], "avg", 2, 1, "SAME")[0, ..., 0])
    got, steps, _ = run_fused(g, x)
    assert_close(got[0], reference(g, x)[0])
