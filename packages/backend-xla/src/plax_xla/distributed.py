"""The xla backend's side of plax.distributed: process 0 serves jaxlib's coordination service,
every process connects a client to it, and the backend's client is made over that client (the
CPU's with gloo collectives). A watchdog thread keeps heartbeats in the service's key-value
store and turns a peer that died (or a lost coordinator) into an error naming it, not a hang.

jaxlib's own failure handling aborts the process (SIGABRT, no Python exception): its timeouts
are set past plax's, so plax's checks report first."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

from plax.distributed import DistributedError
from plax_xla import _jaxlib as jl

_current: "Runtime | None" = None

_PREFIX = "plax/heartbeat/"
_DONE = "plax/done/"
_FAILED = "plax/failed/"


def _failure_message(what: str) -> str:
    return (f"plax.distributed: {what}. Collectives with it can never complete; this process "
            "cannot continue the run")


def current() -> "Runtime | None":
    """The connected runtime of this process (None outside plax.distributed)."""
    return _current


def connect(settings) -> "Runtime":
    """The "distributed" rule of the xla backend: join the run `settings` describes."""
    global _current
    if not jl.has_gloo():
        raise DistributedError(f"plax.distributed: {settings.where()}: this jaxlib "
                               f"({jl.describe_environment()}) has no gloo CPU collectives")
    rt = Runtime(settings)
    rt.start()
    _current = rt
    return rt


def _jaxlib_timeout(t: float) -> float:
    """jaxlib's timeout for plax's `t`: later, so that plax's own check fires first."""
    return 2 * t + 10


class Runtime:
    """One process's membership of a run: the service (process 0), the client, the watchdog."""

    def __init__(self, settings):
        self.settings = settings
        self.service = None
        self.client = None
        self.failure: DistributedError | None = None
        self.busy = 0  # > 0 while this process waits inside a cross-process execution
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # --- joining --------------------------------------------------------------------------
    def start(self) -> None:
        s = self.settings
        if s.process_id == 0:
            self.service = self._serve()
        self.client = jl.distributed_client(
            s.coordinator_address, s.process_id, _jaxlib_timeout(s.initialization_timeout),
            _jaxlib_timeout(s.heartbeat_timeout), s.shutdown_timeout)
        self._connect()
        self._watchdog = threading.Thread(target=self._watch, name="plax-distributed-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def _serve(self):
        """The coordination service, listening on the bind address (the default, all IPv6
        interfaces, falls back to all IPv4 ones where IPv6 is off)."""
        s = self.settings
        binds = [s.coordinator_bind_address]
        port = s.coordinator_address.rsplit(":", 1)[1]
        if binds[0] == f"[::]:{port}":
            binds.append(f"0.0.0.0:{port}")
        for i, bind in enumerate(binds):
            try:
                return jl.distributed_service(bind, s.num_processes,
                                              _jaxlib_timeout(s.heartbeat_timeout),
                                              s.shutdown_timeout)
            except Exception as e:  # noqa: BLE001 - reported with the address
                if i + 1 == len(binds):
                    raise DistributedError(
                        f"plax.distributed.initialize: {s.where()} could not start the "
                        f"coordinator on {' or '.join(binds)}: {type(e).__name__}: "
                        f"{' '.join(str(e).split())}") from e

    def _connect(self) -> None:
        """client.connect() is a barrier of every process; jaxlib would abort this process
        when it times out, so it runs in a thread and plax gives up first, with an error."""
        s = self.settings
        box: list = []

        def run():
            try:
                self.client.connect()
                box.append(None)
            except Exception as e:  # noqa: BLE001 - handed to the caller
                box.append(e)

        t = threading.Thread(target=run, name="plax-distributed-connect", daemon=True)
        t.start()
        t.join(s.initialization_timeout)
        if not box:
            raise DistributedError(
                f"plax.distributed.initialize: {s.where()} timed out after "
                f"{s.initialization_timeout:g} s waiting for all {s.num_processes} processes "
                "to connect: a process never arrived (not started, crashed, or given another "
                "coordinator_address / num_processes). End this process: its connection "
                "attempt cannot be cancelled")
        if box[0] is not None:
            e = box[0]
            raise DistributedError(
                f"plax.distributed.initialize: {s.where()} could not connect: "
                f"{type(e).__name__}: {' '.join(str(e).split())}") from e

    # --- while running --------------------------------------------------------------------
    @contextlib.contextmanager
    def collective(self):
        """Around an execution that waits for the other processes: raises the recorded
        failure, and lets the watchdog end the process if a peer dies meanwhile."""
        if self.failure is not None:
            raise self.failure
        self.busy += 1
        try:
            yield
        except Exception as e:
            # a peer that died of an exception closes its connections as it goes: the
            # collective fails here (gloo: "Connection closed by peer") before the watchdog's
            # next look; the peer recorded why before leaving, so say that instead
            why = self._peer_failure()
            if why is None:
                raise
            self.failure = DistributedError(_failure_message(why))
            raise self.failure from e
        finally:
            self.busy -= 1

    def _peer_failure(self) -> str | None:
        """'<where>: process N ended with an uncaught exception (...)' if another process
        recorded its uncaught exception, else None."""
        s = self.settings
        try:
            failed = self.client.key_value_dir_get(_FAILED)
        except Exception:  # noqa: BLE001 - the coordinator is gone too: nothing to read
            return None
        for key, why in failed:
            if key[len(_FAILED):] != str(s.process_id):
                return (f"{s.where()}: process {key[len(_FAILED):]} ended with an uncaught "
                        f"exception ({why})")
        return None

    def _watch(self) -> None:
        s = self.settings
        interval = min(1.0, s.heartbeat_timeout / 4)
        me = str(s.process_id)
        seen: dict[str, tuple[str, float]] = {}
        count = 0
        last_ok = time.monotonic()
        while not self._stop.wait(interval):
            now = time.monotonic()
            try:
                count += 1
                self.client.key_value_set(_PREFIX + me, str(count), True)
                beats = dict(self.client.key_value_dir_get(_PREFIX))
                done = {k[len(_DONE):] for k, _ in self.client.key_value_dir_get(_DONE)}
                failed = self.client.key_value_dir_get(_FAILED)
            except Exception as e:  # noqa: BLE001 - the coordinator is unreachable
                if self._stop.is_set():
                    return
                if now - last_ok > s.heartbeat_timeout:
                    self._fail(f"{s.where()} lost the coordinator: no answer for "
                               f"{now - last_ok:.0f} s ({type(e).__name__}: "
                               f"{' '.join(str(e).split())[:200]})")
                    return
                continue
            last_ok = now
            for key, why in failed:
                if key[len(_FAILED):] != me:
                    self._fail(f"{s.where()}: process {key[len(_FAILED):]} ended with an "
                               f"uncaught exception ({why})")
                    return
            for pid in range(s.num_processes):
                key = str(pid)
                if key == me or key in done:
                    continue
                value = beats.get(_PREFIX + key)
                prev = seen.get(key)
                if prev is None or prev[0] != value:
                    seen[key] = (value, now)
                elif now - prev[1] > s.heartbeat_timeout:
                    self._fail(f"{s.where()} lost process {pid}: no heartbeat for "
                               f"{now - prev[1]:.0f} s (heartbeat_timeout_seconds="
                               f"{s.heartbeat_timeout:g}); it died or hangs")
                    return

    def _fail(self, what: str) -> None:
        msg = _failure_message(what)
        self.failure = DistributedError(msg)
        print(msg, file=sys.stderr, flush=True)
        if self.busy:  # the main thread waits in a collective that will never return
            print(f"plax.distributed: ending process {self.settings.process_id} (exit status 1)",
                  file=sys.stderr, flush=True)
            os._exit(1)

    # --- leaving --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the watchdog, tell the others this process is done, wait for all of them
        (jaxlib's shutdown barrier, up to shutdown_timeout), stop the service (process 0)."""
        global _current
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        try:
            if self.failure is None:
                self.client.key_value_set(_DONE + str(self.settings.process_id), "1", True)
                self.client.shutdown()
        finally:
            if self.service is not None:
                self.service.shutdown()
            if _current is self:
                _current = None

    def abandon(self, reason: str) -> None:
        """Leave at once (an uncaught exception ends this process): tell the others why
        instead of waiting for them in the shutdown barrier, which they would never reach."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(5)
        s = self.settings
        try:
            self.client.key_value_set(_FAILED + str(s.process_id), reason, True)
        except Exception:  # noqa: BLE001 - the coordinator is gone already: nothing to tell
            return
        if self.service is not None and s.num_processes > 1:
            # the others learn it from this process's service: let their watchdogs read it
            # before it goes (then jaxlib ends them, without the reason)
            time.sleep(2 * min(1.0, s.heartbeat_timeout / 4) + 0.5)
