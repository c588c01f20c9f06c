"""The array module every library call goes through: CuPy on the GPU, NumPy in the host build.

`select(device)` is called once, when the backend starts; afterwards `xp.xp` is the module and
the helpers below (allocation, host copies, special functions, quiet arithmetic) hide the few
places where CuPy and NumPy differ. `unavailable_reason(device)` says why a build cannot start."""

from __future__ import annotations

import contextlib
import shutil

import numpy as np

xp = np            # the array module of the running build
device = "host"    # "host" or "gpu"
_special_mod = None


def select(kind: str):
    """Make `kind` ("gpu" or "host") the running build; return its array module."""
    global xp, device, _special_mod
    if kind == "gpu":
        import cupy
        xp, device = cupy, "gpu"
    elif kind == "host":
        xp, device = np, "host"
    else:
        raise ValueError(f"plax cupy backend: cupy_device must be 'gpu' or 'host', got {kind!r}")
    _special_mod = None
    return xp


def on_gpu() -> bool:
    return device == "gpu"


def current_device() -> int:
    """The current CUDA device's ordinal (0 in the host build)."""
    if device == "gpu":
        import cupy
        return cupy.cuda.runtime.getDevice()
    return 0


def unavailable_reason(kind: str) -> str | None:
    """Why the `kind` build cannot start here (None when it can): no CuPy, no CUDA driver, no
    device, NVRTC missing; for the host build, no C++ compiler."""
    if kind == "host":
        if shutil.which("g++") is None:
            return "the host build needs a C++ compiler: g++ was not found on PATH"
        return None
    try:
        import cupy
    except Exception as e:  # noqa: BLE001 - any import failure is the reason
        return f"CuPy is not importable ({type(e).__name__}: {e}); pip install cupy-cuda13x"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001
        msg = str(e)
        if "InsufficientDriver" in msg or "NoDevice" not in msg:
            return (f"no usable CUDA driver ({msg}); set cupy_device='host' "
                    "(PLAX_CUPY_DEVICE=host) for the host build")
        return f"no CUDA device ({msg})"
    if n == 0:
        return "no CUDA device (the driver reports 0 devices)"
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as e:  # noqa: BLE001
        return (f"NVRTC is missing ({type(e).__name__}: {e}); "
                "pip install 'nvidia-cuda-nvrtc==13.0.*'")
    return None


# --- helpers ------------------------------------------------------------------------------

def asarray(x, dtype=None):
    return xp.asarray(x, dtype=dtype)


def empty(shape, dtype):
    return xp.empty(tuple(shape), dtype=dtype)


# host reads of device values (each one a synchronisation on the GPU): tests count them
stats = {"host_reads": 0}


def to_numpy(a) -> np.ndarray:
    """A host copy (the array itself in the host build)."""
    stats["host_reads"] += 1
    if device == "gpu" and not isinstance(a, np.ndarray):
        return a.get()
    return np.asarray(a)


def to_host(a) -> np.ndarray:
    """`to_numpy` for a library call that runs on the host (not counted as a sync in the host
    build, where it is free)."""
    if device == "gpu":
        return to_numpy(a)
    return a if isinstance(a, np.ndarray) else np.asarray(a)


def data_ptr(a) -> int:
    """The address of `a`'s first element (device memory on the GPU)."""
    return a.data.ptr if device == "gpu" else a.ctypes.data


def quiet():
    """Floating-point warnings off (NumPy warns on overflow, XLA and CuPy never do)."""
    return np.errstate(all="ignore") if device == "host" else contextlib.nullcontext()


def special(name: str):
    """scipy.special's `name` on the host, cupyx.scipy.special's on the GPU (imported on first
    use)."""
    global _special_mod
    if _special_mod is None:
        if device == "gpu":
            import cupyx.scipy.special as mod
        else:
            import scipy.special as mod
        _special_mod = mod
    return getattr(_special_mod, name)




def synchronize() -> None:
    if device == "gpu":
        xp.cuda.get_current_stream().synchronize()
