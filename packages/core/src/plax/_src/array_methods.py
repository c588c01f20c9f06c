"""Operators and NumPy-style methods shared by `plax.Array` and every tracer.

Each one forwards to the `plax.numpy` function of the same meaning, so arrays and tracers
behave identically under every transform.
"""

from __future__ import annotations

import numpy as np

_jnp = None


def _np():
    global _jnp
    if _jnp is None:
        import plax.numpy as jnp
        _jnp = jnp
    return _jnp


# operators whose plax.numpy function, given two operands of one type and one aval (no
# promotion to do) of a dtype other than bool, is the lax primitive itself: they bind it
# directly (5 Python frames fewer: ufunc, plax.numpy, promote_args, lax, bind)
_DIRECT = {"add": "add_p", "subtract": "sub_p", "multiply": "mul_p"}
_ctx = _Shaped = None  # plax._src.core's trace context and ShapedArray, looked up on first use


def _binop(name: str, reflected: bool = False):
    fn: list = []  # the plax.numpy function (and the direct primitive), looked up on first use
    direct = name in _DIRECT and not reflected

    def op(self, other):
        if direct and type(other) is type(self) and fn:
            a, b = self.aval, other.aval
            if type(a) is _Shaped and (a is b or type(b) is _Shaped and a.shape == b.shape and
                                       a.dtype == b.dtype and a.weak_type == b.weak_type) \
                    and a.dtype.kind != "b":
                return _ctx.trace.process_primitive(fn[1], (self, other), {})
        # _is_operand, inlined: operators are eager dispatch's hottest entry point
        if not (isinstance(other, _OPERAND_TYPES) or hasattr(other, "aval")):
            return NotImplemented
        if not fn:
            _resolve(fn, name)
        return fn[0](other, self) if reflected else fn[0](self, other)
    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


def _resolve(fn: list, name: str) -> None:
    global _ctx, _Shaped
    from plax._src import core
    from plax._src.lax import elementwise
    _ctx, _Shaped = core._ctx, core.ShapedArray
    prim = getattr(elementwise, _DIRECT[name]) if name in _DIRECT else None
    fn[:] = [getattr(_np(), name), prim]


def _is_operand(x) -> bool:
    # Arrays and tracers carry an aval; lists and tuples are refused, as in JAX
    return isinstance(x, _OPERAND_TYPES) or hasattr(x, "aval")


_OPERAND_TYPES = (int, float, complex, np.ndarray, np.generic)


def _method(name: str):
    def m(self, *args, **kwargs):
        return getattr(_np(), name)(self, *args, **kwargs)
    m.__name__ = name
    return m


def _show_index(idx) -> str:
    """`idx` as the user wrote it between brackets, for error messages."""
    def one(i):
        if isinstance(i, slice):
            parts = ["" if v is None else repr(v) for v in (i.start, i.stop, i.step)]
            return ":".join(parts[:2] if i.step is None else parts)
        if i is Ellipsis:
            return "..."
        return "idx" if hasattr(i, "shape") and getattr(i, "ndim", 0) else repr(i)
    return ", ".join(map(one, idx)) if isinstance(idx, tuple) else one(idx)


class ArrayMethods:
    __slots__ = ()

    __add__, __radd__ = _binop("add"), _binop("add", True)
    __sub__, __rsub__ = _binop("subtract"), _binop("subtract", True)
    __mul__, __rmul__ = _binop("multiply"), _binop("multiply", True)
    __truediv__, __rtruediv__ = _binop("true_divide"), _binop("true_divide", True)
    __floordiv__, __rfloordiv__ = _binop("floor_divide"), _binop("floor_divide", True)
    __mod__, __rmod__ = _binop("remainder"), _binop("remainder", True)
    __divmod__, __rdivmod__ = _binop("divmod"), _binop("divmod", True)
    __pow__, __rpow__ = _binop("power"), _binop("power", True)
    __matmul__, __rmatmul__ = _binop("matmul"), _binop("matmul", True)
    __and__, __rand__ = _binop("bitwise_and"), _binop("bitwise_and", True)
    __or__, __ror__ = _binop("bitwise_or"), _binop("bitwise_or", True)
    __xor__, __rxor__ = _binop("bitwise_xor"), _binop("bitwise_xor", True)
    __lshift__, __rlshift__ = _binop("left_shift"), _binop("left_shift", True)
    __rshift__, __rrshift__ = _binop("right_shift"), _binop("right_shift", True)
    __eq__ = _binop("equal")
    __ne__ = _binop("not_equal")
    __lt__ = _binop("less")
    __le__ = _binop("less_equal")
    __gt__ = _binop("greater")
    __ge__ = _binop("greater_equal")

    def __neg__(self):
        return _np().negative(self)

    def __pos__(self):
        return _np().positive(self)

    def __abs__(self):
        return _np().abs(self)

    def __invert__(self):
        return _np().invert(self)

    def __array_namespace__(self, /, *, api_version=None):
        from plax._src.numpy.array_api import array_namespace
        return array_namespace(api_version)

    def to_device(self, device, /, *, stream=None):
        """This array on `device` (committed there), as `plax.device_put(x, device)`."""
        if stream is not None:
            raise NotImplementedError("to_device: the stream argument is not supported")
        from plax._src.api import device_put
        return device_put(self, device)

    def __round__(self, ndigits=None):
        return _np().round(self, ndigits or 0)

    def __getitem__(self, idx):
        from plax._src.numpy import indexing
        return indexing.getitem(self, idx)

    def __setitem__(self, idx, value):
        raise TypeError(
            f"plax arrays are immutable: `x[{_show_index(idx)}] = ...` cannot assign in place "
            f"(x is {self.aval.str_short()})."
            f" Use the functional form `x = x.at[{_show_index(idx)}].set(value)` (or .add, "
            ".multiply, .min, .max, .get, as in JAX)")

    @property
    def at(self):
        from plax._src.numpy import indexing
        return indexing.IndexUpdateHelper(self)

    @property
    def T(self):
        return _np().transpose(self)

    @property
    def mT(self):
        return _np().matrix_transpose(self)

    @property
    def real(self):
        return _np().real(self)

    @property
    def imag(self):
        return _np().imag(self)

    def astype(self, dtype, copy=False):
        return _np().astype(self, dtype)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return _np().reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return _np().transpose(self, axes or None)

    def flatten(self):
        return _np().ravel(self)

    def view(self, dtype=None):
        if dtype is None:
            return self
        from plax import lax
        return lax.bitcast_convert_type(self, dtype)

    sum = _method("sum")
    mean = _method("mean")
    prod = _method("prod")
    max = _method("max")
    min = _method("min")
    var = _method("var")
    std = _method("std")
    all = _method("all")
    any = _method("any")
    argmax = _method("argmax")
    argmin = _method("argmin")
    cumsum = _method("cumsum")
    cumprod = _method("cumprod")
    ravel = _method("ravel")
    squeeze = _method("squeeze")
    swapaxes = _method("swapaxes")
    clip = _method("clip")
    dot = _method("dot")
    round = _method("round")
    conj = _method("conjugate")
    conjugate = _method("conjugate")
    sort = _method("sort")
    argsort = _method("argsort")
    take = _method("take")
    repeat = _method("repeat")
    nonzero = _method("nonzero")
    trace = _method("trace")
    diagonal = _method("diagonal")
    ptp = _method("ptp")
