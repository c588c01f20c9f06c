"""plax.numpy's Python array API inspection surface against jax.numpy's: the namespace info
(devices, capabilities, default dtypes, the dtypes that exist with x64 off and on),
`__array_namespace__`, `to_device`, `from_dlpack` and `__dlpack__`. The whole data-apis
array-api-tests suite runs with `nox -s array_api` (README "Array API")."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.numpy as pnp


def _names(d):
    return {k: np.dtype(v).name for k, v in d.items()}


@requires_jax
@pytest.mark.parametrize("x64", [False, True])
def test_namespace_info_matches_jax(x64):
    import jax
    import jax.numpy as jnp
    kinds = [None, "bool", "integral", "numeric", "real floating", "complex floating",
             ("signed integer", "unsigned integer")]
    with plax.config.override("enable_x64", x64), jax.enable_x64(x64):
        pinfo, jinfo = pnp.__array_namespace_info__(), jnp.__array_namespace_info__()
        for kind in kinds:
            assert _names(pinfo.dtypes(kind=kind)) == _names(jinfo.dtypes(kind=kind)), kind
        assert _names(pinfo.default_dtypes()) == _names(jinfo.default_dtypes())
    assert pinfo.capabilities() == jinfo.capabilities()
    assert pnp.__array_api_version__ == jnp.__array_api_version__
    assert pinfo.default_device() is None and None in pinfo.devices()
    with pytest.raises(ValueError, match="unknown kind 'floating'"):
        pinfo.dtypes(kind="floating")


def test_namespace_to_device_and_dlpack():
    x = pnp.arange(6.0).reshape(2, 3)
    assert x.__array_namespace__() is pnp
    assert x.__array_namespace__(api_version=pnp.__array_api_version__) is pnp
    with pytest.raises(ValueError, match="api_version='2021.12' is not available"):
        x.__array_namespace__(api_version="2021.12")
    dev = plax.devices()[0]
    y = x.to_device(dev)
    assert y.device == dev and y.committed
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    # DLPack both ways: a plax array is read-only, which DLPack < 1.0 cannot express
    for kw in ({}, {"max_version": (0, 0)}, {"max_version": (1, 0)}, {"copy": True},
               {"copy": False}, {"dl_device": (1, 0)}):
        x.__dlpack__(**kw)
    np.testing.assert_array_equal(np.from_dlpack(x), np.asarray(x))
    host = np.arange(4, dtype=np.int16)
    z = pnp.from_dlpack(host, device=dev)
    assert z.dtype == np.int16 and z.device == dev
    np.testing.assert_array_equal(np.asarray(z), host)
    assert pnp.from_dlpack(x) is x
    with pytest.raises(TypeError, match="__dlpack__"):
        pnp.from_dlpack([1, 2])


@requires_jax
def test_array_api_fixes_match_jax():
    """Cases the array API suite found: cumulative_sum promotes small integers as sum does,
    unique_counts is a named tuple, eye takes any k, take_along_axis defaults to axis=-1."""
    import jax.numpy as jnp
    for dt in ("bool", "uint8", "int16", "int32", "float32"):
        x = np.arange(4).astype(dt)
        for kw in ({}, {"include_initial": True}, {"dtype": "int16"}):
            p, j = pnp.cumulative_sum(x, **kw), jnp.cumulative_sum(x, **kw)
            assert p.dtype == j.dtype, (dt, kw)
            np.testing.assert_array_equal(np.asarray(p), np.asarray(j))
        assert pnp.cumulative_prod(x).dtype == jnp.cumulative_prod(x).dtype
    x = np.int32([3, 1, 3, 3, 2])
    p, j = pnp.unique_counts(x), jnp.unique_counts(x)
    assert p._fields == j._fields == ("values", "counts")
    np.testing.assert_array_equal(np.asarray(p.counts), np.asarray(j.counts))
    for n, m, k in [(3, 4, 3), (3, 4, 4), (3, 4, -3), (2, None, 2**40), (2, 3, -2**40)]:
        p, j = pnp.eye(n, m, k=k, dtype=np.uint16), jnp.eye(n, m, k=k, dtype=np.uint16)
        assert p.dtype == j.dtype
        np.testing.assert_array_equal(np.asarray(p), np.asarray(j))
    a = np.float32(np.arange(12).reshape(3, 4))
    idx = np.int32([[3, 0], [1, 1], [2, 0]])
    np.testing.assert_array_equal(np.asarray(pnp.take_along_axis(a, idx)),
                                  np.asarray(jnp.take_along_axis(a, idx, axis=-1)))


# --- the standard's special values (IEEE 754 / C99 Annex G), where plax.numpy departs from
# jax.numpy (README "Array API"). A part written without a sign ("0", "inf") has a sign the
# standard leaves unspecified.
_PARTS = {"nan": np.nan, "inf": np.inf, "pi/2": np.pi / 2, "pi/4": np.pi / 4,
          "3pi/4": 3 * np.pi / 4, "pi": np.pi}


def _part(text):
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    value = sign * (_PARTS[body] if body in _PARTS else float(body))
    return value, text[0] in "+-" or body not in ("0", "inf", "pi/2")


_COMPLEX_CASES = {  # function: [((real, imag) in, "real imag" expected), ...]
    "exp": [(("-inf", "inf"), "0 0"), (("inf", "inf"), "inf nan"), (("-inf", "nan"), "0 0"),
            (("inf", "nan"), "inf nan"), (("inf", "+0"), "+inf +0"), (("nan", "+0"), "nan +0"),
            (("2", "inf"), "nan nan"), (("-inf", "1"), "+0 +0")],
    "expm1": [(("-inf", "inf"), "-1 0"), (("inf", "inf"), "inf nan"), (("-inf", "nan"), "-1 0"),
              (("inf", "nan"), "inf nan"), (("inf", "+0"), "+inf +0"), (("nan", "-0"), "nan -0")],
    "log": [(("inf", "nan"), "+inf nan"), (("-inf", "nan"), "+inf nan"),
            (("nan", "inf"), "+inf nan"), (("-0", "+0"), "-inf +pi"), (("+0", "+0"), "-inf +0"),
            (("-inf", "inf"), "+inf +3pi/4"), (("2", "nan"), "nan nan")],
    "log1p": [(("inf", "nan"), "+inf nan"), (("-inf", "nan"), "+inf nan"),
              (("nan", "inf"), "+inf nan"), (("-1", "+0"), "-inf +0")],
    "sqrt": [(("inf", "nan"), "+inf nan"), (("-inf", "nan"), "nan inf"),
             (("nan", "inf"), "+inf +inf"), (("-inf", "2"), "+0 +inf"), (("+0", "+0"), "+0 +0"),
             (("2", "-inf"), "+inf -inf")],
    "sinh": [(("+0", "inf"), "0 nan"), (("+0", "nan"), "0 nan"), (("inf", "inf"), "inf nan"),
             (("inf", "nan"), "inf nan"), (("nan", "+0"), "nan +0"), (("2", "inf"), "nan nan")],
    "cosh": [(("+0", "inf"), "nan 0"), (("+0", "nan"), "nan 0"), (("inf", "inf"), "inf nan"),
             (("inf", "nan"), "+inf nan"), (("2", "nan"), "nan nan"), (("nan", "-0"), "nan 0")],
    "tanh": [(("+0", "inf"), "+0 nan"), (("+0", "nan"), "+0 nan"), (("inf", "2"), "+1 +0"),
             (("inf", "-2"), "+1 -0"), (("inf", "inf"), "+1 0"), (("inf", "nan"), "+1 0"),
             (("-inf", "2"), "-1 +0"), (("nan", "+0"), "nan +0"), (("2", "inf"), "nan nan")],
    "atanh": [(("+0", "nan"), "+0 nan"), (("2", "nan"), "nan nan"), (("inf", "nan"), "+0 nan"),
              (("nan", "2"), "nan nan"), (("nan", "nan"), "nan nan"), (("nan", "inf"), "0 +pi/2"),
              (("inf", "2"), "+0 +pi/2"), (("1", "+0"), "+inf +0")],
    "asinh": [(("nan", "+0"), "nan +0"), (("nan", "2"), "nan nan"), (("nan", "inf"), "inf nan"),
              (("inf", "inf"), "+inf +pi/4")],
    "acos": [(("+0", "nan"), "+pi/2 nan"), (("-0", "nan"), "+pi/2 nan"), (("2", "nan"), "nan nan"),
             (("1e30", "nan"), "nan nan"), (("inf", "nan"), "nan inf"),
             (("nan", "inf"), "nan -inf"), (("-inf", "inf"), "+3pi/4 -inf")],
    "acosh": [(("2", "nan"), "nan nan"), (("1e30", "nan"), "nan nan"), (("+0", "nan"), "nan pi/2"),
              (("nan", "inf"), "+inf nan"), (("-inf", "inf"), "+inf +3pi/4")],
    "sign": [(("-0", "-0"), "+0 +0"), (("+0", "-0"), "+0 +0")],
}

_N_CASES = 20  # at least the most cases of one function

_REAL_CASES = {  # function: [(x1, x2, expected), ...]
    "floor_divide": [("-0", "2", "-0"), ("-0", "-2", "+0"), ("+0", "2", "+0"), ("inf", "2", "+inf"),
                     ("inf", "-2", "-inf"), ("-inf", "2", "-inf"), ("-inf", "-2", "+inf"),
                     ("3", "-inf", "-0"), ("-3", "inf", "-0"), ("-3", "-inf", "+0"),
                     ("3", "inf", "+0"), ("inf", "inf", "nan"), ("+0", "+0", "nan"),
                     ("3", "+0", "+inf"), ("3", "-0", "-inf"), ("-7.5", "2", "-4"),
                     ("7.5", "-2", "-4"), ("nan", "2", "nan")],
    "remainder": [("-0", "2", "+0"), ("+0", "-2", "-0"), ("4", "-2", "-0"), ("-4", "2", "+0"),
                  ("3", "-inf", "-inf"), ("-3", "inf", "+inf"), ("3", "inf", "+3"),
                  ("-3", "-inf", "-3"), ("inf", "2", "nan"), ("3", "0", "nan"),
                  ("-7.5", "2", "+0.5"), ("7.5", "-2", "-0.5")],
    "sign": [("-0", None, "+0"), ("+0", None, "+0"), ("-2", None, "-1"), ("nan", None, "nan")],
}


def _check_parts(got, expected, what):
    for g, text in zip(got, expected):
        want, signed = _part(text)
        if np.isnan(want):
            assert np.isnan(g), (what, got, expected)
            continue
        assert np.isclose(abs(g), abs(want), rtol=1e-6), (what, got, expected)
        if signed:
            assert np.signbit(g) == np.signbit(want), (what, got, expected)


@pytest.mark.parametrize("mode", ["eager", "jit", "vmap"])
def test_special_values_follow_the_standard(backend, mode):
    """The standard's values at signed zeros, infinities and NaNs, on every backend, eager,
    under jit and under vmap (of scalar functions, jitted: one program per function)."""
    def run(f, *args):
        if mode == "jit":
            return plax.jit(f)(*args)
        if mode == "vmap":
            return plax.jit(plax.vmap(f))(*args)
        return f(*args)

    for name, cases in _COMPLEX_CASES.items():
        # one length for every function: the eager ops compile once for all of them
        z = np.full(_N_CASES, 0.5 + 0.5j, np.complex64)
        z[:len(cases)] = [complex(_part(a)[0], _part(b)[0]) for (a, b), _ in cases]
        out = np.asarray(run(getattr(pnp, name), z))
        assert out.dtype == np.complex64
        for (zin, want), got in zip(cases, out):
            _check_parts((got.real, got.imag), want.split(), (name, zin, mode))
    for name, cases in _REAL_CASES.items():
        args = [np.full(_N_CASES, 0.5, np.float32)
                for _ in range(1 if cases[0][1] is None else 2)]
        for i, x in enumerate(args):
            x[:len(cases)] = [_part(c[i])[0] for c in cases]
        out = np.asarray(run(getattr(pnp, name), *args))
        assert out.dtype == np.float32
        for case, got in zip(cases, out):
            _check_parts((got,), (case[2],), (name, case, mode))
    # the operators go through the same functions
    a, b = pnp.asarray(np.float32([-0.0, 3.0])), pnp.asarray(np.float32([2.0, -np.inf]))
    _check_parts(np.asarray(a // b), ("-0", "-0"), "//")
    _check_parts(np.asarray(b % a), ("nan", "nan"), "%")
    _check_parts(np.asarray(a % b), ("+0", "-inf"), "%")


_FINITE = np.array([0.3 + 0.4j, -1.2 + 0.7j, 2.0 - 0.5j, -0.6 - 1.1j], np.complex64)


_COMPLEX_FNS = ["exp", "expm1", "log", "log1p", "sqrt", "sinh", "cosh", "tanh", "arctanh",
                "arcsinh", "arccos", "arccosh"]


_FINITE_XY = (np.float32(_FINITE.real), np.float32(_FINITE.imag))


def _values_and_grads(ns, grad):
    def loss(name):
        fn = getattr(ns, name)
        return lambda x, y: ns.sum(ns.real(fn(x + 1j * y)) + 0.5 * ns.imag(fn(x - 1j * y)))
    return lambda x, y: [(getattr(ns, n)(x + 1j * y), *grad(loss(n), argnums=(0, 1))(x, y))
                         for n in _COMPLEX_FNS]


@functools.cache
def _jax_values_and_grads():
    import jax
    import jax.numpy as jnp
    return jax.jit(_values_and_grads(jnp, jax.grad))(*_FINITE_XY)


@requires_jax
def test_special_value_fixes_keep_finite_values_and_gradients(backend):
    """At finite points the functions (and their derivatives, through the selects of the
    fixes) are jax.numpy's: values and gradients of all of them in one jit (one program)."""
    got = plax.jit(_values_and_grads(pnp, plax.grad))(*_FINITE_XY)
    for name, g, w in zip(_COMPLEX_FNS, got, _jax_values_and_grads()):
        for gi, wi in zip(g, w):
            assert_close(gi, wi, rtol=2e-5, atol=2e-6, err_msg=name)


@requires_jax
def test_floor_divide_remainder_sign_gradients_match_jax(backend):
    import jax
    import jax.numpy as jnp
    x1, x2 = np.float32([-7.5, 7.5, 3.0, -2.0]), np.float32([2.0, -2.0, 0.7, 3.0])
    for name in ("floor_divide", "remainder", "sign"):
        def loss(ns, name=name):
            return lambda a, b: ns.sum(getattr(ns, name)(a, b) if name != "sign"
                                       else ns.sign(a) * b)
        assert_close(plax.jit(loss(pnp))(x1, x2), loss(jnp)(x1, x2))
        for got, want in zip(plax.jit(plax.grad(loss(pnp), argnums=(0, 1)))(x1, x2),
                             jax.grad(loss(jnp), argnums=(0, 1))(x1, x2)):
            assert_close(got, want)
