"""shard_map: a function written for one shard, run on every shard of a mesh (manual SPMD),
with collectives (psum, all_gather, ppermute, psum_scatter, all_to_all, axis_index ...) over the
mesh axes; and the rules of `shard_map_p` (jvp, transpose, partial evaluation, vmap).

The body is traced once on one shard's shapes. On a backend with the mesh's devices (xla) the
primitive becomes a manual region of a partitioned program; elsewhere (the reference backend,
one device) it runs with the same semantics by vmapping the body over every mesh axis, with the
collectives resolved over those axes (`expand`), as pmap does on one device.

Reverse mode follows JAX's shard_map without replication rewriting: a cotangent of an output
replicated over some axes is divided by their size, and the cotangent of an input replicated
over some axes is summed over them; exact when the replicated outputs are replicated, which
`check_rep` verifies.
"""

from __future__ import annotations

import math
from typing import Callable


from plax import lax
from plax.extend import (
    COLLECTIVES, EVAL_TRACE, ClosedJaxpr, JaxprTrace, Tracer, convert_constvars_jaxpr,
    current_trace, eval_jaxpr, get_aval, known_axis_sizes, set_current_trace)
from plax.lax import (
    all_gather_p, all_to_all_p, axis_index_p, pbroadcast_p, psum_scatter_p, ragged_all_to_all_p,
    shard_map_p)
from plax.sharding import Infer, Mesh, PartitionSpec
from plax.tree_util import tree_flatten, tree_map, tree_unflatten
from plax_transforms import batching
from plax_transforms.ad import (
    UndefinedPrimal, Zero, backward_pass, instantiate, is_undefined, is_unknown, jvp_flat,
    partial_eval_jaxpr)

# abstract evaluation (or the lowering) needs the size
_SIZED = (all_gather_p, psum_scatter_p, all_to_all_p, ragged_all_to_all_p)


# ---------------------------------------------------------------------------------------------
# Specs and avals


def _axes(spec: PartitionSpec, i: int) -> tuple:
    return spec._axes(i)


def _mentioned(spec: PartitionSpec) -> set:
    return {a for i in range(len(spec)) for a in _axes(spec, i)}


def _unmentioned(mesh: Mesh, spec: PartitionSpec) -> tuple:
    used = _mentioned(spec)
    return tuple(a for a in mesh.axis_names if a not in used)


def _factors(mesh: Mesh, spec: PartitionSpec, ndim: int) -> list:
    if len(spec) > ndim:
        raise ValueError(f"shard_map: spec {spec!r} has {len(spec)} entries for a value of "
                         f"rank {ndim}")
    return [math.prod(mesh.shape[a] for a in _axes(spec, i)) for i in range(ndim)]


def _shard(aval, spec, mesh, what="an argument"):
    """One shard's aval of a global value laid out by `spec`."""
    shape = []
    for i, (n, f) in enumerate(zip(aval.shape, _factors(mesh, spec, len(aval.shape)))):
        if n % f:
            raise ValueError(f"shard_map: {what} of shape {tuple(aval.shape)} has dimension "
                             f"{i} of size {n}, which spec {spec!r} splits into {f} shards "
                             f"over mesh axes {dict(mesh.shape)}; it must be divisible by {f}")
        shape.append(n // f)
    return aval.update(shape=tuple(shape))


def _unshard_shape(aval, spec, mesh) -> tuple:
    return tuple(n * k for n, k in zip(aval.shape, _factors(mesh, spec, len(aval.shape))))


def _check_spec(spec, mesh: Mesh, what: str) -> PartitionSpec:
    if not isinstance(spec, PartitionSpec):
        if spec is None:
            return PartitionSpec()
        raise TypeError(f"shard_map: {what} must be a PartitionSpec (plax.P), got {spec!r}")
    seen = set()
    for i in range(len(spec)):
        for a in _axes(spec, i):
            if a not in mesh.axis_names:
                raise ValueError(f"shard_map: {what} {spec!r} names axis '{a}', which is not an "
                                 f"axis of the mesh {mesh.axis_names}")
            if a in seen:
                raise ValueError(f"shard_map: {what} {spec!r} uses mesh axis '{a}' twice")
            seen.add(a)
    return spec


def _broadcast_specs(specs, tree_value, mesh, what: str) -> list:
    """One PartitionSpec per leaf of `tree_value` from a spec prefix (a PartitionSpec applies
    to a whole subtree)."""
    def is_spec(x):
        return isinstance(x, PartitionSpec) or x is None
    if is_spec(specs):
        return [_check_spec(specs, mesh, what)] * len(tree_flatten(tree_value)[0])
    leaves, tree = tree_flatten(specs, is_leaf=is_spec)
    try:
        subtrees = tree.flatten_up_to(tree_value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"shard_map: {what} {specs!r} is not a tree prefix of the value "
                         f"({type(tree_value).__name__}): {e}") from None
    out = []
    for s, sub in zip(leaves, subtrees):
        out.extend([_check_spec(s, mesh, what)] * len(tree_flatten(sub)[0]))
    return out


# ---------------------------------------------------------------------------------------------
# Tracing the body


class _ShardMapTrace(JaxprTrace):
    """Traces one shard's function: collectives must name mesh axes; those whose shapes depend
    on the axis size get it."""

    __slots__ = ("mesh",)

    def process_primitive(self, prim, args, params):
        if prim in COLLECTIVES:
            names = params.get("axes") or (params.get("axis_name"),)
            names = names if isinstance(names, tuple) else (names,)
            for n in names:
                if n not in self.mesh.axis_names:
                    raise NameError(f"unbound axis name: {n} (in '{prim.name}' inside shard_map "
                                    f"over mesh axes {self.mesh.axis_names})")
            if prim in _SIZED and params.get("axis_size") is None:
                params = {**params, "axis_size": self.mesh.shape[params["axis_name"]]}
        return super().process_primitive(prim, args, params)


def _trace_body(fun: Callable, avals, mesh: Mesh, name: str):
    """(const-free ClosedJaxpr of flat `fun` on one shard's avals, its consts as leading args)."""
    trace = _ShardMapTrace(f"shard_map({name})")
    trace.mesh = mesh
    tracers = [trace.new_arg(a) for a in avals]
    try:
        with set_current_trace(trace), known_axis_sizes(mesh.shape):
            outs = list(fun(*tracers))
        jaxpr, consts = trace.to_jaxpr(outs)
    finally:
        trace.invalidate()
    return ClosedJaxpr(convert_constvars_jaxpr(jaxpr), []), consts


def _bind(consts, args, *, jaxpr, mesh, in_specs, out_specs, check_rep):
    """shard_map_p on consts (replicated) + args."""
    specs = (PartitionSpec(),) * len(consts) + tuple(in_specs)
    return shard_map_p.bind(*consts, *args, jaxpr=jaxpr, mesh=mesh, in_specs=specs,
                            out_specs=tuple(out_specs), check_rep=check_rep)


# ---------------------------------------------------------------------------------------------
# Replication check: which mesh axes each value varies over


def _varying(closed: ClosedJaxpr, in_vary) -> list:
    env = dict(zip(closed.jaxpr.invars, in_vary))

    def read(x):
        return env.get(x, frozenset())

    for eqn in closed.jaxpr.eqns:
        ins = frozenset().union(*[read(x) for x in eqn.invars]) if eqn.invars else frozenset()
        p, params = eqn.primitive, eqn.params
        names = params.get("axes") or (params.get("axis_name"),)
        names = frozenset(names if isinstance(names, tuple) else (names,))
        sub = params.get("jaxpr")
        if p.name in ("psum", "pmax", "pmin", "all_gather"):
            out = ins - names
        elif p is axis_index_p:
            out = names
        elif p is pbroadcast_p:  # replicated in fact, varying in JAX's types: as its input
            out = ins
        elif p in COLLECTIVES:  # ppermute, psum_scatter, all_to_all, pcast, ragged_all_to_all
            out = ins | names
        elif isinstance(sub, ClosedJaxpr) and len(sub.jaxpr.invars) == len(eqn.invars) \
                and len(sub.jaxpr.outvars) == len(eqn.outvars) and p is not shard_map_p:
            # a call (jit, custom_jvp/vjp, checkpoint): per output, from its own jaxpr
            for v, o in zip(eqn.outvars, _varying(sub, [read(x) for x in eqn.invars])):
                env[v] = o
            continue
        else:  # control flow and the rest: everything its inputs vary over
            out = ins
        for v in eqn.outvars:
            env[v] = out
    return [read(x) for x in closed.jaxpr.outvars]


def _check_rep(closed, mesh, in_specs, out_specs, name: str) -> None:
    vary = _varying(closed, [frozenset(_mentioned(s)) for s in in_specs])
    for i, (v, s) in enumerate(zip(vary, out_specs)):
        bad = sorted(v - _mentioned(s))
        if bad:
            raise ValueError(
                f"shard_map({name}): output {i} varies over mesh axis '{bad[0]}', but its "
                f"out_spec {s!r} says it is replicated over that axis; name the axis in the "
                "spec, make the value equal on every member (psum, all_gather ...), or pass "
                "check_rep=False")


# ---------------------------------------------------------------------------------------------
# The user function


def shard_map(f: Callable | None = None, mesh: Mesh | None = None, in_specs=None,
              out_specs=None, check_rep: bool = True, check_vma: bool | None = None,
              auto=frozenset()):
    """Map `f`, written for one shard, over the shards of `mesh`: each argument is split as its
    `in_specs` entry says, `f` runs on every device with its pieces (collectives over the
    mesh axes inside), and the results are put together as `out_specs` says. Without `mesh`,
    the mesh of the enclosing `with mesh:` block; without `f`, a decorator."""
    if f is None:
        return lambda g: shard_map(g, mesh, in_specs, out_specs, check_rep, check_vma, auto)
    if mesh is None:
        from plax.sharding import get_mesh
        mesh = get_mesh()
        if mesh is None:
            raise ValueError("shard_map: give mesh=..., or call it inside a `with mesh:` block")
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_map: mesh must be a plax.sharding.Mesh, got {mesh!r}")
    if out_specs is None:
        raise TypeError("shard_map: out_specs is required (a PartitionSpec or a tree of them)")
    if in_specs is None:
        raise TypeError("shard_map: in_specs is required (a PartitionSpec or a tree of them, "
                        "one per argument)")
    if auto:
        raise NotImplementedError("shard_map(auto=...): every mesh axis is manual in plax")
    if check_vma is not None:
        check_rep = check_vma
    name = getattr(f, "__name__", "fun")

    def wrapped(*args):
        leaves, in_tree = tree_flatten(args)
        if current_trace() is EVAL_TRACE and not any(isinstance(x, Tracer) for x in leaves):
            return _compiled()(*args)  # one program, partitioned over the mesh where it can be
        specs = _broadcast_specs(in_specs, args, mesh, "in_specs")
        avals = [_shard(get_aval(x), s, mesh, f"argument leaf {i}")
                 for i, (x, s) in enumerate(zip(leaves, specs))]
        out_box = []

        def flat(*xs):
            out = f(*tree_unflatten(in_tree, list(xs)))
            o_leaves, o_tree = tree_flatten(out)
            out_box.append((out, o_tree))
            return o_leaves

        closed, consts = _trace_body(flat, avals, mesh, name)
        out_value, out_tree = out_box[-1]
        o_specs = _broadcast_specs(out_specs, out_value, mesh, "out_specs")
        c_specs = [PartitionSpec()] * len(consts)
        if check_rep:
            _check_rep(closed, mesh, c_specs + specs, o_specs, name)
        outs = shard_map_p.bind(*consts, *leaves, jaxpr=closed, mesh=mesh,
                                in_specs=tuple(c_specs + specs), out_specs=tuple(o_specs),
                                check_rep=bool(check_rep))
        return tree_unflatten(out_tree, list(outs))

    jitted: list = []

    def _compiled():
        if not jitted:
            from plax_transforms.jit import jit
            jitted.append(jit(wrapped))
        return jitted[0]

    wrapped.__name__ = f"shard_map({name})"
    wrapped.__wrapped__ = f
    return wrapped


# ---------------------------------------------------------------------------------------------
# smap: shard_map over one axis of the current mesh


def _axes_to_spec(axis_name, axis):
    if axis is None:
        return PartitionSpec()
    return PartitionSpec(*[None] * axis, axis_name)


def _is_axis_leaf(x) -> bool:
    return x is None or isinstance(x, int)


def _check_axes(what: str, axes, allow_negative: bool) -> None:
    for leaf in tree_flatten(axes, is_leaf=_is_axis_leaf)[0]:
        if leaf is not None and (type(leaf) is not int or (leaf < 0 and not allow_negative)):
            raise TypeError(f"smap {what} must be an int, None, or (nested) container with "
                            f"those types as leaves"
                            + ("" if allow_negative else " (non-negative)")
                            + f", but got {axes!r}")


def _infer_spec(x, mesh: Mesh, axis_name):
    from plax.sharding import NamedSharding
    if isinstance(x, Tracer):
        raise ValueError("smap(in_axes=Infer) inside a transformation: plax's traced values "
                         "carry no sharding to infer the mapped axis from; give in_axes")
    s = getattr(x, "sharding", None)
    if isinstance(s, NamedSharding) and s.mesh == mesh:
        for i in range(len(s.spec)):
            if axis_name in _axes(s.spec, i):
                return _axes_to_spec(axis_name, i)
    return PartitionSpec()


def _arg_specs(in_axes, args, axis_name):
    """One spec (or spec tree) per positional argument; negative int axes counted from the
    end of that argument's rank."""
    per_arg = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    if len(per_arg) != len(args):
        raise ValueError(f"smap in_axes has {len(per_arg)} entries for {len(args)} "
                         "positional arguments")
    out = []
    for ax, arg in zip(per_arg, args):
        if isinstance(ax, int) and ax < 0:
            ndims = {get_aval(v).ndim for v in tree_flatten(arg)[0]}
            if len(ndims) != 1:
                raise ValueError(f"smap in_axes {ax} for an argument whose leaves have ranks "
                                 f"{sorted(ndims)}: give a non-negative axis")
            nd = ndims.pop()
            if ax < -nd:
                raise ValueError(f"smap in_axes {ax} out of range for rank {nd}")
            ax += nd
        out.append(PartitionSpec() if ax is None else
                   _axes_to_spec(axis_name, ax) if isinstance(ax, int) else
                   tree_map(lambda a: _axes_to_spec(axis_name, a), ax, is_leaf=_is_axis_leaf))
    return tuple(out)


def smap(f: Callable | None = None, /, *, in_axes=Infer, out_axes, axis_name):
    """shard_map over the single mesh axis `axis_name` of the current mesh (`plax.set_mesh`),
    with vmap-style axes (as jax.smap): argument i is split along its axis `in_axes[i]` (None:
    whole on every member), outputs are put together along `out_axes`. Without `in_axes`, the
    axes are read from the arguments' shardings (the axis must be Explicit, as in JAX). The
    other mesh axes are not mapped: every member sees the whole value along them."""
    if isinstance(axis_name, (list, tuple)):
        raise TypeError(f"smap axis_name should be a `str` or a `Hashable`, but got "
                        f"{axis_name}")
    if in_axes is not Infer:
        if in_axes is not None and not isinstance(in_axes, (int, tuple)):
            raise TypeError("smap in_axes must be an int, None, plax.sharding.Infer, or a "
                            "tuple of entries corresponding to the positional arguments "
                            f"passed to the function, but got {in_axes}.")
        _check_axes("in_axes", in_axes, allow_negative=True)
    _check_axes("out_axes", out_axes, allow_negative=False)
    if f is None:
        return lambda g: smap(g, in_axes=in_axes, out_axes=out_axes, axis_name=axis_name)
    out_specs = tree_map(lambda a: _axes_to_spec(axis_name, a), out_axes,
                         is_leaf=_is_axis_leaf)
    mapped: dict = {}

    def wrapped(*args):
        from plax.sharding import AxisType, get_mesh
        mesh = get_mesh()
        if mesh is None:
            raise ValueError("The context mesh cannot be empty. Use `plax.set_mesh(mesh)` to "
                             "enter into a mesh context")
        if axis_name not in mesh.axis_names:
            raise ValueError(f"smap axis_name={axis_name!r} is not an axis of the current mesh "
                             f"{mesh.axis_names}")
        if in_axes is Infer:
            kind = mesh.axis_types[mesh.axis_names.index(axis_name)]
            if kind is not AxisType.Explicit:
                raise TypeError(f"in_axes was not specified when axis_name={axis_name!r} was "
                                f"of type {kind!r}")
            specs = tuple(tree_map(lambda x: _infer_spec(x, mesh, axis_name), a)
                          for a in args)
        else:
            specs = _arg_specs(in_axes, args, axis_name)
        try:
            key = (mesh, specs)
            fn = mapped.get(key)
        except TypeError:  # specs in unhashable containers (dicts): not cached
            key, fn = None, None
        if fn is None:
            fn = shard_map(f, mesh=mesh, in_specs=specs, out_specs=out_specs,
                           check_rep=True)
            if key is not None:
                mapped[key] = fn
        return fn(*args)

    name = getattr(f, "__name__", "fun")
    wrapped.__name__ = f"smap({name})"
    wrapped.__wrapped__ = f
    return wrapped


# ---------------------------------------------------------------------------------------------
# One-device semantics: the body vmapped over every mesh axis


def _to_blocks(x, spec: PartitionSpec, mesh: Mesh):
    """A global value as [one dim per mesh axis it is split over, in mesh order] + shard
    shape; and the mesh axes those leading dims are."""
    sizes = mesh.shape
    shape = get_aval(x).shape
    new_shape, labels = [], []
    for i, n in enumerate(shape):
        axes = _axes(spec, i)
        for a in axes:
            new_shape.append(sizes[a])
            labels.append(a)
        new_shape.append(n // math.prod(sizes[a] for a in axes))
        labels.append(None)
    x = lax.reshape(x, tuple(new_shape))
    mentioned = [a for a in mesh.axis_names if a in labels]
    perm = [labels.index(a) for a in mentioned] + [k for k, lab in enumerate(labels)
                                                   if lab is None]
    return lax.transpose(x, tuple(perm)), mentioned


def _from_blocks(y, spec: PartitionSpec, mesh: Mesh, global_shape):
    """The inverse of `_to_blocks` for an output with one leading dim per mesh axis (member 0
    taken along the axes its spec does not name)."""
    names = list(mesh.axis_names)
    used = _mentioned(spec)
    for j in reversed(range(len(names))):
        if names[j] not in used:
            y = lax.index_in_dim(y, 0, axis=j, keepdims=False)
    rest = [a for a in names if a in used]
    nr = len(rest)
    perm = []
    for i in range(len(global_shape)):
        perm += [rest.index(a) for a in _axes(spec, i)] + [nr + i]
    y = lax.transpose(y, tuple(perm))
    return lax.reshape(y, tuple(global_shape))


def expand(args, *, jaxpr, mesh, in_specs, out_specs, check_rep=True):
    """shard_map_p computed by plax operations on one device (any backend, any trace)."""
    import plax
    names = mesh.axis_names
    blocks = [_to_blocks(x, s, mesh) for x, s in zip(args, in_specs)]
    xs = [b for b, _ in blocks]
    mentioned = [m for _, m in blocks]

    def level(k, vals):
        if k == len(names):
            return eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *vals)
        a = names[k]
        # at this level, an argument split over axis `a` has it as its leading dim
        in_axes = tuple(0 if a in m else None for m in mentioned)
        return plax.vmap(lambda *v: level(k + 1, v), in_axes=in_axes, out_axes=0,
                         axis_name=a, axis_size=mesh.shape[a])(*vals)

    outs = level(0, xs) if names else eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *xs)
    return [_from_blocks(o, s, mesh, _unshard_shape(a, s, mesh))
            for o, s, a in zip(outs, out_specs, jaxpr.out_avals)]


def _expand_composition(*xs, **params):
    return expand(xs, **params)


# ---------------------------------------------------------------------------------------------
# jvp, transpose, partial evaluation, vmap


def _jvp(primals, tangents, *, jaxpr, mesh, in_specs, out_specs, check_rep):
    nz = [type(t) is not Zero for t in tangents]
    n = len(primals)
    t_avals = [a.update(weak_type=False) for a, z in zip(jaxpr.in_avals, nz) if z]

    def body(*args):
        ps, it = args[:n], iter(args[n:])
        ts = [next(it) if z else Zero(a) for z, a in zip(nz, jaxpr.in_avals)]
        out_p, out_t = jvp_flat(lambda *v: eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *v), ps, ts)
        return [*out_p, *[instantiate(t) for t in out_t]]

    closed, consts = _trace_body(body, [*jaxpr.in_avals, *t_avals], mesh, "jvp")
    specs = [*in_specs, *[s for s, z in zip(in_specs, nz) if z]]
    outs = _bind(consts, [*primals, *[t for t in tangents if type(t) is not Zero]],
                 jaxpr=closed, mesh=mesh, in_specs=specs, out_specs=[*out_specs, *out_specs],
                 check_rep=False)
    m = len(out_specs)
    return outs[:m], outs[m:]


def _transpose(cts, *args, jaxpr, mesh, in_specs, out_specs, check_rep):
    undef = [is_undefined(a) for a in args]
    known = [a for a, u in zip(args, undef) if not u]
    known_specs = [s for s, u in zip(in_specs, undef) if not u]
    g_out = [get_aval(c) if type(c) is not Zero else c.aval for c in cts]
    cts = [instantiate(c) if type(c) is Zero else c for c in cts]
    scaled = []
    for c, s in zip(cts, out_specs):  # a replicated output's cotangent is counted once
        k = math.prod(mesh.shape[a] for a in _unmentioned(mesh, s))
        scaled.append(c if k == 1 or get_aval(c).dtype.kind not in "fc"
                      else lax.div(c, lax.full((), k, get_aval(c).dtype)))
    ct_avals = [_shard(a, s, mesh) for a, s in zip(g_out, out_specs)]
    nk = len(known)

    def body(*vals):
        kv, cv = iter(vals[:nk]), vals[nk:]
        invals = [UndefinedPrimal(a) if u else next(kv) for a, u in zip(jaxpr.in_avals, undef)]
        res = backward_pass(jaxpr.jaxpr, jaxpr.consts, invals, list(cv))
        outs = []
        for r, a, s, u in zip(res, jaxpr.in_avals, in_specs, undef):
            if not u:
                continue
            r = instantiate(r) if type(r) is Zero else r
            if r is None:
                r = lax.full(a.shape, 0, a.dtype)
            rest = _unmentioned(mesh, s)
            outs.append(lax.psum(r, rest) if rest else r)
        return outs

    k_avals = [a for a, u in zip(jaxpr.in_avals, undef) if not u]
    closed, consts = _trace_body(body, [*k_avals, *ct_avals], mesh, "transpose")
    outs = iter(_bind(consts, [*known, *scaled], jaxpr=closed, mesh=mesh,
                      in_specs=[*known_specs, *out_specs],
                      out_specs=[s for s, u in zip(in_specs, undef) if u], check_rep=False))
    return [next(outs) if u else None for u in undef]


def _partial_eval(trace, args, params):
    jaxpr, mesh = params["jaxpr"], params["mesh"]
    in_specs, out_specs = params["in_specs"], params["out_specs"]
    unknowns = [is_unknown(trace, a) for a in args]
    known_j, unknown_j, out_uk, nres = partial_eval_jaxpr(jaxpr, unknowns)
    every = PartitionSpec(tuple(mesh.axis_names)) if mesh.axis_names else PartitionSpec()
    nk_out = len(known_j.out_avals) - nres
    res_avals = known_j.out_avals[nk_out:]

    def known_body(*xs):  # residuals get a leading unit dim: one per device, globally
        outs = eval_jaxpr(known_j.jaxpr, known_j.consts, *xs)
        return [*outs[:nk_out], *[lax.reshape(r, (1, *get_aval(r).shape))
                                  for r in outs[nk_out:]]]

    k_specs = [s for s, u in zip(in_specs, unknowns) if not u]
    kclosed, kconsts = _trace_body(known_body, known_j.in_avals, mesh, "known")
    known_out_specs = [s for s, u in zip(out_specs, out_uk) if not u]
    known_args = [a for a, u in zip(args, unknowns) if not u]
    with set_current_trace(trace.parent):
        kouts = _bind(kconsts, known_args, jaxpr=kclosed, mesh=mesh, in_specs=k_specs,
                      out_specs=[*known_out_specs, *[every] * nres], check_rep=False)
    res = kouts[nk_out:]

    def unknown_body(*xs):
        rs = [lax.reshape(r, a.shape) for r, a in zip(xs[:nres], res_avals)]
        return eval_jaxpr(unknown_j.jaxpr, unknown_j.consts, *rs, *xs[nres:])

    u_avals = [*[a.update(shape=(1, *a.shape)) for a in res_avals],
               *[a for a, u in zip(jaxpr.in_avals, unknowns) if u]]
    uclosed, uconsts = _trace_body(unknown_body, u_avals, mesh, "unknown")
    u_specs = [*[every] * nres, *[s for s, u in zip(in_specs, unknowns) if u]]
    uparams = dict(jaxpr=uclosed, mesh=mesh,
                   in_specs=(PartitionSpec(),) * len(uconsts) + tuple(u_specs),
                   out_specs=tuple(s for s, u in zip(out_specs, out_uk) if u),
                   check_rep=False)
    u_args = [*uconsts, *res, *[a for a, u in zip(args, unknowns) if u]]
    uouts = iter(JaxprTrace.process_primitive(trace, shard_map_p, u_args, uparams))
    kit = iter(kouts[:nk_out])
    return [next(uouts) if u else next(kit) for u in out_uk]


def _batch(trace, vals, dims, *, jaxpr, mesh, in_specs, out_specs, check_rep):
    size = trace.axis_size
    vals = [v if d is None else batching.moveaxis(v, d, 0) for v, d in zip(vals, dims)]
    bdims = [None if d is None else 0 for d in dims]
    specs = [s if d is None else PartitionSpec(None, *s) for s, d in zip(in_specs, dims)]
    avals = [a if d is None else a.update(shape=(size, *a.shape))
             for a, d in zip(jaxpr.in_avals, dims)]

    def body(*xs):
        return batching.batch_flat(lambda *v: eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *v), xs,
                                   bdims, size, trace.axis_name)

    closed, consts = _trace_body(body, avals, mesh, "vmap")
    outs = _bind(consts, vals, jaxpr=closed, mesh=mesh, in_specs=specs,
                 out_specs=[PartitionSpec(None, *s) for s in out_specs], check_rep=False)
    return outs, [0] * len(outs)


def register(reg) -> None:
    reg.add_jvp(shard_map_p, _jvp)
    reg.add_transpose(shard_map_p, _transpose)
    reg.add_partial_eval(shard_map_p, _partial_eval)
    reg.add_batch(shard_map_p, batching.needs_trace(_batch))
    # one-device semantics, for any backend without a rule of its own (the reference)
    reg.add_composition(shard_map_p, _expand_composition, multiple_results=True)


__all__ = ["shard_map", "smap", "Infer", "expand", "register"]
