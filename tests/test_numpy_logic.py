"""plax.numpy's where/select/clip/nan_to_num and tolerance tests (isclose, allclose,
array_equal, array_equiv) against NumPy, dtypes against JAX, and plax.numpy functions under the
transforms (jit, grad, vmap) when plax-transforms is installed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import same

import plax
import plax.numpy as pnp


def test_where(backend):
    c = np.array([[True, False, True]])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    same(pnp.where(c, x, -1), np.where(c, x, -1))
    same(pnp.where(c, 1, x), np.where(c, 1, x))
    same(pnp.where(x > 2, x, np.int8(0)), np.where(x > 2, x, 0))
    same(pnp.where(np.arange(3), 1.5, 2), np.where(np.arange(3), 1.5, 2))  # nonzero = true
    same(pnp.where(True, np.zeros((0, 3)), 1), np.zeros((0, 3)))
    assert pnp.where(c, np.ones(3, np.float16), 2.0).dtype == np.float16
    assert pnp.where(True, 1, 2).weak_type


def test_select(backend):
    x = np.arange(10)
    conds = [x < 3, x > 5]
    same(pnp.select(conds, [x, x ** 2]), np.select(conds, [x, x ** 2]))
    same(pnp.select(conds, [x, x ** 2], default=-1.5), np.select(conds, [x, x ** 2], -1.5))
    same(pnp.select([x < 5, x < 8], [0, 1], 2), np.select([x < 5, x < 8], [0, 1], 2))


def test_clip(backend):
    x = np.array([-3.0, 0.5, 2.0, np.nan, 9.0], np.float32)
    same(pnp.clip(x, -1, 2), np.clip(x, -1, 2))
    same(pnp.clip(x, None, 1), np.clip(x, None, 1))
    same(pnp.clip(x, np.array([0, 0, 3, 0, 0]), 5), np.clip(x, np.array([0, 0, 3, 0, 0]), 5))
    same(pnp.clip(np.arange(5), 1, 3), np.clip(np.arange(5), 1, 3))
    same(pnp.clip(x, a_min=0.0), np.clip(x, 0.0, None))
    same(pnp.asarray(x).clip(0, 1), np.clip(x, 0, 1))
    assert pnp.clip(np.arange(3, dtype=np.int8), 0, 1).dtype == np.int8


def test_nan_to_num(backend):
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    same(pnp.nan_to_num(x), np.nan_to_num(x))
    same(pnp.nan_to_num(x, nan=-1, posinf=9, neginf=-9), np.nan_to_num(x, nan=-1, posinf=9,
                                                                      neginf=-9))
    z = np.array([complex(np.nan, np.inf)], np.complex64)
    same(pnp.nan_to_num(z), np.nan_to_num(z))
    same(pnp.nan_to_num(np.arange(3)), np.arange(3))


# inf - inf and 0 * inf inside isclose warn in the reference backend
@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_family(backend, equal_nan):
    a = np.array([1.0, 1.0 + 1e-6, np.nan, np.inf, -np.inf, 0.0, 1e-9, np.inf], np.float32)
    b = np.array([1.0, 1.0, np.nan, np.inf, np.inf, 1e-9, 0.0, 1.0], np.float32)
    same(pnp.isclose(a, b, equal_nan=equal_nan), np.isclose(a, b, equal_nan=equal_nan))
    same(pnp.isclose(a, b, rtol=0, atol=1e-12), np.isclose(a, b, rtol=0, atol=1e-12))
    assert bool(pnp.allclose(a[:2], b[:2])) == np.allclose(a[:2], b[:2])
    assert bool(pnp.allclose(a, a, equal_nan=equal_nan)) == np.allclose(a, a,
                                                                        equal_nan=equal_nan)
    same(pnp.isclose(np.arange(3), np.array([0, 1, 3])), [True, True, False])
    c = np.array([1 + 1j, np.nan], np.complex64)
    same(pnp.isclose(c, c, equal_nan=equal_nan), np.isclose(c, c, equal_nan=equal_nan))
    assert bool(pnp.array_equal(a, a, equal_nan=equal_nan)) == np.array_equal(
        a, a, equal_nan=equal_nan)
    assert not bool(pnp.array_equal(np.ones(2), np.ones(3)))
    assert bool(pnp.array_equiv(np.ones(3), np.ones((2, 3))))
    assert not bool(pnp.array_equiv(np.ones(3), np.ones((2, 2))))


@requires_jax
def test_dtypes_match_jax():
    import jax
    import jax.numpy as jnp
    for fn, args in [("where", (np.array([True]), np.ones(1, np.int8), 2.5)),
                     ("where", (True, np.ones(2, np.uint8), np.ones(2, np.int8))),
                     ("clip", (np.ones(2, np.int8), 0, 3)),
                     ("clip", (np.ones(2, np.float16), 0.0, 3)),
                     ("isclose", (np.ones(2, np.float16), 1.0)),
                     ("nan_to_num", (np.ones(2, np.float16),))]:
        arrays = [a for a in args if isinstance(a, np.ndarray)]

        def call(mod, *arrs, args=args, fn=fn):  # Python scalars stay weakly typed
            it = iter(arrs)
            return getattr(mod, fn)(*(next(it) if isinstance(a, np.ndarray) else a
                                      for a in args))
        e = jax.eval_shape(lambda *a: call(jnp, *a), *arrays)
        assert call(pnp, *arrays).dtype == e.dtype, fn


def test_dtype_helpers():
    assert pnp.iscomplexobj(np.ones(2, np.complex64)) and pnp.iscomplexobj(1j)
    assert not pnp.iscomplexobj(pnp.ones(2)) and pnp.isrealobj([1.0])
    assert pnp.isdtype(np.float32, "real floating") and pnp.isdtype(pnp.bfloat16, "numeric")
    assert pnp.isdtype(np.int8, ("bool", np.int8)) and not pnp.isdtype(np.uint8,
                                                                       "signed integer")
    assert pnp.issubdtype(pnp.bfloat16, pnp.floating) and pnp.result_type(np.int8, 2.0) == \
        np.float32
    assert pnp.promote_types(np.int8, np.uint8) == np.int16
    assert pnp.finfo(np.float16).bits == 16 and pnp.iinfo(pnp.int32).max == 2 ** 31 - 1
    assert pnp.isscalar(1.0) and pnp.isscalar(pnp.asarray(1.0)) and not pnp.isscalar(
        pnp.ones(2))
    assert pnp.ndarray is plax.Array and pnp.newaxis is None and pnp.pi == np.pi
    with pytest.raises(ValueError, match="isdtype: unknown kind"):
        pnp.isdtype(np.int8, "whole")


def test_errors():
    with pytest.raises(ValueError, match="either both x and y or neither"):
        pnp.where(True, 1)
    with pytest.raises(ValueError, match="where: incompatible shapes"):
        pnp.where(np.ones(3, bool), np.ones(2), 0)
    with pytest.raises(ValueError, match="select: condlist and choicelist must have the same"):
        pnp.select([np.ones(2, bool)], [1, 2])
    with pytest.raises(TypeError, match="select: condlist entry 0 must be boolean"):
        pnp.select([np.ones(2)], [1])
    with pytest.raises(TypeError, match="clip requires ndarray"):
        pnp.clip([1, 2], 0, 1)


# ---------------------------------------------------------------------------------------------
# Under the transforms (plax-transforms provides jit, grad and vmap)

def _transforms():
    try:
        return plax.jit, plax.grad, plax.vmap
    except AttributeError:
        pytest.skip("plax-transforms is not installed")


def test_jit_grad_vmap_of_numpy_code():
    jit, grad, vmap = _transforms()
    x = np.array([[0.3, 0.7, 1.3], [1.9, 2.4, 2.9]], np.float32)  # away from b == 2

    def f(a):
        b = pnp.asarray(a).at[0, ::-1].multiply(2.0)
        return pnp.sum(pnp.sin(b) * pnp.where(b > 2, b, 0.0)) + pnp.einsum("ij,ij", a, a) \
            + pnp.max(pnp.sort(a, axis=1)[:, -1])
    assert_close(jit(f)(x), f(x))
    eps = 1e-3
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        num[i] = (float(f(x + d)) - float(f(x - d))) / (2 * eps)
    assert_close(grad(f)(x), num, rtol=2e-2, atol=2e-2)
    rows = vmap(lambda r, i: pnp.take(r, i) + pnp.cumsum(r)[i])(x, np.array([2, 0]))
    same(rows, [x[0, 2] + np.cumsum(x[0])[2], x[1, 0] + np.cumsum(x[1])[0]])
    assert_close(vmap(pnp.matmul)(np.ones((4, 2, 3)), np.ones((4, 3, 5))), np.full((4, 2, 5), 3))
