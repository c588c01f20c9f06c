"""plax.sharding's bookkeeping (meshes, partition specs, shard shapes, which device holds which
slice) against jax.sharding's, and its errors. JAX runs in a subprocess with 8 CPU devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import plax
from plax._src.backend import Device
from plax.sharding import (
    DuplicateSpecError, IndivisibleError, Mesh, NamedSharding, P, PartitionSpec,
    SingleDeviceSharding, make_mesh, visualize_sharding)

DEVS = [Device("xla", "cpu", i) for i in range(8)]

# (mesh axis shapes, axis names, spec entries, array shape)
CASES = [
    ((2, 2), ("x", "y"), ("x", None), (4, 6)),
    ((2, 2), ("x", "y"), ("x", "y"), (4, 6)),
    ((2, 2), ("x", "y"), ("y", "x"), (4, 6)),
    ((2, 2), ("x", "y"), (None, "y"), (3, 6)),
    ((2, 2), ("x", "y"), (("x", "y"),), (8,)),
    ((2, 2), ("x", "y"), (("y", "x"),), (8, 3)),
    ((2, 4), ("a", "b"), ("b",), (8, 2)),
    ((2, 2, 2), ("a", "b", "c"), (("c", "a"), None, "b"), (4, 5, 2)),
    ((8,), ("d",), (), (3, 3)),
    ((4,), ("d",), ("d",), (12,)),
]


def _plax_map(mesh_shape, names, spec, shape):
    mesh = make_mesh(mesh_shape, names, devices=DEVS)
    s = NamedSharding(mesh, P(*spec))
    return {"shard_shape": list(s.shard_shape(shape)),
            "replicated": s.is_fully_replicated,
            "map": {str(d.id): [[sl.start, sl.stop] for sl in idx]
                    for d, idx in s.devices_indices_map(shape).items()}}


def _jax_maps():
    code = textwrap.dedent(f"""
        import json
        import jax
        from jax.sharding import NamedSharding, PartitionSpec as P
        out = []
        for mesh_shape, names, spec, shape in {CASES!r}:
            mesh = jax.make_mesh(mesh_shape, names, devices=jax.devices()[:len(jax.devices())])
            s = NamedSharding(mesh, P(*spec))
            out.append({{"shard_shape": list(s.shard_shape(shape)),
                         "replicated": s.is_fully_replicated,
                         "map": {{str(d.id): [[sl.start, sl.stop] for sl in idx]
                                  for d, idx in s.devices_indices_map(shape).items()}}}})
        print(json.dumps(out))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_named_sharding_layouts_match_jax():
    pytest.importorskip("jax")
    want = _jax_maps()
    for case, w in zip(CASES, want):
        got = _plax_map(*case)
        assert got["shard_shape"] == w["shard_shape"], case
        assert got["replicated"] == w["replicated"], case
        norm = {d: [[a or 0, b] for a, b in idx] for d, idx in w["map"].items()}
        gotn = {d: [[a or 0, b] for a, b in idx] for d, idx in got["map"].items()}
        # JAX writes whole dimensions as slice(None); compare with the stops filled in
        shape = case[3]
        for m in (norm, gotn):
            for d in m:
                m[d] = [[a, shape[k] if b is None else b] for k, (a, b) in enumerate(m[d])]
        assert gotn == norm, case


def test_mesh_basics():
    m = make_mesh((2, 4), ("data", "model"), devices=DEVS)
    assert m.shape == {"data": 2, "model": 4} and list(m.shape) == ["data", "model"]
    assert m.size == 8 and m.axis_sizes == (2, 4) and m.axis_names == ("data", "model")
    assert m.devices.shape == (2, 4) and m.devices[1, 0] is DEVS[4]
    assert m == make_mesh((2, 4), ("data", "model"), devices=DEVS)
    assert hash(m) == hash(make_mesh((2, 4), ("data", "model"), devices=DEVS))
    assert m != make_mesh((4, 2), ("data", "model"), devices=DEVS)
    assert repr(m) == "Mesh(axis_sizes=(2, 4), axis_names=('data', 'model'))"
    with m:
        assert plax.sharding.get_mesh() is m
    assert plax.sharding.get_mesh() is None


def test_partition_spec_semantics_match_jax():
    assert repr(P("x", None)) == "P('x', None)"
    assert P("x", None) == P("x") and hash(P("x", None)) == hash(P("x"))
    assert P(("x",)) == P("x")
    assert P("x") != ("x",)  # as JAX 0.10: a bare tuple is not a spec
    assert P() == P(None, None)
    assert isinstance(P("x"), tuple) and PartitionSpec is P
    with pytest.raises(TypeError, match="PartitionSpec entries"):
        P(3)


def test_errors_name_the_spec_and_dimension():
    m = make_mesh((2, 2), ("x", "y"), devices=DEVS)
    with pytest.raises(ValueError, match="mesh axis 'z' of P\\('z'\\) \\(dimension 0\\)"):
        NamedSharding(m, P("z"))
    with pytest.raises(DuplicateSpecError, match="'x' for dimensions 0 and 1"):
        NamedSharding(m, P("x", "x"))
    s = NamedSharding(m, P("x", None))
    with pytest.raises(IndivisibleError, match="dimension 0 into 2 shards, but its size is 3"):
        s.shard_shape((3, 6))
    with pytest.raises(ValueError, match="2 entries in its spec but the array has rank 1"):
        NamedSharding(m, P("x", "y")).shard_shape((4,))
    with pytest.raises(ValueError, match="need 16 devices, but 8 are available"):
        make_mesh((4, 4), ("a", "b"), devices=DEVS)
    with pytest.raises(ValueError, match="2 axis shape"):
        make_mesh((2, 2), ("a",), devices=DEVS)
    with pytest.raises(ValueError, match="axis names must be unique"):
        Mesh([[DEVS[0], DEVS[1]]], ("a", "a"))
    with pytest.raises(TypeError, match="mesh must be a plax.sharding.Mesh"):
        NamedSharding("mesh", P())


def test_single_device_and_equivalence():
    s = SingleDeviceSharding(DEVS[3])
    assert s.device_set == {DEVS[3]} and s.is_fully_replicated and s.num_devices == 1
    assert s.shard_shape((5, 2)) == (5, 2)
    assert s == SingleDeviceSharding(DEVS[3]) and s != SingleDeviceSharding(DEVS[2])
    m1 = make_mesh((1,), ("x",), devices=DEVS[3:])
    assert NamedSharding(m1, P("x")).is_equivalent_to(s, 2)
    m = make_mesh((2, 2), ("x", "y"), devices=DEVS)
    assert NamedSharding(m, P(("x", "y"))).is_equivalent_to(
        NamedSharding(make_mesh((4,), ("d",), devices=DEVS), P("d")), 1)
    assert not NamedSharding(m, P("x")).is_equivalent_to(NamedSharding(m, P("y")), 1)


def test_tile_assignment_is_xla_devices_attribute():
    m = make_mesh((2, 2), ("x", "y"), devices=DEVS)
    # P('y', None): dim 0 over y, replicated over x -> devices=[2,1,2] listing (y-major) 0,2,1,3
    assert NamedSharding(m, P("y")).tile_assignment(2) == ([2, 1, 2], [0, 2, 1, 3], True)
    assert NamedSharding(m, P("x", "y")).tile_assignment(2) == ([2, 2], [0, 1, 2, 3], False)
    assert NamedSharding(m, P()).tile_assignment(1) == ([1, 4], [0, 1, 2, 3], True)
    # the tile assignment and devices_indices_map describe the same layout
    for spec in (P("x"), P("y", "x"), P(None, ("y", "x")), P()):
        s = NamedSharding(m, spec)
        dims, ids, rep = s.tile_assignment(2)
        shape = (4, 8)
        idx = s.devices_indices_map(shape)
        tiles = dims[:2]
        nrep = dims[2] if rep else 1
        for t, dev_pos in enumerate(ids):
            tile = t // nrep
            coords = (tile // tiles[1], tile % tiles[1])
            want = tuple(slice(c * (n // k), (c + 1) * (n // k)) if k > 1 else slice(None)
                         for c, n, k in zip(coords, shape, tiles))
            got = idx[m.devices.flat[dev_pos]]
            norm = tuple(slice(g.start or 0, shape[i] if g.stop is None else g.stop)
                         for i, g in enumerate(got))
            wantn = tuple(slice(w.start or 0, shape[i] if w.stop is None else w.stop)
                          for i, w in enumerate(want))
            assert norm == wantn, (spec, t)


def test_visualize_sharding_text():
    m = make_mesh((2, 2), ("x", "y"), devices=DEVS)
    assert visualize_sharding((4, 6), NamedSharding(m, P("x", "y"))).splitlines() == [
        "+-------+-------+", "| dev 0 | dev 1 |", "+-------+-------+",
        "| dev 2 | dev 3 |", "+-------+-------+"]
    assert visualize_sharding((8,), NamedSharding(m, P("x"))).splitlines()[1] == \
        "| dev 0,1 | dev 2,3 |"
    with pytest.raises(ValueError, match="only 1-d and 2-d"):
        visualize_sharding((2, 2, 2), NamedSharding(m, P()))


def test_top_level_names_as_jax():
    assert plax.P is P and plax.NamedSharding is NamedSharding
    assert plax.make_mesh is make_mesh
    import plax.sharding as ps
    assert ps.PartitionSpec is P


# ---------------------------------------------------------------------------------------------
# Sharded Arrays and jit over a mesh: xla with 4 CPU devices (a subprocess, since the device
# count is fixed when the client starts), compared with the reference backend's values

SHARDED_SCRIPT = r'''
import io, json, contextlib, traceback
import numpy as np
import plax, plax.lax as lax, plax.numpy as pnp
from plax.sharding import NamedSharding, P, SingleDeviceSharding

results = {}

def check(fn):
    try:
        fn()
        results[fn.__name__] = None
    except Exception:
        results[fn.__name__] = traceback.format_exc()[-3000:]
    return fn

xla = plax.default_backend()
mesh = plax.make_mesh((2, 2), ("x", "y"))
mesh4 = plax.make_mesh((4,), ("d",))
x = np.arange(32, dtype=np.float32).reshape(8, 4) / 32

def stats():
    from plax.extend import registry
    return registry.get_backend("xla").stats

@check
def device_put_places_each_slice():
    for spec in (P("x", "y"), P("y"), P(None, "x"), P(), P(("x", "y"))):
        s = NamedSharding(mesh, spec)
        a = plax.device_put(x, s)
        assert a.sharding == s and a.committed and a.devices() == set(mesh.devices.flat)
        index = s.devices_indices_map(x.shape)
        shards = a.addressable_shards
        assert len(shards) == 4
        for sh in shards:  # each device holds its slice and nothing else
            assert sh.data.device == sh.device and sh.index == index[sh.device]
            np.testing.assert_array_equal(np.asarray(sh.data), x[sh.index])
        np.testing.assert_array_equal(np.asarray(a), x)
        assert a.device == s and a.is_fully_replicated == (spec == P())
    rep = plax.device_put(x, NamedSharding(mesh, P("x")))
    assert [sh.replica_id for sh in rep.addressable_shards] == [0, 1, 0, 1]
    d2 = plax.devices()[2]
    one = plax.device_put(x, SingleDeviceSharding(d2))
    assert one.device == d2 and one.sharding == SingleDeviceSharding(d2)
    assert "Array([[0." in repr(rep) and str(rep).startswith("[[0.")
    # a tree of shardings for a tree of values
    t = plax.device_put({"a": x, "b": (x, x[0])}, {"a": NamedSharding(mesh, P("y")),
                                                    "b": (NamedSharding(mesh4, P()), None)})
    assert t["a"].sharding == NamedSharding(mesh, P("y")) and not t["b"][1].committed
    assert t["b"][0].is_fully_replicated and t["a"].addressable_data(1).shape == (4, 4)

@check
def make_array_constructors():
    s = NamedSharding(mesh, P("x", "y"))
    seen = []
    a = plax.make_array_from_callback(x.shape, s, lambda idx: (seen.append(idx), x[idx])[1])
    assert len(seen) == 4 and a.sharding == s
    np.testing.assert_array_equal(a, x)
    s2 = NamedSharding(mesh4, P("d"))
    pieces = [plax.device_put(x[2 * i:2 * i + 2], d) for i, d in enumerate(mesh4.devices.flat)]
    b = plax.make_array_from_single_device_arrays(x.shape, s2, pieces[::-1])
    assert b.sharding == s2
    np.testing.assert_array_equal(b, x)
    try:
        plax.make_array_from_single_device_arrays(x.shape, s2, pieces[:3])
        raise AssertionError("no error for a missing device")
    except ValueError as e:
        assert "needs one array on each" in str(e)
    try:
        plax.make_array_from_callback((8, 4), s, lambda idx: np.zeros((3, 3)))
        raise AssertionError("no error for a wrong piece shape")
    except ValueError as e:
        assert "(3, 3)" in str(e) and "(4, 2)" in str(e)
    try:
        plax.device_put(np.ones((3, 4)), s)
        raise AssertionError("no error for an indivisible dimension")
    except ValueError as e:
        assert "dimension 0" in str(e)

@check
def visualize():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        plax.debug.visualize_array_sharding(plax.device_put(x, NamedSharding(mesh, P("x", "y"))))
    assert buf.getvalue().splitlines()[1] == "| dev 0 | dev 1 |", buf.getvalue()

@check
def eager_ops_stay_sharded():
    a = plax.device_put(x, NamedSharding(mesh4, P("d")))
    b = pnp.sin(a) * 2 + 1
    assert b.sharding == a.sharding
    np.testing.assert_allclose(b, np.sin(x) * 2 + 1, rtol=1e-6)
    c = pnp.sum(a, axis=0) + 0  # partitioned: the sum crosses devices
    np.testing.assert_allclose(c, x.sum(0), rtol=1e-6)
    # mixing with a one-device array: it is replicated over the mesh
    d = a + plax.device_put(np.ones(4, np.float32), plax.devices()[0])
    np.testing.assert_allclose(d, x + 1)
    # a mesh with the devices in another order: its pieces are laid out anew for the program
    rev = plax.sharding.Mesh(np.array(plax.devices()[::-1]), ("r",))
    r = plax.device_put(x, NamedSharding(rev, P("r")))
    assert [s.device.id for s in r.addressable_shards] == [3, 2, 1, 0]
    np.testing.assert_allclose(a + r, 2 * x)
    np.testing.assert_allclose(plax.jit(lambda u: u.sum())(r), x.sum(), rtol=1e-6)
    half = plax.sharding.Mesh(np.array(plax.devices()[:2]), ("h",))
    try:
        a + plax.device_put(x, NamedSharding(half, P("h")))
        raise AssertionError("no error for arrays on different devices")
    except ValueError as e:
        assert "lies on devices [0, 1]" in str(e) and "[0, 1, 2, 3]" in str(e), str(e)

@check
def interop_with_pmap_copy_and_slicing():
    a = plax.device_put(x[:4], NamedSharding(mesh4, P("d")))
    c = a.copy()
    assert c.sharding == a.sharding and c.committed
    np.testing.assert_array_equal(plax.pmap(lambda v: v * 2)(a), x[:4] * 2)
    np.testing.assert_array_equal(a[1:3, ::2], x[1:3, ::2])
    np.testing.assert_array_equal(np.stack(list(a)), x[:4])

@check
def pmap_psum_scatter_and_all_to_all():
    v = np.arange(4 * 8 * 4, dtype=np.float32).reshape(4, 8, 4)
    f = plax.pmap(lambda u: (lax.psum_scatter(u, "i", tiled=True),
                             lax.all_to_all(u, "i", 0, 1, tiled=True)), axis_name="i")
    got = f(v)
    with plax.default_backend("reference"):
        want = f(v)
    for g, w in zip(got, want):
        assert g.backend == "xla"
        np.testing.assert_allclose(g, w)

def mlp(params, xb):
    w1, w2 = params
    return pnp.tanh(xb @ w1) @ w2

def loss(params, xb, yb):
    return pnp.mean((mlp(params, xb) - yb) ** 2)

rng = np.random.RandomState(0)
params = (rng.randn(4, 8).astype(np.float32) * 0.5, rng.randn(8, 2).astype(np.float32) * 0.5)
xb, yb = rng.randn(16, 4).astype(np.float32), rng.randn(16, 2).astype(np.float32)

@check
def jit_in_out_shardings_partition_the_program():
    data = NamedSharding(mesh4, P("d"))
    rep = NamedSharding(mesh4, P())
    step = plax.jit(plax.value_and_grad(loss), in_shardings=((rep, rep), data, data),
                    out_shardings=(rep, (rep, rep)))
    before = stats()["spmd_compiles"]
    v, g = step(params, xb, yb)
    v2, g2 = step(params, xb, yb)
    assert stats()["spmd_compiles"] == before + 1  # cached: the layouts are in the key
    assert v.sharding == rep and g[0].sharding == rep
    with plax.default_backend("reference"):
        rv, rg = plax.jit(plax.value_and_grad(loss))(params, xb, yb)
    np.testing.assert_allclose(v, rv, rtol=1e-5)
    for a, b in zip(g, rg):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    text = step.lower(params, xb, yb).as_text()
    assert "mhlo.num_partitions = 4" in text and '{devices=[4,1]0,1,2,3}' in text, text[:800]
    # outputs come back sharded, without a gather
    f = plax.jit(lambda a: pnp.tanh(a) * 2, in_shardings=data, out_shardings=data)
    out = f(xb)
    assert out.sharding == data and [s.data.shape for s in out.addressable_shards] == [(4, 4)] * 4
    # jit(f, ...) made again with the same shardings reuses the program
    def g(a):
        return pnp.cos(a) + 1
    before = stats()["spmd_compiles"]
    for _ in range(3):
        plax.jit(g, in_shardings=data, out_shardings=rep)(xb)
    assert stats()["spmd_compiles"] == before + 1

@check
def committed_inputs_are_respected():
    data = NamedSharding(mesh, P(("x", "y"), None))
    a = plax.device_put(xb, data)
    out = plax.jit(lambda v: pnp.exp(v) - 1)(a)  # no in_shardings: the input's layout is kept
    assert out.sharding == data, out.sharding
    np.testing.assert_allclose(out, np.exp(xb) - 1, rtol=1e-5, atol=1e-6)
    g = plax.jit(plax.grad(loss))(params, a, yb)
    with plax.default_backend("reference"):
        rg = plax.jit(plax.grad(loss))(params, xb, yb)
    for u, w in zip(g, rg):
        np.testing.assert_allclose(u, w, rtol=1e-4, atol=1e-6)

@check
def with_sharding_constraint_rules():
    s = NamedSharding(mesh4, P(None, "d"))
    f = lambda v: pnp.sum(lax.with_sharding_constraint(pnp.sin(v), s) ** 2)
    g = plax.jit(plax.grad(f))(x)
    np.testing.assert_allclose(g, 2 * np.sin(x) * np.cos(x), rtol=1e-5)
    out = plax.jit(lambda v: lax.with_sharding_constraint(v * 2, s))(x)
    assert out.sharding == s
    rows = NamedSharding(mesh4, P("d"))
    vm = plax.jit(plax.vmap(lambda v: lax.with_sharding_constraint(v, rows)))
    out = vm(np.ones((3, 8), np.float32))
    assert out.sharding == NamedSharding(mesh4, P(None, "d")), out.sharding
    with mesh4:  # a bare spec refers to the enclosing mesh
        e = lax.with_sharding_constraint(x, P("d"))  # eagerly: a device_put
    assert e.sharding == NamedSharding(mesh4, P("d"))
    jpr = plax.make_jaxpr(lambda v: lax.with_sharding_constraint(v, s))(x)
    assert "sharding_constraint" in str(jpr)
    with plax.default_backend("reference"):
        r = plax.jit(lambda v: lax.with_sharding_constraint(v * 2, s))(x)
        assert r.backend == "reference"
        np.testing.assert_allclose(r, x * 2)

@check
def committed_mismatch_lowered_text_and_compile_cache():
    import tempfile
    rows, rep = NamedSharding(mesh4, P("d")), NamedSharding(mesh4, P())
    a = plax.device_put(x, rows)
    f = plax.jit(lambda v, w: v * w, in_shardings=(rep, None))
    try:  # a committed argument laid out otherwise: an error naming both (as JAX's)
        f(a, 2.0)
        raise AssertionError("no error")
    except ValueError as e:
        msg = str(e)
    assert "argument 'v' (position 0)" in msg and "P('d')" in msg and "P()" in msg, msg
    np.testing.assert_allclose(f(plax.device_put(x, rep), 2.0), x * 2)
    # the lowered text of a call on sharded arrays is the partitioned program
    text = plax.jit(lambda v: v * 2).lower(a).as_text()
    assert "mhlo.num_partitions = 4" in text and '{devices=[4,1]0,1,2,3}' in text, text[:600]
    # jit(identity, out_shardings) gathers: the result layout is the one asked for
    g = plax.jit(lambda v: v, out_shardings=rep)(a)
    assert g.sharding == rep and g.addressable_shards[3].data.shape == x.shape
    # partitioned programs go through the persistent compilation cache
    with tempfile.TemporaryDirectory() as d, plax.config.override("compilation_cache_dir", d):
        h = lambda v: pnp.cos(v) * 3 + 0.5
        for run in range(2):
            plax.clear_caches()
            st = dict(stats())
            out = plax.jit(h)(a)
            delta = {k: stats()[k] - st.get(k, 0) for k in ("compiles", "cache_hits")}
            # two programs: jit's one-device one, and the partitioned one the call runs
            assert delta == ({"compiles": 2, "cache_hits": 0} if run == 0 else
                             {"compiles": 0, "cache_hits": 2}), (run, delta)
            assert out.sharding == rows
            np.testing.assert_allclose(out, np.cos(x) * 3 + 0.5, rtol=1e-6)

@check
def compiled_for_sharded_inputs():
    # Compiled's reports describe the program partitioned for the inputs' layouts (as JAX's)
    rows = NamedSharding(mesh4, P("d"))
    a = plax.device_put(x, rows)
    compiled = plax.jit(lambda v, w: (pnp.sin(v) * w).sum(0)).lower(a, np.float32(2)).compile()
    text = compiled.as_text()
    assert "num_partitions=4" in text and "f32[2,4]" in text, text[:600]  # one row block
    ins, kw = compiled.input_shardings
    assert ins[0] == rows and kw == {}, compiled.input_shardings
    assert ins[1] == NamedSharding(mesh4, P()), ins[1]  # a one-device input: replicated
    assert compiled.output_shardings == NamedSharding(mesh4, P()), compiled.output_shardings
    assert compiled.memory_analysis().argument_size_in_bytes == 2 * 4 * 4 + 4  # per device
    assert compiled.cost_analysis()["transcendentals"] == 2 * 4
    np.testing.assert_allclose(compiled(a, np.float32(2)), (np.sin(x) * 2).sum(0), rtol=1e-5)
    # the call ran the variant compiled for the report: no compile more
    st = dict(stats())
    compiled(a, np.float32(3))
    assert stats()["spmd_compiles"] == st["spmd_compiles"]
    same = plax.jit(lambda v: v + 1).lower(a).compile()
    assert same.output_shardings == rows and same.input_shardings[0][0] == rows
    # a program whose sharding constraint fixes its mesh: partitioned for one-device inputs
    cols = NamedSharding(mesh4, P(None, "d"))
    fixed = plax.jit(lambda v: lax.with_sharding_constraint(v * 2, cols)).lower(x).compile()
    assert fixed.output_shardings == cols, fixed.output_shardings
    assert fixed.input_shardings[0][0] == NamedSharding(mesh4, P()), fixed.input_shardings
    assert "num_partitions=4" in fixed.as_text()
    assert fixed.memory_analysis().output_size_in_bytes == 8 * 1 * 4
    np.testing.assert_allclose(fixed(x), x * 2)

print("RESULTS" + json.dumps(results))
'''


@pytest.fixture(scope="module")
def sharded_results():
    env = dict(os.environ, PLAX_XLA_CPU_DEVICES="4", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=600)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS")]
    assert marker, f"subprocess failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(marker[-1][len("RESULTS"):])


SHARDED_CHECKS = ["device_put_places_each_slice", "make_array_constructors", "visualize",
                  "eager_ops_stay_sharded", "interop_with_pmap_copy_and_slicing",
                  "pmap_psum_scatter_and_all_to_all",
                  "jit_in_out_shardings_partition_the_program", "committed_inputs_are_respected",
                  "with_sharding_constraint_rules",
                  "committed_mismatch_lowered_text_and_compile_cache",
                  "compiled_for_sharded_inputs"]


@pytest.mark.parametrize("name", SHARDED_CHECKS)
def test_sharded_arrays_on_four_cpu_devices(sharded_results, name):
    assert name in sharded_results, sorted(sharded_results)
    assert sharded_results[name] is None, sharded_results[name]


def test_sharded_array_on_one_device_backend():
    # the reference backend has one device: a mesh of it works, a bigger one is refused
    with plax.default_backend("reference"):
        dev = plax.devices()[0]
        mesh = Mesh(np.array([dev]), ("x",))
        a = plax.device_put(np.arange(4.0, dtype=np.float32), NamedSharding(mesh, P("x")))
        assert a.backend == "reference" and len(a.addressable_shards) == 1
        assert a.sharding == SingleDeviceSharding(dev)
        with pytest.raises(TypeError, match="Device"):
            plax.device_put(np.ones(2), 3)
