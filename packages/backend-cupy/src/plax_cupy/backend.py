"""CupyBackend: buffers are CuPy arrays on the GPU (NumPy arrays in the host build); eager
primitives run their library rule; `compile` plans a closed jaxpr into fused kernels and library
calls (`program.Program`). Everything is asynchronous on the current CuPy stream, as the other
backends: only `to_numpy`, `block_until_ready` and control-flow predicates synchronise."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np

import plax
from plax.extend import Backend, Device, UnsupportedPrimitiveError, abstract_token
from plax.extend import registry as plax_registry
from plax_cupy import xp as X
from plax_cupy.library import numpy_rule
from plax_cupy.program import Program, fix
from plax_cupy.rules import rules_for

_MAX_SUBPROGRAMS = 512


class CupyUnavailableError(RuntimeError):
    """The cupy backend cannot start here (the message says why)."""


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, device: str | None = None):
        kind = (device or plax.config.value("cupy_device")).strip().lower()
        if kind not in ("gpu", "host"):
            raise ValueError(f"plax cupy backend: cupy_device must be 'gpu' or 'host', got "
                             f"{kind!r} (config 'cupy_device' / PLAX_CUPY_DEVICE)")
        reason = X.unavailable_reason(kind)
        if reason is not None:
            raise CupyUnavailableError(reason)
        self.kind = kind
        self.xp = X.select(kind)
        if kind == "gpu":
            import cupy
            n = cupy.cuda.runtime.getDeviceCount()
            self.platform = "gpu"
            self._devices = [Device("cupy", "gpu", i,
                                    cupy.cuda.runtime.getDeviceProperties(i)["name"].decode(),
                                    native=i) for i in range(n)]
        else:
            self.platform = "cpu"
            n = int(plax.config.value("cupy_host_devices"))
            self._devices = [Device("cupy", "cpu", i, "host build (g++)" if n == 1 else
                                    f"host build (g++), emulated device {i} of {n}",
                                    native=None) for i in range(n)]
        self._rules = rules_for(plax_registry.primitives(), self.program)
        self._eager_rules: dict = {}  # eager rules that differ from the library's (eager_kernels)
        if kind == "gpu":  # decompositions through cuSOLVER / cuBLAS instead of the host
            from plax_cupy import lib_conv, lib_decomp, lib_special
            gpu_rules = {**lib_decomp.GPU_RULES, **lib_conv.GPU_RULES, **lib_special.GPU_RULES}
            for prim in list(self._rules):
                if prim.name in gpu_rules:
                    self._rules[prim] = gpu_rules[prim.name]
        from plax_cupy.eager_kernels import EAGER_KERNEL_OPS, KERNEL_OPS, kernel_rule
        for prim in list(self._rules):  # eagerly too, the generated kernel (as under jit)
            if prim.name in KERNEL_OPS:  # no library rule but the kernel (and NumPy's)
                self._rules[prim] = kernel_rule(prim, self._rules[prim],
                                                with_fusion_only=False)
            elif prim.name in EAGER_KERNEL_OPS:
                self._eager_rules[prim] = kernel_rule(prim, self._rules[prim],
                                                EAGER_KERNEL_OPS[prim.name])
        self._extra = plax_registry.impl_table("cupy")  # third parties' rules for this backend
        self._programs: OrderedDict = OrderedDict()
        self._pmap_cache: dict = {}

    # --- devices and data movement ---------------------------------------------------------
    def devices(self) -> list[Device]:
        return self._devices

    def put(self, x, device: Device | None = None):
        x = np.asarray(x)
        if self.kind == "host":
            return np.array(x, copy=True)
        import cupy  # CuPy 14 holds bfloat16 arrays (ml_dtypes' dtype, ufunc loops 'E')
        with cupy.cuda.Device(0 if device is None else device.id):
            return cupy.asarray(x)

    def to_numpy(self, buf) -> np.ndarray:
        return X.to_numpy(buf)

    def buffer_device(self, buf) -> Device:
        if self.kind == "gpu":
            return self._devices[buf.device.id]
        return self._devices[0]

    def block_until_ready(self, buf) -> None:
        if self.kind == "gpu":
            buf.device.synchronize()

    # --- what it runs -----------------------------------------------------------------------
    def rule(self, prim):
        rule = self._rules.get(prim) or self._extra.get(prim)
        if rule is None:
            rule = self._rule_by_name(prim)
        if rule is None:
            raise UnsupportedPrimitiveError(
                f"backend 'cupy' has no implementation of primitive '{prim.name}'")
        return rule

    def _rule_by_name(self, prim):
        """A primitive registered after the backend started (a plugin loaded later)."""
        rule = rules_for({prim.name: prim}, self.program).get(prim)
        if rule is not None:
            self._rules[prim] = rule
        return rule

    def host_primitives(self) -> list[str]:
        """Primitives that run as NumPy calls (on the GPU: through the host, one sync each).
        The host build lists lu, geqrf, householder_product and the decompositions that the
        GPU build runs through CuPy (lib_decomp.GPU_RULES); eig, schur, hessenberg and
        tridiagonal have no CuPy equivalent and stay here on the GPU too. A generic
        reduce_window whose computation the kernels cannot inline runs its NumPy rule without
        being listed (its kernel is the rule)."""
        return sorted(p.name for p, r in self._rules.items()
                      if getattr(r, "numpy_fallback", False))

    def supports(self, prim, params=None) -> bool:
        return prim in self._rules or prim in self._extra or \
            self._rule_by_name(prim) is not None

    def _eager_rule(self, prim):
        """The rule to run `prim` eagerly: ours, else a NumPy rule (a third party's primitive
        with a reference impl runs through the host; under jit it is refused, naming it)."""
        if self.supports(prim):
            return self._eager_rules.get(prim) or self.rule(prim)
        rule = numpy_rule(prim)
        if rule is None:
            raise UnsupportedPrimitiveError(
                f"backend 'cupy' has no implementation of primitive '{prim.name}'")
        return rule

    def execute_primitive(self, prim, buffers, avals_in, avals_out, params):
        out = self._eager_rule(prim)(*buffers, **params)
        if prim.multiple_results:
            return [fix(o, a) for o, a in zip(out, avals_out)]
        return fix(out, avals_out)

    def eager_runner(self, prim, avals_in, avals_out, params):
        rule = self._eager_rule(prim)
        if prim.multiple_results:
            return lambda buffers: [fix(o, a) for o, a in
                                    zip(rule(*buffers, **params), avals_out)]
        if avals_out is abstract_token:  # a token: a unit value (None)
            return lambda buffers: rule(*buffers, **params)
        xp, dtype = self.xp, avals_out.dtype

        def run(buffers):
            out = rule(*buffers, **params)
            return out if type(out) is xp.ndarray and out.dtype == dtype else \
                xp.asarray(out, dtype=dtype)
        return run

    def compile(self, closed_jaxpr, *, device: Device | None = None,
                donate_argnums: Sequence[int] = ()) -> Program:
        self.check_supported(closed_jaxpr)  # fails naming the primitives, before any work
        return Program(self, closed_jaxpr, donate_argnums)

    def program(self, closed, build: bool = True) -> Program:
        """The cached program of a sub-jaxpr (control flow, calls), compiled once per jaxpr
        (`build=False`: its kernels are built by the caller, with its own)."""
        # per device too: a program's constants and kernels live on the device that built it
        # (the GPUs of a multi-GPU pmap each run their own)
        key = (id(closed), X.current_device()) if self.kind == "gpu" else id(closed)
        entry = self._programs.get(key)
        if entry is None or entry[0] is not closed:
            entry = self._programs[key] = (closed, Program(self, closed, build=build))
            if len(self._programs) > _MAX_SUBPROGRAMS:
                self._programs.popitem(last=False)
        else:
            self._programs.move_to_end(key)
        return entry[1]

    def clear_caches(self) -> None:
        self._programs.clear()
        self._pmap_cache.clear()

    def lower_text(self, closed_jaxpr, debug_info: bool = False,
                   dialect: str | None = None) -> str:
        """The plan of `closed_jaxpr`: each fused group with its CUDA source, each library call
        (dialect "cuda", the default; "jaxpr": the jaxpr alone)."""
        if dialect == "jaxpr":
            return super().lower_text(closed_jaxpr, debug_info)
        if dialect not in (None, "cuda"):
            raise ValueError(f"unknown dialect {dialect!r}: the cupy backend lowers to 'cuda' "
                             "(the default: fused kernels and library calls) or 'jaxpr'")
        from plax_cupy.lowering import plan_text
        return plan_text(self, closed_jaxpr)

    def compiler_ir(self, closed_jaxpr, dialect: str | None = None):
        """The plan's text ("cuda", the default) or the ClosedJaxpr ("jaxpr")."""
        if dialect == "jaxpr":
            return closed_jaxpr
        return self.lower_text(closed_jaxpr, dialect=dialect)

    def pmap_execute(self, fun, args, kwargs, **options):
        from plax_cupy.pmap import pmap_execute
        return pmap_execute(self, fun, args, kwargs, **options)

    def __repr__(self):
        return f"<plax backend cupy ({self.kind}, {len(self._devices)} devices)>"
