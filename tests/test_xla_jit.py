"""jit on the xla backend: one compilation per signature and no host traffic in a hot loop,
nested jit as private functions, `lower().as_text()` as StableHLO, grad and vmap under jit
against eager reference results, donation, the eager per-primitive cache, and the errors for
unsupported primitives, broken lowering rules and collectives outside pmap."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close

import plax
import plax.lax as lax
from plax._src import registry as core_registry
from plax.extend import (
    Primitive, ShapedArray, UnsupportedPrimitiveError, make_array, registry)


@pytest.fixture
def xla():
    with plax.default_backend("xla"):
        yield registry.get_backend("xla")


def on_reference(fn, *args):
    with plax.default_backend("reference"):
        return fn(*args)


def mlp(params, x):
    (w1, b1), (w2, b2) = params
    h = lax.tanh(lax.add(lax.dot(x, w1), lax.expand_dims(b1, (0,))))
    out = lax.add(lax.dot(h, w2), lax.expand_dims(b2, (0,)))
    return lax.reduce_sum(lax.mul(out, out), (0, 1))


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((4, 8)).astype(np.float32) * 0.5,
             rng.standard_normal(8).astype(np.float32) * 0.1),
            (rng.standard_normal((8, 3)).astype(np.float32) * 0.5,
             rng.standard_normal(3).astype(np.float32) * 0.1)]


def test_jit_loop_compiles_once_and_never_touches_the_host(xla):
    step = plax.jit(lambda x, y: lax.add(lax.mul(lax.sin(x), y), x))
    x0 = np.linspace(-1, 1, 16).astype(np.float32)
    y = plax.device_put(np.full(16, 0.5, np.float32))
    x = plax.device_put(x0)
    before = dict(xla.stats)
    for _ in range(1000):
        x = step(x, y)
    x.block_until_ready()
    after = xla.stats
    assert after["compiles"] - before.get("compiles", 0) == 1
    assert after["device_to_host"] == before.get("device_to_host", 0)
    assert after["host_to_device"] == before.get("host_to_device", 0)
    assert step._cache_size() == 1 and x.backend == "xla"
    expected = x0
    for _ in range(1000):
        expected = np.sin(expected) * np.float32(0.5) + expected
    assert_close(x, expected, rtol=1e-4, atol=1e-4)


def _profile_calls(fn, n):
    """Run fn() n times under sys.setprofile; count Python frames by (file, function). A
    count, not a clock: the machine's load cannot move it; the collector is off meanwhile so
    that no finalizer a collection happens to run is counted as part of the call."""
    import collections
    import gc
    import sys
    counts: collections.Counter = collections.Counter()

    def prof(frame, event, arg):
        if event == "call":
            code = frame.f_code
            counts[(code.co_filename, code.co_name)] += 1
    enabled = gc.isenabled()
    gc.disable()
    sys.setprofile(prof)
    try:
        for _ in range(n):
            fn()
    finally:
        sys.setprofile(None)
        if enabled:
            gc.enable()
    return counts


def _plax_files() -> set[str]:
    import pathlib
    import plax_transforms
    import plax_xla
    roots = [pathlib.Path(m.__file__).parent for m in (plax, plax_transforms, plax_xla)]
    return {str(p) for r in roots for p in r.rglob("*.py")}


_PLAX_FILES = _plax_files()


def test_eager_op_is_one_launch_and_few_frames(xla):
    # an eager primitive on Arrays: bind, the dispatch, the launch and the result Array (plus
    # the rule checks this test suite turns on), counted by a profile hook, not a clock
    x = plax.device_put(np.ones(3, np.float32))
    for _ in range(5):
        lax.add(x, x)
    before = dict(xla.stats)
    counts = _profile_calls(lambda: lax.add(x, x), 100)
    ours = {k: c for k, c in counts.items() if k[0] in _PLAX_FILES}
    # add, bind, dispatch, launch, Array; not counted: the rule checks this suite turns on and
    # config's __getattr__, which runs for options some thread overrides (as the fixture does)
    frames = sum(c for (_, name), c in ours.items()
                 if name not in ("check_outputs", "buffer_shape_dtype", "__getattr__")) / 100
    assert frames <= 5, sorted(ours.items(), key=lambda kv: -kv[1])
    assert not any(name in ("abstract_eval", "eager_runner") for _, name in counts), counts
    assert {k: xla.stats[k] - before.get(k, 0) for k in xla.stats} == {k: 0 for k in xla.stats}


def test_operator_on_equal_avals_binds_the_primitive_directly(xla):
    # x + y, x - y, x * y on two Arrays of one aval skip plax.numpy's promotion: the operator,
    # the dispatch, the launch and the result Array; same values, dtypes and weak types as
    # plax.numpy's functions (bool: or/and, not a lax add), no compile or transfer when warm
    x = plax.device_put(np.arange(3, dtype=np.float32))
    y = plax.device_put(np.array([2.0, -1.0, 0.5], np.float32))
    for _ in range(3):
        x + y, x - y, x * y
    before = dict(xla.stats)
    counts = _profile_calls(lambda: x + y, 100)
    ours = {k: c for k, c in counts.items() if k[0] in _PLAX_FILES}
    frames = sum(c for (_, name), c in ours.items()
                 if name not in ("check_outputs", "buffer_shape_dtype", "__getattr__")) / 100
    assert frames <= 4, sorted(ours.items(), key=lambda kv: -kv[1])
    assert {k: xla.stats[k] - before.get(k, 0) for k in xla.stats} == {k: 0 for k in xla.stats}
    xn, yn = np.asarray(x), np.asarray(y)
    for got, want in ((x + y, xn + yn), (x - y, xn - yn), (x * y, xn * yn)):
        assert got.dtype == np.float32 and not got.weak_type
        assert_close(got, want)
    b = plax.device_put(np.array([True, False, True]))
    c = plax.device_put(np.array([True, True, False]))
    assert (b + c).dtype == np.bool_ and list(np.asarray(b + c)) == [True, True, True]
    assert list(np.asarray(b * c)) == [True, False, False]
    with pytest.raises(TypeError):
        b - c
    w = plax.numpy.asarray(2.0)  # weak float32 on both sides stays weak
    assert (w + w).weak_type and (w * w).weak_type
    i = plax.device_put(np.array([7, -3], np.int32))
    assert (i * i).dtype == np.int32 and list(np.asarray(i * i)) == [49, 9]
    # traced: the same operators under grad and vmap
    g = plax.grad(lambda v: plax.numpy.sum(v * v - v + v))(x)
    assert_close(g, 2 * xn)
    assert_close(plax.vmap(lambda v: v * v)(x), xn * xn)


def test_jit_hot_path_follows_option_changes(xla):
    # the one-Array hot path compares config.jit_state by identity: turning debug_nans, x64 or
    # disable_jit on after warm calls takes effect on the next call, and back
    f = plax.jit(lambda a: plax.numpy.log(a))
    x = plax.device_put(np.array([-1.0, 1.0], np.float32))
    for _ in range(3):
        f(x)
    with plax.debug_nans(True):
        with pytest.raises(FloatingPointError):
            f(x)
    assert np.isnan(np.asarray(f(x))[0])
    calls = []
    g = plax.jit(lambda a: calls.append(1) or a * 2)
    one = plax.device_put(np.ones(2, np.float32))
    for _ in range(3):
        g(one)
    assert len(calls) == 1  # traced once, then the hot path
    with plax.disable_jit():
        g(one)
    assert len(calls) == 2  # run as Python
    with plax.enable_x64(True):
        assert g(one).dtype == np.float32
    assert len(calls) == 3  # x64 is part of the cache key: traced again
    g(one)
    assert len(calls) == 3


def _jit_kinds():
    from plax_transforms import jit as jit_module
    if not jit_module.ACCELERATED:  # (not built, or PLAX_JIT_PURE_PYTHON=1)
        return [pytest.param(jit_module.JitFunction, id="python")]

    class PyJit(jit_module._PyCall, jit_module.JitFunction):
        """JitFunction with the pure-Python hot path even where the C one is built."""
    return [pytest.param(PyJit, id="python"), pytest.param(jit_module.JitFunction, id="c")]


@pytest.mark.parametrize("make", _jit_kinds())
def test_jit_hot_path_python_and_c_agree(xla, make):
    # the one-Array hot path (jit.py's _PyCall, or _fastjit.c where it was built): results,
    # committed flags, consts, several outputs, the default backend, option changes, deleted
    # arguments; each warm call one launch, no trace, compile or transfer
    c = plax.device_put(np.array([1.0, 2.0, 3.0], np.float32))  # closed over: a const
    f = make(lambda a: a * c + 1.0)
    two = make(lambda a: (a + 1.0, [a * 2.0]))
    x = plax.device_put(np.arange(3, dtype=np.float32))  # uncommitted
    xc = plax.device_put(np.arange(3, dtype=np.float32), plax.devices("xla")[0])
    for _ in range(3):
        f(x), two(x)
    before = dict(xla.stats)
    for _ in range(20):
        out = f(x)
        a, (b,) = two(x)
    assert {k: xla.stats[k] - before.get(k, 0) for k in xla.stats} == {k: 0 for k in xla.stats}
    assert_close(out, np.arange(3) * np.array([1, 2, 3]) + 1.0)
    assert_close(a, np.arange(3) + 1.0)
    assert_close(b, np.arange(3) * 2.0)
    assert type(out) is plax.Array and not out.committed and out.backend == "xla"
    assert f(xc).committed and two(xc)[1][0].committed and f(xc).aval == out.aval
    assert not f(x).committed  # back to the uncommitted call
    moved = on_reference(lambda: f(x))  # uncommitted: follows the default backend
    assert moved.backend == "reference" and f(x).backend == "xla"
    y = plax.device_put(np.array([-1.0, 1.0], np.float32))
    g = make(lambda a: plax.numpy.log(a))
    for _ in range(3):
        g(y)
    with plax.debug_nans(True):
        with pytest.raises(FloatingPointError):
            g(y)
    with plax.enable_x64(True):
        assert g(y).dtype == np.float32
    # an update of `backend` empties the registry's default-backend cache the hot path
    # reads: the next call refills it, and later calls are hot again (no _call_arrays)
    opt = plax.config._option("backend")
    before = (opt.value, opt.is_set)
    plax.config.update("backend", "xla")
    try:
        f(x), f(x)
        counts = _profile_calls(lambda: f(x), 10)
        assert not any(name in ("_call_arrays", "_execute") for _, name in counts), counts
    finally:  # as it was: set to its value, or not set at all (the default's priority rule)
        if before[1]:
            plax.config.update("backend", before[0])
        else:
            plax.config.reset("backend")
    z = plax.device_put(np.ones(3, np.float32))
    for _ in range(3):
        f(z)
    z.delete()
    with pytest.raises(RuntimeError, match="deleted"):
        f(z)



@pytest.mark.parametrize("make", _jit_kinds())
def test_jit_hot_path_reads_the_calling_threads_trace(xla, make):
    # the hot path runs only under the eval trace of the thread that calls: a hot function
    # called while this thread traces is staged into that trace, while another thread traces
    # it still runs at once, and a new thread (its own trace context) starts on the eval trace
    import threading
    x = plax.device_put(np.arange(3, dtype=np.float32))
    f = make(lambda a: a * 2.0 + 1.0)
    for _ in range(3):
        f(x)
    jaxpr = plax.make_jaxpr(lambda t: f(x) + t)(np.float32(1.0))
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns] == ["jit", "add"], jaxpr
    tracing, release, seen = threading.Event(), threading.Event(), {}

    def tracer_thread():
        def g(t):
            tracing.set()
            release.wait(10)
            seen["inside"] = f(x)  # this thread traces: staged, a Tracer
            return seen["inside"] + t
        seen["jaxpr"] = plax.make_jaxpr(g)(np.float32(1.0))

    t = threading.Thread(target=tracer_thread)
    t.start()
    try:
        assert tracing.wait(10)
        out = f(x)  # meanwhile, on this thread: the eval trace, run at once
        assert type(out) is plax.Array
        assert_close(out, np.arange(3) * 2.0 + 1.0)
        fresh = {}
        u = threading.Thread(target=lambda: fresh.setdefault("out", f(x)))
        u.start()
        u.join(10)
        assert type(fresh["out"]) is plax.Array
    finally:
        release.set()
        t.join(10)
    assert type(seen["inside"]) is not plax.Array
    assert [e.primitive.name for e in seen["jaxpr"].jaxpr.eqns] == ["jit", "add"]
    assert type(f(x)) is plax.Array  # and hot again here

def test_config_derived_values_follow_each_threads_overrides():
    # a derived option read while some thread overrides one of its inputs is that thread's
    # own value; an update in between makes every thread recompute it
    import threading
    from plax._src.config import config
    base = config.jit_state
    x64 = base[0][0]  # jit_state[0]: the trace context, whose first value is the x64 mode
    inside, seen = threading.Event(), {}
    done = threading.Event()

    def other():
        with plax.enable_x64(not x64):
            seen["other"] = config.jit_state
            inside.set()
            done.wait(10)
            seen["other again"] = config.jit_state

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    assert config.jit_state is base  # this thread: no override
    assert seen["other"][0][0] is (not x64) and seen["other"][0][1:] == base[0][1:]
    assert seen["other"][1:] == base[1:]
    with config.override("debug_nans", True):
        assert config.jit_state[3] is True and config.jit_state is not base
    assert config.jit_state is base
    done.set()
    t.join(10)
    assert seen["other again"] is seen["other"]


def test_eager_cache_tells_params_backends_and_avals_apart(xla):
    # the per-primitive last-run slot must miss when only the params, the input avals (weak
    # types included) or the backend differ
    x = plax.device_put(np.arange(6, dtype=np.float32).reshape(2, 3))
    for _ in range(2):
        assert_close(lax.reduce_sum(x, axes=(0,)), np.array([3, 5, 7], np.float32))
        assert_close(lax.reduce_sum(x, axes=(1,)), np.array([3, 12], np.float32))
    w = plax.numpy.asarray(2.0)  # weak float32
    s = plax.numpy.asarray(np.float32(2.0))
    assert lax.mul(w, w).aval.weak_type and not lax.mul(s, s).aval.weak_type
    assert lax.mul(w, w).aval.weak_type
    assert lax.add(x, x).backend == "xla"
    y = on_reference(lambda: plax.device_put(np.ones((2, 3), np.float32)))
    assert on_reference(lambda: lax.add(y, y)).backend == "reference"
    assert lax.add(x, x).backend == "xla"


def test_jit_hot_path_follows_the_default_backend(xla):
    # uncommitted arguments run where the default backend is now, also on the hot path
    f = plax.jit(lambda a: a * 2.0)
    x = plax.numpy.ones(3)  # uncommitted, on xla
    for _ in range(3):
        assert f(x).backend == "xla"
    out = on_reference(lambda: f(x))
    assert out.backend == "reference" and not out.committed
    assert_close(out, np.full(3, 2.0, np.float32))
    assert f(x).backend == "xla"
    c = plax.device_put(np.ones(3, np.float32), plax.devices("xla")[0])  # committed
    assert on_reference(lambda: f(c)).backend == "xla"


def test_jit_hot_path_pytree_arguments(xla):
    # the hot path reuses the last call's tree to find the leaves: any other tree (a missing
    # key, a longer list, a subtree or None where a leaf was) still gets its own trace
    f = plax.jit(lambda t: sum(plax.numpy.sum(v) for v in plax.tree_util.tree_leaves(t)))
    one = plax.device_put(np.ones(2, np.float32))
    trees = [{"a": [one, one], "b": one}, {"a": [one, one], "b": one},
             {"a": [one, one, one], "b": one}, {"a": [one, one]},
             {"a": [one, [one, one]], "b": one}, {"a": [one, None], "b": one},
             {"a": [one, one], "b": one}]
    for t in trees:
        n = len(plax.tree_util.tree_leaves(t))
        assert float(f(t)) == 2.0 * n
    assert f._cache_size() == 5
    counts = _profile_calls(lambda: f(trees[0]), 50)
    assert not any(name in ("trace_to_jaxpr", "tree_flatten") for _, name in counts), counts


def test_jitted_call_is_one_launch_and_few_frames(xla):
    # counts instead of a stopwatch: a warm jitted call is one jaxlib launch, a handful of
    # Python frames, no compile, no trace and no host transfer (timings live in bench/)
    f = plax.jit(lambda a: lax.add(a, a))
    x = plax.device_put(np.ones(3, np.float32))
    exe = xla.compile(plax.make_jaxpr(lambda a: [lax.add(a, a)])(x))
    for _ in range(5):
        f(x)
    before = dict(xla.stats)
    # the C hot path makes the runner's two jaxlib calls itself (its `launch`: no Python frame
    # to count), so the launch is counted through a wrapper put in its place; the Python path
    # calls the runner (a frame in _jaxlib.py)
    hot, wrapped = f._last, []
    assert hot[10] is not None  # plax_xla's runner names its two jaxlib calls
    execute_sharded, method, handlers = hot[10]
    assert execute_sharded.__name__ == "execute_sharded" and method == "consume_with_handlers"

    def counted(bufs):
        wrapped.append(1)
        return execute_sharded(bufs)
    f._last = hot[:10] + ((counted, method, handlers),)
    counts = _profile_calls(lambda: f(x), 200)
    launches = sum(c for (file, _), c in counts.items() if file.endswith("/_jaxlib.py"))
    from plax_transforms import jit as jit_module
    if jit_module.ACCELERATED:  # the C path makes the launch's calls: no runner frame
        assert (len(wrapped), launches) == (200, 0), counts
    else:  # the Python path calls the runner
        assert (len(wrapped), launches) == (0, 200), counts
    counts.pop((__file__, "counted"), None)
    # a deterministic count (a profile hook, not a clock: the machine's load cannot move it) of
    # plax's own frames; other libraries' callbacks (gc hooks of the JAX oracle) are not plax's
    ours = {k: c for k, c in counts.items() if k[0] in _PLAX_FILES}
    # the call, the launch and the result Array: nothing else on the hot path (config's
    # __getattr__ runs for options some thread overrides, as the fixture does `backend`)
    plax_frames = sum(c for k, c in ours.items() if k[1] != "__getattr__")
    assert plax_frames <= 3 * 200, sorted(ours.items(), key=lambda kv: -kv[1])[:12]
    assert not any(name in ("trace_to_jaxpr", "compile", "lower_closed_jaxpr")
                   for _, name in counts), counts
    assert {k: xla.stats[k] - before.get(k, 0) for k in xla.stats} == {
        k: 0 for k in xla.stats}
    # the compiled executable called directly: one launch per call as well
    counts = _profile_calls(lambda: exe([x._buf]), 50)
    assert sum(c for (file, _), c in counts.items() if file.endswith("/_jaxlib.py")) == 50, counts
    assert_close(f(x), np.full(3, 2, np.float32))
    # anything but a (f, method, arg) tuple there: the runner itself
    f._last = hot[:10] + ("not a launch",)
    assert_close(f(x), np.full(3, 2, np.float32))
    f._last = hot


def test_nested_jit_is_one_private_function(xla):
    inner = plax.jit(lambda v: lax.mul(lax.cos(v), v))
    outer = plax.jit(lambda v: lax.add(inner(v), inner(lax.mul(v, 2.0))))
    x = np.arange(5, dtype=np.float32)
    text = outer.lower(x).as_text()
    assert text.count("func.func private") == 1
    assert text.count("call @") == 2 and "stablehlo.cosine" in text
    assert_close(outer(x), on_reference(outer, x))


def test_lower_as_text_is_verified_stablehlo(xla):
    f = plax.jit(lambda a, b: (lax.sin(lax.mul(a, b)), lax.reduce_max(a, (0,))))
    text = f.lower(np.ones((2, 3), np.float32), np.float32(2)).as_text()
    assert text.startswith("module @jit")
    for piece in ("func.func public @main(", "tensor<2x3xf32>", "stablehlo.sine",
                  "stablehlo.multiply", "stablehlo.reduce", "stablehlo.broadcast_in_dim"):
        assert piece in text, piece
    assert plax.jit(f).lower(np.ones((2, 3), np.float32), np.float32(2)).compile()(
        np.ones((2, 3), np.float32), np.float32(2))[1].shape == (3,)


def test_grad_and_vmap_under_jit_match_eager_reference(xla):
    params = make_params()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    cases = [
        (plax.jit(plax.grad(mlp)), (params, x)),
        (plax.grad(plax.jit(mlp)), (params, x)),
        (plax.jit(plax.vmap(mlp, (None, 0))), (params, x[:, None])),
        (plax.vmap(plax.jit(plax.grad(mlp, argnums=1)), (None, 0)), (params, x[:, None])),
        (plax.jit(plax.value_and_grad(lambda p, x: plax.jit(mlp)(p, x))), (params, x)),
    ]
    for fn, args in cases:
        ours = plax.tree_util.tree_leaves(fn(*args))
        ref = plax.tree_util.tree_leaves(on_reference(fn, *args))
        for o, r in zip(ours, ref):
            assert o.backend == "xla"
            assert_close(o, r, rtol=1e-4, atol=1e-5)


def test_jit_edge_signatures(xla):
    assert float(plax.jit(lambda: lax.add(np.float32(1), np.float32(2)))()) == 3.0
    x = np.arange(3, dtype=np.int32)
    same = plax.jit(lambda a: a)(x)
    np.testing.assert_array_equal(same, x)
    a, b = plax.jit(lambda a: (a, 7))(x)
    assert int(b) == 7 and b.weak_type
    assert plax.jit(lambda a: [])(x) == []
    big = np.arange(1000, dtype=np.float32).reshape(10, 100)  # a large closed-over constant
    np.testing.assert_array_equal(plax.jit(lambda a: lax.add(a, big))(big), big * 2)
    with plax.enable_x64():
        d = plax.jit(lambda a: lax.mul(a, a))(np.float64(1 / 3))
        assert d.dtype == np.float64 and float(d) == (1 / 3) ** 2


def test_donated_input_is_reused(xla):
    x = plax.device_put(np.arange(4, dtype=np.float32))
    closed = plax.make_jaxpr(lambda a: [lax.mul(a, 2.0)])(x)
    exe = xla.compile(closed, donate_argnums=(0,))
    assert exe.donated == (0,) and "tf.aliasing_output = 0" in exe.text
    out, = exe([x._buf])
    np.testing.assert_array_equal(np.asarray(xla.to_numpy(out)), [0, 2, 4, 6])
    assert x._buf.is_deleted()
    # no output of the input's type: nothing to alias, the input stays valid
    y = plax.device_put(np.arange(4, dtype=np.float32))
    exe2 = xla.compile(plax.make_jaxpr(lambda a: [lax.reduce_sum(a, (0,))])(y),
                       donate_argnums=(0,))
    assert exe2.donated == ()
    exe2([y._buf])
    assert not y._buf.is_deleted()


def test_eager_primitives_compile_once_per_signature(xla):
    x = np.arange(6, dtype=np.float32).reshape(2, 3) + 0.25
    lax.atan2(x, x)
    n = xla.stats["compiles"]
    for _ in range(5):
        lax.atan2(x, x)
    assert xla.stats["compiles"] == n
    lax.atan2(x[0], x[0])
    assert xla.stats["compiles"] == n + 1
    # a weak-typed operand of the same shape and dtype shares the program (a shape no other
    # test uses: the per-primitive cache is process-wide)
    a = plax.numpy.full((3, 7, 2), 2.0, np.float32)
    w = lax.full((3, 7, 2), 2.0)
    assert w.weak_type and not a.weak_type
    n = xla.stats["compiles"]
    strong = lax.add(a, a)
    weak = lax.add(w, w)
    assert weak.weak_type and not strong.weak_type
    assert xla.stats["compiles"] == n + 1
    np.testing.assert_array_equal(weak, np.full((3, 7, 2), 4.0))
    # multiple results and unhashable params take the same path
    vals, idx = lax.top_k(np.array([3.0, 1.0, 2.0], np.float32), 2)
    np.testing.assert_array_equal(vals, [3, 2])
    np.testing.assert_array_equal(idx, [0, 2])


@pytest.fixture(scope="module")
def reference_only_primitive():
    p = Primitive("testxla.halve")
    with core_registry._owning("test-xla"):
        registry.add_abstract_eval(p, lambda x: ShapedArray(x.shape, x.dtype, x.weak_type))
        registry.add_impl("reference", p, lambda x: x / 2)
    return p


def test_unsupported_primitive_fails_before_running(xla, reference_only_primitive):
    p = reference_only_primitive
    assert not xla.supports(p)
    f = plax.jit(lambda v: lax.sin(p.bind(lax.add(v, 1.0))))
    n = xla.stats["compiles"]
    with pytest.raises(UnsupportedPrimitiveError, match="testxla.halve"):
        f(np.ones(3, np.float32))
    assert xla.stats["compiles"] == n  # refused before compiling anything
    # eagerly it runs through the reference backend, and comes back to the xla device
    out = p.bind(plax.device_put(np.ones(3, np.float32)))
    assert out.backend == "xla"
    np.testing.assert_array_equal(out, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(plax.jit(f, backend="reference")(np.ones(3, np.float32)),
                                  np.sin(np.ones(3, np.float32)))


def test_broken_lowering_rules_are_reported(xla):
    bad_op = Primitive("testxla.bad_op")
    bad_type = Primitive("testxla.bad_type")
    with core_registry._owning("test-xla"):
        for p in (bad_op, bad_type):
            registry.add_abstract_eval(p, lambda x: ShapedArray(x.shape, x.dtype))
        registry.add_lowering("xla", bad_op,
                              lambda ctx, x: ctx.b.op1("stablehlo.no_such_op", [x]))
        registry.add_lowering("xla", bad_type,
                              lambda ctx, x: ctx.b.op1("stablehlo.sqrt", [x], dtype=np.int32))
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="no_such_op") as e:
        plax.jit(bad_op.bind)(x)
    assert "|" in str(e.value)  # the offending line of the module is quoted
    with pytest.raises(RuntimeError, match="testxla.bad_type.*tensor<3xi32>.*tensor<3xf32>"):
        bad_type.bind(x)


def test_collectives_need_pmap(xla):
    x = np.ones(3, np.float32)
    with pytest.raises(NameError, match="unbound axis name: i"):
        lax.psum(x, "i")
    with pytest.raises(NameError, match="unbound axis name: j"):
        plax.jit(lambda v: lax.axis_index("j"))(x)
    # under vmap with that name the batch trace resolves them: no collective is lowered
    out = plax.jit(plax.vmap(lambda v: lax.psum(v, "i"), axis_name="i"))(np.arange(3.0))
    np.testing.assert_array_equal(out, [3.0, 3.0, 3.0])


def test_arrays_from_other_backends_and_device_put(xla):
    ref_array = on_reference(lambda: make_array(np.arange(3, dtype=np.float32),
                                                ShapedArray((3,), np.float32)))
    assert ref_array.backend == "reference"
    out = plax.jit(lambda v: lax.mul(v, v))(ref_array)
    assert out.backend == "xla"
    np.testing.assert_array_equal(out, [0, 1, 4])
    d = plax.devices()[0]
    put = plax.device_put(np.arange(2, dtype=np.int8), d)
    assert put.device == d and put.committed and put.dtype == np.int8
    assert repr(d) == "CpuDevice(id=0, backend=xla)"


def test_repeated_calls_follow_the_backend_rules(xla):
    """The cached hot path of a jitted call must give the same placement answers as the first
    call: uncommitted arguments follow the default backend, committed ones pin it, a named backend
    wins, mixed backends are moved, and consts are reused on the right backend."""
    const = plax.numpy.arange(3.0)  # an xla Array closed over: a const of the jaxpr
    f = plax.jit(lambda v, w: v * w + const)
    x = plax.numpy.ones(3)
    for _ in range(3):  # a cache hit on the second and third calls
        out = f(x, x)
        assert out.backend == "xla" and not out.committed
        np.testing.assert_array_equal(out, [1, 2, 3])
    for _ in range(2):
        out = on_reference(f, x, x)  # uncommitted: the default backend (now reference) runs it
        assert out.backend == "reference", out.backend
        np.testing.assert_array_equal(out, [1, 2, 3])
    pinned = plax.device_put(np.full(3, 2.0, np.float32), plax.devices("xla")[0])
    for _ in range(2):
        out = on_reference(f, pinned, pinned)  # committed to xla: runs there
        assert out.backend == "xla" and out.committed
        np.testing.assert_array_equal(out, [4, 5, 6])
    ref_x = on_reference(lambda: plax.numpy.ones(3))
    for _ in range(2):
        out = f(ref_x, x)  # mixed backends, none committed: the default backend
        assert out.backend == "xla"
        np.testing.assert_array_equal(out, [1, 2, 3])
    g = plax.jit(lambda v: v + 1.0, backend="reference")
    for _ in range(2):
        out = g(x)
        assert out.backend == "reference" and out.committed
        np.testing.assert_array_equal(out, [2, 2, 2])
    y = plax.numpy.zeros(3)  # equal avals, different objects: still the cached entry
    assert f(y, y).aval == f(x, x).aval and f._cache_size() == 1
    np.testing.assert_array_equal(f(x, y), [0, 1, 2])


def test_eager_random_is_one_program_per_sampler_and_shape(xla):
    # as jax.random: each sampler runs as one compiled program, not dozens of per-op ones
    # (shapes no other test uses: the samplers' compiled programs are process-wide)
    key = plax.random.key(3)
    plax.random.split(key)
    plax.random.fold_in(key, 7)
    n = xla.stats["compiles"]
    u = plax.random.uniform(key, (5, 3, 11))
    assert xla.stats["compiles"] == n + 1
    for _ in range(3):
        np.testing.assert_array_equal(plax.random.uniform(key, (5, 3, 11)), u)
        plax.random.split(key)
        plax.random.fold_in(key, 7)
    assert xla.stats["compiles"] == n + 1
    plax.random.normal(key, [2, 13, 3])  # a list shape is made static as a tuple
    plax.random.normal(key, (2, 13, 3))
    assert xla.stats["compiles"] == n + 2
    with pytest.raises(OverflowError, match="out of bounds for uint32"):
        plax.random.fold_in(key, 2**32)
    with pytest.raises(TypeError, match="integer dtypes"):
        plax.random.randint(key, (2,), 0, 3, dtype=np.float32)


def test_donated_and_deleted_arrays_raise_plax_errors(xla):
    f = plax.jit(lambda a: a * 2.0, donate_argnums=0)
    x = plax.numpy.ones(3)
    y = f(x)
    np.testing.assert_array_equal(y, [2, 2, 2])
    assert x.is_deleted() and not y.is_deleted()
    uses = [lambda: f(x), lambda: x + 1, lambda: np.asarray(x), lambda: repr(x),
            lambda: plax.jit(lambda a: a + 1)(x), lambda: x.block_until_ready(),
            lambda: plax.jit(lambda a: a + 1, backend="reference")(x),
            lambda: plax.jit(lambda: x + 1)(), lambda: x.device, lambda: x.copy(),
            lambda: plax.device_put(x, plax.devices("reference")[0])]
    for use in uses:
        with pytest.raises(RuntimeError, match=r"f32\[3\]\) has been deleted: it was donated "
                                               r"to jit\(<lambda>\)"):
            use()
    for _ in range(3):  # the usual loop: each output donated to the next call
        y = f(y)
    np.testing.assert_array_equal(y, [16, 16, 16])
    z = plax.numpy.zeros(2)
    z.delete()
    z.delete()
    assert z.is_deleted()
    with pytest.raises(RuntimeError, match="delete\\(\\) was called"):
        z + 1
    # the reference backend ignores donation: the argument stays usable there
    with plax.default_backend("reference"):
        r = plax.numpy.ones(2)
        f(r)
        assert not r.is_deleted()
        np.testing.assert_array_equal(r + 1, [2, 2])


def test_cached_calls_from_several_threads(xla):
    # the hot path's one-slot caches are replaced whole: threads calling one jitted function
    # with different signatures (and backends) never mix one's program with the other's inputs
    import threading
    f = plax.jit(lambda v: v * 2)
    inputs = [plax.numpy.arange(3.0), plax.numpy.arange(4, dtype=np.int32),
              plax.device_put(np.ones((2, 2), np.float32))]
    with plax.default_backend("reference"):
        inputs.append(plax.numpy.arange(5.0))
    errors = []

    def hammer(x):
        want = np.asarray(x) * 2
        try:
            for _ in range(1500):
                out = f(x)
                if out.shape != want.shape or out.dtype != want.dtype:
                    raise AssertionError(f"{out.aval} for {x.aval}")
            np.testing.assert_array_equal(out, want)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(x,)) for x in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_donate_argnames_and_keyword_arguments(xla):
    def step(params, grads, *, lr=0.1):
        return plax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    params = {"w": plax.numpy.ones(4), "b": plax.numpy.zeros(4)}
    grads = {"w": plax.numpy.ones(4), "b": plax.numpy.ones(4)}
    by_name = plax.jit(step, donate_argnames="params")
    new = by_name(params, grads)
    assert params["w"].is_deleted() and params["b"].is_deleted()
    assert not grads["w"].is_deleted()
    np.testing.assert_allclose(new["w"], np.full(4, 0.9), rtol=1e-6)
    # donate_argnums honoured for an argument passed by keyword
    by_pos = plax.jit(step, donate_argnums=0)
    newer = by_pos(params=new, grads=grads)
    assert new["w"].is_deleted() and not grads["b"].is_deleted()
    np.testing.assert_allclose(newer["b"], np.full(4, -0.2), rtol=1e-6)
    with pytest.raises(ValueError, match="both static and donated"):
        plax.jit(step, static_argnums=0, donate_argnames="params")


def test_clear_caches_recompiles_and_keeps_arrays(xla):
    f = plax.jit(lambda v: lax.sin(v) * 3.0)
    x = plax.numpy.linspace(0.0, 1.0, 11)
    y = f(x)
    e = lax.cos(x)
    n = xla.stats["compiles"]
    f(x)
    lax.cos(x)
    assert xla.stats["compiles"] == n  # cached
    plax.clear_caches()
    assert f._cache_size() == 0
    np.testing.assert_allclose(f(x), y)  # traced and compiled again
    np.testing.assert_allclose(lax.cos(x), e)
    assert xla.stats["compiles"] >= n + 2
    np.testing.assert_allclose(y, np.sin(np.linspace(0, 1, 11)) * 3, rtol=1e-6)  # still valid
    with plax.default_backend("reference"):
        plax.jit(lambda v: v + 1)(np.ones(2))
        plax.clear_caches()
        np.testing.assert_array_equal(plax.jit(lambda v: v + 1)(np.ones(2)), [2, 2])
