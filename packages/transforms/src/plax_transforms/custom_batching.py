"""custom_vmap and sequential_vmap (as jax.custom_batching).

A custom_vmap function binds `custom_vmap_call` (a core call primitive carrying the function's
jaxpr and the rule): backends run the jaxpr, vmap calls the user's rule
`rule(axis_size, in_batched, *args) -> (out, out_batched)` with every batched argument's batch
axis first, and jvp binds a new `custom_vmap_call` of the function's jvp whose rule is the jvp
of the user's rule (vmapped over the arguments whose primal or tangent alone is batched), as
JAX's. Like JAX, there is no transpose: reverse mode through custom_vmap needs custom_vjp.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from plax.extend import EVAL_TRACE, current_trace, custom_vmap_call_p, eval_jaxpr, get_aval
from plax.tree_util import tree_flatten, tree_map, tree_unflatten
from plax_transforms.ad import instantiate
from plax_transforms.batching import batch_flat, moveaxis, needs_trace
from plax_transforms.custom import _resolve_args
from plax_transforms.jit import closed_call_jaxpr


class custom_vmap:
    """Give a function its own vmap rule: `f.def_vmap(rule)` with
    `rule(axis_size, in_batched, *args) -> (out, out_batched)`: `in_batched` mirrors the
    arguments with a bool per leaf (batched leaves have the batch axis first, of size
    `axis_size`), `out_batched` mirrors `out` likewise."""

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vmap_rule = None

    def def_vmap(self, vmap_rule: Callable[..., tuple[Any, Any]]):
        if not callable(vmap_rule):
            raise TypeError(f"custom_vmap.def_vmap: vmap_rule must be callable, got "
                            f"{type(vmap_rule).__name__}")
        self.vmap_rule = vmap_rule
        return vmap_rule

    def __call__(self, *args, **kwargs):
        name = getattr(self.fun, "__name__", "<unnamed>")
        if self.vmap_rule is None:
            raise AttributeError(f"No batching rule defined for custom_vmap function {name} "
                                 "using def_vmap.")
        args = _resolve_args(self.fun, args, kwargs)
        if current_trace() is EVAL_TRACE:
            return self.fun(*args)
        leaves, in_tree = tree_flatten(tuple(args))
        box = []

        def flat_fun(*xs):
            ol, ot = tree_flatten(self.fun(*tree_unflatten(in_tree, xs)))
            box.append(ot)
            return ol

        closed, consts = closed_call_jaxpr(flat_fun, [get_aval(x) for x in leaves],
                                           f"custom_vmap({name})")
        out_tree = box[-1]
        rule = _UserRule(self.vmap_rule, len(consts), in_tree, out_tree)
        outs = custom_vmap_call_p.bind(*consts, *leaves, call_jaxpr=closed, rule=rule,
                                       num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


class _UserRule:
    """The user's rule on flat lists: (axis_size, in_batched, args) -> (outs, out_batched),
    args being the call's consts then the argument leaves. Compared by identity (a param)."""

    def __init__(self, rule, num_consts, in_tree, out_tree):
        self.rule, self.num_consts = rule, num_consts
        self.in_tree, self.out_tree = in_tree, out_tree
        self.__name__ = getattr(rule, "__name__", "<unnamed rule>")

    def __repr__(self):
        return self.__name__

    def __call__(self, axis_size, in_batched, args):
        nc = self.num_consts
        if any(in_batched[:nc]):
            raise ValueError(
                f"custom_vmap function with rule {self.__name__} closes over a value that is "
                "batched by this vmap: pass that value as an explicit argument instead")
        batched = list(tree_unflatten(self.in_tree, in_batched[nc:]))
        out, out_batched = _pair(self.rule(axis_size, batched,
                                           *tree_unflatten(self.in_tree, args[nc:])),
                                 self.__name__)
        outs, tree1 = tree_flatten(out)
        flags, tree2 = tree_flatten(out_batched)
        if tree1 != tree2:
            raise ValueError(
                "structure of output value and output batching specification returned by "
                f"custom vmap rule ({self.__name__}) do not match.\nOutput values: {tree1}\n"
                f"Batching spec: {tree2}")
        if tree1 != self.out_tree:
            raise ValueError(
                f"structure of output returned by custom vmap rule ({self.__name__}) does not "
                f"match that of original custom-vmapped function.\nOriginal output: "
                f"{self.out_tree}\nRule output: {tree1}")
        return outs, [bool(b) for b in flags]


def _pair(out, name):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"custom vmap rule ({name}) must return a pair (out, out_batched), "
                        f"got {out!r:.100}")
    return out


class _JvpRule:
    """The rule of a jvp'd custom_vmap call (JAX's jvp_of_rule_rule): arguments are primals
    then tangents. The inner rule runs under jvp on the leaves batched in both primal and
    tangent; a leaf batched in only one of them is vmapped over (its batch axis removed)."""

    def __init__(self, inner, n):
        self.inner, self.n = inner, n
        self.__name__ = f"jvp({getattr(inner, '__name__', 'rule')})"

    def __call__(self, axis_size, in_batched, args):
        from plax_transforms.ad import jvp
        n = self.n
        pb, tb = in_batched[:n], in_batched[n:]
        mutual = [p and t for p, t in zip(pb, tb)]
        extra = [0 if p and not t else None for p, t in zip(pb, tb)] + \
                [0 if t and not p else None for p, t in zip(pb, tb)]
        box = []

        def to_jvp(*ps):
            outs, ob = self.inner(axis_size, mutual, list(ps))
            box.append(ob)
            return outs

        def g(*xs):
            po, to = jvp(to_jvp, list(xs[:n]), list(xs[n:]))
            return [*po, *to]

        if all(e is None for e in extra):
            outs = g(*args)
            out_dims = [None] * len(outs)
        else:
            outs, out_dims = batch_flat(g, list(args), extra, axis_size, out_dim_dst=None)
        outs = [o if d in (None, 0) else moveaxis(o, d, 0) for o, d in zip(outs, out_dims)]
        ob = box[-1]
        flags = [b or d is not None for b, d in zip(ob + ob, out_dims)]
        return outs, flags


@needs_trace
def _custom_vmap_batch(trace, vals, dims, *, call_jaxpr, rule, num_consts):
    axis_size = trace.axis_size
    vals = [v if d in (None, 0) else moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    outs, flags = rule(axis_size, [d is not None for d in dims], vals)
    for o, b, a in zip(outs, flags, call_jaxpr.out_avals):
        want = (axis_size, *a.shape) if b else tuple(a.shape)
        if tuple(get_aval(o).shape) != want:
            raise ValueError(
                f"custom vmap rule ({getattr(rule, '__name__', 'rule')}) returned an output of "
                f"shape {tuple(get_aval(o).shape)} marked {'batched' if b else 'unbatched'}; "
                f"the function's output is {a.str_short()}, so expected shape {want}")
    return outs, [0 if b else None for b in flags]


def _custom_vmap_jvp(primals, tangents, *, call_jaxpr, rule, num_consts):
    from plax_transforms.ad import jvp
    tangents = [instantiate(t) for t in tangents]
    n = len(primals)

    def jvp_fun(*xs):
        po, to = jvp(lambda *a: eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *a),
                     list(xs[:n]), list(xs[n:]))
        return [*po, *to]

    args = [*primals, *tangents]
    closed, consts = closed_call_jaxpr(jvp_fun, [get_aval(x) for x in args],
                                       "custom_vmap_jvp")
    if consts:  # the jvp of a const-free jaxpr closes over nothing; kept general
        jvp_rule = _ConstsRule(_JvpRule(rule, n), len(consts))
    else:
        jvp_rule = _JvpRule(rule, n)
    outs = custom_vmap_call_p.bind(*consts, *args, call_jaxpr=closed, rule=jvp_rule,
                                   num_consts=len(consts))
    m = len(outs) // 2
    return outs[:m], outs[m:]


class _ConstsRule:
    """A rule for a call with leading consts that its inner rule does not take."""

    def __init__(self, inner, num_consts):
        self.inner, self.num_consts = inner, num_consts
        self.__name__ = inner.__name__

    def __call__(self, axis_size, in_batched, args):
        if any(in_batched[:self.num_consts]):
            raise ValueError(f"custom vmap rule ({self.__name__}): a closed-over value is "
                             "batched")
        return self.inner(axis_size, in_batched[self.num_consts:], args[self.num_consts:])


def sequential_vmap(f: Callable) -> custom_vmap:
    """A custom_vmap function that, batched, runs `f` once per element in a loop
    (plax.lax.map), broadcasting its unbatched arguments: for functions with no batch rule."""
    from plax import lax
    f = custom_vmap(f)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        flags = tree_flatten(in_batched)[0]
        leaves, tree = tree_flatten(list(args))
        mapped = [x for x, b in zip(leaves, flags) if b]

        def one(xs):
            it = iter(xs)
            return f(*tree_unflatten(tree, [next(it) if b else x
                                            for x, b in zip(leaves, flags)]))
        out = lax.map(one, mapped)
        return out, tree_map(lambda _: True, out)

    return f


def _custom_vmap_transpose(cts, *args, **params):
    raise NotImplementedError(
        "reverse-mode differentiation (grad, vjp) of a custom_vmap function is not supported "
        "(as in JAX, its jvp is not transposable): wrap the custom_vmap function in a "
        "custom_vjp, or use forward mode (jvp, jacfwd)")


def register(reg) -> None:
    reg.add_batch(custom_vmap_call_p, _custom_vmap_batch)
    reg.add_transpose(custom_vmap_call_p, _custom_vmap_transpose)
    reg.add_jvp(custom_vmap_call_p, _custom_vmap_jvp)
    reg.register_api("custom_batching.custom_vmap", custom_vmap)
    reg.register_api("custom_batching.sequential_vmap", sequential_vmap)
