"""The MLP of the talk (examples/talk.py) trained data-parallel, two ways: with pmap (each
device takes a slice of the batch, computes its gradient, and `lax.pmean` averages the
gradients over every device) and with jit over a mesh (the batch laid out along the mesh's
"batch" axis, the parameters replicated; XLA's SPMD partitioner adds the all-reduce). Either
way every device takes the same step as single-device training on the whole batch.

Run: python examples/data_parallel.py                 # 1 device, then 4 CPU devices
     python examples/data_parallel.py --processes 2   # also 2 processes x 2 devices (localhost)

With --processes N the script starts N worker processes of itself, which join one run through
plax.distributed (configured by PLAX_COORDINATOR_ADDRESS / PLAX_NUM_PROCESSES /
PLAX_PROCESS_ID); each passes only its own slice of the batch, and the gradients are averaged
across processes over gloo. Every run prints its final loss: they agree.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import plax  # noqa: E402
import plax.numpy as jnp  # noqa: E402
from plax import lax  # noqa: E402
from talk import init_params, mse_loss  # noqa: E402  (the talk's model, reused)

BATCH = 128
LR = 0.05


@plax.jit  # one compile instead of one per eager random op
def _make_dataset(key):
    inputs = plax.random.normal(plax.random.split(key)[0], (BATCH, 4))
    targets = jnp.stack([jnp.sin(inputs[:, 0]) + inputs[:, 1], inputs[:, 2] * inputs[:, 3]], 1)
    return inputs, targets


def problem():
    """(inputs, targets, initial params) as NumPy arrays: the talk's regression problem (4
    inputs, 2 targets) and its MLP's initial parameters, the same for every run."""
    inputs, targets = _make_dataset(plax.random.PRNGKey(1))
    params = plax.jit(init_params, static_argnums=1)(plax.random.PRNGKey(0), (4, 32, 32, 2))
    return np.asarray(inputs), np.asarray(targets), [tuple(map(np.asarray, p)) for p in params]


loss_of = plax.jit(mse_loss)


def sgd(params, grads):
    return [(w - LR * dw, b - LR * db) for (w, b), (dw, db) in zip(params, grads)]


@plax.jit
def single_step(params, batch):
    return sgd(params, plax.grad(mse_loss)(params, batch))


def parallel_step(params, batch):
    """One replica's step: its slice's gradient, averaged over every replica."""
    grads = lax.pmean(plax.grad(mse_loss)(params, batch), "batch")
    return sgd(params, grads)


def train_single(prob, steps):
    inputs, targets, params = prob
    batch = (jnp.asarray(inputs), jnp.asarray(targets))
    for _ in range(steps):
        params = single_step(params, batch)
    return float(loss_of(params, batch))


def train_parallel(prob, steps):
    """pmap over this process's devices; with plax.distributed, over every process's: this
    process passes its devices' slices of the batch (device g of the run takes slice g)."""
    n = plax.local_device_count()
    total = n * plax.process_count()
    if BATCH % total:
        raise SystemExit(f"the batch of {BATCH} does not split over {total} devices")
    inputs, targets, params = prob
    first = plax.process_index() * n  # the run's index of this process's first device
    per = BATCH // total

    def local(a):  # this process's n slices, stacked: (n, per, ...)
        return a[first * per:(first + n) * per].reshape((n, per) + a.shape[1:])

    step = plax.pmap(parallel_step, axis_name="batch")
    params = plax.tree_util.tree_map(lambda p: np.stack([p] * n), params)
    batch = (local(inputs), local(targets))
    for _ in range(steps):
        params = step(params, batch)
    mine = plax.tree_util.tree_map(lambda p: np.asarray(p)[0], params)  # all replicas agree
    return float(loss_of(mine, (jnp.asarray(inputs), jnp.asarray(targets))))


def train_mesh(prob, steps):
    """jit over a mesh of every device (of every process): the batch laid out along the
    "batch" axis, the parameters replicated; XLA's partitioner adds the gradient all-reduce."""
    from plax.sharding import NamedSharding, PartitionSpec as P
    inputs, targets, params = prob
    n, total = plax.local_device_count(), plax.device_count()
    mesh = plax.make_mesh((total,), ("batch",))
    rows, whole = NamedSharding(mesh, P("batch")), NamedSharding(mesh, P())
    first, per = plax.process_index() * n, BATCH // total
    batch = tuple(plax.make_array_from_process_local_data(rows, a[first * per:(first + n) * per])
                  for a in (inputs, targets))
    params = plax.tree_util.tree_map(lambda p: plax.device_put(p, whole), params)
    step = plax.jit(lambda p, b: sgd(p, plax.grad(mse_loss)(p, b)), out_shardings=whole)
    for _ in range(steps):
        params = step(params, batch)
    mine = plax.tree_util.tree_map(np.asarray, params)  # replicated: every process has it all
    return float(loss_of(mine, (jnp.asarray(inputs), jnp.asarray(targets))))


def worker(path, steps):
    """One process of a --processes run: joins it from the environment the parent set and
    trains on the problem the parent saved at `path`."""
    plax.distributed.initialize()
    t0 = time.perf_counter()
    with np.load(path) as f:
        k = (len(f.files) - 2) // 2
        prob = (f["inputs"], f["targets"], [(f[f"w{i}"], f[f"b{i}"]) for i in range(k)])
    loss = train_parallel(prob, steps)
    mesh_loss = train_mesh(prob, steps)
    print(json.dumps({"process": plax.process_index(), "processes": plax.process_count(),
                      "devices": plax.device_count(), "loss": loss, "mesh_loss": mesh_loss,
                      "seconds": time.perf_counter() - t0}), flush=True)
    plax.distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def save(prob, path):
    inputs, targets, params = prob
    np.savez(path, inputs=inputs, targets=targets,
             **{f"{n}{i}": a for i, p in enumerate(params) for n, a in zip("wb", p)})


def spawn(processes, devices_each, path, steps):
    """Start the workers of one run on localhost."""
    port = free_port()
    procs = []
    for i in range(processes):
        env = dict(os.environ, PLAX_COORDINATOR_ADDRESS=f"localhost:{port}",
                   PLAX_NUM_PROCESSES=str(processes), PLAX_PROCESS_ID=str(i),
                   PLAX_XLA_CPU_DEVICES=str(devices_each), PLAX_BACKEND="xla")
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", path, "--steps",
             str(steps)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def collect(procs, timeout=120):
    results = []
    for i, p in enumerate(procs):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise SystemExit(f"worker {i} did not finish in {timeout} s") from None
        if p.returncode != 0:
            raise SystemExit(f"worker {i} failed (exit status {p.returncode}):\n{err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=0,
                    help="also train over this many processes x 2 CPU devices")
    ap.add_argument("--devices", type=int, default=4, help="CPU devices of the one-process run")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--worker", metavar="PROBLEM.npz", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.steps)
    if "PLAX_XLA_CPU_DEVICES" not in os.environ:
        plax.config.update("xla_cpu_devices", args.devices)
    prob = problem()
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        if args.processes:
            save(prob, os.path.join(tmp, "problem.npz"))
            procs = spawn(args.processes, 2, os.path.join(tmp, "problem.npz"), args.steps)
        results = run_here(prob, args.steps)
        if procs:
            runs = collect(procs)
            results[f"{args.processes}_processes"] = [r["loss"] for r in runs]
            results[f"{args.processes}_processes_mesh"] = [r["mesh_loss"] for r in runs]
            for r in runs:
                print(f"process {r['process']} of {r['processes']} ({r['devices']} devices in "
                      f"all): loss {r['loss']:.6f} (pmap), {r['mesh_loss']:.6f} (jit over a "
                      "mesh)")
    print(json.dumps(results))


def run_here(prob, steps):
    """Single-device training, then pmap over this process's devices."""
    results = {"single_device": train_single(prob, steps)}
    print(f"1 device:                 loss {results['single_device']:.6f}", flush=True)
    n = plax.local_device_count()
    results[f"pmap_{n}_devices"] = loss = train_parallel(prob, steps)
    print(f"pmap over {n} devices:      loss {loss:.6f}", flush=True)
    results[f"mesh_{n}_devices"] = loss = train_mesh(prob, steps)
    print(f"jit over a mesh of {n}:     loss {loss:.6f}", flush=True)
    return results


if __name__ == "__main__":
    main()
