"""custom_jvp, custom_vjp and checkpoint (remat): the user's rules are used by every transform
(jvp, grad, vmap, jit and their compositions), JAX's documented examples give JAX's numbers,
errors are clear, and checkpoint recomputes what its policy does not save."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from plax import lax

from conftest import HAVE_JAX, assert_close, requires_jax
from plax_transforms.custom import checkpoint_p as CHECKPOINT_P

if HAVE_JAX:
    import jax
    import jax.numpy as jjnp

PLAX = (plax, pnp)
JAX = (jax, jjnp) if HAVE_JAX else None

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def tree_close(a, b, **kw):
    la, _ = plax.tree_util.tree_flatten(a)
    lb, _ = plax.tree_util.tree_flatten(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert_close(x, np.asarray(y), **kw)


# =============================================================================================
# custom_jvp


def make_log1pexp(api, N):
    """JAX's documented example: log(1 + exp(x)) with a stable derivative."""
    @api.custom_jvp
    def log1pexp(x):
        return N.log(1.0 + N.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        x, = primals
        x_dot, = tangents
        ans = log1pexp(x)
        ans_dot = (1 - 1 / (1 + N.exp(x))) * x_dot
        return ans, ans_dot

    return log1pexp


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def test_custom_jvp_log1pexp_gives_finite_gradients(backend):
    f = make_log1pexp(*PLAX)
    naive = lambda x: pnp.log(1.0 + pnp.exp(x))  # noqa: E731
    x = np.float32(100.0)
    with np.errstate(over="ignore", invalid="ignore"):  # the naive one overflows: inf/inf
        assert np.isnan(np.asarray(plax.grad(naive)(x)))
    assert_close(plax.grad(f)(x), 1.0)
    assert_close(plax.jit(plax.grad(f))(x), 1.0)
    assert_close(plax.grad(plax.jit(f))(x), 1.0)
    xs = np.array([-10.0, -1.0, 0.0, 3.0, 50.0, 100.0], np.float32)
    assert_close(plax.vmap(plax.grad(f))(xs), sigmoid(xs), rtol=1e-6)
    assert_close(plax.jacfwd(f)(xs), np.diag(sigmoid(xs)), rtol=1e-6, atol=1e-7)
    assert_close(plax.jacrev(f)(xs), np.diag(sigmoid(xs)), rtol=1e-6, atol=1e-7)
    # second order: d/dx sigmoid = sigmoid (1 - sigmoid), through the custom rule
    s = sigmoid(xs[:4])
    assert_close(plax.vmap(plax.grad(plax.grad(f)))(xs[:4]), s * (1 - s), rtol=1e-5, atol=1e-7)
    assert_close(plax.vmap(plax.hessian(f))(xs[:4]), s * (1 - s), rtol=1e-5, atol=1e-7)
    # the primal is the function itself, eagerly and under every transform
    assert_close(f(np.float32(2.0)), np.log1p(np.exp(2.0)))
    assert_close(plax.vmap(f)(xs[:4]), np.log1p(np.exp(xs[:4].astype(np.float64))), rtol=1e-6)
    y, t = plax.jvp(f, (x,), (np.float32(3.0),))
    assert np.isinf(np.asarray(y)) and float(t) == 3.0


@requires_jax
def test_custom_jvp_log1pexp_against_jax(reference):
    pf, jf = make_log1pexp(*PLAX), make_log1pexp(*JAX)
    xs = np.array([-3.0, 0.0, 0.5, 20.0, 100.0], np.float32)
    assert_close(plax.vmap(plax.grad(pf))(xs), np.asarray(jax.vmap(jax.grad(jf))(xs)))
    # (the rule's own derivative overflows at 100: inf/inf, so second order stops at 20)
    assert_close(plax.vmap(plax.grad(plax.grad(pf)))(xs[:4]),
                 np.asarray(jax.vmap(jax.grad(jax.grad(jf)))(xs[:4])), rtol=1e-5, atol=1e-7)
    tree_close(plax.jvp(pf, (xs,), (np.ones_like(xs),)), jax.jvp(jf, (xs,), (np.ones_like(xs),)))


def test_custom_jvp_rule_is_used_by_every_transform(backend):
    # a deliberately "wrong" derivative shows that the rule, not the function, is used
    @plax.custom_jvp
    def f(x):
        return pnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        x, = primals
        t, = tangents
        return f(x), 2.0 * x * t

    x = rand(4)
    assert_close(f(x), np.sin(x))
    assert_close(plax.jvp(f, (x,), (np.ones_like(x),))[1], 2 * x)
    assert_close(plax.grad(lambda v: f(v).sum())(x), 2 * x)
    assert_close(plax.jit(plax.grad(lambda v: f(v).sum()))(x), 2 * x)
    assert_close(plax.vmap(plax.grad(f))(x), 2 * x)
    assert_close(plax.grad(lambda v: plax.vmap(f)(v).sum())(x), 2 * x)
    assert_close(plax.grad(plax.grad(f))(np.float32(0.3)), 2.0)
    assert_close(plax.jacrev(f)(x), np.diag(2 * x))
    assert_close(plax.jacfwd(plax.jit(f))(x), np.diag(2 * x))
    # the rule is also used when f is called inside scan and cond
    g = lambda v: lax.scan(lambda c, a: (c + f(a), None), 0.0, v)[0]  # noqa: E731
    assert_close(plax.grad(g)(x), 2 * x)
    h = lambda v: lax.cond(v > 0, f, lambda u: u, v)  # noqa: E731
    assert_close(plax.grad(h)(np.float32(0.5)), 1.0)


def test_custom_jvp_defjvps_and_pytrees(backend):
    @plax.custom_jvp
    def f(x, y):
        return pnp.sin(x) * y

    f.defjvps(lambda x_dot, out, x, y: pnp.cos(x) * x_dot * y,
              lambda y_dot, out, x, y: pnp.sin(x) * y_dot)
    x, y = rand(3), rand(3)
    gx, gy = plax.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(x, y)
    assert_close(gx, np.cos(x) * y, rtol=1e-6)
    assert_close(gy, np.sin(x), rtol=1e-6)
    # a None entry: that argument's tangent does not contribute
    @plax.custom_jvp
    def g(x, y):
        return x * y

    g.defjvps(None, lambda y_dot, out, x, y: x * y_dot)
    assert_close(plax.grad(g, argnums=(0, 1))(np.float32(2.0), np.float32(3.0)), (0.0, 2.0))
    # dict in, tuple out
    @plax.custom_jvp
    def h(d):
        return d["a"] * d["b"], pnp.exp(d["a"])

    @h.defjvp
    def h_jvp(primals, tangents):
        d, = primals
        t, = tangents
        return h(d), (t["a"] * d["b"] + d["a"] * t["b"], pnp.exp(d["a"]) * t["a"])

    d = {"a": rand(2), "b": rand(2)}
    g = plax.grad(lambda d: h(d)[0].sum() + h(d)[1].sum())(d)
    assert_close(g["a"], d["b"] + np.exp(d["a"]), rtol=1e-6)
    assert_close(g["b"], d["a"])
    out = plax.vmap(h)({"a": rand(3, 2), "b": rand(3, 2)})
    assert out[0].shape == (3, 2) and out[1].shape == (3, 2)


def test_custom_jvp_nondiff_argnums(backend):
    @functools.partial(plax.custom_jvp, nondiff_argnums=(0, 2))
    def apply(fn, x, power):
        return fn(x) ** power

    @apply.defjvp
    def apply_jvp(fn, power, primals, tangents):
        x, = primals
        t, = tangents
        # pretend fn' = 1, to see the rule in use
        return apply(fn, x, power), power * fn(x) ** (power - 1) * t

    x = np.float32(0.5)
    assert_close(apply(pnp.sin, x, 2), np.sin(0.5) ** 2)
    assert_close(plax.grad(lambda v: apply(pnp.sin, v, 2))(x), 2 * np.sin(0.5), rtol=1e-6)
    assert_close(plax.jit(plax.grad(lambda v: apply(pnp.sin, v, 3)))(x), 3 * np.sin(0.5) ** 2,
                 rtol=1e-6)
    xs = rand(4)
    assert_close(plax.vmap(plax.grad(lambda v: apply(pnp.cos, v, 2)))(xs), 2 * np.cos(xs),
                 rtol=1e-6)
    assert_close(plax.grad(plax.grad(lambda v: apply(pnp.sin, v, 2)))(x), 2 * np.cos(0.5),
                 rtol=1e-5)


def test_custom_jvp_vmap_in_axes(backend):
    @plax.custom_jvp
    def f(x, y):
        return x * pnp.sin(y)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        return f(x, y), tx * pnp.sin(y) + x * pnp.cos(y) * ty

    x, y = rand(4, 3), rand(4)
    assert_close(plax.vmap(f, in_axes=(1, None))(x, y), x.T * np.sin(y), rtol=1e-6)
    gx = plax.vmap(plax.grad(lambda a, b: f(a, b).sum()), in_axes=(1, None))(x, y)
    assert_close(gx, np.broadcast_to(np.sin(y), (3, 4)), rtol=1e-6)
    gy = plax.grad(lambda b: plax.vmap(f, in_axes=(1, None))(x, b).sum())(y)
    assert_close(gy, x.sum(1) * np.cos(y), rtol=1e-5)
    gy = plax.vmap(plax.grad(lambda a, b: f(a, b).sum(), argnums=1), in_axes=(1, 0))(
        x, rand(3, 4))
    assert gy.shape == (3, 4)


def _closing_over(api, N, kind):
    """A custom rule defined inside a function, closing over its argument w."""
    def outer(w, x):
        if kind == "jvp":
            @api.custom_jvp
            def f(x):
                return N.sin(x) * w

            f.defjvp(lambda p, t: (f(p[0]), 10.0 * N.cos(p[0]) * w * t[0]))
        else:
            @api.custom_vjp
            def f(x):
                return N.sin(x) * w

            f.defvjp(lambda x: (f(x), x), lambda r, g: (10.0 * N.cos(r) * w * g,))
        return f(x)
    return outer


@pytest.mark.parametrize("kind", ["jvp", "vjp"])
def test_custom_rules_closing_over_vmapped_values(backend, kind):
    f = _closing_over(plax, pnp, kind)
    ws, x = np.array([1.0, 2.0, 3.0], np.float32), np.float32(0.5)
    want = 10 * np.cos(0.5) * ws
    assert_close(plax.vmap(lambda w: plax.grad(lambda v: f(w, v))(x))(ws), want, rtol=1e-6)
    # the rule runs batched by the vmap that closed over w, inside grad
    assert_close(plax.grad(lambda v: plax.vmap(lambda w: f(w, v))(ws).sum())(x), want.sum(),
                 rtol=1e-6)
    assert_close(plax.jit(plax.grad(lambda v: plax.vmap(lambda w: f(w, v))(ws).sum()))(x),
                 want.sum(), rtol=1e-6)
    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        plax.grad(lambda w: f(w, x))(np.float32(2.0))


@requires_jax
def test_custom_jvp_closing_over_vmapped_values_against_jax(reference):
    pf, jf = _closing_over(plax, pnp, "jvp"), _closing_over(jax, jjnp, "jvp")
    ws, x = np.array([1.0, 2.0, 3.0], np.float32), np.float32(0.5)
    assert_close(plax.grad(lambda v: plax.vmap(lambda w: pf(w, v))(ws).sum())(x),
                 np.asarray(jax.grad(lambda v: jax.vmap(lambda w: jf(w, v))(ws).sum())(x)),
                 rtol=1e-6)


def test_custom_jvp_errors():
    @plax.custom_jvp
    def f(x):
        return x

    with pytest.raises(AttributeError, match="No JVP defined"):
        plax.grad(f)(1.0)

    @plax.custom_jvp
    def g(x):
        return pnp.sin(x)

    @g.defjvp
    def g_jvp(primals, tangents):
        return g(primals[0]), pnp.ones(3)

    with pytest.raises(TypeError, match=r"tangent output.*shape \(3,\).*\(\)"):
        plax.jvp(g, (1.0,), (1.0,))

    @plax.custom_jvp
    def h(x):
        return pnp.sin(x)

    h.defjvp(lambda p, t: (h(p[0]), (t[0], t[0])))
    with pytest.raises(TypeError, match="output tree"):
        plax.jvp(h, (1.0,), (1.0,))

    @plax.custom_jvp
    def k(x):
        return pnp.sin(x)

    k.defjvp(lambda p, t: h(p[0]))
    with pytest.raises(TypeError, match="must return a pair"):
        plax.jvp(k, (np.ones(2, np.float32),), (np.ones(2, np.float32),))


def test_custom_jvp_jaxpr_shows_the_call():
    f = make_log1pexp(*PLAX)
    jaxpr = plax.make_jaxpr(f)(np.float32(1.0))
    (eqn,) = jaxpr.eqns
    assert eqn.primitive.name == "custom_jvp_call"
    assert [e.primitive.name for e in eqn.params["call_jaxpr"].eqns] == ["exp", "add", "log"]
    # its derivative comes from the rule: no log in the tangent computation
    g = plax.make_jaxpr(plax.grad(f))(np.float32(1.0))
    top = [e.primitive.name for e in g.eqns]
    assert "log" not in top and "div" in top


# =============================================================================================
# custom_vjp


def make_clip_gradient(api, N):
    """JAX's documented example: the identity, with its cotangent clipped."""
    @functools.partial(api.custom_vjp, nondiff_argnums=(0, 1))
    def clip_gradient(lo, hi, x):
        return x

    def clip_gradient_fwd(lo, hi, x):
        return x, None

    def clip_gradient_bwd(lo, hi, _, g):
        return (N.clip(g, lo, hi),)

    clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)
    return clip_gradient


def test_custom_vjp_gradient_clipping(backend):
    clip = make_clip_gradient(*PLAX)
    f = lambda x: 3.0 * clip(-0.75, 0.75, pnp.sin(x))  # noqa: E731
    t = np.linspace(0, 10, 50).astype(np.float32)
    assert_close(plax.vmap(f)(t), 3 * np.sin(t), rtol=1e-6)
    # the cotangent 3 is clipped to 0.75 before it meets cos
    assert_close(plax.vmap(plax.grad(f))(t), 0.75 * np.cos(t), rtol=1e-6, atol=1e-7)
    assert_close(plax.jit(plax.vmap(plax.grad(f)))(t), 0.75 * np.cos(t), rtol=1e-6, atol=1e-7)
    assert_close(plax.grad(lambda v: plax.vmap(f)(v).sum())(t), 0.75 * np.cos(t), rtol=1e-6,
                 atol=1e-7)
    assert_close(plax.grad(plax.jit(f))(t[3]), 0.75 * np.cos(t[3]), rtol=1e-6)
    g = lambda x: 0.5 * clip(-0.75, 0.75, x)  # noqa: E731  (small cotangents pass unchanged)
    assert_close(plax.grad(g)(np.float32(1.0)), 0.5)


@requires_jax
def test_custom_vjp_gradient_clipping_against_jax(reference):
    pc, jc = make_clip_gradient(*PLAX), make_clip_gradient(*JAX)
    t = np.linspace(0, 10, 20).astype(np.float32)
    got = plax.vmap(plax.grad(lambda x: 3.0 * pc(-0.75, 0.75, pnp.sin(x))))(t)
    want = jax.vmap(jax.grad(lambda x: 3.0 * jc(-0.75, 0.75, jjnp.sin(x))))(t)
    assert_close(got, np.asarray(want), rtol=1e-6, atol=1e-7)


def make_vjp_fn(api, N):
    @api.custom_vjp
    def f(x, y):
        return N.sin(x) * y

    def f_fwd(x, y):
        return f(x, y), (N.cos(x), N.sin(x), y)

    def f_bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    f.defvjp(f_fwd, f_bwd)
    return f


def test_custom_vjp_under_transforms(backend):
    f = make_vjp_fn(*PLAX)
    x, y = rand(3), rand(3)
    assert_close(f(x, y), np.sin(x) * y, rtol=1e-6)
    out, f_vjp = plax.vjp(f, x, y)
    ct = rand(3)
    gx, gy = f_vjp(ct)
    assert_close(gx, np.cos(x) * ct * y, rtol=1e-6)
    assert_close(gy, np.sin(x) * ct, rtol=1e-6)
    loss = lambda a, b: f(a, b).sum()  # noqa: E731
    tree_close(plax.grad(loss, argnums=(0, 1))(x, y), (np.cos(x) * y, np.sin(x)), rtol=1e-6)
    tree_close(plax.jit(plax.grad(loss, argnums=(0, 1)))(x, y), (np.cos(x) * y, np.sin(x)),
               rtol=1e-6)
    # vmap: batched x only (in_axes mix), and batched both
    xs = rand(5, 3)
    assert_close(plax.vmap(f, in_axes=(0, None))(xs, y), np.sin(xs) * y, rtol=1e-6)
    g = plax.vmap(plax.grad(loss), in_axes=(0, None))(xs, y)
    assert_close(g, np.cos(xs) * y, rtol=1e-6)
    g = plax.grad(lambda a: plax.vmap(f, in_axes=(0, None))(a, y).sum())(xs)
    assert_close(g, np.cos(xs) * y, rtol=1e-6)
    g = plax.grad(lambda b: plax.vmap(f, in_axes=(0, None))(xs, b).sum())(y)
    assert_close(g, np.sin(xs).sum(0), rtol=1e-5)
    assert_close(plax.jacrev(lambda a: f(a, y))(x), np.diag(np.cos(x) * y), rtol=1e-6)
    # grad of grad: the bwd rule is itself differentiated
    assert_close(plax.grad(plax.grad(lambda a: f(a, np.float32(2.0))))(np.float32(0.4)),
                 -2 * np.sin(0.4), rtol=1e-5)
    # inside scan
    h = lambda a: lax.scan(lambda c, v: (c + f(v, v), None), 0.0, a)[0]  # noqa: E731
    assert_close(plax.grad(h)(x), np.cos(x) * x + np.sin(x), rtol=1e-5)


def test_custom_vjp_second_order_and_pytrees(backend):
    @plax.custom_vjp
    def cube(x):
        return x ** 3

    cube.defvjp(lambda x: (cube(x), x), lambda x, g: (3 * x ** 2 * g,))
    x = np.float32(1.5)
    assert_close(plax.grad(cube)(x), 3 * 1.5 ** 2)
    assert_close(plax.grad(plax.grad(cube))(x), 6 * 1.5, rtol=1e-6)
    assert_close(plax.jit(plax.grad(plax.grad(cube)))(x), 6 * 1.5, rtol=1e-6)
    # no forward mode for custom_vjp (so no check_grads, which uses jvp): finite differences
    h = 1e-3
    g = plax.grad(plax.grad(cube))
    fd = (plax.grad(cube)(np.float32(1.5 + h)) - plax.grad(cube)(np.float32(1.5 - h))) / (2 * h)
    assert_close(g(x), fd, rtol=1e-3)

    @plax.custom_vjp
    def f(d, n):
        return d["w"] * n, pnp.sum(d["v"])

    def f_fwd(d, n):
        return f(d, n), n

    def f_bwd(n, cts):
        g1, g2 = cts
        return {"w": g1 * n, "v": g2 * pnp.ones(2)}, None

    f.defvjp(f_fwd, f_bwd)
    d = {"w": np.float32(2.0), "v": rand(2)}
    g = plax.grad(lambda d: f(d, 3)[0] + f(d, 3)[1])(d)
    assert_close(g["w"], 3.0)
    assert_close(g["v"], np.ones(2))


def test_custom_vjp_errors(backend):
    f = make_vjp_fn(*PLAX)
    with pytest.raises(TypeError, match=r"can't apply forward-mode autodiff \(jvp\) to a "
                                        r"custom_vjp function"):
        plax.jvp(f, (np.float32(1.0), np.float32(2.0)), (np.float32(1.0), np.float32(0.0)))
    with pytest.raises(TypeError, match="forward-mode"):
        plax.jacfwd(f)(np.float32(1.0), np.float32(2.0))

    @plax.custom_vjp
    def g(x):
        return x

    with pytest.raises(AttributeError, match="No VJP defined"):
        plax.grad(g)(1.0)
    g.defvjp(lambda x: (x, None), lambda r, ct: (ct, ct))
    with pytest.raises(TypeError, match="returned 2 cotangents but the function has 1"):
        plax.grad(g)(1.0)
    g.defvjp(lambda x: (x, None), lambda r, ct: ct)
    with pytest.raises(TypeError, match="must return a tuple"):
        plax.grad(g)(1.0)
    g.defvjp(lambda x: (x, None), lambda r, ct: (pnp.ones(3),))
    with pytest.raises(ValueError, match=r"shapes of the primal arguments.*f32\[3\]"):
        plax.grad(g)(1.0)
    g.defvjp(lambda x: x, lambda r, ct: (ct,))
    with pytest.raises(TypeError, match="fwd function must return a pair"):
        plax.grad(g)(np.ones(3, np.float32).sum())


# =============================================================================================
# checkpoint / remat


W1, W2 = rand(4, 4) * 0.5, rand(4, 4) * 0.5


def mlp(N):
    def layer(x):
        return N.sin(N.sin(x @ W1) @ W2)
    return layer


def loss_with(api, N, policy=None, use_ckpt=True):
    layer = mlp(N)
    if use_ckpt:
        layer = api.checkpoint(layer, policy=policy)
    return lambda x: N.sum(layer(x) ** 2)


def count_prims(jaxpr, name) -> int:
    """Equations of primitive `name` in a jaxpr and the jaxprs nested in its params."""
    n = 0
    for e in jaxpr.eqns:
        n += e.primitive.name == name
        for v in e.params.values():
            for j in (v if isinstance(v, tuple) else (v,)):
                if hasattr(j, "eqns") and hasattr(j, "jaxpr"):
                    n += count_prims(j.jaxpr, name)
                elif hasattr(j, "eqns"):
                    n += count_prims(j, name)
    return n


POLICIES = [None, "nothing_saveable", "dots_saveable", "everything_saveable",
            "dots_with_no_batch_dims_saveable", "checkpoint_dots"]


@pytest.mark.parametrize("policy", POLICIES)
def test_checkpoint_same_values_and_gradients(backend, policy):
    pol = getattr(plax.checkpoint_policies, policy) if policy else None
    f, f_ref = loss_with(plax, pnp, pol), loss_with(plax, pnp, use_ckpt=False)
    x = rand(4)
    assert_close(f(x), f_ref(x), rtol=1e-6)
    assert_close(plax.grad(f)(x), plax.grad(f_ref)(x), rtol=1e-6)
    assert_close(plax.jit(plax.grad(f))(x), plax.grad(f_ref)(x), rtol=1e-6)
    xs = rand(3, 4)
    assert_close(plax.vmap(plax.grad(f))(xs), plax.vmap(plax.grad(f_ref))(xs), rtol=1e-6)
    assert_close(plax.grad(lambda v: plax.vmap(f)(v).sum())(xs),
                 plax.vmap(plax.grad(f_ref))(xs), rtol=1e-6)
    assert_close(plax.hessian(f)(x), plax.hessian(f_ref)(x), rtol=1e-5, atol=1e-6)
    assert_close(plax.jvp(f, (x,), (x,))[1], plax.jvp(f_ref, (x,), (x,))[1], rtol=1e-6)


def test_checkpoint_jaxpr_shows_recomputation():
    x = rand(4)
    plain = plax.make_jaxpr(plax.grad(loss_with(plax, pnp, use_ckpt=False)))(x)
    remat = plax.make_jaxpr(plax.grad(loss_with(plax, pnp)))(x)
    dots = plax.make_jaxpr(plax.grad(loss_with(
        plax, pnp, plax.checkpoint_policies.dots_saveable)))(x)
    n_plain = count_prims(plain, "dot_general")
    assert n_plain == 4  # two forward, two transposed
    # nothing saved: the backward pass is one checkpoint equation that recomputes both dots
    ck = [e for e in remat.eqns if e.primitive is CHECKPOINT_P]
    assert len(ck) == 1 and ck[0].params["differentiated"]
    assert count_prims(ck[0].params["jaxpr"].jaxpr, "dot_general") == 4
    assert count_prims(ck[0].params["jaxpr"].jaxpr, "sin") == 1  # sin(x @ W1) recomputed
    assert count_prims(remat, "dot_general") == n_plain + 2
    # dots saved: fewer recomputed dot_generals (none), the sines still recomputed as cos
    assert count_prims(dots, "dot_general") == n_plain
    ckd = [e for e in dots.eqns if e.primitive is CHECKPOINT_P]
    assert len(ckd) == 1 and count_prims(ckd[0].params["jaxpr"].jaxpr, "dot_general") == 2
    assert count_prims(ckd[0].params["jaxpr"].jaxpr, "cos") == 2
    # everything saved: nothing left to recompute
    every = plax.make_jaxpr(plax.grad(loss_with(
        plax, pnp, plax.checkpoint_policies.everything_saveable)))(x)
    cke = [e for e in every.eqns if e.primitive is CHECKPOINT_P]
    assert all(count_prims(e.params["jaxpr"].jaxpr, "sin") == 0 for e in cke)
    # the primal jaxpr is one checkpoint equation around the function
    (eqn,) = plax.make_jaxpr(plax.checkpoint(mlp(pnp)))(x).eqns
    assert eqn.primitive is CHECKPOINT_P and not eqn.params["differentiated"]


def test_checkpoint_forms_and_scan(backend):
    # decorator with a policy, remat alias, static_argnums
    @plax.checkpoint(policy=plax.checkpoint_policies.dots_saveable)
    def f(x):
        return pnp.tanh(x @ W1)

    @functools.partial(plax.remat, static_argnums=(1,))
    def g(x, n):
        for _ in range(n):
            x = pnp.sin(x)
        return x

    x = rand(4)
    assert_close(plax.grad(lambda v: f(v).sum())(x),
                 plax.grad(lambda v: pnp.tanh(v @ W1).sum())(x), rtol=1e-6)
    assert_close(plax.grad(lambda v: g(v, 3).sum())(x),
                 plax.grad(lambda v: pnp.sin(pnp.sin(pnp.sin(v))).sum())(x), rtol=1e-6)
    # checkpointed scan body (the usual use), under jit and vmap
    def run(body):
        return lambda h, xs: lax.scan(lambda c, a: (body(c, a), None), h, xs)[0].sum()

    step = lambda c, a: pnp.tanh(c @ W2 + a)  # noqa: E731
    plain, ck = run(step), run(plax.checkpoint(step))
    h, xs = rand(4), rand(5, 4)
    tree_close(plax.grad(ck, argnums=(0, 1))(h, xs), plax.grad(plain, argnums=(0, 1))(h, xs),
               rtol=1e-5, atol=1e-6)
    tree_close(plax.jit(plax.grad(ck))(h, xs), plax.grad(plain)(h, xs), rtol=1e-5, atol=1e-6)
    hs = rand(3, 4)
    assert_close(plax.vmap(plax.grad(ck), in_axes=(0, None))(hs, xs),
                 plax.vmap(plax.grad(plain), in_axes=(0, None))(hs, xs), rtol=1e-5, atol=1e-6)


@requires_jax
@pytest.mark.parametrize("policy", [None, "dots_saveable"])
def test_checkpoint_against_jax(reference, policy):
    x = rand(4)
    pp = getattr(plax.checkpoint_policies, policy) if policy else None
    jp = getattr(jax.checkpoint_policies, policy) if policy else None
    pf, jf = loss_with(plax, pnp, pp), loss_with(jax, jjnp, jp)
    assert_close(plax.grad(pf)(x), np.asarray(jax.grad(jf)(x)), rtol=1e-5, atol=1e-6)
    assert_close(plax.hessian(pf)(x), np.asarray(jax.jit(jax.hessian(jf))(x)), rtol=1e-4,
                 atol=1e-5)


@requires_jax
def test_checkpoint_printed_as_jax_prints_it():
    def prog(api, N):
        return api.checkpoint(lambda x: N.sin(N.sin(x)) * 2.0)

    x = np.float32(0.5)
    text = str(plax.make_jaxpr(prog(plax, pnp))(x))
    assert text == str(jax.make_jaxpr(prog(jax, jjnp))(x)), text
    assert text == """\
{ lambda ; a:f32[]. let
    b:f32[] = remat2[
      differentiated=False
      jaxpr={ lambda ; c:f32[]. let
          d:f32[] = sin c
          e:f32[] = sin d
          f:f32[] = mul e 2.0:f32[]
        in (f,) }
      policy=None
      prevent_cse=True
    ] a
  in (b,) }"""
