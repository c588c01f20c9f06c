"""plax.stages (as jax.stages): the types of jit's ahead-of-time stages. `Wrapped` is what
`plax.jit(f)` returns, `Lowered` what its `.lower(*args)` returns, `Compiled` what
`.lower(...).compile()` returns; `Traced` is the type of `.trace(*args)` (its `.jaxpr` the
ClosedJaxpr); `ArgInfo` the leaves of their `.args_info`. Wrapped, Traced, Lowered and Compiled
come from plax-transforms (loaded on first use)."""

from __future__ import annotations

from plax._src import lazy as _lazy

import dataclasses
from typing import Any, Union

# the compiler options a Compiled takes, as JAX's alias: option name -> value
CompilerOptions = dict[str, Union[str, bool]]


@dataclasses.dataclass(frozen=True)
class ArgInfo:
    """One argument leaf of a Lowered/Compiled (`.args_info`): its aval and whether it is
    donated, as jax.stages.ArgInfo."""
    _aval: Any
    donated: bool

    @property
    def shape(self):
        return self._aval.shape

    @property
    def dtype(self):
        return self._aval.dtype

_FROM_TRANSFORMS = ("Wrapped", "Traced", "Lowered", "Compiled")


__getattr__, __dir__ = _lazy.plugin_names(__name__, _FROM_TRANSFORMS, globals(),
                                           key=lambda name: f"stages.{name}")
