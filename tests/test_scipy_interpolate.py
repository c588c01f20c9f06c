"""plax.scipy.interpolate.RegularGridInterpolator against JAX's on every installed backend:
linear and nearest, 1-3 dimensional grids, trailing value axes, points outside the grid
(fill_value, NaN, None to extrapolate), xi as an array or a tuple; the interpolator as a pytree
through jit, grad (against finite differences) and vmap; the errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
from plax.scipy.interpolate import RegularGridInterpolator
from plax.test_util import check_grads

R = np.random.default_rng(0)
G1 = np.float32([0.0, 0.5, 2.0, 3.0])
G2 = np.float32([-1.0, 0.0, 1.5])
G3 = np.float32([1.0, 2.0])
V3 = R.standard_normal((4, 3, 2)).astype(np.float32)
V2x = R.standard_normal((4, 3, 2)).astype(np.float32)  # 2-D grid, vector values
XI3 = np.stack([R.uniform(-0.5, 3.5, 7), R.uniform(-1.2, 1.7, 7), R.uniform(0.9, 2.1, 7)],
               -1).astype(np.float32)
XI2 = XI3[:, :2].reshape(7, 1, 2)


def cases(cls):
    out = {}
    for method in ("linear", "nearest"):
        out[f"3d_{method}"] = cls((G1, G2, G3), V3, method=method)(XI3)
        out[f"3d_{method}_fill"] = cls((G1, G2, G3), V3, method=method, fill_value=-7.0)(XI3)
        out[f"2d_vector_{method}_none"] = cls((G1, G2), V2x, method=method,
                                              fill_value=None)(XI2)
    out["1d_tuple"] = cls((G1,), V3[:, 0, 0])((XI3[:, 0],))
    out["2d_tuple_override"] = cls((G1, G2), V3[..., 0])((XI3[:, 0], XI3[:, 1]),
                                                        method="nearest")
    out["1d_flat_xi"] = cls((G1,), V3[:, 0, 0], fill_value=0)(XI3[:, 0])
    return out


@pytest.fixture(scope="module")
def jax_cases():
    import jax
    from jax.scipy.interpolate import RegularGridInterpolator as J
    return jax.tree.map(np.asarray, jax.jit(lambda: cases(J))())


@requires_jax
def test_against_jax(backend, jax_cases):
    got = plax.jit(lambda: cases(RegularGridInterpolator))()
    eager = cases(RegularGridInterpolator) if backend == "reference" else got
    for key, want in jax_cases.items():
        for g in (got[key], eager[key]):
            assert g.dtype == want.dtype and g.shape == want.shape, key
            assert_close(g, want, rtol=1e-6, atol=1e-6, err_msg=key)
    assert np.isnan(np.asarray(got["3d_linear"])).any()  # some points lie outside


def test_pytree_jit_grad_vmap():
    interp = RegularGridInterpolator((G1, G2), V3[..., 0])
    leaves, tree = plax.tree_util.tree_flatten(interp)
    assert len(leaves) == 4
    back = plax.tree_util.tree_unflatten(tree, leaves)
    assert back.method == "linear" and back.bounds_error is False
    inside = np.float32([[0.2, -0.4], [2.5, 1.0], [1.0, 0.3]])
    out = plax.jit(lambda it, x: it(x))(interp, inside)
    assert_close(out, interp(inside), rtol=1e-6)
    # gradients with respect to the values (linear in them) and the query points
    check_grads(lambda v: RegularGridInterpolator((G1, G2), v)(inside), (V3[..., 0],),
                order=1, modes=("rev",), eps=1e-2, atol=1e-2, rtol=1e-2)
    check_grads(lambda x: interp(x), (inside,), order=1, modes=("fwd", "rev"), eps=1e-3,
                atol=2e-2, rtol=2e-2)
    batched = plax.vmap(lambda v: RegularGridInterpolator((G1, G2), v)(inside), 2)(V3)
    assert_close(batched, np.stack([interp.__class__((G1, G2), V3[..., k])(inside)
                                    for k in range(2)]), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="method 'cubic' is not defined"):
        RegularGridInterpolator((G1,), V3[:, 0, 0], method="cubic")
    with pytest.raises(NotImplementedError, match="bounds_error"):
        RegularGridInterpolator((G1,), V3[:, 0, 0], bounds_error=True)
    with pytest.raises(ValueError, match="4 point arrays, but values has 3 dimensions"):
        RegularGridInterpolator((G1, G2, G3, G3), V3)
    with pytest.raises(ValueError, match="fill_value must be either None"):
        RegularGridInterpolator((G1,), V3[:, 0, 0], fill_value=1j)
    with pytest.raises(ValueError, match="points\\[1\\] must be 1-D"):
        RegularGridInterpolator((G1, G3), V3)
    interp = RegularGridInterpolator((G1, G2), V3[..., 0])
    with pytest.raises(ValueError, match="xi have dimension 3"):
        interp(XI3)
    with pytest.raises(ValueError, match="method 'spline'"):
        interp(XI2, method="spline")
