"""plax_cupy's generated kernels for the ops that used to be library calls: gather and
dynamic_update_slice fused as views, the cumulative ops as scan kernels (a block scan per line,
or a thread per line), the scatters as an init + combine kernel pair with their operands'
producers inlined, and the complex functions. Values against the reference backend in the host
build and under the multi-thread emulation; launches counted; every kernel compiled by NVRTC."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax

from conftest import assert_close, requires_jax
from cupy_helpers import DEVICE, assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused
from plax_cupy import compiler, fused, planner

RNG = np.random.default_rng(5)
X = RNG.standard_normal((6, 300)).astype(np.float32)
BF16 = jnp.bfloat16
IDX = np.array([3, -1, 6, 9, 0, 3, 3], np.int32)  # out of bounds and repeated on purpose


def _gathers(x, i):
    rows = jnp.exp(x)[i] * 2 + 1                                      # clamped rows
    fill = jnp.take(x, i, axis=0, mode="fill", fill_value=7.0)        # FILL_OR_DROP
    cols = jnp.take_along_axis(x[:, :8], (jnp.abs(i[:6, None]) % 8) * jnp.ones((6, 8), np.int32),
                               axis=1)
    upd = lax.dynamic_update_slice(x * 2, jnp.sin(x[:2, :3]) + 1, (i[0], i[3]))  # start clamped
    return rows, fill, cols, upd


def _scans(x, i):
    return (lax.cumsum(jnp.exp(x) * 2, axis=1),                       # a block per line
            lax.cummax(x, axis=0, reverse=True),                      # a thread per line
            lax.cumlogsumexp(x, axis=1, reverse=True),
            lax.cumprod((x[:, :40] * 4).astype(np.int32), axis=1),     # wraps as XLA
            lax.cummin(x.astype(np.float16), axis=1),
            lax.cumsum(jnp.exp(x.astype(BF16)), axis=1),               # float accumulator
            lax.cumsum(lax.complex(x[:, :70], x[:, 1:71]), axis=1))


def _scatters(x, i):
    f16 = jnp.full((10,), -2.0, np.float16)
    return (jnp.zeros((10, 300), np.float32).at[i].add(jnp.sin(x[0]) * 3),  # dropped, repeated
            jnp.asarray(x).at[i % 6, 2].set(jnp.arange(7.0, dtype=np.float32)),  # last one wins
            jnp.ones((10,), np.int16).at[i].mul(np.int16(3)),
            jnp.full((10,), 5, np.int8).at[i].min(np.arange(7, dtype=np.int8) - 2, mode="clip"),
            f16.at[i % 10].max(x[0, :7].astype(np.float16)),
            jnp.zeros((5,), BF16).at[i % 5].add(x[3, :7].astype(BF16)),  # a 2-byte CAS on GPU
            jnp.zeros((4,), np.complex64).at[i % 4].add(lax.complex(x[1, :7], x[2, :7])))


# name: (program, kernels, launches); same-shape gathers share a kernel (multi-output)
PROGRAMS = {"gathers": (_gathers, 3, 3), "scans": (_scans, 7, 7), "scatters": (_scatters, 7, 14)}


@pytest.fixture(scope="module")
def emulated():
    """Every program's kernels built once for the host and once as 3 blocks of 64 threads (on
    a GPU, None: the device's own threads run them)."""
    ks = [k for f, _, _ in PROGRAMS.values() for k in kernels_of(f, X, IDX)]
    fused.build_kernels(ks)
    return None if DEVICE == "gpu" else compiler.build_emulated(ks, 3, 64)


def _check(got, want, rtol=1e-6, any_order=False):
    """With `any_order` (threads), repeated scatter-adds may sum in any order: a 2-byte float
    result may then differ from the sequential one by its rounding."""
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        if g.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w)
        else:
            two_byte = any_order and g.dtype.itemsize == 2
            assert_close(g, w, rtol=1e-2 if two_byte else rtol, atol=1e-2 if two_byte else 1e-5)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_indexing_scans_and_scatters_are_generated_kernels(emulated, name):
    f, kernels, launches = PROGRAMS[name]
    got, steps, n = run_fused(f, X, IDX)
    assert not [s.eqn.primitive.name for s in steps if isinstance(s, planner.LibraryStep)]
    assert len(steps) == kernels and n == launches  # a scatter is two launches: init, combine
    want = reference(f, X, IDX)
    _check(got, want)
    # the GPU's thread paths (block scans, grid-stride scatters) under POSIX threads
    got, _, _ = run_fused(f, X, IDX, functions=emulated)
    if name == "scatters":
        got = list(got)
        got[1] = _any_duplicate_wins(np.asarray(got[1]), np.asarray(want[1]))
    _check(got, want, rtol=2e-5, any_order=True)


def _any_duplicate_wins(got, want):
    """The `set` scatter with repeated rows (`x.at[i % 6, 2].set(arange(7))`): on threads, as
    on a GPU (and XLA's GPU scatter), any one of the repeated updates may win; each written
    element must hold one of its candidates, and is then compared as the sequential result."""
    rows = IDX % 6
    got = got.copy()
    for r in np.unique(rows):
        candidates = np.arange(7.0, dtype=np.float32)[rows == r]
        assert got[r, 2] in candidates, (r, got[r, 2], candidates)
        got[r, 2] = want[r, 2]
    return got


def test_a_scans_elementwise_epilogue_fuses_into_it():
    """cumsum(exp(x)) / n and exp(cumlogsumexp(x)) * 2: one kernel each, the scanned values
    never written to memory; a reversed read of a scan is a kernel of its own."""
    def f(x):
        mean = lax.cumsum(jnp.exp(x), axis=1) / jnp.arange(1, 301, dtype=np.float32)
        return mean, jnp.exp(lax.cumlogsumexp(x, axis=0)) * 2, lax.cummax(x, axis=1)[:, ::-1]
    got, steps, launches = run_fused(f, X)
    assert [s.kind for s in steps] == ["scan", "scan", "scan", "loop"] and launches == 4
    assert [len(s.out_vars) for s in steps[:2]] == [1, 1]
    _check(got, reference(f, X), rtol=2e-5)


def test_x64_scatters_and_gathers():
    def f(x, i):
        j = i % 6
        return (jnp.zeros((6, 300), np.complex128).at[j].add(x[0] * 1j),
                jnp.zeros(6, np.int64).at[j].max(np.arange(7)),
                jnp.zeros(6, np.uint64).at[j].add(np.uint64(5)), x[j, 3])
    with plax.enable_x64():
        args = (X.astype(np.float64), IDX.astype(np.uint64))
        got, steps, _ = run_fused(f, *args)
        assert all(isinstance(s, planner.FusedGroup) for s in steps)
        _check(got, reference(f, *args), rtol=1e-12)


COMPLEX = ["sqrt", "rsqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "expm1", "log1p",
           "logistic", "asin", "acos", "atan", "asinh", "acosh", "atanh"]
INVERSE = ["asin", "acos", "atan", "asinh", "acosh", "atanh"]


def _complex(x, y):
    return [getattr(lax, n)(x) for n in COMPLEX] + [lax.pow(x, y), lax.cumprod(x[:9], axis=0)]


def _complex_args(dt):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(64) * 2 + 1j * rng.standard_normal(64) * 2).astype(dt)
    x[:6] = [0, 1e-8 + 1e-8j, -4, 30 + 1j, -30 - 2j, 20j]  # zero, tiny, branch cut, large
    return x, (rng.standard_normal(64) + 1j * rng.standard_normal(64)).astype(dt)


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_complex_functions_fuse_and_match_reference(dt):
    with plax.enable_x64():
        x, y = _complex_args(dt)
        got, steps, launches = run_fused(_complex, x, y)
        want = reference(_complex, x, y)
    assert [s.kind for s in steps] == ["loop", "scan"] and launches == 2
    tol = 2e-5 if dt == np.complex64 else 1e-12
    for name, g, w in zip(COMPLEX + ["pow", "cumprod"], got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * 1e-3, err_msg=name)


def test_embedding_gradient_runs_as_kernels_on_the_backend():
    """An embedding lookup and its gradient (a scatter-add) under jit on the cupy backend:
    no library gather or scatter, launches counted, values as the reference's."""
    import plax_cupy
    table = RNG.standard_normal((50, 16)).astype(np.float32)
    ids = np.array([1, 7, 7, 49, 0, 3], np.int32)

    def loss(t, i):
        return jnp.sum(jnp.tanh(t[i]) ** 2)

    g = plax.jit(plax.grad(loss), backend="cupy")
    text = g.lower(table, ids).as_text()
    assert "library gather" not in text and "library scatter" not in text
    g(table, ids)
    before = plax_cupy.launch_count()
    out = g(table, ids)
    assert plax_cupy.launch_count() - before <= 3
    assert_close(out, plax.jit(plax.grad(loss), backend="reference")(table, ids))


def test_every_indexing_kernel_compiles_with_nvrtc_without_spills():
    ks = [k for f, _, _ in PROGRAMS.values() for k in kernels_of(f, X, IDX)]
    with plax.enable_x64():
        for dt in (np.complex64, np.complex128):
            ks += kernels_of(_complex, *_complex_args(dt))
        ks += kernels_of(lambda x: jnp.zeros(5, np.complex128).at[np.array([1, 1])].add(x[:2]),
                         np.ones(4, np.complex128))
    assert_nvrtc_sm90_without_spills(ks)


def test_shared_reference_rules_find_the_array_module():
    """The cupy backend runs the reference's gather/scatter and XLA-semantics elementwise rules
    (library.SHARED) on its own arrays: they compute with plax.extend.array_module."""
    import sys
    import types

    from plax.extend import array_module, registry
    from plax_cupy import library
    b = registry.get_backend("cupy")
    ref = registry.impl_table("reference")
    for name in library.SHARED:
        prim = registry.primitives()[name]
        assert b.rule(prim) is ref[prim], name
    assert array_module(np.ones(2), np.float32(1), 3) is np
    fake = types.ModuleType("fake_xp")
    fake.asarray = np.asarray
    FakeArray = type("FakeArray", (), {"shape": (2,), "__module__": "fake_xp.core"})
    sys.modules["fake_xp"] = fake
    try:
        assert array_module(np.ones(2), FakeArray()) is fake
    finally:
        del sys.modules["fake_xp"]


def test_scatter_combine_without_ufunc_at_keeps_numpys_order():
    """CuPy has no ufunc.at for multiply (nor for its 8/16-bit integer adds): the shared
    scatter rule then combines in rounds, in NumPy's order (floats: bit for bit)."""
    import types

    from plax._src.backends.reference.impl_slicing import _combine_at

    class NoAt:
        def __init__(self, f):
            self.f = f

        def __call__(self, *args):
            return self.f(*args)

        def at(self, *args):
            raise NotImplementedError("ufunc.at")

    xp = types.SimpleNamespace(multiply=NoAt(np.multiply), unique=np.unique, ones=np.ones)
    flat = np.array([3, 1, 3, 3, 0, 1, 3])
    vals = RNG.standard_normal(7).astype(np.float32) * 3
    out = RNG.standard_normal(5).astype(np.float32)
    want = out.copy()
    np.multiply.at(want, flat, vals)
    _combine_at(xp, "multiply", out, flat, vals)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("dt", [np.float32, np.int32, np.float16, np.complex64])
def test_eager_cumulative_ops_are_one_generated_kernel_each(dt):
    """Eagerly (no jit) the cumulative ops run their generated scan kernel, as under jit: one
    launch each, values as the reference backend's (16-bit floats accumulate in float32)."""
    import plax_cupy
    x = (X[:4, :200] * 3).astype(dt) if dt != np.complex64 else \
        (X[:4, :200] + 1j * X[:4, ::-1][:, :200]).astype(dt)
    names = ["cumsum", "cumprod"] + (["cummax", "cummin"] if dt != np.complex64 else []) + \
        (["cumlogsumexp"] if dt in (np.float32, np.float16) else [])

    def f(x):
        return [getattr(lax, n)(x, axis=a, reverse=r) for n in names
                for a, r in ((1, False), (0, True))]
    want = reference(f, x)
    with plax.default_backend("cupy"):
        xd = plax.device_put(x)
        before = plax_cupy.launch_count()
        got = f(xd)
        launches = plax_cupy.launch_count() - before
    assert launches == len(got)
    tol = {np.float16: 2e-3, np.float32: 2e-5, np.complex64: 2e-5, np.int32: 0}[dt]
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == w.dtype
        np.testing.assert_allclose(np.asarray(g).astype(w.dtype), w, rtol=tol, atol=tol)


def test_eager_cumulative_falls_back_to_the_library_with_fusion_off():
    import plax_cupy
    with plax.default_backend("cupy"), plax.config.override("cupy_fusion", False):
        before = plax_cupy.launch_count()
        got = lax.cumsum(plax.device_put(X[:3]), axis=1)
        assert plax_cupy.launch_count() == before
    np.testing.assert_allclose(np.asarray(got), np.cumsum(X[:3], axis=1), rtol=2e-5, atol=2e-5)


def _special_grid(dt):
    """Every pair of parts from zeros of both signs, tiny, around 1, large, the largest finite,
    inf and NaN: the branch cuts, their signed-zero sides and the overflow paths."""
    rt = np.float32 if dt == np.complex64 else np.float64
    fi = np.finfo(rt)
    v = np.array([0., -0., 1e-30, 1e-8, 0.1, 0.5, 0.9, 1., 1.1, 2., 10., 1e4, 1e8, 1e20,
                  float(fi.max) / 4, float(fi.max), float(fi.tiny), np.inf, np.nan], rt)
    v = np.concatenate([v, -v[2:]])
    re, im = np.meshgrid(v, v)
    z = np.empty(re.size, dt)
    z.real, z.imag = re.ravel(), im.ravel()  # (re + 1j * im would turn inf * 0 into NaN)
    return z


def _ulps(got, want, rt, zero_signs=True):
    """Per element, the larger distance of the two parts in units of the last place; equal
    parts (NaN and NaN, inf and inf, zeros of the same sign) 0, NaN against a number inf, a
    zero against a zero of the other sign inf (0 without `zero_signs`)."""
    worst = np.zeros(got.shape)
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        with np.errstate(all="ignore"):
            d = np.abs(g64 - w64) / np.maximum(np.spacing(np.abs(w)).astype(np.float64),
                                               float(np.finfo(rt).smallest_subnormal))
        d[(g64 == w64) | (np.isnan(g) & np.isnan(w))] = 0
        d[np.isnan(g) != np.isnan(w)] = np.inf
        if zero_signs:
            d[(g64 == w64) & (g64 == 0) & (np.signbit(g) != np.signbit(w))] = np.inf
        worst = np.maximum(worst, d)
    return worst


def _flush(z, rt):
    """Subnormal parts of `z` as zeros of their sign."""
    z = z.copy()
    for part in (z.real, z.imag):
        part[np.abs(part) < np.finfo(rt).tiny] *= 0
    return z


def _inverse(z):
    return [getattr(lax, n)(z) for n in INVERSE]


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_complex_inverse_functions_on_branch_cuts_and_extremes(dt):
    """asin acos atan asinh acosh atanh of complex numbers are one generated kernel (C99 /
    Hull et al.), within 4 ulp of the reference backend on every point of the special grid,
    inf and NaN parts and the signed zeros of the branch cuts included; eagerly the same
    kernel runs (one launch each)."""
    import plax_cupy
    rt = np.float32 if dt == np.complex64 else np.float64
    z = _special_grid(dt)
    with plax.enable_x64():
        got, steps, launches = run_fused(_inverse, z)
        want = reference(_inverse, z)
        with plax.default_backend("cupy"):
            zd = plax.device_put(z)
            before = plax_cupy.launch_count()
            eager = [np.asarray(o) for o in _inverse(zd)]
            eager_launches = plax_cupy.launch_count() - before
    assert [s.kind for s in steps] == ["loop"] and launches == 1 and eager_launches == 6
    for name, g, e, w in zip(INVERSE, got, eager, want, strict=True):
        for what, x in (("fused", g), ("eager", e)):
            bad = np.nonzero(_ulps(x, w, rt) > 4)[0]
            assert bad.size == 0, (name, what, [(z[k], x[k], w[k]) for k in bad[:5]])


@requires_jax
@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_complex_inverse_functions_match_jax(dt):
    """Against JAX (XLA's chlo decompositions) on the finite points of the special grid and
    on random points of every magnitude, except where JAX departs from C99 (its results there
    checked by the reference test above instead): a part within sqrt(tiny) of the line
    |x| = 1 or |y| = 1 (JAX drops the sqrt(tiny) term), a -0 part (JAX takes it for +0, also
    on a branch cut: its asin(1.1 - 0j) is asin(1.1 + 0j)), and the sign of a zero result
    part; subnormal result parts count as zeros (XLA on the CPU flushes them)."""
    import jax
    import jax.numpy as jjnp
    rt = np.float32 if dt == np.complex64 else np.float64
    rng = np.random.default_rng(7)
    grid = _special_grid(dt)
    scale = 10.0 ** rng.uniform(-6, 6, (2, 400))
    rand = np.empty(400, dt)
    rand.real, rand.imag = rng.standard_normal((2, 400)) * scale
    z = np.concatenate([grid[np.isfinite(grid)], rand])
    tiny = np.sqrt(np.finfo(rt).tiny) * 4
    keep = ~(((np.abs(z.real) <= tiny) | (np.abs(z.imag) <= tiny)) &
             ((np.abs(z.real) == 1) | (np.abs(z.imag) == 1)))
    keep &= ~(((z.real == 0) & np.signbit(z.real)) | ((z.imag == 0) & np.signbit(z.imag)))
    z = z[keep]
    with plax.enable_x64():
        got, _, _ = run_fused(_inverse, z)
    with jax.enable_x64(True):
        want = [np.asarray(getattr(jjnp, "arc" + n[1:])(z)) for n in INVERSE]
    for name, g, w in zip(INVERSE, got, want, strict=True):
        g, w = _flush(g, rt), _flush(w, rt)
        bad = np.nonzero(_ulps(g, w, rt, zero_signs=False) > 4)[0]
        assert bad.size == 0, (name, [(z[k], g[k], w[k]) for k in bad[:5]])
