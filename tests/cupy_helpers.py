"""Running a function through plax_cupy's planner and fused kernels without the backend around
it: library steps run on the reference backend, fused groups as generated kernels. Shared by
test_cupy_fusion.py and test_cupy_codegen.py.

The kernels run in the host build (g++), or on the GPU with PLAX_CUPY_TEST_DEVICE=gpu (for a
machine with one: the same tests then check the NVRTC cubins' numbers)."""

from __future__ import annotations

import os

import numpy as np

import plax
from plax.extend import Literal

from plax_cupy import compiler, fused, planner
from plax_cupy import xp as X

DEVICE = os.environ.get("PLAX_CUPY_TEST_DEVICE", "host")
if DEVICE != X.device:
    X.select(DEVICE)


def to_device(a):
    return X.xp.asarray(np.asarray(a))


def to_host(a):
    return X.to_numpy(a)


def plan_of(f, *args):
    closed = plax.make_jaxpr(f)(*args)
    return closed, planner.plan(closed)


def kernels_of(f, *args):
    """The KernelSources generated for `f` on `args`."""
    _, steps = plan_of(f, *args)
    return [fused.FusedRunner(s).kernel for s in steps if isinstance(s, planner.FusedGroup)]


def run_fused(f, *args, functions=None):
    """(flat outputs as NumPy arrays, plan steps, kernel launches) of `f` on `args`;
    `functions` ({kernel name: entry points}, from compiler.build_emulated) replaces the
    kernels' host build (on a GPU the real device's threads run instead of their emulation)."""
    closed, steps = plan_of(f, *args)
    jaxpr = closed.jaxpr
    env = dict(zip(jaxpr.constvars, (to_device(c) for c in closed.consts)))
    env.update(zip(jaxpr.invars, (to_device(a) for a in plax.tree_util.tree_leaves(args))))
    runners = {id(s): fused.FusedRunner(s) for s in steps if isinstance(s, planner.FusedGroup)}
    if functions is not None and not X.on_gpu():
        for r in runners.values():
            r.use_functions(functions[r.kernel.name])
    else:
        fused.build(list(runners.values()))
    before = compiler.launch_count()
    for s in steps:
        if isinstance(s, planner.LibraryStep):
            e = s.eqn
            vals = [x.val if isinstance(x, Literal) else to_host(env[x]) for x in e.invars]
            with plax.default_backend("reference"), plax.config.override("checks", False):
                out = e.primitive.bind(*vals, **e.params)
            outs = out if e.primitive.multiple_results else [out]
            env.update(zip(e.outvars, (to_device(np.asarray(o)) for o in outs)))
        else:
            outs = runners[id(s)]([env[v] for v in s.in_vars])
            env.update(zip(s.out_vars, outs))
    res = [np.asarray(x.val) if isinstance(x, Literal) else to_host(env[x])
           for x in jaxpr.outvars]
    return res, steps, compiler.launch_count() - before


def reference(f, *args):
    """Flat outputs of `f` on the reference backend (checked mode off: the corpus divides
    integers by zero on purpose, to compare XLA's results)."""
    with plax.default_backend("reference"), np.errstate(all="ignore"), \
            plax.config.override("checks", False):
        return [np.asarray(o) for o in plax.tree_util.tree_leaves(f(*args))]


def groups(steps):
    return [s for s in steps if isinstance(s, planner.FusedGroup)]


def assert_nvrtc_sm90_without_spills(kernels) -> str:
    """Compile `kernels` (KernelSources) with NVRTC into one sm_90 cubin and check it: a cubin
    (ELF, not PTX), every entry function compiled for sm_90, no register spills (ptxas's
    verbose log). Skips the test where NVRTC is not usable. Returns the log."""
    import pytest
    try:
        compiler.nvrtc_version()
        compiler.cuda_include_dir()
    except Exception as e:  # noqa: BLE001 - any reason NVRTC is unusable here
        pytest.skip(f"NVRTC is not usable here: {e}")
    cubin, log = compiler.compile_cubin(kernels, verbose=True)
    assert cubin[:4] == b"\x7fELF"  # a cubin, not PTX
    for k in kernels:
        for entry in k.entries:
            assert f"Compiling entry function '{entry}' for 'sm_90'" in log
    assert "spill" in log and compiler.spills(log) == 0, log[-3000:]
    return log
