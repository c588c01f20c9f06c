"""vmap: a trace whose tracers carry a batched value and the position of its batch axis.

Batching rules have the signature rule(args, dims, **params) -> (out, out_dim), where each dim is
an int or `not_mapped` (None). Collectives (psum, all_gather, ...) bound with this trace's axis
name are resolved here, which is also how pmap runs on a single-device backend.
"""

from __future__ import annotations

import operator
import weakref
from typing import Callable

from plax.extend import config, key_reuse, registry
from plax.extend import current_trace
from plax.tree_util import tree_flatten, tree_structure, tree_unflatten
from plax_transforms._leaks import check_leaks
from plax.extend import (
    ShapedArray, Trace, Tracer, abstract_token, get_aval, set_current_trace, state)
from plax.extend.batching import (  # noqa: F401  (importable from here too)
    bdim_at_front, check_batch_rule, is_pmap_axis, matchaxis, moveaxis, needs_trace, not_mapped,
    pmap_axis, pmap_axis_name)

# collective primitive -> rule(trace, vals, dims, **params) -> (out, out_dim) over this trace's
# own axis name (registry.add_collective); other primitives: their batch rules
collective_rules = registry.rules("collective")
_batch_rules = registry.rules("batch")


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace, self.val, self.bdim = trace, val, bdim

    @property
    def aval(self):
        a = get_aval(self.val)
        if self.bdim is None:
            return a
        shape = a.shape[:self.bdim] + a.shape[self.bdim + 1:]
        return a.update(shape=shape)


class BatchTrace(Trace):
    __slots__ = ("parent", "axis_size", "axis_name")

    def __init__(self, parent, axis_size: int, axis_name=None):
        self.parent, self.axis_size, self.axis_name = parent, axis_size, axis_name

    def lift(self, x):
        if type(x) is BatchTracer and x._trace is self:
            return x.val, x.bdim
        return x, None

    def process_primitive(self, prim, args, params):
        vals, dims = [], []
        for a in args:
            v, d = self.lift(a)
            vals.append(v)
            dims.append(d)
        if prim in collective_rules and self.axis_name is not None \
                and self.axis_name in _axis_names(params):
            with set_current_trace(self.parent):
                out, od = collective_rules[prim](self, vals, dims, **params)
            return self._wrap(prim, out, od)
        if all(d is None for d in dims):
            with set_current_trace(self.parent):
                return prim.bind(*vals, **params)
        rule = _batch_rules.get(prim)
        if rule is None:
            raise registry.missing_rule_error("batch", prim, "vmap")
        with set_current_trace(self.parent):
            if getattr(rule, "needs_trace", False):
                out, od = rule(self, vals, dims, **params)
            else:
                out, od = rule(vals, dims, **params)
            if config.checks or config.check_rules:
                check_batch_rule(prim, [get_aval(a) for a in args], params, out, od)
        return self._wrap(prim, out, od)

    def _wrap(self, prim, out, od):
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, od)]
        return BatchTracer(self, out, od)


def _axis_names(params) -> tuple:
    names = params.get("axes", params.get("axis_name", ()))
    return names if isinstance(names, tuple) else (names,)


# ---------------------------------------------------------------------------------------------
# Helpers for rules


# ---------------------------------------------------------------------------------------------
# vmap


def _flatten_axes(what: str, tree, axes) -> list:
    """Broadcast a pytree prefix `axes` against `tree`, giving one axis per leaf."""
    from plax.tree_util import tree_flatten as flat
    if axes is None or isinstance(axes, int):
        return [axes] * len(flat(tree)[0])
    # every leaf of `axes` (None included) stands for the subtree at its position
    proxy_leaves, proxy_tree = tree_flatten(axes, is_leaf=lambda x: x is None)
    try:
        subtrees = proxy_tree.flatten_up_to(tree)
    except (ValueError, TypeError) as e:
        raise ValueError(f"vmap {what} specification must be a tree prefix of the "
                         f"corresponding value, got specification {axes!r} for value tree "
                         f"{tree_structure(tree)}: {e}") from None
    out = []
    for ax, sub in zip(proxy_leaves, subtrees):
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"vmap {what} must be an int, None, or a tree of them; got {ax!r}")
        out.extend([ax] * len(flat(sub)[0]))
    return out


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size=None,
         spmd_axis_name=None) -> Callable:
    """Vectorise `fun` over a leading (or `in_axes`) axis of its arguments."""
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple, dict)) or
            hasattr(in_axes, "__dataclass_fields__")):
        raise TypeError(f"vmap in_axes must be an int, None, or a tuple of entries "
                        f"corresponding to the positional arguments, got {in_axes!r}")

    def batched(*args, **kwargs):
        if kwargs:
            raise TypeError("vmap'd functions take positional arguments only here; kwargs are "
                            "not mapped in JAX either — use functools.partial for them")
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries "
                             f"corresponding to the positional arguments passed to the function, "
                             f"but got len(in_axes)={len(in_axes)}, len(args)={len(args)}")
        axes_spec = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        flat_args, in_tree = tree_flatten(args)
        flat_axes = _flatten_axes("in_axes", args, tuple(axes_spec))
        sizes = {}
        norm_axes = []
        for i, (x, ax) in enumerate(zip(flat_args, flat_axes)):
            if ax is None:
                norm_axes.append(None)
                continue
            if get_aval(x) is abstract_token:
                raise ValueError(f"vmap got in_axes={ax} for a token (argument leaf {i}); tokens "
                                 "are never batched: give it in_axes None")
            nd = get_aval(x).ndim
            if not -nd <= ax < nd:
                raise ValueError(f"vmap was requested to map its argument along axis {ax}, which "
                                 f"implies that its rank should be at least {max(ax + 1, -ax)}, "
                                 f"but is only {nd} (its shape is {get_aval(x).shape})")
            ax = ax % nd
            norm_axes.append(ax)
            sizes.setdefault(get_aval(x).shape[ax], []).append((i, ax))
        if len(sizes) > 1:
            detail = "; ".join(f"argument leaf {i} has size {s} along axis {ax}"
                               for s, lst in sizes.items() for i, ax in lst)
            raise ValueError(f"vmap got inconsistent sizes for the array axes to be mapped: "
                             f"{detail}")
        if sizes:
            size = next(iter(sizes))
            if axis_size is not None and axis_size != size:
                raise ValueError(f"vmap: axis_size={axis_size} but the mapped axes have size "
                                 f"{size}")
        elif axis_size is not None:
            size = operator.index(axis_size)
        else:
            raise ValueError("vmap must have at least one non-None value in in_axes (or be "
                             "given axis_size)")
        trace = BatchTrace(current_trace(), size, axis_name)
        ref_args = [i for i, (x, ax) in enumerate(zip(flat_args, norm_axes))
                    if ax is not None and type(x) is state.Ref]
        if ref_args:  # a batched Ref: its value goes in batched and comes back
            vals = state.current_values([flat_args[i] for i in ref_args])
            flat_args = list(flat_args)
            for i, v in zip(ref_args, vals):
                flat_args[i] = v
        ins = [BatchTracer(trace, x, ax) if ax is not None else x
               for x, ax in zip(flat_args, norm_axes)]
        try:
            with set_current_trace(trace):
                for i in ref_args:
                    a = get_aval(flat_args[i])
                    shape = a.shape[:norm_axes[i]] + a.shape[norm_axes[i] + 1:]
                    ins[i] = state.inner_ref(ins[i], state.AbstractRef(
                        ShapedArray(shape, a.dtype, a.weak_type)))
                if config.debug_key_reuse:  # the keys the function consumed are consumed
                    inner = tree_unflatten(in_tree, ins)
                    out = fun(*inner)
                    key_reuse.sink_through(args, inner)
                    del inner
                else:
                    out = fun(*tree_unflatten(in_tree, ins))
            if ref_args:
                finals = [matchaxis(*trace.lift(ins[i]._val), norm_axes[i], size)
                          for i in ref_args]
            flat_out, out_tree = tree_flatten(out)
            flat_out_axes = _flatten_axes("out_axes", out, out_axes)
            res = []
            for o, oax in zip(flat_out, flat_out_axes):
                v, d = trace.lift(o)
                if oax is not None and get_aval(v) is abstract_token:
                    raise ValueError(f"vmap got out_axes={oax} for a token output; tokens are "
                                     "never batched: give it out_axes None")
                if oax is not None:
                    nd = get_aval(v).ndim + (1 if d is None else 0)
                    if not -nd <= oax < nd:
                        raise ValueError(
                            f"vmap out_axes={oax} is out of bounds for an output of rank {nd} "
                            f"(the mapped axis included); valid out_axes: {-nd} to {nd - 1}")
                    oax = oax % nd
                res.append(matchaxis(v, d, oax, size))
        finally:
            trace.invalidate()
        if ref_args:
            state.write_back([args_refs for args_refs in _refs_of(args, ref_args)], finals)
            finals = None
        if config.check_tracer_leaks:  # nothing of ours may hold the trace's tracers now
            ref, trace, ins, out, flat_out, o = weakref.ref(trace), None, None, None, None, None
            check_leaks(ref, f"the function {getattr(fun, '__name__', 'fun')} for vmap")
        return tree_unflatten(out_tree, res)

    batched.__name__ = f"vmap({getattr(fun, '__name__', 'fun')})"
    batched.__wrapped__ = fun
    return batched


def _refs_of(args, positions):
    leaves = tree_flatten(args)[0]
    return [leaves[i] for i in positions]


def batch_flat(fun: Callable, vals, dims, axis_size: int, axis_name=None, out_dim_dst=0,
               trace: BatchTrace | None = None):
    """Run flat `fun` batched under the current trace; every output gets its batch axis at
    `out_dim_dst` (0 by default; None leaves each output's own axis, returned alongside).
    `trace` is a prebuilt BatchTrace (a subclass) to use instead of a plain one."""
    if trace is None:
        trace = BatchTrace(current_trace(), axis_size, axis_name)
    ins = [BatchTracer(trace, v, d) if d is not None else v for v, d in zip(vals, dims)]
    try:
        with set_current_trace(trace):
            outs = fun(*ins)
        lifted = [trace.lift(o) for o in outs]
    finally:
        trace.invalidate()
    if out_dim_dst is None:
        return [v for v, _ in lifted], [d for _, d in lifted]
    return [matchaxis(v, d, out_dim_dst, axis_size) for v, d in lifted]


def batch_size_of(vals, dims) -> int:
    for v, d in zip(vals, dims):
        if d is not None:
            return get_aval(v).shape[d]
    raise ValueError("no batched argument")

