"""plax.numpy.pad: constant padding is lax.pad; the modes that copy existing elements (edge,
wrap, reflect, symmetric) gather along each axis with indices NumPy computes for an arange.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plax import lax
from plax._src.numpy.util import check_arraylike, convert, ensure_array, static_int

__all__ = ["pad"]

_INDEX_MODES = ("edge", "wrap", "reflect", "symmetric")


def _pairs(value: Any, ndim: int, what: str) -> np.ndarray:
    """NumPy's (before, after) per axis from an int, a pair, or one pair per axis."""
    try:
        arr = np.broadcast_to(np.asarray(value, dtype=object), (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: {what} {value!r} does not give (before, after) for each of the "
                         f"{ndim} axes") from None
    return arr


def pad(array: Any, pad_width: Any, mode: str = "constant", *, constant_values: Any = 0,
        reflect_type: str = "even") -> Any:
    """Pad `array` by pad_width (an int, a (before, after) pair, or one pair per axis)."""
    check_arraylike("pad", array)
    x = ensure_array(array)
    widths = [(static_int(b, "pad_width"), static_int(a, "pad_width"))
              for b, a in _pairs(pad_width, x.ndim, "pad_width")]
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    if mode == "constant":
        if np.ndim(constant_values) == 0:
            return lax.pad(x, convert(constant_values, x.dtype),
                           [(b, a, 0) for b, a in widths])
        # a value per axis and side: pad one side of one axis at a time
        for axis, ((b, a), (vb, va)) in enumerate(
                zip(widths, _pairs(constant_values, x.ndim, "constant_values"))):
            for cfg_side, value in (((b, 0, 0), vb), ((0, a, 0), va)):
                cfg = [(0, 0, 0)] * x.ndim
                cfg[axis] = cfg_side
                x = lax.pad(x, convert(value, x.dtype), cfg)
        return x
    if mode not in _INDEX_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use 'constant', "
                                  f"{', '.join(repr(m) for m in _INDEX_MODES)}")
    if reflect_type != "even":
        raise NotImplementedError("pad: only reflect_type='even' is supported")
    from plax._src.numpy.indexing import take
    for axis, (b, a) in enumerate(widths):
        if not b and not a:
            continue
        n = x.shape[axis]
        if n == 0:
            raise ValueError(f"pad: cannot pad an empty axis ({axis}) with mode {mode!r}")
        idx = np.pad(np.arange(n, dtype=np.int32), (b, a), mode=mode)
        x = take(x, idx, axis=axis, mode="clip")
    return x
