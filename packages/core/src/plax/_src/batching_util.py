"""Helpers for batching rules: rule(args, dims, **params) -> (out, out_dim), where a dim is an
int or `not_mapped` (None). `needs_trace` marks a rule that takes the batch trace first (for its
axis size and name); `pmap_axis`/`is_pmap_axis` tell a pmap run with vmap semantics from a
vmap. Public as `plax.extend.batching`."""

from __future__ import annotations

import contextlib
import contextvars

from plax._src.core import abstract_token, get_aval

not_mapped = None


class _UnnamedPmapAxis:
    def __repr__(self):
        return "<unnamed pmap axis>"


_UNNAMED = _UnnamedPmapAxis()
# the axis names of the pmaps being traced with vmap semantics (pmap on a single-device backend,
# or under another transformation): rules whose meaning differs between vmap and pmap (host
# callbacks run once per device) ask `is_pmap_axis`
_pmap_axes: contextvars.ContextVar[frozenset] = contextvars.ContextVar("plax_pmap_axes",
                                                                       default=frozenset())


def pmap_axis_name(axis_name):
    """The axis name a pmap run as a vmap gives its batch trace: `axis_name`, or for a pmap
    without one a name of its own (no collective can name it)."""
    return _UNNAMED if axis_name is None else axis_name


@contextlib.contextmanager
def pmap_axis(name):
    """While tracing a pmap with vmap semantics over the axis `name` (`pmap_axis_name`'s)."""
    token = _pmap_axes.set(_pmap_axes.get() | {name})
    try:
        yield
    finally:
        _pmap_axes.reset(token)


def is_pmap_axis(trace) -> bool:
    """Whether the batch trace `trace` maps a pmap's axis (not a vmap's)."""
    name = getattr(trace, "axis_name", None)
    return name is not None and name in _pmap_axes.get()


def needs_trace(rule):
    """Mark a batching rule that takes the BatchTrace first (call primitives and control flow
    need its `axis_size` and `axis_name`): rule(trace, vals, dims, **params)."""
    rule.needs_trace = True
    return rule


def check_batch_rule(prim, in_avals, params: dict, outs, out_dims) -> None:
    """With the `checks` option: a batch rule's outputs, their batch axes removed, against the
    primitive's abstract evaluation on the unbatched inputs (a wrong out_dim shows here)."""
    from plax._src import registry
    from plax._src.core import abstract_eval
    want = abstract_eval(prim, in_avals, params)
    want = list(want) if prim.multiple_results else [want]
    outs = list(outs) if prim.multiple_results else [outs]
    dims = list(out_dims) if prim.multiple_results else [out_dims]
    for i, (o, d, w) in enumerate(zip(outs, dims, want)):
        a = get_aval(o)
        if a is abstract_token or w is abstract_token:
            if a is not w or d is not None:
                raise RuntimeError(
                    f"the batch rule of '{prim.name}' (plugin "
                    f"'{registry.owner_of('batch', prim)}') returned {a.str_short()} with batch "
                    f"axis {d} for output {i}; the abstract evaluation says {w.str_short()} "
                    "(tokens are never batched; plax.config checks / check_rules is on)")
            continue
        shape = a.shape if d is None else a.shape[:d] + a.shape[d + 1:]
        if shape != w.shape or a.dtype != w.dtype:
            raise RuntimeError(
                f"the batch rule of '{prim.name}' (plugin "
                f"'{registry.owner_of('batch', prim)}') returned {a.str_short()} with batch "
                f"axis {d} for output {i}: without that axis it is {a.dtype.name}"
                f"{list(shape)}, but the abstract evaluation says {w.str_short()} (plax.config "
                "checks / check_rules is on)")


def moveaxis(x, src: int, dst: int):
    """`x` with axis `src` moved to position `dst`."""
    from plax._src.lax.structural import transpose
    nd = get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def bdim_at_front(x, d, size: int):
    """`x` with its batch axis first; an unbatched x is broadcast to the batch size."""
    from plax._src.lax.structural import broadcast_in_dim
    if d is None:
        a = get_aval(x)
        return broadcast_in_dim(x, (size, *a.shape), tuple(range(1, a.ndim + 1)))
    return moveaxis(x, d, 0)


def matchaxis(x, src, dst, size: int):
    """Move (or create, by broadcasting) the batch axis of `x` from `src` to `dst`."""
    if src == dst:
        return x
    if dst is None:
        raise ValueError("vmap: an output was batched but out_axes is None for it; with "
                         "out_axes=None the output must not depend on the mapped inputs")
    if src is None:
        from plax._src.lax.structural import broadcast_in_dim
        a = get_aval(x)
        if a is abstract_token:  # tokens are never batched
            return x
        dst = dst % (a.ndim + 1)
        shape = list(a.shape)
        shape.insert(dst, size)
        dims = tuple(i for i in range(a.ndim + 1) if i != dst)
        return broadcast_in_dim(x, tuple(shape), dims)
    return moveaxis(x, src, dst)
