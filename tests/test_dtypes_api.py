"""plax.dtypes against jax.dtypes: the same public names, finfo/iinfo, issubdtype, result_type
(weak types included), canonicalize_dtype, float0, itemsize_bits, scalar_type_of."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.dtypes as pd
import plax.numpy as pnp

DTYPES = [np.bool_, np.int8, np.uint16, np.int32, np.int64, np.float16, pd.bfloat16, np.float32,
          np.float64, np.complex64, np.complex128]


@requires_jax
def test_same_public_names():
    import jax.dtypes as jd
    public = {n for n in dir(jd) if not n.startswith("_")}
    assert public <= set(dir(pd))


@requires_jax
@pytest.mark.parametrize("dt", [np.float16, pd.bfloat16, np.float32, np.float64, np.complex64,
                                ml_dtypes.float8_e4m3fn])
def test_finfo(dt):
    import jax.dtypes as jd
    a, b = pd.finfo(dt), jd.finfo(dt)
    assert (a.eps, a.max, a.tiny, a.bits, a.nmant, a.dtype) == (b.eps, b.max, b.tiny, b.bits,
                                                                 b.nmant, b.dtype)


@requires_jax
@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int32, np.uint64, ml_dtypes.int4])
def test_iinfo(dt):
    import jax.dtypes as jd
    assert (pd.iinfo(dt).min, pd.iinfo(dt).max) == (jd.iinfo(dt).min, jd.iinfo(dt).max)


@requires_jax
@pytest.mark.parametrize("a", DTYPES)
def test_issubdtype_result_type_canonicalize(a):
    import jax.dtypes as jd
    import jax.numpy as jnp
    for kind in (np.floating, np.integer, np.inexact, np.signedinteger, np.number,
                 np.complexfloating, np.generic):
        assert pd.issubdtype(a, kind) == jd.issubdtype(a, kind), kind
    for b in DTYPES + [int, float, complex]:
        assert pd.result_type(a, b) == jd.result_type(a, b), b
    for v in (1, 2.0, 1j):
        x = np.zeros(2, a)
        assert pd.result_type(x, v, return_weak_type_flag=True) == \
            jd.result_type(jnp.asarray(x), v, return_weak_type_flag=True)
    assert pd.canonicalize_dtype(a) == jd.canonicalize_dtype(a)
    assert pd.itemsize_bits(a) == jd.itemsize_bits(a)
    assert pd.scalar_type_of(np.zeros((), a)) is jd.scalar_type_of(np.zeros((), a))


def test_canonicalize_under_x64_and_float0():
    with plax.enable_x64():
        assert pd.canonicalize_dtype(np.float64) == np.float64
    assert pd.canonicalize_dtype(np.float64) == np.float32
    assert pd.float0.itemsize == 0 and pd.issubdtype(pd.float0, pd.float0)
    assert not pd.issubdtype(np.float32, pd.extended)
    assert pd.result_type(pnp.ones(2, pnp.bfloat16), 1.0) == pd.bfloat16
    with pytest.raises(TypeError):
        pd.scalar_type_of(np.zeros((), "S3"))
