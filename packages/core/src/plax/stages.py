"""plax.stages (as jax.stages): the types of jit's ahead-of-time stages. `Wrapped` is what
`plax.jit(f)` returns, `Lowered` what its `.lower(*args)` returns, `Compiled` what
`.lower(...).compile()` returns; `Traced` is the type of `.trace(*args)` (in plax the closed
jaxpr itself). The first three come from plax-transforms (loaded on first use)."""

from __future__ import annotations

from plax._src.core import ClosedJaxpr as Traced  # noqa: F401

_FROM_TRANSFORMS = ("Wrapped", "Lowered", "Compiled")


def __getattr__(name: str):
    if name in _FROM_TRANSFORMS:
        from plax._src import registry
        obj = registry.get_api(f"stages.{name}")
        if obj is None:
            raise AttributeError(f"plax.stages.{name} is provided by the plax-transforms "
                                 "distribution: pip install plax-transforms")
        globals()[name] = obj
        return obj
    raise AttributeError(f"module 'plax.stages' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_FROM_TRANSFORMS))
