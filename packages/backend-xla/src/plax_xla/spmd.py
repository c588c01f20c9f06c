"""Programs partitioned by XLA's SPMD partitioner over several devices (jit over a mesh).

A program is partitioned when its inputs are Arrays over several devices, or when it holds a
sharding constraint or a shard_map over a mesh. Each input's layout becomes an `mhlo.sharding`
attribute of its parameter (one-device inputs are replicated), the program is compiled with
num_partitions = number of devices, and its outputs come back as global arrays over them, laid
out as XLA's propagation chose (as NamedShardings on the program's mesh where one fits). A
compiled variant is kept per tuple of input layouts.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from plax.extend import Executable, check_thread_guard, iter_eqns
from plax.sharding import Mesh, NamedSharding, sharding_devices, xla_sharding_text
from plax_xla import _jaxlib as jl
from plax_xla.lowering import physical, take_host_callbacks


class Spmd:
    """What lowering a partitioned program needs: its partitions' devices (plax Devices, in
    partition order) and the mesh they come from (None when only arrays' layouts are known)."""

    __slots__ = ("devices", "mesh", "index")

    def __init__(self, devices: Sequence[Any], mesh: Mesh | None):
        self.devices, self.mesh = tuple(devices), mesh
        self.index = {d: i for i, d in enumerate(self.devices)}

    def key(self):
        return self.devices, self.mesh

    def sharding_text(self, sharding, ndim: int) -> str:
        self.check(sharding, "a sharding")
        return xla_sharding_text(sharding, ndim, self.devices)

    def check(self, sharding, what: str) -> None:
        if set(sharding.device_set) != set(self.devices):
            raise ValueError(
                f"{what} ({sharding!r}) lies on devices "
                f"{sorted(d.id for d in sharding.device_set)}, but the program is partitioned "
                f"over devices {[d.id for d in self.devices]}; every sharded input, constraint "
                "and shard_map of one program must use the same devices")


def mesh_of_jaxpr(closed) -> Spmd | None:
    """The mesh (over more than one device) of the sharding constraints and shard_maps in a
    program, or None."""
    found = None
    for eqn in iter_eqns(closed):
        for v in eqn.params.values():
            mesh = v.mesh if isinstance(v, NamedSharding) else v if isinstance(v, Mesh) else None
            if mesh is None or mesh.size < 2:
                continue
            if found is None:
                found = mesh
            elif set(mesh.devices.flat) != set(found.devices.flat):
                raise ValueError(f"a program uses meshes over different devices: {found!r} "
                                 f"({sorted(d.id for d in found.devices.flat)}) and {mesh!r} "
                                 f"({sorted(d.id for d in mesh.devices.flat)})")
    return None if found is None else Spmd(list(found.devices.flat), found)


class SpmdRunner:
    """Runs one program partitioned over the devices its inputs (or its mesh) say; compiles a
    variant per tuple of input layouts. `lower(spmd, arg_shardings) -> module text`."""

    def __init__(self, backend, lower: Callable, in_avals, out_avals, fixed: Spmd | None):
        self._backend, self._lower, self._fixed = backend, lower, fixed
        self._in = [physical(a) for a in in_avals]
        self._out = [physical(a) for a in out_avals]
        self._variants: dict = {}
        self._by_layout: dict = {}  # input layouts -> (devices, executable, handlers)
        self.shardings: dict = {}  # id(executable) -> (input shardings, output shardings)

    def variant(self, layouts: tuple):
        """(partition devices, executable, result handlers) for inputs laid out so (each
        input's plax sharding, None for a one-device input), compiled on first use."""
        hit = self._by_layout.get(layouts)
        if hit is None:
            hit = self._by_layout[layouts] = self._prepare(layouts)
        return hit

    def __call__(self, buffers: Sequence[Any]) -> list:
        backend = self._backend
        layouts = tuple(None if jl.single_device_of(b) is not None else backend.buffer_sharding(b)
                        for b in buffers)
        natives, loaded, handlers = self.variant(layouts)
        if backend._process_count == 1:
            local = natives
        else:  # a multi-process launch: refused from another thread than thread_guard's
            check_thread_guard()
            local = [n for n in natives if n.process_index == backend._process_index]
        args = []
        for b, s, (shape, dtype) in zip(buffers, layouts, self._in):
            if s is None:  # a one-device input: the same value on every partition
                args.append(jl.put_replicated(b, shape, dtype, natives, local))
            elif jl.devices_of(b) != natives:  # its pieces in another device order: anew
                args.append(backend.put_in_order(b, s, self._devs(natives),
                                                 shape, dtype))
            else:
                args.append(b)
        if backend._runtime is None:  # never overlapping another program over the devices
            return jl.execute_replicated(loaded, args, handlers)
        with backend._runtime.collective():  # waits for the other processes' parts
            return jl.execute_replicated(loaded, args, handlers, wait=True)

    def _devs(self, natives):
        return [self._backend._by_native[n] for n in natives]

    def _prepare(self, layouts):
        """(partition devices, executable, result handlers) for inputs laid out so."""
        spmd = self._fixed
        if spmd is None:
            first = next((s for s in layouts if s is not None), None)
            if first is None:
                raise ValueError("a partitioned program needs a mesh or a sharded input")
            spmd = Spmd(sharding_devices(first), getattr(first, "mesh", None))
        texts = []
        for i, (s, (shape, _)) in enumerate(zip(layouts, self._in)):
            if s is None:
                texts.append("{replicated}")
            else:
                spmd.check(s, f"input {i}")
                texts.append(spmd.sharding_text(s, len(shape)))
        key = (spmd.key(), tuple(texts))
        variant = self._variants.get(key)
        if variant is None:
            variant = self._variants[key] = self._compile(spmd, texts,
                                                          [d.native for d in spmd.devices])
        return ([d.native for d in spmd.devices], *variant)

    def _compile(self, spmd: Spmd, texts, natives):
        text = self._lower(spmd, texts)
        if take_host_callbacks(text):
            raise NotImplementedError("host callbacks (pure_callback, debug.print) inside a "
                                      "program partitioned over several devices")
        backend = self._backend
        backend.stats["spmd_compiles"] += 1
        loaded = backend._compile_loaded(text, natives, num_partitions=len(natives),
                                         num_outputs=len(self._out))
        self.last_text = text
        handlers, outs = [], []
        for (shape, dtype), out_text in zip(self._out, jl.output_sharding_texts(loaded)):
            sharding = backend.sharding_from_text(out_text, spmd, len(shape))
            outs.append(sharding)
            handlers.append(jl.result_handler(shape, dtype,
                                              backend.gspmd(sharding, len(shape), spmd.devices)))
        # the plax shardings of its parameters and results (Compiled.input_shardings...)
        self.shardings[id(loaded)] = ([backend.sharding_from_text(t, spmd, len(shape))
                                       for t, (shape, _) in zip(texts, self._in)], outs)
        return loaded, handlers


class LoadedReports:
    """What `Compiled` reports of a program held as a jaxlib LoadedExecutable in `_loaded`
    (XlaExecutable, PartitionedView): XLA's optimized HLO, cost and memory analyses."""

    __slots__ = ()

    def as_text(self) -> str:
        return jl.compiled_text(self._loaded)

    def cost_analysis(self) -> dict:
        return jl.cost_analysis(self._loaded)

    def memory_analysis(self):
        return jl.memory_analysis(self._loaded)

    def runtime_executable(self):
        return self._loaded


class PartitionedView(LoadedReports):
    """What `Compiled` reports of a program partitioned for given input layouts: the variant
    a call on inputs laid out so runs (compiled here if no call has yet)."""

    __slots__ = ("_runner", "_loaded")

    def __init__(self, runner: SpmdRunner, layouts: tuple):
        self._runner = runner
        _, self._loaded, _ = runner.variant(tuple(layouts))

    def shardings(self):
        return self._runner.shardings[id(self._loaded)]


class SpmdExecutable(Executable):
    """A program with sharding constraints or shard_maps over a mesh: always partitioned."""

    __slots__ = ("_run", "donated")

    def __init__(self, runner: SpmdRunner):
        self._run = runner
        self.donated = ()

    def __call__(self, buffers):
        return self._run(buffers)

    @property
    def text(self) -> str:
        return getattr(self._run, "last_text", "")

    def specialize(self, layouts):
        """The program partitioned for inputs laid out so (its mesh fixes the devices)."""
        return PartitionedView(self._run, tuple(layouts) if layouts is not None
                               else (None,) * len(self._run._in))

    # its reports (Compiled): the variant for one-device inputs (the mesh fixes the devices)
    def as_text(self) -> str:
        return self.specialize(None).as_text()

    def cost_analysis(self) -> dict:
        return self.specialize(None).cost_analysis()

    def memory_analysis(self):
        return self.specialize(None).memory_analysis()

    def runtime_executable(self):
        return self.specialize(None).runtime_executable()

    def shardings(self):
        return self.specialize(None).shardings()
