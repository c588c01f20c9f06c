"""plax.numpy's Python array API inspection surface against jax.numpy's: the namespace info
(devices, capabilities, default dtypes, the dtypes that exist with x64 off and on),
`__array_namespace__`, `to_device`, `from_dlpack` and `__dlpack__`. The whole data-apis
array-api-tests suite runs with `nox -s array_api` (README "Array API")."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_jax

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
