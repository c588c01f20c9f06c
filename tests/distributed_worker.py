"""One process of tests/test_distributed.py's runs (2 processes x 2 CPU devices on localhost):

    python distributed_worker.py collectives PROCESS_ID PORT   # report, then process 1 dies
    python distributed_worker.py crash PROCESS_ID PORT         # process 1 raises, uncaught
    python distributed_worker.py missing 0 PORT                # joins a run nobody else joins

It prints one JSON line with what it saw; the test compares it with NumPy."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import plax  # noqa: E402

HEARTBEAT = 5  # s: a peer silent this long is reported dead (slack for a loaded machine)


def report(**kw):
    print(json.dumps(kw), flush=True)


def global_arrays(pid: int) -> dict:
    """An (8, 3) array over a mesh of all 4 devices, each process holding its 4 rows: jit
    (SPMD-partitioned), shard_map with a psum, device_put."""
    import plax.numpy as jnp
    from plax import lax
    from plax.sharding import NamedSharding, PartitionSpec as P
    mesh = plax.make_mesh((4,), ("x",))
    rows, whole = NamedSharding(mesh, P("x")), NamedSharding(mesh, P())
    full = np.arange(24, dtype=np.float32).reshape(8, 3)
    a = plax.make_array_from_process_local_data(rows, full[4 * pid:4 * pid + 4])
    total = plax.jit(lambda a: jnp.sum(a * 2, axis=0), out_shardings=whole)(a)
    doubled = plax.jit(lambda a: a * 2)(a)
    try:
        np.asarray(doubled)
        fetch = "no error"
    except RuntimeError as e:
        fetch = str(e)
    psum = plax.shard_map(lambda b: lax.psum(jnp.sum(b, 0), "x"), mesh=mesh,
                          in_specs=P("x"), out_specs=P())(a)
    put = plax.jit(lambda b: b.sum(), out_shardings=whole)(plax.device_put(full, rows))
    # thread_guard: inside it, a multi-process program launched from another thread raises
    # (in both processes, before either launches); the guarding thread launches as usual
    import threading
    other = []

    def launch():
        try:
            plax.jit(lambda b: b.sum() * 3, out_shardings=whole)(a)
            other.append("no error")
        except RuntimeError as e:
            other.append(str(e))
    with plax.thread_guard(True):
        mine = plax.jit(lambda b: b.sum() + 1, out_shardings=whole)(a)
        t = threading.Thread(target=launch)
        t.start()
        t.join()
    return dict(global_shape=list(a.shape), fully_addressable=a.is_fully_addressable,
                spmd_total=np.asarray(total).tolist(),
                spmd_shards=[[s.index[0].start, np.asarray(s.data).tolist()]
                             for s in doubled.addressable_shards],
                spmd_fetch=fetch, shard_map_psum=np.asarray(psum).tolist(),
                device_put_sum=float(np.asarray(put)), guarded_sum=float(np.asarray(mine)),
                guarded_other_thread=other[0])


def collectives(pid: int):
    import plax.numpy as jnp
    from plax import lax
    try:
        plax.distributed.initialize()  # configured twice: the second call is refused
    except RuntimeError as e:
        again = str(e)
    # device g of the run holds [g, 10 g] and a (2, 3) block
    g = np.arange(2) + 2 * plax.process_index()
    x = np.stack([g, 10 * g], 1).astype(np.float32)

    def body(a):
        return (lax.psum(a, "i"), lax.all_gather(a, "i"), lax.axis_index("i"),
                lax.pmean(a * a, "i"))

    s, gathered, index, mean = plax.pmap(body, axis_name="i")(x)
    y = plax.jit(lambda a: a @ a.T + 1.0)(jnp.asarray(x))
    spmd = global_arrays(pid)
    report(process_index=plax.process_index(), process_count=plax.process_count(),
           devices=[[d.id, d.process_index] for d in plax.devices()],
           local=[d.id for d in plax.local_devices()], device_count=plax.device_count(),
           local_device_count=plax.local_device_count(), again=again,
           psum=np.asarray(s).tolist(), all_gather=np.asarray(gathered).tolist(),
           axis_index=np.asarray(index).tolist(), pmean=np.asarray(mean).tolist(),
           jit=np.asarray(y).tolist(), x=x.tolist(), **spmd)
    step = plax.pmap(lambda a: lax.psum(a, "i"), axis_name="i")
    step(x)
    if pid == 1:  # dies without a word; process 0 must not hang in its next collective
        os.kill(os.getpid(), signal.SIGKILL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        step(x)
    report(error="process 0 ran on for 60 s without noticing")


def crash(pid: int):
    from plax import lax
    step = plax.pmap(lambda a: lax.psum(a, "i"), axis_name="i")
    x = np.ones((2, 3), np.float32)
    report(psum=np.asarray(step(x)).tolist())
    if pid == 1:
        raise RuntimeError("boom in process 1")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        step(x)
    report(error="process 0 ran on for 60 s without noticing")


def main():
    scenario, pid, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    plax.config.update("xla_cpu_devices", 2)
    try:
        plax.distributed.initialize(f"localhost:{port}", 2, pid, initialization_timeout=(
            2 if scenario == "missing" else 30), heartbeat_timeout_seconds=HEARTBEAT)
    except plax.distributed.DistributedError as e:
        report(error=type(e).__name__, message=str(e))
        sys.exit(3)
    crash(pid) if scenario == "crash" else collectives(pid)


if __name__ == "__main__":
    main()
