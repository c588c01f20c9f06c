"""The collectives beyond shard_map's first set (axis_size, pbroadcast, pshuffle, pswapaxes,
pcast, ragged_all_to_all) and JAX's explicit-sharding API (set_mesh, reshard, smap, Shard,
AxisType) on 4 CPU devices: the same programs run in a JAX subprocess and a plax subprocess
(xla with PLAX_XLA_CPU_DEVICES=4, and the reference backend), under shard_map, pmap, vmap with
an axis name, jit and grad; values, gradients and output layouts must agree.

Two of them JAX cannot run on CPU: pbroadcast (no CPU lowering; JAX documents it as the psum of
the value masked to the source member, which the JAX side runs instead) and ragged_all_to_all
(XLA:CPU has no ragged-all-to-all): its values and gradients are checked against a NumPy
transcription of JAX's documented semantics, including the docstring's own example."""

from __future__ import annotations

import itertools
import textwrap

import numpy as np
import pytest

import plax
import plax.lax as lax

from helpers import run_jax_and_plax_on_four_cpu_devices
from plax.sharding import P

# Written once for both libraries; the runner binds jnp, lax, jit, grad, vmap, pmap, P, sm,
# mesh1 (axis "i", 4 devices), mesh2 (2 x 2, "x" "y"), pbroadcast, set_mesh, reshard, smap,
# make_mesh and spec_of.
PROGRAMS = r'''
rng = np.random.RandomState(0)
X = rng.randn(8, 4).astype(np.float32)
X4 = rng.randn(4, 3).astype(np.float32)
A = rng.randn(4, 4, 3).astype(np.float32)
S = rng.randn(16, 8).astype(np.float32)
w4 = rng.randn(4).astype(np.float32)

CASES = {
    "axis_size_sm": lambda: sm(lambda v: v * lax.axis_size("i"), mesh1, P("i"), P("i"))(X),
    "axis_size_two": lambda: sm(lambda v: v * lax.axis_size(("x", "y")) + lax.axis_size("y"),
                                mesh2, P("x", "y"), P("x", "y"))(X),
    "axis_index_tuple": lambda: sm(lambda v: v * lax.axis_index(("x", "y")) + lax.axis_index(
        ("y", "x")), mesh2, P("x", "y"), P("x", "y"))(X),
    "axis_size_pmap": lambda: pmap(lambda v: v * lax.axis_size("i"), "i")(X4),
    "axis_size_vmap": lambda: vmap(lambda v: v * lax.axis_size("b"), axis_name="b")(X),
    "pshuffle_sm": lambda: sm(lambda v: lax.pshuffle(v, "i", [2, 0, 3, 1]), mesh1, P("i"),
                              P("i"))(X),
    "pshuffle_pmap": lambda: pmap(lambda v: lax.pshuffle(v, "i", [3, 2, 0, 1]), "i")(X4),
    "pshuffle_vmap": lambda: vmap(lambda v: lax.pshuffle(v, "b", [1, 2, 3, 0]),
                                  axis_name="b")(X4),
    "grad_pshuffle": lambda: grad(lambda v: jnp.sum(jnp.sin(sm(
        lambda u: lax.pshuffle(u * u, "i", [1, 3, 0, 2]), mesh1, P("i"), P("i"))(v)) * X))(X),
    "pswapaxes_sm": lambda: sm(lambda v: lax.pswapaxes(v[:, :4], "i", 1), mesh1, P("i"),
                               P("i"))(S),
    "pswapaxes_pmap": lambda: pmap(lambda v: lax.pswapaxes(v, "i", 0), "i")(A),
    "grad_pswapaxes": lambda: grad(lambda v: jnp.sum(jnp.cos(sm(
        lambda u: lax.pswapaxes(u[:, :4], "i", 1) * 2.0, mesh1, P("i"), P("i"))(v))))(S),
    "pcast_psum": lambda: sm(lambda w, v: lax.psum(lax.pcast(w, "i", to="varying") * v, "i"),
                             mesh1, (P(), P("i")), P())(w4, X),
    "grad_pcast": lambda: grad(lambda w: jnp.sum(sm(
        lambda w, v: jnp.sin(lax.pcast(w, "i", to="varying")) * v, mesh1, (P(), P("i")),
        P("i"))(w, X) ** 2))(w4),
    "pbroadcast_sm": lambda: sm(lambda v: pbroadcast(v, "i", 2), mesh1, P("i"), P("i"))(X),
    "pbroadcast_two": lambda: sm(lambda v: pbroadcast(v, "y", 1) * 1.5, mesh2, P("x", "y"),
                                 P("x", "y"))(X),
    "pbroadcast_pmap": lambda: pmap(lambda v: pbroadcast(v, "i", 3), "i")(X4),
    "pbroadcast_vmap": lambda: vmap(lambda v: pbroadcast(v, "b", 1), axis_name="b")(X4),
    "grad_pbroadcast": lambda: jit(grad(lambda v: jnp.sum(sm(
        lambda u: jnp.sin(pbroadcast(u, "i", 1)) * lax.axis_index("i"), mesh1, P("i"),
        P("i"))(v))))(X),
}

def explicit():
    """set_mesh / reshard / smap on a mesh of Explicit axes: (values, spec or indices) per
    case (in explicit mode JAX's smap wants its inputs laid out already: reshard first)."""
    mesh = make_mesh((4,), ("i",))
    out = {}
    with set_mesh(mesh):
        y = reshard(X, P("i"))
        yt = reshard(X.T, P(None, "i"))

        def shards():
            sh = y.addressable_shards
            return ([s.data for s in sh], [[[sl.start, sl.stop] for sl in s.index]
                                           for s in sh])

        def with_spec(fn):
            r = fn()
            return [r], spec_of(r)

        cases = {
            "reshard_eager": lambda: ([y], spec_of(y)),
            "shards": shards,
            "reshard_jit": lambda: with_spec(lambda: jit(lambda v: reshard(v * 2, P("i")))(X)),
            "reshard_jit_replicate": lambda: with_spec(
                lambda: jit(lambda v: reshard(jnp.sin(v), P()) + 1)(y)),
            "reshard_vmap": lambda: with_spec(
                lambda: vmap(lambda v: reshard(v * 2, P("i")))(X.reshape(2, 16))),
            "reshard_jit_vmap": lambda: with_spec(
                lambda: jit(vmap(lambda v: reshard(v * 2, P("i"))))(X.reshape(2, 16))),
            "grad_reshard": lambda: ([grad(lambda v: jnp.sum(reshard(v * v, P("i")) * X))(X)],
                                     None),
            "smap": lambda: with_spec(lambda: smap(
                lambda v: v * lax.axis_index("i") + lax.psum(v, "i"), in_axes=0, out_axes=0,
                axis_name="i")(y)),
            "smap_axes": lambda: ([smap(lambda w, v: v * w, in_axes=(None, 1), out_axes=1,
                                        axis_name="i")(w4[:2], yt)], None),
            "smap_infer": lambda: ([smap(lambda v: v * 2 + lax.axis_index("i"), out_axes=0,
                                         axis_name="i")(y)], None),
            "smap_jit_grad": lambda: ([jit(grad(lambda v: jnp.sum(smap(
                lambda u: jnp.sin(u) * lax.pmean(u, "i"), in_axes=0, out_axes=0,
                axis_name="i")(v))))(y)], None),
        }
        for name, case in cases.items():
            try:
                out[name] = case()
            except Exception:
                out[name] = "ERROR " + traceback.format_exc()[-2500:]
    mesh2d = make_mesh((2, 2), ("x", "y"))
    with set_mesh(mesh2d):
        try:  # the other axis ("y") is not mapped: the body sees the whole value along it
            yx = reshard(X, P("x", "y"))
            out["smap_2d"] = ([smap(lambda v: v * lax.axis_index("x") + lax.psum(v, "x"),
                                    in_axes=0, out_axes=0, axis_name="x")(yx)], None)
        except Exception:
            out["smap_2d"] = "ERROR " + traceback.format_exc()[-2500:]
    return out
'''

RUNNER = r'''
import json, sys, traceback
import numpy as np
lib = sys.argv[1]
if lib == "jax":
    import jax, jax.numpy as jnp
    from jax import lax, jit, grad, vmap, pmap
    from jax.sharding import PartitionSpec as P, Mesh
    def sm(f, mesh, i, o):
        return jax.shard_map(f, mesh=mesh, in_specs=i, out_specs=o)
    def pbroadcast(x, name, source):  # JAX's documented equivalent (no CPU lowering)
        return lax.psum(jnp.where(lax.axis_index(name) == source, x, jnp.zeros_like(x)), name)
    mesh1 = Mesh(np.array(jax.devices()[:4]), ("i",))
    mesh2 = Mesh(np.array(jax.devices()[:4]).reshape(2, 2), ("x", "y"))
    set_mesh, reshard, smap, make_mesh = jax.set_mesh, jax.reshard, jax.smap, jax.make_mesh
    backends = ["jax"]
else:
    import plax, plax.numpy as jnp, plax.lax as lax
    from plax import jit, grad, vmap, pmap
    from plax.sharding import P, Mesh
    def sm(f, mesh, i, o):
        return plax.shard_map(f, mesh=mesh, in_specs=i, out_specs=o)
    pbroadcast = lax.pbroadcast
    mesh1 = Mesh(np.array(plax.devices()[:4]), ("i",))
    mesh2 = Mesh(np.array(plax.devices()[:4]).reshape(2, 2), ("x", "y"))
    set_mesh, reshard, smap, make_mesh = plax.set_mesh, plax.reshard, plax.smap, plax.make_mesh
    backends = ["xla", "reference"]
def spec_of(x):
    spec = [list(p) if isinstance(p, tuple) else p for p in x.sharding.spec]
    while spec and spec[-1] is None:
        spec.pop()
    return spec
exec(PROGRAMS)
out = {}
def record(key, fn):
    try:
        r = fn()
        leaves = r if isinstance(r, (tuple, list)) else [r]
        out[key] = [np.asarray(v, np.float64).tolist() if not isinstance(v, list) else v
                    for v in leaves]
    except Exception:
        out[key] = "ERROR " + traceback.format_exc()[-2500:]
for b in backends:
    for name, case in CASES.items():
        if lib == "jax":
            record(f"{b}:{name}", case)
        else:
            with plax.default_backend(b):
                record(f"{b}:{name}", case)
for k, r in explicit().items():
    out[f"explicit:{k}"] = r if isinstance(r, str) else {
        "values": [np.asarray(a, np.float64).tolist() for a in r[0]], "meta": r[1]}
if lib == "plax":
    ns = {}
    exec(RAGGED, ns)
    out.update(ns["ragged_cases"]())
print("RESULTS" + json.dumps(out))
'''

# ragged_all_to_all in the plax subprocess only (JAX has no CPU implementation)
RAGGED = r'''
import numpy as np
import plax, plax.numpy as jnp, plax.lax as lax
from plax.sharding import P

SEND = np.array([[1, 2, 0, 1], [2, 1, 1, 1], [0, 0, 3, 1], [1, 1, 1, 1]], np.int32)
IN_OFF = np.concatenate([np.zeros((4, 1), np.int32), np.cumsum(SEND, 1)[:, :-1]], 1)
OUT_OFF = np.concatenate([np.zeros((1, 4), np.int32), np.cumsum(SEND, 0)[:-1]], 0)
RECV = SEND.T.copy()
OP = (np.arange(4 * 6 * 2, dtype=np.float32).reshape(4, 6, 2) + 1) / 7
OUT = -np.ones((4, 7, 2), np.float32)
W = np.random.RandomState(1).randn(4, 7, 2).astype(np.float32)


def ragged_cases():
    mesh = plax.make_mesh((4,), ("i",))
    spec = (P("i"),) * 6
    args = (OP, OUT, IN_OFF, SEND.astype(np.int32), OUT_OFF.astype(np.int32), RECV)

    def one(o, ot, a, b, c, d):
        return lax.ragged_all_to_all(o, ot, a, b, c, d, axis_name="i")

    def blocks(o, ot, a, b, c, d):  # shard_map members see a leading unit dim
        return one(o[0], ot[0], a[0], b[0], c[0], d[0])[None]

    def loss(op, out):
        r = plax.shard_map(blocks, mesh=mesh, in_specs=spec, out_specs=P("i"))(
            op, out, *args[2:])
        return jnp.sum(r * W)

    res = {}
    for b in ("xla", "reference"):
        with plax.default_backend(b):
            cases = {
                "sm": lambda: plax.shard_map(blocks, mesh=mesh, in_specs=spec,
                                             out_specs=P("i"))(*args),
                "jit_sm": lambda: plax.jit(plax.shard_map(blocks, mesh=mesh, in_specs=spec,
                                                          out_specs=P("i")))(*args),
                "pmap": lambda: plax.pmap(one, "i")(*args),
                "vmap": lambda: plax.vmap(one, axis_name="i")(*args),
                "vmap_outer": lambda: plax.vmap(lambda o, ot: plax.shard_map(
                    blocks, mesh=mesh, in_specs=spec, out_specs=P("i"))(o, ot, *args[2:]))(
                        np.stack([OP, 2 * OP]), np.stack([OUT, 3 * OUT])),
                "grad": lambda: plax.grad(loss, argnums=(0, 1))(OP, OUT),
                "doc_example": lambda: plax.vmap(one, axis_name="i")(
                    np.array([[1, 2, 2], [3, 4, 0]], np.float32), np.zeros((2, 4), np.float32),
                    np.array([[0, 1], [0, 1]], np.int32), np.array([[1, 2], [1, 1]], np.int32),
                    np.array([[0, 0], [1, 2]], np.int32), np.array([[1, 1], [2, 1]], np.int32)),
            }
            for name, case in cases.items():
                try:
                    r = case()
                    leaves = r if isinstance(r, tuple) else (r,)
                    res[f"ragged:{b}:{name}"] = [np.asarray(v, np.float64).tolist()
                                                 for v in leaves]
                except Exception:
                    import traceback
                    res[f"ragged:{b}:{name}"] = "ERROR " + traceback.format_exc()[-2500:]
    return res
'''


def _ragged_module():
    ns: dict = {}
    exec(RAGGED, ns)
    return ns


def ragged_reference(op, out, in_off, send, out_off, recv):
    """jax.lax.ragged_all_to_all's documented semantics, member by member (NumPy)."""
    n, k = in_off.shape
    per = k // n
    res = np.array(out, copy=True)
    for j in range(n):
        got_off = out_off[:, j * per:(j + 1) * per].reshape(-1)  # all_to_all of output_offsets
        for c in range(k):
            i, s = divmod(c, per)
            src = op[i, in_off[i, j * per + s]:][:recv[j, c]]
            res[j, got_off[c]:got_off[c] + recv[j, c]] = src
    return res


def _run_both():
    return run_jax_and_plax_on_four_cpu_devices(
        "PROGRAMS = " + repr(PROGRAMS) + "\nRAGGED = " + repr(RAGGED) + "\n"
            + textwrap.dedent(RUNNER))


@pytest.fixture(scope="module")
def results():
    pytest.importorskip("jax")
    return _run_both()


NAMES = ["axis_size_sm", "axis_size_two", "axis_index_tuple", "axis_size_pmap",
         "axis_size_vmap", "pshuffle_sm", "pshuffle_pmap", "pshuffle_vmap", "grad_pshuffle",
         "pswapaxes_sm", "pswapaxes_pmap", "grad_pswapaxes", "pcast_psum", "grad_pcast",
         "pbroadcast_sm", "pbroadcast_two", "pbroadcast_pmap", "pbroadcast_vmap",
         "grad_pbroadcast"]


def _close(got, want):
    assert not isinstance(want, str), want
    assert not isinstance(got, str), got
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64),
                                   rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("backend_name", ["xla", "reference"])
@pytest.mark.parametrize("name", NAMES)
def test_collectives_match_jax(results, name, backend_name):
    _close(results["plax"][f"{backend_name}:{name}"], results["jax"][f"jax:{name}"])


EXPLICIT = ["reshard_eager", "shards", "reshard_jit", "reshard_jit_replicate", "reshard_vmap",
            "reshard_jit_vmap", "grad_reshard",
            "smap", "smap_axes", "smap_infer", "smap_jit_grad", "smap_2d"]


@pytest.mark.parametrize("name", EXPLICIT)
def test_explicit_sharding_matches_jax(results, name):
    """Values, and the output's spec (or the shards' indices) as JAX's."""
    got, want = results["plax"][f"explicit:{name}"], results["jax"][f"explicit:{name}"]
    assert not isinstance(want, str), want
    assert not isinstance(got, str), got
    _close(got["values"], want["values"])
    assert got["meta"] == want["meta"]


def _ragged_expect():
    m = _ragged_module()
    args = (m["OP"], m["OUT"], m["IN_OFF"], m["SEND"], m["OUT_OFF"], m["RECV"])
    value = ragged_reference(*args)
    # the map is linear in (operand, output): its transpose applied to W, entry by entry
    w = m["W"]
    g_op, g_out = np.zeros_like(args[0]), np.zeros_like(args[1])
    for g, pos in ((g_op, 0), (g_out, 1)):
        for idx in itertools.product(*map(range, g.shape)):
            basis = [np.zeros_like(args[0]), np.zeros_like(args[1])]
            basis[pos][idx] = 1
            g[idx] = np.sum(ragged_reference(*basis, *args[2:]) * w)
    outer = np.stack([ragged_reference(*args), ragged_reference(2 * args[0], 3 * args[1],
                                                                *args[2:])])
    return value, (g_op, g_out), outer


@pytest.mark.parametrize("backend_name", ["xla", "reference"])
def test_ragged_all_to_all(results, backend_name):
    value, grads, outer = _ragged_expect()
    r = results["plax"]
    for case in ("sm", "jit_sm", "pmap", "vmap"):
        _close(r[f"ragged:{backend_name}:{case}"], [value])
    _close(r[f"ragged:{backend_name}:vmap_outer"], [outer])
    _close(r[f"ragged:{backend_name}:grad"], list(grads))
    # the example of jax.lax.ragged_all_to_all's docstring, its stated result
    _close(r[f"ragged:{backend_name}:doc_example"], [[[1, 3, 0, 0], [2, 2, 4, 0]]])


def test_errors_and_one_device():
    """In this process (one device): the checks, and the one-device semantics."""
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    with pytest.raises(ValueError, match="does not represent a permutation"):
        plax.vmap(lambda v: lax.pshuffle(v, "i", [0, 0, 1]), axis_name="i")(x)
    with pytest.raises(NotImplementedError, match="reduced or unreduced"):
        plax.vmap(lambda v: lax.pcast(v, "i", to="reduced"), axis_name="i")(x)
    with pytest.raises(ValueError, match="Allowed `to` values"):
        lax.pcast(x, "i", to="sideways")
    with pytest.raises(ValueError, match="source 5 is not an index"):
        plax.vmap(lambda v: lax.pbroadcast(v, "i", 5), axis_name="i")(x)
    with pytest.raises(ValueError, match="send_sizes must be integer"):
        plax.vmap(lambda v: lax.ragged_all_to_all(v, v, np.zeros(3, np.int32),
                                                  np.zeros(3, np.float32),
                                                  np.zeros(3, np.int32),
                                                  np.zeros(3, np.int32), axis_name="i"),
                  axis_name="i")(x)
    with pytest.raises(NameError, match="unbound axis name"):
        lax.pbroadcast(x, "i", 0)
    # the size is a Python int wherever the axis is known (usable in shapes, as in JAX)
    sizes = []
    plax.vmap(lambda v: sizes.append(lax.axis_size("i")) or v, axis_name="i")(x)
    plax.jit(plax.vmap(plax.vmap(lambda v: sizes.append(lax.axis_size(("i", "j"))) or v,
                                 axis_name="j"), axis_name="i"))(x)
    assert sizes == [3, 6] and all(type(s) is int for s in sizes)
    mesh = plax.make_mesh((1,), ("i",))
    assert mesh.axis_types == (plax.sharding.AxisType.Explicit,)
    assert plax.sharding.Mesh(mesh.devices, ("i",)).axis_types == (
        plax.sharding.AxisType.Auto,)
    with pytest.raises(ValueError, match="varies over mesh axis 'i'"):  # as JAX's check_vma
        plax.shard_map(lambda v: lax.pcast(v, "i", to="varying"), mesh=mesh, in_specs=P(),
                       out_specs=P())(x)
    with pytest.raises(ValueError, match="reshard should only be used"):
        plax.reshard(x, P("i"))  # no mesh set
    with plax.set_mesh(mesh):
        assert plax.sharding.get_mesh() is mesh
        y = plax.reshard(x, P("i"))
        np.testing.assert_array_equal(y, x)
        assert isinstance(y.addressable_shards[0], plax.Shard)
        np.testing.assert_array_equal(plax.smap(lambda v: v + lax.axis_size("i"), in_axes=0,
                                                out_axes=0, axis_name="i")(x), x + 1)
        with pytest.raises(ValueError, match="outside of `jit`"):
            plax.jit(lambda v: plax.set_mesh(mesh) and v)(x)
        with pytest.raises(ValueError, match="not an axis of the current mesh"):
            plax.smap(lambda v: v, in_axes=0, out_axes=0, axis_name="j")(x)
    assert plax.sharding.get_mesh() is None
    plax.set_mesh(mesh)  # the global setter
    try:
        assert plax.sharding.get_mesh() is mesh
    finally:
        plax.set_mesh(None)
    assert plax.sharding.get_mesh() is None
    with pytest.raises(ValueError, match="context mesh cannot be empty"):
        plax.smap(lambda v: v, in_axes=0, out_axes=0, axis_name="i")(x)
    with pytest.raises(TypeError, match="axis_name should be"):
        plax.smap(lambda v: v, in_axes=0, out_axes=0, axis_name=("i",))
    with pytest.raises(TypeError, match="in_axes was not specified"):
        with plax.set_mesh(plax.sharding.Mesh(mesh.devices, ("i",))):  # an Auto axis
            plax.smap(lambda v: v, out_axes=0, axis_name="i")(x)
