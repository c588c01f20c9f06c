"""`plax.Array`: a backend buffer with its abstract value; the concrete user-facing value."""

from __future__ import annotations

from typing import Any

import numpy as np

from plax._src import dtypes
from plax._src.array_methods import ArrayMethods
from plax._src.core import ShapedArray


class DeletedBuffer:
    """What a deleted Array holds instead of its buffer: why it went (donation, delete())."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def deleted_error(x: "Array") -> RuntimeError:
    return RuntimeError(f"this Array ({x.aval.str_short()}) has been deleted: {x._buf.reason}")


def check_not_deleted(args) -> None:
    """Raise the plax error if an Array among `args` was deleted (called after a backend
    rejected its buffers, so the usual path pays nothing)."""
    for a in args:
        if type(a) is Array and type(a._buf) is DeletedBuffer:
            raise deleted_error(a)


class Array(ArrayMethods):
    """An immutable array living on a backend device."""

    __slots__ = ("_buf", "aval", "_backend", "_committed", "__weakref__")
    __array_priority__ = 100

    def __init__(self, buf: Any, aval: ShapedArray, backend, committed: bool = False):
        self._buf, self.aval, self._backend, self._committed = buf, aval, backend, committed

    # --- the abstract value -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return len(self.aval.shape)

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    @property
    def nbytes(self) -> int:
        return self.aval.size * self.aval.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.aval.dtype.itemsize

    # --- placement ------------------------------------------------------------------------
    @property
    def device(self):
        """The device holding it; for an array over several devices, its sharding (as JAX)."""
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        backend = self._backend
        if len(backend.devices()) > 1:
            s = backend.buffer_sharding(self._buf)
            if len(s.device_set) > 1:
                return s
        return backend.buffer_device(self._buf)

    def devices(self) -> set:
        return set(self.sharding.device_set)

    @property
    def sharding(self):
        """How it is laid out over devices (plax.sharding: a SingleDeviceSharding, or the
        NamedSharding it was placed or computed with)."""
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        return self._backend.buffer_sharding(self._buf)

    @property
    def addressable_shards(self) -> list:
        """This process's pieces (plax.sharding.Shard: device, index, replica_id, data)."""
        from plax._src.sharding import Shard, replica_ids
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        sharding = self.sharding
        index = sharding.devices_indices_map(self.aval.shape)
        reps = replica_ids(sharding, self.aval.shape)
        out = []
        for dev, buf in self._backend.buffer_shards(self._buf):
            idx = index[dev]
            shape = tuple(len(range(*s.indices(n))) for s, n in zip(idx, self.aval.shape))
            out.append(Shard(dev, idx, reps[dev], Array(buf, self.aval.update(shape=shape),
                                                        self._backend, True)))
        return out

    def addressable_data(self, index: int) -> "Array":
        """The piece held by this process's `index`-th device (as JAX's)."""
        return self.addressable_shards[index].data

    @property
    def global_shards(self) -> list:
        """Every piece; in one process, the addressable ones."""
        return self.addressable_shards

    @property
    def is_fully_replicated(self) -> bool:
        return self.sharding.is_fully_replicated

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def committed(self) -> bool:
        return self._committed

    def block_until_ready(self) -> "Array":
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        self._backend.block_until_ready(self._buf)
        return self

    def copy_to_host_async(self) -> None:
        """Start the copy to the host that a later np.asarray(x) would wait for (as JAX's)."""
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        self._backend.copy_to_host_async(self._buf)

    def is_deleted(self) -> bool:
        return type(self._buf) is DeletedBuffer

    def delete(self) -> None:
        """Free the device buffer now; any later use of this Array raises."""
        if type(self._buf) is DeletedBuffer:
            return
        buf, self._buf = self._buf, DeletedBuffer("delete() was called on it")
        free = getattr(buf, "delete", None)
        if free is not None:
            free()

    @property
    def is_fully_addressable(self) -> bool:
        """Whether this process holds every shard (a property, as JAX's)."""
        return self.sharding.is_fully_addressable

    # --- conversion to host values --------------------------------------------------------
    def _value(self) -> np.ndarray:
        """The host copy as a read-only NumPy array."""
        if type(self._buf) is DeletedBuffer:
            raise deleted_error(self)
        v = np.asarray(self._backend.to_numpy(self._buf))
        if v.flags.writeable:
            v = v.view()
            v.flags.writeable = False
        return v

    def _host_value(self) -> np.ndarray:
        """`_value()` for the user's reads (np.asarray, float, item ...): an implicit
        device-to-host transfer for the transfer guard, on backends off the host's CPU (JAX
        reads CPU arrays without a transfer too)."""
        if self._backend.platform != "cpu":
            from plax._src.dispatch import guard_transfer
            guard_transfer("device_to_host", self.aval, "host")
        return self._value()

    def __array__(self, dtype=None, copy=None):
        v = self._host_value()
        if copy:
            v = v.copy()
        return v if dtype is None else v.astype(dtype, copy=False)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        v = self._value()
        # DLPack before 1.0 cannot flag a buffer read-only: those consumers get a copy (even
        # with copy=False: the array is immutable, so no one can tell it from the original)
        if (max_version is None or max_version[0] < 1) and not v.flags.writeable:
            v, copy = v.copy(), None
        kwargs = {k: a for k, a in (("stream", stream), ("max_version", max_version),
                                    ("dl_device", dl_device), ("copy", copy)) if a is not None}
        return v.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._value().__dlpack_device__()

    def item(self, *args):
        return self._host_value().item(*args)

    def tolist(self):
        return self._host_value().tolist()

    def copy(self) -> "Array":
        sharding = self.sharding
        if len(sharding.device_set) > 1:  # the copy keeps the layout
            from plax._src import sharded
            out = sharded.put(np.array(self._value()), sharding)
            out.aval, out._committed = self.aval, self._committed
            return out
        return Array(self._backend.put(np.array(self._value())), self.aval, self._backend,
                     False)

    def __float__(self):
        self._check_scalar("float")
        return float(self._host_value())

    def __int__(self):
        self._check_scalar("int")
        return int(self._host_value())

    def __complex__(self):
        self._check_scalar("complex")
        return complex(self._host_value())

    def __bool__(self):
        if self.aval.size != 1:
            raise ValueError(f"the truth value of an array with shape {self.aval.shape} is "
                             "ambiguous; use a.any() or a.all()")
        return bool(self._host_value())

    def __index__(self):
        if not dtypes.is_int(self.aval.dtype) and self.aval.dtype != dtypes.bool_:
            raise TypeError(f"only integer arrays can be used as an index, got dtype "
                            f"{self.aval.dtype}")
        self._check_scalar("index")
        return int(self._host_value())

    def _check_scalar(self, what: str) -> None:
        # as JAX (and NumPy 2): only 0-d arrays convert; bool() alone accepts any size-1 array
        if self.aval.shape:
            raise TypeError(f"only 0-d arrays can be converted to Python {what}; this array "
                            f"has shape {self.aval.shape}")

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d array")
        return self._rows(self._value())

    def __reversed__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d array")
        return self._rows(self._value()[::-1])

    def _rows(self, host: np.ndarray):
        # one copy to the host, then each row back to this backend: no per-row indexing op
        aval = self.aval.update(shape=self.aval.shape[1:])
        for row in host:
            yield Array(self._backend.put(np.asarray(row)), aval, self._backend,
                        self._committed)

    __hash__ = None  # like NumPy and JAX arrays

    def __format__(self, spec):
        if self.aval.shape == ():
            return format(self._value().item(), spec)
        return format(str(self), spec)

    def __str__(self):
        return str(self._value())

    def __repr__(self):
        v = self._value()
        prefix = "Array("
        width = np.get_printoptions()["linewidth"]
        if v.size == 0:
            body = f"[], shape={v.shape}"
        else:
            body = np.array2string(v, max_line_width=width, separator=", ", prefix=prefix,
                                   suffix=",")
        dtype = f"dtype={self.aval.dtype.name}"
        if self.aval.weak_type:
            dtype += ", weak_type=True"
        # JAX's layout: when the dtype overflows the last line, it is pushed right by the
        # prefix width (still on that line), so reprs match JAX's character for character
        last_line = len(body) - body.rfind("\n") + 1
        sep = " " * len(prefix) if last_line + len(dtype) + 2 > width else " "
        return f"{prefix}{body},{sep}{dtype})"

    def __reduce__(self):
        # the value and the weak type travel; it unpickles onto the default backend
        return (_unpickle, (np.array(self._value()), self.aval.weak_type))


def _unpickle(value: np.ndarray, weak_type: bool) -> Array:
    from plax._src import dispatch
    return dispatch.make_array(value, ShapedArray(value.shape, value.dtype, weak_type))


if __import__("os").environ.get("PLAX_ARRAY_GARBAGE_COLLECTION_GUARD", "allow").strip() not in (
        "", "allow"):  # the guard set from the environment: installed now (gc_guard.sync)
    from plax._src import gc_guard as _gc_guard
    _gc_guard.sync()
