"""Thread safety: 8 threads tracing, jitting, calling, differentiating and clearing caches at once
on every installed backend give the results of a single-threaded run, without deadlock; racing
to the first use loads each plugin once and starts each backend once.

Sizes: a few seconds of work in the test suite; `nox -s stress` (PLAX_STRESS=1) runs each
thread for a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
from conftest import installed_backends

import plax
import plax.lax as lax
import plax.numpy as jnp

STRESS = os.environ.get("PLAX_STRESS", "") not in ("", "0")
THREADS = 8
ITERATIONS = 12          # per thread, in the test suite
STRESS_SECONDS = 60.0    # per thread, under `nox -s stress`


def model(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


shared_jit = plax.jit(model)
shared_grad = plax.jit(plax.grad(model))


def task(kind: int, seed: int, backend: str):
    """One unit of work (deterministic in `seed`); returns something to compare."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    with plax.default_backend(backend):
        if kind == 0:    # trace
            return str(plax.make_jaxpr(model)(w, x))
        if kind == 1:    # a shared jitted function, called
            return np.asarray(shared_jit(w, x))
        if kind == 2:    # a fresh jit (traced and compiled in this thread)
            return np.asarray(plax.jit(lambda a, b: model(a, b) * 2.0)(w, x))
        if kind == 3:    # grad under a shared jit, and vmap
            return (np.asarray(shared_grad(w, x)),
                    np.asarray(plax.vmap(model, (None, 0))(w, x[:, None, :])))
        if kind == 4:    # eager ops and control flow
            return np.asarray(lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) + 1.0, x))
        plax.clear_caches()  # kind 5: while the others trace and call
        return None


KINDS = 6


def expected_results(backend: str, seeds) -> dict:
    return {(k, s): task(k, s, backend) for k in range(KINDS) for s in seeds}


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or a is None:
        return a == b
    return np.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_threads_trace_jit_call_and_clear_caches_concurrently():
    backends = installed_backends()
    seeds = range(4)
    expected = {b: expected_results(b, seeds) for b in backends}
    errors: list[str] = []
    done = [0] * THREADS
    barrier = threading.Barrier(THREADS)

    def worker(t: int):
        barrier.wait()
        deadline = time.monotonic() + STRESS_SECONDS if STRESS else None
        i = 0
        while (i < ITERATIONS) if deadline is None else (time.monotonic() < deadline):
            b = backends[(t + i) % len(backends)]
            kind, seed = (t * 7 + i) % KINDS, (t + i) % len(seeds)
            try:
                got = task(kind, seed, b)
                if not same(got, expected[b][(kind, seed)]):
                    errors.append(f"thread {t} {b} kind {kind} seed {seed}: {got!r}")
            except Exception as e:  # noqa: BLE001 - reported below, with the thread
                errors.append(f"thread {t} {b} kind {kind}: {type(e).__name__}: {e}")
            i += 1
        done[t] = i

    threads = [threading.Thread(target=worker, args=(t,), daemon=True)
               for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600 if not STRESS else STRESS_SECONDS + 600)
    assert not any(th.is_alive() for th in threads), "a thread never finished (deadlock?)"
    assert not errors, "\n".join(errors[:10])
    assert all(n >= (1 if STRESS else ITERATIONS) for n in done), done
    print(f"\n{sum(done)} tasks on {THREADS} threads over {', '.join(backends)}")


def test_backend_overrides_stay_per_thread_under_load():
    backends = installed_backends()
    seen: dict[int, set] = {}

    def worker(t):
        b = backends[t % len(backends)]
        with plax.default_backend(b):
            names = set()
            for _ in range(20):
                names.add(plax.default_backend())
                names.add(jnp.sin(np.float32(t)).backend)
            seen[t] = (b, names)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert len(seen) == THREADS
    for b, names in seen.values():
        assert names == {b}, (b, names)


RACE = '''
    import json, sys, threading
    import numpy as np
    import plax
    import counting_plugin
    from plax._src import registry
    N = 8
    barrier = threading.Barrier(N)
    errors, backends = [], []

    def first_use(k):
        barrier.wait()
        try:
            f = plax.jit(lambda a: plax.numpy.sin(a) * k)
            np.asarray(f(np.ones(3, np.float32)))
            backends.append(id(registry.get_backend("xla")))
            with plax.default_backend("reference"):
                np.asarray(plax.lax.add(counting_plugin.count_p.bind(np.float32(k)), 1.0))
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=first_use, args=(k,)) for k in range(N)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps(dict(errors=errors, registrations=counting_plugin.REGISTRATIONS,
                          backends=len(set(backends)),
                          status={n: i.status for n, i in registry.plugins().items()})))
'''

COUNTING = '''
import numpy as np
from plax.extend import Primitive, hookimpl

REGISTRATIONS = 0
count_p = Primitive("counting.identity")


@hookimpl
def plax_register(registry):
    global REGISTRATIONS
    REGISTRATIONS += 1
    registry.add_abstract_eval(count_p, lambda x: x)
    registry.add_impl("reference", count_p, lambda x: np.asarray(x))
'''


def test_racing_first_use_loads_each_plugin_once(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "counting_plugin.py").write_text(COUNTING)
    info = site / "counting_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: counting-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[plax.plugins]\ncounting = counting_plugin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    env["PYTHONPATH"] = str(site)
    for _ in range(3 if not STRESS else 20):  # a race: several fresh interpreters
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(RACE)], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["errors"] == [], out["errors"]
        assert out["registrations"] == 1 and out["backends"] == 1, out
        assert out["status"]["counting"] == "loaded"
