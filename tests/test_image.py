"""plax.image.resize and scale_and_translate against jax.image: every method, up- and
down-sampling with and without antialiasing, values and dtypes, under jit and grad."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.image as pim

IMG = np.float32(np.random.RandomState(0).rand(2, 7, 9, 3))
METHODS = ["nearest", "linear", "cubic", "cubic-pytorch", "lanczos3", "lanczos5", "area"]
# every method shrinking H and growing W (antialiased), two without antialiasing (the
# PyTorch cubic's edge padding among them), scale_and_translate and integer images
CASES = {(m, aa): (lambda mod, m=m, aa=aa: mod.resize(IMG, (2, 4, 14, 3), m, antialias=aa))
         for m, aa in [*((m, True) for m in METHODS), ("cubic-pytorch", False),
                       ("lanczos3", False)]}
CASES["scale_and_translate"] = lambda mod: mod.scale_and_translate(
    IMG, (2, 10, 10, 3), (1, 2), np.float32([1.5, 0.8]), np.float32([0.3, -1.0]), "lanczos3")
CASES["int_nearest"] = lambda mod: mod.resize(np.int32([[1, 2], [3, 4]]), (4, 3), "nearest")
CASES["int_linear"] = lambda mod: mod.resize(np.int32([[1, 2], [3, 4]]), (3, 3), "linear")


@requires_jax
def test_against_jax():
    import jax
    import jax.image as jim
    expected = jax.jit(lambda: [case(jim) for case in CASES.values()])()  # one compile
    for (name, case), want in zip(CASES.items(), expected):
        got = case(pim)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert_close(got, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_jit_grad_and_errors():
    small = IMG[0, :, :, 0]
    out = plax.jit(lambda x: pim.resize(x, (14, 18), "linear"))(small)
    assert_close(out, pim.resize(small, (14, 18), "linear"), rtol=1e-6)
    with plax.enable_x64():
        x64 = np.float64(small)
        plax.test_util.check_grads(lambda x: pim.resize(x, (4, 12), "cubic"), (x64,), order=1,
                                   modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown resize method"):
        pim.resize(small, (3, 3), "bogus")
    with pytest.raises(ValueError, match="shape must have length"):
        pim.resize(small, (3, 3, 1), "linear")
    with pytest.raises(ValueError, match="Nearest neighbor"):
        pim.scale_and_translate(small, (3, 3), (0, 1), np.ones(2), np.zeros(2), "nearest")
