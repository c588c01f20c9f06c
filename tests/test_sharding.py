"""plax.sharding's bookkeeping (meshes, partition specs, shard shapes, which device holds which
slice) against jax.sharding's, and its errors. JAX runs in a subprocess with 8 CPU devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

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
