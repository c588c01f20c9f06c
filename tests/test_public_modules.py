"""JAX's small public modules as plax has them: plax.typing, plax.custom_derivatives,
plax.custom_batching, plax.stages, plax.version, plax.monitoring and the plax.experimental
aliases, checked against JAX where they compute and by use where they annotate."""

from __future__ import annotations

import numpy as np
from conftest import requires_jax

import plax
from plax import numpy as pnp


def test_typing_arraylike_and_dtypelike():
    from plax.typing import ArrayLike, DeviceLike, DTypeLike, Shape
    for x in (np.ones(2), pnp.ones(2), np.float32(1), 1, 2.5, 1j, True):
        assert isinstance(x, ArrayLike), x
    for x in ([1, 2], (1,), "abc", None):  # JAX's ArrayLike takes no sequences nor strings
        assert not isinstance(x, ArrayLike), x
    seen = []
    plax.jit(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(1.0)
    plax.vmap(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(np.ones(2))
    plax.grad(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(1.0)
    assert seen == [True, True, True]
    for d in ("float32", np.float32, np.dtype("int8"), pnp.bfloat16, pnp.ones(1), float):
        assert isinstance(d, DTypeLike), d
    for d in (None, 3, [np.float32]):
        assert not isinstance(d, DTypeLike), d
    assert isinstance(plax.devices()[0], DeviceLike) and isinstance("cpu", DeviceLike)

    def f(x: ArrayLike, dtype: DTypeLike = "float32", shape: Shape = (2,)) -> plax.Array:
        return pnp.broadcast_to(pnp.asarray(x, dtype=dtype), shape)
    assert f(3).dtype == np.float32 and f(3).shape == (2,)


@requires_jax
def test_typing_names_match_jax():
    import jax.typing
    import plax.typing
    assert {n for n in dir(jax.typing) if not n.startswith("_")} <= set(dir(plax.typing))
