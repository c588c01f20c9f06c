"""JAX's top-level configuration context managers (`with plax.numpy_rank_promotion("raise"):`
...) and the top-level utilities (ensure_compile_time_eval, fwd_and_bwd, live_arrays,
effects_barrier, copy_to_host_async, make_user_context), each against JAX's behaviour where
JAX is importable: same error types, same warnings, same values."""
# ruff: noqa: B023  (the loops' closures run within their own iteration)

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from conftest import HAVE_JAX, assert_close, requires_jax

import plax
import plax.numpy as pnp
import plax.random as prandom
from plax import lax

if HAVE_JAX:
    import jax
    import jax.numpy as jnp


def _outcome(fn):
    """('ok', value) or (exception type's kind, None) of `fn()`, warnings as ('warn', value)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            v = np.asarray(fn())
        except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
            kind = ("TypePromotionError" if type(e).__name__ == "TypePromotionError"
                    else "ValueError" if isinstance(e, ValueError)
                    else "RuntimeError" if isinstance(e, RuntimeError) else type(e).__name__)
            return kind, None
    if any("rank promotion" in str(x.message) for x in w):
        return "warn", v
    return "ok", v


# --- numpy_rank_promotion / numpy_dtype_promotion ------------------------------------------

RANK_CASES = [((3,), (2, 3)), ((2, 3), (2, 3)), ((), (2, 3)), ((1, 3), (2, 3)),
              ((4, 1, 3), (2, 3))]


@requires_jax
@pytest.mark.parametrize("mode", ["allow", "warn", "raise"])
@pytest.mark.parametrize("op", ["add", "multiply", "where"])
def test_numpy_rank_promotion_as_jax(mode, op):
    for a, b in RANK_CASES:
        x, y = np.ones(a, np.float32), np.full(b, 2, np.float32)

        def run(mod, ctx):
            f = (lambda: mod.where(x > 0, x, y)) if op == "where" else \
                (lambda: getattr(mod, op)(x, y))
            with ctx(mode):
                return _outcome(f)
        got, want = run(pnp, plax.numpy_rank_promotion), run(jnp, jax.numpy_rank_promotion)
        assert got[0] == want[0], (op, a, b, got[0], want[0])
        if want[1] is not None:
            assert_close(got[1], want[1])


def test_numpy_rank_promotion_reaches_operators_and_jit():
    x, y = pnp.ones(3), pnp.ones((2, 3))
    with plax.numpy_rank_promotion("raise"):
        with pytest.raises(ValueError, match="numpy_rank_promotion='raise'"):
            x + y
        with pytest.raises(ValueError):
            plax.jit(lambda a, b: a * b)(x, y)
        assert_close(x + pnp.ones(3), np.full(3, 2.0))  # same rank: allowed
    f = plax.jit(lambda a, b: a - b)
    f(x, y)  # traced once with promotion allowed: the option is part of jit's key
    with plax.numpy_rank_promotion("raise"), pytest.raises(ValueError):
        f(x, y)
    with pytest.raises(ValueError, match="takes one of"):
        plax.numpy_rank_promotion("sometimes").__enter__()


DTYPE_CASES = [(np.float32, np.int32), (np.float32, np.float16), (np.int32, np.int8),
               (np.float32, np.float32), (np.int32, np.bool_), (np.float32, np.complex64)]
SCALARS = [1, 1.5, 2j, True]


@requires_jax
@pytest.mark.parametrize("mode", ["standard", "strict"])
def test_numpy_dtype_promotion_as_jax(mode):
    for a, b in DTYPE_CASES:
        x, y = np.ones(3, a), np.ones(3, b)
        with plax.numpy_dtype_promotion(mode):
            got = _outcome(lambda: pnp.add(x, y))
        with jax.numpy_dtype_promotion(mode):
            want = _outcome(lambda: jnp.add(x, y))
        assert got[0] == want[0], (mode, a, b, got, want)
        if want[1] is not None:
            assert got[1].dtype == want[1].dtype
    for a in (np.float32, np.int32, np.complex64, np.bool_):
        for s in SCALARS:
            x = np.ones(3, a)
            with plax.numpy_dtype_promotion(mode):
                got = _outcome(lambda: pnp.multiply(x, s))
            with jax.numpy_dtype_promotion(mode):
                want = _outcome(lambda: jnp.multiply(x, s))
            assert got[0] == want[0], (mode, a, s, got, want)
            if want[1] is not None:
                assert got[1].dtype == want[1].dtype, (a, s)


def test_numpy_dtype_promotion_strict_error_type():
    from plax.dtypes import TypePromotionError
    with plax.numpy_dtype_promotion("strict"), pytest.raises(TypePromotionError,
                                                             match="strict"):
        pnp.ones(2, "float32") + pnp.ones(2, "int32")
    # explicit casts are how strict code promotes
    with plax.numpy_dtype_promotion("strict"):
        out = pnp.ones(2, "float32") + pnp.ones(2, "int32").astype("float32")
    assert out.dtype == np.float32


# --- default_matmul_precision, allow_f16_reductions ---------------------------------------

@requires_jax
@pytest.mark.parametrize("prec", [None, "float32", "bfloat16", "tensorfloat32", "highest",
                                  "BF16_BF16_F32", "F32_F32_F32"])
def test_default_matmul_precision_reaches_dot_general(prec):
    a = np.ones((2, 3), np.float32)

    def params(mod, make_jaxpr, ctx):
        with ctx(prec):
            jaxpr = make_jaxpr(lambda x, y: mod.matmul(x, y))(a, a.T)
        (eqn,) = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
        p = eqn.params["precision"]
        if p is None or not isinstance(p, tuple):  # None or a dot algorithm preset
            return None if p is None else str(p).split(".")[-1]
        return tuple(str(q).split(".")[-1] for q in p)
    assert params(pnp, plax.make_jaxpr, plax.default_matmul_precision) == \
        params(jnp, jax.make_jaxpr, jax.default_matmul_precision)


def test_default_matmul_precision_explicit_wins_and_jit_retraces():
    a = pnp.ones((2, 2))
    with plax.default_matmul_precision("float32"):
        j = plax.make_jaxpr(lambda x: lax.dot(x, x, precision="bfloat16"))(a)
    assert "DEFAULT" in str(j)
    f = plax.jit(lambda x: x @ x)
    f(a)
    with plax.default_matmul_precision("highest"):
        assert_close(f(a), np.full((2, 2), 2.0))
    assert len(f._cache) == 2  # the precision is part of the trace context


@requires_jax
def test_allow_f16_reductions_as_jax():
    for dt in (np.float16, "bfloat16", np.float32):
        x = np.ones((4, 3)).astype(jnp.dtype(dt))
        for axes in ((0,), (1,), (0, 1)):
            for rows in (x, x[:1]):  # a reduction over size-1 axes only is allowed
                with plax.allow_f16_reductions(False):
                    got = _outcome(lambda: lax.reduce_sum(rows, axes))
                    got_np = _outcome(lambda: pnp.sum(rows, axis=axes))
                with jax.allow_f16_reductions(False):
                    want = _outcome(lambda: jax.lax.reduce_sum(rows, axes))
                    want_np = _outcome(lambda: jnp.sum(rows, axis=axes))
                assert (got[0], got_np[0]) == (want[0], want_np[0]), (dt, axes, rows.shape)
    x = pnp.ones(4, "float16")
    lax.reduce_sum(x, (0,))  # the eager rule is cached: turning the option off still reaches it
    with plax.allow_f16_reductions(False), pytest.raises(ValueError, match="allow_f16"):
        lax.reduce_sum(x, (0,))
    with plax.allow_f16_reductions(False), pytest.raises(ValueError, match="allow_f16"):
        plax.jit(lambda v: lax.reduce_sum(v, (0,)))(x)


# --- debug_infs, enable_checks ------------------------------------------------------------

@pytest.mark.parametrize("backend_name", ["reference", "xla"])
def test_debug_infs_eager_and_jit(backend_name):
    with plax.default_backend(backend_name):
        x = pnp.array([1.0, 0.0])
        assert np.isinf(np.asarray(1.0 / x)).any()  # off: no check
        with plax.debug_infs():
            with pytest.raises(FloatingPointError, match=r"\(inf\).*div"):
                1.0 / x
            with pytest.raises(FloatingPointError, match="inf"):
                plax.jit(lambda v: pnp.exp(v * 1000.0))(x)
            assert_close(pnp.log(x + 1.0), np.log([2.0, 1.0]))  # finite: passes
            pnp.sqrt(x - 1.0)  # a NaN is debug_nans' business, not debug_infs'
        with plax.debug_nans(), pytest.raises(FloatingPointError, match="nan"):
            pnp.sqrt(x - 1.0)


@requires_jax
def test_debug_infs_error_type_as_jax():
    with jax.debug_infs(True), pytest.raises(FloatingPointError):
        jnp.array([1.0, 0.0]) ** -1.0
    with plax.debug_infs(True), pytest.raises(FloatingPointError):
        pnp.array([1.0, 0.0]) ** -1.0


def test_enable_checks_is_check_rules():
    with plax.enable_checks(False):
        assert plax.config.check_rules is False
        with plax.enable_checks(True):
            assert plax.config.check_rules is True


# --- log_compiles, explain_cache_misses, no_tracing, no_execution, make_user_context -------

def test_log_compiles_and_explain_cache_misses(caplog):
    f = plax.jit(lambda x: x * 3.0)
    with caplog.at_level(logging.WARNING, logger="plax.jit"):
        f(pnp.ones(2))
        assert not caplog.records
        with plax.log_compiles():
            f(pnp.ones(5))
        assert any("Compiling" in r.getMessage() for r in caplog.records)
        caplog.clear()
        with plax.explain_cache_misses():
            f(pnp.ones(7))
        assert any("TRACING CACHE MISS" in r.getMessage() and "shape" in r.getMessage()
                   for r in caplog.records)
        caplog.clear()
        with plax.explain_cache_misses(), plax.numpy_rank_promotion("warn"):
            f(pnp.ones(7))
        assert any("numpy_rank_promotion changed" in r.getMessage() for r in caplog.records)


@requires_jax
def test_no_tracing_and_no_execution_as_jax():
    for mod, api in ((pnp, plax), (jnp, jax)):
        f = api.jit(lambda x: x + 1)
        f(mod.ones(3))
        with api.no_tracing():
            assert_close(f(mod.ones(3)), np.full(3, 2.0))  # cached: no trace
            with pytest.raises(RuntimeError, match="no_tracing"):
                f(mod.ones(4))
        x = mod.ones(3)
        with api.no_execution():
            with pytest.raises(RuntimeError, match="no_execution"):
                f(x)
            with pytest.raises(RuntimeError, match="no_execution"):
                x * 2
        assert_close(f(x), np.full(3, 2.0))


def test_make_user_context_retraces_jit():
    ctx = plax.make_user_context(default_value=None)
    traces = []

    @plax.jit
    def f(x):
        traces.append(ctx.value)
        return x * 2
    x = pnp.ones(2)
    f(x)
    f(x)
    with ctx(1):
        f(x)
        f(x)
        assert ctx.value == 1
    with ctx(2):
        f(x)
    f(x)
    assert traces == [None, 1, 2]


# --- transfer guards ----------------------------------------------------------------------

GUARD_CASES = {
    "np.asarray": lambda m, x: np.asarray(x),
    "add numpy": lambda m, x: x + np.ones(3, np.float32),
    "add python scalar": lambda m, x: x + 1.0,
    "asarray of numpy": lambda m, x: m.asarray(np.ones(3)),
    "ones": lambda m, x: m.ones(3),
    "zeros_like": lambda m, x: m.zeros_like(x),
    "full": lambda m, x: m.full((2,), 3.0),
    "array product": lambda m, x: x * x,
    "reduction": lambda m, x: x.sum(),
    "tolist": lambda m, x: x.tolist(),
}


@requires_jax
@pytest.mark.parametrize("level", ["allow", "log", "disallow", "disallow_explicit"])
def test_transfer_guard_as_jax(level):
    for name, case in GUARD_CASES.items():
        px, jx = pnp.ones(3), jnp.ones(3)
        with plax.transfer_guard(level):
            got = _outcome(lambda: case(pnp, px))
        with jax.transfer_guard(level):
            want = _outcome(lambda: case(jnp, jx))
        assert got[0] == want[0], (name, level, got[0], want[0])


@requires_jax
def test_transfer_guard_explicit_transfers():
    host = np.arange(3.0, dtype=np.float32)
    for api in (plax, jax):
        with api.transfer_guard("disallow"):
            y = api.device_put(host)  # explicit: allowed
            assert_close(api.device_get(y), host)
        with api.transfer_guard_host_to_device("disallow_explicit"), \
                pytest.raises(RuntimeError, match="host-to-device"):
            api.device_put(host)
        with api.transfer_guard_device_to_host("disallow"):  # not host-to-device
            api.device_put(host)


def test_transfer_guard_jit_arguments_and_log(caplog, backend):
    if backend == "cupy":
        pytest.skip("one backend of each kind is enough: reference (host) and xla")
    f = plax.jit(lambda v: v * 2)
    x = pnp.ones(3)
    with plax.transfer_guard("disallow"):
        with pytest.raises(RuntimeError, match="Disallowed host-to-device"):
            f(np.ones(3, np.float32))
        assert_close(f(x), np.full(3, 2.0))
    with caplog.at_level(logging.WARNING, logger="plax.transfer"), \
            plax.transfer_guard("log"):
        assert_close(f(np.ones(3, np.float32)), np.full(3, 2.0))
    assert any("host-to-device transfer" in r.getMessage().lower() for r in caplog.records)


def test_transfer_guard_device_to_device_between_backends():
    x = plax.device_put(pnp.ones(2), plax.devices("reference")[0])
    with plax.transfer_guard("disallow"):
        y = plax.device_put(x, plax.devices("xla")[0])  # explicit: allowed
        with pytest.raises(RuntimeError, match="device-to-device"):
            plax.jit(lambda v: v + 1, backend="xla")(x)
    assert_close(y, np.ones(2))


# --- default_device -----------------------------------------------------------------------

def test_default_device_places_new_arrays_and_jit_outputs():
    for name in ("reference", "xla"):
        dev = plax.devices(name)[0]
        with plax.default_device(dev):
            x = pnp.arange(3.0)
            y = plax.jit(lambda v: v + 1)(np.ones(2, np.float32))
            assert x.device == dev and y.device == dev
            assert not x._committed  # as JAX: default_device does not commit
            z = plax.device_put(pnp.ones(2), plax.devices("xla" if name == "reference"
                                                            else "reference")[0])
            assert (z + 1).device == z.device  # committed values stay where they are
        with plax.default_device(name):
            assert pnp.ones(2).device == dev
    with plax.default_device("cpu"):
        assert pnp.ones(2).device.platform == "cpu"
    with pytest.raises(ValueError, match="default_device"):
        plax.default_device(3.5).__enter__()


@requires_jax
def test_default_device_as_jax_value_checks():
    with pytest.raises(ValueError):
        jax.default_device(3.5).__enter__()
    with pytest.raises(ValueError):
        plax.default_device(3.5).__enter__()


# --- check_tracer_leaks, legacy_prng_key ---------------------------------------------------

@requires_jax
def test_check_tracer_leaks_as_jax():
    for api in (plax, jax):
        leaked = []

        @api.jit
        def leak(x):
            leaked.append(x)
            return x * 2

        @api.jit
        def clean(x):
            return pnp.sin(x) if api is plax else jnp.sin(x)
        with api.checking_leaks():
            assert_close(clean(1.0), np.sin(1.0))
            with pytest.raises(Exception, match="Leaked trace"):
                leak(1.0)
        leaked.clear()
        with api.check_tracer_leaks(False):
            leak(2.0)  # off: no check
        leaked.clear()
        mod = pnp if api is plax else jnp
        with api.checking_leaks():
            assert_close(api.vmap(mod.sin)(mod.ones(2)), np.sin(np.ones(2)))
            with pytest.raises(Exception, match="Leaked trace"):
                api.vmap(lambda v: leaked.append(v) or v * 2)(mod.ones(2))


@requires_jax
@pytest.mark.parametrize("mode", ["allow", "warn", "error"])
def test_legacy_prng_key_as_jax(mode):
    for fn in ("split", "fold_in", "key_data", "normal"):
        def call(rand):
            k = rand.PRNGKey(0)
            return {"split": lambda: rand.split(k), "fold_in": lambda: rand.fold_in(k, 1),
                    "key_data": lambda: rand.key_data(k),
                    "normal": lambda: rand.normal(k, (2,))}[fn]()

        def outcome(rand, ctx):
            with ctx(mode), warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                try:
                    call(rand)
                except ValueError:
                    return "error"
            return "warn" if any("Legacy uint32" in str(x.message) for x in w) else "ok"
        assert outcome(prandom, plax.legacy_prng_key) == \
            outcome(jax.random, jax.legacy_prng_key), fn
    raw = prandom.split(prandom.PRNGKey(0))[1]
    with plax.legacy_prng_key("error"):  # typed keys pass, with the same bits
        k = prandom.key(0)
        assert_close(prandom.key_data(prandom.split(k)[1]), raw)
        assert_close(prandom.normal(k, (2,)), jax.random.normal(jax.random.key(0), (2,)),
                     rtol=1e-5, atol=1e-6)


# --- ensure_compile_time_eval, fwd_and_bwd, live_arrays, effects_barrier, host copies -----

@requires_jax
def test_ensure_compile_time_eval_as_jax():
    seen = {}

    def f(mod, api, tag):
        @api.jit
        def g(x):
            with api.ensure_compile_time_eval():
                y = mod.arange(3.0) * 2
                seen[tag] = (type(y).__name__, int(y[1]), type(x + 1).__name__)
                if y[2] > 3:  # concrete: Python control flow may read it
                    y = y + 1
            return x + y
        return g(1.0)
    assert_close(f(pnp, plax, "plax"), f(jnp, jax, "jax"))
    assert seen["plax"][0] == "Array" and seen["plax"][1] == 2
    assert "Tracer" in seen["plax"][2] and "Tracer" in seen["jax"][2]
    # under grad and vmap too: the concrete part is evaluated, the rest differentiated
    def h(mod, api):
        def fn(x):
            with api.ensure_compile_time_eval():
                c = mod.exp(mod.ones(3))
            return (c * mod.sin(x)).sum()
        return api.grad(fn)(mod.arange(3.0)), api.vmap(fn)(mod.ones((2, 3)))
    for a, b in zip(h(pnp, plax), h(jnp, jax)):
        assert_close(a, b)


@requires_jax
@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_fwd_and_bwd_as_jax(argnums):
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4) / 10
    w = np.cos(np.arange(8.0, dtype=np.float32)).reshape(4, 2)
    ct = np.ones((3, 2), np.float32)

    def fun(mod):
        return lambda a, b: mod.tanh(a @ b)
    fwd, bwd = plax.fwd_and_bwd(fun(pnp), argnums=argnums)
    jfwd, jbwd = jax.fwd_and_bwd(fun(jnp), argnums=argnums)
    for _ in range(3):
        y, res = fwd(pnp.asarray(x), pnp.asarray(w))
        g = bwd(res, pnp.asarray(ct))
    jy, jres = jfwd(x, w)
    jg = jbwd(jres, ct)
    assert_close(y, jy)
    for a, b in zip(plax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(jg)):
        assert_close(a, b)
    assert len(fwd._cache) == 1 and len(bwd._cache) == 1  # compiled once across the steps
    # has_aux and unjitted
    fwd2, bwd2 = plax.fwd_and_bwd(lambda a: (pnp.sum(a ** 2), a.shape), 0, has_aux=True,
                                  jitted=False)
    out, res, aux = fwd2(pnp.asarray(x))
    assert aux == (3, 4)
    assert_close(bwd2(res, 1.0), 2 * x)


def test_vjp_function_is_a_pytree_through_jit():
    y, f_vjp = plax.vjp(pnp.sin, pnp.arange(3.0))
    leaves = plax.tree_util.tree_leaves(f_vjp)
    assert leaves and all(hasattr(v, "aval") for v in leaves)
    g = plax.jit(lambda f, c: f(c))(f_vjp, pnp.ones(3))
    assert_close(g[0], np.cos(np.arange(3.0)))


def test_live_arrays_and_effects_barrier():
    for name in ("reference", "xla"):
        x = plax.device_put(pnp.arange(5.0), plax.devices(name)[0])
        ids = [id(a) for a in plax.live_arrays(name)]
        assert id(x) in ids
        x.delete()
        assert id(x) not in [id(a) for a in plax.live_arrays(name)]
    with plax.default_backend("xla"):
        y = pnp.ones(4) * 3
        assert any(a is y for a in plax.live_arrays())
        assert any(a is y for a in plax.live_arrays("cpu"))
    printed = []
    plax.jit(lambda v: plax.debug.callback(lambda a: printed.append(np.asarray(a)), v))(
        pnp.ones(2))
    plax.effects_barrier()
    assert len(printed) == 1


@requires_jax
def test_copy_to_host_async_as_jax():
    for api, mod in ((plax, pnp), (jax, jnp)):
        tree = {"a": mod.arange(4.0), "b": (mod.ones(2), 3, "text")}
        assert api.copy_to_host_async(tree) is tree
        tree["a"].copy_to_host_async()
        assert_close(np.asarray(tree["a"]), np.arange(4.0))
    x = pnp.ones(2)
    x.delete()
    with pytest.raises(RuntimeError):
        x.copy_to_host_async()


@requires_jax
def test_enable_custom_prng_as_jax():
    def run(api, rand):
        out = {}
        with api.enable_custom_prng(True), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out["PRNGKey"] = str(rand.PRNGKey(0).dtype)
            raw = np.zeros(2, np.uint32)
            out["split"] = (str(rand.split(raw).dtype), rand.split(raw).shape)
            out["fold_in"] = str(rand.fold_in(raw, 1).dtype)
            out["normal"] = np.asarray(rand.normal(raw, (2,)))
            out["warned"] = sum(issubclass(x.category, FutureWarning) for x in w) > 0
        return out
    got, want = run(plax, prandom), run(jax, jax.random)
    assert_close(got.pop("normal"), want.pop("normal"), rtol=1e-5, atol=1e-6)
    assert got == want
    assert prandom.PRNGKey(0).dtype == np.uint32  # off again: raw keys


SAMPLERS = {
    "bits32": lambda r, k: r.bits(k, (5,)),
    "bits8": lambda r, k: r.bits(k, (2, 3), "uint8"),
    "bits16": lambda r, k: r.bits(k, (3,), "uint16"),
    "split": lambda r, k: r.split(k, 3),
    "fold_in": lambda r, k: r.fold_in(k, 7),
    "uniform_bf16": lambda r, k: r.uniform(k, (3,), "bfloat16"),
    "normal": lambda r, k: r.normal(k, (2, 2)),
    "randint": lambda r, k: r.randint(k, (4,), 0, 100),
    "gamma": lambda r, k: r.gamma(k, np.array([0.3, 2.0, 7.0], np.float32)),
    "permutation": lambda r, k: r.permutation(k, 6),
    "bernoulli": lambda r, k: r.bernoulli(k, 0.3, (5,)),
}


@requires_jax
@pytest.mark.parametrize("partitionable", [False, True])
def test_threefry_partitionable_as_jax(partitionable):
    for name, draw in SAMPLERS.items():
        with plax.threefry_partitionable(partitionable):
            got = np.asarray(draw(prandom, prandom.PRNGKey(3)))
        with jax.threefry_partitionable(partitionable):
            want = np.asarray(draw(jax.random, jax.random.PRNGKey(3)))
        if got.dtype.kind in "uib":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            assert_close(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    f = plax.jit(lambda k: prandom.bits(k, (3,)))
    k = prandom.PRNGKey(0)
    with plax.threefry_partitionable(partitionable):
        a = f(k)
    with plax.threefry_partitionable(not partitionable):  # part of jit's trace context
        assert not np.array_equal(np.asarray(f(k)), np.asarray(a))


def test_default_device_by_config_update():
    before = plax.config.backend  # (the environment's PLAX_BACKEND, if any)
    try:
        plax.config.update("jax_default_device", plax.devices("reference")[0])
        assert plax.config.backend == "reference"
        assert pnp.ones(2).device == plax.devices("reference")[0]
        assert plax.jit(lambda v: v * 2)(np.ones(2, np.float32)).device.backend_name == \
            "reference"
    finally:
        plax.config.update("default_device", None)
    assert plax.config.backend == before
