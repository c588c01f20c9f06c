"""Arrays over several devices: placing a value by a sharding (`device_put(x, sharding)`),
building one from per-device pieces (`make_array_from_callback`,
`make_array_from_single_device_arrays`) and the text picture of an Array's layout.

The backend of the sharding's devices holds the result as one buffer (`Backend.put_sharded`):
each device gets only its slice, nothing is gathered. `addressable` pieces are this process's;
with many processes a global array is built from them alone."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from plax._src import dtypes, registry
from plax._src.array import Array, check_not_deleted
from plax._src.core import ShapedArray, get_aval
from plax._src.sharding import NamedSharding, Sharding, sharding_devices, visualize_sharding


def _backend_of(sharding: Sharding):
    names = {getattr(d, "backend_name", None) for d in sharding.device_set}
    if len(names) != 1 or None in names:
        raise ValueError(f"{sharding!r}: its devices must be plax Devices of one backend "
                         f"(got backends {sorted(map(str, names))})")
    return registry.get_backend(names.pop())


def _check_sharding(sharding) -> None:
    if not isinstance(sharding, Sharding):
        raise TypeError(f"expected a plax.sharding.Sharding (NamedSharding, "
                        f"SingleDeviceSharding), got {type(sharding).__name__}: {sharding!r}")


def put(x: Any, sharding: Sharding) -> Array:
    """One leaf placed by `sharding` (committed): each device receives its slice only."""
    _check_sharding(sharding)
    check_not_deleted([x])
    backend = _backend_of(sharding)
    if type(x) is Array:
        if x._backend is backend and _same_layout(x.sharding, sharding, x.ndim):
            return x if x._committed and x.sharding == sharding else Array(
                x._buf, x.aval, backend, True)
        aval = x.aval
        host = x._value()
    else:
        aval = get_aval(x)
        host = np.asarray(x, dtype=aval.dtype)
    if isinstance(sharding, NamedSharding):
        sharding.shard_shape(aval.shape)  # errors naming the spec and the dimension
    return Array(_put_host(backend, host, sharding, aval), aval, backend, True)


def _same_layout(a: Sharding, b: Sharding, ndim: int) -> bool:
    if a == b:
        return True
    return a.device_set == b.device_set and a.is_equivalent_to(b, ndim) and \
        sharding_devices(a) == sharding_devices(b)


def _put_host(backend, host: np.ndarray, sharding: Sharding, aval: ShapedArray):
    devs = [d for d in sharding_devices(sharding) if d in sharding.addressable_devices]
    index = sharding.devices_indices_map(aval.shape)
    # each device its own copy (jaxlib rejects shards sharing memory)
    shards = [np.array(host[index[d]], dtype=aval.dtype, copy=True) for d in devs]
    return backend.put_sharded(shards, devs, sharding, aval.shape, aval.dtype)


def make_array_from_callback(shape: Sequence[int], sharding: Sharding,
                             data_callback: Callable[[tuple], Any], dtype=None) -> Array:
    """The Array of global `shape` whose piece on each device is `data_callback(index)` (index:
    a tuple of slices of the global array); called once per addressable device."""
    _check_sharding(sharding)
    shape = tuple(int(s) for s in shape)
    backend = _backend_of(sharding)
    devs = [d for d in sharding_devices(sharding) if d in sharding.addressable_devices]
    index = sharding.devices_indices_map(shape)
    want = sharding.shard_shape(shape) if isinstance(sharding, NamedSharding) else None
    shards, dt = [], None
    for d in devs:
        piece = data_callback(index[d])
        piece = np.asarray(piece._value() if type(piece) is Array else piece)
        if dt is None:
            dt = dtypes.canonicalize_dtype(dtype if dtype is not None else piece.dtype)
        if want is not None and piece.shape != want:
            raise ValueError(f"make_array_from_callback: the callback returned shape "
                             f"{piece.shape} for index {index[d]} of device {d!r}; "
                             f"{sharding!r} needs {want}")
        shards.append(np.array(piece, dtype=dt, copy=True))
    aval = ShapedArray(shape, dt)
    return Array(backend.put_sharded(shards, devs, sharding, shape, dt), aval, backend, True)


def make_array_from_single_device_arrays(shape: Sequence[int], sharding: Sharding,
                                         arrays: Sequence[Array]) -> Array:
    """The Array of global `shape` made of `arrays`, one-device Arrays each on a device of
    `sharding` holding that device's piece (no copy where the backend can avoid one)."""
    _check_sharding(sharding)
    shape = tuple(int(s) for s in shape)
    backend = _backend_of(sharding)
    by_dev = {}
    for a in arrays:
        if type(a) is not Array:
            raise TypeError(f"make_array_from_single_device_arrays: expected plax Arrays, "
                            f"got {type(a).__name__}")
        check_not_deleted([a])
        by_dev[a.device] = a
    devs = [d for d in sharding_devices(sharding) if d in sharding.addressable_devices]
    missing = [d for d in devs if d not in by_dev]
    if missing or len(by_dev) != len(devs):
        raise ValueError(f"make_array_from_single_device_arrays: {sharding!r} needs one "
                         f"array on each of {devs}; got arrays on {list(by_dev)}")
    index = sharding.devices_indices_map(shape)
    dts = {a.dtype for a in arrays}
    if len(dts) != 1:
        raise ValueError(f"make_array_from_single_device_arrays: arrays of several dtypes "
                         f"{sorted(map(str, dts))}")
    dt = dts.pop()
    for d in devs:
        want = tuple(len(range(*s.indices(n))) for s, n in zip(index[d], shape))
        if by_dev[d].shape != want:
            raise ValueError(f"make_array_from_single_device_arrays: the array on {d!r} has "
                             f"shape {by_dev[d].shape}; {sharding!r} gives it {want} of {shape}")
    shards = [by_dev[d]._buf if by_dev[d]._backend is backend else by_dev[d]._value()
              for d in devs]
    aval = ShapedArray(shape, dt)
    return Array(backend.put_sharded(shards, devs, sharding, shape, dt), aval, backend, True)


def make_array_from_process_local_data(sharding: Sharding, local_data: Any,
                                       global_shape: Sequence[int] | None = None) -> Array:
    """The global Array laid out by `sharding` of which this process holds `local_data`: the
    block its devices' pieces cover (in one process the whole array: `device_put`). Across
    processes (plax.distributed) `global_shape` defaults to the local shape scaled, along each
    dimension, by how many blocks the processes split it into."""
    _check_sharding(sharding)
    x = np.asarray(local_data._value() if type(local_data) is Array else local_data)
    local = sharding.addressable_devices
    if local == sharding.device_set:
        if global_shape is not None and tuple(global_shape) != x.shape:
            raise ValueError(f"make_array_from_process_local_data: with one process the local "
                             f"data (shape {x.shape}) is the global array; got global_shape "
                             f"{tuple(global_shape)}")
        return put(x, sharding)
    if global_shape is None:
        global_shape = _global_shape(sharding, x.shape, local)
    shape = tuple(int(n) for n in global_shape)
    if len(shape) != x.ndim:
        raise ValueError(f"make_array_from_process_local_data: global_shape {shape} and the "
                         f"local data's shape {x.shape} differ in rank")
    index = sharding.devices_indices_map(shape)
    spans = {d: [range(*sl.indices(n)) for sl, n in zip(index[d], shape)] for d in local}
    starts = [min(spans[d][k].start for d in local) for k in range(len(shape))]
    box = [max(spans[d][k].stop for d in local) - starts[k] for k in range(len(shape))]
    if tuple(box) != x.shape:
        raise ValueError(f"make_array_from_process_local_data: this process's devices hold "
                         f"a block of shape {tuple(box)} of the global {shape} laid out by "
                         f"{sharding!r}; the local data has shape {x.shape}")
    devs = [d for d in sharding_devices(sharding) if d in local]
    shards = []
    for d in devs:
        sl = tuple(slice(r.start - s0, r.stop - s0) for r, s0 in zip(spans[d], starts))
        shards.append(np.array(x[sl], copy=True))
    aval = ShapedArray(shape, dtypes.canonicalize_dtype(x.dtype))
    backend = _backend_of(sharding)
    return Array(backend.put_sharded(shards, devs, sharding, shape, aval.dtype), aval, backend,
                 True)


def _global_shape(sharding: Sharding, local_shape, local) -> tuple[int, ...]:
    """The local shape scaled by (blocks along a dimension) / (this process's blocks)."""
    probe = tuple(4 * 3 * 5 * 7 * 8 for _ in local_shape)  # divisible by any small mesh
    index = sharding.devices_indices_map(probe)
    out = []
    for k, n in enumerate(local_shape):
        everywhere = {index[d][k].indices(probe[k]) for d in sharding.device_set}
        mine = {index[d][k].indices(probe[k]) for d in local}
        out.append(n * len(everywhere) // len(mine))
    return tuple(out)


def visualize_array_sharding(x: Array, *, use_color: bool = False, scale: float = 1.0) -> None:
    """Print which devices hold which block of a 1-d or 2-d Array (plain text)."""
    print(visualize_sharding(x.shape, x.sharding))


__all__ = ["put", "make_array_from_callback", "make_array_from_single_device_arrays",
           "make_array_from_process_local_data", "visualize_array_sharding"]
