"""plax_cupy's rng kernels: rng_bit_generator as a generated kernel (one thread per counter
block: ThreeFry-2x32 or Philox-4x32 as XLA lays out its bits; the new key written once) with
its elementwise consumers fused as an epilogue, and rng_uniform as that kernel with its
bits-to-uniform transform: bit for bit against the reference backend and JAX (XLA CPU) for
every algorithm, output dtype, scalar, odd and empty shapes, counters that carry and wrap, the
new key and both key spellings; under jit, eagerly, with fusion off, under emulated GPU
threads, through plax.random's rbg keys under vmap; launch counts and the plan's text; every
rng kernel compiled by NVRTC for sm_90 without register spills."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax_cupy
from plax import lax
from plax import random as pr
from plax.extend import registry

from conftest import assert_close, requires_jax
from cupy_helpers import assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused

ALGORITHMS = ["RNG_DEFAULT", "RNG_THREE_FRY", "RNG_PHILOX"]
DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64]
# a scalar, empty shapes, odd and even lengths, no even dimension (ThreeFry splits the longest),
# an even dimension after odd ones, an extent-1 dimension
SHAPES = [(), (0,), (1,), (5,), (4,), (3, 5), (2, 3), (7, 1, 3), (4, 0, 3), (3, 4), (9, 7)]
KEYS = [np.array([0x12345678, 0x9ABCDEF0, 0xFFFFFFF0, 0x00000001], np.uint32),
        np.array([1, 2, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32),   # the 64-bit counter wraps
        np.array([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFD, 0], np.uint32)]  # its low word carries


@pytest.fixture(autouse=True)
def _x64():
    with plax.enable_x64():
        yield


def _draws(alg, shapes=SHAPES, dtypes=DTYPES):
    a = lax.RandomAlgorithm[alg]

    def f(key):
        return [lax.rng_bit_generator(key, s, d, a) for s in shapes for d in dtypes]
    return f


def _same(got, want):
    got, want = plax.tree_util.tree_leaves(got), plax.tree_util.tree_leaves(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_array_equal(g, w)


def _launches():
    return plax_cupy.launch_count()


def _on(backend, f, *args):
    with plax.default_backend(backend):
        return [np.asarray(x) for x in plax.tree_util.tree_leaves(f(*args))]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_bits_and_new_key_match_the_reference_under_jit(alg):
    f = _draws(alg)
    jf = plax.jit(f, backend="cupy")
    for key in KEYS:
        before = _launches()
        got = [np.asarray(x) for x in plax.tree_util.tree_leaves(jf(key))]
        assert _launches() - before == len(SHAPES) * len(DTYPES)  # one kernel per draw
        _same(got, _on("reference", f, key))


@requires_jax
@pytest.mark.parametrize("alg", ALGORITHMS[1:])  # RNG_DEFAULT is Philox (checked above)
def test_bits_and_new_key_match_jax(alg):
    import jax
    shapes = [(), (0,), (5,), (3, 5), (7, 1, 3), (9, 7)]
    ja = jax.lax.RandomAlgorithm[alg]
    jf = plax.jit(_draws(alg, shapes), backend="cupy")
    with jax.enable_x64(True):
        for key in KEYS[:2]:
            want = jax.jit(lambda k: [jax.lax.rng_bit_generator(k, s, d, ja) for s in shapes
                                      for d in DTYPES])(key)
            _same(jf(key), [np.asarray(w) for w in jax.tree_util.tree_leaves(want)])
        k64 = KEYS[1].view(np.uint64)  # the uint64[2] spelling of the state
        want = jax.lax.rng_bit_generator(k64, (3, 5), np.uint32, ja)
        with plax.default_backend("cupy"):
            _same(lax.rng_bit_generator(k64, (3, 5), np.uint32, lax.RandomAlgorithm[alg]),
                  [np.asarray(w) for w in want])


def test_eager_calls_and_fusion_off_run_the_kernel():
    key = KEYS[1]
    for alg in ("RNG_THREE_FRY", "RNG_PHILOX"):
        for shape, dt in (((3, 5), np.uint8), ((7,), np.uint64), ((0, 2), np.uint32)):
            f = _draws(alg, [shape], [dt])
            want = _on("reference", f, key)
            before = _launches()
            _same(_on("cupy", f, key), want)
            assert _launches() == before + 1
            with plax.config.override("cupy_fusion", False):  # the kernel still: no host rule
                before = _launches()
                _same(_on("cupy", plax.jit(f), key), want)
                assert _launches() == before + 1
    k64 = KEYS[2].view(np.uint64)
    f = _draws("RNG_PHILOX", [(5,)], [np.uint16])
    _same(_on("cupy", f, k64), _on("reference", f, k64))


def _uniform_bits(key):
    """random.uniform's bits-to-float of rng_bit_generator's bits, and the new key."""
    new_key, bits = lax.rng_bit_generator(key, (6, 5), np.uint32)
    mant = lax.bitwise_or(lax.shift_right_logical(bits, np.uint32(9)), np.uint32(0x3F800000))
    return new_key, lax.bitcast_convert_type(mant, np.float32) - np.float32(1.0)


def test_bits_to_float_is_the_kernels_epilogue():
    key = KEYS[0]
    got, steps, launches = run_fused(_uniform_bits, key)
    assert launches == 1 and [s.kind for s in steps] == ["rng"]
    ops = {e.primitive.name for e in steps[0].eqns}
    assert {"rng_bit_generator", "shift_right_logical", "or", "bitcast_convert_type"} <= ops
    _same(got, reference(_uniform_bits, key))
    jf = plax.jit(_uniform_bits, backend="cupy")
    text = jf.lower(key).as_text()
    assert "fused rng kernel" in text and "plax_philox4x32(" in text
    assert "library rng_bit_generator" not in text
    jf(key)
    before = _launches()
    _same(jf(key), reference(_uniform_bits, key))
    assert _launches() == before + 1


def test_new_key_read_downstream():
    """Chained draws (the second from the first's new key), and the new key combined with bits
    of its own shape: never read inside the kernel at an output index."""
    def f(key):
        k1, b1 = lax.rng_bit_generator(key, (4,), np.uint32, lax.RandomAlgorithm.RNG_THREE_FRY)
        k2, b2 = lax.rng_bit_generator(k1, (3, 3), np.uint8)
        return k2, b2, lax.bitwise_xor(k1, b1), lax.add(b1, np.uint32(1))
    key = KEYS[2]
    got, steps, _ = run_fused(f, key)
    assert [s.kind for s in steps].count("rng") == 2
    _same(got, reference(f, key))
    _same(_on("cupy", plax.jit(f), key), reference(f, key))


def test_costly_key_is_computed_once_cheap_key_inline():
    """A key made by a long elementwise chain is its own small kernel (every thread of the rng
    kernel would compute it); a slice of a batch of keys (vmap's rule) is read inline."""
    def costly(key):
        k = key
        for i in range(12):
            k = lax.bitwise_xor(lax.add(k, np.uint32(i + 1)),
                                lax.shift_right_logical(k, np.uint32(3)))
        return lax.rng_bit_generator(k, (5, 3), np.uint8)

    def cheap(keys):
        return lax.rng_bit_generator(keys[1], (6,), np.uint16, lax.RandomAlgorithm.RNG_THREE_FRY)
    key, keys = KEYS[0], np.stack(KEYS)
    got, steps, launches = run_fused(costly, key)
    assert [s.kind for s in steps] == ["loop", "rng"] and launches == 2
    _same(got, reference(costly, key))
    got, steps, launches = run_fused(cheap, keys)
    assert [s.kind for s in steps] == ["rng"] and launches == 1
    _same(got, reference(cheap, keys))


@pytest.mark.parametrize("impl", ["rbg", "unsafe_rbg"])
def test_random_with_rbg_keys_under_vmap(impl):
    key = pr.key(42, impl=impl)

    def f(k):
        ks = pr.split(k, 3)
        return [plax.vmap(lambda kk: pr.uniform(kk, (2, 5)))(ks),
                plax.vmap(lambda kk: pr.bits(kk, (7,), np.uint8))(ks),
                plax.vmap(lambda kk: pr.randint(kk, (3,), 0, 10))(ks),
                pr.key_data(pr.fold_in(k, 7)),
                plax.vmap(lambda kk: pr.normal(kk, (4,)))(ks)]
    want = _on("reference", f, key)
    for got in (_on("cupy", plax.jit(f), key), _on("cupy", f, key)):
        _same(got[:4], want[:4])
        assert_close(got[4], want[4], rtol=1e-6, atol=1e-6)  # erf_inv: within an ulp or so


def test_rng_leaves_host_primitives():
    hosted = set(registry.get_backend("cupy").host_primitives())
    assert not hosted & {"rng_bit_generator", "rng_uniform"}


def test_rng_uniform_is_one_kernel_with_its_distribution():
    from scipy import stats
    n = 20000
    draw = plax.jit(lambda a, b: lax.rng_uniform(a, b, (n,)), backend="cupy")
    lo, hi = np.float32(-2.0), np.float32(3.0)
    u = np.asarray(draw(lo, hi))
    before = _launches()
    u2 = np.asarray(draw(lo, hi))
    assert _launches() == before + 1
    assert u.dtype == np.float32 and u.shape == (n,) and u.min() >= -2.0 and u.max() < 3.0
    assert (u != u2).mean() > 0.99  # a new draw on every run
    assert stats.kstest(u, stats.uniform(loc=-2.0, scale=5.0).cdf).pvalue > 1e-4
    with plax.default_backend("cupy"):
        before = _launches()
        i = np.asarray(lax.rng_uniform(np.int8(-3), np.int8(4), (7000,)))
        assert _launches() == before + 1
        assert i.dtype == np.int8 and set(np.unique(i)) == set(range(-3, 4))
        assert stats.chisquare(np.bincount(i.astype(np.int64) + 3)).pvalue > 1e-4
        for name, a, b in [("float16", -1, 2), ("bfloat16", 0, 1), ("float64", 5, 6),
                           ("uint8", 250, 255), ("int64", -2**40, 2**40), ("uint64", 3, 9),
                           ("int32", -5, -2)]:
            dt = np.dtype(plax.numpy.dtype(name))
            a, b = np.asarray(a).astype(dt), np.asarray(b).astype(dt)
            x = np.asarray(lax.rng_uniform(a, b, (3, 700)))
            assert x.dtype == dt and x.shape == (3, 700)
            xf = x.astype(np.float64)
            assert xf.min() >= float(a) and xf.max() < float(b), name
            assert len(np.unique(x)) >= min(50, int(float(b) - float(a))), name
            top = float(b) - (dt.kind in "iu")  # the largest integer drawn: b - 1
            assert abs(xf.mean() - (float(a) + top) / 2) < 0.1 * (float(b) - float(a)), name
            empty = np.asarray(lax.rng_uniform(a, b, (0, 3)))
            assert empty.dtype == dt and empty.shape == (0, 3)
        # b <= a is undefined in XLA: a, as the reference backend
        np.testing.assert_array_equal(np.asarray(lax.rng_uniform(np.int32(5), np.int32(5),
                                                                 (4,))), 5)


def test_rng_kernels_under_emulated_gpu_threads():
    """More counter blocks than the 3 x 64 emulated threads (grid-stride loops), ThreeFry's
    pairs and Philox's quadruples with the epilogue, against the reference."""
    from plax_cupy import compiler

    def f(key):
        k1, b1 = lax.rng_bit_generator(key, (13, 41), np.uint16,
                                       lax.RandomAlgorithm.RNG_THREE_FRY)
        k2, b2 = lax.rng_bit_generator(key, (999,), np.uint32)
        return k1, k2, b1, lax.shift_right_logical(b2, np.uint32(3))
    key = KEYS[1]
    emulated = compiler.build_emulated(kernels_of(f, key), 3, 64)
    got, steps, _ = run_fused(f, key, functions=emulated)
    _same(got, reference(f, key))


def _corpus():
    from plax_cupy import lib_rng
    key = KEYS[0]
    ks = []
    for alg in ALGORITHMS[1:]:
        ks += kernels_of(_draws(alg, [(), (0,), (5,), (3, 5), (64, 128, 3)]), key)
    ks += kernels_of(_uniform_bits, key)
    ks += kernels_of(_draws("RNG_PHILOX", [(5,)]), key.view(np.uint64))
    ks += kernels_of(lambda k: pr.normal(pr.wrap_key_data(k, impl="rbg"), (256, 256)), key)
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int32", "uint64"):
        ks.append(lib_rng._runner((1024,), np.dtype(plax.numpy.dtype(name)))[0].kernel)
    return ks


def test_every_rng_kernel_compiles_with_nvrtc_for_sm90_without_spills():
    ks = _corpus()
    assert sum("plax_threefry2x32(" in k.body for k in ks) >= 4
    assert sum("plax_philox4x32(" in k.body for k in ks) >= 10
    assert_nvrtc_sm90_without_spills(ks)
