"""plax.dlpack (as jax.dlpack): from_dlpack of NumPy, JAX and plax arrays onto every
backend, dtypes, placement, the round trip through NumPy, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from plax import dlpack

from conftest import installed_backends, requires_jax

DTYPES = ["bool", "int8", "uint16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64", "complex128"]
# NumPy exports no bfloat16 through DLPack (BufferError), so it only crosses from libraries
# that do (PyTorch, CuPy); is_supported_dtype still says yes, as JAX's
FROM_NUMPY = [d for d in DTYPES if d != "bfloat16"]


def _np(name):
    return np.dtype(plax.numpy.dtype(name)) if name == "bfloat16" else np.dtype(name)


@pytest.mark.parametrize("name", FROM_NUMPY)
def test_from_numpy_on_every_backend(name):
    dt = _np(name)
    x = (np.arange(12).reshape(3, 4) % 5 - 2).astype(dt)
    with plax.enable_x64(True):
        for b in installed_backends():
            a = dlpack.from_dlpack(x, device=plax.devices(b)[0])
            assert a.backend == b and a.dtype == dt and a.shape == x.shape
            np.testing.assert_array_equal(np.asarray(a), x)
            # and back out: NumPy reads the plax array through its __dlpack__
            np.testing.assert_array_equal(np.from_dlpack(a), x)


def test_copies_and_placement():
    x = np.arange(4.0, dtype=np.float32)
    a = dlpack.from_dlpack(x)
    x[0] = 99.0  # the Array owns a copy: later writes to the source do not reach it
    assert float(a[0]) == 0.0
    assert a.backend == plax.default_backend()
    b = dlpack.from_dlpack(a)  # a plax array in
    np.testing.assert_array_equal(np.asarray(b), [0, 1, 2, 3])
    assert float(plax.jit(lambda v: v.sum())(b)) == 6.0
    y = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]  # a strided view
    np.testing.assert_array_equal(np.asarray(dlpack.from_dlpack(y)), y)


@requires_jax
def test_from_jax_and_is_supported_dtype_as_jax():
    import jax
    import jax.dlpack as jd
    j = jax.numpy.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(dlpack.from_dlpack(j)), np.asarray(j))
    for d in DTYPES + ["uint64", "int4", "float8_e4m3fn", "str"]:
        try:
            dt = plax.numpy.dtype(d) if d != "str" else np.dtype(np.str_)
        except (TypeError, AttributeError):
            continue
        assert dlpack.is_supported_dtype(dt) == jd.is_supported_dtype(dt), d


def test_errors():
    with pytest.raises(TypeError, match="__dlpack__.*got list"):
        dlpack.from_dlpack([1.0, 2.0])
    with pytest.raises(ValueError, match="copy=False"):
        dlpack.from_dlpack(np.ones(2), copy=False)

    class Weird:
        def __dlpack__(self, **kw):
            raise AssertionError("not reached")

        def __dlpack_device__(self):
            return (4, 0)
    with pytest.raises(TypeError, match="device type 4 \\(OpenCL\\)"):
        dlpack.from_dlpack(Weird())
