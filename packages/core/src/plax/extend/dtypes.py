"""dtypes for rule and lowering authors: the supported dtypes (`float32`, `bfloat16`, ...),
their tests (`is_float`, `is_inexact`, `is_int`, ...), JAX's promotion (`result_type`,
`promote_types`), canonicalization under x64 and weak types. The same module core uses."""

import types as _types

import numpy as _np

from plax._src import dtypes as _impl


def _public(name: str, value) -> bool:
    if name.startswith("_") or isinstance(value, _types.ModuleType):
        return False
    if isinstance(value, (_np.dtype, tuple, str, int, frozenset)):
        return True
    return getattr(value, "__module__", None) == _impl.__name__


__all__ = sorted(n for n, v in vars(_impl).items() if _public(n, v))
globals().update({n: getattr(_impl, n) for n in __all__})
