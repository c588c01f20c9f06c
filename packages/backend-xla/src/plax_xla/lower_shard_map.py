"""Lowering of `shard_map` in a program partitioned over a mesh (as XLA's SPMD partitioner
expects manual regions): each input goes through `@Sharding` (its layout) and
`@SPMDFullToShardShape` (manual: one shard's shape), the body is a private function whose
collectives run over groups of partitions (channel handles, global device ids), and each output
comes back through `@Sharding {manual}` and `@SPMDShardToFullShape` (its out_spec's layout).

In a one-device program (no mesh devices) shard_map is lowered as its composition: the body
vmapped over the mesh axes."""

from __future__ import annotations

import itertools

import numpy as np

from plax.extend import dtypes
from plax.extend import registry as plax_registry
from plax.lax import shard_map_p
from plax.sharding import NamedSharding
from plax_xla import hlo
from plax_xla.lower_sharding import sharding_call
from plax_xla.lowering import call_closed, dense_i64


class MeshEnv:
    """The mesh axes the collectives of a shard_map body being lowered run over."""

    __slots__ = ("mesh", "spmd", "_partition")

    def __init__(self, mesh, spmd):
        self.mesh, self.spmd = mesh, spmd
        self._partition = np.vectorize(lambda d: spmd.index[d], otypes=[np.int64])(mesh.devices)

    def size(self, axes) -> int:
        return int(np.prod([self.mesh.shape[a] for a in axes]))

    def groups(self, axes) -> list[list[int]]:
        """Partition ids that differ only along `axes` (ordered as `axes`, major first)."""
        names = list(self.mesh.axis_names)
        for a in axes:
            if a not in names:
                raise NameError(f"unbound axis name: {a} (mesh axes {tuple(names)})")
        keep = [names.index(a) for a in names if a not in axes]
        perm = keep + [names.index(a) for a in axes]
        p = self._partition.transpose(perm)
        return p.reshape(-1, self.size(axes)).tolist()

    def coordinate_table(self, axis) -> np.ndarray:
        """table[partition id] = that partition's index along `axis`."""
        k = list(self.mesh.axis_names).index(axis)
        out = np.zeros(self.spmd.devices.__len__(), np.int32)
        for pos in np.ndindex(*self._partition.shape):
            out[self._partition[pos]] = pos[k]
        return out


def _channel(module) -> str:
    counter = getattr(module, "_channels", None)
    if counter is None:
        counter = module._channels = itertools.count(1)
    return f"channel_handle = #stablehlo.channel_handle<handle = {next(counter)}, type = 1>"


def _cross(ctx, groups, global_ids: bool = True) -> str:
    attrs = f"{_channel(ctx.module)}, replica_groups = {hlo.replica_groups(groups)}"
    return attrs + (", use_global_device_ids" if global_ids else "")


def all_reduce(ctx, env: MeshEnv, kind: str, xs, axes):
    b = ctx.b
    outs = []
    for x in xs:
        name = "stablehlo.or" if x.dtype == dtypes.bool_ and kind == "stablehlo.add" else kind
        region = b.region([((), x.dtype)] * 2, hlo.binary_region(name))
        outs.append(b.op1("stablehlo.all_reduce", [x], attrs=_cross(ctx, env.groups(axes)),
                          regions=[region]))
    return outs


def all_gather(ctx, env: MeshEnv, x, axis_name, d: int, tiled: bool):
    b = ctx.b
    n = env.size((axis_name,))
    if not tiled:
        x = hlo.reshape(b, x, x.shape[:d] + (1,) + x.shape[d:])
    shape = x.shape[:d] + (x.shape[d] * n,) + x.shape[d + 1:]
    return b.op1("stablehlo.all_gather", [x], shape, x.dtype,
                 attrs=f"all_gather_dim = {d} : i64, " + _cross(ctx, env.groups((axis_name,))))


def ppermute(ctx, env: MeshEnv, x, axis_name, perm):
    n = env.size((axis_name,))
    for s, t in perm:
        if not (0 <= s < n and 0 <= t < n):
            raise ValueError(f"ppermute perm {perm} has an index outside the axis "
                             f"'{axis_name}' of size {n}")
    if not perm:
        return hlo.full_like(ctx.b, 0, x)
    pairs = [[g[s], g[t]] for g in env.groups((axis_name,)) for s, t in perm]
    return ctx.b.op1("stablehlo.collective_permute", [x],
                     attrs=f"{_channel(ctx.module)}, source_target_pairs = {dense_i64(pairs)}")


def axis_index(ctx, env: MeshEnv, axis_name):
    b = ctx.b
    table = b.const(env.coordinate_table(axis_name))
    pid = hlo.convert(b, b.op1("stablehlo.partition_id", [], (), dtypes.uint32), dtypes.int32)
    one = b.op1("stablehlo.dynamic_slice", [table, pid], (1,), dtypes.int32,
                attrs="slice_sizes = array<i64: 1>")
    return hlo.reshape(b, one, ())


def psum_scatter(ctx, env: MeshEnv, x, axis_name, d: int):
    b = ctx.b
    n = env.size((axis_name,))
    shape = x.shape[:d] + (x.shape[d] // n,) + x.shape[d + 1:]
    name = "stablehlo.or" if x.dtype == dtypes.bool_ else "stablehlo.add"
    region = b.region([((), x.dtype)] * 2, hlo.binary_region(name))
    return b.op1("stablehlo.reduce_scatter", [x], shape, x.dtype,
                 attrs=f"scatter_dimension = {d} : i64, "
                       + _cross(ctx, env.groups((axis_name,))), regions=[region])


def all_to_all(ctx, env: MeshEnv, x, axis_name, split: int, concat: int):
    n = env.size((axis_name,))
    shape = list(x.shape)
    shape[split] //= n
    shape[concat] *= n
    return ctx.b.op1("stablehlo.all_to_all", [x], tuple(shape), x.dtype,
                     attrs=f"split_dimension = {split} : i64, concat_dimension = {concat} : i64, "
                           f"split_count = {n} : i64, "
                           + _cross(ctx, env.groups((axis_name,)), global_ids=False))


def _shard_shape(shape, spec, mesh):
    out = []
    for i, n in enumerate(shape):
        out.append(n // int(np.prod([mesh.shape[a] for a in spec._axes(i)])))
    return tuple(out)


def _shard_map(ctx, *args, jaxpr, mesh, in_specs, out_specs, check_rep):
    module = ctx.module
    spmd = module.spmd
    if spmd is None or mesh.size < 2:  # one device: the body vmapped over the mesh axes
        comp = plax_registry.get_rule("composition", shard_map_p)
        return call_closed(ctx.b, comp.jaxpr(ctx.avals_in, dict(
            jaxpr=jaxpr, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
            check_rep=check_rep)), "shard_map", args)
    b = ctx.b
    ins = []
    for x, spec in zip(args, in_specs):
        full = spmd.sharding_text(NamedSharding(mesh, spec), x.ndim)
        x = sharding_call(b, x, full)
        ins.append(sharding_call(b, x, "{manual}", "SPMDFullToShardShape",
                                 _shard_shape(x.shape, spec, mesh)))
    saved = module.axis_env
    module.axis_env = MeshEnv(mesh, spmd)
    try:
        outs = call_closed(b, jaxpr, "shmap_body", ins)
    finally:
        module.axis_env = saved
    results = []
    for o, spec, aval in zip(outs, out_specs, ctx.avals_out):
        o = sharding_call(b, o, "{manual}")
        full = spmd.sharding_text(NamedSharding(mesh, spec), aval.ndim if hasattr(aval, "ndim")
                                  else len(aval.shape))
        results.append(sharding_call(b, o, full, "SPMDShardToFullShape", tuple(aval.shape)))
    return results


RULES = {shard_map_p: _shard_map}
