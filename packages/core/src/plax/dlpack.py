"""plax.dlpack (as jax.dlpack): arrays of other libraries in, through the DLPack protocol.

`from_dlpack(x)` takes any object with `__dlpack__` / `__dlpack_device__` (NumPy, PyTorch,
CuPy, plax arrays...). Host memory (kDLCPU) is read through NumPy's DLPack import and placed
on `device` (default: the default backend's first device) as device_put does; CUDA memory is
read by CuPy and becomes an array of the cupy backend (its GPU build). Other device types are
refused, naming them. plax arrays export themselves through `Array.__dlpack__` (host
memory: a copy of the device value where the backend is not the host)."""

from __future__ import annotations

import numpy as np

__all__ = ["from_dlpack", "is_supported_dtype", "SUPPORTED_DTYPES"]

_KDL_CPU, _KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED = 1, 2, 3, 13
_DEVICE_NAMES = {1: "CPU", 2: "CUDA", 3: "CUDA host", 4: "OpenCL", 7: "Vulkan", 8: "Metal",
                 9: "VPI", 10: "ROCm", 11: "ROCm host", 13: "CUDA managed", 14: "oneAPI"}


def _supported() -> frozenset:
    from plax._src import dtypes
    names = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float16", "float32", "float64", "complex64", "complex128")
    return frozenset([np.dtype(n) for n in names] + [np.dtype(dtypes.bfloat16)])


SUPPORTED_DTYPES = _supported()


def is_supported_dtype(dtype) -> bool:
    """Whether arrays of `dtype` can cross DLPack into (and out of) plax."""
    try:
        return np.dtype(dtype) in SUPPORTED_DTYPES
    except TypeError:
        return False


def from_dlpack(external_array, device=None, copy: bool | None = None):
    """A plax Array holding `external_array`'s values (an object with `__dlpack__`).
    `device`: where it goes (a plax Device; default: as device_put). `copy`: None or True
    (plax arrays are immutable: the values are always copied into the backend's memory, so
    copy=False is refused)."""
    if copy is False:
        raise ValueError("plax.dlpack.from_dlpack: copy=False is not supported (plax arrays "
                         "are immutable and own their memory); pass copy=None or True")
    if not hasattr(external_array, "__dlpack__") or \
            not hasattr(external_array, "__dlpack_device__"):
        raise TypeError(f"plax.dlpack.from_dlpack: expected an object with __dlpack__ and "
                        f"__dlpack_device__ (a NumPy, PyTorch, CuPy or plax array), got "
                        f"{type(external_array).__name__}")
    kind, _index = external_array.__dlpack_device__()
    kind = int(kind)
    from plax._src.api import device_put
    if kind in (_KDL_CPU, _KDL_CUDA_HOST):
        host = np.from_dlpack(external_array)
    elif kind in (_KDL_CUDA, _KDL_CUDA_MANAGED):
        try:
            import cupy
        except ImportError:
            raise TypeError("plax.dlpack.from_dlpack: the array lives in CUDA memory; reading "
                            "it needs CuPy (the cupy backend's GPU build)") from None
        from plax._src import registry
        backend = registry.get_backend("cupy")
        if getattr(backend, "kind", None) != "gpu":
            raise TypeError("plax.dlpack.from_dlpack: the array lives in CUDA memory and the "
                            "cupy backend runs its host build (cupy_device='host'): copy it "
                            "to the host first")
        buf = cupy.from_dlpack(external_array).copy()  # (the copy: on the array's own GPU)
        if not is_supported_dtype(buf.dtype):
            raise TypeError(f"plax.dlpack.from_dlpack: dtype {buf.dtype} is not supported")
        from plax.extend import ShapedArray, execution
        arr = execution.wrap([buf], [ShapedArray(buf.shape, buf.dtype)], backend, False,
                             "from_dlpack")[0]
        return arr if device is None else device_put(arr, device)
    else:
        raise TypeError(f"plax.dlpack.from_dlpack: arrays on DLPack device type {kind} "
                        f"({_DEVICE_NAMES.get(kind, 'unknown')}) are not supported: only CPU "
                        "and CUDA memory")
    if not is_supported_dtype(host.dtype):
        raise TypeError(f"plax.dlpack.from_dlpack: dtype {host.dtype} is not supported")
    return device_put(host, device)  # (every backend's put copies a host array)
