"""Symbolic zeros and the other values autodiff rules see: `Zero` (a tangent or cotangent known
to be zero, carrying only its aval) and `UndefinedPrimal` (a linear input of an equation being
transposed). Public as `plax.extend.ad`."""

from __future__ import annotations

from plax._src import dtypes
from plax._src.core import ShapedArray, abstract_token


class Zero:
    """A tangent (or cotangent) known to be zero; carries only its aval."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


class SymbolicZero:
    """A zero tangent as a custom_jvp rule defined with `symbolic_zeros=True` sees it (as
    jax.custom_derivatives.SymbolicZero): no array, only the aval (shape, dtype, ndim read
    through it). A rule may return one for a zero tangent output."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return "SymbolicZero"

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return len(self.aval.shape)

    @property
    def size(self):
        return self.aval.size

    def instantiate(self):
        """Zeros of this aval, as an array."""
        return zeros_like_aval(self.aval)

    @staticmethod
    def from_primal_value(val) -> "SymbolicZero":
        from plax._src.core import get_aval
        return SymbolicZero(tangent_aval(get_aval(val)))


def instantiate_symbolic(t):
    """`t` with a SymbolicZero made zeros (the tangent outputs of a symbolic_zeros rule)."""
    return t.instantiate() if type(t) is SymbolicZero else t


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """The aval of tangents of values of `aval` (a token's is a token, as JAX's)."""
    if aval is abstract_token:
        return aval
    return ShapedArray(aval.shape, aval.dtype, aval.weak_type)


def zeros_like_aval(aval: ShapedArray):
    """A concrete (or traced) array of zeros of `aval`'s shape and dtype (weakly typed when
    `aval` is, as JAX's: the zero tangent of a weak output is weak too); for a token, a new
    token (tokens carry no data)."""
    if aval is abstract_token:
        from plax._src.lax.staging import create_token
        return create_token()
    from plax._src.lax.structural import full
    z = full(aval.shape, 0, aval.dtype)
    if aval.weak_type:
        from plax._src.lax.elementwise import _convert_element_type
        z = _convert_element_type(z, aval.dtype, weak_type=True)
    return z


def instantiate(t):
    """`t` as an array: a Zero becomes zeros of its aval, anything else is returned as is."""
    return zeros_like_aval(t.aval) if type(t) is Zero else t


def add_tangents(a, b):
    """a + b where either may be a Zero."""
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    from plax._src.lax.elementwise import add
    return add(a, b)


def is_differentiable(dt) -> bool:
    """Whether values of dtype `dt` have tangents (inexact dtypes do)."""
    return dtypes.is_inexact(dt)


class CustomVJPPrimal:
    """A primal argument as a custom_vjp fwd rule defined with `symbolic_zeros=True` sees it
    (as jax.custom_derivatives.CustomVJPPrimal): `value` and whether it is `perturbed` (has a
    non-zero tangent: differentiation asks for its cotangent)."""

    __slots__ = ("value", "perturbed")

    def __init__(self, value, perturbed: bool):
        self.value, self.perturbed = value, bool(perturbed)

    def __repr__(self):
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def custom_vjp_primal_tree_values(tree):
    """The values of a tree of CustomVJPPrimal (a symbolic_zeros fwd rule's arguments), as
    JAX's; any other leaf is a TypeError."""
    from plax._src.tree_util import tree_map

    def value(leaf):
        if type(leaf) is not CustomVJPPrimal:
            raise TypeError(f"custom_vjp_primal_tree_values: unexpected leaf type "
                            f"{type(leaf).__name__} (expected CustomVJPPrimal)")
        return leaf.value
    return tree_map(value, tree)


class UndefinedPrimal:
    """Stands for a linear input of an equation being transposed (transpose rules get one in
    place of each argument whose cotangent they must return)."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    """Whether a transpose rule's argument is an UndefinedPrimal (a linear input)."""
    return type(x) is UndefinedPrimal
