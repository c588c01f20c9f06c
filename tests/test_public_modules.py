"""JAX's small public modules as plax has them: plax.typing, plax.custom_derivatives,
plax.custom_batching, plax.stages, plax.version, plax.monitoring and the plax.experimental
aliases, checked against JAX where they compute and by use where they annotate."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_jax

import plax
from plax import numpy as pnp


def test_typing_arraylike_and_dtypelike():
    from plax.typing import ArrayLike, DeviceLike, DTypeLike, Shape
    for x in (np.ones(2), pnp.ones(2), np.float32(1), 1, 2.5, 1j, True):
        assert isinstance(x, ArrayLike), x
    for x in ([1, 2], (1,), "abc", None):  # JAX's ArrayLike takes no sequences nor strings
        assert not isinstance(x, ArrayLike), x
    seen = []
    plax.jit(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(1.0)
    plax.vmap(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(np.ones(2))
    plax.grad(lambda x: seen.append(isinstance(x, ArrayLike)) or x)(1.0)
    assert seen == [True, True, True]
    for d in ("float32", np.float32, np.dtype("int8"), pnp.bfloat16, pnp.ones(1), float):
        assert isinstance(d, DTypeLike), d
    for d in (None, 3, [np.float32]):
        assert not isinstance(d, DTypeLike), d
    assert isinstance(plax.devices()[0], DeviceLike) and isinstance("cpu", DeviceLike)

    def f(x: ArrayLike, dtype: DTypeLike = "float32", shape: Shape = (2,)) -> plax.Array:
        return pnp.broadcast_to(pnp.asarray(x, dtype=dtype), shape)
    assert f(3).dtype == np.float32 and f(3).shape == (2,)


@requires_jax
def test_typing_names_match_jax():
    import jax.typing
    import plax.typing
    assert {n for n in dir(jax.typing) if not n.startswith("_")} <= set(dir(plax.typing))


# ---------------------------------------------------------------------------------------------
# custom_batching


def _plax_custom_sin():
    from plax.custom_batching import custom_vmap

    @custom_vmap
    def f(x, y):
        return {"s": pnp.sin(x) * y, "c": pnp.cos(x)}

    @f.def_vmap
    def rule(axis_size, in_batched, x, y):
        assert isinstance(axis_size, int) and isinstance(in_batched, list)
        xb, yb = in_batched
        # a deliberately different (but checkable) rule: cos instead of sin when batched
        out = {"s": pnp.cos(x) * y, "c": pnp.cos(x) if xb else pnp.cos(x)}
        return out, {"s": xb or yb, "c": xb}
    return f


def _jax_custom_sin():
    import jax.numpy as jnp
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def f(x, y):
        return {"s": jnp.sin(x) * y, "c": jnp.cos(x)}

    @f.def_vmap
    def rule(axis_size, in_batched, x, y):
        xb, yb = in_batched
        return {"s": jnp.cos(x) * y, "c": jnp.cos(x)}, {"s": xb or yb, "c": xb}
    return f


@requires_jax
def test_custom_vmap_matches_jax(backend):
    import jax
    from conftest import assert_close
    f, jf = _plax_custom_sin(), _jax_custom_sin()
    x = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    y = np.float32(1.5)
    cases = [
        (lambda g, v: g(x[0, 0], y), None),  # unbatched: the function itself runs
        (lambda g, v: v(g, (0, None))(x[0], y), None),
        (lambda g, v: v(g, (None, 0))(x[0, 0], x[0]), None),  # only y batched: c unbatched
        (lambda g, v: v(v(g, (0, None)), (0, None))(x, y), None),  # nested vmap
        (lambda g, v: v(g, (1, None))(x, y), None),  # batch axis not first
    ]
    for case, _ in cases:
        got = case(f, plax.vmap)
        expect = case(jf, jax.vmap)
        for k in ("s", "c"):
            assert_close(got[k], expect[k])
        got_j = case(plax.jit(f), plax.vmap)  # vmap of jit: the rule applies to the jaxpr
        assert_close(got_j["s"], expect["s"])
    got = plax.jit(plax.vmap(f, (0, None)))(x[0], y)
    assert_close(got["s"], jax.vmap(jf, (0, None))(x[0], y)["s"])


@requires_jax
def test_custom_vmap_jvp_matches_jax(backend):
    import jax
    from conftest import assert_close
    f, jf = _plax_custom_sin(), _jax_custom_sin()
    x = np.linspace(0, 1, 3, dtype=np.float32)
    y, ty = np.float32(2.0), np.float32(0.5)
    tx = np.ones(3, np.float32)
    # jvp of vmap (primal and tangent batched alike), vmap of jvp (tangent unbatched while the
    # primal is batched, and the other way round)
    for p_call, j_call in [
        (lambda: plax.jvp(plax.vmap(f, (0, None)), (x, y), (tx, ty)),
         lambda: jax.jvp(jax.vmap(jf, (0, None)), (x, y), (tx, ty))),
        (lambda: plax.vmap(lambda a: plax.jvp(f, (a, y), (np.float32(1), ty)))(x),
         lambda: jax.vmap(lambda a: jax.jvp(jf, (a, y), (np.float32(1), ty)))(x)),
        (lambda: plax.vmap(lambda t: plax.jvp(f, (x[1], y), (t, ty)))(tx * 2),
         lambda: jax.vmap(lambda t: jax.jvp(jf, (x[1], y), (t, ty)))(tx * 2)),
        (lambda: plax.jit(plax.vmap(plax.jacfwd(lambda a: f(a, y)["s"])))(x),
         lambda: jax.vmap(jax.jacfwd(lambda a: jf(a, y)["s"]))(x)),
    ]:
        got, expect = p_call(), j_call()
        for leaf, want in zip(plax.tree_util.tree_leaves(got),
                              jax.tree_util.tree_leaves(expect)):
            assert_close(leaf, want)


def test_sequential_vmap(backend):
    from plax.custom_batching import sequential_vmap
    calls = []

    @sequential_vmap
    def f(x, y):
        calls.append(np.shape(x))
        return pnp.sum(x) * y

    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = plax.vmap(f, (0, None))(x, np.float32(2))
    np.testing.assert_allclose(np.asarray(out), x.sum(1) * 2)
    assert (2,) in calls and (3, 2) not in calls  # the function saw one row at a time
    out2 = plax.vmap(f)(x, np.arange(3, dtype=np.float32))
    np.testing.assert_allclose(np.asarray(out2), x.sum(1) * np.arange(3))


def test_custom_vmap_errors():
    from plax.custom_batching import custom_vmap

    @custom_vmap
    def f(x):
        return x * 2

    with pytest.raises(AttributeError, match="No batching rule defined"):
        f(1.0)
    with pytest.raises(TypeError, match="vmap_rule must be callable"):
        f.def_vmap(3)
    f.def_vmap(lambda n, b, x: (x * 2, [True]))
    with pytest.raises(ValueError, match="do not match"):
        plax.vmap(f)(np.ones(3, np.float32))
    f.def_vmap(lambda n, b, x: (x[0] * 2, True))
    with pytest.raises(ValueError, match=r"shape \(\) marked batched"):
        plax.vmap(f)(np.ones(3, np.float32))
    f.def_vmap(lambda n, b, x: x * 2)
    with pytest.raises(TypeError, match="must return a pair"):
        plax.vmap(f)(np.ones(3, np.float32))
    f.def_vmap(lambda n, b, x: (x * 2, b[0]))

    def closes_over(y):
        g = custom_vmap(lambda x: x * y)
        g.def_vmap(lambda n, b, x: (x * y, b[0]))
        return g(np.float32(1))
    with pytest.raises(ValueError, match="closes over a value that is batched"):
        plax.vmap(closes_over)(np.ones(3, np.float32))
    with pytest.raises(NotImplementedError, match="custom_vmap function is not supported"):
        plax.grad(f)(1.0)


def test_custom_derivatives_names():
    import plax.custom_derivatives as cd
    assert cd.custom_jvp is plax.custom_jvp and cd.custom_vjp is plax.custom_vjp
    assert cd.closure_convert is plax.closure_convert
    assert cd.custom_gradient is plax.custom_gradient
    assert cd.custom_jvp_call_p.name == "custom_jvp_call"

    @cd.custom_jvp
    def f(x):
        return pnp.sin(x)
    f.defjvps(lambda t, ans, x: 3.0 * t)
    assert float(plax.grad(f)(0.5)) == 3.0


# ---------------------------------------------------------------------------------------------
# stages, version, monitoring and the plax.experimental import paths


def test_stages_types():
    import plax.stages as stages
    f = plax.jit(lambda x: x * 2)
    lowered = f.lower(np.float32(1))
    assert isinstance(f, stages.Wrapped) and isinstance(lowered, stages.Lowered)
    compiled = lowered.compile()
    assert isinstance(compiled, stages.Compiled) and float(compiled(np.float32(3))) == 6.0
    assert isinstance(f.trace(np.float32(1)), stages.Traced)


@requires_jax
def test_stages_args_info_and_out_info_match_jax():
    import jax

    import plax.stages as stages
    x, y, z = np.float32(1), np.ones(2, np.float32), np.float32(3)
    infos = []
    for m in (plax, jax):
        lowered = m.jit(lambda a, b, c=1.0, *, s=2: (a, {"b": b * c * s}), donate_argnums=1,
                        static_argnames="s").lower(x, y, c=z, s=3)
        compiled = lowered.compile()
        infos.append((lowered.args_info, lowered.out_info, compiled.args_info,
                      compiled.out_info))
    ours, theirs = infos
    args, jargs = ours[0], theirs[0]
    assert isinstance(args[0][0], stages.ArgInfo)
    flat = plax.tree_util.tree_leaves(args)
    jflat = jax.tree_util.tree_leaves(jargs)
    assert [(a.shape, a.dtype, a.donated) for a in flat] == [
        (a.shape, a.dtype, a.donated) for a in jflat]
    assert ours[2] == ours[0]
    for info, jinfo in ((ours[1], theirs[1]), (ours[3], theirs[3])):
        assert [(o.shape, o.dtype) for o in plax.tree_util.tree_leaves(info)] == [
            (o.shape, o.dtype) for o in jax.tree_util.tree_leaves(jinfo)]
        assert set(info[1]) == {"b"}


def test_version():
    import plax.version
    assert plax.version.__version__ == plax.__version__
    assert plax.version.__version_info__ == tuple(int(p) for p in plax.__version__.split("."))


def test_monitoring_listeners_and_compile_event():
    from plax import monitoring
    events, durations, spans, scalars = [], [], [], []
    listeners = [lambda e, **k: events.append((e, k)),
                 lambda e, d, **k: durations.append((e, d, k)),
                 lambda e, s, t, **k: spans.append((e, t - s, k)),
                 lambda e, v, **k: scalars.append((e, v, k))]
    registers = [monitoring.register_event_listener,
                 monitoring.register_event_duration_secs_listener,
                 monitoring.register_event_time_span_listener,
                 monitoring.register_scalar_listener]
    unregisters = [monitoring.unregister_event_listener,
                   monitoring.unregister_event_duration_listener,
                   monitoring.unregister_event_time_span_listener,
                   monitoring.unregister_scalar_listener]
    for reg, cb in zip(registers, listeners):
        reg(cb)
    try:
        monitoring.record_event("/my/event", step=3)
        monitoring.record_event_duration_secs("/my/duration", 0.5, tag="a")
        monitoring.record_event_time_span("/my/span", 1.0, 3.5)
        monitoring.record_scalar("/my/scalar", 7)
        plax.jit(lambda x: x * 3 + 1)(np.arange(5, dtype=np.float32))  # one compilation
        assert events == [("/my/event", {"step": 3})]
        assert durations[0] == ("/my/duration", 0.5, {"tag": "a"})
        assert spans[0] == ("/my/span", 2.5, {})
        assert scalars == [("/my/scalar", 7, {})]
        compile_events = [d for d in durations if d[0] == monitoring.BACKEND_COMPILE_EVENT]
        assert len(compile_events) == 1 and compile_events[0][1] >= 0
        assert compile_events[0][2]["fun_name"] == "jit(<lambda>)"
        assert any(s[0] == monitoring.BACKEND_COMPILE_EVENT for s in spans)
    finally:
        for unreg, cb in zip(unregisters, listeners):
            unreg(cb)
    with pytest.raises(ValueError, match="is not registered"):
        monitoring.unregister_event_listener(listeners[0])
    with pytest.raises(TypeError, match="callback must be callable"):
        monitoring.register_event_listener(3)
    monitoring.register_scalar_listener(listeners[3])
    monitoring.clear_event_listeners()
    monitoring.record_scalar("/after/clear", 1)
    assert len(scalars) == 1


@requires_jax
def test_mesh_utils_match_jax():
    import jax
    from jax.experimental import mesh_utils as jmu

    from plax.experimental import mesh_utils
    devs, jdevs = plax.devices() * 4, jax.devices() * 4
    mesh = mesh_utils.create_device_mesh((2, 2), devs)
    jmesh = jmu.create_device_mesh((2, 2), jdevs)
    assert mesh.shape == jmesh.shape == (2, 2)
    assert [d.id for d in mesh.flat] == [d.id for d in jmesh.flat]
    assert mesh_utils.create_device_mesh((len(plax.devices()),)).tolist() == plax.devices()
    hybrid = mesh_utils.create_hybrid_device_mesh((2, 2), (1, 1), devs, process_is_granule=True)
    jhybrid = jmu.create_hybrid_device_mesh((2, 2), (1, 1), jdevs, process_is_granule=True)
    assert hybrid.shape == jhybrid.shape
    with pytest.raises(ValueError, match="must equal the product of mesh_shape"):
        mesh_utils.create_device_mesh((3,), devs)
    with pytest.raises(ValueError, match="should be a sequence of ints"):
        mesh_utils.create_device_mesh((1.5,), devs)
    with pytest.raises(ValueError, match="must equal the product of dcn_mesh_shape"):
        mesh_utils.create_hybrid_device_mesh((2, 2), (2,), devs, process_is_granule=True)
    # a mesh from create_device_mesh drives plax.sharding.Mesh
    from plax.sharding import Mesh
    assert Mesh(mesh_utils.create_device_mesh((1,), plax.devices()[:1]), ("x",)).shape == {
        "x": 1}


def test_experimental_aliases(tmp_path):
    from plax.experimental import checkify as ck
    from plax.experimental.compilation_cache import compilation_cache as cc
    from plax.experimental.pjit import pjit
    from plax.experimental.shard_map import shard_map
    assert shard_map is plax.shard_map and pjit is plax.jit
    assert ck.checkify is plax.checkify.checkify and ck.check is plax.checkify.check
    try:
        cc.set_cache_dir(tmp_path)
        assert plax.config.compilation_cache_dir == str(tmp_path)
        out = plax.jit(lambda x: x * 7 - 1, backend="xla")(np.arange(3, dtype=np.float32))
        np.testing.assert_allclose(np.asarray(out), np.arange(3) * 7 - 1)
        assert any(tmp_path.iterdir())  # the executable went to the cache directory
    finally:
        cc.reset_cache()
    assert plax.config.compilation_cache_dir is None
    with pytest.raises(TypeError, match="path must be a str"):
        cc.set_cache_dir(3)


def _symbolic_rule_function(lib, xn, sym_zero):
    """f(x, y) = sin(x) * y whose jvp rule (symbolic_zeros=True) tells which tangents are
    symbolic zeros by scaling the parts (10 for x's, 100 for y's) and returns a symbolic zero
    when both are."""
    @lib.custom_jvp
    def f(x, y):
        return xn.sin(x) * y

    def rule(primals, tangents):
        x, y = primals
        tx, ty = tangents
        out = f(x, y)
        if type(tx) is sym_zero and type(ty) is sym_zero:
            return out, sym_zero.from_primal_value(out)
        t = 0.0
        if type(tx) is not sym_zero:
            t = t + xn.cos(x) * y * tx * 10
        if type(ty) is not sym_zero:
            t = t + xn.sin(x) * ty * 100
        return out, t * xn.ones_like(out)
    f.defjvp(rule, symbolic_zeros=True)
    return f


@requires_jax
def test_custom_jvp_symbolic_zeros_match_jax(backend):
    import jax
    import jax.numpy as jnp
    from conftest import assert_close
    from jax.custom_derivatives import SymbolicZero as JaxSymbolicZero

    import plax.custom_derivatives as cd
    pf = _symbolic_rule_function(plax, pnp, cd.SymbolicZero)
    jf = _symbolic_rule_function(jax, jnp, JaxSymbolicZero)
    x, y, v = np.float32(0.5), np.float32(2.0), np.linspace(0, 1, 3, dtype=np.float32)
    cases = [
        lambda g, m: m.grad(g)(x, y), lambda g, m: m.grad(g, 1)(x, y),
        lambda g, m: m.jit(m.grad(g))(x, y),
        lambda g, m: m.vmap(m.grad(g))(v, v + 1),
        lambda g, m: m.grad(lambda a: m.vmap(g, (0, None))(a, y).sum())(v),
        lambda g, m: m.jvp(g, (x, y), (np.float32(1), np.float32(0))),
        lambda g, m: m.vmap(lambda a: m.jvp(lambda b: g(b, y), (a,), (np.float32(1),)))(v),
        lambda g, m: m.jit(m.vmap(m.grad(g), (0, None)))(v, y),
    ]
    for case in cases:
        got, want = case(pf, plax), case(jf, jax)
        for leaf, expect in zip(plax.tree_util.tree_leaves(got),
                                jax.tree_util.tree_leaves(want)):
            assert_close(leaf, expect)


def _symbolic_vjp_function(lib, xn, cd, log):
    """f(x, y) = (sin(x) * y, x * 3) with a symbolic_zeros custom_vjp: fwd logs which
    arguments are perturbed, bwd logs which cotangents are symbolic zeros, scales the parts it
    computes (10 / 100 / 1000) so a test sees which ran, and returns a SymbolicZero for y when
    the first output's cotangent is one."""
    @lib.custom_vjp
    def f(x, y):
        return xn.sin(x) * y, x * 3.0

    def fwd(x, y):
        log.append(("fwd", bool(x.perturbed), bool(y.perturbed)))
        xv, yv = cd.custom_vjp_primal_tree_values((x, y))
        return f(xv, yv), (xv, yv)

    def bwd(res, cts):
        xv, yv = res
        ca, cb = cts
        za, zb = type(ca) is cd.SymbolicZero, type(cb) is cd.SymbolicZero
        log.append(("bwd", za, zb))
        gx = 0.0 * xv
        if not za:
            gx = gx + xn.cos(xv) * yv * ca * 10
        if not zb:
            gx = gx + cb * 1000
        gy = cd.SymbolicZero.from_primal_value(yv) if za else xn.sin(xv) * ca * 100
        return gx, gy
    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


@requires_jax
def test_custom_vjp_symbolic_zeros_match_jax(backend):
    import jax
    import jax.custom_derivatives as jcd
    import jax.numpy as jnp
    from conftest import assert_close

    import plax.custom_derivatives as cd
    plog, jlog = [], []
    pf = _symbolic_vjp_function(plax, pnp, cd, plog)
    jf = _symbolic_vjp_function(jax, jnp, jcd, jlog)
    x, y, v = np.float32(0.5), np.float32(2.0), np.linspace(0, 1, 3, dtype=np.float32)
    cases = [
        lambda g, m: m.grad(lambda a, b: g(a, b)[0])(x, y),
        lambda g, m: m.grad(lambda a, b: g(a, b)[0], 1)(x, y),
        lambda g, m: m.grad(lambda a, b: g(a, b)[1])(x, y),  # the first output unused
        lambda g, m: m.grad(lambda a, b: g(a, b)[1], (0, 1))(x, y),
        lambda g, m: m.jit(m.grad(lambda a, b: sum(g(a, b)), (0, 1)))(x, y),
        lambda g, m: m.vjp(g, x, y)[1]((np.float32(1), np.float32(2))),
        lambda g, m: m.vmap(m.grad(lambda a, b: g(a, b)[0]))(v, v + 1),
    ]
    for case in cases:
        del plog[:], jlog[:]
        got, want = case(pf, plax), case(jf, jax)
        for leaf, expect in zip(plax.tree_util.tree_leaves(got),
                                jax.tree_util.tree_leaves(want)):
            assert_close(leaf, expect)
        assert plog == jlog, (plog, jlog)
    # fwd's view of a perturbed argument
    p = cd.CustomVJPPrimal(np.float32(1), True)
    assert p.value == 1 and p.perturbed and "perturbed=True" in repr(p)
    with pytest.raises(TypeError, match="CustomVJPPrimal"):
        cd.custom_vjp_primal_tree_values((p, 3.0))


def test_symbolic_zero_and_zero_from_primal():
    import plax.custom_derivatives as cd
    z = cd.SymbolicZero.from_primal_value(np.ones((2, 3), np.float32))
    assert z.shape == (2, 3) and z.dtype == np.float32 and z.ndim == 2
    np.testing.assert_array_equal(np.asarray(z.instantiate()), np.zeros((2, 3)))
    tree = {"a": np.ones(2, np.float32), "b": np.float32(1)}
    zs = cd.zero_from_primal(tree, symbolic_zeros=True)
    assert type(zs["a"]) is cd.SymbolicZero and zs["a"].shape == (2,)
    zeros = cd.zero_from_primal(tree)
    np.testing.assert_array_equal(np.asarray(zeros["a"]), [0, 0])
    assert zeros["b"].shape == ()
