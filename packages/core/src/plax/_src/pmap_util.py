"""What every backend's pmap shares (public as plax.extend.pmap): reading the mapped arguments
(`mapped_call`), tracing the per-device function once with collectives over the pmap axis
recorded (`PmapTrace`, `trace_per_device`), the output axes per leaf (`out_axes_per_leaf`), and
the vmap-semantics fallback under another transformation or on one device (`vmap_body`).
A backend then compiles the per-device jaxpr its own way (one replicated XLA program; one
program per GPU stepped in lockstep with NCCL collectives) and places the pieces."""

from __future__ import annotations

from plax._src.batching_util import pmap_axis_name
from plax._src.core import JaxprEqn, ShapedArray, Var, get_aval, set_current_trace
from plax._src.lax.parallel import COLLECTIVES, all_gather_p, psum_p
from plax._src.tracing import JaxprTrace, JaxprTracer, convert_constvars_jaxpr
from plax._src.tree_util import tree_flatten, tree_unflatten


def _sized():
    """The collectives whose abstract evaluation (or lowering) needs the axis size."""
    from plax._src.lax.parallel import all_to_all_p, psum_scatter_p, ragged_all_to_all_p
    return (psum_scatter_p, all_to_all_p, ragged_all_to_all_p)


class PmapTrace(JaxprTrace):
    """Traces the per-device function of a pmap over `axis_name` of `axis_size` devices:
    collectives over that axis are recorded (all_gather, psum_scatter, all_to_all and
    ragged_all_to_all with the axis size their abstract evaluation needs; a psum of Python
    numbers, the same on every device, folded into a product); any other axis name is unbound
    (a NameError)."""

    __slots__ = ("axis_name", "axis_size")

    def process_primitive(self, prim, args, params):
        if prim in COLLECTIVES:
            names = params.get("axes") or (params.get("axis_name"),)
            for n in names:
                if n != self.axis_name:
                    raise NameError(f"unbound axis name: {n} (in '{prim.name}' inside pmap "
                                    f"over axis '{self.axis_name}')")
            if prim is all_gather_p:
                return self._all_gather(args[0], params)
            if prim is psum_p and params.get("axis_index_groups") is None and all(
                    type(a) in (int, float, complex) for a in args):
                # the same constant on every device (pmean's psum(1)): no exchange needed
                return [a * self.axis_size for a in args]
            if prim in _sized() and params.get("axis_size") is None:
                params = {**params, "axis_size": self.axis_size}
        return super().process_primitive(prim, args, params)

    def _all_gather(self, x, params):
        atom = self.atom(x)
        shape = list(atom.aval.shape)
        d, n = params["all_gather_dimension"], self.axis_size
        if params["tiled"]:
            shape[d] *= n
        else:
            shape.insert(d, n)
        aval = ShapedArray(tuple(shape), atom.aval.dtype)
        v = Var(aval)
        self.eqns.append(JaxprEqn([atom], [v], all_gather_p, {**params, "axis_size": n}))
        return JaxprTracer(self, aval, v)


def flat_axes(what: str, spec, tree_value, n_leaves: int) -> list:
    """One axis (int or None) per leaf from an int/None or a tuple of them per argument
    (`what`: "in_axes" or "out_axes", for the error messages)."""
    if spec is None or isinstance(spec, int):
        return [spec] * n_leaves
    spec = tuple(spec)
    if len(spec) != len(tree_value):
        raise ValueError(f"pmap {what} must be an int, None, or a tuple with one entry per "
                         f"argument; got {spec!r} for {len(tree_value)} arguments")
    out = []
    for ax, arg in zip(spec, tree_value):
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"pmap {what} entries must be int or None, got {ax!r}")
        out.extend([ax] * len(tree_flatten(arg)[0]))
    return out


def dynamic_in_axes(in_axes, args, static):
    """in_axes without the entries of static arguments (when it has one per argument)."""
    if isinstance(in_axes, (tuple, list)) and len(in_axes) == len(args) and static:
        return tuple(in_axes[i] for i in range(len(args)) if i not in static)
    return in_axes


class MappedCall:
    """The arguments of one pmap call: `dyn` (the non-static arguments), `leaves` and
    `in_tree` of (dyn, kwargs), `axes` (per leaf: the mapped axis, made non-negative, or
    None; keyword arguments are mapped along 0), `avals`, and `size` (the mapped axis's)."""

    __slots__ = ("dyn", "leaves", "in_tree", "axes", "avals", "size")

    def per_device_avals(self) -> list:
        return [av if a is None else av.update(shape=av.shape[:a] + av.shape[a + 1:])
                for av, a in zip(self.avals, self.axes)]


def mapped_call(args, kwargs, in_axes, static) -> MappedCall:
    """Reads a pmap call's arguments (ValueError for an axis out of range or mapped axes of
    different sizes)."""
    m = MappedCall()
    m.dyn = tuple(args[i] for i in range(len(args)) if i not in static)
    m.leaves, m.in_tree = tree_flatten((m.dyn, kwargs))
    n_pos = len(tree_flatten(m.dyn)[0])
    axes = flat_axes("in_axes", dynamic_in_axes(in_axes, args, static), m.dyn, n_pos) + \
        [0] * (len(m.leaves) - n_pos)
    m.avals = [get_aval(x) for x in m.leaves]
    for a, av in zip(axes, m.avals):
        if a is not None and not -av.ndim <= a < av.ndim:
            raise ValueError(f"pmap was asked to map an argument along axis {a}, which needs "
                             f"rank >= {a + 1 if a >= 0 else -a}, but its shape is {av.shape}")
    m.axes = [None if a is None else a % av.ndim for a, av in zip(axes, m.avals)]
    sizes = {av.shape[a] for a, av in zip(m.axes, m.avals) if a is not None}
    if len(sizes) != 1:
        raise ValueError(f"pmap got inconsistent sizes for the mapped axes: {sorted(sizes)}"
                         if sizes else "pmap needs at least one argument mapped along an axis")
    m.size = sizes.pop()
    return m


def trace_per_device(fun, args, static, call: MappedCall, axis_name, axis_size: int):
    """(jaxpr, consts, out_tree): `fun` traced once on the per-device avals of `call`, its
    collectives over `axis_name` (of `axis_size` devices) recorded; closed-over arrays become
    the jaxpr's leading inputs (`consts`, passed unmapped on every call)."""
    out_box: list = []

    def flat_fun(*flat):
        dyn, kwargs = tree_unflatten(call.in_tree, flat)
        it = iter(dyn)
        full = [args[i] if i in static else next(it) for i in range(len(args))]
        leaves, tree = tree_flatten(fun(*full, **kwargs))
        out_box.append(tree)
        return leaves

    trace = PmapTrace(f"pmap({getattr(fun, '__name__', 'fun')})")
    trace.axis_name, trace.axis_size = axis_name, axis_size
    tracers = [trace.new_arg(a) for a in call.per_device_avals()]
    try:
        with set_current_trace(trace):
            outs = flat_fun(*tracers)
        jaxpr, consts = trace.to_jaxpr(list(outs))
    finally:
        trace.invalidate()
    return convert_constvars_jaxpr(jaxpr), consts, out_box[-1]


def out_axes_per_leaf(out_axes, out_tree, k: int) -> list:
    """One output axis (int or None, as given) per output leaf."""
    if out_axes is None or isinstance(out_axes, int):
        return [out_axes] * k
    skeleton = tree_unflatten(out_tree, [0] * k)
    if not isinstance(skeleton, (tuple, list)):
        raise ValueError(f"pmap out_axes {out_axes!r} is a tuple but the function returns a "
                         "single value")
    return flat_axes("out_axes", out_axes, tuple(skeleton), k)


def vmap_body(fun, args, kwargs, axis_name, in_axes, out_axes, static):
    """(mapped, dyn_args, name): pmap with vmap semantics, `mapped(*dyn_args)` to be called
    inside `batching.pmap_axis(name)` (so host callbacks run once per mapped member, as per
    device); a backend may jit `mapped` first."""
    import plax
    dyn = [i for i in range(len(args)) if i not in static]

    def body(*dargs):
        full = list(args)
        for i, a in zip(dyn, dargs):
            full[i] = a
        return fun(*full, **kwargs)

    name = pmap_axis_name(axis_name)
    mapped = plax.vmap(body, in_axes=dynamic_in_axes(in_axes, args, static),
                       out_axes=out_axes, axis_name=name)
    return mapped, [args[i] for i in dyn], name
