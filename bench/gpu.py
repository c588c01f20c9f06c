"""The prepared GPU session of the cupy backend (issue 11): run it once on a machine with a GPU.

    python bench/gpu.py --fetch-wheels          # here, before: PyPI -> wheels/ (git-ignored)
    python bench/gpu.py --dry-run               # here: the plan, and every part that needs no GPU
    python3 bench/gpu.py --setup --budget 500   # there (device tool: carry=["wheels"])

The GPU machine runs its image's python3 (3.12) and reaches no registry. `--fetch-wheels` (run on
a machine that does) downloads the wheels that image lacks into `wheels/`: optree (a plax-core
dependency the image does not have) and setuptools (the build backend of the editable
installs), for CPython 3.12 on manylinux x86_64. `--setup` installs them (`pip --no-index
--no-deps`), then the plax packages from this checkout (`pip --no-index --no-deps
--no-build-isolation -e`), and records which imports the tests need are still missing.

Then the parts, in this order (the issue's numbers first), each under its own time box, cut
to what is left of `--budget` seconds; the results go to `--out` (JSON, default
$OUT/gpu.json) and a markdown summary beside it (gpu.md) after every part, so a timeout or a
crash keeps what was done:
1. environment: GPU, driver, CuPy, NVRTC, NCCL, JAX (if importable);
2. benchmarks beside CuPy op by op, `cupy.fuse` and JAX on the same GPU (kernel launches per
   call from `plax_cupy.launch_count()`, the issue's targets checked in `criteria`): the
   elementwise chain `tanh(x)*2 + sin(x)**2 - exp(-x)` on 1e8 float32 (vs the device's copy
   bandwidth, measured in the same run), `sum(exp(x))` and a row softmax on (1e5, 1000), an
   MLP 64-512-512-10 step (batch 128 and 4096) under jit, the dispatch of a jitted `x + 1` on
   1000 elements, the generated indexing kernels (an embedding gradient: gather +
   scatter-add; a cumsum over rows), and the MLP step on plax's xla backend on the GPU;
3. the talk and digits examples with PLAX_BACKEND=cupy on the GPU, and with the xla backend
   on the GPU, digits' test accuracy beside the reference backend's;
4. conformance: the fusion/codegen/indexing tests with their kernels on the device
   (PLAX_CUPY_TEST_DEVICE=gpu), the xla backend's tests on its GPU plugin
   (PLAX_XLA_PLATFORM=gpu), then the backend-parametrised tests on the real device
   (PLAX_CUPY_DEVICE=gpu, `-k cupy`, ~2800 tests) in what is left of the budget (cut by the
   timeout, the progress so far is counted).

The device tool's call (one H200, 15 minutes of device time in all, 10 minutes a command;
the machine starts in a minute or two): `--fetch-wheels` here first, then
    run(command="python3 bench/gpu.py --setup --budget 500", carry=["wheels"], timeout_s=590)
and, if the conformance part was cut and the machine is still warm, at once
    run(command="python3 bench/gpu.py --only conformance_cupy --budget 280 --out $OUT/gpu2.json",
        carry=["wheels"], timeout_s=300)
(a fresh machine would need --setup again). XLA_PYTHON_CLIENT_PREALLOCATE=false is set for
every process: CuPy, JAX and plax's xla client share the GPU.
`--dry-run` (here, no GPU: the host build) prints the plan and runs every part that needs no
GPU: the setup's checks (pip --dry-run), each pytest selection with --collect-only, the
examples on the host build and the xla CPU backend, the benchmarks at small sizes on the host
build, the JSON and markdown. `--only a,b` runs those parts alone; `--summary F` prints the
markdown of a JSON. Paste the summary into bench/RESULTS.md with the date and the device.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ["packages/core", "packages/transforms", "packages/backend-xla",
            "packages/backend-cupy"]
FUSION_FILES = ["tests/test_cupy_fusion.py", "tests/test_cupy_codegen.py",
                "tests/test_cupy_indexing.py", "tests/test_cupy_windows.py",
                "tests/test_cupy_window_generic.py", "tests/test_cupy_linalg_gpu_rules.py",
                "tests/test_cupy_rng.py"]
# every backend-parametrised test on cupy; the fusion files run in their own part
CONFORMANCE_SELECT = "cupy and not " + " and not ".join(
    os.path.basename(f)[:-3] for f in FUSION_FILES)
XLA_FILES = ["tests/test_xla_jit.py", "tests/test_xla_ops.py", "tests/test_xla_elementwise.py",
             "tests/test_xla_plugin.py"]
WHEELS = ["optree", "setuptools"]  # what the GPU image lacks (see the docstring)
WHEEL_TARGET = ["--python-version", "3.12", "--implementation", "cp"] + [
    a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64",
                "manylinux_2_17_x86_64") for a in ("--platform", p)]
NEEDED = ["numpy", "ml_dtypes", "scipy", "optree", "pluggy", "pytest", "xdist", "hypothesis",
          "cupy", "jax", "plax", "plax_cupy", "plax_xla"]
# one process on the GPU holds CuPy, JAX and plax's xla client: none may take 75% of memory
BASE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
            "PYTHONUNBUFFERED": "1"}
DRY = False  # --dry-run: the host build, small sizes, tests collected only


class Doc:
    """The JSON document and its markdown summary, rewritten after every part."""

    def __init__(self, path):
        self.path, self.data = path, {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                      "mode": "dry-run (host build)" if DRY else "gpu"}

    def put(self, key, value):
        self.data[key] = value
        if self.path:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "w") as f:
                json.dump(self.data, f, indent=2, default=str)
            with open(os.path.splitext(self.path)[0] + ".md", "w") as f:
                f.write(summary(self.data) + "\n")
        print(f"# {key}: {json.dumps(value, default=str)[:600]}", flush=True)


def fetch_wheels(dest=None) -> int:
    """Here, with a registry: the wheels the GPU image lacks, for its CPython 3.12."""
    dest = dest or os.path.join(ROOT, "wheels")
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
           *WHEEL_TARGET, "-d", dest, *WHEELS]
    r = subprocess.run(cmd)
    print("wheels:", sorted(os.listdir(dest)) if os.path.isdir(dest) else "none")
    return r.returncode


def setup(wheel_dir=None, dry=False) -> dict:
    """Install the carried wheels the image lacks, then the plax packages (editable, no
    index); `dry`: pip's --dry-run of the same (nothing changes)."""
    py = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "-q"]
    if dry:
        py.append("--dry-run")
    out: dict = {}
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
    if dry:  # an editable install of the checkout is what this machine has already
        out["packages"] = "skipped (dry run: editable installs change this interpreter)"
    else:
        args = py + ["--no-build-isolation"] + [a for p in PACKAGES for a in ("-e", p)]
        r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        out["packages"] = r.returncode == 0 or r.stderr[-800:]
    out["missing"] = missing_modules()
    if not dry:
        out["importable_here"] = _activate_new_installs()
    return out


def _activate_new_installs() -> bool:
    """Make packages installed while this process runs importable in it: an editable install
    is a .pth file, read only at interpreter start-up."""
    import importlib
    import importlib.util
    import site
    importlib.invalidate_caches()
    for d in [*site.getsitepackages(), site.getusersitepackages()]:
        if os.path.isdir(d):
            site.addsitedir(d)
    return all(importlib.util.find_spec(m) is not None for m in ("plax", "plax_cupy"))


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
    env: dict = {"python": sys.version.split()[0], "executable": sys.executable}
    try:
        import cupy
        rt = cupy.cuda.runtime
        env["cupy"] = cupy.__version__
        props = rt.getDeviceProperties(0)
        env.update(gpus=rt.getDeviceCount(), device=props["name"].decode(),
                   driver=rt.driverGetVersion(), runtime=rt.runtimeGetVersion(),
                   nvrtc=cupy.cuda.nvrtc.getVersion(),
                   memory_gib=round(props["totalGlobalMem"] / 2**30, 1))
        from cupy.cuda import nccl
        env["nccl"] = nccl.get_version() if getattr(nccl, "available", False) else "missing"
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        env["cupy_error"] = f"{type(e).__name__}: {e}"
    try:
        import jax
        env["jax"] = f"{jax.__version__} {jax.devices()}"
    except Exception as e:  # noqa: BLE001
        env["jax_error"] = f"{type(e).__name__}: {e}"
    return env


def _run_group(cmd, env, timeout, cwd=ROOT):
    """(rc or "timeout", output): `cmd` in its own process group, all of it killed at the
    timeout (pytest-xdist's workers too), whatever it printed kept."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1))
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "timeout", out


def pytest_run(files, select, env_extra, timeout) -> dict:
    """pytest on `files` in a subprocess: the summary line (or, cut by the timeout, the
    progress counted so far) and the first failures; with DRY, --collect-only."""
    env = dict(os.environ, **BASE_ENV, **env_extra)
    files = [f for f in files if os.path.exists(os.path.join(ROOT, f))]
    try:
        import xdist  # noqa: F401 - parallel when the image has pytest-xdist
        parallel = [] if DRY else ["-n", "6"]
    except ImportError:
        parallel = []
    mode = ["--collect-only"] if DRY else ["-rf", "--tb=line"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *mode, *parallel,
           *(["-k", select] if select else []), *files]
    t0 = time.time()
    rc, text = _run_group(cmd, env, timeout)
    lines = text.strip().splitlines()
    res = {"rc": rc, "seconds": round(time.time() - t0, 1), "command": " ".join(cmd[1:]),
           "env": env_extra, "summary": lines[-1] if lines else "",
           "failed": [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))][:40]}
    if rc == "timeout":  # the progress lines: one character per finished test
        marks = "".join(re.sub(r"\s*\[\s*\d+%\]$", "", ln) for ln in lines
                        if re.fullmatch(r"[.FEsxX]+(\s*\[\s*\d+%\])?", ln.strip()))
        res["progress"] = {k: marks.count(c) for k, c in
                           (("passed", "."), ("failed", "F"), ("errors", "E"),
                            ("skipped", "s"), ("xfailed", "x"))}
    return res


def run_examples(timeout) -> dict:
    """talk.py and digits_mlp.py with PLAX_BACKEND=cupy (the GPU, or the host build in a dry
    run), digits also on xla (its GPU plugin, or the CPU) and the reference backend: the
    talk's loss drop and the digits test accuracy of each."""
    device = "host" if DRY else "gpu"
    runs = [("talk.py", "cupy", {"PLAX_CUPY_DEVICE": device}),
            ("digits_mlp.py", "cupy", {"PLAX_CUPY_DEVICE": device}),
            ("talk.py", "xla", {"PLAX_XLA_PLATFORM": "cpu" if DRY else "gpu"}),
            ("digits_mlp.py", "xla", {"PLAX_XLA_PLATFORM": "cpu" if DRY else "gpu"}),
            ("digits_mlp.py", "reference", {})]
    res: dict = {}
    deadline = time.time() + timeout
    for name, backend, extra in runs:
        key = f"{name[:-3]}_{backend}"
        left = deadline - time.time()
        if left < 5:
            res[key] = {"skipped": "no time left"}
            continue
        env = dict(os.environ, **BASE_ENV, PLAX_BACKEND=backend, **extra)
        t0 = time.time()
        rc, out = _run_group([sys.executable, os.path.join("examples", name)], env, left)
        r: dict = {"rc": rc, "seconds": round(time.time() - t0, 1)}
        if rc != 0:
            r["tail"] = out[-1500:]
        m = re.search(r"test accuracy: ([0-9.]+)", out)
        if m:
            r["accuracy"] = float(m.group(1))
        first = re.search(r"^loss: ([0-9.]+)", out, re.M)
        last = re.search(r"loss after 200 jitted steps: ([0-9.]+)", out)
        if first and last:
            r["loss_first"], r["loss_last"] = float(first.group(1)), float(last.group(1))
        r["backend_line"] = f"backend: {backend}" in out if name == "talk.py" else None
        res[key] = r
    accs = {k: v["accuracy"] for k, v in res.items() if "accuracy" in v}
    res["criteria"] = {
        "talk_cupy_runs": res.get("talk_cupy", {}).get("rc") == 0,
        "digits_accuracy_ge_0.95": bool(accs) and all(a >= 0.95 for a in accs.values()),
        "digits_same_accuracy_within_0.01": len(accs) >= 2 and
        max(accs.values()) - min(accs.values()) <= 0.01}
    return res


# --- timing ----------------------------------------------------------------------------------

def _xp():
    if DRY:
        import numpy
        return numpy
    import cupy
    return cupy


def gpu_time_ms(fn, *, repeat=10, warmup=2) -> float:
    """Median milliseconds of `fn()` between CUDA events on the current stream."""
    if DRY:
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


def loop_ms(fn, *, iters=20) -> float:
    """Milliseconds per call of `fn` called `iters` times back to back, blocked once at the
    end (the same clock for plax and JAX, each on its own streams; dispatch overlaps)."""
    _block(fn())
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(iters):
            out = fn()
        _block(out)
        times.append((time.perf_counter() - t0) / iters * 1e3)
    return min(times)


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
    elif not DRY:
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
        jax.devices("cpu" if DRY else "gpu")
        return jax, jjnp
    except Exception:  # noqa: BLE001 - JAX on the GPU is optional
        return None, None


def bench_elementwise(n=100_000_000) -> dict:
    import numpy as np

    import plax
    import plax.numpy as pnp
    cupy = _xp()
    n = 100_000 if DRY else n
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
    res["plax_loop_ms"] = loop_ms(lambda: f(xp_))
    res["cupy_op_by_op_ms"] = gpu_time_ms(lambda: chain(cupy)(xc))
    if not DRY:
        fused = cupy.fuse(chain(cupy))
        res["cupy_fuse_ms"] = gpu_time_ms(lambda: fused(xc))
    jax, jjnp = _jax()
    if jax is not None:
        jf = jax.jit(chain(jjnp))
        xj = jax.device_put(x_np)
        res["jax_ms"] = _wall_ms(lambda: jf(xj))
        res["jax_loop_ms"] = loop_ms(lambda: jf(xj))
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
    rows = 1000 if DRY else rows
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
    for batch in ((128, 512) if DRY else (128, 4096)):
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
    if DRY:
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
        if DRY:
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
    np.testing.assert_allclose(np.asarray(grad(pt, pi)), want if DRY else cupy.asnumpy(want),
                               rtol=1e-4, atol=1e-5)
    return res


def bench_xla_mlp() -> dict:
    """The MLP step on plax's xla backend on the GPU (jaxlib's CUDA plugin; never run on a
    GPU before this script) beside JAX."""
    sys.path.insert(0, ROOT)
    from bench.cases import _mlp_data, _mlp_step

    import plax
    import plax.numpy as pnp
    res: dict = {"platform": plax.devices("xla")[0].platform}
    jax, jjnp = _jax()
    for batch in ((128, 512) if DRY else (128, 4096)):
        params, x, y = _mlp_data(batch)
        step = plax.jit(_mlp_step(pnp, plax.grad), backend="xla")
        dev = plax.devices("xla")[0]
        pp = plax.tree_util.tree_map(lambda a: plax.device_put(a, dev), params)
        px, py = plax.device_put(x, dev), plax.device_put(y, dev)
        r = {"plax_xla_ms": _wall_ms_tree(lambda: step(pp, px, py))}
        if jax is not None:
            jstep = jax.jit(_mlp_step(jjnp, jax.grad))
            jp = jax.tree_util.tree_map(jax.device_put, params)
            r["jax_ms"] = _wall_ms_tree(lambda: jstep(jp, jax.device_put(x), jax.device_put(y)))
            r["ratio_plax_over_jax"] = r["plax_xla_ms"] / r["jax_ms"]
        res[f"batch_{batch}"] = r
    return res


def _criteria(name, r) -> dict:
    """The issue's targets, checked on a benchmark's results (None: not measured)."""
    def get(k):
        return r.get(k)

    def ge(a, b):
        return None if a is None or b is None else bool(a >= b)
    if name == "elementwise":
        return {"frac_of_copy_ge_0.8": ge(get("plax_frac_of_copy"), 0.8),
                "one_launch": get("plax_launches") == 1,
                "speedup_vs_op_by_op_ge_3": ge(get("speedup_vs_op_by_op"), 3),
                "no_slower_than_jax": ge(get("jax_loop_ms"), get("plax_loop_ms"))}
    if name == "reductions":
        return {"sum_exp_frac_ge_0.7": ge(get("sum_exp_frac_of_copy"), 0.7),
                "softmax_frac_ge_0.7": ge(get("softmax_frac_of_copy"), 0.7),
                "softmax_launches_le_3": ge(3, get("softmax_launches"))}
    if name == "mlp":
        return {k: ge(1.2, v.get("ratio_plax_over_jax")) for k, v in r.items()
                if isinstance(v, dict)}
    if name == "dispatch":
        return {"within_1.5x_of_jax": ge(1.5, get("ratio_plax_over_jax"))}
    return {}


def summary(doc: dict) -> str:
    env = doc.get("environment", {})
    lines = [f"## cupy backend on {env.get('device', '?')} ({doc.get('date')}, "
             f"{doc.get('mode')})",
             f"driver {env.get('driver')}, CUDA runtime {env.get('runtime')}, CuPy "
             f"{env.get('cupy')}, NVRTC {env.get('nvrtc')}, NCCL {env.get('nccl')}, "
             f"JAX {env.get('jax', env.get('jax_error', '-'))}", ""]
    for key in ("conformance_fusion", "conformance_cupy", "conformance_xla_gpu"):
        if key in doc:
            d = doc[key]
            extra = f", progress {d['progress']}" if "progress" in d else ""
            lines.append(f"- {key}: {d.get('summary')} (rc {d.get('rc')}, {d.get('seconds')} s"
                         f"{extra})")
            lines += [f"  - {f}" for f in d.get("failed", [])[:10]]
    for key in ("elementwise", "reductions", "mlp", "dispatch", "indexing", "xla_mlp",
                "examples"):
        if key in doc:
            d = dict(doc[key])
            crit = d.pop("criteria", None)
            lines.append(f"- {key}: " + json.dumps(_rounded(d), default=str))
            if crit:
                lines.append("  - targets: " + ", ".join(
                    f"{k} {'yes' if v else 'NO' if v is False else '-'}"
                    for k, v in crit.items()))
    if "setup" in doc:
        lines.append(f"- setup: {json.dumps(doc['setup'], default=str)[:600]}")
    return "\n".join(lines)


def _rounded(x):
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    return x


BENCHES = {"elementwise": bench_elementwise, "reductions": bench_reductions, "mlp": bench_mlp,
           "dispatch": bench_dispatch, "indexing": bench_indexing, "xla_mlp": bench_xla_mlp}
# (part, default time box in seconds): benchmarks first, the long test runs last
# (the xla GPU tests, 216 of them, before the 2800 cupy ones, which take what is left)
PLAN = [("environment", 30), *[(b, 90) for b in BENCHES], ("examples", 150),
        ("conformance_fusion", 100), ("conformance_xla_gpu", 100), ("conformance_cupy", 300)]


def _describe(part) -> str:
    dev = "the host build" if DRY else "the GPU"
    if part in BENCHES:
        return f"benchmark on {dev}{' (small sizes)' if DRY else ''}"
    if part == "examples":
        return "talk.py / digits_mlp.py: cupy, xla, digits on reference (subprocesses)"
    if part == "conformance_fusion":
        return f"pytest {' '.join(FUSION_FILES)} (PLAX_CUPY_TEST_DEVICE=gpu)"
    if part == "conformance_cupy":
        return f"pytest tests -k '{CONFORMANCE_SELECT}' (PLAX_CUPY_DEVICE=gpu)"
    if part == "conformance_xla_gpu":
        return f"pytest {' '.join(XLA_FILES)} -k xla (PLAX_XLA_PLATFORM=gpu)"
    return part


def run_part(part, box):
    if part == "environment":
        return environment()
    if part in BENCHES:
        value = BENCHES[part]()
        crit = _criteria(part, value)
        if crit:
            value["criteria"] = crit
        return value
    if part == "examples":
        return run_examples(box)
    gpu = "host" if DRY else "gpu"
    if part == "conformance_fusion":
        return pytest_run(FUSION_FILES, None, {"PLAX_CUPY_DEVICE": gpu,
                                               "PLAX_CUPY_TEST_DEVICE": gpu}, box)
    if part == "conformance_cupy":
        return pytest_run(["tests"], CONFORMANCE_SELECT, {"PLAX_CUPY_DEVICE": gpu}, box)
    if part == "conformance_xla_gpu":
        return pytest_run(XLA_FILES, "xla", {"PLAX_XLA_PLATFORM": "cpu" if DRY else "gpu"},
                          box)
    raise ValueError(f"unknown part {part!r}; the parts: {[p for p, _ in PLAN]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/gpu.py")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "gpu.json"))
    ap.add_argument("--setup", action="store_true", help="pip install the packages first")
    ap.add_argument("--fetch-wheels", action="store_true",
                    help="download the wheels the GPU image lacks into wheels/ and exit")
    ap.add_argument("--wheels", default=None, help="the wheel folder (default: wheels/)")
    ap.add_argument("--budget", type=float, default=520,
                    help="seconds for all parts together (each part's box is cut to it)")
    ap.add_argument("--only", default=None, help="comma-separated parts to run (default all)")
    ap.add_argument("--skip-tests", action="store_true", help="leave out the conformance parts")
    ap.add_argument("--summary", default=None, help="print the summary of a JSON and exit")
    ap.add_argument("--dry-run", "--smoke", dest="dry", action="store_true",
                    help="here, without a GPU: the plan, and every part on the host build "
                         "(small benchmarks, tests collected, examples run)")
    args = ap.parse_args(argv)
    global DRY
    DRY = args.dry
    if args.fetch_wheels:
        return fetch_wheels(args.wheels)
    if args.summary:
        with open(args.summary) as f:
            print(summary(json.load(f)))
        return 0
    t_start = time.time()
    for k, v in BASE_ENV.items():
        os.environ.setdefault(k, v)
    os.environ["PLAX_CUPY_DEVICE"] = "host" if DRY else "gpu"
    if DRY:
        os.environ.setdefault("PLAX_XLA_PLATFORM", "cpu")
    parts = [(p, box) for p, box in PLAN
             if (args.only is None or p in args.only.split(","))
             and not (args.skip_tests and p.startswith("conformance"))]
    unknown = set(args.only.split(",")) - {p for p, _ in PLAN} if args.only else set()
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}; the parts: {[p for p, _ in PLAN]}")
    print(f"plan ({'dry run on the host build' if DRY else 'GPU'}; budget {args.budget:.0f} s; "
          f"results {args.out} and {os.path.splitext(args.out)[0]}.md):")
    if args.setup or DRY:
        print(f"  setup: pip install {'--dry-run ' if DRY and not args.setup else ''}the "
              "wheels the image lacks, then the plax packages editable")
    for p, box in parts:
        print(f"  {p} (at most {box} s): {_describe(p)}")
    sys.stdout.flush()
    doc = Doc(args.out)
    if args.setup or DRY:  # --dry-run alone: pip --dry-run; with --setup: installed for real
        doc.put("setup", setup(args.wheels, dry=DRY and not args.setup))
    for part, box in parts:
        left = args.budget - (time.time() - t_start)
        if left < 10:
            doc.put(part, {"skipped": f"budget spent ({args.budget:.0f} s)"})
            continue
        t0 = time.time()
        try:
            value = run_part(part, min(box, left))
        except Exception as e:  # noqa: BLE001 - recorded, the next part still runs
            import traceback
            value = {"error": f"{type(e).__name__}: {e}",
                     "where": traceback.format_exc(limit=-3)[-1200:]}
        value.setdefault("seconds", round(time.time() - t0, 1))
        doc.put(part, value)
    print(summary(doc.data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
