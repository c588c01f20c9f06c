"""What a backend is: devices, moving data, running one primitive, compiling a closed jaxpr.

Backend plugins subclass `Backend` and register a factory with
`registry.register_backend(name, factory, priority)`. This class declares every member that
eager dispatch, jit, pmap and the transforms use (nothing is read through `getattr`); members
with a default here are optional for a backend, the others it must implement.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class Device:
    """One device of a backend (`plax.devices()` lists them)."""

    __slots__ = ("backend_name", "platform", "id", "device_kind", "native", "process_index")

    def __init__(self, backend_name: str, platform: str, id: int, device_kind: str = "",
                 native: Any = None, process_index: int = 0):
        self.backend_name, self.platform, self.id = backend_name, platform, id
        self.device_kind = device_kind or platform
        self.native = native  # the backend's own device object, if any
        # the process that owns it (plax.distributed: 0 .. process_count - 1)
        self.process_index = process_index

    def __repr__(self):
        plat = {"cpu": "Cpu", "gpu": "Cuda", "cuda": "Cuda", "tpu": "Tpu"}.get(
            self.platform, self.platform.capitalize())
        return f"{plat}Device(id={self.id}, backend={self.backend_name})"

    def __eq__(self, other):
        return (type(other) is Device and other.backend_name == self.backend_name
                and other.id == self.id)

    def __hash__(self):
        return hash((self.backend_name, self.id))


class Executable:
    """A compiled closed jaxpr: call it with a list of buffers (the jaxpr's inputs, in order),
    get a list of buffers (its outputs). Made by `Backend.compile`."""

    #: Input positions whose buffers the executable takes over (donation honoured): after a
    #: call, the Arrays passed there are marked deleted by the execution module.
    donated: tuple[int, ...] = ()

    def __call__(self, buffers: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    @property
    def runner(self):
        """A callable with `__call__`'s contract that jit calls on its hot path: the launch
        alone, with whatever per-call checks can be skipped. Default: the executable itself.
        A runner may describe itself as two calls, `launch = (f, method, arg)` meaning
        `getattr(f(buffers), method)(arg)`: jit's C hot path then makes them itself (no
        Python frame of the runner's)."""
        return self

    # what `jit(f).lower(x).compile()` reports about the program (JAX's Compiled methods);
    # a backend with nothing to say raises NotImplementedError, as JAX documents
    def as_text(self) -> str:
        """The program as compiled, as text (XLA: the optimized HLO module)."""
        raise NotImplementedError(f"{type(self).__name__}: no text of the compiled program")

    def cost_analysis(self) -> dict:
        """The compiler's cost estimates ("flops", "transcendentals", "bytes accessed"...)."""
        raise NotImplementedError(f"{type(self).__name__}: no cost analysis")

    def memory_analysis(self):
        """The compiler's memory figures (argument, output, temporary sizes in bytes...)."""
        raise NotImplementedError(f"{type(self).__name__}: no memory analysis")

    def runtime_executable(self):
        """The runtime's own object for the program (XLA: jaxlib's LoadedExecutable)."""
        return self

    def shardings(self):
        """(the inputs' shardings, the outputs'): lists of plax shardings, or None for the
        backend's default device throughout."""
        return None

    def specialize(self, layouts):
        """What `Compiled` reports for inputs laid out as `layouts` (per input, a sharding
        over several devices or None): an object with this class's report methods (as_text,
        cost_analysis, memory_analysis, runtime_executable, shardings); default self."""
        return self


class UnsupportedPrimitiveError(NotImplementedError):
    """The chosen backend has no implementation of a primitive the program uses."""


class Backend:
    """A place where Arrays live and primitives run. Buffers are the backend's own objects
    (a NumPy array, a device buffer); the execution module pairs them with avals as Arrays."""

    #: the name it is registered under (`jit(f, backend=name)`)
    name: str = "?"
    #: "cpu", "gpu", "tpu", ...
    platform: str = "cpu"

    def devices(self) -> list[Device]:
        """Its devices (at least one); with plax.distributed, every process's."""
        raise NotImplementedError

    def local_devices(self) -> list[Device]:
        """The devices this process owns (those it can put data on). Default: all of them."""
        return self.devices()

    def process_index(self) -> int:
        """This process's index among the processes of a plax.distributed run (default 0)."""
        return 0

    def process_count(self) -> int:
        """How many processes share this backend's devices (plax.distributed; default 1)."""
        return 1

    def default_device(self) -> Device:
        return self.local_devices()[0]

    # data movement
    def put(self, x: np.ndarray, device: Device | None = None) -> Any:
        """A NumPy array as a buffer on `device` (default: the default device); a copy."""
        raise NotImplementedError

    def to_numpy(self, buf: Any) -> np.ndarray:
        """A buffer's value as a NumPy array (may be read-only)."""
        raise NotImplementedError

    def buffer_device(self, buf: Any) -> Device:
        """The device a buffer lives on."""
        return self.default_device()

    def copy_to_host_async(self, buf: Any) -> None:
        """Start copying `buf` to host memory (Array.copy_to_host_async); nothing to do where
        buffers are host memory already."""

    def block_until_ready(self, buf: Any) -> None:
        """Wait until the computation producing `buf` is done."""

    def buffer_shape_dtype(self, buf: Any):
        """(shape, dtype) of a buffer, for the `checks` option; None when the backend
        guarantees its results match the avals already (a compiler that type-checks)."""
        a = np.asarray(self.to_numpy(buf))
        return a.shape, a.dtype

    # arrays over several devices (a backend with one device keeps these defaults)
    def put_sharded(self, shards: Sequence[Any], devices: Sequence[Device], sharding,
                    shape: Sequence[int], dtype) -> Any:
        """One buffer holding `shards[i]` (NumPy arrays, or this backend's one-device
        buffers) on `devices[i]`: the global array of `shape` laid out by `sharding`."""
        if len(devices) != 1:
            raise ValueError(
                f"backend '{self.name}' holds each array on one device; a sharding over "
                f"{len(devices)} devices needs a backend with several (the xla backend)")
        s = shards[0]
        if not isinstance(s, np.ndarray) and self.buffer_device(s) == devices[0]:
            return s
        return self.put(np.asarray(s if isinstance(s, np.ndarray) else self.to_numpy(s)),
                        devices[0])

    def buffer_sharding(self, buf: Any):
        """How a buffer is laid out over devices (a plax.sharding.Sharding)."""
        from plax._src.sharding import SingleDeviceSharding
        return SingleDeviceSharding(self.buffer_device(buf))

    def buffer_shards(self, buf: Any) -> list:
        """[(device, one-device buffer)] of the pieces of a buffer this process holds."""
        return [(self.buffer_device(buf), buf)]

    # execution
    def execute_primitive(self, prim, buffers: Sequence[Any], avals_in, avals_out,
                          params: dict):
        """Run `prim` on `buffers`; return one buffer (a list for multiple_results)."""
        raise NotImplementedError

    def eager_runner(self, prim, avals_in: tuple, avals_out, params: dict):
        """A callable `run(buffers)` equal to `execute_primitive(prim, buffers, avals_in,
        avals_out, params)` for these avals and params. Eager dispatch caches it per signature,
        so a backend can do its per-signature work (a compile, a rule lookup) here, once."""
        execute = self.execute_primitive
        return lambda buffers: execute(prim, buffers, avals_in, avals_out, params)

    def compile(self, closed_jaxpr, *, device: Device | None = None,
                donate_argnums: Sequence[int] = ()) -> Executable:
        """Compile a const-free ClosedJaxpr for `device` (default: the default device). Inputs
        at `donate_argnums` may be taken over (say which in `Executable.donated`)."""
        raise NotImplementedError

    def supports(self, prim, params: dict | None = None) -> bool:
        """Whether this backend can run `prim` (eagerly and in compiled programs)."""
        raise NotImplementedError

    def lower_text(self, closed_jaxpr, debug_info: bool = False,
                   dialect: str | None = None) -> str:
        """The program `compile` would build, as text (`jit(f).lower(x).as_text()`); a backend
        without an intermediate language of its own shows the jaxpr. `debug_info`: with the
        source locations (`plax.named_scope` paths) where the language has them. `dialect`:
        one of the languages the backend lowers through (None: its own)."""
        self._check_jaxpr_dialect(dialect)
        if debug_info and hasattr(closed_jaxpr, "pretty_print"):
            return closed_jaxpr.pretty_print(name_stack=True)
        return str(closed_jaxpr)

    def compiler_ir(self, closed_jaxpr, dialect: str | None = None):
        """`Lowered.compiler_ir(dialect)`: the program as the compiler's own object; a backend
        without an intermediate language of its own gives the ClosedJaxpr."""
        self._check_jaxpr_dialect(dialect)
        return closed_jaxpr

    def lowered_cost_analysis(self, closed_jaxpr) -> dict:
        """`Lowered.cost_analysis()`: the compiler's cost estimates before compiling."""
        raise NotImplementedError(f"backend '{self.name}' has no cost analysis")

    def _check_jaxpr_dialect(self, dialect) -> None:
        if dialect not in (None, "jaxpr"):
            raise ValueError(f"unknown dialect {dialect!r}: backend '{self.name}' runs the "
                             "jaxpr itself (dialect 'jaxpr', the default)")

    def pmap_execute(self, fun, args: tuple, kwargs: dict, *, axis_name, in_axes, out_axes,
                     static_argnums: tuple, devices, donate_argnums):
        """Run `pmap(fun, ...)(*args, **kwargs)` with one program per device, collectives
        across devices; return the outputs (Arrays in `fun`'s output tree). The default returns
        NotImplemented: pmap then runs with vmap semantics inside jit on this backend."""
        return NotImplemented

    def clear_caches(self) -> None:
        """Drop whatever this backend caches (compiled programs); `plax.clear_caches()`."""

    def check_supported(self, jaxpr) -> None:
        """Raise UnsupportedPrimitiveError naming every primitive of `jaxpr` (nested jaxprs
        included) that this backend cannot run, before anything runs."""
        missing = sorted({e.primitive.name for e in iter_eqns(jaxpr)
                          if e.primitive.name in EAGER_ONLY
                          or not self.supports(e.primitive, e.params)})
        if missing:
            advice = [EAGER_ONLY[n] for n in missing if n in EAGER_ONLY]
            if len(advice) < len(missing):
                advice.insert(0, "choose another backend with plax.default_backend(...) or "
                                 "jit(..., backend=...)")
            raise UnsupportedPrimitiveError(
                f"backend '{self.name}' cannot run primitive(s) {', '.join(missing)}; "
                + "; ".join(advice))

    def __repr__(self):
        return f"<plax backend {self.name} ({self.platform})>"


# primitive name -> what to do instead: primitives that run only eagerly, on values (checkify's
# `check` outside checkify); `check_supported` refuses them in every compiled program
EAGER_ONLY: dict[str, str] = {}


def iter_eqns(jaxpr):
    """All equations of a jaxpr, recursing into jaxpr-valued params."""
    from plax._src.core import ClosedJaxpr, Jaxpr
    jaxpr = jaxpr.jaxpr if isinstance(jaxpr, ClosedJaxpr) else jaxpr
    for eqn in jaxpr.eqns:
        yield eqn
        for v in eqn.params.values():
            for sub in (v if isinstance(v, tuple) else (v,)):
                if isinstance(sub, (Jaxpr, ClosedJaxpr)):
                    yield from iter_eqns(sub)
