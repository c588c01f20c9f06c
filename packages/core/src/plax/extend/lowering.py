"""Writing a backend rule for a new primitive.

Any backend: `lower_fun(fun)` makes a rule out of a plax function of the operands (params as
keyword arguments), like JAX's `mlir.lower_fun`; register it as an impl or a lowering
(`registry.add_lowering("xla", p, lower_fun(f))`) and the backend runs or lowers the jaxpr of
`fun` in place of the primitive.

The xla backend: a lowering rule is `rule(ctx, *operands, **params)` returning one value (a
list for a multiple-results primitive), each of the shape and dtype of `ctx.avals_out`. The
operands and results are `XlaValue`s (SSA values of the StableHLO module being written), `ctx`
is an `XlaRuleContext` and `ctx.b` an `XlaBuilder`. Operations are written in MLIR's generic
syntax, which is stable across StableHLO releases::

    def softclip_lowering(ctx, x, *, limit):
        b = ctx.b
        scaled = b.op1("stablehlo.divide", [x, b.const(np.full(x.shape, limit, x.dtype))])
        t = b.op1("stablehlo.tanh", [scaled])
        return b.op1("stablehlo.multiply", [t, b.const(np.full(x.shape, limit, x.dtype))])

The protocols below document what the xla backend passes (its own classes implement them).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from plax._src.composition import Composition, lower_fun


class XlaValue(Protocol):
    """An SSA value of the module being written."""

    name: str                   #: its SSA name ("%3")
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def type(self) -> str:
        """Its MLIR type, e.g. "tensor<2x3xf32>"."""

    @property
    def ndim(self) -> int: ...


class XlaBuilder(Protocol):
    """Appends operations to the function (or region) being written."""

    def op(self, name: str, operands: Sequence[XlaValue], results: Sequence[tuple], *,
           attrs: str | None = None, regions: Sequence[str] = ()) -> list[XlaValue]:
        """Emit operation `name` (e.g. "stablehlo.add") on `operands`; `results` are (shape,
        dtype) pairs; `attrs` is the text between the braces of the generic syntax
        ("comparison_direction = #stablehlo<comparison_direction LT>"); `regions` come from
        `region`. Returns one value per result."""

    def op1(self, name: str, operands: Sequence[XlaValue], shape=None, dtype=None, *,
            attrs: str | None = None, regions: Sequence[str] = ()) -> XlaValue:
        """A one-result `op`; the result's shape and dtype default to the first operand's."""

    def const(self, value: Any, dtype: np.dtype | None = None) -> XlaValue:
        """A stablehlo.constant holding `value` (a NumPy array or scalar) exactly."""

    def region(self, arg_types: Sequence[tuple], body: Callable[..., Sequence[XlaValue]],
               terminator: str = "stablehlo.return") -> str:
        """A one-block region for `regions=`: body(builder, *block_args) returns the values it
        yields; `arg_types` are (shape, dtype) pairs."""


class XlaRuleContext(Protocol):
    """What a lowering rule sees besides its operands."""

    b: XlaBuilder               #: where to write operations
    prim: Any                   #: the primitive being lowered
    avals_in: Sequence[Any]     #: ShapedArrays of the operands
    avals_out: Sequence[Any]    #: ShapedArrays the results must have

    @property
    def aval_out(self) -> Any:
        """avals_out[0]."""


__all__ = ["Composition", "XlaBuilder", "XlaRuleContext", "XlaValue", "lower_fun"]
