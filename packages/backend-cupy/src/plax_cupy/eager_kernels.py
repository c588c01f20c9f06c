"""Eager primitives that run as generated kernels (as they do under jit) rather than library
calls: the cumulative ops (CuPy has no `maximum.accumulate` or `logaddexp.accumulate`, and its
cumsum/cumprod of 16-bit floats would round at every step), and the inverse trigonometric and
hyperbolic functions of complex numbers (the prelude's C99 / Hull et al. code, as under jit,
instead of CuPy's or NumPy's own). The window ops (KERNEL_OPS: reduce_window_sum/max/min,
select_and_gather_add, select_and_scatter_add, the generic reduce_window, tridiagonal_solve)
and rng_bit_generator have no xp library rule at all: their rule in the backend's table is the
kernel, eagerly and as a library step with fusion off (the NumPy rule would take their operands
through the host; it still runs a generic reduce_window whose computation the kernel cannot
inline).

`kernel_rule(prim, fallback, when)` is a rule(*arrays, **params): the equation alone, planned
by the planner into its one group, generated, built once per (shapes, dtypes, params) and
launched through `fused.FusedRunner` (one launch, counted by `plax_cupy.launch_count()`). When
`when(arrays)` is false, code generation refuses the equation (an unsupported dtype) or fusion
is off (config `cupy_fusion`; unless `with_fusion_only` is false), the library rule `fallback`
runs instead."""

from __future__ import annotations

from collections import OrderedDict

from plax.extend import Jaxpr, JaxprEqn, ShapedArray, Var, abstract_eval

_MAX_KERNELS = 256


def _always(bufs) -> bool:
    return True


def _complex_operand(bufs) -> bool:
    return bufs[0].dtype.kind == "c"


# {primitive name: when its eager call runs the generated kernel}
EAGER_KERNEL_OPS = {
    **dict.fromkeys(("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"), _always),
    **dict.fromkeys(("asin", "acos", "atan", "asinh", "acosh", "atanh"), _complex_operand)}


# {primitive name}: the backend's rule itself is the generated kernel, fusion on or off
KERNEL_OPS = frozenset({"reduce_window_sum", "reduce_window_max", "reduce_window_min",
                        "select_and_gather_add", "select_and_scatter_add", "reduce_window",
                        "tridiagonal_solve", "rng_bit_generator"})


def kernel_rule(prim, fallback, when=_always, with_fusion_only=True):
    cache: OrderedDict = OrderedDict()

    def rule(*bufs, **params):
        from plax_cupy.program import fusion_enabled
        if not (when(bufs) and (fusion_enabled() or not with_fusion_only)):
            return fallback(*bufs, **params)
        key = (tuple((tuple(b.shape), b.dtype) for b in bufs), _hashable(params))
        runner = lru_get(cache, key, lambda: _runner(prim, bufs, params), _MAX_KERNELS)
        if runner is False:  # refused by code generation
            return fallback(*bufs, **params)
        fn, order = runner
        outs = fn(list(bufs))
        return [outs[i] for i in order] if prim.multiple_results else outs[order[0]]
    rule.__name__ = f"kernel_{prim.name}"
    rule.library_rule = fallback
    return rule


def lru_get(cache: OrderedDict, key, make, limit: int):
    """cache[key], made by `make()` on a miss; the least recently used of more than `limit`
    entries is dropped."""
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = make()
        if len(cache) > limit:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return hit


def one_group_runner(jaxpr, outs):
    """(the built FusedRunner of `jaxpr` planned into one group, the position of each of
    `outs` among its outputs), or None when the planner makes anything else of it."""
    from plax_cupy import fused, planner
    steps = planner.plan(jaxpr)
    if len(steps) != 1 or not isinstance(steps[0], planner.FusedGroup):
        return None
    group = steps[0]
    if any(v not in group.out_vars for v in outs):
        return None
    runner = fused.FusedRunner(group)
    fused.build([runner])
    return runner, [group.out_vars.index(v) for v in outs]


def _runner(prim, bufs, params):
    """(the built FusedRunner of `prim` alone on these operands, the position of each of the
    primitive's results among the runner's outputs), or False when the planner leaves it to
    the library."""
    invars = [Var(ShapedArray(tuple(b.shape), b.dtype)) for b in bufs]
    out_avals = abstract_eval(prim, [v.aval for v in invars], params)
    if not prim.multiple_results:
        out_avals = [out_avals]
    outs = [Var(ShapedArray(tuple(a.shape), a.dtype)) for a in out_avals]
    jaxpr = Jaxpr([], invars, outs, [JaxprEqn(invars, outs, prim, dict(params))])
    return one_group_runner(jaxpr, outs) or False


def _hashable(params: dict):
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
