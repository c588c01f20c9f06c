"""Lowering rules of the call primitive `jit` (a func.call of a private function, lowered once
per module) and of the collectives, which need the mapped axis of a pmap being lowered:
all_reduce for psum/pmax/pmin, all_gather, collective_permute, replica_id for axis_index,
reduce_scatter, all_to_all, nothing for pcast (pbroadcast and ragged_all_to_all are
compositions of these: XLA:CPU has no collective-broadcast or ragged-all-to-all). Inside a
shard_map body the mesh axes are the axis environment
(plax_xla.lower_shard_map: the same collectives over groups of partitions)."""

from __future__ import annotations

from plax.extend import dtypes
from plax.extend import all_gather_p, axis_index_p, jit_p, pmax_p, pmin_p, ppermute_p, psum_p
from plax.lax import all_to_all_p, pcast_p, psum_scatter_p
from plax_xla import hlo
from plax_xla import lower_shard_map as mesh_lowering
from plax_xla.lowering import AxisEnv, call_closed, dense_i64


def _jit(ctx, *args, jaxpr, name, **_):
    return call_closed(ctx.b, jaxpr, name, args)


def axis_env(ctx, prim, names) -> AxisEnv:
    env = ctx.module.axis_env
    unbound = [n for n in names if env is None or n != env.name]
    if unbound:
        where = (f"inside pmap over axis '{env.name}'" if env is not None
                 else "outside pmap (the xla backend runs collectives only under pmap)")
        raise NameError(f"unbound axis name: {unbound[0]} (in '{prim.name}', {where}); "
                        "collectives must run inside pmap or vmap with axis_name set to it")
    return env


def _groups(env: AxisEnv, axis_index_groups):
    if axis_index_groups is None:
        return [list(range(env.size))]
    return [list(g) for g in axis_index_groups]


def _all_reduce(kind: str):
    def rule(ctx, *xs, axes, axis_index_groups=None):
        b = ctx.b
        if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
            if axis_index_groups is not None:
                raise NotImplementedError(f"{ctx.prim.name} with axis_index_groups in shard_map")
            return mesh_lowering.all_reduce(ctx, ctx.module.axis_env, kind, xs, axes)
        env = axis_env(ctx, ctx.prim, axes)
        groups = hlo.replica_groups(_groups(env, axis_index_groups))
        # one all_reduce per dtype, over all its operands: one exchange, not one per operand
        # (across processes each is a network round trip)
        by_dtype: dict = {}
        for i, x in enumerate(xs):
            by_dtype.setdefault(x.dtype, []).append(i)
        outs: list = [None] * len(xs)
        for dtype, idx in by_dtype.items():
            name = "stablehlo.or" if dtype == dtypes.bool_ and kind == "stablehlo.add" else kind
            region = b.region([((), dtype)] * 2, hlo.binary_region(name))
            ops = [xs[i] for i in idx]
            res = b.op("stablehlo.all_reduce", ops, [(x.shape, x.dtype) for x in ops],
                       attrs=f"replica_groups = {groups}", regions=[region])
            for i, r in zip(idx, res):
                outs[i] = r
        return outs
    return rule


def _all_gather(ctx, x, *, axis_name, all_gather_dimension, tiled, axis_size=None):
    b = ctx.b
    if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        return mesh_lowering.all_gather(ctx, ctx.module.axis_env, x, axis_name,
                                        all_gather_dimension, tiled)
    env = axis_env(ctx, ctx.prim, (axis_name,))
    d = all_gather_dimension
    if not tiled:
        x = hlo.reshape(b, x, x.shape[:d] + (1,) + x.shape[d:])
    shape = x.shape[:d] + (x.shape[d] * env.size,) + x.shape[d + 1:]
    groups = hlo.replica_groups(_groups(env, None))
    return b.op1("stablehlo.all_gather", [x], shape, x.dtype,
                 attrs=f"all_gather_dim = {d} : i64, replica_groups = {groups}")


def _ppermute(ctx, x, *, axis_name, perm):
    b = ctx.b
    if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        return mesh_lowering.ppermute(ctx, ctx.module.axis_env, x, axis_name, perm)
    env = axis_env(ctx, ctx.prim, (axis_name,))
    for s, t in perm:
        if not (0 <= s < env.size and 0 <= t < env.size):
            raise ValueError(f"ppermute perm {perm} has an index outside the axis of size "
                             f"{env.size}")
    if not perm:
        return hlo.full_like(b, 0, x)
    # cross-replica (no channel handle): a channel makes XLA treat it as cross-partition
    return b.op1("stablehlo.collective_permute", [x],
                 attrs=f"source_target_pairs = {dense_i64(perm)}")


def replica_index(b):
    rid = b.op1("stablehlo.replica_id", [], (), dtypes.uint32)
    return hlo.convert(b, rid, dtypes.int32)


def _axis_index(ctx, *, axis_name):
    if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        return mesh_lowering.axis_index(ctx, ctx.module.axis_env, axis_name)
    axis_env(ctx, ctx.prim, (axis_name,))
    return replica_index(ctx.b)


def _psum_scatter(ctx, x, *, axis_name, scatter_dimension, axis_size=None):
    b = ctx.b
    if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        return mesh_lowering.psum_scatter(ctx, ctx.module.axis_env, x, axis_name,
                                          scatter_dimension)
    env = axis_env(ctx, ctx.prim, (axis_name,))
    d = scatter_dimension
    shape = x.shape[:d] + (x.shape[d] // env.size,) + x.shape[d + 1:]
    region = b.region([((), x.dtype)] * 2, hlo.binary_region(
        "stablehlo.or" if x.dtype == dtypes.bool_ else "stablehlo.add"))
    return b.op1("stablehlo.reduce_scatter", [x], shape, x.dtype,
                 attrs=f"scatter_dimension = {d} : i64, replica_groups = "
                       f"{hlo.replica_groups(_groups(env, None))}", regions=[region])


def _all_to_all(ctx, x, *, axis_name, split_axis, concat_axis, axis_size=None):
    if isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        return mesh_lowering.all_to_all(ctx, ctx.module.axis_env, x, axis_name, split_axis,
                                        concat_axis)
    env = axis_env(ctx, ctx.prim, (axis_name,))
    shape = list(x.shape)
    shape[split_axis] //= env.size
    shape[concat_axis] *= env.size
    return ctx.b.op1("stablehlo.all_to_all", [x], tuple(shape), x.dtype,
                     attrs=f"split_dimension = {split_axis} : i64, concat_dimension = "
                           f"{concat_axis} : i64, split_count = {env.size} : i64, "
                           f"replica_groups = {hlo.replica_groups(_groups(env, None))}")


def _pcast(ctx, x, *, axes, to):
    if not isinstance(ctx.module.axis_env, mesh_lowering.MeshEnv):
        axis_env(ctx, ctx.prim, axes)
    return x


RULES = {
    jit_p: _jit,
    psum_p: _all_reduce("stablehlo.add"),
    pmax_p: _all_reduce("stablehlo.maximum"),
    pmin_p: _all_reduce("stablehlo.minimum"),
    all_gather_p: _all_gather,
    ppermute_p: _ppermute,
    axis_index_p: _axis_index,
    psum_scatter_p: _psum_scatter,
    all_to_all_p: _all_to_all,
    pcast_p: _pcast,
}
