"""Where a program's time goes: `plax.profiler.trace()` records tracing, lowering, compiling,
executing and host transfers (counts and seconds, by function) while it is active; and the
`named_scope` / `named_call` names that equations carry into jaxprs and StableHLO locations.

Instrumented code asks `state.active` (None when no profile is recorded, the usual case) and
wraps a phase in `record(phase, name)`; nested phases count only their own time."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from typing import Any, Callable

from plax._src.core import _ctx

PHASES = ("trace", "lower", "compile", "execute", "host_to_device", "device_to_host",
          "annotation")


# ---------------------------------------------------------------------------------------------
# Names carried into jaxprs


@contextlib.contextmanager
def named_scope(name: str):
    """Equations traced inside the block carry `name` in their name stack (printed by
    `jaxpr.pretty_print(name_stack=True)`, and in the StableHLO locations of the lowering,
    `loc("jit(f)/name/sin")`). Scopes nest: `outer/inner`."""
    if not isinstance(name, str):
        raise TypeError(f"named_scope name must be a string, got {type(name).__name__} "
                        f"{name!r}")
    if not name or "/" in name:
        raise ValueError(f"named_scope name must be a non-empty string without '/', got "
                         f"{name!r}")
    ctx = _ctx
    outer = ctx.name_stack
    ctx.name_stack = f"{outer}/{name}" if outer else name
    try:
        yield
    finally:
        ctx.name_stack = outer


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
    """`fun` wrapped so that the equations of each call are traced inside
    `named_scope(name)` (default: fun's `__name__`)."""
    if not callable(fun):
        raise TypeError(f"named_call expects a callable, got {fun!r}")
    scope = name if name is not None else getattr(fun, "__name__", None)
    if not isinstance(scope, str):
        raise TypeError(f"named_call: name must be a string, got {scope!r}")

    @functools.wraps(fun)
    def named(*args, **kwargs):
        with named_scope(scope):
            return fun(*args, **kwargs)

    return named


# ---------------------------------------------------------------------------------------------
# Recording


class _State:
    __slots__ = ("active", "listeners", "lock")

    def __init__(self):
        self.active: "Profile | None" = None  # the profile being recorded
        self.listeners: list[Callable[[], None]] = []  # called when a profile starts
        self.lock = threading.Lock()


state = _State()


def add_start_listener(fn: Callable[[], None]) -> None:
    """`fn()` runs whenever a profile starts (a transform caching launchers on its hot path
    drops them there, so that the calls of the profile go through its instrumented path)."""
    state.listeners.append(fn)


class Profile:
    """The events of one `trace()` block: (phase, name, start, seconds of its own), in order."""

    def __init__(self):
        self.events: list[tuple[str, str, float, float]] = []
        self._stack = threading.local()
        self.t0 = time.perf_counter()
        self.t1: float | None = None

    def _frames(self) -> list:
        s = getattr(self._stack, "frames", None)
        if s is None:
            s = self._stack.frames = []
        return s

    @contextlib.contextmanager
    def record(self, phase: str, name: str):
        frames = self._frames()
        frame = [0.0]  # time spent in nested phases, taken off this one's
        frames.append(frame)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            frames.pop()
            if frames:
                frames[-1][0] += dt
            self.events.append((phase, name, t0, max(dt - frame[0], 0.0)))

    # --- views ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """How many events of each phase."""
        out: dict[str, int] = {}
        for phase, _, _, _ in self.events:
            out[phase] = out.get(phase, 0) + 1
        return out

    def totals(self) -> dict[str, float]:
        """Seconds spent in each phase (its own time: nested phases not counted twice)."""
        out: dict[str, float] = {}
        for phase, _, _, dt in self.events:
            out[phase] = out.get(phase, 0.0) + dt
        return out

    def by_name(self) -> dict[tuple[str, str], tuple[int, float]]:
        """(phase, name) -> (count, seconds)."""
        out: dict[tuple[str, str], tuple[int, float]] = {}
        for phase, name, _, dt in self.events:
            n, t = out.get((phase, name), (0, 0.0))
            out[(phase, name)] = (n + 1, t + dt)
        return out

    def table(self) -> str:
        """A summary: each phase's count and time, then the functions that took most."""
        wall = (self.t1 or time.perf_counter()) - self.t0
        counts, totals = self.counts(), self.totals()
        order = [p for p in PHASES if p in counts] + sorted(set(counts) - set(PHASES))
        lines = [f"plax profile: {wall * 1e3:.1f} ms wall, {len(self.events)} events",
                 f"{'phase':<16}{'count':>8}{'total ms':>12}{'% of wall':>11}"]
        for p in order:
            share = 100 * totals[p] / wall if wall > 0 else 0.0
            lines.append(f"{p:<16}{counts[p]:>8}{totals[p] * 1e3:>12.3f}{share:>10.1f}%")
        rows = sorted(self.by_name().items(), key=lambda kv: -kv[1][1])[:15]
        if rows:
            lines.append(f"{'phase':<16}{'count':>8}{'total ms':>12}  name")
            for (p, name), (n, t) in rows:
                lines.append(f"{p:<16}{n:>8}{t * 1e3:>12.3f}  {name}")
        return "\n".join(lines)

    def chrome_trace(self) -> dict:
        """The events in Chrome's trace-event format (chrome://tracing, Perfetto)."""
        return {"traceEvents": [
            {"name": name, "cat": phase, "ph": "X", "pid": os.getpid(), "tid": 0,
             "ts": (start - self.t0) * 1e6, "dur": dt * 1e6}
            for phase, name, start, dt in self.events]}

    def __repr__(self):
        return f"<plax Profile {self.counts()}>"


@contextlib.contextmanager
def record(phase: str, name: str):
    """Time the block as `phase` of `name` in the active profile (nothing when none is)."""
    prof = state.active
    if prof is None:
        yield
        return
    with prof.record(phase, name):
        yield


@contextlib.contextmanager
def trace(log_dir: str | os.PathLike | None = None, *, print_summary: bool = True,
          file=None):
    """Record where the time of the block goes: `with plax.profiler.trace() as prof: ...`.

    Jitted calls inside run synchronously (each waits for its results), so that execution
    time is attributed to the call that spent it. At the end the summary table is printed
    (to `file`, default stderr) unless `print_summary=False`; with `log_dir`, the events are
    also written there as `plax_trace.json` (Chrome trace-event format)."""
    prof = Profile()
    with state.lock:
        if state.active is not None:
            raise RuntimeError("a plax profile is already being recorded; profiles do not nest")
        state.active = prof
    for fn in list(state.listeners):
        fn()
    try:
        yield prof
    finally:
        prof.t1 = time.perf_counter()
        state.active = None
        if log_dir is not None:
            import json  # here: `import plax` stays small
            os.makedirs(log_dir, exist_ok=True)
            with open(os.path.join(log_dir, "plax_trace.json"), "w") as f:
                json.dump(prof.chrome_trace(), f)
        if print_summary:
            print(prof.table(), file=file if file is not None else sys.stderr)


_started: list[Any] = []


def start_trace(log_dir: str | os.PathLike | None = None, *, print_summary: bool = True
                ) -> Profile:
    """Start recording (as entering `trace()`); `stop_trace()` ends it and returns the
    profile."""
    cm = trace(log_dir, print_summary=print_summary)
    prof = cm.__enter__()
    _started.append(cm)
    return prof


def stop_trace() -> Profile:
    if not _started:
        raise RuntimeError("plax.profiler.stop_trace() without a start_trace()")
    prof = state.active
    _started.pop().__exit__(None, None, None)
    return prof


class TraceAnnotation:
    """`with TraceAnnotation("data loading"):` records the block in the active profile under
    the phase 'annotation' (nothing when none is active)."""

    def __init__(self, name: str):
        self.name = name
        self._cm = None

    def __enter__(self):
        self._cm = record("annotation", self.name)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def annotate_function(fun: Callable | None = None, *, name: str | None = None):
    """Decorator: each call of `fun` is a TraceAnnotation."""
    if fun is None:
        return functools.partial(annotate_function, name=name)
    label = name or getattr(fun, "__qualname__", getattr(fun, "__name__", "fun"))

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        with TraceAnnotation(label):
            return fun(*args, **kwargs)

    return wrapper
