"""Global arrays across processes: one run of 2 processes x 2 CPU devices on localhost (started
here, a hard timeout). A mesh over both processes' devices, arrays built from each process's
data, jit with in/out shardings and shard_map with psum across the processes give the values of
a one-process run; fetching a global array's value raises, process_allgather gathers it."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import plax
import plax.numpy as jnp

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "distributed_spmd_worker.py"

sys.path.insert(0, str(HERE))
from distributed_spmd_worker import W, XS  # noqa: E402
from test_distributed import _finish, _port, _start  # noqa: E402


@pytest.fixture(autouse=True)
def _needs_gloo():
    from plax_xla import _jaxlib
    if not _jaxlib.has_gloo():
        pytest.skip("this jaxlib has no gloo CPU collectives")


def _run_two() -> list:
    """Both processes' JSON results, through tests/test_distributed.py's launcher (a free
    port, its timeout, every process killed at the end)."""
    port = _port()
    out = []
    for rc, result, stderr in _finish([_start(WORKER, i, port) for i in range(2)]):
        assert rc == 0 and result is not None, stderr[-3000:]
        out.append(result)
    return out


def test_jit_and_shard_map_over_a_mesh_of_two_processes():
    results = _run_two()
    # the one-process run: the same function, on one device
    h1, total1 = plax.jit(lambda x, w: (jnp.tanh(x @ w), jnp.sum(jnp.tanh(x @ w) ** 2)))(XS, W)
    for pid, r in enumerate(results):
        assert r["process_index"] == pid and r["shape"] == [8, 4]
        assert r["devices"] == [0, 1, 2048, 2049]
        # this process's rows of the global array, on its own devices
        assert r["addressable"] == [[2048 * pid + k, [[4 * pid + 2 * k, 4 * pid + 2 * k + 2]]]
                                    for k in range(2)]
        assert r["fully_addressable"] is False
        assert "spans devices of other processes" in r["fetch"] and "process_allgather" in \
            r["fetch"]
        # P("p", "d") over a (2, 2) mesh: this process's half of the rows, split by columns
        rows = XS[4 * pid:4 * pid + 4]
        np.testing.assert_array_equal(r["b_shards"], [rows[:, :2], rows[:, 2:]])
        np.testing.assert_allclose(r["h"], np.asarray(h1), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(r["h"], np.tanh(XS @ W), rtol=1e-5, atol=1e-6)
        assert r["h_sharding"] == "NamedSharding(mesh=Mesh('x': 4), spec=P('x'))"
        np.testing.assert_allclose(r["total"], float(total1), rtol=1e-5)
        np.testing.assert_array_equal(r["doubled"], XS * 2 + 1)
        np.testing.assert_allclose(r["eager"], np.asarray(h1) * 2 + 1, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(r["joined"], XS)
        # psum over the 4 devices of both processes; axis_index runs 0..3 across them
        np.testing.assert_allclose(r["colsum"], XS.sum(0, keepdims=True), rtol=1e-6)
        np.testing.assert_array_equal(r["shifted"], XS + np.repeat(np.arange(4), 2)[:, None])
        assert r["stacked"] == [[0, 0], [1, 1]] and r["tiled"] == [0, 0, 1, 1]


def test_process_allgather_in_one_process():
    from plax.experimental.multihost_utils import process_allgather
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(process_allgather(x), x[None])
    out = process_allgather({"a": jnp.asarray(x)}, tiled=True)
    np.testing.assert_array_equal(out["a"], x)
