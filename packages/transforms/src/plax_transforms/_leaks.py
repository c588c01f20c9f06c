"""check_tracer_leaks (`with plax.checking_leaks():`): after a transformation's trace has
finished, any of its tracers that something still references has leaked (into a global, a
closure cell, a list): an Exception naming it, as JAX's."""

from __future__ import annotations

import gc

from plax.extend import Tracer

def check_leaks(trace_ref, what: str) -> None:
    """check_tracer_leaks: after a trace has finished, raise (an Exception, as JAX's) naming
    any of its tracers something still references (a global list, a closure cell ...)."""
    if trace_ref() is None:
        return
    gc.collect()
    trace = trace_ref()
    if trace is None:
        return
    leaked = [r for r in gc.get_referrers(trace) if isinstance(r, Tracer)]
    if not leaked:
        return
    lines = []
    for t in leaked:
        holders = [h for h in gc.get_referrers(t) if h is not leaked]
        where = ", ".join(f"<{type(h).__name__} {id(h)}>" for h in holders[:3])
        lines.append(f"{type(t).__name__}({t.aval.str_short()}) referred to by {where}")
    raise Exception(f"Leaked trace {type(trace).__name__}. Leaked tracer(s):\n\n"
                    + "\n".join(lines) + f"\nThe error occurred while tracing {what}.")
