"""How an array is laid out over devices (as jax.sharding): a `Mesh` names the axes of an
n-d grid of devices, a `PartitionSpec` maps each array dimension to mesh axes, and a
`NamedSharding(mesh, spec)` says which slice of a global array each device holds.

This module is pure bookkeeping (no backend is touched): shard shapes, device -> index maps,
validation with errors naming the spec, the mesh and the dimension, and a text picture of the
layout. Backends read `devices_indices_map` to place shards and `tile_assignment` to tell a
compiler's partitioner the same layout.
"""

from __future__ import annotations

import collections
import enum
import math
from typing import Any, Sequence

import numpy as np

__all__ = ["Mesh", "PartitionSpec", "P", "Sharding", "NamedSharding", "SingleDeviceSharding",
           "make_mesh", "use_mesh", "DuplicateSpecError", "IndivisibleError", "visualize_sharding",
           "Shard", "TiledSharding", "xla_sharding_text", "sharding_from_tiles", "AxisType",
           "set_mesh", "Infer"]


class DuplicateSpecError(ValueError):
    """A mesh axis appears twice in one PartitionSpec."""


class IndivisibleError(ValueError):
    """A dimension is not divisible by the number of shards the spec splits it into."""


# ---------------------------------------------------------------------------------------------
# Mesh


class AxisType(enum.Enum):
    """How a mesh axis is partitioned (as jax.sharding.AxisType). plax records it; programs
    are partitioned by XLA's propagation for Auto and Explicit axes alike (no sharding in the
    types: values, and the layouts reshard/with_sharding_constraint ask for, are the same)."""
    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()

    def __repr__(self):
        return self.name


def _axis_types(axis_types, n: int, default: AxisType, what: str) -> tuple:
    if axis_types is None:
        return (default,) * n
    if isinstance(axis_types, AxisType):
        axis_types = (axis_types,)
    axis_types = tuple(axis_types)
    if len(axis_types) != n or not all(isinstance(t, AxisType) for t in axis_types):
        raise ValueError(f"{what}: axis_types must be {n} jax-style AxisType values "
                         f"(plax.sharding.AxisType), one per axis; got {axis_types!r}")
    return axis_types


class Mesh:
    """An n-d array of devices with a name per axis: `Mesh(np.array(devs).reshape(2, 2),
    ("data", "model"))`. Usable as a context manager (`with mesh:`) that makes it the mesh
    bare PartitionSpecs refer to."""

    __slots__ = ("devices", "axis_names", "axis_types", "_hash")

    def __init__(self, devices: Any, axis_names: str | Sequence[str],
                 axis_types: AxisType | Sequence[AxisType] | None = None):
        if isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        devs = np.array(devices, dtype=object) if not isinstance(devices, np.ndarray) \
            else devices
        if devs.ndim != len(axis_names):
            raise ValueError(
                f"Mesh: devices has {devs.ndim} dimension(s) (shape {devs.shape}) but "
                f"{len(axis_names)} axis name(s) were given: {axis_names}")
        for n in axis_names:
            if not isinstance(n, str):
                raise TypeError(f"Mesh: axis names must be strings, got {n!r}")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"Mesh: axis names must be unique, got {axis_names}")
        flat = list(devs.flat)
        if len(set(flat)) != len(flat):
            raise ValueError("Mesh: a device appears more than once in the devices array")
        self.devices = devs
        self.axis_names = axis_names
        self.axis_types = _axis_types(axis_types, len(axis_names), AxisType.Auto, "Mesh")
        self._hash = hash((tuple(flat), devs.shape, axis_names))

    @property
    def shape(self) -> collections.OrderedDict:
        return collections.OrderedDict(zip(self.axis_names, self.devices.shape))

    @property
    def axis_sizes(self) -> tuple[int, ...]:
        return tuple(self.devices.shape)

    @property
    def size(self) -> int:
        return int(self.devices.size)

    @property
    def empty(self) -> bool:
        return self.devices.size == 0

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    def _axes_of(self, kind: AxisType) -> tuple:
        return tuple(n for n, t in zip(self.axis_names, self.axis_types) if t is kind)

    @property
    def explicit_axes(self) -> tuple:
        return self._axes_of(AxisType.Explicit)

    @property
    def auto_axes(self) -> tuple:
        return self._axes_of(AxisType.Auto)

    @property
    def manual_axes(self) -> tuple:
        return self._axes_of(AxisType.Manual)

    @property
    def local_devices(self) -> list:
        return list(self.devices.flat)

    def __eq__(self, other):
        return (isinstance(other, Mesh) and self.axis_names == other.axis_names
                and self.devices.shape == other.devices.shape
                and list(self.devices.flat) == list(other.devices.flat))

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"Mesh(axis_sizes={self.axis_sizes}, axis_names={self.axis_names})"

    def _short(self) -> str:
        return "Mesh(" + ", ".join(f"'{n}': {s}" for n, s in self.shape.items()) + ")"

    def __enter__(self):
        _mesh_stack.append(self)
        return self

    def __exit__(self, *exc):
        _mesh_stack.pop()
        return False


_mesh_stack: list[Mesh] = []


def get_mesh() -> Mesh | None:
    """The mesh of the innermost `with mesh:` block (None outside one)."""
    return _mesh_stack[-1] if _mesh_stack else None


def use_mesh(mesh: Mesh) -> Mesh:
    """`with use_mesh(mesh):` (as jax.sharding.use_mesh) is `with mesh:`."""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"use_mesh: expected a Mesh, got {mesh!r}")
    return mesh


class _Infer:
    """smap's default in_axes: the mapped axes read from the arguments' shardings."""

    def __repr__(self):
        return "plax.sharding.Infer"


Infer = _Infer()


class set_mesh:
    """Make `mesh` the current mesh (as jax.set_mesh): bare PartitionSpecs (`reshard`,
    `with_sharding_constraint`, jit's shardings, `device_put`) and shard_map/smap without a
    mesh use it. A global setter (`plax.set_mesh(mesh)`, `plax.set_mesh(None)` to clear) and a
    context manager (`with plax.set_mesh(mesh):`, the previous mesh back on exit). Only
    outside jit."""

    __slots__ = ("_prev",)

    def __init__(self, mesh: Mesh | None):
        if mesh is not None and not isinstance(mesh, Mesh):
            raise ValueError(f"Expected mesh of type `plax.sharding.Mesh`. Got {type(mesh)}")
        if mesh is not None and mesh.manual_axes:
            raise ValueError(f"mesh {mesh} contains manual axes {mesh.manual_axes}, which "
                             "set_mesh does not allow; use shard_map to make axes manual")
        from plax._src.core import EVAL_TRACE, current_trace
        if current_trace() is not EVAL_TRACE:
            raise ValueError("`set_mesh` can only be used outside of `jit` (and other "
                             "transformations)")
        self._prev = list(_mesh_stack)
        _mesh_stack[:] = [] if mesh is None else [mesh]

    def __enter__(self):
        return _mesh_stack[-1] if _mesh_stack else None

    def __exit__(self, *exc):
        _mesh_stack[:] = self._prev
        return False


def make_mesh(axis_shapes: Sequence[int], axis_names: Sequence[str], *,
              devices: Sequence[Any] | None = None,
              axis_types: AxisType | Sequence[AxisType] | None = None) -> Mesh:
    """A mesh of `prod(axis_shapes)` devices (the default backend's, or `devices`) in order;
    its axes Explicit unless `axis_types` says otherwise (as jax.make_mesh)."""
    axis_shapes = tuple(int(s) for s in axis_shapes)
    if isinstance(axis_names, str):
        axis_names = (axis_names,)
    if len(axis_shapes) != len(axis_names):
        raise ValueError(f"make_mesh: {len(axis_shapes)} axis shape(s) {axis_shapes} but "
                         f"{len(axis_names)} axis name(s) {tuple(axis_names)}")
    if devices is None:
        from plax._src.api import devices as _devices
        devices = _devices()
    devices = list(devices)
    need = math.prod(axis_shapes)
    if need > len(devices) or need <= 0:
        raise ValueError(
            f"make_mesh: axis shapes {axis_shapes} need {need} devices, but {len(devices)} "
            f"are available ({devices}); on CPU, set PLAX_XLA_CPU_DEVICES (or XLA_FLAGS="
            "--xla_force_host_platform_device_count=N) before the backend starts")
    arr = np.empty(len(devices[:need]), dtype=object)
    arr[:] = devices[:need]
    types = _axis_types(axis_types, len(axis_shapes), AxisType.Explicit, "make_mesh")
    return Mesh(arr.reshape(axis_shapes), tuple(axis_names), types)


# ---------------------------------------------------------------------------------------------
# PartitionSpec


class _Unconstrained:
    def __repr__(self):
        return "UNCONSTRAINED"


class PartitionSpec(tuple):
    """One entry per leading array dimension: None (replicated along it), a mesh axis name,
    or a tuple of names (split over their product, major to minor). Missing trailing entries
    mean None."""

    UNCONSTRAINED = _Unconstrained()

    def __new__(cls, *partitions):
        for p in partitions:
            ok = (p is None or isinstance(p, str) or p is cls.UNCONSTRAINED
                  or (isinstance(p, tuple) and all(isinstance(q, str) for q in p)))
            if not ok:
                raise TypeError(
                    f"PartitionSpec entries are None, a mesh axis name or a tuple of names; "
                    f"got {p!r} in PartitionSpec{partitions!r}")
        return tuple.__new__(cls, partitions)

    def __repr__(self):
        return "P(" + ", ".join(repr(p) for p in self) + ")"

    def __eq__(self, other):
        # as JAX: trailing Nones do not matter, and a bare tuple is not a PartitionSpec
        if not isinstance(other, PartitionSpec):
            return False
        return _normalized(self) == _normalized(other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(_normalized(self))

    def _axes(self, i: int) -> tuple[str, ...]:
        p = self[i] if i < len(self) else None
        if p is None or p is self.UNCONSTRAINED:
            return ()
        return (p,) if isinstance(p, str) else tuple(p)


def _normalized(spec: Sequence) -> tuple:
    out = [tuple(p) if isinstance(p, list) else p for p in spec]
    out = [p[0] if isinstance(p, tuple) and len(p) == 1 else p for p in out]
    while out and out[-1] is None:
        out.pop()
    return tuple(out)


P = PartitionSpec


# ---------------------------------------------------------------------------------------------
# Shardings


def _is_local(device) -> bool:
    """Whether `device` belongs to this process (every device does outside plax.distributed;
    objects that are not plax Devices count as local)."""
    return getattr(device, "process_index", 0) == _process_of(device)


def _process_of(device) -> int:
    """This process's index on `device`'s backend (0 without plax.distributed)."""
    from plax._src import distributed
    if not distributed.is_initialized() or not hasattr(device, "backend_name"):
        return 0
    from plax._src import registry
    return registry.get_backend(device.backend_name).process_index()


class Sharding:
    """Where the pieces of a global array live. Subclasses give `device_set`,
    `devices_indices_map(shape)` and `shard_shape(shape)`."""

    @property
    def device_set(self) -> set:
        raise NotImplementedError

    @property
    def num_devices(self) -> int:
        return len(self.device_set)

    @property
    def addressable_devices(self) -> set:
        """The devices of this process (with plax.distributed, a subset of device_set)."""
        return {d for d in self.device_set if _is_local(d)}

    @property
    def is_fully_replicated(self) -> bool:
        raise NotImplementedError

    @property
    def is_fully_addressable(self) -> bool:
        return all(_is_local(d) for d in self.device_set)

    @property
    def memory_kind(self) -> str:
        return "device"

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        raise NotImplementedError

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        raise NotImplementedError

    def addressable_devices_indices_map(self, global_shape: Sequence[int]) -> dict:
        return {d: i for d, i in self.devices_indices_map(global_shape).items()
                if _is_local(d)}

    def is_equivalent_to(self, other: "Sharding", ndim: int) -> bool:
        shape = (4 * 3 * 5 * 7,) * ndim  # divisible by any small mesh
        try:
            return (self.device_set == other.device_set and
                    _index_key(self.devices_indices_map(shape), shape)
                    == _index_key(other.devices_indices_map(shape), shape))
        except ValueError:
            return False


def _index_key(m: dict, shape) -> dict:
    return {d: tuple((s.start or 0, n if s.stop is None else s.stop)
                     for s, n in zip(idx, shape)) for d, idx in m.items()}


class SingleDeviceSharding(Sharding):
    """The whole array on one device."""

    __slots__ = ("_device",)

    def __init__(self, device):
        self._device = device

    @property
    def device_set(self) -> set:
        return {self._device}

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def devices_indices_map(self, global_shape):
        return {self._device: tuple(slice(None) for _ in global_shape)}

    def shard_shape(self, global_shape):
        return tuple(global_shape)

    def __eq__(self, other):
        return isinstance(other, SingleDeviceSharding) and other._device == self._device

    def __hash__(self):
        return hash(("single", self._device))

    def __repr__(self):
        return f"SingleDeviceSharding(device={self._device!r})"


class NamedSharding(Sharding):
    """`NamedSharding(mesh, P("data", None))`: dimension 0 split over the mesh axis "data",
    dimension 1 whole; mesh axes the spec does not name replicate the array."""

    __slots__ = ("mesh", "spec", "_hash")

    def __init__(self, mesh: Mesh, spec: PartitionSpec | Sequence | None = None):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"NamedSharding: mesh must be a plax.sharding.Mesh, got "
                            f"{type(mesh).__name__}")
        if spec is None:
            spec = PartitionSpec()
        elif not isinstance(spec, PartitionSpec):
            if not isinstance(spec, (tuple, list)):
                raise TypeError(f"NamedSharding: spec must be a PartitionSpec, got {spec!r}")
            spec = PartitionSpec(*spec)
        seen: dict[str, int] = {}
        for i in range(len(spec)):
            for a in spec._axes(i):
                if a not in mesh.axis_names:
                    raise ValueError(f"NamedSharding: mesh axis '{a}' of {spec!r} (dimension "
                                     f"{i}) is not in the mesh {mesh.axis_names}")
                if a in seen:
                    raise DuplicateSpecError(
                        f"NamedSharding: {spec!r} uses mesh axis '{a}' for dimensions "
                        f"{seen[a]} and {i}; each mesh axis may split at most one dimension")
                seen[a] = i
        self.mesh, self.spec = mesh, spec
        self._hash = hash((mesh, spec))

    @property
    def device_set(self) -> set:
        return set(self.mesh.devices.flat)

    @property
    def is_fully_replicated(self) -> bool:
        return all(self.mesh.shape[a] == 1 for i in range(len(self.spec))
                   for a in self.spec._axes(i))

    def _check_rank(self, global_shape) -> None:
        if len(self.spec) > len(global_shape):
            raise ValueError(
                f"{self!r} has {len(self.spec)} entries in its spec but the array has rank "
                f"{len(global_shape)} (shape {tuple(global_shape)})")

    def _factors(self, global_shape) -> list[int]:
        self._check_rank(global_shape)
        mshape = self.mesh.shape
        factors = [math.prod(mshape[a] for a in self.spec._axes(i))
                   for i in range(len(global_shape))]
        for i, (n, f) in enumerate(zip(global_shape, factors)):
            if n % f:
                raise IndivisibleError(
                    f"{self!r} splits array dimension {i} into {f} shards, but its size is "
                    f"{n} (shape {tuple(global_shape)}); the size must be divisible by {f}")
        return factors

    def shard_shape(self, global_shape) -> tuple[int, ...]:
        factors = self._factors(global_shape)
        return tuple(n // f for n, f in zip(global_shape, factors))

    def devices_indices_map(self, global_shape) -> dict:
        shard = self.shard_shape(global_shape)
        names = self.mesh.axis_names
        sizes = self.mesh.shape
        out = {}
        for pos in np.ndindex(*self.mesh.devices.shape):
            coord = dict(zip(names, pos))
            idx = []
            for i in range(len(global_shape)):
                axes = self.spec._axes(i)
                if not axes:
                    idx.append(slice(None))
                    continue
                k = 0
                for a in axes:  # major to minor
                    k = k * sizes[a] + coord[a]
                idx.append(slice(k * shard[i], (k + 1) * shard[i]))
            out[self.mesh.devices[pos]] = tuple(idx)
        return out

    def tile_assignment(self, ndim: int) -> tuple[list[int], list[int], bool]:
        """(tile dims per array dimension [+ a replication dim], device positions in tile
        order (indices into the mesh's flattened devices), whether the last tile dim is
        replication): what XLA's `devices=[...]` sharding attribute says."""
        sizes = self.mesh.shape
        names = self.mesh.axis_names
        used = [a for i in range(ndim) for a in self.spec._axes(i)]
        rest = [a for a in names if a not in used]
        dims = [math.prod(sizes[a] for a in self.spec._axes(i)) for i in range(ndim)]
        rep = math.prod(sizes[a] for a in rest)
        order = used + rest  # mesh axes in tile order
        perm = [names.index(a) for a in order]
        ids = np.arange(self.mesh.size).reshape(self.mesh.axis_sizes).transpose(perm)
        last_rep = rep > 1
        return dims + ([rep] if last_rep else []), [int(i) for i in ids.flat], last_rep

    def __eq__(self, other):
        return (isinstance(other, NamedSharding) and self.mesh == other.mesh
                and self.spec == other.spec)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"NamedSharding(mesh={self.mesh._short()}, spec={self.spec!r})"


# ---------------------------------------------------------------------------------------------
# A text picture of a 1-d or 2-d layout


def visualize_sharding(shape: Sequence[int], sharding: Sharding) -> str:
    """A grid of the array's blocks, each naming the devices that hold it (as
    jax.debug.visualize_array_sharding, in plain text)."""
    shape = tuple(shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"visualize_sharding: only 1-d and 2-d arrays, got shape {shape}")
    shape2 = shape if len(shape) == 2 else (1, shape[0])
    blocks: dict[tuple, list] = {}
    for dev, idx in sharding.devices_indices_map(shape).items():
        idx2 = idx if len(shape) == 2 else (slice(None),) + tuple(idx)
        key = tuple((s.start or 0, shape2[k] if s.stop is None else s.stop)
                    for k, s in enumerate(idx2))
        blocks.setdefault(key, []).append(dev)
    rows = sorted({k[0] for k in blocks})
    cols = sorted({k[1] for k in blocks})
    labels = {k: ",".join(str(getattr(d, "id", d)) for d in sorted(
        v, key=lambda d: getattr(d, "id", 0))) for k, v in blocks.items()}
    width = max(len(f"dev {s}") for s in labels.values()) + 2
    sep = "+" + "+".join("-" * width for _ in cols) + "+"
    lines = [sep]
    for r in rows:
        cells = [f"dev {labels[(r, c)]}".center(width) for c in cols]
        lines.append("|" + "|".join(cells) + "|")
        lines.append(sep)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Shards of an Array, and the XLA sharding text of a layout


class Shard:
    """One device's piece of an Array (`x.addressable_shards`): the device, the index (a tuple
    of slices into the global array) and the piece itself as a one-device Array (`data`)."""

    __slots__ = ("device", "index", "replica_id", "data")

    def __init__(self, device, index, replica_id: int, data):
        self.device, self.index, self.replica_id, self.data = device, index, replica_id, data

    def __repr__(self):
        return (f"Shard(device={self.device!r}, index={self.index}, replica_id="
                f"{self.replica_id}, data={self.data.aval.str_short()})")


def replica_ids(sharding: Sharding, shape) -> dict:
    """device -> how many devices before it (in device-set order) hold the same slice."""
    seen: dict = {}
    out = {}
    for d, idx in sharding.devices_indices_map(tuple(shape)).items():
        key = tuple((s.start, s.stop) for s in idx)
        out[d] = seen.get(key, 0)
        seen[key] = out[d] + 1
    return out


def sharding_devices(sharding: Sharding) -> list:
    """The devices of a sharding in a fixed order: a mesh's in row-major order."""
    if isinstance(sharding, NamedSharding):
        return list(sharding.mesh.devices.flat)
    if isinstance(sharding, TiledSharding):
        return list(sharding.devices)
    return sorted(sharding.device_set, key=lambda d: getattr(d, "id", 0))


class TiledSharding(Sharding):
    """A layout given as XLA gives it (as jax's GSPMDSharding): tile counts per dimension
    (plus a trailing replication count), the devices in tile order, over a device list. What
    a partitioned program's output has when no mesh spec describes it."""

    __slots__ = ("devices", "dims", "order", "last_rep")

    def __init__(self, devices, dims, order, last_rep: bool):
        self.devices, self.dims = tuple(devices), tuple(int(d) for d in dims)
        self.order, self.last_rep = tuple(int(o) for o in order), bool(last_rep)

    @property
    def device_set(self) -> set:
        return set(self.devices)

    @property
    def is_fully_replicated(self) -> bool:
        return all(d == 1 for d in (self.dims[:-1] if self.last_rep else self.dims))

    def _tiles(self, ndim):
        dims = self.dims[:-1] if self.last_rep else self.dims
        if not dims:  # replicated
            return [1] * ndim
        if len(dims) != ndim:
            raise ValueError(f"{self!r} has {len(dims)} tiled dimensions, the array {ndim}")
        return list(dims)

    def shard_shape(self, global_shape):
        tiles = self._tiles(len(global_shape))
        for i, (n, t) in enumerate(zip(global_shape, tiles)):
            if n % t:
                raise IndivisibleError(f"{self!r}: dimension {i} of size {n} is not "
                                       f"divisible by {t}")
        return tuple(n // t for n, t in zip(global_shape, tiles))

    def devices_indices_map(self, global_shape):
        shard = self.shard_shape(global_shape)
        tiles = self._tiles(len(global_shape))
        if not self.order:
            return {d: tuple(slice(None) for _ in global_shape) for d in self.devices}
        grid = np.array(self.order).reshape(tuple(tiles) + ((self.dims[-1],) if self.last_rep
                                                            else ()))
        out = {}
        for pos in np.ndindex(*grid.shape):
            idx = tuple(slice(p * s, (p + 1) * s) if t > 1 else slice(None)
                        for p, s, t in zip(pos, shard, tiles))
            out[self.devices[int(grid[pos])]] = idx
        return out

    def __eq__(self, other):
        return (isinstance(other, TiledSharding) and (self.devices, self.dims, self.order,
                self.last_rep) == (other.devices, other.dims, other.order, other.last_rep))

    def __hash__(self):
        return hash((self.devices, self.dims, self.order, self.last_rep))

    def __repr__(self):
        return f"TiledSharding({xla_sharding_text(self, len(self.dims), self.devices)})"


def _tiles_of(sharding: Sharding, ndim: int, devices: Sequence) -> tuple:
    """(tile dims, tile order as positions in `devices`, last dim is replication), or None
    for a fully replicated layout."""
    pos = {d: i for i, d in enumerate(devices)}
    if isinstance(sharding, NamedSharding):
        dims, order, last_rep = sharding.tile_assignment(ndim)
        flat = list(sharding.mesh.devices.flat)
        order = [pos[flat[i]] for i in order]
    elif isinstance(sharding, TiledSharding):
        dims, last_rep = list(sharding.dims), sharding.last_rep
        order = [pos[sharding.devices[i]] for i in sharding.order]
    else:
        return None
    split = dims[:-1] if last_rep else dims
    if all(d == 1 for d in split):
        return None
    return list(dims), order, last_rep


def xla_sharding_text(sharding: Sharding, ndim: int, devices: Sequence) -> str:
    """The `mhlo.sharding` text of `sharding` for a rank-`ndim` value of a program whose
    partitions are `devices` (in order): "{devices=[4,1]0,1,2,3}", "{replicated}"."""
    t = _tiles_of(sharding, ndim, devices)
    if t is None:
        return "{replicated}"
    dims, order, last_rep = t
    text = "{devices=[" + ",".join(map(str, dims)) + "]" + ",".join(map(str, order))
    return text + (" last_tile_dim_replicate}" if last_rep else "}")


def sharding_from_tiles(mesh: Mesh | None, devices: Sequence, ndim: int, dims, order,
                        last_rep: bool) -> Sharding:
    """The NamedSharding on `mesh` with this tile layout (order: positions in `devices`), found
    by trying the specs of the mesh's axes; a TiledSharding when none has it."""
    dims, order = list(dims), list(order)
    if not dims or all(d == 1 for d in (dims[:-1] if last_rep else dims)):
        if mesh is not None:
            return NamedSharding(mesh, PartitionSpec())
        return TiledSharding(devices, (), (), False)
    if mesh is not None and set(mesh.devices.flat) == set(devices):
        want = (dims, order, last_rep)
        for spec in _candidate_specs(mesh, ndim):
            s = NamedSharding(mesh, spec)
            t = _tiles_of(s, ndim, devices)
            if t is not None and (t[0], t[1], t[2]) == want:
                return s
    return TiledSharding(devices, dims, order, last_rep)


def _candidate_specs(mesh: Mesh, ndim: int):
    import itertools
    names = mesh.axis_names
    if len(names) > 4 or ndim > 6:
        return
    for choice in itertools.product(range(ndim + 1), repeat=len(names)):
        per_dim: list[list[str]] = [[] for _ in range(ndim)]
        for a, c in zip(names, choice):
            if c < ndim:
                per_dim[c].append(a)
        for orders in itertools.product(*[list(itertools.permutations(p)) or [()]
                                          for p in per_dim]):
            entries = [None if not o else (o[0] if len(o) == 1 else tuple(o)) for o in orders]
            while entries and entries[-1] is None:
                entries.pop()
            yield PartitionSpec(*entries)
