"""plax.monitoring (as jax.monitoring): listeners for events, durations, time spans and scalars.
plax's jit records "/plax/core/compile/backend_compile_duration" (a duration and a time span,
with fun_name=...) for each backend compilation, as JAX records its "/jax/core/compile/..."
events; anything may record its own with `record_event(...)` and friends."""

from __future__ import annotations

from typing import Callable

__all__ = [
    "clear_event_listeners", "record_event", "record_event_duration_secs",
    "record_event_time_span", "record_scalar", "register_event_duration_secs_listener",
    "register_event_listener", "register_event_time_span_listener", "register_scalar_listener",
    "unregister_event_duration_listener", "unregister_event_listener",
    "unregister_event_time_span_listener", "unregister_scalar_listener"]

BACKEND_COMPILE_EVENT = "/plax/core/compile/backend_compile_duration"

_event_listeners: list[Callable] = []
_event_duration_secs_listeners: list[Callable] = []
_event_time_span_listeners: list[Callable] = []
_scalar_listeners: list[Callable] = []


def record_event(event: str, **kwargs: str | int) -> None:
    """Call every event listener with `event` and the metadata `kwargs`."""
    for callback in list(_event_listeners):
        callback(event, **kwargs)


def record_event_duration_secs(event: str, duration: float, **kwargs: str | int) -> None:
    """Call every duration listener with `event`, `duration` (seconds) and `kwargs`."""
    for callback in list(_event_duration_secs_listeners):
        callback(event, duration, **kwargs)


def record_event_time_span(event: str, start_time: float, end_time: float,
                           **kwargs: str | int) -> None:
    """Call every time-span listener with `event`, its start and end times and `kwargs`."""
    for callback in list(_event_time_span_listeners):
        callback(event, start_time, end_time, **kwargs)


def record_scalar(event: str, value: float | int, **kwargs: str | int) -> None:
    """Call every scalar listener with `event`, `value` and `kwargs`."""
    for callback in list(_scalar_listeners):
        callback(event, value, **kwargs)


def _register(listeners: list, callback, what: str) -> None:
    if not callable(callback):
        raise TypeError(f"register_{what}: callback must be callable, got "
                        f"{type(callback).__name__}")
    listeners.append(callback)


def _unregister(listeners: list, callback, what: str) -> None:
    if callback not in listeners:
        raise ValueError(f"unregister_{what}: callback {callback!r} is not registered")
    listeners.remove(callback)


def register_event_listener(callback) -> None:
    _register(_event_listeners, callback, "event_listener")


def register_event_duration_secs_listener(callback) -> None:
    _register(_event_duration_secs_listeners, callback, "event_duration_secs_listener")


def register_event_time_span_listener(callback) -> None:
    _register(_event_time_span_listeners, callback, "event_time_span_listener")


def register_scalar_listener(callback) -> None:
    _register(_scalar_listeners, callback, "scalar_listener")


def unregister_event_listener(callback) -> None:
    _unregister(_event_listeners, callback, "event_listener")


def unregister_event_duration_listener(callback) -> None:
    _unregister(_event_duration_secs_listeners, callback, "event_duration_listener")


def unregister_event_time_span_listener(callback) -> None:
    _unregister(_event_time_span_listeners, callback, "event_time_span_listener")


def unregister_scalar_listener(callback) -> None:
    _unregister(_scalar_listeners, callback, "scalar_listener")


def clear_event_listeners() -> None:
    """Remove every listener of every kind."""
    for listeners in (_event_listeners, _event_duration_secs_listeners,
                      _event_time_span_listeners, _scalar_listeners):
        listeners.clear()


def _has_compile_listeners() -> bool:
    return bool(_event_duration_secs_listeners or _event_time_span_listeners)
