"""`array_module(*arrays)`: the array module a rule written once computes with: NumPy, or the
NumPy-compatible module (CuPy) whose arrays it was given, found from the operands' types, so a
backend on such a module reuses the reference backend's rules (see plax.extend)."""

from __future__ import annotations

import sys

import numpy as np

_NUMPY_LIKE = ("numpy", "builtins", "ml_dtypes")


def array_module(*arrays):
    """The module of the first operand that is not a NumPy array or a Python/NumPy scalar (it
    must already be imported: its arrays exist), else numpy."""
    for a in arrays:
        t = type(a)
        if t is np.ndarray:
            continue
        top = t.__module__.partition(".")[0]
        if top in _NUMPY_LIKE:
            continue
        mod = sys.modules.get(top)
        if mod is not None and hasattr(mod, "asarray") and hasattr(a, "shape"):
            return mod
    return np
