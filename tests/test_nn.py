"""plax.nn against NumPy/SciPy references and jax.nn: several shapes and dtypes, extreme inputs
(no inf/NaN where JAX has none), masks, dtype rules, tracing, initializers and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import plax
import plax.nn as nn
import plax.random as pr
from conftest import HAVE_JAX, assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

if HAVE_JAX:
    import jax



SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _elu(x, alpha=1.0):
    with np.errstate(over="ignore"):
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


# name -> (plax function, NumPy reference computed in float64)
ELEMENTWISE = {
    "relu": (nn.relu, lambda x: np.maximum(x, 0)),
    "relu6": (nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    "sigmoid": (nn.sigmoid, sp.expit),
    "softplus": (nn.softplus, lambda x: np.logaddexp(x, 0)),
    "log_sigmoid": (nn.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    "silu": (nn.silu, lambda x: x * sp.expit(x)),
    "swish": (nn.swish, lambda x: x * sp.expit(x)),
    "soft_sign": (nn.soft_sign, lambda x: x / (np.abs(x) + 1)),
    "elu": (nn.elu, _elu),
    "elu_alpha": (lambda x: nn.elu(x, 0.5), lambda x: _elu(x, 0.5)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "celu": (lambda x: nn.celu(x, 2.0),
             lambda x: np.maximum(x, 0) + 2.0 * np.expm1(np.minimum(x, 0) / 2.0)),
    "selu": (nn.selu, lambda x: SELU_SCALE * _elu(x, SELU_ALPHA)),
    "hard_tanh": (nn.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "hard_sigmoid": (nn.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hard_silu": (nn.hard_silu, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "mish": (nn.mish, lambda x: x * np.tanh(np.logaddexp(x, 0))),
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2),
    "sparse_plus": (nn.sparse_plus,
                    lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    "sparse_sigmoid": (nn.sparse_sigmoid, lambda x: 0.5 * np.clip(x + 1, 0, 2)),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False),
                   lambda x: 0.5 * x * sp.erfc(-x / np.sqrt(2))),
    "gelu_tanh": (nn.gelu, _gelu_tanh),
    "tanh": (nn.tanh, np.tanh),
    "identity": (nn.identity, lambda x: x),
}

SHAPES = [(), (7,), (3, 4), (2, 0, 3)]


def _inputs(shape, dtype, seed=0):
    x = np.random.RandomState(seed).uniform(-6, 6, size=shape)
    return x.astype(dtype)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_elementwise_against_numpy(name, shape):
    f, ref = ELEMENTWISE[name]
    x = _inputs(shape, np.float32)
    out = f(x)
    assert out.shape == shape and out.dtype == np.float32, (out.shape, out.dtype)
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64))
    assert_close(out, expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_elementwise_half_precision(name, dtype):
    f, ref = ELEMENTWISE[name]
    x = _inputs((5, 3), dtype, seed=1)
    out = f(x)
    assert np.dtype(out.dtype) == np.dtype(dtype)
    with np.errstate(all="ignore"):
        expected = ref(np.asarray(x, np.float64))
    assert_close(np.asarray(out, np.float32), expected, rtol=3e-2, atol=3e-2)


EXTREME = np.array([-1e30, -1e4, -100., -30., -1., -0., 0., 1e-30, 1., 30., 100., 1e4, 1e30],
                   np.float32)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_extreme_values_finite(name):
    """Large inputs must not overflow into inf/NaN (softplus(1e4) is 1e4, sigmoid(-1e4) is 0)."""
    f, ref = ELEMENTWISE[name]
    out = np.asarray(f(EXTREME))
    with np.errstate(all="ignore"):
        expected = ref(EXTREME.astype(np.float64))
    finite = np.isfinite(expected.astype(np.float32))
    if name == "squareplus":  # JAX's x + sqrt(x * x + b) overflows for huge |x| and cancels
        finite &= np.abs(EXTREME) <= 100  # for large negative x; plax keeps that formula
    assert np.isfinite(out[finite]).all(), (name, EXTREME[finite], out[finite])
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_nan_propagates(name):
    f, _ = ELEMENTWISE[name]
    assert np.isnan(np.asarray(f(np.array([np.nan], np.float32)))).all()


@requires_jax
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_against_jax(name):
    f, _ = ELEMENTWISE[name]
    jf = {"elu_alpha": lambda x: jax.nn.elu(x, 0.5), "celu": lambda x: jax.nn.celu(x, 2.0),
          "gelu_exact": lambda x: jax.nn.gelu(x, approximate=False), "gelu_tanh": jax.nn.gelu
          }.get(name) or getattr(jax.nn, name)
    x = np.concatenate([EXTREME, np.array([np.nan, np.inf, -np.inf], np.float32),
                        _inputs((20,), np.float32)])
    with np.errstate(all="ignore"):
        out, expected = np.asarray(f(x)), np.asarray(jf(x))
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_functions_agree_across_backends(backend):
    x = np.concatenate([EXTREME[1:-1], _inputs((13,), np.float32)]).reshape(4, 6)
    fns = [nn.relu, nn.gelu, nn.softplus, nn.log_sigmoid, nn.elu, nn.selu, nn.silu,
           lambda v: nn.softmax(v, axis=0), lambda v: nn.log_softmax(v, where=v < 50),
           lambda v: nn.logsumexp(v, axis=1), lambda v: nn.standardize(v),
           lambda v: nn.one_hot(np.arange(4) - 1, 3)]
    for fn in fns:
        got = np.asarray(fn(x))
        with plax.default_backend("reference"):
            want = np.asarray(fn(x))
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# dtype rules


def test_dtypes_follow_jax():
    ints = np.array([-2, 0, 3], np.int32)
    assert nn.relu(ints).dtype == np.int32
    assert np.asarray(nn.relu(ints)).tolist() == [0, 0, 3]
    assert nn.relu6(ints).dtype == np.float32  # min(., 6.) promotes to float
    assert nn.hard_tanh(ints).dtype == np.int32
    assert nn.leaky_relu(ints).dtype == np.float32
    assert nn.gelu(ints).dtype == np.float32
    assert nn.softplus(ints).dtype == np.float32
    assert nn.softmax(ints).dtype == np.float32
    assert nn.gelu(np.ones(2, np.float16)).dtype == np.float16
    with plax.enable_x64():
        assert nn.gelu(ints).dtype == np.float64
        x = np.linspace(-3, 3, 7)
        out = nn.softplus(x)
        assert out.dtype == np.float64
        assert_close(out, np.logaddexp(x, 0))
        assert nn.one_hot(np.array([1]), 3).dtype == np.float64


def test_sigmoid_rejects_integers():
    with pytest.raises(TypeError, match="logistic"):
        nn.sigmoid(np.array([1, 2], np.int32))


# ---------------------------------------------------------------------------------------------
# softmax family


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                                        ((2, 3, 4), (0, 2)), ((2, 3), None), ((4, 0), 0)])
def test_softmax_log_softmax(shape, axis):
    x = _inputs(shape, np.float32) * 10
    assert_close(nn.softmax(x, axis=axis), sp.softmax(x.astype(np.float64), axis=axis),
                 rtol=1e-5, atol=1e-7)
    assert_close(nn.log_softmax(x, axis=axis), sp.log_softmax(x.astype(np.float64), axis=axis),
                 rtol=1e-5, atol=1e-5)


def test_softmax_extreme_values():
    x = np.array([[1e4, 0., -1e4], [-1e30, -1e30, -1e30], [1e30, 1e30, 0.]], np.float32)
    s = np.asarray(nn.softmax(x))
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0]], atol=1e-7)
    ls = np.asarray(nn.log_softmax(x))
    np.testing.assert_allclose(ls[0], [0, -1e4, -2e4], rtol=1e-6)
    # all -inf (an empty distribution) gives NaN, as in JAX
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.asarray(nn.softmax(np.full(3, -np.inf, np.float32)))).all()


def test_softmax_where():
    x = np.array([[1., 2., 3.], [4., 5., 6.]], np.float32)
    where = np.array([[True, False, True], [False, False, True]])
    s = np.asarray(nn.softmax(x, where=where))
    np.testing.assert_allclose(s[0], [sp.expit(-2), 0, sp.expit(2)], rtol=1e-6)
    np.testing.assert_allclose(s[1], [0, 0, 1])
    ls = np.asarray(nn.log_softmax(x, where=where))
    assert ls[0, 1] == -np.inf and ls[1, 0] == -np.inf
    np.testing.assert_allclose(ls[0, [0, 2]], np.log([sp.expit(-2), sp.expit(2)]), rtol=1e-6)
    if HAVE_JAX:
        np.testing.assert_allclose(s, jax.nn.softmax(x, where=where), rtol=1e-6)
        np.testing.assert_allclose(ls, jax.nn.log_softmax(x, where=where), rtol=1e-6)


@pytest.mark.parametrize("shape,axis,keepdims", [
    ((5,), None, False), ((3, 4), 1, False), ((3, 4), 0, True), ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), -1, True), ((), None, False), ((3, 0), 1, False)])
def test_logsumexp(shape, axis, keepdims):
    x = _inputs(shape, np.float32) * 20
    out = nn.logsumexp(x, axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore"):
        expected = sp.logsumexp(x.astype(np.float64), axis=axis, keepdims=keepdims)
    assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_logsumexp_stable_and_special_values():
    x = np.array([1e4, 1e4], np.float32)
    np.testing.assert_allclose(np.asarray(nn.logsumexp(x)), 1e4 + np.log(2), rtol=1e-6)
    x = np.array([-1e4, -1e4 - 1], np.float32)
    np.testing.assert_allclose(np.asarray(nn.logsumexp(x)), sp.logsumexp([-1e4, -1e4 - 1]),
                               rtol=1e-6)
    assert np.asarray(nn.logsumexp(np.full(2, -np.inf, np.float32))) == -np.inf
    assert np.asarray(nn.logsumexp(np.array([1., np.inf], np.float32))) == np.inf
    assert np.isnan(np.asarray(nn.logsumexp(np.array([1., np.nan], np.float32))))


def test_logsumexp_b_and_sign():
    a = np.array([[1., 2., 3.], [0., 0., 0.]], np.float32)
    b = np.array([[1., -2., 0.5], [1., 1., -3.]], np.float32)
    out, sign = nn.logsumexp(a, axis=1, b=b, return_sign=True)
    e_out, e_sign = sp.logsumexp(a.astype(np.float64), axis=1, b=b, return_sign=True)
    assert_close(out, e_out, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(sign), e_sign)
    plain = np.asarray(nn.logsumexp(a, axis=1, b=b))
    assert np.isnan(plain).all()  # both sums are negative: NaN without return_sign
    # b == 0 removes an entry entirely, even an infinite one
    assert_close(nn.logsumexp(np.array([np.inf, 1.], np.float32), b=np.array([0., 1.])), 1.0)
    if HAVE_JAX:
        jo, js = jax.nn.logsumexp(a, axis=1, b=b, return_sign=True)
        np.testing.assert_allclose(np.asarray(out), jo, rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(sign), js)


def test_logsumexp_where_and_logmeanexp():
    a = np.array([1., 2., 3.], np.float32)
    w = np.array([True, True, False])
    assert_close(nn.logsumexp(a, where=w), np.logaddexp(1., 2.))
    assert_close(nn.logmeanexp(a), sp.logsumexp(a) - np.log(3))
    assert_close(nn.logmeanexp(a, where=w), np.logaddexp(1., 2.) - np.log(2))
    if HAVE_JAX:
        np.testing.assert_allclose(np.asarray(nn.logsumexp(a, where=w)),
                                   jax.nn.logsumexp(a, where=w), rtol=1e-6)


def test_logsumexp_int_input_promotes():
    out = nn.logsumexp(np.array([1, 2], np.int32))
    assert out.dtype == np.float32
    assert_close(out, np.logaddexp(1., 2.))


# ---------------------------------------------------------------------------------------------
# glu, standardize, one_hot


@pytest.mark.parametrize("shape,axis", [((4,), -1), ((3, 6), 1), ((4, 3), 0), ((2, 4, 2), 1)])
def test_glu(shape, axis):
    x = _inputs(shape, np.float32)
    a, b = np.split(x.astype(np.float64), 2, axis=axis)
    assert_close(nn.glu(x, axis=axis), a * sp.expit(b))


def test_glu_odd_size_error():
    with pytest.raises(ValueError, match="glu.*even.*3"):
        nn.glu(np.ones((2, 3), np.float32))


@pytest.mark.parametrize("axis", [-1, 0, (0, 1), None])
def test_standardize(axis):
    x = _inputs((4, 5), np.float32) + 3
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axis, keepdims=True)
    var = x64.var(axis=axis, keepdims=True)
    expected = (x64 - mean) / np.sqrt(var + 1e-5)
    assert_close(nn.standardize(x, axis=axis), expected, rtol=1e-4, atol=1e-4)
    assert_close(nn.standardize(x, axis=axis, algorithm="stable"), expected, rtol=1e-5,
                 atol=1e-5)


def test_standardize_given_stats_and_where():
    x = np.array([1., 2., 3., 100.], np.float32)
    assert_close(nn.standardize(x, mean=1.0, variance=4.0, epsilon=0.), (x - 1) / 2)
    w = np.array([True, True, True, False])
    expected = (x - 2) / np.sqrt(2 / 3 + 1e-5)
    assert_close(nn.standardize(x, where=w), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown algorithm"):
        nn.standardize(x, algorithm="exact")


def test_one_hot():
    x = np.array([0, 2, -1, 3, 1], np.int32)
    out = nn.one_hot(x, 3)
    assert out.dtype == np.float32 and out.shape == (5, 3)
    np.testing.assert_array_equal(np.asarray(out), np.array(
        [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 1, 0]], np.float32))
    out0 = nn.one_hot(np.array([[0, 1], [2, 0]]), 3, axis=0)
    assert out0.shape == (3, 2, 2)
    np.testing.assert_array_equal(np.asarray(out0), np.moveaxis(np.eye(3)[[[0, 1], [2, 0]]],
                                                                -1, 0))
    mid = nn.one_hot(np.array([[0, 1], [2, 0]]), 3, axis=1)
    assert mid.shape == (2, 3, 2)
    i8 = nn.one_hot(np.array([1]), 2, dtype=np.int8)
    assert i8.dtype == np.int8 and np.asarray(i8).tolist() == [[0, 1]]
    assert nn.one_hot(np.int32(2), 4).shape == (4,)
    assert nn.one_hot(np.zeros((0,), np.int32), 4).shape == (0, 4)
    if HAVE_JAX:
        np.testing.assert_array_equal(np.asarray(nn.one_hot(x, 3, axis=0)),
                                      jax.nn.one_hot(x, 3, axis=0))


def test_one_hot_errors():
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        nn.one_hot(np.array([0, 1]), 3, axis=2)
    with pytest.raises(plax.ConcretizationTypeError):
        plax.make_jaxpr(lambda n: nn.one_hot(np.array([0]), n))(np.int32(3))


def test_axis_errors():
    with pytest.raises(ValueError, match="softmax: axis 2"):
        nn.softmax(np.ones((2, 2), np.float32), axis=2)
    with pytest.raises(ValueError, match="logsumexp: axis -3"):
        nn.logsumexp(np.ones((2, 2), np.float32), axis=-3)


# ---------------------------------------------------------------------------------------------
# Tracing


@pytest.mark.parametrize("fn", [
    nn.relu, nn.gelu, nn.softplus, nn.log_sigmoid, nn.selu,
    lambda x: nn.softmax(x, axis=0), lambda x: nn.log_softmax(x, where=x > 0),
    lambda x: nn.logsumexp(x, axis=1, keepdims=True), lambda x: nn.standardize(x),
    lambda x: nn.glu(x, axis=1), lambda x: nn.one_hot(x.astype(np.int32), 5),
])
def test_make_jaxpr(fn):
    from plax._src.core import jaxpr_as_fun
    x = _inputs((3, 4), np.float32)
    closed = plax.make_jaxpr(fn)(x)
    closed.check()
    (out,) = jaxpr_as_fun(closed)(x)
    assert_close(out, fn(x))


# ---------------------------------------------------------------------------------------------
# Initializers


@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_uniform", 1.0, "fan_avg"), ("lecun_uniform", 1.0, "fan_in"),
    ("he_uniform", 2.0, "fan_in"), ("glorot_normal", 1.0, "fan_avg"),
    ("lecun_normal", 1.0, "fan_in"), ("he_normal", 2.0, "fan_in")])
def test_variance_scaling_initializers(name, scale, mode):
    init = getattr(nn.initializers, name)()
    w = np.asarray(init(pr.PRNGKey(0), (200, 300)))
    assert w.shape == (200, 300) and w.dtype == np.float32
    fan = {"fan_in": 200, "fan_avg": 250}[mode]
    np.testing.assert_allclose(w.var(), scale / fan, rtol=0.05)
    if name.endswith("uniform"):
        assert np.abs(w).max() <= np.sqrt(3 * scale / fan)
    else:  # truncated at two standard deviations of the untruncated normal
        assert np.abs(w).max() < 2 * np.sqrt(scale / fan) / .87962566103423978
    if HAVE_JAX:
        jw = getattr(jax.nn.initializers, name)()(jax.random.PRNGKey(0), (200, 300))
        np.testing.assert_allclose(w, jw, rtol=1e-4, atol=1e-7)


def test_simple_initializers():
    k = pr.PRNGKey(1)
    init = nn.initializers
    assert np.asarray(init.zeros(k, (2, 3))).tolist() == [[0.] * 3] * 2
    assert init.ones(k, (2,), np.int32).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(init.constant(7.)(k, (2,))), [7., 7.])
    u = np.asarray(init.uniform(0.5)(k, (1000,)))
    assert (u >= 0).all() and (u < 0.5).all()
    n = np.asarray(init.normal(2.0)(k, (4000,)))
    assert abs(n.std() - 2.0) < 0.1
    t = np.asarray(init.truncated_normal(1.0, lower=-1., upper=1.)(k, (1000,)))
    assert (np.abs(t) < 1).all()
    if HAVE_JAX:
        jk = jax.random.PRNGKey(1)
        np.testing.assert_array_equal(u, jax.nn.initializers.uniform(0.5)(jk, (1000,)))


def test_initializer_fans_for_convolutions_and_errors():
    init = nn.initializers.he_normal(in_axis=-2, out_axis=-1)
    w = np.asarray(init(pr.PRNGKey(3), (3, 3, 16, 32)))  # receptive field 9: fan_in = 144
    np.testing.assert_allclose(w.var(), 2 / 144, rtol=0.1)
    with pytest.raises(ValueError, match="at least 2-D"):
        nn.initializers.glorot_uniform()(pr.PRNGKey(0), (5,))
    with pytest.raises(ValueError, match="invalid mode"):
        nn.initializers.variance_scaling(1.0, "fan_max", "normal")
    with pytest.raises(ValueError, match="invalid distribution"):
        nn.initializers.variance_scaling(1.0, "fan_in", "cauchy")


def test_complex_initializers():
    w = np.asarray(nn.initializers.glorot_uniform(dtype=np.complex64)(pr.PRNGKey(0), (50, 50)))
    assert w.dtype == np.complex64
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), 1 / 50, rtol=0.1)
    w = np.asarray(nn.initializers.he_normal(dtype=np.complex64)(pr.PRNGKey(0), (50, 50)))
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), 2 / 50, rtol=0.1)
