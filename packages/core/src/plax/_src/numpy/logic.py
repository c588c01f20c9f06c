"""Elementwise selection and tolerance tests of plax.numpy: where, select, clip, nan_to_num,
isclose, allclose, array_equal, array_equiv. Built on the ufuncs, with NumPy broadcasting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plax import lax
from plax._src import dtypes
from plax._src.numpy import ufuncs
from plax._src.numpy.util import (
    broadcast_shapes, broadcast_to, check_arraylike, convert, ensure_array, promote_dtypes,
    promote_dtypes_inexact)

__all__ = ["where", "select", "clip", "nan_to_num", "isclose", "allclose", "array_equal",
           "array_equiv"]


def _as_bool(x):
    x = ensure_array(x)
    return x if x.dtype == dtypes.bool_ else ufuncs.not_equal(x, convert(0, x.dtype))


def where(condition: Any, x: Any = None, y: Any = None, /, *, size: int | None = None,
          fill_value: Any = None) -> Any:
    """Elements of x where condition holds, else of y (all three broadcast together). With
    only a condition it is nonzero(condition, size=..., fill_value=...)."""
    if x is None and y is None:
        from plax._src.numpy.sorting import nonzero
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("where: either both x and y or neither must be given")
    if size is not None or fill_value is not None:
        raise ValueError("where: size and fill_value only apply to the one-argument form")
    check_arraylike("where", condition, x, y)
    cond = _as_bool(condition)
    x, y = (ensure_array(v) for v in promote_dtypes(x, y))
    s = broadcast_shapes(cond.shape, x.shape, y.shape, fun_name="where")
    return lax.select(broadcast_to(cond, s, "where"), broadcast_to(x, s, "where"),
                      broadcast_to(y, s, "where"))


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """choicelist[i] where condlist[i] is the first true condition, else default."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, got "
                         f"{len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise ValueError("select: condlist must not be empty")
    check_arraylike("select", *condlist, *choicelist, default)
    conds = [ensure_array(c) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != dtypes.bool_:
            raise TypeError(f"select: condlist entry {i} must be boolean, got dtype "
                            f"{c.dtype.name}")
    choices = [ensure_array(c) for c in promote_dtypes(default, *choicelist)]
    s = broadcast_shapes(*(c.shape for c in conds), *(c.shape for c in choices),
                         fun_name="select")
    out = broadcast_to(choices[0], s, "select")
    # the first true condition wins: apply them from last to first
    for c, v in zip(reversed(conds), reversed(choices[1:])):
        out = lax.select(broadcast_to(c, s, "select"), broadcast_to(v, s, "select"), out)
    return out


def clip(arr: Any = None, /, min: Any = None, max: Any = None, *,  # noqa: A002
         a: Any = None, a_min: Any = None, a_max: Any = None) -> Any:
    """Limit values to [min, max] (either may be None); NaN bounds propagate, as maximum and
    minimum do. The NumPy spellings a, a_min and a_max are accepted too."""
    if arr is None:
        arr = a
    elif a is not None:
        raise TypeError("clip: give the array either positionally or as a=, not both")
    min = a_min if min is None else min  # noqa: A001
    max = a_max if max is None else max  # noqa: A001
    check_arraylike("clip", arr)
    out = ensure_array(arr)
    if min is not None:
        out = ufuncs.maximum(min, out)
    if max is not None:
        out = ufuncs.minimum(max, out)
    return out


def nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    """NaN -> `nan`, +inf -> `posinf` (default the largest finite value), -inf -> `neginf`."""
    check_arraylike("nan_to_num", x)
    x = ensure_array(x)
    dt = x.dtype
    if not dtypes.is_inexact(dt):
        return x
    if dtypes.is_complex(dt):
        return lax.complex(nan_to_num(lax.real(x), nan=nan, posinf=posinf, neginf=neginf),
                           nan_to_num(lax.imag(x), nan=nan, posinf=posinf, neginf=neginf))
    info = dtypes.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(ufuncs.isnan(x), convert(nan, dt), x)
    out = where(ufuncs.isposinf(out), convert(posinf, dt), out)
    return where(ufuncs.isneginf(out), convert(neginf, dt), out)


def isclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False
            ) -> Any:
    """|a - b| <= atol + rtol * |b| elementwise; infinities are close only to themselves and
    NaNs only when equal_nan. Integers compare exactly."""
    check_arraylike("isclose", a, b)
    a, b = promote_dtypes(a, b)
    dt = ensure_array(a).dtype
    if not dtypes.is_inexact(dt):
        return ufuncs.equal(a, b)
    a, b = promote_dtypes_inexact(a, b)
    real_dt = {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)
    rtol_, atol_ = (convert(t, real_dt, True) for t in (rtol, atol))
    diff = ufuncs.abs(ufuncs.subtract(a, b))
    out = ufuncs.less_equal(diff, ufuncs.add(atol_, ufuncs.multiply(rtol_, ufuncs.abs(b))))
    inf_a, inf_b = ufuncs.isinf(a), ufuncs.isinf(b)
    out = where(ufuncs.logical_or(inf_a, inf_b), ufuncs.equal(a, b), out)
    if equal_nan:
        out = ufuncs.logical_or(out, ufuncs.logical_and(ufuncs.isnan(a), ufuncs.isnan(b)))
    return out


def allclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False
             ) -> Any:
    from plax._src.numpy.reductions import all as _all
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    """True if the shapes match and every element is equal (NaNs too, if equal_nan)."""
    from plax._src.numpy.reductions import all as _all
    check_arraylike("array_equal", a1, a2)
    a1, a2 = ensure_array(a1), ensure_array(a2)
    if a1.shape != a2.shape:
        return ensure_array(np.bool_(False))
    eq = ufuncs.equal(a1, a2)
    if equal_nan:
        eq = ufuncs.logical_or(eq, ufuncs.logical_and(ufuncs.isnan(a1), ufuncs.isnan(a2)))
    return _all(eq)


def array_equiv(a1: Any, a2: Any) -> Any:
    """True if the arrays broadcast together and are equal everywhere."""
    from plax._src.numpy.reductions import all as _all
    check_arraylike("array_equiv", a1, a2)
    a1, a2 = ensure_array(a1), ensure_array(a2)
    try:
        broadcast_shapes(a1.shape, a2.shape)
    except ValueError:
        return ensure_array(np.bool_(False))
    return _all(ufuncs.equal(a1, a2))
