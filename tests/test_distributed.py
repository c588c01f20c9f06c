"""plax.distributed: runs of 2 processes x 2 CPU devices on localhost, started here (free ports,
a hard timeout each). Collectives across processes equal NumPy's (and so a one-process run),
`devices()` spans both processes, the data-parallel example reaches the single-device loss, a
killed peer ends the survivor with an error naming it and the coordinator (no hang), and a peer
that never arrives makes initialize raise DistributedError after initialization_timeout."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

import plax

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"
EXAMPLE = HERE.parent / "examples" / "data_parallel.py"
TIMEOUT = 60  # s: every run ends by then, whatever happens


@pytest.fixture(autouse=True)
def _needs_gloo():
    from plax_xla import _jaxlib  # loaded when a test runs, not when tests are collected
    if not _jaxlib.has_gloo():
        pytest.skip("this jaxlib has no gloo CPU collectives")


def _env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAX_", "XLA_FLAGS", "JAX_"))}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(*args):
    return subprocess.Popen([sys.executable, *map(str, args)], env=_env(), cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(procs):
    """[(exit status, last JSON line of stdout or None, stderr)] of every process."""
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
            out.append((p.returncode, json.loads(lines[0]) if lines else None, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return out


def test_two_processes_collectives_devices_and_a_killed_peer():
    port = _port()
    (rc0, r0, err0), (rc1, r1, _) = _finish(
        [_start(WORKER, "collectives", i, port) for i in range(2)])
    assert r0 is not None and r1 is not None, err0[-3000:]
    xs = np.array(r0["x"] + r1["x"], np.float32)  # row g: device g's value
    for pid, r in enumerate((r0, r1)):
        assert r["process_index"] == pid and r["process_count"] == 2
        assert r["device_count"] == 4 and r["local_device_count"] == 2
        assert [p for _, p in r["devices"]] == [0, 0, 1, 1]
        assert r["local"] == [i for i, p in r["devices"] if p == pid]
        assert "only be called once" in r["again"] and f"process {pid} of 2" in r["again"]
        np.testing.assert_array_equal(r["psum"], np.broadcast_to(xs.sum(0), (2, 2)))
        np.testing.assert_array_equal(r["all_gather"], np.broadcast_to(xs, (2, 4, 2)))
        assert r["axis_index"] == [2 * pid, 2 * pid + 1]
        np.testing.assert_allclose(r["pmean"], np.broadcast_to((xs * xs).mean(0), (2, 2)))
        x = np.array(r["x"], np.float32)
        np.testing.assert_allclose(r["jit"], x @ x.T + 1)
        # a global (8, 3) array, rows split over the 4 devices of both processes
        full = np.arange(24, dtype=np.float32).reshape(8, 3)
        assert r["global_shape"] == [8, 3] and r["fully_addressable"] is False
        np.testing.assert_array_equal(r["spmd_total"], 2 * full.sum(0))
        assert [start for start, _ in r["spmd_shards"]] == [4 * pid, 4 * pid + 2]
        for start, data in r["spmd_shards"]:
            np.testing.assert_array_equal(data, 2 * full[start:start + 2])
        assert "spans devices of other processes" in r["spmd_fetch"]
        np.testing.assert_array_equal(r["shard_map_psum"], full.sum(0))
        assert r["device_put_sum"] == full.sum()
        assert r["guarded_sum"] == full.sum() + 1  # thread_guard's own thread launches
        assert "called from thread" in r["guarded_other_thread"]
        assert "the thread guard was set in thread" in r["guarded_other_thread"]
    # process 1 killed itself; process 0, waiting in a psum with it, ends with the reason
    assert rc1 == -9
    assert rc0 == 1, err0[-3000:]
    assert "lost process 1" in err0 and f"process 0 of 2 (coordinator localhost:{port})" in err0
    assert "heartbeat" in err0


def test_uncaught_exception_in_a_peer():
    """Process 1 dies of an exception: it leaves at once (no shutdown barrier) and process 0,
    waiting in a psum with it, ends naming it and the exception."""
    port = _port()
    (rc0, r0, err0), (rc1, r1, err1) = _finish(
        [_start(WORKER, "crash", i, port) for i in range(2)])
    assert r0["psum"] == r1["psum"] == [[4.0] * 3] * 2, err0[-3000:]  # 4 devices
    # its exit status is 1, or SIGABRT when jaxlib ends it first (process 0's exit takes the
    # coordinator with it): either way, after its traceback
    assert rc1 in (1, -6) and "RuntimeError: boom in process 1" in err1
    assert rc0 == 1, err0[-3000:]
    assert (f"process 0 of 2 (coordinator localhost:{port}): process 1 ended with an uncaught "
            "exception (RuntimeError: boom in process 1)") in err0


def test_peer_that_never_arrives():
    port = _port()
    [(rc, r, err)] = _finish([_start(WORKER, "missing", 0, port)])
    assert rc == 3, err[-3000:]
    assert r["error"] == "DistributedError"
    assert f"process 0 of 2 (coordinator localhost:{port})" in r["message"]
    assert "timed out after 2 s" in r["message"] and "never arrived" in r["message"]


def test_data_parallel_example_matches_single_device():
    """One command: 1 device, pmap and jit over a mesh of 4 devices, and both over 2
    processes x 2 devices."""
    r = subprocess.run([sys.executable, str(EXAMPLE), "--processes", "2", "--steps", "10"],
                       env=_env(), capture_output=True, text=True, timeout=2 * TIMEOUT)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    single = res["single_device"]
    assert np.isfinite(single) and single > 0
    np.testing.assert_allclose(res["pmap_4_devices"], single, rtol=1e-5)
    np.testing.assert_allclose(res["2_processes"], [single, single], rtol=1e-5)
    np.testing.assert_allclose(res["mesh_4_devices"], single, rtol=1e-5)
    np.testing.assert_allclose(res["2_processes_mesh"], [single, single], rtol=1e-5)


def test_initialize_after_the_backend_started_and_bad_arguments():
    plax.devices("xla")  # this process's xla backend is running
    with pytest.raises(RuntimeError, match="before any plax computation.*'xla'"):
        plax.distributed.initialize("localhost:1", 2, 0)
    with pytest.raises(ValueError, match="coordinator_address must be 'host:port'"):
        plax.distributed.initialize("localhost", 2, 0)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 1\]"):
        plax.distributed.initialize("localhost:1", 2, 2)
    with pytest.raises(ValueError, match="num_processes is not set.*PLAX_NUM_PROCESSES"):
        plax.distributed.initialize("localhost:1")
    with pytest.raises(ValueError, match="initialization_timeout"):
        plax.distributed.initialize("localhost:1", 2, 0, initialization_timeout=0)
    assert not plax.distributed.is_initialized()
    assert plax.process_index() == 0 and plax.process_count() == 1
    assert plax.local_devices() == plax.devices()[:plax.local_device_count()]
    # JAX's old names: the same answers, with a DeprecationWarning naming the new one
    for old, new in (("host_count", 1), ("host_id", 0), ("host_ids", [0])):
        with pytest.warns(DeprecationWarning, match=f"plax.{old} is the old name"):
            assert getattr(plax, old)() == new
