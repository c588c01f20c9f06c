"""plax.distributed's state: the settings of a many-process run, checked and handed to the
runtime of each backend that registered one (rule table "distributed", keyed by backend name:
`connect(settings) -> handle`), before that backend starts. A handle has `shutdown()` (leave
the run, waiting for the others) and `abandon(reason)` (leave at once, telling the others why:
at exit after an uncaught exception, when the others would wait for this process in vain)."""

from __future__ import annotations

import atexit
import threading
from typing import Any, Sequence

from plax._src import registry
from plax._src.config import config
from plax._src.records import FrozenRecord


class DistributedError(RuntimeError):
    """A many-process run failed: a peer never arrived, died, or the coordinator is gone."""


DistributedError.__module__ = "plax.distributed"


class DistributedSettings(FrozenRecord):
    """What every process of a run agrees on, plus its own id (read by backend runtimes)."""

    coordinator_address: str
    num_processes: int
    process_id: int
    local_device_ids: tuple[int, ...] | None
    initialization_timeout: float
    heartbeat_timeout: float
    shutdown_timeout: float
    coordinator_bind_address: str

    def where(self) -> str:
        """'process 1 of 2 (coordinator localhost:1234)': for error messages."""
        return (f"process {self.process_id} of {self.num_processes} "
                f"(coordinator {self.coordinator_address})")


_lock = threading.Lock()
_settings: DistributedSettings | None = None
_handles: list[tuple[str, Any]] = []


def _int_arg(name: str, value, env: str) -> int:
    import operator
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"plax.distributed.initialize: {name} must be an int, got {value!r} "
                        f"(argument or {env})") from None


def _timeout(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"plax.distributed.initialize: {name} must be a positive number of "
                         f"seconds, got {value!r}")
    return float(value)


def _settings_from(coordinator_address, num_processes, process_id, local_device_ids,
                   initialization_timeout, heartbeat_timeout, shutdown_timeout,
                   coordinator_bind_address) -> DistributedSettings:
    if coordinator_address is None:
        coordinator_address = config.coordinator_address
    if num_processes is None:
        num_processes = config.num_processes
    if process_id is None:
        process_id = config.process_id
    if coordinator_address is None:
        raise ValueError("plax.distributed.initialize: coordinator_address is not set (pass "
                         "coordinator_address='host:port' or set PLAX_COORDINATOR_ADDRESS)")
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address \
            or not coordinator_address.rsplit(":", 1)[1].isdigit():
        raise ValueError("plax.distributed.initialize: coordinator_address must be "
                         f"'host:port', got {coordinator_address!r}")
    if num_processes is None:
        raise ValueError("plax.distributed.initialize: num_processes is not set (pass it or "
                         "set PLAX_NUM_PROCESSES)")
    if process_id is None:
        raise ValueError("plax.distributed.initialize: process_id is not set (pass it or set "
                         "PLAX_PROCESS_ID)")
    n = _int_arg("num_processes", num_processes, "PLAX_NUM_PROCESSES")
    pid = _int_arg("process_id", process_id, "PLAX_PROCESS_ID")
    if n < 1:
        raise ValueError(f"plax.distributed.initialize: num_processes must be >= 1, got {n}")
    if not 0 <= pid < n:
        raise ValueError(f"plax.distributed.initialize: process_id must be in [0, "
                         f"{n - 1}] for num_processes={n}, got {pid}")
    ids = None
    if local_device_ids is not None:
        if isinstance(local_device_ids, int):
            local_device_ids = [local_device_ids]
        ids = tuple(_int_arg("local_device_ids", i, "local_device_ids")
                    for i in local_device_ids)
        if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
            raise ValueError("plax.distributed.initialize: local_device_ids must be distinct "
                             f"non-negative device ids, got {list(local_device_ids)}")
    port = coordinator_address.rsplit(":", 1)[1]
    bind = coordinator_bind_address or f"[::]:{port}"
    return DistributedSettings(
        coordinator_address, n, pid, ids, _timeout("initialization_timeout",
                                                   initialization_timeout),
        _timeout("heartbeat_timeout_seconds", heartbeat_timeout),
        _timeout("shutdown_timeout_seconds", shutdown_timeout), bind)


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids: Sequence[int] | None = None,
               *, initialization_timeout: float = 300, heartbeat_timeout_seconds: float = 100,
               shutdown_timeout_seconds: float = 300,
               coordinator_bind_address: str | None = None) -> None:
    """Join a run of `num_processes` processes (as jax.distributed.initialize). Process 0
    serves the coordinator at `coordinator_address` ('host:port'; it binds
    `coordinator_bind_address`, default '[::]:port'); every process connects to it, waiting up
    to `initialization_timeout` seconds for all of them (then DistributedError, naming this
    process and the coordinator). Arguments left None come from PLAX_COORDINATOR_ADDRESS,
    PLAX_NUM_PROCESSES and PLAX_PROCESS_ID. `local_device_ids`: this process's devices (on the
    CPU, that many devices). A peer silent for `heartbeat_timeout_seconds` ends every other
    process with an error naming it. Must run before any plax computation."""
    global _settings
    if _settings is not None:
        raise RuntimeError("plax.distributed.initialize should only be called once "
                           f"(already initialized as {_settings.where()})")
    settings = _settings_from(coordinator_address, num_processes, process_id,
                              local_device_ids, initialization_timeout,
                              heartbeat_timeout_seconds, shutdown_timeout_seconds,
                              coordinator_bind_address)
    with _lock:
        if _settings is not None:
            raise RuntimeError("plax.distributed.initialize should only be called once "
                               f"(already initialized as {_settings.where()})")
        registry.ensure_plugins_loaded()
        runtimes = dict(registry.rules("distributed"))
        if not runtimes:
            raise RuntimeError("plax.distributed.initialize: no installed backend supports "
                               "many processes (plax-backend-xla does)")
        started = [name for name in runtimes if registry.backend_started(name)]
        if started:
            raise RuntimeError(
                "plax.distributed.initialize() must be called before any plax computation "
                f"runs: backend {started[0]!r} has started already (its devices are fixed "
                "when it starts); call it first thing in the program")
        handles = []
        try:
            for name, connect in runtimes.items():
                handles.append((name, connect(settings)))
        except BaseException:
            for _, h in reversed(handles):
                h.shutdown()
            raise
        _handles[:] = handles
        _settings = settings
    atexit.register(_shutdown_at_exit)


def shutdown() -> None:
    """Leave the run: waits (up to shutdown_timeout_seconds) for every process to shut down
    too, then stops the coordinator (in process 0). A no-op when not initialized. It also runs
    at exit; after an uncaught exception the process leaves at once instead, and the others
    end with an error naming it and the exception."""
    _leave(None)


def _leave(reason: str | None) -> None:
    global _settings
    with _lock:
        handles, _handles[:] = list(_handles), []
        _settings = None
    errors = []
    for _, h in reversed(handles):
        try:
            h.shutdown() if reason is None else h.abandon(reason)
        except Exception as e:  # noqa: BLE001 - every runtime gets its shutdown
            errors.append(e)
    if errors:
        raise errors[0]


def _shutdown_at_exit() -> None:
    import sys
    if _settings is None:
        return
    exc = getattr(sys, "last_value", None)  # set when an uncaught exception ends the program
    reason = None if exc is None else f"{type(exc).__name__}: {exc}"[:300]
    try:
        _leave(reason)
    except Exception as e:  # noqa: BLE001 - at exit: report, do not mask the exit status
        print(f"plax.distributed.shutdown at exit: {e}", file=sys.stderr)


def is_initialized() -> bool:
    return _settings is not None


def settings() -> DistributedSettings | None:
    """The settings of the run this process joined (None outside one)."""
    return _settings


# ---------------------------------------------------------------------------------------------
# thread_guard (JAX's jax_thread_guard): inside `plax.thread_guard(True)`, a multi-process
# computation launched from another thread raises (processes launching their programs in
# different orders from several threads deadlock or crash, nondeterministically)

_guard_lock = threading.Lock()
_guard = [None, 0]  # the thread that set the guard, and how deeply it is nested there


def enter_thread_guard(on: bool) -> bool:
    """Sets the guard to this thread (on); False when nothing was set (to leave alone)."""
    if not on:
        return False
    me = threading.get_ident()
    with _guard_lock:
        if _guard[0] is not None and _guard[0] != me:
            raise RuntimeError("The thread guard's global thread ID is already set. Nested "
                               "thread guards in different threads are not supported.")
        _guard[0] = me
        _guard[1] += 1
    return True


def exit_thread_guard() -> None:
    with _guard_lock:
        _guard[1] -= 1
        if _guard[1] == 0:
            _guard[0] = None


def check_thread_guard() -> None:
    """Called by a backend as it launches a program over the devices of several processes:
    RuntimeError from a thread other than the one that set `plax.thread_guard(True)`."""
    owner = _guard[0]
    if owner is not None and owner != threading.get_ident():
        raise RuntimeError(f"A multi-process plax operation was called from thread "
                           f"{threading.get_ident()}. This is not allowed because the thread "
                           f"guard was set in thread {owner}.")
