"""Running one fused group: `FusedRunner(group)(arrays) -> outputs`, on the GPU (cubin through
CuPy, on the current stream) or in the host build (the same kernel through ctypes over NumPy
buffers). Each launch adds one to `plax_cupy.compiler.launch_count()`."""

from __future__ import annotations

import ctypes

import numpy as np

from plax_cupy import codegen, compiler
from plax_cupy import xp as X


class FusedRunner:
    """The kernel of one planner `FusedGroup`, generated now and built on first call (or by
    `build([...])` for several at once)."""

    def __init__(self, group, avals=None):
        self.group = group
        self.kernel = codegen.generate(group)
        self._fn = None      # the host build's entry points, or those given by use_functions
        self._gpu_fn: dict = {}  # {device: entry points loaded there}

    def use_functions(self, fns) -> "FusedRunner":
        """Run these entry points instead (tests: `compiler.build_emulated`'s threads)."""
        self._fn = list(fns)
        return self

    @property
    def source(self) -> str:
        return self.kernel.source

    def _functions(self):
        if self._fn is not None:
            return self._fn
        if not X.on_gpu():
            self._fn = compiler.host_functions(self.kernel)
            return self._fn
        dev = X.current_device()
        fns = self._gpu_fn.get(dev)
        if fns is None:
            fns = self._gpu_fn[dev] = compiler.gpu_functions(self.kernel)
        return fns

    def __call__(self, arrays, outs=None):
        """Run on `arrays` (one per group.in_vars); `outs` may name buffers (or None) to write
        the results into: a donated buffer is used when it has the output's shape and dtype and
        shares no memory with an input."""
        k = self.kernel
        outs = [self._out(a, None if outs is None else outs[i], arrays)
                for i, a in enumerate(k.out_avals)]
        if k.work == 0:
            return outs
        fns = self._functions()
        scratch = [X.empty((n,), np.dtype(dt)) for n, dt in k.scratch]
        if X.on_gpu():
            args = tuple([X.xp.ascontiguousarray(a) for a in arrays] + outs + scratch)
            for fn, (_, grid, block) in zip(fns, k.launches):
                fn((grid,), (block,), args)
        else:
            bufs = [np.ascontiguousarray(a) for a in arrays] + outs + scratch
            ptrs = [ctypes.c_void_p(a.ctypes.data) for a in bufs]
            for fn in fns:
                fn(*ptrs)
        compiler.count_launch(len(fns))
        return outs

    @staticmethod
    def _out(aval, given, arrays):
        if (given is not None and tuple(given.shape) == tuple(aval.shape)
                and given.dtype == aval.dtype and given.flags.c_contiguous
                and not any(_overlap(given, a) for a in arrays)):
            return given
        return X.empty(aval.shape, aval.dtype)


def _overlap(a, b) -> bool:
    if X.on_gpu():
        import cupy
        return bool(cupy.shares_memory(a, b)) if hasattr(b, "data") else False
    return bool(np.shares_memory(a, b)) if isinstance(b, np.ndarray) else False


def build(runners) -> None:
    """Build every runner's kernel with one compiler call (g++ in the host build, NVRTC on the
    GPU), unless cached."""
    build_kernels([r.kernel for r in runners])


def build_kernels(kernels) -> None:
    pending = [k for k in kernels if k.work]
    if pending:
        (compiler.build_gpu if X.on_gpu() else compiler.build_host)(pending)
