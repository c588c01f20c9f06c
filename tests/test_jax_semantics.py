"""JAX's semantics beyond its names (issue 13), each compared with JAX: Python control flow on
concrete values under grad/vjp/jvp/custom_jvp, jit's cache keyed on the function, dict order
and key checks of pytrees, custom rules that do not run the function again, weak types of
derivatives, and `plax.errors` with JAX's classes."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.numpy as pnp
import plax.tree_util as ptu
from plax.extend import registry

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - JAX is the oracle where installed
    jax = jnp = None

pytestmark = requires_jax


def describe(tree):
    """Values, dtypes and weak types of a result, comparable across plax and JAX."""
    leaves = jax.tree_util.tree_leaves(tree)
    return [(np.asarray(x).round(5).tolist(), str(np.asarray(x).dtype),
             bool(getattr(x, "weak_type", False))) for x in leaves]


def same(pthunk, jthunk):
    assert describe(pthunk()) == describe(jthunk())


def error_name(thunk, errors) -> str:
    """The most specific errors.* class (of plax.errors or jax.errors) the call raises."""
    order = ["NonConcreteBooleanIndexError", "TracerBoolConversionError",
             "TracerIntegerConversionError", "TracerArrayConversionError",
             "ConcretizationTypeError", "UnexpectedTracerError"]
    try:
        thunk()
    except Exception as e:  # noqa: BLE001 - classified below
        for n in order:
            if isinstance(e, getattr(errors, n)):
                return n
        return type(e).__name__
    return "no error"


# ---------------------------------------------------------------------------------------------
# Python control flow on concrete values


def piecewise(N):
    def f(x):
        if x < 3:
            return 3. * x ** 2
        return -4 * x
    return f


def doubling(x):
    while x < 10:
        x = x * 2
    return x


@pytest.mark.parametrize("case", ["grad", "grad4", "vjp", "jvp", "hessian", "loop", "int",
                                  "index", "item", "value_and_grad", "mask"])
def test_python_control_flow_on_concrete_values(case):
    def run(api, N):
        f = piecewise(N)
        return {
            "grad": lambda: api.grad(f)(2.),
            "grad4": lambda: api.grad(f)(4.),
            "vjp": lambda: api.vjp(f, 2.)[1](1.),
            "jvp": lambda: api.jvp(f, (4.,), (1.,)),
            "hessian": lambda: api.hessian(f)(2.),
            "loop": lambda: api.grad(doubling)(3.),
            "int": lambda: api.grad(lambda x: x * int(x))(3.),
            "index": lambda: api.grad(lambda x, i: x * N.arange(5.)[i])(3., N.array(2)),
            "item": lambda: api.grad(lambda x: x * x.item())(3.),
            "value_and_grad": lambda: api.value_and_grad(lambda x: f(x) * x)(np.float32(2.)),
            "mask": lambda: api.grad(lambda x: x[x > 0].sum() * 2)(N.arange(3.)),
        }[case]
    same(run(plax, pnp), run(jax, jnp))


@pytest.mark.parametrize("case", ["jit bool", "vmap bool", "grad jit bool", "jit index",
                                  "jit float", "grad float", "jit asarray", "jit tolist",
                                  "jit mask", "jit at mask"])
def test_abstract_values_raise_jax_error_classes(case):
    def thunk(api, N):
        f = piecewise(N)
        return {
            "jit bool": lambda: api.jit(f)(2.),
            "vmap bool": lambda: api.vmap(f)(N.ones(3)),
            "grad jit bool": lambda: api.grad(api.jit(f))(2.),
            "jit index": lambda: api.jit(lambda i: N.arange(3.)[i.__index__()])(1),
            "jit float": lambda: api.jit(lambda x: float(x))(1.),
            "grad float": lambda: api.grad(lambda x: x * float(x))(3.),  # never concrete
            "jit asarray": lambda: api.jit(lambda x: np.asarray(x))(1.),
            "jit tolist": lambda: api.jit(lambda x: x.tolist())(1.),
            "jit mask": lambda: api.jit(lambda x: x[x > 0])(N.arange(3.)),
            "jit at mask": lambda: api.jit(lambda x: x.at[x > 0].set(0.))(N.arange(3.)),
        }[case]
    assert error_name(thunk(plax, pnp), plax.errors) == error_name(thunk(jax, jnp), jax.errors)


def test_errors_module_has_jax_classes_and_keeps_plax_bases():
    names = ["ConcretizationTypeError", "TracerBoolConversionError",
             "TracerIntegerConversionError", "TracerArrayConversionError",
             "UnexpectedTracerError", "KeyReuseError", "NonConcreteBooleanIndexError",
             "JAXTypeError", "JAXIndexError", "JaxprTypeError"]
    for a in names:
        for b in names:  # every subclass relation JAX has, plax has
            if issubclass(getattr(jax.errors, a), getattr(jax.errors, b)):
                assert issubclass(getattr(plax.errors, a), getattr(plax.errors, b)), (a, b)
        for base in (TypeError, IndexError, RuntimeError):
            if issubclass(getattr(jax.errors, a), base):
                assert issubclass(getattr(plax.errors, a), base), (a, base)
    # what plax raised before plax.errors existed still catches them
    assert plax.ConcretizationTypeError is plax.errors.ConcretizationTypeError
    assert issubclass(plax.errors.UnexpectedTracerError, RuntimeError)
    assert issubclass(plax.errors.TracerArrayConversionError, plax.ConcretizationTypeError)
    assert issubclass(plax.errors.TracerIntegerConversionError, plax.ConcretizationTypeError)


def test_shape_mismatch_of_operations_is_a_type_error_as_jax():
    cases = [lambda N: N.dot(N.ones((2, 3)), N.ones((4, 5))),
             lambda N: N.matmul(N.ones((2, 3)), N.ones((4, 5))),
             lambda N: N.ones(3) + N.ones(4),
             lambda N: N.tensordot(N.ones((2, 3)), N.ones((4, 5)), 1)]
    for case in cases:
        with pytest.raises(TypeError):
            case(jnp)
        with pytest.raises(TypeError) as info:
            case(pnp)
        assert isinstance(info.value, ValueError)  # what plax raised before
    with pytest.raises(ValueError):  # an explicit broadcast_shapes stays a ValueError, as JAX
        pnp.broadcast_shapes((3,), (4,))


# ---------------------------------------------------------------------------------------------
# jit keyed on the function


def test_a_new_jit_wrapper_reuses_the_trace_and_executable():
    xla = registry.get_backend("xla")
    for api, N in [(plax, pnp), (jax, jnp)]:
        traces = []

        def f(x, traces=traces, N=N):
            traces.append(1)
            return N.sin(x) * 2

        x = N.ones(7)
        api.jit(f)(x)
        n = xla.stats["compiles"]
        for _ in range(20):
            out = api.jit(f)(x)
        assert len(traces) == 1, api
        assert_close(out, np.sin(np.ones(7)) * 2)
        if api is plax:
            assert xla.stats["compiles"] == n
            plax.clear_caches()  # forgets it: the next wrapper traces again
            api.jit(f)(x)
            assert len(traces) == 2


g_offset = 0.


def test_a_global_read_while_tracing_keeps_its_traced_value():
    global g_offset

    def impure(x):
        return x + g_offset

    results = []
    for api, N in [(plax, pnp), (jax, jnp)]:
        g_offset = 0.
        first = api.jit(impure)(4.)
        g_offset = 10.
        second = api.jit(impure)(5.)  # the cached trace: 5.0, not 15.0
        third = api.jit(impure)(N.array([4.]))  # a new type traces again: [14.]
        results.append(describe([first, second, third]))
    assert results[0] == results[1]
    assert results[0][1][0] == 5.0


def test_jit_wrappers_with_other_options_do_not_share():
    traces = []

    def f(x, n):
        traces.append(n)
        return x * n

    plax.jit(f, static_argnums=1)(pnp.ones(2), 2)
    plax.jit(f, static_argnums=1)(pnp.ones(2), 2)
    plax.jit(f, static_argnums=1)(pnp.ones(2), 3)
    assert traces == [2, 3]
    plax.jit(f)(pnp.ones(2), 2)  # other options: traced on its own
    assert len(traces) == 3


# ---------------------------------------------------------------------------------------------
# Pytrees


def test_dicts_come_back_sorted_as_jax():
    d = {"b": 1., "a": 2., "c": {"z": 1., "y": [3., 4.]}}
    for fn in [lambda tu, t: tu.tree_map(lambda x: x * 2, t),
               lambda tu, t: tu.tree_unflatten(*reversed(tu.tree_flatten(t))),
               lambda tu, t: tu.tree_map(lambda x, y: x + y, t, dict(reversed(list(t.items()))))]:
        mine, theirs = fn(ptu, d), fn(jax.tree_util, d)
        assert list(mine) == list(theirs) == ["a", "b", "c"]
        assert list(mine["c"]) == list(theirs["c"]) == ["y", "z"]
    assert list(plax.jit(lambda t: {"y": t["b"], "x": t["a"]})(d)) == \
        list(jax.jit(lambda t: {"y": t["b"], "x": t["a"]})(d))
    assert list(plax.grad(lambda t: t["a"] * t["b"])({"b": 1., "a": 2.})) == ["a", "b"]
    od = collections.OrderedDict([("z", 1.), ("a", 2.)])  # insertion order kept, as JAX
    assert list(ptu.tree_map(lambda x: x, od)) == list(jax.tree_util.tree_map(lambda x: x, od))
    dd = collections.defaultdict(list, {"q": 1., "p": 2.})
    assert list(ptu.tree_map(lambda x: x, dd)) == list(jax.tree_util.tree_map(lambda x: x, dd))


def test_unsortable_dict_keys_raise_as_jax():
    for fn in ["tree_leaves", "tree_flatten", "tree_structure"]:
        with pytest.raises(ValueError):
            getattr(jax.tree_util, fn)({1: 1., "a": 2.})
        with pytest.raises(ValueError, match="sorting pytree dictionary keys"):
            getattr(ptu, fn)({1: 1., "a": 2.})
    with pytest.raises(ValueError):
        ptu.tree_map(lambda x: x, {1: 1., "a": 2.})


def test_registered_nodes_keep_their_own_aux_data_beside_sorted_dicts():
    class Box:
        def __init__(self, x, meta):
            self.x, self.meta = x, meta

    ptu.register_pytree_node(Box, lambda b: ((b.x,), b.meta), lambda m, xs: Box(xs[0], m))
    for meta in (np.ones(2), np.zeros(2), 1, 1.0):  # arrays cannot be compared; 1 == 1.0
        out = ptu.tree_map(lambda v: v + 1, {"b": Box(1., meta), "a": 2.})
        assert list(out) == ["a", "b"] and out["b"].meta is meta and out["b"].x == 2.


def test_namedtuple_subclass_registers_silently_as_jax():
    class State(collections.namedtuple("State", ["a", "b"])):
        pass

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ptu.register_pytree_node(State, lambda s: ((s.a,), s.b), lambda b, xs: State(xs[0], b))
        jax.tree_util.register_pytree_node(State, lambda s: ((s.a,), s.b),
                                           lambda b, xs: State(xs[0], b))
    assert ptu.tree_leaves(State(1., "static")) == jax.tree_util.tree_leaves(
        State(1., "static")) == [1.]


# ---------------------------------------------------------------------------------------------
# custom_jvp / custom_vjp: the function is not run again, weak types kept


def custom_functions(api, N, log):
    @api.custom_jvp
    def f(x, y):
        log.append("f")
        if x > 0:  # concrete under grad/vjp/jvp outside jit, as JAX
            return N.sin(x) * y
        return x * y

    @f.defjvp
    def f_jvp(p, t):
        log.append("f_jvp")
        x, y = p
        return f(x, y), N.cos(x) * t[0] * y + N.sin(x) * t[1]

    @api.custom_vjp
    def g(x):
        log.append("g")
        return N.exp(x) if x < 5 else x

    def g_fwd(x):
        log.append("g_fwd")
        return g(x), x

    def g_bwd(r, ct):
        log.append("g_bwd")
        return (N.exp(r) * ct,)

    g.defvjp(g_fwd, g_bwd)
    return f, g


@pytest.mark.parametrize("case", ["grad f", "vjp f", "jvp f", "grad grad f", "hessian f",
                                  "jacfwd f", "vmap grad f", "grad g", "vjp g",
                                  "value_and_grad g"])
def test_custom_rules_run_what_jax_runs(case):
    def run(api, N):
        log = []
        f, g = custom_functions(api, N, log)
        out = {
            "grad f": lambda: api.grad(f)(1., 2.),
            "vjp f": lambda: api.vjp(f, 1., 2.)[1](1.),
            "jvp f": lambda: api.jvp(f, (1., 2.), (1., 0.)),
            "grad grad f": lambda: api.grad(api.grad(lambda x: f(x, 3.)))(1.),
            "hessian f": lambda: api.hessian(lambda x: f(x, 3.))(1.),
            "jacfwd f": lambda: api.jacfwd(lambda x: f(x, 3.))(1.),
            "vmap grad f": lambda: api.vmap(lambda y: api.grad(f)(1., y))(N.arange(3.)),
            "grad g": lambda: api.grad(g)(1.),
            "vjp g": lambda: api.vjp(g, 1.)[1](1.),
            "value_and_grad g": lambda: api.value_and_grad(lambda x: g(x) * 2)(1.),
        }[case]()
        return describe(out), log

    mine, theirs = run(plax, pnp), run(jax, jnp)
    assert mine == theirs


@pytest.mark.parametrize("case", ["grad mul", "grad dict", "grad sin", "grad int arg",
                                  "grad jit", "complex real out", "holomorphic", "vjp complex",
                                  "vjp strong ct", "vjp weak ct", "jacfwd", "jacrev",
                                  "hessian", "jacrev f32"])
def test_weak_types_of_derivatives(case):
    def run(api, N):
        return {
            "grad mul": lambda: api.grad(lambda x: x * 2.0)(3.0),
            "grad dict": lambda: api.grad(lambda d: d["a"] * d["b"])({"b": 1., "a": 2.}),
            "grad sin": lambda: api.grad(N.sin)(1.0),
            "grad int arg": lambda: api.grad(lambda x, y: x * y)(2.0, 3),
            "grad jit": lambda: api.grad(api.jit(lambda x: x * x))(3.0),
            "complex real out": lambda: api.grad(lambda x: N.real(N.exp(1j * x)))(1.0),
            "holomorphic": lambda: api.grad(lambda z: z * z, holomorphic=True)(1.0 + 2.0j),
            "vjp complex": lambda: api.vjp(lambda z: z * 2, 1.0 + 1j)[1](1.0 + 0j),
            "vjp strong ct": lambda: api.vjp(lambda x: x * 2., 3.0)[1](np.float32(1.0)),
            "vjp weak ct": lambda: api.vjp(lambda x: x * 2., np.float32(3.0))[1](1.0),
            "jacfwd": lambda: api.jacfwd(lambda x: x * 2.)(1.0),
            "jacrev": lambda: api.jacrev(lambda x: x * np.float32(2))(1.0),
            "hessian": lambda: api.hessian(N.sin)(1.0),
            "jacrev f32": lambda: api.jacrev(N.sin)(np.ones(2, np.float32)),
        }[case]()
    same(lambda: run(plax, pnp), lambda: run(jax, jnp))


def test_jit_inline_traces_into_the_caller_as_jax():
    x = np.ones(3, np.float32)
    names = []
    for api, N in [(plax, pnp), (jax, jnp)]:
        f = api.jit(lambda v, N=N: N.sin(v) * 2, inline=True)
        names.append([e.primitive.name for e in api.make_jaxpr(lambda v, f=f: f(v) + 1)(x).eqns])
    assert names[0] == names[1] == ["sin", "mul", "add"]
    xla = registry.get_backend("xla")
    with plax.default_backend("xla"):
        relu6 = plax.nn.relu6(pnp.ones(5))  # a JAX-jitted activation: one program eagerly
        sevens = plax.device_put(np.full(7, 7.0, np.float32))
        n = xla.stats["compiles"]
        plax.nn.relu6(sevens).block_until_ready()
        assert xla.stats["compiles"] == n + 1
    assert_close(relu6, np.ones(5))
