"""Helpers for programs run by many processes (as jax.experimental.multihost_utils):
`process_allgather` gives every process the global value of an Array spanning processes, or
every process's local values stacked. It runs a partitioned program (a collective): every
process must call it, in the same order."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["process_allgather"]


def process_allgather(in_tree: Any, tiled: bool = False) -> Any:
    """For each leaf: an Array spanning processes -> its global value (NumPy); anything
    else (this process's data) -> every process's values stacked along a new leading axis
    (process order), or concatenated along axis 0 with `tiled=True`."""
    from plax.tree_util import tree_map
    return tree_map(lambda x: _gather(x, tiled), in_tree)


def _gather(x, tiled: bool) -> np.ndarray:
    import plax
    from plax._src.array import Array
    from plax.sharding import Mesh, NamedSharding, PartitionSpec, sharding_devices
    if type(x) is Array and not x.sharding.is_fully_addressable:
        s = x.sharding
        mesh = s.mesh if isinstance(s, NamedSharding) else Mesh(
            np.array(sharding_devices(s), dtype=object), ("devices",))
        return np.asarray(_replicate(NamedSharding(mesh, PartitionSpec()))(x))
    local = np.asarray(x)
    backend = x.backend if type(x) is Array else None
    if plax.process_count(backend) == 1:
        return np.array(local) if tiled else local[None]
    if tiled and local.ndim == 0:
        raise ValueError("process_allgather(tiled=True): a 0-d value cannot be concatenated; "
                         "use tiled=False")
    by_process: dict = {}
    for d in plax.devices(backend):
        by_process.setdefault(d.process_index, []).append(d)
    n = min(len(v) for v in by_process.values())
    grid = np.empty((len(by_process), n), dtype=object)
    for p in sorted(by_process):
        grid[p, :] = by_process[p][:n]
    mesh = Mesh(grid, ("processes", "local"))
    stacked = plax.make_array_from_process_local_data(
        NamedSharding(mesh, PartitionSpec("processes")), local[None])
    out = np.asarray(_replicate(NamedSharding(mesh, PartitionSpec()))(stacked))
    return out.reshape((-1,) + out.shape[2:]) if tiled else out


_copies: dict = {}


def _replicate(sharding):
    """A jitted identity whose output is laid out by `sharding` (kept per sharding)."""
    import plax
    f = _copies.get(sharding)
    if f is None:
        f = _copies[sharding] = plax.jit(lambda a: a, out_shardings=sharding)
    return f
