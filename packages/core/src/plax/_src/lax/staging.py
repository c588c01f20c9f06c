"""Staging primitives of jax.lax: `stage` (lift a value into the current trace), the
`optimization_barrier` primitive (values pass unchanged; the compiler may not move computations
across it) and `dce_sink` (marks values used, so dead-code elimination keeps what makes them).

And XLA's tokens (as jax.lax's): `create_token()` makes a token (type `Tok`, a unit value that
orders effects), `after_all(*tokens)` joins tokens into one. The reference and cupy backends run
them as units, the xla backend lowers them to `stablehlo.create_token` / `stablehlo.after_all`
(jit's token arguments and results are `!stablehlo.token`s); tokens have no tangent and are never
batched.

The staging primitives are the identity on values (dce_sink has no outputs): the reference
backend returns its operands, the xla backend lowers stage to its operand, optimization_barrier to
`stablehlo.optimization_barrier` and dce_sink to nothing; their jvp, transpose and batching rules
live in plax-transforms (rules/staging.py)."""

from __future__ import annotations

from plax._src.core import AbstractToken, PlaxTypeError, Primitive, ShapedArray, abstract_token
from plax._src.registry import add_abstract_eval, add_composition
from plax._src.tree_util import tree_flatten, tree_leaves, tree_unflatten

__all__ = ["stage", "stage_p", "optimization_barrier_p", "dce_sink", "dce_sink_p",
           "create_token", "create_token_p", "after_all", "after_all_p"]

stage_p = Primitive("stage", linear_in=(0,))
optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)
# effectful: never dropped by plax's dead-code elimination (as JAX's no-DCE effect)
dce_sink_p = Primitive("dce_sink", multiple_results=True, effectful=True)
create_token_p = Primitive("create_token")
after_all_p = Primitive("after_all")


def _stage_abstract(x: ShapedArray) -> ShapedArray:
    return x


def _barrier_abstract(*xs: ShapedArray) -> list[ShapedArray]:
    return list(xs)


def _sink_abstract(x: ShapedArray, *, prevent_mlir_dce: bool = False) -> list:
    return []


def _create_token_abstract() -> AbstractToken:
    return abstract_token


def _after_all_abstract(*xs) -> AbstractToken:
    if any(x is not abstract_token for x in xs):
        got = ", ".join(x.str_short() for x in xs)
        raise PlaxTypeError(f"after_all: arguments must be tokens, got ({got})")
    return abstract_token


add_abstract_eval(stage_p, _stage_abstract)
add_abstract_eval(optimization_barrier_p, _barrier_abstract)
add_abstract_eval(dce_sink_p, _sink_abstract)
add_abstract_eval(create_token_p, _create_token_abstract)
add_abstract_eval(after_all_p, _after_all_abstract)
# backends without their own rule (a third-party one) run the identity
add_composition(stage_p, lambda x: x)
add_composition(optimization_barrier_p, lambda *xs: list(xs))
add_composition(dce_sink_p, lambda x, prevent_mlir_dce=False: [])


def stage(x, /):
    """Lift `x` (a Python scalar, a NumPy array, an Array) into the active trace: the
    identity on values, a traced value inside jit and the like, an Array outside any trace."""
    return stage_p.bind(x)


def optimization_barrier_bind(operand):
    """The pytree `operand` through one `optimization_barrier` equation (no leaves: itself)."""
    leaves, tree = tree_flatten(operand)
    if not leaves:
        return operand
    return tree_unflatten(tree, optimization_barrier_p.bind(*leaves))


def dce_sink(val, *, prevent_mlir_dce: bool = False) -> None:
    """Mark every leaf of `val` as used: the computation producing it is kept by dead-code
    elimination even when nothing else reads it. Returns None (as JAX's)."""
    for leaf in tree_leaves(val):
        dce_sink_p.bind(leaf, prevent_mlir_dce=bool(prevent_mlir_dce))


def create_token(_=None):
    """A new token (type `Tok`) with no preconditions, for ordering effects. Experimental, as
    jax.lax.create_token; the argument is ignored (kept for backward compatibility)."""
    return create_token_p.bind()


def after_all(*operands):
    """One token that comes after all of `operands` (tokens): XLA's AfterAll. Experimental,
    as jax.lax.after_all; with no operands, a fresh token."""
    return after_all_p.bind(*operands)
