"""plax.experimental.mesh_utils (as jax.experimental.mesh_utils): device arrays for meshes.
plax's devices carry no physical topology (no TPU torus), so a mesh is the devices in order
(sorted by id on GPUs, as JAX's) reshaped to the mesh shape."""

from __future__ import annotations

import collections
import math
import operator
from typing import Any, Sequence

import numpy as np

__all__ = ["create_device_mesh", "create_hybrid_device_mesh"]


def _axis_sizes(mesh_shape, name: str) -> tuple[int, ...]:
    try:
        sizes = tuple(operator.index(s) for s in mesh_shape)
    except TypeError:
        raise ValueError(f"`{name}` passed to `create_device_mesh` should be a sequence of "
                         f"ints. Got {mesh_shape}") from None
    if any(s < 0 for s in sizes):
        raise ValueError(f"`{name}` must hold non-negative sizes, got {mesh_shape}")
    return sizes


def create_device_mesh(mesh_shape: Sequence[int], devices: Sequence[Any] | None = None, *,
                       contiguous_submeshes: bool = False,
                       allow_split_physical_axes: bool = False) -> np.ndarray:
    """An object array of `devices` (default plax.devices()) of shape `mesh_shape`, for
    plax.sharding.Mesh. `contiguous_submeshes` and `allow_split_physical_axes` concern TPU
    topologies, which plax's devices do not describe: accepted and without effect, as JAX's
    on CPUs and GPUs."""
    if devices is None:
        import plax
        devices = plax.devices()
    devices = list(devices)
    shape = _axis_sizes(mesh_shape, "mesh_shape")
    if math.prod(shape) != len(devices):
        raise ValueError(f"Number of devices {len(devices)} must equal the product of "
                         f"mesh_shape {shape}")
    if devices and getattr(devices[-1], "platform", None) == "gpu":
        devices = sorted(devices, key=lambda d: d.id)
    out = np.empty(len(devices), dtype=object)
    out[:] = devices
    return out.reshape(shape)


def create_hybrid_device_mesh(mesh_shape: Sequence[int], dcn_mesh_shape: Sequence[int],
                              devices: Sequence[Any] | None = None, *,
                              process_is_granule: bool = False,
                              should_sort_granules_by_key: bool = True,
                              allow_split_physical_axes: bool = False) -> np.ndarray:
    """A mesh of shape mesh_shape * dcn_mesh_shape: the devices grouped into granules (by
    process_index with `process_is_granule`, else by slice_index), each granule a
    `mesh_shape` mesh, the granules laid out as `dcn_mesh_shape` blocks (as JAX's)."""
    if devices is None:
        import plax
        devices = plax.devices()
    devices = list(devices)
    dcn = _axis_sizes(dcn_mesh_shape, "dcn_mesh_shape")
    attr = "process_index" if process_is_granule else "slice_index"
    if not devices or not hasattr(devices[0], attr):
        raise ValueError(f"Device {devices[0] if devices else None} does not have attribute "
                         f"{attr}. See `process_is_granule` option.")
    groups = collections.defaultdict(list)
    for d in devices:
        groups[getattr(d, attr)].append(d)
    granules = ([groups[k] for k in sorted(groups)] if should_sort_granules_by_key
                else list(groups.values()))
    if math.prod(dcn) != len(granules):
        raise ValueError(f"Number of slices {len(granules)} must equal the product of "
                         f"dcn_mesh_shape {dcn}")
    meshes = [create_device_mesh(mesh_shape, g,
                                 allow_split_physical_axes=allow_split_physical_axes)
              for g in granules]
    blocks = np.empty(len(granules), dtype=object)
    blocks[:] = meshes
    return np.block(blocks.reshape(dcn).tolist())
