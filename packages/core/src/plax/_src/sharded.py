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
    """The global Array laid out by `sharding` whose part on this process's devices is
    `local_data` (as JAX's): the block of the global array this process's devices cover (its
    rows, say, when the batch is split over processes), or the whole global array. Without
    `global_shape` it is inferred from how the sharding splits each dimension."""
    _check_sharding(sharding)
    x = np.asarray(local_data._value() if type(local_data) is Array else local_data)
    if x.dtype == np.float64 or x.dtype == np.int64:
        x = x.astype(dtypes.canonicalize_dtype(x.dtype))
    local = [d for d in sharding_devices(sharding) if d in sharding.addressable_devices]
    if not local:
        raise ValueError(f"make_array_from_process_local_data: {sharding!r} has no device of "
                         "this process")
    if global_shape is None:
        global_shape = _infer_global_shape(sharding, x.shape, local)
    shape = tuple(int(s) for s in global_shape)
    if len(shape) != x.ndim:
        raise ValueError(f"make_array_from_process_local_data: global_shape {shape} has rank "
                         f"{len(shape)}, the local data (shape {x.shape}) {x.ndim}")
    index = sharding.devices_indices_map(shape)
    starts = [min(_bounds(index[d][k], n)[0] for d in local) for k, n in enumerate(shape)]
    stops = [max(_bounds(index[d][k], n)[1] for d in local) for k, n in enumerate(shape)]
    block = tuple(b - a for a, b in zip(starts, stops))
    if x.shape == shape:  # the whole global array: each device takes its slice
        starts = [0] * len(shape)
    elif x.shape != block:
        raise ValueError(
            f"make_array_from_process_local_data: this process's devices hold the block "
            f"{tuple(slice(a, b) for a, b in zip(starts, stops))} (shape {block}) of the global "
            f"shape {shape} under {sharding!r}; the local data has shape {x.shape}")
    shards = []
    for d in local:
        idx = tuple(slice(_bounds(s, n)[0] - a, _bounds(s, n)[1] - a)
                    for s, n, a in zip(index[d], shape, starts))
        shards.append(np.array(x[idx], copy=True))
    backend = _backend_of(sharding)
    aval = ShapedArray(shape, x.dtype)
    return Array(backend.put_sharded(shards, local, sharding, shape, x.dtype), aval, backend,
                 True)


def _bounds(s: slice, n: int) -> tuple[int, int]:
    start, stop, _ = s.indices(n)
    return start, stop


def _infer_global_shape(sharding: Sharding, local_shape, local) -> tuple[int, ...]:
    """Each dimension's local size times how many such blocks the sharding's tiles along it
    make (the tiles this process's devices hold are one block)."""
    probe = tuple(840 * max(n, 1) for n in local_shape)  # divisible by any small mesh
    try:
        index = sharding.devices_indices_map(probe)
    except ValueError as e:
        raise ValueError(f"make_array_from_process_local_data: pass global_shape ({e})") from e
    out = []
    for k, n in enumerate(local_shape):
        tiles = {_bounds(i[k], probe[k]) for i in index.values()}
        mine = {_bounds(index[d][k], probe[k]) for d in local}
        out.append(n * len(tiles) // len(mine))
    return tuple(out)


def visualize_array_sharding(x: Array, *, use_color: bool = False, scale: float = 1.0) -> None:
    """Print which devices hold which block of a 1-d or 2-d Array (plain text)."""
    print(visualize_sharding(x.shape, x.sharding))


__all__ = ["put", "make_array_from_callback", "make_array_from_single_device_arrays",
           "make_array_from_process_local_data", "visualize_array_sharding"]
