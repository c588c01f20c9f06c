"""plax.profiler: where a jitted program's time goes (trace, lower, compile, execute, host
transfers; counts and seconds per function), as `with plax.profiler.trace() as prof:` or
`python -m plax profile script.py`. Backends and transforms time their phases with `record`.
"""

from plax._src.profiler import (  # noqa: F401
    PHASES, Profile, TraceAnnotation, add_start_listener, annotate_function, record,
    start_trace, state, stop_trace, trace)

__all__ = ["PHASES", "Profile", "TraceAnnotation", "add_start_listener", "annotate_function",
           "record", "start_trace", "state", "stop_trace", "trace"]
