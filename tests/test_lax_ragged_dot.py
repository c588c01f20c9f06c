"""lax.ragged_dot_general with lax.RaggedDotDimensionNumbers against jax.lax on every
backend: the three modes (ragged along a free, a contracting or a batch dimension of lhs),
group sizes given per outer dimension or as [g], the rhs group dimension anywhere, batch
dimensions out of order; jit, vmap and gradients of both operands."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
from plax import lax

R = np.random.RandomState(11)


def _f32(*shape):
    return R.randn(*shape).astype(np.float32)


# (lhs, rhs, group_sizes, (dot dims, lhs ragged dims, rhs group dims))
CASES = {
    "basic": (_f32(7, 4), _f32(3, 4, 5), np.int32([2, 3, 1]),
              ((([1], [1]), ([], [])), [0], [0])),
    "batch_noncontracting": (_f32(2, 6, 4), _f32(3, 2, 4, 5), np.int32([[2, 3, 1], [1, 1, 3]]),
                             ((([2], [2]), ([0], [1])), [1], [0])),
    "group_sizes_1d": (_f32(2, 6, 4), _f32(3, 2, 4, 5), np.int32([2, 3, 1]),
                       ((([2], [2]), ([0], [1])), [1], [0])),
    "rhs_group_dim_1": (_f32(7, 4), _f32(4, 3, 5), np.int32([2, 3, 1]),
                        ((([1], [0]), ([], [])), [0], [1])),
    "contracting": (_f32(3, 8), _f32(8, 5), np.int32([3, 4, 1]),
                    ((([1], [0]), ([], [])), [1], [])),
    "contracting_batch": (_f32(2, 3, 8), _f32(2, 8, 5), np.int32([[3, 4, 1], [2, 2, 2]]),
                          ((([2], [1]), ([0], [0])), [2], [])),
    "batch_mode": (_f32(2, 3, 8), _f32(2, 8, 5), np.int32([1, 1]),
                   ((([2], [1]), ([0], [0])), [0], [])),
    "two_batch_dims_reversed": (_f32(3, 2, 6, 4), _f32(2, 2, 3, 4, 5),
                                R.randint(0, 4, (2, 3, 2)).astype(np.int32),
                                ((([3], [3]), ([1, 0], [1, 2])), [2], [0])),
}


def _dn(mod, spec):
    return mod.RaggedDotDimensionNumbers(*spec)


@requires_jax
@pytest.mark.parametrize("name", list(CASES))
def test_against_jax(name):
    from jax import lax as jl
    lhs, rhs, gs, spec = CASES[name]
    out = lax.ragged_dot_general(lhs, rhs, gs, _dn(lax, spec))
    expected = np.asarray(jl.ragged_dot_general(lhs, rhs, gs, _dn(jl, spec)))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert_close(out, expected, rtol=1e-5, atol=1e-5)


@requires_jax
@pytest.mark.parametrize("name", ["batch_noncontracting", "rhs_group_dim_1"])
def test_jit_grad_on_backends(backend, name):
    import jax
    from jax import lax as jl
    lhs, rhs, gs, spec = CASES[name]

    def loss(mod):
        return lambda a, b: (mod.ragged_dot_general(a, b, gs, _dn(mod, spec),
                                                    preferred_element_type=np.float32)
                             ** 2).sum()
    out = plax.jit(lambda a, b: lax.ragged_dot_general(a, b, gs, _dn(lax, spec)))(lhs, rhs)
    assert_close(out, np.asarray(jl.ragged_dot_general(lhs, rhs, gs, _dn(jl, spec))),
                 rtol=1e-5, atol=1e-5)
    g = plax.jit(plax.grad(loss(lax), argnums=(0, 1)))(lhs, rhs)
    jg = jax.grad(loss(jl), argnums=(0, 1))(lhs, rhs)
    for o, e in zip(g, jg):
        assert_close(o, np.asarray(e), rtol=1e-4, atol=1e-4)


def test_contracting_mode_grads():
    """JAX 0.10.2 does not differentiate the contracting mode (its transpose rules raise
    NotImplementedError); plax's composition does: checked by finite differences."""
    from plax.test_util import check_grads
    lhs, rhs, gs, spec = CASES["contracting_batch"]
    check_grads(lambda a, b: lax.ragged_dot_general(a, b, gs, _dn(lax, spec)),
                (lhs, rhs), order=1, modes=("rev",), atol=2e-2, rtol=2e-2)


def test_vmap_against_loop():
    lhs, rhs, gs, spec = CASES["basic"]
    lhs_b = np.stack([lhs, 2 * lhs])
    gs_b = np.stack([gs, np.int32([1, 1, 4])])
    f = lambda a, g: lax.ragged_dot_general(a, rhs, g, _dn(lax, spec))  # noqa: E731
    out = plax.vmap(f)(lhs_b, gs_b)
    assert_close(out, np.stack([np.asarray(f(a, g)) for a, g in zip(lhs_b, gs_b)]))


@requires_jax
def test_ragged_dot_is_the_basic_case_and_dtypes():
    from jax import lax as jl
    lhs, rhs, gs, _ = CASES["basic"]
    l16, r16 = lhs.astype(np.float16), rhs.astype(np.float16)
    out = lax.ragged_dot(l16, r16, gs, preferred_element_type=np.float32)
    expected = np.asarray(jl.ragged_dot(l16, r16, gs, preferred_element_type=np.float32))
    assert out.dtype == expected.dtype
    assert_close(out, expected, rtol=1e-3, atol=1e-3)
    dn = lax.RaggedDotDimensionNumbers([[[1], [1]], [[], []]], [0], [0])
    assert dn.dot_dimension_numbers == (((1,), (1,)), ((), ())) and hash(dn)


def test_errors():
    lhs, rhs, gs, spec = CASES["basic"]
    with pytest.raises(TypeError, match="exactly one rhs group dimension"):
        lax.ragged_dot_general(lhs, rhs, gs, lax.RaggedDotDimensionNumbers(spec[0], [0], []))
    with pytest.raises(TypeError, match="expected rhs group dimension size to be 2"):
        lax.ragged_dot_general(lhs, rhs, gs[:2], _dn(lax, spec))
    with pytest.raises(TypeError, match="group_sizes.dtype"):
        lax.ragged_dot_general(lhs, rhs, np.float32(gs), _dn(lax, spec))
    with pytest.raises(TypeError, match="expected group_sizes to have shape"):
        lax.ragged_dot_general(lhs, rhs, np.int32([[1, 2, 3]]), _dn(lax, spec))
    with pytest.raises(TypeError, match="RaggedDotDimensionNumbers"):
        lax.ragged_dot_general(lhs, rhs, gs, spec)
    with pytest.raises(NotImplementedError, match="group_offset"):
        lax.ragged_dot_general(lhs, rhs, gs, _dn(lax, spec), group_offset=np.int32([0]))
