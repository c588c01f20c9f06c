"""plax.random: JAX's bits for the same key (hard-coded values, and JAX itself when importable),
dtypes with x64 off and on, statistical sanity, tracing to a checked jaxpr, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.random as pr
from plax._src.prng import threefry2x32
from conftest import HAVE_JAX, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

if HAVE_JAX:
    import jax


def _np(x):
    return np.asarray(x)


# ---------------------------------------------------------------------------------------------
# Known answers (no JAX needed)


@pytest.mark.parametrize("key,count,expected", [
    # Random123's known-answer vectors for threefry2x32 with 20 rounds
    ((0, 0), (0, 0), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0)),
])
def test_threefry_known_answers(key, count, expected):
    u = np.uint32
    out = threefry2x32(u(key[0]), u(key[1]), u(count[0]), u(count[1]))
    assert tuple(int(_np(o)) for o in out) == expected


def test_threefry_on_arrays_matches_scalars():
    u = np.uint32
    xs = np.array([0, 1, 2**31, 2**32 - 1], np.uint32)
    a, b = threefry2x32(u(5), u(9), u(3), xs)
    for i, x in enumerate(xs):
        sa, sb = threefry2x32(u(5), u(9), u(3), x)
        assert (int(_np(a)[i]), int(_np(b)[i])) == (int(_np(sa)), int(_np(sb)))


@pytest.mark.parametrize("seed,expected", [
    (0, [0, 0]), (42, [0, 42]), (-1, [0, 2**32 - 1]), (-5, [0, 2**32 - 5]),
    (2**32 + 5, [0, 5]), (2**63 - 1, [0, 2**32 - 1]), (-2**63, [0, 0]),
    (np.int32(-3), [0, 2**32 - 3]), (np.uint32(7), [0, 7]), (np.int64(-1), [0, 2**32 - 1]),
    (np.uint8(200), [0, 200]),
])
def test_prngkey_seeds_x32(seed, expected):
    for make in (pr.PRNGKey, pr.key):
        k = pr.key_data(make(seed))  # pr.key gives a typed key: its data
        assert k.dtype == np.uint32 and k.shape == (2,)
        assert _np(k).tolist() == expected


@pytest.mark.parametrize("seed,expected", [
    (-1, [2**32 - 1, 2**32 - 1]), (2**32 + 5, [1, 5]), (2**63 - 1, [2**31 - 1, 2**32 - 1]),
    (np.int32(-3), [0, 2**32 - 3]), (np.uint64(2**63 + 1), [2**31, 1]),
])
def test_prngkey_seeds_x64(seed, expected):
    with plax.enable_x64():
        assert _np(pr.PRNGKey(seed)).tolist() == expected


def test_hardcoded_values(backend):
    k = pr.PRNGKey(0)
    assert _np(pr.split(k)).tolist() == [[1797259609, 2579123966], [928981903, 3453687069]]
    assert _np(pr.fold_in(k, 3)).tolist() == [2467461003, 3840466878]
    assert _np(pr.bits(k, (5,))).tolist() == [4070199207, 4202968722, 1427181096, 2012915765,
                                               2447653815]
    k7 = pr.PRNGKey(7)
    assert _np(pr.split(k7, (2, 3))).tolist() == [
        [[3625411723, 1954958720], [195045567, 4062205631], [966301609, 1948237315]],
        [[276534068, 1641862660], [51277378, 3088387524], [3583082021, 1947592014]]]
    assert _np(pr.fold_in(k7, 2**32 - 1)).tolist() == [3658129989, 1719350670]
    assert _np(pr.bits(k7, (6,), np.uint8)).tolist() == [11, 0, 170, 48, 134, 107]
    u = _np(pr.uniform(k7, (5,)))
    assert u.dtype == np.float32
    assert u.view(np.uint32).tolist() == [1059885352, 1064927358, 1050349136, 1055084168,
                                          1060838242]
    np.testing.assert_allclose(_np(pr.normal(k7, (4,))),
                               [0.45123515, 1.9534509, -0.51623946, -0.14094029], rtol=2e-6)
    assert _np(pr.randint(k7, (8,), -3, 20)).tolist() == [12, 11, 14, -1, 1, 11, 5, 10]
    assert _np(pr.permutation(k7, 10)).tolist() == [9, 4, 2, 3, 5, 0, 7, 6, 1, 8]
    assert _np(pr.bernoulli(k7, 0.5, (8,))).astype(int).tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    logits = np.array([0., 1., 2.], np.float32)
    assert _np(pr.categorical(k7, logits, shape=(8,))).tolist() == [1, 2, 1, 2, 2, 2, 2, 2]
    assert _np(pr.choice(k7, 10, (4,), replace=False)).tolist() == [9, 4, 2, 3]


def test_hardcoded_values_x64():
    k7 = pr.PRNGKey(7)
    with plax.enable_x64():
        b = pr.bits(k7, (3,))
        assert b.dtype == np.uint64
        assert _np(b).tolist() == [15571024786774969728, 837714335556982463,
                                   4150233810675416579]
        u = pr.uniform(k7, (3,))
        assert u.dtype == np.float64
        assert _np(u).tolist() == [0.8441069450823528, 0.04541258512665647, 0.22498462569285382]


_ACROSS = {
    "split": lambda k: pr.split(k, (2, 3)),
    "fold_in": lambda k: pr.fold_in(k, 99),
    "bits u8": lambda k: pr.bits(k, (5,), np.uint8),
    "uniform": lambda k: pr.uniform(k, (2, 3), minval=-2., maxval=np.arange(1., 4.)),
    "uniform f16": lambda k: pr.uniform(k, (4,), np.float16),
    "normal": lambda k: pr.normal(k, (6,)),
    "randint i8": lambda k: pr.randint(k, (6,), -7, 100, np.int8),
    "bernoulli": lambda k: pr.bernoulli(k, 0.4, (6,)),
    "exponential": lambda k: pr.exponential(k, (4,)),
    "truncated_normal": lambda k: pr.truncated_normal(k, -1., 1., (4,)),
    "permutation": lambda k: pr.permutation(k, np.arange(12.).reshape(3, 4), axis=1),
    "categorical": lambda k: pr.categorical(k, np.log(_P), shape=(6,)),
    "choice p": lambda k: pr.choice(k, 4, (5,), p=_P),
}


def test_samplers_agree_across_backends(backend):
    keys = [pr.PRNGKey(s) for s in (3, 2**40 + 1)]
    for name, fn in _ACROSS.items():
        for k in keys:
            got = _np(fn(k))
            with plax.default_backend("reference"):
                want = _np(fn(_np(k)))
            assert got.dtype == want.dtype and got.shape == want.shape, name
            if got.dtype.kind in "fc":  # transcendental functions may differ in the last ulps
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)


# ---------------------------------------------------------------------------------------------
# Against JAX: exact where the computation is exact; a few ulps where it goes through
# transcendental functions (erf_inv, log: NumPy's and XLA's differ in the last bits) or where
# XLA fuses `u * (max - min) + min` into one FMA


_LOGITS = np.random.RandomState(0).randn(4, 5).astype(np.float32)
_X2D = np.arange(24, dtype=np.int32).reshape(4, 6)
_P = np.array([.1, .2, .3, .4], np.float32)

# (name, plax function, jax function, exact)
_CASES = [
    ("bits u32", lambda m, k: m.bits(k, (3, 4)), True),
    ("bits u8", lambda m, k: m.bits(k, (7,), np.uint8), True),
    ("bits u16 0d", lambda m, k: m.bits(k, (), np.uint16), True),
    ("bits empty", lambda m, k: m.bits(k, (0, 3)), True),
    ("split", lambda m, k: m.split(k), True),
    ("split 5", lambda m, k: m.split(k, 5), True),
    ("split shape", lambda m, k: m.split(k, (2, 3)), True),
    ("split 1", lambda m, k: m.split(k, 1), True),
    ("fold_in", lambda m, k: m.fold_in(k, 12345), True),
    ("fold_in u32 max", lambda m, k: m.fold_in(k, np.uint32(2**32 - 1)), True),
    ("fold_in i64 wraps", lambda m, k: m.fold_in(k, np.int64(-7)), True),
    ("uniform", lambda m, k: m.uniform(k, (64,)), True),
    ("uniform 2d", lambda m, k: m.uniform(k, (3, 5)), True),
    ("uniform 0d", lambda m, k: m.uniform(k), True),
    ("uniform f16", lambda m, k: m.uniform(k, (64,), np.float16), True),
    ("uniform bf16", lambda m, k: m.uniform(k, (64,), "bfloat16"), True),
    ("uniform minmax", lambda m, k: m.uniform(k, (2, 8), minval=-3., maxval=np.arange(8.)),
     False),
    ("normal", lambda m, k: m.normal(k, (64,)), False),
    ("normal f16", lambda m, k: m.normal(k, (16,), np.float16), False),
    ("normal c64", lambda m, k: m.normal(k, (16,), np.complex64), False),
    ("randint", lambda m, k: m.randint(k, (64,), -5, 17), True),
    ("randint u8 full", lambda m, k: m.randint(k, (32,), 0, 256, np.uint8), True),
    ("randint i8", lambda m, k: m.randint(k, (32,), -100, 100, np.int8), True),
    ("randint i16", lambda m, k: m.randint(k, (32,), -1000, 30000, np.int16), True),
    ("randint arrays", lambda m, k: m.randint(k, (3, 4), np.arange(4), np.array([[5], [9], [20]])),
     True),
    ("randint empty range", lambda m, k: m.randint(k, (4,), 5, 3), True),
    ("randint u32 max", lambda m, k: m.randint(k, (8,), 0, np.uint32(2**32 - 1), np.uint32),
     True),
    ("randint float bounds", lambda m, k: m.randint(k, (8,), 1.7, 9.2), True),
    ("bernoulli", lambda m, k: m.bernoulli(k, 0.3, (64,)), True),
    ("bernoulli p array", lambda m, k: m.bernoulli(k, np.linspace(0, 1, 10, dtype=np.float32)),
     True),
    ("bernoulli high", lambda m, k: m.bernoulli(k, 0.3, (64,), mode="high"), True),
    ("exponential", lambda m, k: m.exponential(k, (64,)), False),
    ("gumbel", lambda m, k: m.gumbel(k, (64,)), False),
    ("gumbel high", lambda m, k: m.gumbel(k, (64,), mode="high"), False),
    ("truncated_normal", lambda m, k: m.truncated_normal(k, -1., 2., (64,)), False),
    ("truncated_normal bcast", lambda m, k: m.truncated_normal(
        k, np.array([-2., 0.], np.float32), 1.5), False),
    ("permutation int", lambda m, k: m.permutation(k, 20), True),
    ("permutation two rounds", lambda m, k: m.permutation(k, 2000), True),
    ("permutation 1", lambda m, k: m.permutation(k, 1), True),
    ("permutation array axis1", lambda m, k: m.permutation(k, _X2D, axis=1), True),
    ("permutation independent", lambda m, k: m.permutation(k, _X2D, axis=1, independent=True),
     True),
    ("categorical", lambda m, k: m.categorical(k, np.log(_P), shape=(50,)), True),
    ("categorical axis0", lambda m, k: m.categorical(k, _LOGITS, axis=0), True),
    ("categorical prefix", lambda m, k: m.categorical(k, _LOGITS, axis=0, shape=(3, 5)), True),
    ("categorical no replace", lambda m, k: m.categorical(k, _LOGITS, axis=1, shape=(3, 4),
                                                         replace=False), True),
    ("choice", lambda m, k: m.choice(k, 10, (5,)), True),
    ("choice 2d shape", lambda m, k: m.choice(k, 7, (2, 3)), True),
    ("choice no replace", lambda m, k: m.choice(k, 10, (5,), replace=False), True),
    ("choice p", lambda m, k: m.choice(k, 4, (20,), p=_P), True),
    ("choice p no replace", lambda m, k: m.choice(k, 4, (3,), p=_P, replace=False), True),
    ("choice array no replace", lambda m, k: m.choice(k, _X2D, (2,), replace=False, axis=1),
     True),
]


def _compare(a, b, exact):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    if exact or a.dtype.kind not in "fc":
        np.testing.assert_array_equal(a, b)
    else:
        rtol = 1e-2 if a.dtype.itemsize <= 2 else 1e-4
        np.testing.assert_allclose(a.astype(np.complex128 if a.dtype.kind == "c" else
                                            np.float64), b, rtol=rtol, atol=1e-6)


@requires_jax
@pytest.mark.parametrize("name,fn,exact", _CASES, ids=[c[0] for c in _CASES])
def test_matches_jax(name, fn, exact):
    # on xla every sampler is the same XLA program as JAX's: bit-identical, transcendental
    # functions included; on the reference backend NumPy's functions differ in the last ulps
    exact = exact or plax.default_backend() == "xla"
    for seed in (0, 1, 2**31 + 3):
        k = pr.PRNGKey(seed)
        _compare(fn(pr, k), fn(jax.random, jax.random.PRNGKey(seed)), exact)


@requires_jax
def test_split_keys_chain_like_jax():
    k, kj = pr.PRNGKey(123), jax.random.PRNGKey(123)
    for i in range(4):
        k, sub = _np(pr.split(k))
        kj, subj = jax.random.split(kj)
        np.testing.assert_array_equal(sub, subj)
        np.testing.assert_array_equal(_np(pr.uniform(sub, (3,))),
                                      jax.random.uniform(subj, (3,)))
        k = pr.fold_in(k, i)
        kj = jax.random.fold_in(kj, i)
    np.testing.assert_array_equal(_np(k), kj)


@requires_jax
@pytest.mark.parametrize("fn", [
    lambda m, k: m.bits(k, (5,)),
    lambda m, k: m.uniform(k, (5,)),
    lambda m, k: m.randint(k, (9,), -2**40, 2**40),
    lambda m, k: m.randint(k, (9,), 0, np.uint64(2**64 - 1), np.uint64),
    lambda m, k: m.randint(k, (9,), 0, 2**63 - 1, np.uint64),
    lambda m, k: m.bernoulli(k, np.float64(0.25), (9,)),
    lambda m, k: m.permutation(k, 12),
    lambda m, k: m.fold_in(m.PRNGKey(-1), 5),
])
def test_matches_jax_x64(fn):
    with plax.enable_x64(), jax.enable_x64(True):
        for seed in (0, 5):
            _compare(fn(pr, pr.PRNGKey(seed)), fn(jax.random, jax.random.PRNGKey(seed)), True)
        a = fn(pr, pr.PRNGKey(9))
        assert a.dtype == np.asarray(fn(jax.random, jax.random.PRNGKey(9))).dtype


@requires_jax
def test_normal_x64_close_to_jax():
    with plax.enable_x64(), jax.enable_x64(True):
        a = pr.normal(pr.PRNGKey(3), (50,))
        assert a.dtype == np.float64
        np.testing.assert_allclose(_np(a), jax.random.normal(jax.random.PRNGKey(3), (50,)),
                                   rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Dtypes


def test_default_dtypes_x32_and_x64():
    k = pr.PRNGKey(0)
    assert pr.bits(k).dtype == np.uint32
    assert pr.uniform(k).dtype == np.float32
    assert pr.normal(k).dtype == np.float32
    assert pr.randint(k, (), 0, 3).dtype == np.int32
    assert pr.uniform(k, dtype=np.float64).dtype == np.float32  # canonicalized, as in JAX
    assert pr.bits(k, dtype=np.uint64).dtype == np.uint32
    assert pr.categorical(k, np.zeros(3, np.float32)).dtype == np.int32
    assert pr.permutation(k, 4).dtype == np.int32
    assert pr.bernoulli(k).dtype == np.bool_
    with plax.enable_x64():
        assert pr.bits(k).dtype == np.uint64
        assert pr.uniform(k).dtype == np.float64
        assert pr.normal(k).dtype == np.float64
        assert pr.exponential(k).dtype == np.float64
        assert pr.randint(k, (), 0, 3).dtype == np.int64
        assert pr.permutation(k, 4).dtype == np.int64
        assert pr.uniform(k, dtype=np.float32).dtype == np.float32
        assert pr.split(k).dtype == np.uint32  # keys are uint32 under x64 too
    for dt in (np.float16, "bfloat16", np.float32):
        assert np.dtype(pr.uniform(k, (3,), dt).dtype) == np.dtype(dt)
        assert np.dtype(pr.normal(k, (3,), dt).dtype) == np.dtype(dt)
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.uint32):
        r = pr.randint(k, (100,), 0, 100, dt)
        assert r.dtype == dt and 0 <= _np(r).min() and _np(r).max() < 100


def test_empty_shapes():
    k = pr.PRNGKey(0)
    assert pr.split(k, 0).shape == (0, 2)
    assert pr.uniform(k, (0, 3)).shape == (0, 3)
    assert pr.normal(k, (0,)).shape == (0,)
    assert pr.randint(k, (2, 0), 0, 3).shape == (2, 0)
    assert pr.permutation(k, np.zeros((0, 2), np.float32)).shape == (0, 2)
    assert pr.categorical(k, np.zeros((0, 3), np.float32)).shape == (0,)
    assert pr.bernoulli(k, np.zeros((0,), np.float32)).shape == (0,)


def test_uniform_range_and_minval_maxval_broadcast():
    k = pr.PRNGKey(11)
    lo = np.array([[-1.], [10.]], np.float32)
    u = _np(pr.uniform(k, (2, 500), minval=lo, maxval=lo + 2))
    assert u.shape == (2, 500)
    assert (u[0] >= -1).all() and (u[0] < 1).all() and (u[1] >= 10).all() and (u[1] < 12).all()
    # minval == maxval gives minval
    assert (_np(pr.uniform(k, (4,), minval=3., maxval=3.)) == 3.).all()


# ---------------------------------------------------------------------------------------------
# Statistics


N = 20000


def test_uniform_normal_exponential_moments():
    k1, k2, k3 = _np(pr.split(pr.PRNGKey(2024), 3))
    u = _np(pr.uniform(k1, (N,)))
    assert (u >= 0).all() and (u < 1).all()
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    z = _np(pr.normal(k2, (N,)))
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.03 and abs(z.var() - 1) < 0.04
    e = _np(pr.exponential(k3, (N,)))
    assert (e >= 0).all() and abs(e.mean() - 1) < 0.04


def test_normal_complex_moments():
    z = _np(pr.normal(pr.PRNGKey(5), (N,), np.complex64))
    assert z.dtype == np.complex64
    assert abs(z.real.var() - 0.5) < 0.03 and abs(z.imag.var() - 0.5) < 0.03
    assert abs(np.mean(z.real * z.imag)) < 0.02  # uncorrelated parts


def test_truncated_normal_bounds_and_mean():
    t = _np(pr.truncated_normal(pr.PRNGKey(3), -0.5, 2.0, (N,)))
    assert (t > -0.5).all() and (t < 2.0).all()
    # mean of N(0,1) truncated to (a, b): (phi(a) - phi(b)) / (Phi(b) - Phi(a))
    from scipy import stats
    expected = stats.truncnorm.mean(-0.5, 2.0)
    assert abs(t.mean() - expected) < 0.02


def test_gumbel_mean():
    g = _np(pr.gumbel(pr.PRNGKey(8), (N,)))
    assert abs(g.mean() - np.euler_gamma) < 0.03


def test_bernoulli_and_randint_frequencies():
    b = _np(pr.bernoulli(pr.PRNGKey(1), 0.3, (N,)))
    assert abs(b.mean() - 0.3) < 0.015
    assert not _np(pr.bernoulli(pr.PRNGKey(1), 0., (100,))).any()
    assert _np(pr.bernoulli(pr.PRNGKey(1), 1., (100,))).all()
    r = _np(pr.randint(pr.PRNGKey(4), (N,), -3, 7))
    counts = np.bincount(r + 3, minlength=10)
    assert r.min() == -3 and r.max() == 6
    assert (np.abs(counts - N / 10) < 5 * np.sqrt(N / 10)).all()


def test_categorical_frequencies():
    p = np.array([0.1, 0.2, 0.7], np.float32)
    c = _np(pr.categorical(pr.PRNGKey(6), np.log(p), shape=(N,)))
    np.testing.assert_allclose(np.bincount(c, minlength=3) / N, p, atol=0.015)
    # batched logits along axis 0: one draw per column
    logits = np.log(np.array([[0.98, 0.01], [0.01, 0.98], [0.01, 0.01]], np.float32))
    d = _np(pr.categorical(pr.PRNGKey(6), logits, axis=0, shape=(500, 2)))
    assert d.shape == (500, 2)
    assert (d[:, 0] == 0).mean() > 0.9 and (d[:, 1] == 1).mean() > 0.9


def test_permutation_and_choice_are_valid():
    p = _np(pr.permutation(pr.PRNGKey(0), 100))
    assert sorted(p.tolist()) == list(range(100))
    x = np.arange(12.).reshape(3, 4)
    q = _np(pr.permutation(pr.PRNGKey(1), x, axis=1))
    # the same column permutation for every row
    cols = [list(x[0]).index(v) for v in q[0]]
    assert (q == x[:, cols]).all()
    qi = _np(pr.permutation(pr.PRNGKey(1), x, axis=1, independent=True))
    assert (np.sort(qi, axis=1) == x).all()
    c = _np(pr.choice(pr.PRNGKey(2), 50, (20,), replace=False))
    assert len(set(c.tolist())) == 20 and c.min() >= 0 and c.max() < 50
    w = _np(pr.choice(pr.PRNGKey(2), 3, (N,), p=np.array([0.5, 0., 0.5], np.float32)))
    assert not (w == 1).any() and abs((w == 0).mean() - 0.5) < 0.02
    assert _np(pr.choice(pr.PRNGKey(2), 5, (0,))).shape == (0,)


def test_split_keys_differ():
    keys = _np(pr.split(pr.PRNGKey(0), 64))
    assert len({tuple(k) for k in keys}) == 64
    folded = {tuple(_np(pr.fold_in(pr.PRNGKey(0), i))) for i in range(32)}
    assert len(folded) == 32


# ---------------------------------------------------------------------------------------------
# Tracing


_TRACED = [
    lambda k: pr.split(k, 3),
    lambda k: pr.fold_in(k, 7),
    lambda k: pr.bits(k, (2, 3), np.uint8),
    lambda k: pr.uniform(k, (4,), minval=-1., maxval=2.),
    lambda k: pr.normal(k, (3,)),
    lambda k: pr.randint(k, (5,), 0, 10, np.int8),
    lambda k: pr.bernoulli(k, 0.25, (4,)),
    lambda k: pr.truncated_normal(k, -1., 1., (3,)),
    lambda k: pr.exponential(k, (2,)),
    lambda k: pr.categorical(k, np.zeros((2, 3), np.float32)),
    lambda k: pr.permutation(k, 6),
    lambda k: pr.choice(k, 5, (3,), replace=False),
    lambda k: pr.choice(k, 4, (3,), p=_P),
]


@pytest.mark.parametrize("i", range(len(_TRACED)))
def test_make_jaxpr_checks_and_evaluates_like_eager(i):
    from plax._src.core import jaxpr_as_fun
    fn = _TRACED[i]
    key = pr.PRNGKey(17)
    closed = plax.make_jaxpr(fn)(key)
    closed.check()
    assert closed.in_avals[0].shape == (2,) and closed.in_avals[0].dtype == np.uint32
    (out,) = jaxpr_as_fun(closed)(key)
    np.testing.assert_array_equal(_np(out), _np(fn(key)))


def test_make_jaxpr_traced_seed():
    closed = plax.make_jaxpr(lambda s: pr.uniform(pr.PRNGKey(s), (2,)))(np.int32(0))
    closed.check()
    from plax._src.core import jaxpr_as_fun
    (out,) = jaxpr_as_fun(closed)(np.int32(7))
    np.testing.assert_array_equal(_np(out), _np(pr.uniform(pr.PRNGKey(7), (2,))))


_MAPPED = {
    "split": lambda m, k: m.split(k, 2),
    "fold_in": lambda m, k: m.fold_in(k, 3),
    "uniform": lambda m, k: m.uniform(k, (3,)),
    "normal": lambda m, k: m.normal(k, (3,)),
    "randint": lambda m, k: m.randint(k, (3,), 0, 9),
    "bernoulli": lambda m, k: m.bernoulli(k, 0.3, (4,)),
    "permutation": lambda m, k: m.permutation(k, 6),
    "categorical": lambda m, k: m.categorical(k, np.zeros((2, 3), np.float32)),
    "choice p": lambda m, k: m.choice(k, 4, (3,), p=_P),
}


@pytest.mark.parametrize("name", sorted(_MAPPED))
def test_vmap_over_keys_and_jit(name):
    """A batch of keys under vmap gives each key's own draw; jit gives the eager numbers."""
    fn = _MAPPED[name]
    keys = pr.split(pr.PRNGKey(42), 3)
    mapped = _np(plax.vmap(lambda k: fn(pr, k))(keys))
    each = np.stack([_np(fn(pr, k)) for k in _np(keys)])
    np.testing.assert_array_equal(mapped, each)
    np.testing.assert_array_equal(_np(plax.jit(lambda k: fn(pr, k))(keys[0])), each[0])
    if HAVE_JAX:
        _compare(mapped, jax.vmap(lambda k: fn(jax.random, k))(_np(keys)),
                 exact=name not in ("normal",))


def test_vmap_over_seeds_and_grad_through_samples():
    seeds = np.arange(4, dtype=np.int32)
    keys = _np(plax.vmap(pr.PRNGKey)(seeds))
    assert keys.tolist() == [[0, s] for s in range(4)]
    z = _np(pr.normal(pr.PRNGKey(0), (3,)))
    g = plax.grad(lambda s: (pr.normal(pr.PRNGKey(0), (3,)) * s).sum())(2.0)
    np.testing.assert_allclose(float(g), z.sum(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Errors


def test_key_errors():
    with pytest.raises(TypeError, match="seed must be an integer"):
        pr.PRNGKey(1.5)
    with pytest.raises(TypeError, match="seed must be an integer"):
        pr.PRNGKey(True)
    with pytest.raises(TypeError, match="scalar seed"):
        pr.PRNGKey(np.array([1, 2]))
    with pytest.raises(OverflowError, match="64 bits"):
        pr.PRNGKey(2**64)
    with pytest.raises(ValueError, match="unrecognized PRNG implementation 'philox4x32'"):
        pr.key(0, impl="philox4x32")
    with pytest.raises(TypeError, match="seed must be an integer"):
        pr.PRNGKey(1.5, impl="rbg")
    with pytest.raises(TypeError, match="invalid PRNG key"):
        pr.uniform(np.zeros(2, np.int32))
    with pytest.raises(TypeError, match="invalid PRNG key"):
        pr.normal(np.zeros(3, np.uint32))
    with pytest.raises(TypeError, match="expected a PRNG key"):
        pr.split([0, 1])
    with pytest.raises(ValueError, match=r"single key.*\(4,\)"):
        pr.uniform(pr.split(pr.PRNGKey(0), 4))
    with pytest.raises(TypeError, match="scalar"):
        pr.fold_in(pr.PRNGKey(0), np.arange(3))
    with pytest.raises(OverflowError, match="uint32"):
        pr.fold_in(pr.PRNGKey(0), -1)
    with pytest.raises(ValueError, match="non-negative"):
        pr.split(pr.PRNGKey(0), -2)


def test_key_data_and_wrap():
    keys = pr.split(pr.PRNGKey(0), 3)
    assert pr.key_data(keys) is keys
    np.testing.assert_array_equal(_np(pr.key_data(pr.wrap_key_data(_np(keys)))), _np(keys))
    assert pr.key_impl(keys) == "threefry2x32"
    with pytest.raises(TypeError, match="last dimension is 2"):
        pr.wrap_key_data(np.zeros((3,), np.uint32))


def test_sampler_argument_errors():
    k = pr.PRNGKey(0)
    with pytest.raises(ValueError, match="`uniform` must be a float"):
        pr.uniform(k, dtype=np.int32)
    with pytest.raises(ValueError, match="`normal` must be a float or complex"):
        pr.normal(k, dtype=np.int32)
    with pytest.raises(ValueError, match="unsigned"):
        pr.bits(k, dtype=np.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        pr.randint(k, (2,), 0, 3, np.float32)
    with pytest.raises(ValueError, match="broadcast-compatible"):
        pr.uniform(k, (3,), minval=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="broadcast-compatible"):
        pr.randint(k, (3,), np.zeros((2, 3), np.int32), 5)
    with pytest.raises(TypeError, match="floating dtype"):
        pr.bernoulli(k, np.int32(1))
    with pytest.raises(ValueError, match="mode"):
        pr.bernoulli(k, 0.5, mode="medium")
    with pytest.raises(TypeError, match="floating dtype"):
        pr.categorical(k, np.arange(3))
    with pytest.raises(ValueError, match="cannot exceed"):
        pr.categorical(k, np.zeros(3, np.float32), shape=(4,), replace=False)
    with pytest.raises(ValueError, match="larger sample"):
        pr.choice(k, 3, (4,), replace=False)
    with pytest.raises(ValueError, match="p must be None or a 1D vector"):
        pr.choice(k, 3, (2,), p=np.ones(4, np.float32) / 4)
    with pytest.raises(TypeError, match="sequence"):
        pr.choice(k, 3, 2)
    with pytest.raises(TypeError, match="integer or at least 1-dimensional"):
        pr.permutation(k, 3.0)
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        pr.permutation(k, np.zeros((2, 2)), axis=2)
    with pytest.raises(TypeError, match="not list"):
        pr.uniform(k, (2,), minval=[0., 1.])
    with pytest.raises(ValueError, match="gumbel mode"):
        pr.gumbel(k, mode="highest")


def test_traced_shape_is_an_error():
    with pytest.raises(plax.ConcretizationTypeError):
        plax.make_jaxpr(lambda n: pr.permutation(pr.PRNGKey(0), n))(np.int32(4))
