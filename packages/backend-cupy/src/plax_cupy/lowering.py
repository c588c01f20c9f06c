"""`jit(f, backend="cupy").lower(x).as_text()`: the program as this backend runs it: the jaxpr,
then each step in order (a fused group with its generated CUDA source, or a library call)."""

from __future__ import annotations

from plax_cupy import xp as X
from plax_cupy.program import fusion_enabled, plan


def plan_text(backend, closed) -> str:
    steps = plan(closed.jaxpr)
    kernels = [s for s in steps if getattr(s, "eqn", None) is None]
    lines = [f"// plax cupy program ({X.device} build, fusion "
             f"{'on' if fusion_enabled() else 'off'}): {len(steps)} steps, "
             f"{len(kernels)} fused kernels, {len(steps) - len(kernels)} library calls",
             "// jaxpr:"]
    lines += [f"//   {line}" for line in str(closed).splitlines()]
    prelude_shown = False
    for i, step in enumerate(steps):
        eqn = getattr(step, "eqn", None)
        if eqn is not None:
            avals = ", ".join(_aval(v.aval) for v in eqn.outvars)
            how = " (NumPy on the host)" if getattr(backend.rule(eqn.primitive),
                                                     "numpy_fallback", False) else ""
            lines.append(f"// step {i}: library {eqn.primitive.name}{how} -> {avals}")
            continue
        from plax_cupy.fused import FusedRunner
        kernel = FusedRunner(step).kernel
        ops = " ".join(e.primitive.name for e in step.eqns)
        lines.append(f"// step {i}: fused {step.kind} kernel {kernel.name} over "
                     f"{tuple(step.shape)}: reads {len(step.in_vars)}, writes "
                     f"{len(step.out_vars)} ({', '.join(_aval(v.aval) for v in step.out_vars)})"
                     f"; grid {kernel.grid} x block {kernel.block}; ops: {ops}")
        if not prelude_shown:
            lines.append(kernel.source)
            prelude_shown = True
        else:
            lines.append(kernel.body)
    return "\n".join(lines)


def _aval(a) -> str:
    return f"{a.dtype.name}{list(a.shape)}"
