"""The prepared GPU session of the cupy backend (issue 11): run it once on a machine with a GPU.

    python bench/gpu.py --fetch-wheels                        # here, before: PyPI -> wheels/
    python3 bench/gpu.py --setup --out "$OUT/gpu.json"        # there: a few minutes in all

The GPU machine runs its image's python3 (3.12) and reaches no registry. `--fetch-wheels` (run on
a machine that does) downloads the wheels that image lacks into `wheels/` (ignored by git: carry
it along, e.g. the device tool's `carry=["wheels"]`): optree (a plax-core dependency the image
does not have) and setuptools (the build backend of the editable installs), for CPython 3.12 on
manylinux x86_64. `--setup` installs them (`pip --no-index --no-deps`), then the plax packages
from this checkout (`pip --no-index --no-deps --no-build-isolation -e`), and records which
imports the tests need are still missing. Then, each part under its own time box, results
written to the JSON after every part (a timeout keeps what was done):
1. environment: GPU, driver, CuPy, NVRTC, JAX (if importable);
2. conformance: the backend-parametrised tests on the real device (PLAX_CUPY_DEVICE=gpu,
   `-k cupy`), then the fusion/codegen/indexing tests with their kernels on the device
   (PLAX_CUPY_TEST_DEVICE=gpu); then the xla backend's tests on the GPU plugin;
3. benchmarks beside CuPy op by op, `cupy.fuse` and JAX on the same GPU: the elementwise chain
   `tanh(x)*2 + sin(x)**2 - exp(-x)` on 1e8 float32 (vs the device's copy bandwidth, measured
   here), `sum(exp(x))` and a row softmax on (1e5, 1000), an MLP 64-512-512-10 step (batch 128
   and 4096) under jit, the dispatch of a jitted `x + 1` on 1000 elements, and the generated
   indexing kernels (an embedding gradient: gather + scatter-add; a cumsum over rows); with
   the kernel launches per call from `plax_cupy.launch_count()`.
`--smoke` checks the script here (host build, small sizes, no tests). Paste the summary
(`--summary` prints it from the JSON) into bench/RESULTS.md with the date.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ["packages/core", "packages/transforms", "packages/backend-xla",
            "packages/backend-cupy"]
CONFORMANCE_FILES = ["tests"]  # every backend-parametrised test, selected by -k cupy
FUSION_FILES = ["tests/test_cupy_fusion.py", "tests/test_cupy_codegen.py",
                "tests/test_cupy_indexing.py"]
# the first run leaves the fusion files to the second (their kernels on the device there)
CONFORMANCE_SELECT = "cupy and not " + " and not ".join(
    os.path.basename(f)[:-3] for f in FUSION_FILES)
WHEELS = ["optree", "setuptools"]  # what the GPU image lacks (see the docstring)
WHEEL_TARGET = ["--python-version", "3.12", "--implementation", "cp"] + [
    a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64",
                "manylinux_2_17_x86_64") for a in ("--platform", p)]
NEEDED = ["numpy", "ml_dtypes", "scipy", "optree", "pluggy", "pytest", "hypothesis", "cupy",
          "jax", "plax", "plax_cupy", "plax_xla"]


class Doc:
    """The JSON document, rewritten after every part."""

    def __init__(self, path):
        self.path, self.data = path, {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    def put(self, key, value):
        self.data[key] = value
        if self.path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "w") as f:
                json.dump(self.data, f, indent=2, default=str)
        print(f"# {key}: {json.dumps(value, default=str)[:400]}", flush=True)


def fetch_wheels(dest=None) -> int:
    """Here, with a registry: the wheels the GPU image lacks, for its CPython 3.12."""
    dest = dest or os.path.join(ROOT, "wheels")
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
           *WHEEL_TARGET, "-d", dest, *WHEELS]
    r = subprocess.run(cmd)
    print("wheels:", sorted(os.listdir(dest)) if os.path.isdir(dest) else "none")
    return r.returncode


def setup(wheel_dir=None) -> dict:
    py = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "-q"]
    out = {}
    wheels = sorted(glob.glob(os.path.join(wheel_dir or os.path.join(ROOT, "wheels"), "*.whl")))
    out["wheel_files"] = [os.path.basename(w) for w in wheels]
    present = set(NEEDED + WHEELS) - set(missing_modules(NEEDED + WHEELS))
    if _old_setuptools():  # before 70.1 it has no bdist_wheel: editable installs fail
        present.discard("setuptools")
    wheels = [w for w in wheels if os.path.basename(w).split("-")[0] not in present]
    out["wheels_installed"] = [os.path.basename(w) for w in wheels]  # the image's own stay
    if wheels:
        r = subprocess.run(py + wheels, capture_output=True, text=True)
        out["wheels"] = r.returncode == 0 or r.stderr[-800:]
    args = py + ["--no-build-isolation"] + [a for p in PACKAGES for a in ("-e", p)]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    out["packages"] = r.returncode == 0 or r.stderr[-800:]
    out["missing"] = missing_modules()
    return out


def _old_setuptools() -> bool:
    code = "import setuptools; print(setuptools.__version__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return tuple(int(p) for p in r.stdout.strip().split(".")[:2]) < (70, 1)
    except ValueError:
        return True


def missing_modules(names=None) -> list:
    """The imports (default: those the tests and benchmarks need) that this interpreter cannot
    find, checked in a fresh process, so that a just-installed package counts."""
    code = ("import importlib.util as u\n"
            f"print(' '.join(m for m in {list(names or NEEDED)!r} if u.find_spec(m) is None))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else [r.stderr[-400:]]


def environment() -> dict:
    env: dict = {"python": sys.version.split()[0]}
    try:
        import cupy
        rt = cupy.cuda.runtime
        props = rt.getDeviceProperties(0)
        env.update(cupy=cupy.__version__, gpus=rt.getDeviceCount(),
                   device=props["name"].decode(), driver=rt.driverGetVersion(),
                   runtime=rt.runtimeGetVersion(), nvrtc=cupy.cuda.nvrtc.getVersion(),
                   memory_gib=round(props["totalGlobalMem"] / 2**30, 1))
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        env["cupy_error"] = f"{type(e).__name__}: {e}"
    try:
        import jax
        env["jax"] = f"{jax.__version__} {jax.devices()}"
    except Exception as e:  # noqa: BLE001
        env["jax_error"] = f"{type(e).__name__}: {e}"
    return env


def pytest_run(files, select, env_extra, timeout) -> dict:
    """pytest on `files` in a subprocess; the summary line and the first failures."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env_extra)
    files = [f for f in files if os.path.exists(os.path.join(ROOT, f))]
    try:
        import xdist  # noqa: F401 - parallel when the image has pytest-xdist
        parallel = ["-n", "6"]
    except ImportError:
        parallel = []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *parallel,
           "--tb=line", *(["-k", select] if select else []), *files]
    t0 = time.time()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout)
        text, rc = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
        rc = "timeout"
    lines = text.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAILED")][:40]
    return {"rc": rc, "seconds": round(time.time() - t0, 1),
            "summary": lines[-1] if lines else "", "failed": failed}


# --- timing ----------------------------------------------------------------------------------

SMOKE = False  # --smoke: the host build, small sizes (checks this script without a GPU)


def _xp():
    if SMOKE:
        import numpy
        return numpy
    import cupy
    return cupy


def gpu_time_ms(fn, *, repeat=10, warmup=2) -> float:
    """Median milliseconds of `fn()` between CUDA events on the current stream."""
    if SMOKE:
        return _wall_ms(lambda: _Ready(fn()), repeat)
    import cupy
    for _ in range(warmup):
        fn()
    cupy.cuda.get_current_stream().synchronize()
    times = []
    for _ in range(repeat):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def wall_us(fn, *, repeat=2000, warmup=50) -> float:
    """Median microseconds per call of a short `fn` (host dispatch), blocked at the end."""
    for _ in range(warmup):
        out = fn()
    _block(out)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat // 5):
            out = fn()
        _block(out)
        times.append((time.perf_counter() - t0) / (repeat // 5) * 1e6)
    return statistics.median(times)


def _block(x):
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    elif isinstance(x, (list, tuple)):
        for y in x:
            _block(y)
    elif not SMOKE:
        import cupy
        cupy.cuda.get_current_stream().synchronize()


def _plax_ms(f, *args, repeat=10):
    """Median ms of a plax call (CUDA events around the launch; outputs kept on device)."""
    return gpu_time_ms(lambda: f(*args), repeat=repeat)


def _launches(f, *args) -> int:
    import plax_cupy
    _block(f(*args))
    n0 = plax_cupy.launch_count()
    _block(f(*args))
    return plax_cupy.launch_count() - n0


def _jax():
    try:
        import jax
        import jax.numpy as jjnp
        jax.devices("cpu" if SMOKE else "gpu")
        return jax, jjnp
    except Exception:  # noqa: BLE001 - JAX on the GPU is optional
        return None, None


def bench_elementwise(n=100_000_000) -> dict:
    import numpy as np

    import plax
    import plax.numpy as pnp
    cupy = _xp()
    n = 100_000 if SMOKE else n
    x_np = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    xc = cupy.asarray(x_np)
    res: dict = {"n": n}
    copy_ms = gpu_time_ms(lambda: xc.copy())
    res["copy_ms"] = copy_ms
    res["copy_GBps"] = 2 * xc.nbytes / copy_ms / 1e6

    def chain(m):
        return lambda x: m.tanh(x) * 2 + m.sin(x) ** 2 - m.exp(-x)

    f = plax.jit(chain(pnp), backend="cupy")
    xp_ = plax.device_put(x_np, plax.devices("cupy")[0])
    res["plax_ms"] = _plax_ms(f, xp_)
    res["plax_launches"] = _launches(f, xp_)
    res["plax_GBps"] = 2 * xc.nbytes / res["plax_ms"] / 1e6
    res["plax_frac_of_copy"] = copy_ms / res["plax_ms"]
    res["cupy_op_by_op_ms"] = gpu_time_ms(lambda: chain(cupy)(xc))
    if not SMOKE:
        fused = cupy.fuse(chain(cupy))
        res["cupy_fuse_ms"] = gpu_time_ms(lambda: fused(xc))
    jax, jjnp = _jax()
    if jax is not None:
        jf = jax.jit(chain(jjnp))
        xj = jax.device_put(x_np)
        res["jax_ms"] = _wall_ms(lambda: jf(xj))
    res["speedup_vs_op_by_op"] = res["cupy_op_by_op_ms"] / res["plax_ms"]
    np.testing.assert_allclose(np.asarray(f(xp_))[:1000], chain(np)(x_np[:1000]), rtol=2e-5,
                               atol=2e-5)
    return res


class _Ready:
    def __init__(self, x):
        self.x = x

    def block_until_ready(self):
        _block(self.x)
        return self


def _wall_ms(fn, repeat=10) -> float:
    """For JAX: wall time with block_until_ready (it runs on its own streams)."""
    for _ in range(2):
        fn().block_until_ready()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn().block_until_ready()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_reductions(rows=100_000, cols=1000) -> dict:
    import numpy as np

    import plax
    import plax.numpy as pnp
    cupy = _xp()
    rows = 1000 if SMOKE else rows
    x_np = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    xc = cupy.asarray(x_np)
    copy_ms = gpu_time_ms(lambda: xc.copy())
    xp_ = plax.device_put(x_np, plax.devices("cupy")[0])
    res: dict = {"shape": [rows, cols], "copy_ms": copy_ms}
    sum_exp = plax.jit(lambda x: pnp.sum(pnp.exp(x)), backend="cupy")
    softmax = plax.jit(lambda x: plax.nn.softmax(x, axis=-1), backend="cupy")
    res["sum_exp_ms"] = _plax_ms(sum_exp, xp_)
    res["sum_exp_launches"] = _launches(sum_exp, xp_)
    # a reduction reads the array once: the copy reads and writes it
    res["sum_exp_frac_of_copy"] = (copy_ms / 2) / res["sum_exp_ms"]
    res["softmax_ms"] = _plax_ms(softmax, xp_)
    res["softmax_launches"] = _launches(softmax, xp_)
    res["softmax_frac_of_copy"] = copy_ms / res["softmax_ms"]

    def cupy_softmax(x):
        e = cupy.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    res["cupy_sum_exp_ms"] = gpu_time_ms(lambda: cupy.exp(xc).sum())
    res["cupy_softmax_ms"] = gpu_time_ms(lambda: cupy_softmax(xc))
    jax, jjnp = _jax()
    if jax is not None:
        xj = jax.device_put(x_np)
        jsum = jax.jit(lambda x: jjnp.sum(jjnp.exp(x)))
        jsoft = jax.jit(jax.nn.softmax)
        res["jax_sum_exp_ms"] = _wall_ms(lambda: jsum(xj))
        res["jax_softmax_ms"] = _wall_ms(lambda: jsoft(xj))
    np.testing.assert_allclose(float(np.asarray(sum_exp(xp_))),
                               float(np.exp(x_np.astype(np.float64)).sum()), rtol=1e-3)
    return res


def bench_mlp() -> dict:
    sys.path.insert(0, ROOT)
    from bench.cases import _mlp_data, _mlp_step

    import plax
    import plax.numpy as pnp
    res: dict = {}
    jax, jjnp = _jax()
    for batch in (128, 4096):
        params, x, y = _mlp_data(batch)
        dev = plax.devices("cupy")[0]
        pp = plax.tree_util.tree_map(lambda a: plax.device_put(a, dev), params)
        px, py = plax.device_put(x, dev), plax.device_put(y, dev)
        step = plax.jit(_mlp_step(pnp, plax.grad), backend="cupy")
        r = {"plax_ms": _wall_ms_tree(lambda: step(pp, px, py)),
             "plax_launches": _launches(step, pp, px, py)}
        if jax is not None:
            jstep = jax.jit(_mlp_step(jjnp, jax.grad))
            jp = jax.tree_util.tree_map(jax.device_put, params)
            jx, jy = jax.device_put(x), jax.device_put(y)
            r["jax_ms"] = _wall_ms_tree(lambda: jstep(jp, jx, jy))
            r["ratio_plax_over_jax"] = r["plax_ms"] / r["jax_ms"]
        res[f"batch_{batch}"] = r
    return res


def _wall_ms_tree(fn, repeat=20) -> float:
    for _ in range(3):
        _block_tree(fn())
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _block_tree(fn())
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _block_tree(out):
    import plax
    for leaf in plax.tree_util.tree_leaves(out):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


def bench_dispatch() -> dict:
    import numpy as np

    import plax
    x = plax.device_put(np.ones(1000, np.float32), plax.devices("cupy")[0])
    f = plax.jit(lambda x: x + 1, backend="cupy")
    res = {"plax_us": wall_us(lambda: f(x))}
    jax, jjnp = _jax()
    if jax is not None:
        jf = jax.jit(lambda x: x + 1)
        xj = jax.device_put(np.ones(1000, np.float32))
        res["jax_us"] = wall_us(lambda: jf(xj))
        res["ratio_plax_over_jax"] = res["plax_us"] / res["jax_us"]
    return res


def bench_indexing(rows=1_000_000, dim=128, batch=65_536) -> dict:
    """The generated gather / scatter / scan kernels: an embedding lookup's gradient (a gather,
    tanh, a scatter-add) and a cumsum over rows, beside CuPy (fancy indexing,
    cupyx.scatter_add, cupy.cumsum) and JAX."""
    import numpy as np

    import plax
    import plax.numpy as pnp
    cupy = _xp()
    if SMOKE:
        rows, dim, batch = 1000, 16, 512
    rng = np.random.default_rng(2)
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    ids = rng.integers(0, rows, batch).astype(np.int32)
    dev = plax.devices("cupy")[0]
    pt, pi = plax.device_put(table, dev), plax.device_put(ids, dev)

    def loss(t, i):
        return pnp.sum(pnp.tanh(t[i]) ** 2)
    grad = plax.jit(plax.grad(loss), backend="cupy")
    cums = plax.jit(lambda t: pnp.cumsum(t, axis=0) * 0.5, backend="cupy")
    res: dict = {"rows": rows, "dim": dim, "batch": batch}
    res["grad_ms"] = _plax_ms(grad, pt, pi)
    res["grad_launches"] = _launches(grad, pt, pi)
    res["cumsum_ms"] = _plax_ms(cums, pt)
    res["cumsum_launches"] = _launches(cums, pt)
    tc, ic = cupy.asarray(table), cupy.asarray(ids)

    def cupy_grad():
        g = 2 * cupy.tanh(tc[ic]) * (1 - cupy.tanh(tc[ic]) ** 2)
        out = cupy.zeros_like(tc)
        if SMOKE:
            np.add.at(out, ic, g)
        else:
            import cupyx
            cupyx.scatter_add(out, ic, g)
        return out
    res["cupy_grad_ms"] = gpu_time_ms(cupy_grad)
    res["cupy_cumsum_ms"] = gpu_time_ms(lambda: cupy.cumsum(tc, axis=0) * 0.5)
    jax, jjnp = _jax()
    if jax is not None:
        jg = jax.jit(jax.grad(lambda t, i: jjnp.sum(jjnp.tanh(t[i]) ** 2)))
        jt, ji = jax.device_put(table), jax.device_put(ids)
        res["jax_grad_ms"] = _wall_ms(lambda: jg(jt, ji))
        jc = jax.jit(lambda t: jjnp.cumsum(t, axis=0) * 0.5)
        res["jax_cumsum_ms"] = _wall_ms(lambda: jc(jt))
    want = cupy_grad()
    np.testing.assert_allclose(np.asarray(grad(pt, pi)), want if SMOKE else cupy.asnumpy(want),
                               rtol=1e-4, atol=1e-5)
    return res


def summary(doc: dict) -> str:
    env = doc.get("environment", {})
    lines = [f"## cupy backend on {env.get('device', '?')} ({doc.get('date')})",
             f"driver {env.get('driver')}, CuPy {env.get('cupy')}, NVRTC {env.get('nvrtc')}, "
             f"JAX {env.get('jax', '-')}"]
    for key in ("conformance_cupy", "conformance_fusion", "conformance_xla_gpu"):
        if key in doc:
            lines.append(f"- {key}: {doc[key].get('summary')} ({doc[key].get('seconds')} s)")
    for key in ("elementwise", "reductions", "mlp", "dispatch", "indexing"):
        if key in doc:
            lines.append(f"- {key}: " + json.dumps(doc[key], default=str))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/gpu.py")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu.json"))
    ap.add_argument("--setup", action="store_true", help="pip install the packages first")
    ap.add_argument("--fetch-wheels", action="store_true",
                    help="download the wheels the GPU image lacks into wheels/ and exit")
    ap.add_argument("--wheels", default=None, help="the wheel folder (default: wheels/)")
    ap.add_argument("--tests-timeout", type=int, default=240, help="seconds per test run")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--summary", default=None, help="print the summary of a JSON and exit")
    ap.add_argument("--smoke", action="store_true",
                    help="the host build with small sizes and no tests (checks the script)")
    args = ap.parse_args(argv)
    global SMOKE
    SMOKE = args.smoke
    if args.fetch_wheels:
        return fetch_wheels(args.wheels)
    if args.summary:
        with open(args.summary) as f:
            print(summary(json.load(f)))
        return 0
    os.environ["PLAX_CUPY_DEVICE"] = "host" if SMOKE else "gpu"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    doc = Doc(args.out)
    if args.setup:
        doc.put("setup", setup(args.wheels))
    doc.put("environment", environment())
    if not (args.skip_tests or SMOKE):
        doc.put("conformance_cupy", pytest_run(CONFORMANCE_FILES, CONFORMANCE_SELECT,
                                               {"PLAX_CUPY_DEVICE": "gpu"}, args.tests_timeout))
        doc.put("conformance_fusion", pytest_run(
            FUSION_FILES, None, {"PLAX_CUPY_DEVICE": "gpu", "PLAX_CUPY_TEST_DEVICE": "gpu"}, 90))
        doc.put("conformance_xla_gpu", pytest_run(
            ["tests/test_xla_jit.py", "tests/test_xla_ops.py", "tests/test_xla_elementwise.py"],
            "xla", {"PLAX_XLA_PLATFORM": "gpu"}, 60))
    for name, fn in (("elementwise", bench_elementwise), ("reductions", bench_reductions),
                     ("mlp", bench_mlp), ("dispatch", bench_dispatch),
                     ("indexing", bench_indexing)):
        t0 = time.time()
        try:
            value = fn()
        except Exception as e:  # noqa: BLE001 - recorded, the next part still runs
            value = {"error": f"{type(e).__name__}: {e}"}
        value["seconds"] = round(time.time() - t0, 1)
        doc.put(name, value)
    print(summary(doc.data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
