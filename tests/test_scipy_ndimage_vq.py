"""plax.scipy.ndimage.map_coordinates (every mode, orders 0 and 1, float and integer images)
and plax.scipy.cluster.vq.vq against jax.scipy's, with jit, grad and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.scipy.cluster.vq as pvq
import plax.scipy.ndimage as pnd

R = np.random.RandomState(0)
IMG = np.float32(R.rand(5, 6))
INT_IMG = np.int32(R.randint(0, 100, (5, 6)))
COORDS = [np.float32(R.uniform(-2, 7, 8)), np.float32(R.uniform(-2, 8, 8))]
OBS, BOOK = np.float32(R.randn(7, 3)), np.float32(R.randn(4, 3))
MODES = ["constant", "nearest", "wrap", "mirror", "reflect"]
CASES = {(mode, order, img.dtype.name): (
    lambda m, mode=mode, order=order, img=img: m.map_coordinates(img, COORDS, order, mode,
                                                                 cval=-1.0))
    for mode in MODES for order in (0, 1) for img in (IMG, INT_IMG)}


@requires_jax
def test_against_jax():
    import jax
    import jax.scipy.cluster.vq as jvq
    import jax.scipy.ndimage as jnd
    expected = jax.jit(lambda: ({k: c(jnd) for k, c in CASES.items()},
                                jvq.vq(OBS, BOOK), jvq.vq(OBS[:, 0], BOOK[:, 0])))()
    for key, case in CASES.items():
        got, want = case(pnd), expected[0][key]
        assert got.dtype == want.dtype, key
        assert_close(got, np.asarray(want), rtol=1e-6, atol=1e-6)
    for got, want in zip((pvq.vq(OBS, BOOK), pvq.vq(OBS[:, 0], BOOK[:, 0])), expected[1:]):
        assert got[0].dtype == want[0].dtype and np.array_equal(got[0], want[0])
        assert_close(got[1], np.asarray(want[1]), rtol=1e-6)


def test_jit_grad_and_errors():
    out = plax.jit(lambda im, c0, c1: pnd.map_coordinates(im, [c0, c1], 1, "reflect"))(
        IMG, *COORDS)
    assert_close(out, pnd.map_coordinates(IMG, COORDS, 1, "reflect"), rtol=1e-6)
    # linear interpolation inside the array: d/dx at (1.25, 2.5) is the row difference
    g = plax.grad(lambda c: pnd.map_coordinates(IMG, [c, np.float32(2.5)], 1))(
        np.float32(1.25))
    assert_close(g, (IMG[2, 2] + IMG[2, 3] - IMG[1, 2] - IMG[1, 3]) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="length input.ndim"):
        pnd.map_coordinates(IMG, COORDS[:1], 1)
    with pytest.raises(NotImplementedError, match="order <= 1"):
        pnd.map_coordinates(IMG, COORDS, 3)
    with pytest.raises(NotImplementedError, match="mode"):
        pnd.map_coordinates(IMG, COORDS, 1, "grid-wrap")
    with pytest.raises(ValueError, match="same rank"):
        pvq.vq(OBS, BOOK[:, 0])
