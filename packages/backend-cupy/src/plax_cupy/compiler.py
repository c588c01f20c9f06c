"""Building generated kernels: g++ -> shared library -> ctypes (host build), NVRTC -> sm_90 cubin
(GPU), the kernel caches and the launch counter.

Caches: in memory (per process) and on disk under the user cache directory
(`$PLAX_CUPY_CACHE_DIR`, else `$XDG_CACHE_HOME/plax/cupy`, else `~/.cache/plax/cupy`), keyed by a
hash of the source, the compiler and its version, the target arch and the options, so a program
built once loads without compiling in the next process. Several kernels can be built by one
compiler call (`build_host`/`compile_cubin` take a list), which keeps g++ time in tests low.
No fast-math anywhere: `-ffp-contract=off` for g++, `--fmad=false` for NVRTC."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import threading

from plax_cupy.prelude import PRELUDE

GXX_FLAGS = ("-O2", "-shared", "-fPIC", "-x", "c++", "-std=c++17", "-ffp-contract=off",
             "-fno-fast-math", "-w")
ARCH = "90"
NVRTC_FLAGS = ("--std=c++17", "--fmad=false")

_lock = threading.Lock()
_host_fns: dict = {}     # kernel name -> ctypes functions of its entry points
_cubins: dict = {}       # cache key -> cubin bytes
_libs: list = []         # keep loaded libraries alive
_launches = 0
_stats = {"gxx_calls": 0, "nvrtc_calls": 0, "disk_hits": 0}


def _unique(kernels) -> list:
    """One of each kernel (identical groups generate identical, identically named text)."""
    return list({k.name: k for k in kernels}.values())


def launch_count() -> int:
    """Kernels launched by this process so far (host and GPU builds alike)."""
    return _launches


def count_launch(n: int = 1) -> None:
    global _launches
    _launches += n


def stats() -> dict:
    """Compiler calls and disk-cache hits so far (for tests: a cached program compiles nothing)."""
    return dict(_stats)


def clear_memory_cache() -> None:
    """Forget the kernels built in this process (the disk cache stays)."""
    with _lock:
        _host_fns.clear()
        _cubins.clear()
        _modules.clear()


def cache_dir() -> str:
    d = os.environ.get("PLAX_CUPY_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "plax", "cupy")
    os.makedirs(d, exist_ok=True)
    return d


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


_gxx_version = None


def gxx_version() -> str:
    global _gxx_version
    if _gxx_version is None:
        out = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=True)
        _gxx_version = out.stdout.splitlines()[0]
    return _gxx_version


def _atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# PLAX_CUPY_RECORD_KERNELS=1: every kernel the host build makes is kept here as well, so a test
# session can compile all of them with NVRTC at its end (tests/conftest.py)
RECORDED: dict = {}
_RECORD = os.environ.get("PLAX_CUPY_RECORD_KERNELS", "") not in ("", "0")


def build_host(kernels) -> None:
    """Make every kernel in `kernels` (KernelSource) callable on the host: one g++ call for those
    not cached in memory or on disk."""
    with _lock:
        todo = {k.name: k for k in kernels if k.name not in _host_fns}
        if not todo:
            return
        if _RECORD:
            RECORDED.update(todo)
        text = PRELUDE + "\n".join(todo[n].body for n in sorted(todo))
        key = _key(text, gxx_version(), GXX_FLAGS)
        path = os.path.join(cache_dir(), f"host-{key}.so")
        if os.path.exists(path):
            _stats["disk_hits"] += 1
        else:
            _stats["gxx_calls"] += 1
            with tempfile.TemporaryDirectory() as tmp:
                src, lib = os.path.join(tmp, "k.cu"), os.path.join(tmp, "k.so")
                with open(src, "w") as f:
                    f.write(text)
                r = subprocess.run(["g++", *GXX_FLAGS, "-o", lib, src], capture_output=True,
                                   text=True)
                if r.returncode:
                    raise RuntimeError(f"g++ failed on a generated kernel:\n{r.stderr[-4000:]}")
                with open(lib, "rb") as f:
                    _atomic_write(path, f.read())
        lib = ctypes.CDLL(path)
        _libs.append(lib)
        for name, k in todo.items():
            fns = [getattr(lib, entry) for entry in k.entries]
            for fn in fns:
                fn.restype = None
            _host_fns[name] = fns


def build_emulated(kernels, grid: int, block: int) -> dict:
    """Tests only: {kernel name: [callables]} running each entry point as `grid` blocks of
    `block` POSIX threads with real barriers (prelude's PLAX_EMULATE), so the GPU's
    multi-thread code paths (block-strided loops, block reductions, split reductions) are
    checked on a machine without a GPU. Every call compiles (no cache)."""
    kernels = _unique(kernels)
    wrappers = []
    for k in kernels:
        names = [p.split()[-1] for p in k.params]
        for entry in k.entries:
            wrappers.append(f'extern "C" void {entry}_emu({", ".join(k.params)}) {{\n'
                            f"  plax_emu_run({grid}u, {block}u, [&]() {{ "
                            f"{entry}({', '.join(names)}); }});\n}}\n")
    text = PRELUDE + "\n".join(k.body for k in kernels) + "\n" + "\n".join(wrappers)
    tmp = tempfile.mkdtemp()
    src, lib = os.path.join(tmp, "k.cu"), os.path.join(tmp, "k.so")
    with open(src, "w") as f:
        f.write(text)
    r = subprocess.run(["g++", *GXX_FLAGS, "-DPLAX_EMULATE", "-pthread", "-o", lib, src],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"g++ failed on an emulated kernel:\n{r.stderr[-4000:]}")
    so = ctypes.CDLL(lib)
    _libs.append(so)
    out = {}
    for k in kernels:
        fns = [getattr(so, e + "_emu") for e in k.entries]
        for fn in fns:
            fn.restype = None
        out[k.name] = fns
    return out


def host_functions(kernel) -> list:
    """The ctypes functions of one kernel's entry points (built on first use)."""
    fns = _host_fns.get(kernel.name)
    if fns is None:
        build_host([kernel])
        fns = _host_fns[kernel.name]
    return fns


# ---------------------------------------------------------------------------------------------
# NVRTC

def nvrtc_version() -> tuple[int, int]:
    from cupy_backends.cuda.libs import nvrtc
    return tuple(nvrtc.getVersion())


def cuda_include_dir() -> str:
    import cuda.pathfinder
    return cuda.pathfinder.find_nvidia_header_directory("cudart")


def compile_cubin(kernels, arch: str = ARCH, verbose: bool = False):
    """NVRTC: one sm_`arch` cubin holding every kernel in `kernels`. Returns (cubin, log); the
    log carries ptxas's register/spill report when `verbose`. Cached in memory and on disk."""
    from cupy_backends.cuda.libs import nvrtc
    kernels = _unique(kernels)
    text = PRELUDE + "\n".join(k.body for k in sorted(kernels, key=lambda k: k.name))
    opts = [f"-arch=sm_{arch}", *NVRTC_FLAGS, f"-I{cuda_include_dir()}"]
    if verbose:
        opts.append("-Xptxas=-v")
    key = _key(text, arch, nvrtc_version(), NVRTC_FLAGS, verbose)
    with _lock:
        hit = _cubins.get(key)
        if hit is not None:
            return hit
        path = os.path.join(cache_dir(), f"sm{arch}-{key}.cubin")
        if os.path.exists(path) and not verbose:
            with open(path, "rb") as f:
                _cubins[key] = (f.read(), "")
            _stats["disk_hits"] += 1
            return _cubins[key]
        _stats["nvrtc_calls"] += 1
        prog = nvrtc.createProgram(text, "plax_fused.cu", [], [])
        try:
            try:
                nvrtc.compileProgram(prog, opts)
            except Exception as e:
                log = nvrtc.getProgramLog(prog)
                raise RuntimeError(f"NVRTC failed on a generated kernel ({e}):\n{log[-4000:]}"
                                   ) from None
            log = nvrtc.getProgramLog(prog)
            cubin = nvrtc.getCUBIN(prog)
        finally:
            nvrtc.destroyProgram(prog)
        _atomic_write(path, cubin)
        _cubins[key] = (cubin, log)
        return _cubins[key]


_SPILL = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


def spills(log: str) -> int:
    """Total spill bytes reported by ptxas in a verbose NVRTC log."""
    return sum(int(a) + int(b) for a, b in _SPILL.findall(log))


_modules: dict = {}


def build_gpu(kernels) -> None:
    """Load every kernel in `kernels` on the current device: one NVRTC call (or a disk-cache
    hit) for those not loaded there yet (a module belongs to the device, i.e. the CUDA
    context, it was loaded on: each GPU of a multi-GPU pmap loads its own)."""
    import cupy
    dev = cupy.cuda.runtime.getDevice()
    todo = _unique(k for k in kernels if (dev, k.name) not in _modules)
    if not todo:
        return
    cubin, _ = compile_cubin(todo)
    mod = cupy.cuda.function.Module()
    mod.load(cubin)
    for k in todo:
        _modules[dev, k.name] = (mod, [mod.get_function(e) for e in k.entries])


def gpu_functions(kernel) -> list:
    """The CuPy functions of one kernel's entry points on the current device (cubin loaded
    once per device)."""
    import cupy
    key = (cupy.cuda.runtime.getDevice(), kernel.name)
    if key not in _modules:
        build_gpu([kernel])
    return _modules[key][1]
