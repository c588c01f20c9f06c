"""One process of tests/test_distributed_spmd.py's run (2 processes x 2 CPU devices on
localhost): global arrays over a mesh of both processes' devices, jit with in/out shardings
and shard_map with collectives across the processes.

    python distributed_spmd_worker.py PROCESS_ID PORT

It prints one JSON line with what it saw; the test compares it with NumPy."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import plax  # noqa: E402

XS = np.arange(32, dtype=np.float32).reshape(8, 4) / 8  # the global (8, 4) input
W = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)


def run(pid: int) -> dict:
    import plax.numpy as jnp
    from plax import lax
    from plax.experimental.multihost_utils import process_allgather
    from plax.sharding import NamedSharding, P

    mesh = plax.make_mesh((4,), ("x",))  # every process's devices
    rows = NamedSharding(mesh, P("x"))
    # this process's rows: 4 of 8
    a = plax.make_array_from_process_local_data(rows, XS[4 * pid:4 * pid + 4])
    try:
        np.asarray(a)
        fetch = "no error"
    except RuntimeError as e:
        fetch = str(e)
    mesh2 = plax.make_mesh((2, 2), ("p", "d"))
    b = plax.make_array_from_callback((8, 4), NamedSharding(mesh2, P("p", "d")),
                                      lambda idx: XS[idx])

    def f(x, w):
        h = jnp.tanh(x @ w)
        return h, jnp.sum(h * h)

    step = plax.jit(f, in_shardings=(rows, NamedSharding(mesh, P())),
                    out_shardings=(rows, NamedSharding(mesh, P())))
    h, total = step(a, W)
    doubled = plax.jit(lambda u: u * 2 + 1)(b)  # laid out as its input

    def body(blk):  # psum over the 4 devices of both processes, and the device's position
        s = lax.psum(jnp.sum(blk, axis=0, keepdims=True), "x")
        return s, blk + lax.axis_index("x").astype(blk.dtype)

    eager = h * 2 + 1  # an eager op on a global array: partitioned across the processes too
    pieces = [plax.device_put(XS[idx], d)
              for d, idx in rows.addressable_devices_indices_map((8, 4)).items()]
    joined = plax.make_array_from_single_device_arrays((8, 4), rows, pieces)
    colsum, shifted = plax.jit(plax.shard_map(body, mesh=mesh, in_specs=P("x"),
                                              out_specs=(P(), P("x"))))(a)
    return dict(
        process_index=plax.process_index(), shape=list(a.shape),
        devices=[d.id for d in mesh.devices.flat],
        addressable=[[d.id, [[s.start, s.stop] for s in idx[:1]]]
                     for d, idx in [(s.device, s.index) for s in a.addressable_shards]],
        fully_addressable=a.sharding.is_fully_addressable, fetch=fetch,
        b_shards=[np.asarray(s.data).tolist() for s in b.addressable_shards],
        h=process_allgather(h).tolist(), h_sharding=repr(h.sharding),
        total=float(total), doubled=process_allgather(doubled).tolist(),
        eager=process_allgather(eager).tolist(), joined=process_allgather(joined).tolist(),
        colsum=np.asarray(colsum).tolist(), shifted=process_allgather(shifted).tolist(),
        stacked=process_allgather(np.full(2, pid, np.int32)).tolist(),
        tiled=process_allgather(np.full(2, pid, np.int32), tiled=True).tolist())


def main():
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    plax.config.update("xla_cpu_devices", 2)
    plax.distributed.initialize(f"localhost:{port}", 2, pid, initialization_timeout=30,
                                heartbeat_timeout_seconds=10)
    print(json.dumps(run(pid)), flush=True)


if __name__ == "__main__":
    main()
