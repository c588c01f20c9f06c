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
    for kw in ({}, {"max_version": (0, 0)}, {"max_version": (1, 0)}, {"copy": True}):
        x.__dlpack__(**kw)
    with pytest.raises(BufferError, match="read-only"):
        x.__dlpack__(max_version=(0, 0), copy=False)
    np.testing.assert_array_equal(np.from_dlpack(x), np.asarray(x))
    host = np.arange(4, dtype=np.int16)
    z = pnp.from_dlpack(host, device=dev)
    assert z.dtype == np.int16 and z.device == dev
    np.testing.assert_array_equal(np.asarray(z), host)
    assert pnp.from_dlpack(x) is x
    with pytest.raises(TypeError, match="__dlpack__"):
        pnp.from_dlpack([1, 2])
