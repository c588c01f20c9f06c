"""The transforms themselves: jvp, grad, vjp, vmap, jit (cache, statics, lowering), their
compositions, errors, and a third-party primitive that works under all of them."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax
from plax.extend import Primitive, ShapedArray, registry

from conftest import HAVE_JAX, assert_close, installed_backends, requires_jax

if HAVE_JAX:
    import jax


def f_scalar(x):
    return lax.mul(lax.sin(x), lax.exp(lax.neg(x)))


def f_np(x):
    return np.sin(x) * np.exp(-x)


def df_np(x):
    return np.cos(x) * np.exp(-x) - np.sin(x) * np.exp(-x)


# --- forward and reverse mode ----------------------------------------------------------------

def test_jvp_matches_analytic(backend):
    x = np.float32(0.7)
    y, t = plax.jvp(f_scalar, (x,), (np.float32(1.0),))
    assert_close(y, f_np(0.7))
    assert_close(t, df_np(0.7))


def test_grad_value_and_grad(backend):
    g = plax.grad(f_scalar)(np.float32(0.3))
    assert_close(g, df_np(0.3))
    v, g2 = plax.value_and_grad(f_scalar)(np.float32(0.3))
    assert_close(v, f_np(0.3))
    assert_close(g2, g)


def test_grad_argnums_and_has_aux(backend):
    def f(x, y, z):
        return lax.add(lax.mul(x, y), lax.sin(z)), {"aux": lax.cos(x)}
    gx, gz = plax.grad(f, argnums=(0, 2), has_aux=True)(1.0, 2.0, 3.0)[0]
    assert_close(gx, 2.0)
    assert_close(gz, np.cos(3.0))
    (_, aux), _ = plax.value_and_grad(f, has_aux=True)(1.0, 2.0, 3.0)
    assert_close(aux["aux"], np.cos(1.0))
    g, aux = plax.grad(f, argnums=-1, has_aux=True)(1.0, 2.0, 3.0)
    assert_close(g, np.cos(3.0))


def test_unused_input_costs_nothing():
    def f(x, y):
        return lax.sin(x)
    jaxpr = plax.make_jaxpr(plax.grad(f, argnums=1))(1.0, 2.0)
    # the gradient w.r.t. y is a symbolic zero: no sin/cos work, only a zeros constant
    prims = [e.primitive.name for e in jaxpr.eqns]
    assert "cos" not in prims and "mul" not in prims, prims
    assert_close(plax.grad(f, argnums=1)(1.0, 2.0), 0.0)


def test_higher_order(backend):
    x = np.float32(0.4)
    d2 = plax.grad(plax.grad(f_scalar))(x)
    h = 1e-3
    fd = (df_np(0.4 + h) - df_np(0.4 - h)) / (2 * h)
    assert_close(d2, fd, rtol=1e-3, atol=1e-3)
    d3 = plax.grad(plax.grad(plax.grad(lax.sin)))(x)
    assert_close(d3, -np.cos(0.4))


def test_check_grads_elementwise():
    x = np.array([0.3, 0.6, 1.1], np.float64)
    with plax.enable_x64():
        for fn in (lax.sin, lax.tanh, lax.logistic, lax.sqrt, lax.log1p, lax.atan,
                   lambda v: lax.integer_pow(v, 3), lambda v: lax.pow(v, lax.cos(v)),
                   lambda v: lax.atan2(v, lax.add(v, 1.0)), lambda v: lax.div(lax.exp(v), v)):
            plax.test_util.check_grads(fn, (x,), order=2)


def test_grad_errors():
    with pytest.raises(TypeError, match="scalar-output"):
        plax.grad(lambda x: lax.sin(x))(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="int32"):
        plax.grad(lambda x: lax.sin(lax.convert_element_type(x, np.float32)))(1)
    with pytest.raises(ValueError, match="argnums"):
        plax.grad(lambda x: x, argnums=3)(1.0)
    with pytest.raises(TypeError, match="dtypes"):
        plax.jvp(lax.sin, (np.float32(1),), (np.float16(1),))


@requires_jax
def test_against_jax_grad_hessian():
    def pf(x):
        return lax.mul(lax.tanh(x), lax.cos(lax.mul(x, x)))

    def jf(x):
        return jax.lax.mul(jax.lax.tanh(x), jax.lax.cos(x * x))

    for v in (0.1, 0.5, -1.3):
        assert_close(plax.grad(pf)(np.float32(v)), jax.grad(jf)(np.float32(v)))
        assert_close(plax.grad(plax.grad(pf))(np.float32(v)),
                     jax.grad(jax.grad(jf))(np.float32(v)), rtol=1e-4, atol=1e-5)


def test_vjp_pytrees_and_linearize():
    def f(d):
        return {"s": lax.mul(d["a"], d["b"]), "t": lax.sin(d["a"])}
    primals = {"a": np.float32(0.5), "b": np.float32(2.0)}
    out, f_vjp = plax.vjp(f, primals)
    (ct,) = f_vjp({"s": np.float32(1.0), "t": np.float32(0.0)})
    assert_close(ct["a"], 2.0)
    assert_close(ct["b"], 0.5)
    y, f_jvp = plax.linearize(lax.sin, np.float32(0.5))
    assert_close(f_jvp(np.float32(2.0)), 2 * np.cos(0.5))
    with pytest.raises(TypeError, match="tree"):
        f_vjp({"s": 1.0})


# --- vmap ------------------------------------------------------------------------------------

def test_vmap_matches_loop(backend):
    xs = np.linspace(-1, 1, 5).astype(np.float32)
    ys = np.linspace(0, 2, 5).astype(np.float32)
    f = lambda x, y: lax.add(lax.mul(lax.sin(x), y), 1.0)
    out = plax.vmap(f)(xs, ys)
    assert_close(out, [f(x, y) for x, y in zip(xs, ys)])
    out = plax.vmap(f, in_axes=(0, None))(xs, np.float32(3.0))
    assert_close(out, np.sin(xs) * 3 + 1)


def test_vmap_axes_pytrees_nested():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    f = lambda d: lax.mul(d["x"], d["s"])
    out = plax.vmap(f, in_axes=({"x": 1, "s": None},), out_axes=1)({"x": x, "s": np.float32(2)})
    assert_close(out, x * 2)
    out = plax.vmap(plax.vmap(lax.sin, in_axes=-1), in_axes=0)(x)
    assert_close(out, np.sin(x))
    out = plax.vmap(lambda a: a, in_axes=0, out_axes=-1)(x)
    assert_close(out, x.T)


def test_vmap_errors():
    with pytest.raises(ValueError, match="inconsistent sizes"):
        plax.vmap(lax.add)(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="axis 2"):
        plax.vmap(lax.sin, in_axes=2)(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="len\\(in_axes\\)"):
        plax.vmap(lax.add, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="non-None"):
        plax.vmap(lax.sin, in_axes=None)(1.0)


def test_vmap_of_grad_and_grad_of_vmap(backend):
    xs = np.linspace(0.1, 1, 4).astype(np.float32)
    g = plax.vmap(plax.grad(f_scalar))(xs)
    assert_close(g, df_np(xs))

    def total(x):
        return jnp.sum(plax.vmap(f_scalar)(x))
    assert_close(plax.grad(total)(xs), df_np(xs))


def test_jacobians(backend):
    def f(x):
        return lax.mul(lax.sin(x), x)
    x = np.array([0.1, 0.2, 0.3], np.float32)
    expected = np.diag(np.cos(x) * x + np.sin(x))
    assert_close(plax.jacfwd(f)(x), expected)
    assert_close(plax.jacrev(f)(x), expected)
    h = plax.hessian(lambda v: jnp.sum(lax.mul(lax.sin(v), v)))(x)
    assert_close(h, np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-4, atol=1e-5)
    # jacfwd of jacrev of jit
    h2 = plax.jacfwd(plax.jacrev(plax.jit(lambda v: jnp.sum(lax.mul(lax.sin(v), v)))))(x)
    assert_close(h2, h, rtol=1e-4, atol=1e-5)


# --- jit -----------------------------------------------------------------------------------

def test_jit_matches_eager_and_caches(backend):
    calls = []

    def f(x, y):
        calls.append(1)
        return lax.add(lax.mul(x, y), lax.sin(x))

    jf = plax.jit(f)
    x = np.ones(3, np.float32)
    for _ in range(5):
        out = jf(x, x)
    assert_close(out, f(x, x))
    assert len(calls) == 2  # one trace + one eager check call above
    jf(np.ones(4, np.float32), np.ones(4, np.float32))   # new shape: retrace
    assert len(calls) == 3
    jf(1.0, 2.0)      # weak-typed scalars
    jf(1.0, 3.0)      # same avals: no retrace
    assert len(calls) == 4
    jf(np.float32(1.0), 2.0)  # a strong float32 differs from a weak one: retrace
    assert len(calls) == 5


def test_jit_static_args():
    calls = []

    def f(x, n, *, mode):
        calls.append(1)
        return lax.integer_pow(x, n) if mode == "pow" else lax.mul(x, float(n))

    jf = plax.jit(f, static_argnums=1, static_argnames="mode")
    assert_close(jf(2.0, 3, mode="pow"), 8.0)
    assert_close(jf(3.0, 3, mode="pow"), 27.0)
    assert len(calls) == 1
    assert_close(jf(2.0, 3, mode="mul"), 6.0)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="hashable"):
        plax.jit(f, static_argnums=1)(1.0, [1], mode="x")


def test_nested_jit_is_one_equation():
    inner = plax.jit(lambda x: lax.mul(x, 2.0))
    jaxpr = plax.make_jaxpr(lambda x: lax.add(inner(x), 1.0))(1.0)
    assert [e.primitive.name for e in jaxpr.eqns] == ["jit", "add"]
    text = str(jaxpr)
    assert ("jit[\n      name=<lambda>\n      jaxpr={ lambda ; a:f32[]. let "
            "b:f32[] = mul a 2.0:f32[] in (b,) }") in text
    jaxpr.check()


def test_jit_lower_compile_and_disable_jit():
    jf = plax.jit(lambda x: lax.sin(x))
    lowered = jf.lower(np.ones(3, np.float32))
    assert "sin" in lowered.as_text()
    compiled = lowered.compile()
    assert_close(compiled(np.ones(3, np.float32)), np.sin(np.ones(3)))
    with pytest.raises(TypeError):
        compiled(np.ones(4, np.float32))
    seen = []

    def f(x):
        seen.append(type(x).__name__)
        return lax.sin(x)

    with plax.disable_jit():
        plax.jit(f)(np.ones(2, np.float32))
    assert seen == ["ndarray"]


def test_jit_under_transforms(backend):
    jf = plax.jit(f_scalar)
    assert_close(plax.grad(jf)(np.float32(0.3)), df_np(0.3))
    xs = np.linspace(0, 1, 4).astype(np.float32)
    assert_close(plax.vmap(jf)(xs), f_np(xs))
    assert_close(plax.jit(plax.vmap(plax.grad(jf)))(xs), df_np(xs))


def test_jit_closure_over_tracer():
    def outer(x):
        return plax.jit(lambda y: lax.mul(x, y))(2.0)
    assert_close(plax.grad(outer)(3.0), 2.0)
    assert_close(plax.vmap(outer)(np.arange(3, dtype=np.float32)), [0, 2, 4])


def test_escaped_tracer_error():
    leaked = []

    def f(x):
        leaked.append(x)
        return x

    plax.jit(f)(1.0)
    with pytest.raises(plax.UnexpectedTracerError):
        lax.sin(leaked[0])


def test_tracer_concretization_error():
    with pytest.raises(plax.ConcretizationTypeError, match="static_argnums"):
        plax.jit(lambda x: 1.0 if x > 0 else 2.0)(1.0)


# --- a third-party primitive ---------------------------------------------------------------

softplus_p = Primitive("testext.softplus", elementwise=True)


@pytest.fixture
def reference_backend():
    with plax.default_backend("reference"):
        yield


@pytest.fixture(scope="module")
def softplus():
    registry.add_abstract_eval(softplus_p, lambda x: ShapedArray(x.shape, x.dtype, x.weak_type))
    registry.add_impl("reference", softplus_p, lambda x: np.logaddexp(0, x).astype(x.dtype))
    registry.add_jvp(softplus_p, lambda p, t: (softplus_p.bind(p[0]),
                                               lax.mul(t[0], lax.logistic(p[0]))))
    registry.add_batch(softplus_p, lambda vals, dims: (softplus_p.bind(vals[0]), dims[0]))
    return lambda x: softplus_p.bind(x)


def test_third_party_primitive_under_transforms(softplus):
    with plax.default_backend("reference"):  # it has a reference implementation only
        _third_party_checks(softplus)
    with plax.default_backend(installed_backends()[0]):
        if installed_backends()[0] != "reference":
            with pytest.raises(plax.UnsupportedPrimitiveError, match="testext.softplus"):
                plax.jit(softplus)(np.ones(2, np.float32))


def _third_party_checks(softplus):
    x = np.array([-2.0, 0.0, 3.0], np.float32)
    ref = np.logaddexp(0, x)
    assert_close(softplus(x), ref)
    assert_close(plax.jit(softplus)(x), ref)
    assert_close(plax.vmap(softplus)(x), ref)
    assert_close(plax.vmap(plax.grad(softplus))(x), 1 / (1 + np.exp(-x)))
    assert "testext.softplus" in str(plax.make_jaxpr(softplus)(x))


@pytest.mark.usefixtures("reference_backend")
def test_missing_rule_errors_name_the_primitive():
    p = Primitive("testext.nojvp")
    registry.add_abstract_eval(p, lambda x: x)
    registry.add_impl("reference", p, lambda x: x)
    with pytest.raises(NotImplementedError, match="testext.nojvp"):
        plax.grad(lambda x: p.bind(x))(1.0)
    with pytest.raises(NotImplementedError, match="testext.nojvp"):
        plax.vmap(lambda x: p.bind(x))(np.ones(2))


def test_jit_cache_separates_x64_modes(backend):
    # the same argument avals trace to different programs with x64 on and off
    f = plax.jit(lambda x: plax.numpy.arange(3) + x)
    g = plax.jit(lambda x, s: x * s, static_argnums=1)
    x = plax.numpy.asarray(np.int32(1))
    for _ in range(2):  # the second round runs from the caches
        assert f(x).dtype == np.int32
        assert g(x, 2).dtype == np.int32
        with plax.enable_x64():
            assert f(x).dtype == np.int64, "a trace made with x64 off was reused"
            assert g(x, 2).dtype == np.int32
            np.testing.assert_array_equal(f(x), [1, 2, 3])
    assert f._cache_size() == 2


def test_jit_cached_calls_keep_tree_structures_apart(backend):
    # the hot path keys pytree calls by tree and leaf avals: equal leaves in other containers
    # are other signatures, and a leaf that is not an Array takes the general path
    f = plax.jit(lambda t, s: plax.tree_util.tree_map(lambda v: v * s, t))
    x, y = plax.numpy.ones(2), plax.numpy.full(2, 3.0)
    two = plax.numpy.asarray(2.0)
    for _ in range(3):
        out = f((x, y), two)
        assert type(out) is tuple
        np.testing.assert_array_equal(out[1], [6, 6])
        out = f([x, y], two)
        assert type(out) is list
        out = f({"a": x, "b": y}, two)
        assert sorted(out) == ["a", "b"]
        np.testing.assert_array_equal(out["b"], [6, 6])
        out = f((x, np.full(2, 5.0, np.float32)), two)  # a NumPy leaf
        np.testing.assert_array_equal(out[1], [10, 10])
        out = f((x, None, y), two)
        assert out[1] is None
    assert f._cache_size() == 5


def test_vmap_where_with_batched_condition_and_scalar_branch(backend):
    # select_n under vmap: a batched predicate with an unbatched 0-d case (a Python scalar
    # branch of jnp.where) must broadcast the case, not fail on mismatched shapes
    jnp = plax.numpy
    cond = np.array([[True, False, True], [False, False, True]])
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    out = plax.vmap(lambda c, v: jnp.where(c, 0.5, v))(cond, x)
    np.testing.assert_array_equal(out, np.where(cond, 0.5, x))
    out = plax.vmap(lambda c: jnp.where(c, 1.0, -1.0))(cond)
    np.testing.assert_array_equal(out, np.where(cond, 1.0, -1.0))
    s = np.array([True, False])  # a 0-d predicate per example, batched
    out = plax.vmap(lambda c, v: plax.lax.select(c, v, v * 0))(s, x)
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 0, 0]])
    # 0-d per example: a batched case beside an unbatched 0-d one
    out = plax.vmap(lambda c, v: plax.lax.select(c, v, np.float32(-1)))(s, x[:, 0])
    np.testing.assert_array_equal(out, [0, -1])
