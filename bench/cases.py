"""The benchmark cases. Each returns {"plax[<backend>]": {...}, "jax": {...}, "numpy": {...},
"ratios": {...}} with times in microseconds (medians)."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def have_jax() -> bool:
    try:
        import jax  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


def jax_version() -> str:
    import jax
    import jaxlib
    return f"jax {jax.__version__}, jaxlib {jaxlib.__version__}"


def _ready(x):
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    elif isinstance(x, (list, tuple)):
        for y in x:
            _ready(y)
    elif isinstance(x, dict):
        for y in x.values():
            _ready(y)
    return x


def median_us(fn, *, repeat: int, number: int = 1, warmup: int = 2) -> float:
    """Median over `repeat` runs of the per-call time of `number` calls, in microseconds."""
    for _ in range(warmup):
        _ready(fn())
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            out = fn()
        _ready(out)
        times.append((time.perf_counter() - t0) / number * 1e6)
    return statistics.median(times)


def interleaved_us(fns: dict, *, repeat: int, number: int = 1, warmup: int = 2,
                   settle: float = 0.0) -> dict:
    """Like median_us for several contenders at once, in interleaved rounds (a round times
    `number` calls of each): on a shared machine the load drifts, and only figures taken side
    by side compare. `fns` maps a name to `(enter, fn)`, `enter()` being the context (the
    backend) a round of `fn` runs in. `settle` seconds of sleep between contenders lets
    OpenBLAS's worker threads (which spin ~0.1 s after a call) stop before the next one starts.
    Returns {name: median us per call}."""
    for enter, fn in fns.values():
        with enter():
            for _ in range(warmup):
                _ready(fn())
    times: dict = {k: [] for k in fns}
    items = list(fns.items())
    for r in range(repeat):
        # each round starts with the next contender: the one after NumPy's matmul otherwise
        # always met OpenBLAS's still-spinning threads (a fixed 1.25-1.6x on case 1's first)
        k = r % len(items)
        for name, (enter, fn) in items[k:] + items[:k]:
            if settle:
                time.sleep(settle)
            with enter():
                t0 = time.perf_counter()
                for _ in range(number):
                    out = fn()
                _ready(out)
                times[name].append((time.perf_counter() - t0) / number * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def first_call_medians(contenders: dict, rounds: int) -> dict:
    """Median first-call time (us) of each contender, measured in interleaved rounds.

    Each contender is `(enter, make, args)`: `enter()` a context manager (the backend), `make()` a
    fresh jitted function (a new closure, so nothing is cached by function identity), `args` its
    arguments. Interleaving puts every contender under the same machine load; XLA's compile time
    moves by 20% from one minute to the next."""
    times: dict = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, (enter, make, args) in contenders.items():
            with enter():
                t0 = time.perf_counter()
                _ready(make()(*args))
                times[name].append((time.perf_counter() - t0) * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def warm_up(have_jax: bool, backends) -> None:
    """Load each library's lazily loaded parts (plugins, rule tables, MLIR, thread pools) with a
    small unrelated jitted gradient, so a first-call figure measures tracing and compiling alone."""
    import plax
    x = np.linspace(0, 1, 8, dtype=np.float32)
    for b in backends:
        with _on(b):
            _ready(plax.jit(plax.grad(lambda v: (plax.numpy.sin(v) @ v).sum()))(x))
            np.asarray(plax.jit(lambda v: v * 2)(x))
    if have_jax:
        import jax
        _ready(jax.jit(jax.grad(lambda v: (jax.numpy.sin(v) @ v).sum()))(x))
        np.asarray(jax.jit(lambda v: v * 2)(x))


def _ratios(res: dict, key: str) -> dict:
    out = {}
    for name, v in res.items():
        if not name.startswith("plax[") or not isinstance(v, dict) or key not in v:
            continue
        if "jax" in res and key in res["jax"]:
            out[f"{name}/jax"] = v[key] / res["jax"][key]
        if "numpy" in res and key in res["numpy"]:
            out[f"{name}/numpy"] = v[key] / res["numpy"][key]
    return out


@contextlib.contextmanager
def _on(backend):
    """Run on `backend` the way a program picks one: `plax.config.update("backend", ...)`."""
    import plax
    before = plax.config.backend
    plax.config.update("backend", backend)
    try:
        yield
    finally:
        plax.config.update("backend", before)


# ---------------------------------------------------------------------------------------------
# 1. MLP training step


SIZES = (64, 512, 512, 10)


def _mlp_data(batch, seed=0):
    rng = np.random.default_rng(seed)
    params = [(rng.standard_normal((m, n)).astype(np.float32) / np.sqrt(m),
               np.zeros(n, np.float32)) for m, n in zip(SIZES[:-1], SIZES[1:])]
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    return params, x, y


def _chained(call):
    """A step function `call` (reading its default arguments (params, x, y)) turned into a
    loop step: each call passes the parameters the previous call returned."""
    f, (p, x, y) = call.__defaults__
    state = [p]

    def run():
        state[0] = f(state[0], x, y)
        return state[0]
    return run


def _mlp_step(jnp, grad):
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jnp.maximum(jnp.dot(h, w) + b, 0.0)
        w, b = params[-1]
        out = jnp.dot(h, w) + b
        return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    def step(params, x, y):
        g = grad(loss)(params, x, y)
        return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(params, g)]

    return step


def numpy_mlp_step(params, x, y):
    hs, h = [x], x
    for w, b in params[:-1]:
        h = np.maximum(h @ w + b, 0.0)
        hs.append(h)
    w, b = params[-1]
    out = h @ w + b
    d = 2 * (out - y) / x.shape[0]
    new = []
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        gw, gb = hs[i].T @ d, d.sum(0)
        if i:
            d = (d @ w.T) * (hs[i] > 0)
        new.append((w - 0.01 * gw, b - 0.01 * gb))
    return new[::-1]


def case_mlp(backends, quick, have_jax):
    params, x, y = _mlp_data(128)
    rep = 5 if quick else 30
    res = {}
    firsts = {}
    import plax
    import plax.numpy as pnp
    warm_up(have_jax, backends)
    steady, eager = {}, {}
    for b in backends:
        with _on(b):
            step = _mlp_step(pnp, plax.grad)
            p = plax.device_put(params)
            xa, ya = plax.device_put(x), plax.device_put(y)
            jstep = plax.jit(step)
            enter = (lambda b=b: _on(b))
            steady[f"plax[{b}]"] = (enter, lambda f=jstep, a=(p, xa, ya): f(*a))
            eager[f"plax[{b}]"] = (enter, lambda f=step, a=(p, xa, ya): f(*a))
            firsts[f"plax[{b}]"] = (enter, lambda: plax.jit(_mlp_step(pnp, plax.grad)),
                                    (p, xa, ya))
    if have_jax:
        import jax
        import jax.numpy as jjnp
        step = _mlp_step(jjnp, jax.grad)
        p = jax.device_put(params)
        xa, ya = jax.device_put(x), jax.device_put(y)
        jstep = jax.jit(step)
        nothing = contextlib.nullcontext
        steady["jax"] = (nothing, lambda f=jstep, a=(p, xa, ya): f(*a))
        eager["jax"] = (nothing, lambda f=step, a=(p, xa, ya): f(*a))
        firsts["jax"] = (nothing, lambda: jax.jit(_mlp_step(jjnp, jax.grad)), (p, xa, ya))
    steady["numpy"] = (contextlib.nullcontext, lambda: numpy_mlp_step(params, x, y))
    for name, t in interleaved_us(steady, repeat=rep, number=3, settle=0.15).items():
        res.setdefault(name, {})["jit_steady_us"] = t
    # a training loop: each step takes the parameters the previous one returned (the steady
    # calls above all take the same parameters, so an asynchronous client may run two at once)
    loops = {name: (enter, _chained(fn)) for name, (enter, fn) in steady.items()
             if name != "numpy"}
    for name, t in interleaved_us(loops, repeat=rep, number=3, settle=0.15).items():
        res[name]["jit_loop_us"] = t
    for name, t in interleaved_us(eager, repeat=max(3, rep // 5)).items():
        res[name]["eager_us"] = t
    for name, t in first_call_medians(firsts, rounds=3 if quick else 7).items():
        res[name]["first_call_us"] = t
    # what a script feels: a fresh process importing the library and running one step
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cold = {f"plax[{b}]": ([_COLD_SCRIPT.format(root=root), "plax"],
                           dict(os.environ, PLAX_BACKEND=b)) for b in backends}
    if have_jax:
        cold["jax"] = ([_COLD_SCRIPT.format(root=root), "jax"], dict(os.environ))
    runs: dict = {k: [] for k in cold}
    for _ in range(1 if quick else 3):
        for name, (args, env) in cold.items():
            runs[name].append(_subprocess_json(args, env)["us"])
    for name, v in runs.items():
        res[name]["cold_import_and_first_call_us"] = statistics.median(v)
    res["ratios"] = {**_ratios(res, "jit_steady_us"),
                     **{k.replace("/", " loop/"): v
                        for k, v in _ratios(res, "jit_loop_us").items()},
                     **{k.replace("/", " first/"): v
                        for k, v in _ratios(res, "first_call_us").items()},
                     **{k.replace("/", " eager/"): v for k, v in _ratios(res, "eager_us").items()},
                     **{k.replace("/", " cold/"): v
                        for k, v in _ratios(res, "cold_import_and_first_call_us").items()}}
    return res


_COLD_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from bench.cases import _mlp_data, _mlp_step, _ready
if sys.argv[1] == "jax":
    import jax as lib, jax.numpy as jnp
else:
    import plax as lib, plax.numpy as jnp
params, x, y = _mlp_data(128)
_ready(lib.jit(_mlp_step(jnp, lib.grad))(lib.device_put(params), x, y))
print(json.dumps({{"us": (time.perf_counter() - t0) * 1e6}}))
"""


# ---------------------------------------------------------------------------------------------
# 2. dispatch


def case_dispatch(backends, quick, have_jax):
    n = 200 if quick else 1000
    rep = 5 if quick else 21
    s, v = np.float32(1.0), np.ones(1000, np.float32)
    import plax
    # a pytree argument of 7 leaves (a dict of a list and a tuple), summed under jit
    tree = {"w": [np.ones((4, 4), np.float32)] * 3, "b": (np.zeros(4, np.float32),) * 3,
            "s": np.float32(2.0)}

    def tree_sum(t):
        return sum(w.sum() for w in t["w"]) + sum(b.sum() for b in t["b"]) * t["s"]

    contenders: dict = {}  # name -> (context, jitted x+1.0, scalar, vector, jitted tree_sum, tree)
    for b in backends:
        with _on(b):
            contenders[f"plax[{b}]"] = (lambda b=b: _on(b), plax.jit(lambda a: a + 1.0),
                                        plax.device_put(s), plax.device_put(v),
                                        plax.jit(tree_sum), plax.device_put(tree))
    if have_jax:
        import jax
        contenders["jax"] = (contextlib.nullcontext, jax.jit(lambda a: a + 1.0),
                             jax.device_put(s), jax.device_put(v), jax.jit(tree_sum),
                             jax.device_put(tree))
    res: dict = {k: {} for k in contenders}
    for key, call in (("jit_scalar_us", lambda c: c[1](c[2])),
                      ("jit_vec1000_us", lambda c: c[1](c[3])),
                      ("jit_pytree7_us", lambda c: c[4](c[5])),
                      ("eager_add_scalar_us", lambda c: c[2] + c[2]),
                      ("eager_add_vec1000_us", lambda c: c[3] + c[3])):
        fns = {name: (c[0], lambda c=c: call(c)) for name, c in contenders.items()}
        for name, t in interleaved_us(fns, repeat=rep, number=n).items():
            res[name][key] = t
    res["numpy"] = {"eager_add_scalar_us": median_us(lambda: np.add(s, s), repeat=rep, number=n),
                    "eager_add_vec1000_us": median_us(lambda: np.add(v, v), repeat=rep,
                                                      number=n)}
    res["ratios"] = {}
    for key in ("jit_scalar_us", "jit_vec1000_us", "jit_pytree7_us", "eager_add_scalar_us",
                "eager_add_vec1000_us"):
        res["ratios"].update({f"{k} {key}": r for k, r in _ratios(res, key).items()})
    return res


# ---------------------------------------------------------------------------------------------
# 3. trace and compile


def _chain(jnp):
    def f(x, w):
        for i in range(50):
            x = jnp.sin(x) * 1.01 + 0.1 if i % 2 else jnp.tanh(x) - 0.05
        return jnp.dot(x, w)
    return f


def case_trace_compile(backends, quick, have_jax):
    x = np.ones((64, 64), np.float32)
    rep = 3 if quick else 9
    res = {}
    firsts = {}
    import plax
    import plax.numpy as pnp
    warm_up(have_jax, backends)
    for b in backends:
        with _on(b):
            # a fresh function each time: JAX caches traces by function identity
            res[f"plax[{b}]"] = {"make_jaxpr_us": median_us(
                lambda: plax.make_jaxpr(_chain(pnp))(x, x), repeat=rep, warmup=1)}
            firsts[f"plax[{b}]"] = (lambda b=b: _on(b), lambda: plax.jit(_chain(pnp)), (x, x))
    if have_jax:
        import jax
        import jax.numpy as jjnp
        res["jax"] = {"make_jaxpr_us": median_us(lambda: jax.make_jaxpr(_chain(jjnp))(x, x),
                                                 repeat=rep, warmup=1)}
        firsts["jax"] = (contextlib.nullcontext, lambda: jax.jit(_chain(jjnp)), (x, x))
    for name, t in first_call_medians(firsts, rounds=rep).items():
        res[name]["first_call_us"] = t
    res["ratios"] = {**{f"{k} make_jaxpr": v for k, v in _ratios(res, "make_jaxpr_us").items()},
                     **{f"{k} first_call": v for k, v in _ratios(res, "first_call_us").items()}}
    return res


# ---------------------------------------------------------------------------------------------
# 4. per-example gradients


def case_per_example(backends, quick, have_jax):
    params, x, y = _mlp_data(128)
    rep = 3 if quick else 9
    res = {}

    def make(jnp):
        def loss(params, xi, yi):
            h = xi
            for w, b in params[:-1]:
                h = jnp.maximum(jnp.dot(h, w) + b, 0.0)
            w, b = params[-1]
            return jnp.sum((jnp.dot(h, w) + b - yi) ** 2)
        return loss

    import plax
    import plax.numpy as pnp
    vmapped, loops = {}, {}
    xl, yl = list(x[:32]), list(y[:32])
    for b in backends:
        with _on(b):
            loss = make(pnp)
            p = plax.device_put(params)
            vg = plax.jit(plax.vmap(plax.grad(loss), in_axes=(None, 0, 0)))
            g1 = plax.jit(plax.grad(loss))
            xs, ys = plax.device_put(x), plax.device_put(y)
            enter = (lambda b=b: _on(b))
            vmapped[f"plax[{b}]"] = (enter, lambda vg=vg, a=(p, xs, ys): vg(*a))
            loops[f"plax[{b}]"] = (enter, lambda g1=g1, p=p: [g1(p, a, c)
                                                               for a, c in zip(xl, yl)])
    if have_jax:
        import jax
        import jax.numpy as jjnp
        loss = make(jjnp)
        p = jax.device_put(params)
        vg = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
        g1 = jax.jit(jax.grad(loss))
        xs, ys = jax.device_put(x), jax.device_put(y)
        vmapped["jax"] = (contextlib.nullcontext, lambda: vg(p, xs, ys))
        loops["jax"] = (contextlib.nullcontext, lambda: [g1(p, a, c) for a, c in zip(xl, yl)])
    # one set of interleaved rounds for both ways, so that vmap/loop compares too
    both = {**{(k, "vmap"): v for k, v in vmapped.items()},
            **{(k, "loop"): v for k, v in loops.items()}}
    for (name, how), t in interleaved_us(both, repeat=rep).items():
        if how == "vmap":
            res.setdefault(name, {})["vmap_us"] = t
        else:  # 32 examples timed, reported for the batch of 128
            res.setdefault(name, {})["loop32_us"] = t * 4
    res["ratios"] = {**{f"{k} vmap": v for k, v in _ratios(res, "vmap_us").items()},
                     **{f"{k} loop": v for k, v in _ratios(res, "loop32_us").items()},
                     **{f"{k} vmap/loop": v["vmap_us"] / v["loop32_us"] for k, v in res.items()
                        if isinstance(v, dict) and "vmap_us" in v and "loop32_us" in v}}
    return res


# ---------------------------------------------------------------------------------------------
# 5. long elementwise chain, 1e7 elements


def case_elementwise(backends, quick, have_jax):
    n = 10**6 if quick else 10**7
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    rep = 3 if quick else 7
    res = {}
    copy_us = median_us(lambda: x.copy(), repeat=rep)

    def chain(m):
        return lambda v: m.tanh(v) * 2 + m.sin(v) ** 2 - m.exp(-v)

    bytes_moved = 2 * x.nbytes  # one read, one write at the ideal
    import plax
    import plax.numpy as pnp
    fns = {}
    for b in backends:
        with _on(b):
            fns[f"plax[{b}]"] = (lambda b=b: _on(b),
                                 lambda f=plax.jit(chain(pnp)), xa=plax.device_put(x): f(xa))
    if have_jax:
        import jax
        import jax.numpy as jjnp
        fns["jax"] = (contextlib.nullcontext,
                      lambda f=jax.jit(chain(jjnp)), xa=jax.device_put(x): f(xa))
    fns["numpy"] = (contextlib.nullcontext, lambda f=chain(np): f(x))
    for name, t in interleaved_us(fns, repeat=rep).items():
        res[name] = {"us": t, "GB_s": bytes_moved / t / 1e3,
                     "fraction_of_copy_bandwidth": copy_us / t}
    res["numpy"]["copy_us"] = copy_us
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 6. matmul


def case_matmul(backends, quick, have_jax):
    n = 256 if quick else 1024
    rng = np.random.default_rng(0)
    a, b_ = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    rep = 3 if quick else 9
    flops = 2 * n ** 3
    res = {}
    import plax
    import plax.numpy as pnp
    fns = {}
    for b in backends:
        with _on(b):
            fns[f"plax[{b}]"] = (lambda b=b: _on(b), lambda f=plax.jit(pnp.matmul),
                                 aa=plax.device_put(a), bb=plax.device_put(b_): f(aa, bb))
    if have_jax:
        import jax
        import jax.numpy as jjnp
        fns["jax"] = (contextlib.nullcontext, lambda f=jax.jit(jjnp.matmul),
                      aa=jax.device_put(a), bb=jax.device_put(b_): f(aa, bb))
    fns["numpy"] = (contextlib.nullcontext, lambda: a @ b_)
    # three calls back to back per round: the first call after the settle sleep pays the idle
    # cores' wake-up (here 10 ms warm, 14-19 ms after 0.1-0.3 s idle, for every library alike)
    for name, t in interleaved_us(fns, repeat=rep, number=3, settle=0.15).items():
        res[name] = {"us": t, "GFLOP_s": flops / t / 1e3}
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 7. pmap psum over 4 CPU devices (each side in its own process: device counts are fixed at start)


_PMAP_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {root!r})
from bench.cases import median_us
import numpy as np
which = sys.argv[1]
x = np.arange(4 * 8, dtype=np.float32).reshape(4, 8)
if which == "jax":
    import jax
    f = jax.pmap(lambda v: jax.lax.psum(v, "i"), axis_name="i")
    n = jax.device_count()
else:
    import plax
    from plax import lax
    f = plax.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    n = plax.device_count()
print(json.dumps({{"us": median_us(lambda: f(x), repeat=9, number=20), "devices": n}}))
"""


def _median_of_rounds(sides: dict, rounds: int, run_one) -> dict:
    """`run_one(which, env)` for every side in `rounds` interleaved rounds (the machine's load
    drifts); per side the median of its runs' medians (the runs kept), and the ratios."""
    runs: dict = {k: [] for k in sides}
    for _ in range(rounds):
        for name, (which, env) in sides.items():
            runs[name].append(run_one(which, env))
    res: dict = {}
    for name, rs in runs.items():
        ok = [r for r in rs if "us" in r]
        res[name] = dict(ok[0], us=statistics.median(r["us"] for r in ok),
                         runs_us=[r["us"] for r in ok]) if ok else rs[0]
    res["ratios"] = _ratios(res, "us")
    return res


def _subprocess_json(args, env):
    import json
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True,
                         env=env, timeout=600)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def case_pmap(backends, quick, have_jax):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _PMAP_SCRIPT.format(root=root)
    sides = {f"plax[{b}]": ("plax", dict(os.environ, PLAX_BACKEND=b, PLAX_XLA_CPU_DEVICES="4"))
             for b in backends}
    if have_jax:
        sides["jax"] = ("jax", dict(os.environ,
                                    XLA_FLAGS="--xla_force_host_platform_device_count=4"))
    return _median_of_rounds(sides, 1 if quick else 5,  # rounds of fresh processes
                             lambda lib, env: _subprocess_json([script, lib], env))


# ---------------------------------------------------------------------------------------------
# 8. memory: peak resident memory of the MLP step at batch 4096


_MEM_SCRIPT = r"""
import json, sys
sys.path.insert(0, {root!r})
from bench.cases import _mlp_data, _mlp_step, _ready

def hwm_kb():  # peak RSS of this process (ru_maxrss would include the parent's, across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

params, x, y = _mlp_data(4096)
base = hwm_kb()
which = sys.argv[1]
if which == "jax":
    import jax, jax.numpy as jnp
    step = jax.jit(_mlp_step(jnp, jax.grad))
    put = jax.device_put
else:
    import plax, plax.numpy as jnp
    step = plax.jit(_mlp_step(jnp, plax.grad))
    put = plax.device_put
p, xa, ya = put(params), put(x), put(y)
for _ in range(5):
    p = step(p, xa, ya)
_ready(p)
peak = hwm_kb()
print(json.dumps({{"peak_rss_MB": peak / 1024, "before_MB": base / 1024}}))
"""


def case_memory(backends, quick, have_jax):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _MEM_SCRIPT.format(root=root)
    res = {}
    for b in backends:
        res[f"plax[{b}]"] = _subprocess_json([script, "plax"], dict(os.environ, PLAX_BACKEND=b))
    if have_jax:
        res["jax"] = _subprocess_json([script, "jax"], dict(os.environ))
    res["ratios"] = _ratios(res, "peak_rss_MB")
    return res


# ---------------------------------------------------------------------------------------------
# 9. conv net training step: two 3x3 convolutions (32 channels, NHWC), 2x2 max-pool, dense;
# batch 64 of 28x28 images, forward + backward + SGD update under jit


def _convnet_data(batch=64, seed=0):
    rng = np.random.default_rng(seed)
    params = {"c1": rng.standard_normal((3, 3, 1, 32)).astype(np.float32) / 3.0,
              "c2": rng.standard_normal((3, 3, 32, 32)).astype(np.float32) / 17.0,
              "d": rng.standard_normal((14 * 14 * 32, 10)).astype(np.float32) / 80.0}
    x = rng.standard_normal((batch, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    return params, x, y


def _convnet_step(lax, jnp, grad):
    dn = ("NHWC", "HWIO", "NHWC")

    def loss(params, x, y):
        h = jnp.maximum(lax.conv_general_dilated(x, params["c1"], (1, 1), "SAME",
                                                 dimension_numbers=dn), 0.0)
        h = jnp.maximum(lax.conv_general_dilated(h, params["c2"], (1, 1), "SAME",
                                                 dimension_numbers=dn), 0.0)
        h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        out = jnp.dot(h.reshape(h.shape[0], -1), params["d"])
        return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    def step(params, x, y):
        g = grad(loss)(params, x, y)
        return {k: params[k] - 0.01 * g[k] for k in params}

    return step


def case_convnet(backends, quick, have_jax):
    params, x, y = _convnet_data()
    rep = 5 if quick else 21
    import plax
    import plax.numpy as pnp
    steady, slow = {}, {}
    for b in backends:
        with _on(b):
            p, xa, ya = plax.device_put(params), plax.device_put(x), plax.device_put(y)
            jstep = plax.jit(_convnet_step(plax.lax, pnp, plax.grad))
            entry = (lambda b=b: _on(b), lambda f=jstep, a=(p, xa, ya): f(*a))
            _ready(entry[1]())
            t0 = time.perf_counter()
            _ready(entry[1]())
            # host builds (the NumPy reference, cupy's g++ build) take seconds a step: timed
            # apart, a few times, instead of in every interleaved round
            (slow if time.perf_counter() - t0 > 0.5 else steady)[f"plax[{b}]"] = entry
    if have_jax:
        import jax
        import jax.numpy as jjnp
        p, xa, ya = jax.device_put(params), jax.device_put(x), jax.device_put(y)
        jstep = jax.jit(_convnet_step(jax.lax, jjnp, jax.grad))
        steady["jax"] = (contextlib.nullcontext, lambda f=jstep, a=(p, xa, ya): f(*a))
    res = {name: {"jit_steady_us": t}
           for name, t in interleaved_us(steady, repeat=rep, number=2, settle=0.05).items()}
    for name, (enter, fn) in slow.items():
        with enter():
            res[name] = {"jit_steady_us": median_us(fn, repeat=3, warmup=1)}
    res["ratios"] = _ratios(res, "jit_steady_us")
    return res


# ---------------------------------------------------------------------------------------------
# 10. jit(f)(x) with a new wrapper every call (a loop or the common-gotchas pattern): JAX keys
#    its caches on the function, so the trace and executable of the first wrapper serve all


def case_rewrapped_jit(backends, quick, have_jax):
    n = 200 if quick else 1000
    rep = 5 if quick else 15
    import plax
    import plax.numpy as pnp

    def f_plax(x):
        return pnp.sin(x) * 2.0 + x

    contenders: dict = {}
    for b in backends:
        with _on(b):
            x = plax.device_put(np.ones(100, np.float32))
        contenders[f"plax[{b}]"] = (lambda b=b: _on(b), lambda x=x: plax.jit(f_plax)(x))
    if have_jax:
        import jax
        import jax.numpy as jjnp

        def f_jax(x):
            return jjnp.sin(x) * 2.0 + x

        xj = jax.device_put(np.ones(100, np.float32))
        contenders["jax"] = (contextlib.nullcontext, lambda: jax.jit(f_jax)(xj))
    res = {k: {"us": t} for k, t in interleaved_us(contenders, repeat=rep, number=n).items()}
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 11. the first epoch of a VAE training script (tests/jax_examples/programs/mnist_vae.py: stax,
#     optimizers, a jitted fori_loop epoch), each run in a fresh process so every cache is cold;
#     plax runs the same source through the `jax` name shim


_VAE_SCRIPT = r"""
import json, sys, time
root, which = {root!r}, sys.argv[1]
if which == "plax":
    sys.path.insert(0, root + "/tests/jax_examples/shim")
sys.path.insert(0, root + "/tests/jax_examples/programs")
import jax, jax.numpy as jnp
jax.jit(lambda v: v * 2)(jnp.ones(3)).block_until_ready()  # load plugins, start the client
import mnist_vae
t0 = time.perf_counter()
elbo, opt_state, _ = mnist_vae.first_epoch()
print(json.dumps({{"us": (time.perf_counter() - t0) * 1e6, "elbo": elbo}}))
"""


def case_vae_first_epoch(backends, quick, have_jax):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _VAE_SCRIPT.format(root=root)
    rounds = 1 if quick else 3
    runs: dict = {}
    for _ in range(rounds):  # interleaved: the same machine load for each
        if "xla" in backends:
            env = dict(os.environ, PLAX_BACKEND="xla")
            runs.setdefault("plax[xla]", []).append(_subprocess_json([script, "plax"], env))
        if have_jax:
            runs.setdefault("jax", []).append(_subprocess_json([script, "jax"],
                                                               dict(os.environ)))
    res: dict = {}
    for name, rs in runs.items():
        ok = [r["us"] for r in rs if "us" in r]
        res[name] = {"us": statistics.median(ok)} if ok else rs[0]
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 12. Cholesky factorization and solve (LAPACK potrf + two trsm on the xla backend)


def _cho_solve_fn(linalg):
    def f(a, b):
        L = linalg.cholesky(a)
        y = linalg.triangular_solve(L, b, left_side=True, lower=True)
        return linalg.triangular_solve(L, y, left_side=True, lower=True, transpose_a=True)
    return f


def case_cholesky_solve(backends, quick, have_jax):
    n = 256 if quick else 1024
    rng = np.random.default_rng(0)
    m = rng.standard_normal((n, n)).astype(np.float32)
    a = (m @ m.T / n + np.eye(n)).astype(np.float32)
    b_ = rng.standard_normal((n, 1)).astype(np.float32)
    rep = 3 if quick else 15
    import plax
    from plax.lax import linalg as plinalg
    fns = {}
    for b in backends:
        with _on(b):
            fns[f"plax[{b}]"] = (lambda b=b: _on(b), lambda f=plax.jit(_cho_solve_fn(plinalg)),
                                 aa=plax.device_put(a), bb=plax.device_put(b_): f(aa, bb))
    if have_jax:
        import jax
        from jax.lax import linalg as jlinalg
        fns["jax"] = (contextlib.nullcontext, lambda f=jax.jit(_cho_solve_fn(jlinalg)),
                      aa=jax.device_put(a), bb=jax.device_put(b_): f(aa, bb))
    import scipy.linalg as sl
    fns["numpy"] = (contextlib.nullcontext, lambda: sl.cho_solve(sl.cho_factor(a, lower=True),
                                                                 b_))
    res = {name: {"us": t} for name, t in interleaved_us(fns, repeat=rep, number=3,
                                                         settle=0.15).items()}  # (as case 6)
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 13. a new process with the persistent compilation cache warm: import + first MLP step


_WARM_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from bench.cases import _mlp_data, _mlp_step, _ready
if sys.argv[1] == "jax":
    import jax as lib, jax.numpy as jnp
    lib.config.update("jax_compilation_cache_dir", sys.argv[2])
    lib.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    lib.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
else:
    import plax as lib, plax.numpy as jnp
    lib.config.update("compilation_cache_dir", sys.argv[2])
params, x, y = _mlp_data(128)
_ready(lib.jit(_mlp_step(jnp, lib.grad))(lib.device_put(params), x, y))
us = (time.perf_counter() - t0) * 1e6
stats = {{}}
if sys.argv[1] != "jax":
    from plax.extend import registry
    stats = dict(registry.get_backend(lib.default_backend()).stats)
print(json.dumps({{"us": us, "compiles": stats.get("compiles"),
                   "cache_hits": stats.get("cache_hits")}}))
"""


def case_warm_cache(backends, quick, have_jax):
    """Import + first jitted MLP step in a fresh process whose persistent compilation cache
    (plax's compilation_cache_dir, JAX's jax_compilation_cache_dir) was filled by an earlier
    process; plax's run reports its compile and cache-hit counts (0 compiles when warm)."""
    import tempfile
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _WARM_SCRIPT.format(root=root)
    contenders = {}
    if "xla" in backends:
        contenders["plax[xla]"] = ("plax", dict(os.environ, PLAX_BACKEND="xla"))
    if have_jax:
        contenders["jax"] = ("jax", dict(os.environ))
    runs: dict = {k: [] for k in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {k: os.path.join(tmp, str(i)) for i, k in enumerate(contenders)}
        for name, (lib, env) in contenders.items():  # fill the caches (not timed)
            _subprocess_json([script, lib, dirs[name]], env)
        for _ in range(2 if quick else 5):  # interleaved rounds
            for name, (lib, env) in contenders.items():
                runs[name].append(_subprocess_json([script, lib, dirs[name]], env))
    res: dict = {}
    for name, rs in runs.items():
        ok = [r for r in rs if "us" in r]
        if not ok:
            res[name] = rs[0]
            continue
        res[name] = {"us": statistics.median(r["us"] for r in ok)}
        if name.startswith("plax"):
            res[name]["compiles"] = max(r["compiles"] or 0 for r in ok)
            res[name]["cache_hits"] = min(r["cache_hits"] or 0 for r in ok)
    res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 14. all-reduce of 1e6 float32 across 2 processes (1 CPU device each, gloo over localhost): the
# psum of a pmap over both processes, plax.distributed beside jax.distributed


_ALLREDUCE_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {root!r})
from bench.cases import median_us
import numpy as np
which, pid, port, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
x = np.full((1, 1_000_000), pid + 1.0, dtype=np.float32)
if which == "jax":
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"localhost:{{port}}", 2, pid)
    f = jax.pmap(lambda v: jax.lax.psum(v, "i"), axis_name="i")
    n, shutdown = jax.device_count(), jax.distributed.shutdown
else:
    import plax
    from plax import lax
    plax.distributed.initialize(f"localhost:{{port}}", 2, pid)
    f = plax.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    n, shutdown = plax.device_count(), plax.distributed.shutdown
ok = float(np.asarray(f(x))[0, 0]) == 3.0
us = median_us(lambda: f(x), repeat=repeat, number=5)
shutdown()
print(json.dumps({{"us": us, "devices": n, "correct": ok}}))
"""


def _two_processes(script, which, env, repeat):
    import json
    import socket
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, "-c", script, which, str(i), str(port),
                               str(repeat)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            return {"error": "timed out"}
        if p.returncode:
            return {"error": err.strip().splitlines()[-1] if err.strip() else "failed"}
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs[0]  # process 0's timing (both wait for each other every call)


def case_allreduce_2proc(backends, quick, have_jax):
    """Alternating runs of each side (the machine's load drifts); the median of their
    medians."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _ALLREDUCE_SCRIPT.format(root=root)
    repeat, rounds = (5, 1) if quick else (15, 3)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PLAX_", "XLA_FLAGS", "JAX_"))}
    sides = {}
    if "xla" in backends:
        sides["plax[xla]"] = ("plax", dict(base, PLAX_BACKEND="xla"))
    if have_jax:
        sides["jax"] = ("jax", dict(base, JAX_PLATFORMS="cpu"))
    return _median_of_rounds(sides, rounds,
                             lambda which, env: _two_processes(script, which, env, repeat))


# ---------------------------------------------------------------------------------------------
# 15. data-parallel MLP step (grad, pmean of the gradients, SGD) with pmap over 4 CPU devices
# (each side in its own process), the batch of 128 split 4 ways


_DP_SCRIPT = r"""
import json, sys
sys.path.insert(0, {root!r})
from bench.cases import median_us, _mlp_data
import numpy as np
which, repeat = sys.argv[1], int(sys.argv[2])
params, x, y = _mlp_data(128)
if which == "jax":
    import jax as lib, jax.numpy as jnp
    from jax import lax
else:
    import plax as lib, plax.numpy as jnp
    from plax import lax
def loss(p, x, y):
    h = x
    for w, b in p[:-1]:
        h = jnp.maximum(jnp.dot(h, w) + b, 0.0)
    w, b = p[-1]
    return jnp.mean(jnp.sum((jnp.dot(h, w) + b - y) ** 2, axis=-1))
def step(p, x, y):
    g = lax.pmean(lib.grad(loss)(p, x, y), "batch")
    return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(p, g)]
n = lib.device_count()
f = lib.pmap(step, axis_name="batch")
xs, ys = x.reshape(n, -1, x.shape[1]), y.reshape(n, -1, y.shape[1])
state = [f([(np.stack([w] * n), np.stack([b] * n)) for w, b in params], xs, ys)]
def run():
    state[0] = f(state[0], xs, ys)
    return state[0]
print(json.dumps({{"us": median_us(run, repeat=repeat, number=10), "devices": n}}))
"""


def case_data_parallel(backends, quick, have_jax):
    """Alternating runs of each side; the median of their medians."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _DP_SCRIPT.format(root=root)
    repeat, rounds = (5, 1) if quick else (15, 3)
    sides = {f"plax[{b}]": ("plax", dict(os.environ, PLAX_BACKEND=b, PLAX_XLA_CPU_DEVICES="4"))
             for b in backends if b == "xla"}
    if have_jax:
        sides["jax"] = ("jax", dict(os.environ,
                                    XLA_FLAGS="--xla_force_host_platform_device_count=4"))
    return _median_of_rounds(
        sides, rounds, lambda which, env: _subprocess_json([script, which, str(repeat)], env))


# 16. data-parallel MLP step over 4 CPU devices: jit with in/out shardings (params replicated,
# the batch split over a mesh axis), partitioned by XLA; plax and JAX in one process (each
# with its own 4-device client), timed in interleaved rounds


_DP_MESH_SCRIPT = r"""
import contextlib, json, sys
sys.path.insert(0, {root!r})
from bench.cases import _mlp_data, _mlp_step, interleaved_us, _ready
import numpy as np
params, x, y = _mlp_data(512)
runs = {{}}

def setup(jit, grad, put, jnp, mesh, NamedSharding, P):
    rep, data = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    step = jit(_mlp_step(jnp, grad), in_shardings=(rep, data, data), out_shardings=rep)
    xs, ys = put(x, data), put(y, data)
    state = [step(put(params, rep), xs, ys)]

    def run():
        state[0] = step(state[0], xs, ys)
        return state[0]
    return contextlib.nullcontext, run

import plax, plax.numpy as pnp
from plax import sharding as ps
runs["plax[xla]"] = setup(plax.jit, plax.grad, plax.device_put, pnp,
                          plax.make_mesh((4,), ("data",)), ps.NamedSharding, ps.P)
if sys.argv[1] == "with_jax":
    import jax, jax.numpy as jnp
    from jax import sharding as js
    runs["jax"] = setup(jax.jit, jax.grad, jax.device_put, jnp,
                        js.Mesh(np.array(jax.devices()[:4]), ("data",)), js.NamedSharding,
                        js.PartitionSpec)
us = interleaved_us(runs, repeat={repeat}, number=5, settle=0.1)
print(json.dumps({{k: {{"us": v}} for k, v in us.items()}}))
"""


def case_data_parallel_mesh(backends, quick, have_jax):
    if "xla" not in backends:
        return {"error": "needs the xla backend"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _DP_MESH_SCRIPT.format(root=root, repeat=5 if quick else 15)
    env = dict(os.environ, PLAX_BACKEND="xla", PLAX_XLA_CPU_DEVICES="4",
               XLA_FLAGS="--xla_force_host_platform_device_count=4", TF_CPP_MIN_LOG_LEVEL="2")
    res = _subprocess_json([script, "with_jax" if have_jax else "plax"], env)
    if "error" not in res:
        res["ratios"] = _ratios(res, "us")
    return res


# ---------------------------------------------------------------------------------------------
# 17. eager transformations (no jit, op by op), as in JAX's autodiff cookbook (its `predict`
#     with a tanh, inputs (4, 3)): the vjp of a vmapped layer, a vmapped vjp over 16
#     covectors (the cookbook's vmap_mjp), a per-example Jacobian (vmap of jacrev), a jvp


def _cookbook(lib, jnp):
    def predict(w, b, x):
        return jnp.tanh(jnp.dot(x, w) + b)

    def vjp_of_vmap(w, b, xs, ct, m):
        _, pull = lib.vjp(lib.vmap(predict, in_axes=(None, None, 0)), w, b, xs)
        return pull(ct)

    def vmap_mjp(w, b, xs, ct, m):
        _, pull = lib.vjp(lambda v: predict(v, b, xs), w)
        return lib.vmap(pull)(m)

    def per_example_jacobian(w, b, xs, ct, m):
        return lib.vmap(lib.jacrev(predict, argnums=2), in_axes=(None, None, 0))(w, b, xs)

    def jvp_layer(w, b, xs, ct, m):
        return lib.jvp(lambda v: predict(v, b, xs), (w,), (w,))

    return {"vjp_of_vmap_us": vjp_of_vmap, "vmap_mjp_us": vmap_mjp,
            "per_example_jacobian_us": per_example_jacobian, "jvp_us": jvp_layer}


def case_eager_transforms(backends, quick, have_jax):
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(s).astype(np.float32) for s in ((3,), (), (4, 3), (4,),
                                                                 (16, 4))]
    rep = 5 if quick else 15
    import plax
    import plax.numpy as pnp
    sides: dict = {}
    for bk in backends:
        with _on(bk):
            args = [plax.device_put(a) for a in data]
        sides[f"plax[{bk}]"] = (lambda bk=bk: _on(bk), _cookbook(plax, pnp), args)
    if have_jax:
        import jax
        import jax.numpy as jjnp
        sides["jax"] = (contextlib.nullcontext, _cookbook(jax, jjnp),
                        [jax.device_put(a) for a in data])
    res: dict = {k: {} for k in sides}
    res["ratios"] = {}
    for key in _cookbook(np, np):
        fns = {name: (enter, lambda f=fs[key], a=a: f(*a)) for name, (enter, fs, a) in
               sides.items()}
        for name, t in interleaved_us(fns, repeat=rep, number=5).items():
            res[name][key] = t
        res["ratios"].update({f"{k} {key}": r for k, r in _ratios(res, key).items()})
    return res


_IMPORT_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import {lib}
print(json.dumps({{"us": (time.perf_counter() - t0) * 1e6}}))
"""


def case_import_time(backends, quick, have_jax):
    """`import plax` (and `import jax`) in a fresh interpreter, alternating, median of rounds
    (the interpreter's own start is not counted)."""
    contenders = {"plax": "plax"}
    if have_jax:
        contenders["jax"] = "jax"
    runs: dict = {k: [] for k in contenders}
    for _ in range(3 if quick else 9):
        for name, lib in contenders.items():
            r = _subprocess_json([_IMPORT_SCRIPT.format(lib=lib)], dict(os.environ))
            if "us" in r:
                runs[name].append(r["us"])
    res = {k: {"us": statistics.median(v)} for k, v in runs.items() if v}
    if "plax" in res:  # one figure for the library whatever the backend
        for b in backends:
            res[f"plax[{b}]"] = res["plax"]
        del res["plax"]
    res["ratios"] = _ratios(res, "us")
    for name, v in list(res.items()):
        if name.startswith("plax[") and isinstance(v, dict):
            res["ratios"][f"{name}/100ms"] = v["us"] / 1e5  # issue 15's bound
    return res


CASES = {
    "1_mlp_step": case_mlp,
    "2_dispatch": case_dispatch,
    "3_trace_compile": case_trace_compile,
    "4_per_example_grads": case_per_example,
    "5_elementwise_chain": case_elementwise,
    "6_matmul": case_matmul,
    "7_pmap_psum": case_pmap,
    "8_memory": case_memory,
    "9_convnet_step": case_convnet,
    "10_rewrapped_jit": case_rewrapped_jit,
    "11_vae_first_epoch": case_vae_first_epoch,
    "12_cholesky_solve": case_cholesky_solve,
    "13_warm_cache_first_call": case_warm_cache,
    "14_allreduce_2proc": case_allreduce_2proc,
    "15_data_parallel_pmap": case_data_parallel,
    "16_data_parallel_mesh": case_data_parallel_mesh,
    "17_eager_transforms": case_eager_transforms,
    "18_import_time": case_import_time,
}


def table(doc) -> str:
    lines = [f"{'case':<24} {'ratio':<44} {'value':>8}"]
    for name, res in doc["cases"].items():
        if "error" in res:
            lines.append(f"{name:<24} ERROR {res['error']}")
            continue
        for k, v in sorted(res.get("ratios", {}).items()):
            lines.append(f"{name:<24} {k:<44} {v:8.2f}")
    return "\n".join(lines)


