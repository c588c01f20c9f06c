"""plax.export (as jax.export): export(jit(f))(*specs) -> Exported; serialize/deserialize round
trips; Exported.call eagerly, inside jit, on the reference backend, and under grad through the
exported VJP (vjp_order >= 1), checked against the original function, finite differences and
JAX's own jax.export of the same program; the module verified as StableHLO; and the errors
(corrupted or foreign blobs, another format version, wrong arguments, wrong platform, vmap,
forward mode, symbolic shapes, unregistered pytree nodes)."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import struct

import numpy as np
import pytest

import plax
from conftest import HAVE_JAX, installed_backends, requires_jax
from plax import export as pexport
from plax import lax as plax_lax
from plax import numpy as pnp

pytest.importorskip("jaxlib")

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal(3).astype(np.float32)
M = RNG.standard_normal((3, 3)).astype(np.float32)
SPD = (M @ M.T + 3 * np.eye(3)).astype(np.float32)


# each program: (function of (numpy module, lax module), its arguments). The same source runs
# on plax (pnp, plax.lax) and on JAX (jnp, jax.lax)
def _pytree(xnp, lax):
    def f(x, y, *, scale):
        return {"s": xnp.sin(x) * scale, "pair": (x + y["b"], [y["a"] * 2, None])}
    return f, (X3, {"a": np.float32(1.5), "b": X3[::-1].copy()}), {"scale": np.float32(3.0)}


def _dtypes(xnp, lax):
    def f(x, i, h):
        return (x.astype(xnp.bfloat16) * 3).astype(xnp.bfloat16), i * 3 + 1, (h * h).sum()
    bf = xnp.asarray(X3, xnp.bfloat16) if xnp is not np else X3
    return f, (bf, np.arange(4, dtype=np.int32), np.float16([1.5, 2.0])), {}


def _scalars(xnp, lax):
    def f(a, b):
        return a * b + 1.0, xnp.exp(a)
    return f, (2.0, np.float32(0.5)), {}


def _while(xnp, lax):
    def f(x, n):
        def body(c):
            i, v = c
            return i + 1, v * 1.5 + xnp.cos(v)
        return lax.while_loop(lambda c: c[0] < n, body, (0, x))[1]
    return f, (X3, np.int32(5)), {}


def _custom_jvp(xnp, lax):
    import jax as _jax
    cj = plax.custom_jvp if xnp is pnp else _jax.custom_jvp

    @cj
    def softplus(x):
        return xnp.log1p(xnp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t / (1 + xnp.exp(-x))

    def f(x):
        return softplus(x) * 2
    return f, (X3,), {}


def _linalg(xnp, lax):  # LAPACK custom calls inside the exported module
    def f(a, b):
        return xnp.linalg.solve(a, b), xnp.linalg.cholesky(a)
    return f, (SPD, X3), {}


PROGRAMS = {"pytree": _pytree, "dtypes": _dtypes, "scalars": _scalars, "while": _while,
            "custom_jvp": _custom_jvp, "linalg": _linalg}


def _plax_program(name):
    if name == "custom_jvp" and not HAVE_JAX:
        pytest.skip("the custom_jvp program's source names jax.custom_jvp")
    if name == "dtypes":
        f, args, kw = _dtypes(pnp, plax_lax)
        return f, (np.asarray(X3, pnp.bfloat16),) + args[1:], kw
    return PROGRAMS[name](pnp, plax_lax)


def _leaves_equal(a, b, exact=True):
    la, ta = plax.tree_util.tree_flatten(a)
    lb, tb = plax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        if exact:
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x.astype(np.float64), y.astype(np.float64), rtol=2e-2,
                                       atol=1e-5)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_round_trip_matches_the_function(name):
    f, args, kw = _plax_program(name)
    jf = plax.jit(f)
    with plax.default_backend("xla"):
        want = jf(*args, **kw)
        exp = pexport.export(jf)(*args, **kw)
        back = pexport.deserialize(exp.serialize())
        for e in (exp, back):
            _leaves_equal(e.call(*args, **kw), want)
        # inside jit, with other operations around it
        got = plax.jit(lambda *a: plax.tree_util.tree_map(
            lambda v: v, back.call(*a, **kw)))(*args)
        _leaves_equal(got, want)
    assert back.fun_name == exp.fun_name == f.__name__
    assert back.in_tree == exp.in_tree and back.out_tree == exp.out_tree
    assert back.in_avals == exp.in_avals and back.out_avals == exp.out_avals
    assert back.platforms == exp.platforms == (pexport.default_export_platform(),)
    assert back.mlir_module_serialized == exp.mlir_module_serialized
    assert back.nr_devices == 1 and back.ordered_effects == back.unordered_effects == ()
    assert back.in_shardings_hlo == (None,) * len(exp.in_avals)


@requires_jax
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_matches_jax_export(name):
    import jax
    import jax.numpy as jnp
    from jax import export as jexport
    f, args, kw = _plax_program(name)
    jf_src, jargs, jkw = PROGRAMS[name](jnp, jax.lax)
    if name == "dtypes":
        jargs = (jnp.asarray(X3, jnp.bfloat16),) + jargs[1:]
    jexp = jexport.export(jax.jit(jf_src))(*jargs, **jkw)  # (JAX's serialization needs
    # the flatbuffers package: its Exported as exported)
    exp = pexport.deserialize(pexport.export(plax.jit(f))(*args, **kw).serialize())
    # the calling convention: avals and tree structure as JAX's
    assert [(a.shape, a.dtype, a.weak_type) for a in exp.in_avals] == \
        [(a.shape, a.dtype, a.weak_type) for a in jexp.in_avals]
    assert [(a.shape, a.dtype) for a in exp.out_avals] == \
        [(a.shape, a.dtype) for a in jexp.out_avals]
    n, m = exp.in_tree.num_leaves, exp.out_tree.num_leaves
    assert plax.tree_util.tree_unflatten(exp.in_tree, list(range(n))) == \
        jexp.in_tree.unflatten(list(range(n)))
    assert plax.tree_util.tree_unflatten(exp.out_tree, list(range(m))) == \
        jexp.out_tree.unflatten(list(range(m)))
    with plax.default_backend("xla"):
        got = exp.call(*args, **kw)
    want = jexp.call(*jargs, **jkw)
    _leaves_equal(got, jax.tree_util.tree_map(np.asarray, want), exact=False)


def test_mlir_module_is_verified_stablehlo():
    from plax_xla import _jaxlib as jl
    exp = pexport.export(plax.jit(lambda x: pnp.sin(x) @ x))(plax.ShapeDtypeStruct((3, 3),
                                                                                np.float32))
    text = exp.mlir_module()
    assert "func.func public @main" in text and "stablehlo.sine" in text
    assert jl.verify(text) is None  # parses and verifies (MlirError otherwise)
    # the module is a StableHLO portable artifact (versioned VHLO bytecode)
    assert exp.mlir_module_serialized.startswith(b"ML\xefR")
    assert exp.calling_convention_version == pexport.maximum_supported_calling_convention_version


@requires_jax
def test_jax_exported_module_runs_in_plax():
    """The module is the same kind of artifact as JAX's (a StableHLO portable artifact with
    `main` taking the flat arguments): JAX's runs in a plax Exported of the same signature."""
    import jax
    import jax.numpy as jnp

    def src(xnp):
        return lambda x, y: (xnp.sin(x) * y, xnp.linalg.norm(x))
    jexp = jax.export.export(jax.jit(src(jnp)))(X3, np.float32(2))
    pexp = pexport.export(plax.jit(src(pnp)))(X3, np.float32(2))
    mixed = dataclasses.replace(pexp, mlir_module_serialized=bytes(jexp.mlir_module_serialized),
                                _get_vjp=None)
    with plax.default_backend("xla"):
        _leaves_equal(mixed.call(X3, np.float32(2)), pexp.call(X3, np.float32(2)),
                      exact=False)


def test_float64_and_integer_only_outputs():
    def f(x, k):
        return x * 2, (k + 1, x.sum())
    with plax.enable_x64(True), plax.default_backend("xla"):
        x = np.arange(3, dtype=np.float64)
        exp = pexport.deserialize(pexport.export(plax.jit(f))(x, np.int64(2)).serialize(1))
        assert exp.in_avals[0].dtype == np.float64 and exp.out_avals[1].dtype == np.int64
        _leaves_equal(exp.call(x, np.int64(2)), plax.jit(f)(x, np.int64(2)))
        g = plax.grad(lambda x: exp.call(x, np.int64(2))[1][1])(x)
        np.testing.assert_array_equal(np.asarray(g), np.ones(3))
        # no floating-point output: zero cotangents
        ints = pexport.export(plax.jit(lambda x: (x > 1).astype(np.int32)))(x)
        _, pull = plax.vjp(pexport.deserialize(ints.serialize(1)).call, x)
        np.testing.assert_array_equal(np.asarray(pull(np.zeros(3, np.int32))[0]),
                                      np.zeros(3))


def test_two_exporteds_of_the_same_name_in_one_program():
    def f(x):
        return pnp.sin(x) + 1

    def g(x):  # same function name, another body: the embedded symbols must not clash
        return pnp.cos(x) * 2
    g.__name__ = "f"
    spec = plax.ShapeDtypeStruct((3,), np.float32)
    ef = pexport.deserialize(pexport.export(plax.jit(f))(spec).serialize())
    eg = pexport.deserialize(pexport.export(plax.jit(g))(spec).serialize())
    h = plax.jit(lambda x: ef.call(ef.call(x)) + eg.call(x))
    with plax.default_backend("xla"):
        np.testing.assert_allclose(np.asarray(h(X3)),
                                   np.sin(np.sin(X3) + 1) + 1 + np.cos(X3) * 2, rtol=1e-6)
        text = h.lower(X3).as_text()
    assert text.count("func.func private @exported_f__main") == 1
    assert text.count("func.func private @exported_f_1__main") == 1


def test_closed_over_array_is_a_constant_of_the_module():
    with plax.default_backend("xla"):
        w = pnp.asarray(M)
        jf = plax.jit(lambda x: w @ x)
        exp = pexport.deserialize(pexport.export(jf)(X3).serialize())
        assert len(exp.in_avals) == 1
        np.testing.assert_allclose(np.asarray(exp.call(X3)), M @ X3, rtol=1e-5)


@pytest.mark.parametrize("other", [b for b in ("reference", "cupy")
                                   if b in installed_backends()])
def test_other_backends_run_it_through_xla(other):
    f, args, kw = _plax_program("pytree")
    exp = pexport.deserialize(pexport.export(plax.jit(f))(*args, **kw).serialize())
    with plax.default_backend("xla"):
        want = exp.call(*args, **kw)
    with plax.default_backend(other):
        got = exp.call(*args, **kw)
        got_jit = plax.jit(lambda *a: exp.call(*a, **kw))(*args)
    _leaves_equal(got, want)
    _leaves_equal(got_jit, want)


# ---------------------------------------------------------------------------------------------
# differentiation


def _loss_fn(x, w, n):
    return (pnp.tanh(x @ w) ** 2).sum() * n.astype(np.float32), x * 2


ARGS = (X3, M, np.int32(3))


def test_grad_through_exported_vjp():
    from plax.test_util import check_grads
    jf = plax.jit(_loss_fn)
    exp = pexport.export(jf)(*ARGS)
    assert exp.has_vjp()
    back = pexport.deserialize(exp.serialize(vjp_order=1))
    assert back.has_vjp()
    vjp = back.vjp()
    assert len(vjp.in_avals) == 3 + 2 and len(vjp.out_avals) == 2  # no cotangent for int n
    with plax.default_backend("xla"):
        def loss(x, w):
            return back.call(x, w, ARGS[2])[0]
        want = plax.grad(lambda x, w: _loss_fn(x, w, ARGS[2])[0], argnums=(0, 1))(X3, M)
        got = plax.grad(loss, argnums=(0, 1))(X3, M)
        got_jit = plax.jit(plax.grad(loss, argnums=(0, 1)))(X3, M)
        for g in (got, got_jit):
            for a, b in zip(g, want):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        check_grads(loss, (X3, M), order=1, modes=("rev",), atol=2e-2, rtol=2e-2)
        # both outputs' cotangents: vjp of the pytree result
        _, pull = plax.vjp(lambda x: back.call(x, M, ARGS[2]), X3)
        (ct,) = pull((np.float32(1.0), np.ones(3, np.float32)))
        _, pull0 = plax.vjp(lambda x: _loss_fn(x, M, ARGS[2]), X3)
        np.testing.assert_allclose(np.asarray(ct), np.asarray(pull0(
            (np.float32(1.0), np.ones(3, np.float32)))[0]), rtol=1e-5)


def test_second_order_with_vjp_order_2():
    def f(x):
        return pnp.sin(x).sum()
    exp = pexport.export(plax.jit(f))(X3)
    b1 = pexport.deserialize(exp.serialize(vjp_order=1))
    b2 = pexport.deserialize(exp.serialize(vjp_order=2))
    with plax.default_backend("xla"):
        g = plax.grad(b1.call)(X3)
        np.testing.assert_allclose(np.asarray(g), np.cos(X3), rtol=1e-6)
        hv = plax.grad(lambda x: plax.grad(b2.call)(x).sum())(X3)
        np.testing.assert_allclose(np.asarray(hv), -np.sin(X3), rtol=1e-5)
        with pytest.raises(TypeError, match="'f_vjp'.*has no VJP.*2 for grad of grad"):
            plax.grad(lambda x: plax.grad(b1.call)(x).sum())(X3)


@requires_jax
def test_grad_matches_jax():
    import jax
    import jax.numpy as jnp
    from jax import export as jexport

    def jloss(x, w, n):
        return (jnp.tanh(x @ w) ** 2).sum() * n.astype(np.float32), x * 2
    jexp = jexport.export(jax.jit(jloss))(*ARGS)
    exp = pexport.deserialize(pexport.export(plax.jit(_loss_fn))(*ARGS).serialize(vjp_order=1))
    want = jax.grad(lambda x, w: jexp.call(x, w, ARGS[2])[0], argnums=(0, 1))(X3, M)
    with plax.default_backend("xla"):
        got = plax.grad(lambda x, w: exp.call(x, w, ARGS[2])[0], argnums=(0, 1))(X3, M)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_grad_refused_without_vjp_and_forward_mode_refused():
    exp = pexport.export(plax.jit(lambda x: pnp.sin(x).sum()))(X3)
    back = pexport.deserialize(exp.serialize())  # vjp_order=0
    assert not back.has_vjp()
    with plax.default_backend("xla"):
        with pytest.raises(TypeError, match="has no VJP.*vjp_order=1 for grad"):
            plax.grad(back.call)(X3)
        with pytest.raises(ValueError, match="No VJP is available"):
            back.vjp()
        with pytest.raises(TypeError, match="forward-mode|jvp"):
            plax.jvp(exp.call, (X3,), (X3,))


def test_check_primitive_conformance():
    from plax.extend.testing import check_primitive
    exp = pexport.export(plax.jit(lambda x, w: pnp.tanh(x @ w)))(X3, M)
    report = check_primitive(pexport.call_exported_p, X3, M, params={"exported": exp})
    assert report["jvp"].startswith("skipped: forward-mode")  # reverse mode: test above
    assert all(v == "ok" or v.startswith("skipped") for v in report.values())
    assert any(k.startswith("backend[xla]") or k.startswith("jit[") for k in report)


def test_vmap_refused():
    exp = pexport.export(plax.jit(pnp.sin))(X3)
    with plax.default_backend("xla"), pytest.raises(NotImplementedError,
                                                    match="shape polymorphism"):
        plax.vmap(exp.call)(np.stack([X3, X3]))


# ---------------------------------------------------------------------------------------------
# errors


@pytest.fixture(scope="module")
def blob():
    return pexport.export(plax.jit(lambda x, y: x * y))(X3, X3).serialize()


def _with_version(blob: bytes, version: int) -> bytes:
    body = bytearray(blob[:-32])
    struct.pack_into("<I", body, len(b"PLAXEXPORT\x00"), version)
    return bytes(body) + hashlib.sha256(bytes(body)).digest()


def test_corrupted_truncated_foreign_and_other_version(blob):
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="corrupted.*checksum"):
        pexport.deserialize(bytes(bad))
    with pytest.raises(ValueError, match="corrupted"):
        pexport.deserialize(blob[:-100])
    with pytest.raises(ValueError, match="not a plax.export serialization"):
        pexport.deserialize(b"\x00" * 100)
    with pytest.raises(ValueError, match="format version 99.*reads version 1"):
        pexport.deserialize(_with_version(blob, 99))
    assert pexport.deserialize(_with_version(blob, 1)).call is not None
    body = b"PLAXEXPORT\x00" + struct.pack("<II", 1, 2) + b"{}"  # a checksummed empty header
    with pytest.raises(ValueError, match="corrupted.*malformed header"):
        pexport.deserialize(body + hashlib.sha256(body).digest())
    with pytest.raises(TypeError, match="bytes"):
        pexport.deserialize("text")


@requires_jax
def test_jax_serialization_is_not_read():
    import jax
    pytest.importorskip("flatbuffers")
    jblob = jax.export.export(jax.jit(jax.numpy.sin))(X3).serialize()
    with pytest.raises(ValueError, match="not a plax.export serialization"):
        pexport.deserialize(bytes(jblob))


def test_wrong_arguments_at_call(blob):
    exp = pexport.deserialize(blob)
    with plax.default_backend("xla"):
        with pytest.raises(ValueError, match=r"args\[1\] was exported as f32\[3\].*f32\[4\]"):
            exp.call(X3, np.ones(4, np.float32))
        with pytest.raises(ValueError, match=r"args\[0\].*i32\[3\]"):
            exp.call(np.ones(3, np.int32), X3)
        with pytest.raises(ValueError, match="same pytree structure"):
            exp.call(X3)
        with pytest.raises(ValueError, match=r"args\[1\]"):  # under jit too
            plax.jit(exp.call)(X3, np.ones((3, 1), np.float32))


def test_platform_check():
    exp = pexport.export(plax.jit(pnp.cos))(X3)
    other = dataclasses.replace(exp, platforms=("cuda",))
    with plax.default_backend("xla"):
        with pytest.raises(ValueError, match=r"exported for platforms \('cuda',\)"):
            other.call(X3)
        with pytest.raises(ValueError, match="exported for platforms"):
            pexport.deserialize(other.serialize()).call(X3)
        allowed = dataclasses.replace(other, disabled_safety_checks=(
            pexport.DisabledSafetyCheck.platform(),))
        back = pexport.deserialize(allowed.serialize())
        assert back.disabled_safety_checks == (pexport.DisabledSafetyCheck.platform(),)
        np.testing.assert_allclose(np.asarray(back.call(X3)), np.cos(X3), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="multi-platform"):
        pexport.export(plax.jit(pnp.cos), platforms=["cpu", "cuda"])(X3)
    if pexport.default_export_platform() != "tpu":
        with pytest.raises(NotImplementedError, match="cross-platform"):
            pexport.export(plax.jit(pnp.cos), platforms=["tpu"])(X3)


def test_symbolic_shapes_not_implemented():
    for call in (lambda: pexport.symbolic_shape("b, 3"),
                 lambda: pexport.symbolic_args_specs(X3, "b"),
                 lambda: pexport.SymbolicScope()):
        with pytest.raises(NotImplementedError, match="shape polymorphism"):
            call()
    with pytest.raises(NotImplementedError, match="shape polymorphism"):
        pexport.export(plax.jit(pnp.sin))(plax.ShapeDtypeStruct(("b", 3), np.float32))
    assert not pexport.is_symbolic_dim(3)


def test_export_refusals():
    with pytest.raises(ValueError, match="result of `plax.jit`"):
        pexport.export(pnp.sin)(X3)
    with pytest.raises(TypeError, match="DisabledSafetyCheck"):
        pexport.export(plax.jit(pnp.sin), disabled_checks=["platform"])
    cb = plax.jit(lambda x: plax.pure_callback(np.sin, plax.ShapeDtypeStruct((3,), np.float32),
                                               x))
    with pytest.raises(NotImplementedError, match="host"):
        pexport.export(cb)(X3)


# ---------------------------------------------------------------------------------------------
# pytree node serialization


Point = collections.namedtuple("Point", ["x", "y"])
Unregistered = collections.namedtuple("Unregistered", ["a"])


class Box:
    def __init__(self, v, tag):
        self.v, self.tag = v, tag


plax.tree_util.register_pytree_node(Box, lambda b: ((b.v,), b.tag),
                                    lambda tag, ch: Box(ch[0], tag))
pexport.register_namedtuple_serialization(Point, serialized_name="test_export.Point")
pexport.register_pytree_node_serialization(
    Box, serialized_name="test_export.Box", serialize_auxdata=lambda tag: tag.encode(),
    deserialize_auxdata=lambda b: b.decode())


def test_registered_nodes_round_trip():
    def f(p, od):
        return Box(p.x * od["k"], "tagged"), Point(p.y, od["j"])
    od = collections.OrderedDict([("k", X3), ("j", np.float32(2))])
    exp = pexport.export(plax.jit(f))(Point(X3, X3), od)
    back = pexport.deserialize(exp.serialize())
    assert back.in_tree == exp.in_tree and back.out_tree == exp.out_tree
    with plax.default_backend("xla"):
        box, pt = back.call(Point(X3, X3), od)
    assert isinstance(box, Box) and box.tag == "tagged" and isinstance(pt, Point)
    np.testing.assert_allclose(np.asarray(box.v), X3 * X3, rtol=1e-6)
    with pytest.raises(ValueError, match="Duplicate serialization registration"):
        pexport.register_namedtuple_serialization(Point, serialized_name="other")


def test_unregistered_node_refused():
    with pytest.raises(ValueError, match="register_namedtuple_serialization"):
        pexport.export(plax.jit(lambda x: Unregistered(x)))(X3)
    with pytest.raises(NotImplementedError, match="string keys"):
        pexport.export(plax.jit(lambda x: {1: x}))(X3)


def test_lazy_submodule():
    import subprocess
    import sys
    code = ("import sys, plax; assert 'plax._src.export' not in sys.modules; "
            "plax.jit(lambda x: x + 1)(1.0)\n"  # the plugins load: call_exported_p only
            "assert 'plax._src.export' not in sys.modules, 'loaded by the plugins'\n"
            "m = plax.export; assert m.export is not None and 'plax._src.export' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
