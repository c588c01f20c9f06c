"""`shard_map_p`: a per-shard program over a mesh (manual SPMD). Its params: `jaxpr`, the body
on one shard's values; `mesh`; `in_specs` / `out_specs`, one PartitionSpec per input / output
(which mesh axes split which dimension; the other axes see the whole value); `check_rep`.

The global shapes are the shard shapes times the axis sizes in the specs. plax-transforms
defines `plax.shard_map` and the rules (and the one-device execution: the body vmapped over
every mesh axis, with the collectives resolved over those axes); the xla backend lowers it to a
manual region of a partitioned program."""

from __future__ import annotations

import math

from plax._src.core import Primitive, ShapedArray
from plax._src.registry import add_abstract_eval

__all__ = ["shard_map_p", "unshard_aval"]

shard_map_p = Primitive("shard_map", multiple_results=True)


def _factors(mesh, spec, ndim: int) -> list[int]:
    if len(spec) > ndim:
        raise ValueError(f"shard_map: spec {spec!r} has {len(spec)} entries for a value of "
                         f"rank {ndim}")
    return [math.prod(mesh.shape[a] for a in spec._axes(i)) for i in range(ndim)]


def unshard_aval(aval, spec, mesh) -> ShapedArray:
    """The global aval of per-shard values laid out by `spec`."""
    f = _factors(mesh, spec, len(aval.shape))
    return ShapedArray(tuple(n * k for n, k in zip(aval.shape, f)), aval.dtype,
                       aval.weak_type)


def _abstract(*avals, jaxpr, mesh, in_specs, out_specs, check_rep):
    return [unshard_aval(a, s, mesh) for a, s in zip(jaxpr.out_avals, out_specs)]


add_abstract_eval(shard_map_p, _abstract)
