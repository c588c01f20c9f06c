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
        self._fn = None

    @property
    def source(self) -> str:
        return self.kernel.source

    def _function(self):
        if self._fn is None:
            k = self.kernel
            self._fn = compiler.gpu_function(k) if X.on_gpu() else compiler.host_function(k)
        return self._fn

    def __call__(self, arrays):
        k = self.kernel
        outs = [X.empty(a.shape, a.dtype) for a in k.out_avals]
        if k.work == 0:
            return outs
        fn = self._function()
        if X.on_gpu():
            args = [X.xp.ascontiguousarray(a) for a in arrays] + outs
            fn((k.grid,), (k.block,), tuple(args))
        else:
            ins = [np.ascontiguousarray(a) for a in arrays]
            fn(*[ctypes.c_void_p(a.ctypes.data) for a in ins + outs])
        compiler.count_launch()
        return outs


def build(runners) -> None:
    """Build every runner's kernel with one compiler call (host build; on the GPU each kernel
    loads from NVRTC's cache)."""
    pending = [r.kernel for r in runners if r.kernel.work]
    if pending and not X.on_gpu():
        compiler.build_host(pending)
