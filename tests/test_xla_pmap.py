"""pmap on the xla backend over 4 CPU devices (a subprocess started with
PLAX_XLA_CPU_DEVICES=4, since the device count is fixed when the client starts): every
collective against the reference backend's vmap-style pmap, in/out axes, pytrees, static
arguments, grad and vmap inside pmap, the compile cache, device placement, and the errors.
In this process (one device): pmap over one device, the vmap fallback under grad, and the
error for too many devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import plax
import plax.lax as lax

SCRIPT = r'''
import json, sys, traceback
import numpy as np
import plax, plax.lax as lax
from plax._src import registry

results = {}

def check(fn):
    try:
        fn()
        results[fn.__name__] = None
    except Exception:
        results[fn.__name__] = traceback.format_exc()[-3000:]
    return fn

def leaves(t):
    return plax.tree_util.tree_leaves(t)

def agree(f, *args, **kw):
    """pmap(f) on xla equals pmap(f) on the reference (which runs it with vmap semantics)."""
    ours = plax.pmap(f, **kw)(*args)
    with plax.default_backend("reference"):
        ref = plax.pmap(f, **kw)(*args)
    for o, r in zip(leaves(ours), leaves(ref), strict=True):
        assert o.backend == "xla", o.backend
        o, r = np.asarray(o), np.asarray(r)
        assert (o.dtype, o.shape) == (r.dtype, r.shape), (o.dtype, o.shape, r.dtype, r.shape)
        np.testing.assert_allclose(o, r, rtol=1e-6)
    return ours

xla = registry.get_backend("xla")
x = np.arange(12, dtype=np.float32).reshape(4, 3) - 4.0

@check
def devices():
    assert len(plax.devices()) == 4 and plax.default_backend() == "xla"

@check
def collectives():
    def f(v):
        return (lax.psum(v, "i"), lax.pmean(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i"),
                lax.all_gather(v, "i"), lax.all_gather(v, "i", axis=1),
                lax.all_gather(v, "i", tiled=True), lax.axis_index("i"),
                lax.ppermute(v, "i", [(k, (k + 1) % 4) for k in range(4)]),
                lax.ppermute(v, "i", [(0, 2), (3, 1)]))
    out = agree(f, x, axis_name="i")
    np.testing.assert_array_equal(out[7], [0, 1, 2, 3])
    np.testing.assert_array_equal(out[0], np.broadcast_to(x.sum(0), (4, 3)))

@check
def integer_and_bool_collectives():
    xi = (np.arange(8, dtype=np.int32).reshape(4, 2) * 7) % 5
    agree(lambda v: (lax.psum(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i")), xi, axis_name="i")
    agree(lambda v: lax.all_gather(v, "i"), xi > 2, axis_name="i")

@check
def psum_with_axis_index_groups():
    out = plax.pmap(lambda v: lax.psum(v, "i", axis_index_groups=[[0, 1], [2, 3]]),
                    axis_name="i")(x)
    np.testing.assert_array_equal(out[0], x[0] + x[1])
    np.testing.assert_array_equal(out[3], x[2] + x[3])

@check
def axes_pytrees_and_statics():
    y = np.arange(8, dtype=np.float32).reshape(2, 4)
    agree(lambda a, b: a * b + lax.psum(a, "i"), x, np.float32(3), axis_name="i",
          in_axes=(0, None))
    agree(lambda a: lax.psum(a, "i"), y, axis_name="i", in_axes=1, out_axes=1)
    agree(lambda a: {"s": lax.pmax(a["p"][0], "i"), "t": (a["p"][1] * 2,)},
          {"p": (x, x + 1)}, axis_name="i")
    agree(lambda a: lax.psum(a, "i"), x, axis_name="i", out_axes=None)
    f = plax.pmap(lambda a, k: a * k, axis_name="i", static_broadcasted_argnums=1)
    np.testing.assert_array_equal(f(x, 3), x * 3)
    np.testing.assert_array_equal(plax.pmap(lambda a: a + 1)(np.arange(4)), np.arange(4) + 1)
    s = plax.pmap(lambda a: lax.psum(a, "i"), axis_name="i")(np.arange(4.0, dtype=np.float32))
    np.testing.assert_array_equal(s, [6.0] * 4)  # 0-d per-device values

@check
def closed_over_arrays():
    w = plax.device_put(np.arange(3, dtype=np.float32))  # on device 0: copied to each device
    b = np.full(3, 0.5, np.float32)
    agree(lambda v: v * w + b + lax.psum(v, "i"), x, axis_name="i")

@check
def grad_and_vmap_inside_pmap():
    def loss(w, v):
        return lax.reduce_sum(lax.mul(lax.tanh(lax.mul(w, v)), v), (0,))
    agree(lambda w, v: lax.pmean(plax.grad(loss)(w, v), "i"), np.float32(0.3), x,
          axis_name="i", in_axes=(None, 0))
    agree(lambda v: plax.vmap(lambda r: lax.psum(r, "i") * lax.psum(r, "j"), axis_name="j")(v),
          x, axis_name="i")
    agree(lambda v: plax.jit(lambda u: lax.sin(u) * 2)(v) + lax.psum(v, "i"), x,
          axis_name="i")

@check
def compiles_once_and_outputs_stay_on_device():
    f = plax.pmap(lambda v: lax.psum(lax.mul(v, v), "i"), axis_name="i")
    dx = plax.device_put(x)
    f(dx)
    n, host = xla.stats["compiles"], xla.stats["host_to_device"]
    for _ in range(20):
        out = f(dx)
    assert xla.stats["compiles"] == n, (xla.stats["compiles"], n)
    assert xla.stats["host_to_device"] == host
    # as JAX's: the output stays split over the devices, row i on device i
    assert out.shape == (4, 3) and out.sharding.device_set == set(plax.devices())
    assert [(sh.device, sh.index[0]) for sh in out.addressable_shards] == [
        (d, slice(i, i + 1)) for i, d in enumerate(plax.devices())]
    host = xla.stats["host_to_device"]
    for _ in range(5):
        again = f(out)  # a pmap output feeds the next pmap as it is (no copy through the host)
    assert xla.stats["host_to_device"] == host and xla.stats["compiles"] == n + 1
    np.testing.assert_allclose(np.asarray(again), np.asarray(f(np.asarray(out))), rtol=1e-6)
    np.testing.assert_allclose(lax.add(out, out), np.asarray(out) * 2)
    np.testing.assert_allclose(plax.jit(lambda o: o - 1)(out), np.asarray(out) - 1)

@check
def explicit_devices():
    devs = plax.devices()
    out = plax.pmap(lambda v: lax.psum(v, "i") + lax.axis_index("i"), axis_name="i",
                    devices=[devs[2], devs[3]])(x[:2])
    np.testing.assert_array_equal(out, [x[0] + x[1], x[0] + x[1] + 1])
    assert [sh.device for sh in out.addressable_shards] == [devs[2], devs[3]]

@check
def device_put_and_computation_follow_the_device():
    d2 = plax.devices()[2]
    a = plax.device_put(np.arange(3, dtype=np.float32), d2)
    assert a.device == d2 and a.committed
    b = lax.mul(a, a)
    c = plax.jit(lambda v: lax.add(v, 1.0))(a)
    assert b.device == d2 and c.device == d2, (b.device, c.device)
    np.testing.assert_array_equal(c, [1, 2, 3])
    e = plax.jit(lambda v: v * 2)(np.ones(2, np.float32))
    assert e.device == plax.devices()[0]
    # arguments on two devices: the computation runs where the first one lives
    m = plax.jit(lambda p, q: p * q)(a, plax.device_put(np.full(3, 2.0, np.float32),
                                                        plax.devices()[1]))
    assert m.device == d2
    np.testing.assert_array_equal(m, [0, 2, 4])

@check
def errors():
    try:
        plax.pmap(lambda v: v)(np.ones((5, 2), np.float32))
        raise AssertionError("no error for 5 > 4 devices")
    except ValueError as e:
        assert "needs 5 devices" in str(e) and "PLAX_XLA_CPU_DEVICES" in str(e), str(e)
    try:
        plax.pmap(lambda v: lax.psum(v, "k"), axis_name="i")(x)
        raise AssertionError("no error for an unbound axis name")
    except NameError as e:
        assert "unbound axis name: k" in str(e), str(e)

@check
def pmap_under_grad_uses_vmap_semantics():
    g = plax.grad(lambda w: lax.reduce_sum(plax.pmap(lambda v: lax.psum(v * w, "i"),
                                                     axis_name="i")(x), (0, 1)))(2.0)
    assert abs(float(g) - 4 * float(x.sum())) < 1e-4

@check
def callbacks_inside_pmap():
    """pure_callback and debug.print in a pmap body run once per device with that device's
    values (as JAX's, whatever the vmap_method: pmap is not vmap), on xla (4 devices, the
    callbacks run concurrently) and on the reference backend (its vmap-style pmap)."""
    import contextlib
    import io

    for backend in ("xla", "reference"):
        for method in (None, "expand_dims", "sequential"):
            shapes = []

            def host(a):
                shapes.append(a.shape)
                return np.cumsum(a, -1)

            def f(v):
                plax.debug.print("sum={s:.1f}", s=v.sum())
                c = plax.pure_callback(host, v, v * 2.0, vmap_method=method)
                return c + lax.psum(v, "i")

            buf = io.StringIO()
            with plax.default_backend(backend), contextlib.redirect_stdout(buf):
                out = np.asarray(plax.pmap(f, axis_name="i")(x))
            np.testing.assert_allclose(out, np.cumsum(2 * x, -1) + x.sum(0), rtol=1e-6)
            assert shapes == [(3,)] * 4, (backend, method, shapes)
            lines = sorted(buf.getvalue().splitlines())
            assert lines == sorted(f"sum={s:.1f}" for s in x.sum(1)), (backend, lines)
    # under another transformation xla's pmap runs with vmap semantics: still once per member
    shapes = []

    def g(v):
        return plax.pure_callback(lambda a: shapes.append(a.shape) or a * 2.0, v, v,
                                  vmap_method="expand_dims")
    out = plax.vmap(plax.pmap(g))(x[None])
    np.testing.assert_allclose(np.asarray(out), 2 * x[None])
    assert shapes == [(3,)] * 4, shapes

@check
def last_call_slot_tells_signatures_apart():
    # the hot path reuses the last call's program only for the same function, options and
    # argument shapes/dtypes; anything else takes the full path (counted: tree flattening)
    import plax_xla.pmap as pm
    f = plax.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    g = plax.pmap(lambda v: lax.pmax(v, "i"), axis_name="i")
    xi, x2 = x.astype(np.int32), x[:, :2].copy()
    for _ in range(2):
        for fn, ref, v in ((f, np.sum, x), (f, np.sum, xi), (f, np.sum, x2), (g, np.max, x),
                           (f, np.sum, plax.device_put(x)), (f, np.sum, x)):
            out = fn(v)
            want = np.broadcast_to(ref(np.asarray(v), axis=0), v.shape)
            assert out.dtype == v.dtype and out.shape == v.shape, (out.aval, v.shape)
            np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)
    calls = []
    slow = pm.mapped_call  # the slow path's first step (reads the arguments' pytrees)
    pm.mapped_call = lambda *a, **k: calls.append(1) or slow(*a, **k)
    try:
        for _ in range(5):
            f(x)
    finally:
        pm.mapped_call = slow
    assert len(calls) == 0, len(calls)

@check
def launches_overlap_two_deep_without_hanging():
    # a replicated program's launch waits only for the one before the previous (the next
    # call's inputs are prepared while the last one runs), and the CPU client has a thread for
    # every replica of both: 3,000 back-to-back psums finish (JAX's pmap, which never waits,
    # hangs here within ~20,000) with never more than 2 launches in flight
    import os
    import plax_xla._jaxlib as jl
    f = plax.pmap(lambda v: lax.psum(v, "i"), axis_name="i")
    most = 0
    for k in range(3000):
        out = f(x)
        most = max(most, len(jl._in_flight))
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(x.sum(0), x.shape), rtol=1e-6)
    assert most == jl.REPLICATED_DEPTH == 2, most
    assert "PJRT_NPROC" not in os.environ  # set only while the client was made
    if os.path.isdir("/proc/self/task"):  # the client's pools: 2 x 4 devices threads
        names = [open(f"/proc/self/task/{t}/comm").read().strip()
                 for t in os.listdir("/proc/self/task")]
        assert sum(n == "tf_XLAEigen" for n in names) >= 8, sorted(set(names))

@check
def jax_never_imported():
    assert "jax" not in sys.modules

print("RESULTS" + json.dumps(results))
'''


@pytest.fixture(scope="module")
def four_device_results():
    env = dict(os.environ, PLAX_XLA_CPU_DEVICES="4", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], env=env,
                          capture_output=True, text=True, timeout=600)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS")]
    assert marker, f"subprocess failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(marker[-1][len("RESULTS"):])


CHECKS = ["devices", "collectives", "integer_and_bool_collectives",
          "psum_with_axis_index_groups", "axes_pytrees_and_statics", "closed_over_arrays",
          "grad_and_vmap_inside_pmap", "compiles_once_and_outputs_stay_on_device",
          "explicit_devices", "device_put_and_computation_follow_the_device", "errors",
          "pmap_under_grad_uses_vmap_semantics", "callbacks_inside_pmap",
          "last_call_slot_tells_signatures_apart", "launches_overlap_two_deep_without_hanging",
          "jax_never_imported"]


@pytest.mark.parametrize("name", CHECKS)
def test_four_cpu_devices(four_device_results, name):
    assert name in four_device_results, sorted(four_device_results)
    error = four_device_results[name]
    assert error is None, error


def test_pmap_on_one_device_and_too_many():
    with plax.default_backend("xla"):
        if len(plax.devices()) != 1:
            pytest.skip("this process was started with several xla devices")
        x = np.arange(3, dtype=np.float32)[None]
        out = plax.pmap(lambda v: lax.psum(v, "i") + lax.axis_index("i"), axis_name="i")(x)
        assert out.backend == "xla"
        np.testing.assert_array_equal(out, x)
        with pytest.raises(ValueError, match="needs 2 devices.*xla_cpu_devices"):
            plax.pmap(lambda v: v)(np.ones((2, 3), np.float32))
