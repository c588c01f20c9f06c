"""lax control flow (cond, switch, while_loop, fori_loop, scan, map): values against Python
loops/ifs and JAX, under jvp, grad, vmap, jit and their combinations; errors; and the printed
jaxprs against JAX's text."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from plax import lax
from plax.test_util import check_grads

from conftest import HAVE_JAX, assert_close, requires_jax

if HAVE_JAX:
    import jax
    import jax.numpy as jjnp
    from jax import lax as jlax


PLAX = (lax, pnp)
JAX = (jlax, jjnp) if HAVE_JAX else None

rng = np.random.default_rng(0)


def rand(*shape, dtype=np.float32, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def on(backend, f):
    """`f` eagerly on the reference backend; under one plax.jit elsewhere: a compiling backend
    compiles every distinct eager operation on its own (slow), and the jitted program of the
    transformed loop is what such a backend is for."""
    return f if backend == "reference" else plax.jit(f)


def _ones(xs):
    return plax.tree_util.tree_map(lambda x: lax.full_like(x, 1), xs)


def _derivatives(f, modes):
    """First and second derivatives of f along all-ones directions, in the given modes."""
    def fwd(*a):
        return plax.jvp(f, a, _ones(a))[1]

    def rev(*a):
        out, f_vjp = plax.vjp(f, *a)
        return f_vjp(_ones(out))

    funs = []
    if "fwd" in modes:
        funs += [fwd, lambda *a: plax.jvp(fwd, a, _ones(a))[1]]
    if "rev" in modes:
        funs += [rev, lambda *a: plax.vjp(rev, *a)[1](_ones(a))]
    return funs


def check_grads_on(backend, f, args, modes=("fwd", "rev")):
    """check_grads(f, args, order=2) on the reference backend (many small eager steps);
    elsewhere the jitted first and second derivatives equal the reference backend's."""
    if backend == "reference":
        return check_grads(f, args, order=2, modes=modes)
    for d in _derivatives(f, modes):
        with plax.default_backend("reference"):
            want = d(*args)
        tree_close(plax.jit(d)(*args), want, rtol=1e-6, atol=1e-9)


def both(backend, build, *args):
    """build(L, N) run with plax (see `on`) and with JAX (jitted) on the same arguments."""
    return on(backend, build(*PLAX))(*args), jax.jit(build(*JAX))(*args)


def tree_close(a, b, **kw):
    la, ta = plax.tree_util.tree_flatten(a)
    lb, _ = plax.tree_util.tree_flatten(b)
    assert len(la) == len(lb), (ta, len(lb))
    for x, y in zip(la, lb):
        assert_close(x, np.asarray(y), **kw)


# =============================================================================================
# cond / switch


def cond_prog(L, N):
    def f(x, y):
        return L.cond(N.sum(x) > 0,
                      lambda a, b: (N.sin(a) * b, a + b),
                      lambda a, b: (N.cos(a) - b, a * b), x, y)
    return f


def cond_py(x, y):
    if np.sum(x) > 0:
        return np.sin(x) * y, x + y
    return np.cos(x) - y, x * y


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0,)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_eager_matches_python(backend, shape, sign):
    x = np.abs(rand(*shape)) * sign + (0.5 * sign if shape != (0,) else 0)
    y = rand(*shape)
    out = cond_prog(*PLAX)(x, y)
    tree_close(out, cond_py(x, y))
    tree_close(plax.jit(cond_prog(*PLAX))(x, y), cond_py(x, y))


@pytest.mark.parametrize("pred", [True, False, 0, 3, -1, np.int8(2), np.bool_(False), 0.0, 2.5,
                                  np.float32(-1.0)])
def test_cond_pred_kinds(backend, pred):
    x = np.float32(2.0)
    out = lax.cond(pred, lambda v: v * 3.0, lambda v: v - 1.0, x)
    assert_close(out, 6.0 if pred else 1.0)
    # the same predicate traced
    out = plax.jit(lambda p, v: lax.cond(p, lambda v: v * 3.0, lambda v: v - 1.0, v))(pred, x)
    assert_close(out, 6.0 if pred else 1.0)


def test_cond_pytrees_ints_and_no_operands(backend):
    ops = {"a": np.arange(3, dtype=np.int32), "b": (np.float32(1.5), np.ones((2, 2), np.float32))}

    def t(d):
        return {"out": d["a"] * 2, "pair": [d["b"][0] + 1.0, d["b"][1].sum()]}

    def f(d):
        return {"out": d["a"] - 1, "pair": [d["b"][0] * 0.0, lax.reduce_max(d["b"][1], (0, 1))]}

    for p in (True, False):
        got = lax.cond(p, t, f, ops)
        want = {"out": ops["a"] * 2 if p else ops["a"] - 1,
                "pair": [2.5 if p else 0.0, 4.0 if p else 1.0]}
        assert got["out"].dtype == np.int32
        tree_close(got, want)
    assert_close(lax.cond(False, lambda: np.float32(1.0), lambda: np.float32(2.0)), 2.0)
    # consts closed over by both branches and a value captured by one
    w = np.arange(4.0, dtype=np.float32)
    got = lax.cond(True, lambda v: v @ w, lambda v: v.sum() * 0.0, np.ones(4, np.float32))
    assert_close(got, 6.0)


def test_cond_weak_types_follow_jax(backend):
    x = np.float32(1.0)
    # the result has the false branch's (branch 0's) weak type, as JAX
    assert lax.cond(True, lambda v: v, lambda v: 1.0, x).aval.weak_type
    assert not lax.cond(True, lambda v: 1.0, lambda v: v, x).aval.weak_type
    assert lax.cond(True, lambda: 1.0, lambda: 2.0).aval.weak_type


@pytest.mark.parametrize("index,want", [(-5, 0), (-1, 0), (0, 0), (1, 1), (2, 2), (3, 2),
                                        (100, 2)])
def test_switch_clamps_index(backend, index, want):
    branches = [lambda v: v + 1.0, lambda v: v * 10.0, lambda v: -v]
    x = np.float32(2.0)
    py = [b(2.0) for b in branches][want]
    assert_close(lax.switch(index, branches, x), py)
    assert_close(plax.jit(lambda i, v: lax.switch(i, branches, v))(index, x), py)
    assert_close(lax.switch(np.int8(index) if -128 <= index < 128 else index, branches, x), py)


def test_switch_single_branch_and_vmap_indices(backend):
    assert_close(lax.switch(7, [lambda v: v * 2.0], np.float32(3.0)), 6.0)
    idx = np.array([-2, 0, 1, 2, 9], np.int32)
    xs = np.arange(5, dtype=np.float32)
    branches = [lambda v: v + 1.0, lambda v: v * 10.0, lambda v: -v]
    got = plax.vmap(lambda i, v: lax.switch(i, branches, v))(idx, xs)
    want = [branches[int(np.clip(i, 0, 2))](float(v)) for i, v in zip(idx, xs)]
    assert_close(got, np.array(want, np.float32))
    # the index batched, the operand not
    got = plax.vmap(lambda i: lax.switch(i, branches, np.float32(2.0)))(idx)
    assert_close(got, np.array([branches[int(np.clip(i, 0, 2))](2.0) for i in idx], np.float32))


def test_cond_derivatives_check_grads(backend):
    with plax.enable_x64():
        for s in (1.0, -1.0):
            x = s * (np.abs(rand(3, dtype=np.float64)) + 0.5)
            y = rand(3, dtype=np.float64)
            check_grads_on(backend, lambda a, b: cond_prog(*PLAX)(a, b)[0], (x, y))
            check_grads_on(backend, lambda a, b: cond_prog(*PLAX)(a, b)[1], (x, y))
        br = [lambda v: pnp.sin(v) * v, lambda v: pnp.exp(v), lambda v: v ** 3]
        for i in range(3):
            check_grads_on(backend, lambda v, i=i: lax.switch(i, br, v), (np.float64(0.7),))


def test_cond_transforms_match_python(backend):
    def f(x):
        return lax.cond(x > 0.5, lambda v: pnp.sin(v) * v, lambda v: pnp.cos(v), x)

    def df(x):
        return np.sin(x) + x * np.cos(x) if x > 0.5 else -np.sin(x)

    def d2f(x):
        return 2 * np.cos(x) - x * np.sin(x) if x > 0.5 else -np.cos(x)

    xs = np.array([0.2, 0.7, 1.5, -0.3], np.float32)
    for x in xs[:2]:
        assert_close(on(backend, plax.grad(f))(x), df(x), rtol=1e-5)
        assert_close(on(backend, lambda v: plax.jvp(f, (v,), (np.float32(2.0),))[1])(x),
                     2 * df(x), rtol=1e-5)
        assert_close(on(backend, plax.grad(plax.grad(f)))(x), d2f(x), rtol=1e-5, atol=1e-6)
        assert_close(on(backend, plax.hessian(f))(x), d2f(x), rtol=1e-5, atol=1e-6)
    # vmap with the predicate batched, grad of vmap, vmap of grad, jit of each
    f_py = [np.sin(x) * x if x > 0.5 else np.cos(x) for x in xs.astype(np.float64)]
    d1 = [df(x) for x in xs.astype(np.float64)]
    assert_close(plax.vmap(f)(xs), f_py, rtol=1e-6)
    assert_close(on(backend, plax.vmap(plax.grad(f)))(xs), d1, rtol=1e-5)
    assert_close(on(backend, plax.grad(lambda v: plax.vmap(f)(v).sum()))(xs), d1, rtol=1e-5)
    assert_close(plax.jit(plax.vmap(plax.grad(f)))(xs), d1, rtol=1e-5)
    assert_close(plax.vmap(plax.jit(f))(xs), f_py, rtol=1e-6)
    assert_close(on(backend, plax.vmap(plax.hessian(f)))(xs),
                 [d2f(x) for x in xs.astype(np.float64)], rtol=1e-5, atol=1e-6)
    assert_close(on(backend, plax.jacfwd(plax.vmap(f)))(xs), np.diag(d1), rtol=1e-5)
    assert_close(on(backend, plax.jacrev(plax.vmap(f)))(xs), np.diag(d1), rtol=1e-5)


def test_cond_vmap_in_axes_mixes(backend):
    def f(p, x, y):
        return lax.cond(p, lambda a, b: a * b + 1.0, lambda a, b: a - b, x, y)

    ps = np.array([True, False, True])
    x = rand(3, 4)      # batched along axis 0
    y = rand(4, 3)      # batched along axis 1
    y0 = rand(4)        # unbatched
    got = plax.vmap(f, in_axes=(0, 0, 1))(ps, x, y)
    want = [x[i] * y[:, i] + 1.0 if ps[i] else x[i] - y[:, i] for i in range(3)]
    assert_close(got, np.stack(want))
    # predicate unbatched, operands batched
    got = plax.vmap(f, in_axes=(None, 1, None))(False, y, y0)
    assert_close(got, np.stack([y[:, i] - y0 for i in range(3)]))
    # predicate batched, operands unbatched; out_axes=1
    got = plax.vmap(f, in_axes=(0, None, None), out_axes=1)(ps, y0, y0)
    want = np.stack([y0 * y0 + 1.0 if p else y0 - y0 for p in ps], axis=1)
    assert_close(got, want)
    # a value closed over by one branch is batched
    got = plax.vmap(lambda w: lax.cond(True, lambda v: v * w, lambda v: v, y0))(x)
    assert_close(got, x * y0)


@requires_jax
def test_cond_against_jax(reference):
    x, y = rand(3), rand(3)
    for s in (1.0, -1.0):
        xs = s * np.abs(x)
        tree_close(*both(reference, cond_prog, xs, y))

        def loss(L, N):
            return lambda a, b: N.sum(cond_prog(L, N)(a, b)[0] ** 2)

        # JAX under jit: its eager dispatch of many small ops is slow
        tree_close(on(reference, plax.grad(loss(*PLAX), argnums=(0, 1)))(xs, y),
                   jax.jit(jax.grad(loss(*JAX), argnums=(0, 1)))(xs, y), rtol=1e-5, atol=1e-6)
        tree_close(on(reference, plax.hessian(loss(*PLAX)))(xs, y),
                   jax.jit(jax.hessian(loss(*JAX)))(xs, y), rtol=1e-4, atol=1e-5)
    xb = rand(5, 3)
    tree_close(plax.vmap(cond_prog(*PLAX))(xb, xb), jax.vmap(cond_prog(*JAX))(xb, xb))


def test_cond_errors_name_the_mismatch():
    x = np.float32(1.0)
    with pytest.raises(TypeError, match="tree structure.*pytree structures differ"):
        lax.cond(True, lambda v: (v, v), lambda v: [v, v], x)
    with pytest.raises(TypeError, match=r"true_fun output has type f32\[\] but false_fun "
                                        r"output has type f32\[2\].*shapes do not match"):
        lax.cond(True, lambda v: v, lambda v: pnp.ones(2), x)
    with pytest.raises(TypeError, match=r"\['a'\].*dtypes do not match"):
        lax.cond(True, lambda v: {"a": v}, lambda v: {"a": v.astype(np.int32)}, x)
    with pytest.raises(TypeError, match="pred must be a scalar"):
        lax.cond(np.array([True, False]), lambda: x, lambda: x)
    with pytest.raises(TypeError, match="pred must be a boolean or real number"):
        lax.cond(np.complex64(1), lambda: x, lambda: x)
    with pytest.raises(TypeError, match="callable"):
        lax.cond(True, 1.0, lambda: x)
    with pytest.raises(TypeError, match=r"branch 1 output.*shapes do not match"):
        lax.switch(0, [lambda: x, lambda: pnp.ones(3)])
    with pytest.raises(TypeError, match="switch index must be an integer"):
        lax.switch(1.0, [lambda: x, lambda: x])
    with pytest.raises(TypeError, match="switch index must be a scalar"):
        lax.switch(np.array([0, 1]), [lambda: x, lambda: x])
    with pytest.raises(ValueError, match="empty branch sequence"):
        lax.switch(0, [], x)


# =============================================================================================
# while_loop / fori_loop


def while_prog(L, N):
    def f(x, limit):
        def cond(c):
            i, v, _ = c
            return (i < 20) & (N.sum(v * v) < limit)

        def body(c):
            i, v, acc = c
            return i + 1, v * 1.5 + N.sin(v), acc + N.sum(v)

        return L.while_loop(cond, body, (0, x, 0.0))
    return f


def while_py(x, limit):
    i, v, acc = 0, x.astype(np.float64), 0.0
    while i < 20 and np.sum(v * v) < limit:
        i, v, acc = i + 1, v * 1.5 + np.sin(v), acc + np.sum(v)
    return i, v, acc


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
@pytest.mark.parametrize("limit", [0.0, 10.0, 1e6])
def test_while_eager_matches_python(backend, shape, limit):
    x = rand(*shape) * 0.5 + 0.1
    got = while_prog(*PLAX)(x, np.float32(limit))
    want = while_py(x, limit)
    assert int(got[0]) == want[0] and got[0].dtype == np.int32
    tree_close(got[1:], want[1:], rtol=1e-5)
    tree_close(plax.jit(while_prog(*PLAX))(x, np.float32(limit)), want, rtol=1e-5)


def test_while_carry_dtypes_and_weak_promotion(backend):
    # bool and int carries; a Python-int init whose body makes a float carries a float32
    out = lax.while_loop(lambda c: c[1], lambda c: (c[0] * 3, c[0] < 50), (np.int32(1), True))
    assert int(out[0]) == 243 and bool(out[1]) is False
    out = lax.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0)
    assert out.dtype == np.float32 and float(out) == 3.0 and not out.aval.weak_type
    out = lax.while_loop(lambda c: c < 3.0, lambda c: c + 1.0, 0.0)
    assert out.dtype == np.float32 and out.aval.weak_type
    # a carry the body passes through is a const of the loop; the value still comes back
    out = lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, c[1]), (0, np.ones(2)))
    assert int(out[0]) == 4
    assert_close(out[1], np.ones(2, np.float32))


def test_while_forward_mode_and_vmap(backend):
    f = while_prog(*PLAX)
    x = np.array([0.3, 0.2], np.float32)
    t = np.array([1.0, -0.5], np.float32)
    with plax.enable_x64():
        check_grads_on(backend, lambda v: f(v, 1e3)[1], (x.astype(np.float64),), modes="fwd")
        check_grads_on(backend, lambda v: f(v, 1e3)[2], (x.astype(np.float64),), modes="fwd")
    # vmap with a batched predicate: members stop at different trip counts
    xs = np.array([[0.3, 0.2], [1.0, 2.0], [0.01, 0.0], [3.0, 3.0]], np.float32)
    got = plax.vmap(f, in_axes=(0, None))(xs, np.float32(30.0))
    want = [while_py(v, 30.0) for v in xs]
    assert_close(got[0], [w[0] for w in want])
    assert_close(got[1], np.array([w[1] for w in want]), rtol=1e-5)
    assert_close(got[2], [w[2] for w in want], rtol=1e-5)
    # the limit batched too (in_axes mix), under jit
    limits = np.array([0.0, 100.0, 5.0, 1e4], np.float32)
    got = plax.jit(plax.vmap(f))(xs, limits)
    want = [while_py(v, lim) for v, lim in zip(xs, limits)]
    assert_close(got[0], [w[0] for w in want])
    assert_close(got[1], np.array([w[1] for w in want]), rtol=1e-5)
    # jvp of vmap and vmap of jvp agree
    g1 = on(backend, lambda xs: plax.jvp(
        lambda v: plax.vmap(f, in_axes=(0, None))(v, np.float32(30.0))[1], (xs,),
        (pnp.ones_like(xs),))[1])(xs)
    g2 = on(backend, plax.vmap(lambda v: plax.jvp(lambda u: f(u, np.float32(30.0))[1], (v,),
                                                  (pnp.ones_like(v),))[1]))(xs)
    assert_close(g1, g2, rtol=1e-5)
    # jacfwd works (forward mode); linearize too
    jf = on(backend, plax.jacfwd(lambda v: f(v, np.float32(30.0))[1]))(x)
    _, lin = plax.linearize(lambda v: f(v, np.float32(30.0))[1], x)
    assert_close(lin(t), jf @ t, rtol=1e-5)
    # only the body's consts batched (predicate unbatched)
    got = plax.vmap(lambda w: lax.while_loop(lambda c: c[0] < 3,
                                             lambda c: (c[0] + 1, c[1] * w), (0, 1.0))[1])(x)
    assert_close(got, x ** 3, rtol=1e-6)


def test_while_reverse_mode_raises_naming_scan_and_fori_loop(backend):
    f = while_prog(*PLAX)
    x = np.array([0.3, 0.2], np.float32)
    msg = "Reverse-mode differentiation does not work for lax.while_loop.*lax.scan.*fori_loop"
    with pytest.raises(ValueError, match=msg):
        plax.grad(lambda v: f(v, 30.0)[2])(x)
    with pytest.raises(ValueError, match=msg):
        plax.jacrev(lambda v: f(v, 30.0)[1])(x)
    with pytest.raises(ValueError, match=msg):
        plax.grad(plax.jit(lambda v, n: lax.fori_loop(0, n, lambda i, c: c * v, v)))(
            np.float32(2.0), 3)
    # a loop that does not depend on the differentiated value is fine under grad
    g = plax.grad(lambda v: v * f(x, 30.0)[2])(np.float32(2.0))
    assert_close(g, while_py(x, 30.0)[2], rtol=1e-5)


def test_while_errors_name_the_mismatch():
    with pytest.raises(TypeError, match=r"carry input has type i32\[\] but the carry output has "
                                        r"type f32\[\].*dtypes do not match"):
        lax.while_loop(lambda c: c < 3, lambda c: (c + 1).astype(np.float32), np.int32(0))
    with pytest.raises(TypeError, match="shapes do not match"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: pnp.concatenate([c, c]), np.zeros(1))
    with pytest.raises(TypeError, match="pytree structures differ"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: [c[0] + 1, c[1]], (0, 1.0))
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c + 1, 0.0)
    with pytest.raises(TypeError, match=r"boolean scalar.*bool\[2\]"):
        lax.while_loop(lambda c: c < 3, lambda c: c + 1, np.zeros(2))


def fori_body(i, c):
    return c * pnp.sin(c) + i


@pytest.mark.parametrize("lo,hi", [(0, 5), (2, 6), (3, 3), (5, 2), (-2, 1)])
def test_fori_loop_static_and_dynamic_bounds(backend, lo, hi):
    x = np.float32(0.8)
    want = np.float64(x)
    for i in range(lo, hi):
        want = want * np.sin(want) + i
    assert_close(lax.fori_loop(lo, hi, fori_body, x), want, rtol=1e-5)
    # static bounds are a scan, traced bounds a while loop
    prims = {e.primitive.name for e in plax.make_jaxpr(
        lambda v: lax.fori_loop(lo, hi, fori_body, v))(x).eqns}
    assert prims == {"scan"}
    dyn = plax.jit(lambda a, b, v: lax.fori_loop(a, b, fori_body, v))
    assert_close(dyn(lo, hi, x), want, rtol=1e-5)
    prims = {e.primitive.name for e in plax.make_jaxpr(
        lambda b, v: lax.fori_loop(lo, b, fori_body, v))(hi, x).eqns}
    assert "while" in prims
    for unroll in (2, True):
        assert_close(lax.fori_loop(lo, hi, fori_body, x, unroll=unroll), want, rtol=1e-5)


def test_fori_loop_counter_types(backend):
    # the counter is a weak int (as JAX): it adds to an int8 carry without promoting it
    out = lax.fori_loop(0, 3, lambda i, c: c + i, np.int8(1))
    assert out.dtype == np.int8 and int(out) == 4
    out = lax.fori_loop(np.int16(0), np.int16(3), lambda i, c: c + i, np.int32(1))
    assert out.dtype == np.int32 and int(out) == 4
    # a Python-int bound takes the other bound's type
    out = plax.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c + i, np.int32(0)))(np.int32(4))
    assert int(out) == 6
    with pytest.raises(TypeError, match="lower and upper arguments must have equal types"):
        lax.fori_loop(np.int32(0), np.int16(3), lambda i, c: c, 0)
    with pytest.raises(TypeError, match="must have equal types, got float32 and int32"):
        lax.fori_loop(0.0, 3, lambda i, c: c, 0)
    with pytest.raises(ValueError, match="unroll"):
        plax.jit(lambda n: lax.fori_loop(0, n, lambda i, c: c, 0.0, unroll=2))(3)


def test_fori_loop_derivatives(backend):
    def f(x, w):
        return lax.fori_loop(0, 4, lambda i, c: pnp.tanh(c * w + i * 0.1), x)

    def f_py(x, w):
        for i in range(4):
            x = np.tanh(x * w + i * 0.1)
        return x

    with plax.enable_x64():
        x, w = rand(3, dtype=np.float64), np.float64(0.9)
        check_grads_on(backend, f, (x, w))
        assert_close(f(x, w), f_py(x, w))
        h = 1e-4
        fd = (f_py(x, 0.9 + h) - f_py(x, 0.9 - h)) / (2 * h)
        # atol: the central difference's own error (h**2 times the third derivative / 6)
        assert_close(on(backend, plax.jacrev(f, argnums=1))(x, w), fd, rtol=1e-6, atol=1e-8)
        # second order through fori_loop, against central differences of the first
        g = plax.grad(lambda w: f(x, w).sum())
        g2 = on(backend, plax.grad(g))(w)
        fd2 = (on(backend, g)(w + h) - on(backend, g)(w - h)) / (2 * h)
        assert_close(g2, fd2, rtol=1e-5)
    # vmap over a dynamic trip count (a batched predicate)
    ns = np.array([0, 1, 3, 5], np.int32)
    got = on(backend, plax.vmap(lambda n: lax.fori_loop(0, n, lambda i, c: c * 2.0 + i,
                                                        np.float32(1))))(ns)
    want = []
    for n in ns:
        c = 1.0
        for i in range(n):
            c = c * 2.0 + i
        want.append(c)
    assert_close(got, want)
    # jvp through the dynamic (while) form
    t = plax.jvp(lambda v: lax.fori_loop(0, plax.numpy.int32(3), lambda i, c: c * v, v),
                 (np.float32(2.0),), (np.float32(1.0),))[1]
    assert_close(t, 4 * 2.0 ** 3)


@requires_jax
def test_while_and_fori_against_jax(reference):
    x = np.array([0.3, 0.2], np.float32)
    tree_close(*both(reference, while_prog, x, np.float32(30.0)), rtol=1e-5)
    xs = rand(4, 2) * 0.5

    def vm(L, N):
        return lambda v: plax.vmap(while_prog(L, N), in_axes=(0, None))(v, np.float32(30.0)) \
            if L is lax else jax.vmap(while_prog(L, N), in_axes=(0, None))(v, np.float32(30.0))

    tree_close(*both(reference, vm, xs), rtol=1e-5)

    def jv(L, N):
        api = plax if L is lax else jax
        return lambda v: api.jvp(lambda u: while_prog(L, N)(u, 30.0)[1], (v,),
                                 (N.ones_like(v),))
    tree_close(*both(reference, jv, x), rtol=1e-5)

    def fl(L, N):
        api = plax if L is lax else jax
        return api.grad(lambda v: L.fori_loop(1, 4, lambda i, c: N.sin(c) * i + c, v).sum())
    tree_close(*both(reference, fl, x), rtol=1e-5)


# =============================================================================================
# scan


def scan_prog(L, N, reverse=False, unroll=1):
    def f(h0, xs, w):
        def body(carry, x):
            h, n = carry
            h = N.tanh(h * w + x["a"]) + 0.1 * x["b"]
            return (h, n + 1), {"h": h, "sq": N.sum(h * h)}
        return L.scan(body, (h0, 0), xs, reverse=reverse, unroll=unroll)
    return f


def scan_py(h0, xs, w, reverse=False):
    h, n = h0.astype(np.float64), 0
    T = xs["a"].shape[0]
    hs, sqs = [None] * T, [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        h = np.tanh(h * w + xs["a"][t]) + 0.1 * xs["b"][t]
        n += 1
        hs[t], sqs[t] = h, np.sum(h * h)
    ys = {"h": np.stack(hs) if T else np.zeros((0, *h0.shape)), "sq": np.array(sqs)}
    return (h, n), ys


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 3, True])
@pytest.mark.parametrize("T,shape", [(5, (3,)), (1, ()), (0, (2,)), (4, (2, 2))])
def test_scan_eager_matches_python(backend, reverse, unroll, T, shape):
    h0 = rand(*shape)
    xs = {"a": rand(T, *shape), "b": rand(T, *shape)}
    w = np.float32(0.8)
    got = scan_prog(*PLAX, reverse=reverse, unroll=unroll)(h0, xs, w)
    (h, n), ys = scan_py(h0, xs, 0.8, reverse)
    assert_close(got[0][0], h, rtol=1e-5)
    assert int(got[0][1]) == n
    assert_close(got[1]["h"], ys["h"].astype(np.float32), rtol=1e-5)
    assert_close(got[1]["sq"], ys["sq"].reshape(T).astype(np.float32), rtol=1e-5)
    jitted = plax.jit(scan_prog(*PLAX, reverse=reverse, unroll=unroll))(h0, xs, w)
    tree_close(jitted, got)


def test_scan_length_without_xs_and_ys_none(backend):
    carry, ys = lax.scan(lambda c, _: (c * 2.0, c), np.float32(1.0), None, length=4)
    assert_close(carry, 16.0)
    assert_close(ys, [1.0, 2.0, 4.0, 8.0])
    carry, ys = lax.scan(lambda c, x: (c + x, None), np.int32(0), np.arange(5, dtype=np.int32))
    assert ys is None and int(carry) == 10 and carry.dtype == np.int32
    carry, ys = lax.scan(lambda c, x: ((), x * 2), (), np.arange(3.0, dtype=np.float32),
                         reverse=True)
    assert carry == () and np.array_equal(np.asarray(ys), [0.0, 2.0, 4.0])
    # ys forwarded straight from xs, and a carry passed through unchanged
    (a, b), ys = lax.scan(lambda c, x: ((c[0] + x, c[1]), x), (np.float32(0), np.float32(7)),
                          np.arange(4, dtype=np.float32))
    assert_close(a, 6.0) and assert_close(b, 7.0)
    assert_close(ys, np.arange(4, dtype=np.float32))
    # a weakly typed init keeps its weak type where the body does not change the dtype (JAX)
    c, ys = lax.scan(lambda c, x: (c + x, c), 0.0, np.ones(3, np.float32))
    assert not c.aval.weak_type and ys.aval.weak_type
    c, _ = lax.scan(lambda c, x: (c + x, None), 0, np.ones(3, np.float32))
    assert c.dtype == np.float32


def test_scan_derivatives_check_grads(backend):
    with plax.enable_x64():
        h0, w = rand(3, dtype=np.float64), np.float64(0.7)
        xs = {"a": rand(4, 3, dtype=np.float64), "b": rand(4, 3, dtype=np.float64)}
        for rev in (False, True):
            f = scan_prog(*PLAX, reverse=rev, unroll=2)
            check_grads_on(backend, lambda h, a, w, f=f: f(h, {"a": a, "b": xs["b"]}, w)[0][0],
                           (h0, xs["a"], w))
            check_grads_on(backend,
                           lambda h, a, w, f=f: f(h, {"a": a, "b": xs["b"]}, w)[1]["sq"],
                           (h0, xs["a"], w))


def test_scan_grad_matches_python_loop(backend):
    # the gradient of sum_t h_t^2 through an unrolled Python loop (by plax.grad) equals the
    # gradient through scan
    h0, w = rand(3), np.float32(0.7)
    xs = {"a": rand(6, 3), "b": rand(6, 3)}

    def loop(h, a, w):
        tot = 0.0
        for t in range(6):
            h = pnp.tanh(h * w + a[t]) + 0.1 * xs["b"][t]
            tot = tot + pnp.sum(h * h)
        return tot

    def scanned(h, a, w):
        return scan_prog(*PLAX)(h, {"a": a, "b": xs["b"]}, w)[1]["sq"].sum()

    args = (h0, xs["a"], w)
    want = plax.jit(plax.grad(loop, argnums=(0, 1, 2)))(*args)
    tree_close(on(backend, plax.grad(scanned, argnums=(0, 1, 2)))(*args), want, rtol=1e-5,
               atol=1e-6)
    tree_close(plax.jit(plax.grad(scanned, argnums=(0, 1, 2)))(*args), want, rtol=1e-5,
               atol=1e-6)
    tree_close(on(backend, plax.hessian(scanned, argnums=2))(*args),
               plax.jit(plax.hessian(loop, argnums=2))(*args), rtol=1e-4, atol=1e-5)
    tree_close(on(backend, plax.jacfwd(scanned, argnums=0))(*args),
               plax.jit(plax.jacrev(loop, argnums=0))(*args), rtol=1e-5, atol=1e-6)


def test_scan_vmap_in_axes_mixes(backend):
    f = scan_prog(*PLAX)
    B, T = 3, 4
    h0s = rand(B, 2)
    a = rand(T, B, 2)         # batched along axis 1
    b = rand(T, 2)            # unbatched
    ws = rand(B)

    def g(h0, a, w):
        return f(h0, {"a": a, "b": b}, w)

    got = plax.vmap(g, in_axes=(0, 1, 0))(h0s, a, ws)
    for i in range(B):
        (h, n), ys = scan_py(h0s[i], {"a": a[:, i], "b": b}, ws[i])
        assert_close(got[0][0][i], h, rtol=1e-5)
        assert int(got[0][1][i]) == n
        assert_close(got[1]["h"][i], ys["h"], rtol=1e-5)
    # only the init batched; only a closed-over const batched; out_axes=1
    got = plax.vmap(lambda h: g(h, a[:, 0], ws[0])[1]["h"], out_axes=1)(h0s)
    for i in range(B):
        assert_close(got[:, i], scan_py(h0s[i], {"a": a[:, 0], "b": b}, ws[0])[1]["h"], rtol=1e-5)
    got = plax.vmap(lambda w: g(h0s[0], a[:, 0], w)[0][0])(ws)
    for i in range(B):
        assert_close(got[i], scan_py(h0s[0], {"a": a[:, 0], "b": b}, ws[i])[0][0], rtol=1e-5)
    # grad of vmap and vmap of grad agree, also under jit
    loss = lambda h, a, w: g(h, a, w)[1]["sq"].sum()  # noqa: E731
    g1 = on(backend, plax.vmap(plax.grad(loss, argnums=2), in_axes=(0, 1, 0)))(h0s, a, ws)
    g2 = on(backend, plax.grad(lambda w: plax.vmap(loss, in_axes=(0, 1, 0))(h0s, a, w).sum()))(
        ws)
    g3 = plax.jit(plax.vmap(plax.grad(loss, argnums=2), in_axes=(0, 1, 0)))(h0s, a, ws)
    assert_close(g1, g2, rtol=1e-5)
    assert_close(g3, g2, rtol=1e-5)


def test_scan_linearization_does_not_stack_loop_invariant_residuals():
    W = rand(4, 4)

    def f(h, xs):
        return lax.scan(lambda c, x: (pnp.tanh(c @ W + x), None), h, xs)[0].sum()

    jaxpr = plax.make_jaxpr(plax.grad(f))(rand(4), rand(7, 4))
    scans = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
    assert len(scans) == 2  # the forward (known) scan and the transposed one
    fwd, bwd = scans
    # W is a const of the backward scan, not a (7, 4, 4) stack of copies
    assert all(v.aval.shape != (7, 4, 4) for v in fwd.outvars)
    assert any(getattr(x, "aval", None) is not None and x.aval.shape == (4, 4)
               for x in bwd.invars[:bwd.params["num_consts"]])


@requires_jax
def test_scan_against_jax(reference):
    h0, w = rand(3), np.float32(0.7)
    xs = {"a": rand(5, 3), "b": rand(5, 3)}
    for rev in (False, True):
        tree_close(*both(reference, lambda L, N, rev=rev: scan_prog(L, N, reverse=rev), h0, xs, w),
                   rtol=1e-5)

        def loss(L, N, rev=rev):
            return lambda h, a, w: scan_prog(L, N, reverse=rev)(
                h, {"a": a, "b": xs["b"]}, w)[1]["sq"].sum()

        tree_close(on(reference, plax.grad(loss(*PLAX), argnums=(0, 1, 2)))(h0, xs["a"], w),
                   jax.jit(jax.grad(loss(*JAX), argnums=(0, 1, 2)))(h0, xs["a"], w), rtol=1e-5,
                   atol=1e-6)
        tree_close(on(reference, plax.hessian(loss(*PLAX), argnums=0))(h0, xs["a"], w),
                   jax.jit(jax.hessian(loss(*JAX), argnums=0))(h0, xs["a"], w), rtol=1e-4,
                   atol=1e-5)
    hs = rand(4, 3)
    tree_close(on(reference, plax.vmap(scan_prog(*PLAX), in_axes=(0, None, None)))(hs, xs, w),
               jax.vmap(scan_prog(*JAX), in_axes=(0, None, None))(hs, xs, w), rtol=1e-5)


def test_scan_errors_name_the_mismatch():
    with pytest.raises(TypeError, match=r"carry input has type f32\[\] but the carry output has "
                                        r"type i32\[\].*dtypes do not match"):
        lax.scan(lambda c, x: (c.astype(np.int32), x), np.float32(0), np.ones(3))
    with pytest.raises(TypeError, match="shapes do not match"):
        lax.scan(lambda c, x: (c * x, x), np.float32(0), np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match=r"\[1\].*pytree structures differ|pytree structures"):
        lax.scan(lambda c, x: ([c[0], c[1]], x), (0.0, 1.0), np.ones(3))
    with pytest.raises(TypeError, match="must be a pair"):
        lax.scan(lambda c, x: c, 0.0, np.ones(3))
    with pytest.raises(ValueError, match="disagrees with leading axis sizes"):
        lax.scan(lambda c, x: (c, x), 0.0, np.ones(3), length=4)
    with pytest.raises(ValueError, match="different leading axis sizes: 3, 4"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.ones(3), np.ones(4)))
    with pytest.raises(ValueError, match="no values to scan over and `length` not provided"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="no leading axis to scan over"):
        lax.scan(lambda c, x: (c, x), 0.0, np.float32(1))
    with pytest.raises(ValueError, match="unroll"):
        lax.scan(lambda c, x: (c, x), 0.0, np.ones(3), unroll=-1)
    with pytest.raises(plax.ConcretizationTypeError, match="length"):
        plax.jit(lambda n: lax.scan(lambda c, x: (c, x), 0.0, None, length=n))(3)


# =============================================================================================
# map


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 4, 7, 10, 0])
def test_map_matches_python(backend, batch_size):
    xs = {"a": rand(7, 2), "b": np.arange(7, dtype=np.int32)}

    def f(d):
        return {"s": pnp.sum(d["a"]) * d["b"], "v": pnp.sin(d["a"])}

    got = lax.map(f, xs, batch_size=batch_size)
    want_s = [np.sum(xs["a"][i]) * xs["b"][i] for i in range(7)]
    assert_close(got["s"], np.array(want_s, np.float32), rtol=1e-5)
    assert_close(got["v"], np.sin(xs["a"]))
    got = plax.jit(lambda d: lax.map(f, d, batch_size=batch_size))(xs)
    assert_close(got["s"], np.array(want_s, np.float32), rtol=1e-5)


def test_map_transforms(backend):
    xs = rand(6, 3)
    f = lambda x: pnp.sum(pnp.sin(x) ** 2)  # noqa: E731
    g = on(backend, plax.grad(lambda v: lax.map(f, v, batch_size=4).sum()))(xs)
    assert_close(g, 2 * np.sin(xs) * np.cos(xs), rtol=1e-5)
    ys = rand(6, 2, 3)
    got = on(backend, plax.vmap(lambda v: lax.map(f, v, batch_size=4), in_axes=1))(ys)
    assert_close(got, np.sum(np.sin(ys) ** 2, axis=-1).T, rtol=1e-5)
    got = plax.vmap(lambda v: lax.map(f, v))(ys.transpose(1, 0, 2))
    assert_close(got, np.sum(np.sin(ys) ** 2, axis=-1).T, rtol=1e-5)
    with pytest.raises(ValueError, match="batch_size must be non-negative"):
        lax.map(f, xs, batch_size=-1)


@requires_jax
def test_map_against_jax(reference):
    xs = rand(7, 3)
    for bs in (None, 2, 3):
        got = lax.map(lambda x: pnp.cumsum(x) * 2, xs, batch_size=bs)
        want = jlax.map(lambda x: jjnp.cumsum(x) * 2, xs, batch_size=bs)
        assert_close(got, np.asarray(want), rtol=1e-6)


# =============================================================================================
# Nesting


def test_nested_control_flow_all_transforms(backend):
    def f(x, w):
        def body(c, xt):
            c = lax.cond(xt > 0, lambda v: pnp.sin(v * w), lambda v: v * w - 0.1, c)
            c = lax.fori_loop(0, 2, lambda i, v: v * 0.9 + xt, c)
            return c, c * c
        c, ys = lax.scan(body, x, pnp.linspace(-1.0, 1.0, 5))
        return c + ys.sum()

    def f_py(x, w):
        ys = []
        for xt in np.linspace(-1.0, 1.0, 5):
            x = np.sin(x * w) if xt > 0 else x * w - 0.1
            for _ in range(2):
                x = x * 0.9 + xt
            ys.append(x * x)
        return x + sum(ys)

    with plax.enable_x64():
        x, w = np.float64(0.3), np.float64(1.2)
        assert_close(f(x, w), f_py(x, w))
        check_grads_on(backend, f, (x, w))
        ws = np.array([0.5, 1.0, 1.5])
        assert_close(on(backend, plax.vmap(f, in_axes=(None, 0)))(x, ws),
                     [f_py(x, v) for v in ws])
        g = plax.jit(plax.grad(f, argnums=1))
        assert_close(plax.jit(plax.vmap(plax.grad(f, argnums=1), in_axes=(None, 0)))(x, ws),
                     [g(x, v) for v in ws])


# =============================================================================================
# Printed jaxprs, in JAX's layout


PRINT_CASES = {
    "cond": (
        lambda L: lambda x: L.cond(x > 0, lambda y: L.sin(y), lambda y: L.cos(y), x),
        """\
{ lambda ; a:f32[]. let
    b:bool[] = gt a 0.0:f32[]
    c:i32[] = convert_element_type[new_dtype=int32 weak_type=False] b
    d:f32[] = cond[
      branches=(
        { lambda ; e:f32[]. let f:f32[] = cos e in (f,) }
        { lambda ; g:f32[]. let h:f32[] = sin g in (h,) }
      )
    ] c a
  in (d,) }"""),
    "cond_consts_shared": (
        lambda L: lambda x: (lambda y: L.cond(x > 1.0, lambda v: v + y, lambda v: v * y, x))(
            x * 2.0),
        """\
{ lambda ; a:f32[]. let
    b:f32[] = mul a 2.0:f32[]
    c:bool[] = gt a 1.0:f32[]
    d:i32[] = convert_element_type[new_dtype=int32 weak_type=False] c
    e:f32[] = cond[
      branches=(
        { lambda ; f:f32[] g:f32[]. let h:f32[] = mul g f in (h,) }
        { lambda ; i:f32[] j:f32[]. let k:f32[] = add j i in (k,) }
      )
    ] d b a
  in (e,) }"""),
    "switch": (
        lambda L: lambda x: L.switch(2, [L.sin, L.cos, lambda y: y * 2.0], x),
        """\
{ lambda ; a:f32[]. let
    b:i32[] = clamp 0:i32[] 2:i32[] 2:i32[]
    c:f32[] = cond[
      branches=(
        { lambda ; d:f32[]. let e:f32[] = sin d in (e,) }
        { lambda ; f:f32[]. let g:f32[] = cos f in (g,) }
        { lambda ; h:f32[]. let i:f32[] = mul h 2.0:f32[] in (i,) }
      )
    ] b a
  in (c,) }"""),
    "while": (
        lambda L: lambda x: L.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x),
        """\
{ lambda ; a:f32[]. let
    b:f32[] = while[
      body_jaxpr={ lambda ; c:f32[]. let d:f32[] = mul c 2.0:f32[] in (d,) }
      body_nconsts=0
      cond_jaxpr={ lambda ; e:f32[]. let f:bool[] = lt e 10.0:f32[] in (f,) }
      cond_nconsts=0
    ] a
  in (b,) }"""),
    "fori_static": (
        lambda L: lambda x: L.fori_loop(0, 5, lambda i, c: c * 2.0, x),
        """\
{ lambda ; a:f32[]. let
    _:i32[] b:f32[] = scan[
      jaxpr={ lambda ; c:i32[] d:f32[]. let
          e:i32[] = add c 1:i32[]
          f:f32[] = mul d 2.0:f32[]
        in (e, f) }
      length=5
      num_carry=2
      num_consts=0
      reverse=False
      unroll=1
    ] 0:i32[] a
  in (b,) }"""),
    "scan": (
        lambda L: lambda c, x: L.scan(lambda c, a: (c + a, c * a), c, x, reverse=True),
        """\
{ lambda ; a:f32[] b:f32[4]. let
    c:f32[] d:f32[4] = scan[
      jaxpr={ lambda ; e:f32[] f:f32[]. let
          g:f32[] = add e f
          h:f32[] = mul e f
        in (g, h) }
      length=4
      num_carry=1
      num_consts=0
      reverse=True
      unroll=1
    ] a b
  in (c, d) }"""),
    "map_in_cond": (
        lambda L: lambda p, x: L.cond(p > 0, lambda v: L.map(L.exp, v), lambda v: v * 2.0, x),
        None),
}


def _jaxpr_args(name):
    return (np.float32(1.5), np.arange(4, dtype=np.float32)) if name in ("scan", "map_in_cond") \
        else (np.float32(1.5),)


@pytest.mark.parametrize("name", sorted(PRINT_CASES))
def test_printed_jaxpr_layout(name):
    build, expected = PRINT_CASES[name]
    text = str(plax.make_jaxpr(build(lax))(*_jaxpr_args(name)))
    if expected is not None:
        assert text == expected, text
    if HAVE_JAX:
        assert text == str(jax.make_jaxpr(build(jlax))(*_jaxpr_args(name)))


@requires_jax
def test_printed_jaxpr_layout_more_programs_match_jax():
    progs = [
        lambda L: lambda x, n: L.fori_loop(0, n, lambda i, c: c * 2.0 + x, x),
        lambda L: lambda x, n: L.switch(n, [lambda v: v, lambda v: -v], x),
        lambda L: lambda x, n: L.cond(n, lambda v: (v, v * 2.0), lambda v: (v, v + 1.0), x),
        lambda L: lambda x, n: L.scan(lambda c, a: ((c[0] + 1.0, c[1]), None), (x, x),
                                      None, length=3)[0],
        lambda L: lambda x, n: L.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * x),
                                            (0, x)),
        lambda L: lambda x, n: L.scan(
            lambda c, a: (L.while_loop(lambda v: v < a, lambda v: v * 2.0, c), a), x,
            x * L.iota(np.float32, 3)),
        # a carry passed through unchanged and unread by cond_fun becomes a body const
        lambda L: lambda x, n: L.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1]),
                                            (0, x)),
        # closed-over arrays become consts; a y that is its x is not staged
        lambda L: lambda x, n: L.scan(lambda c, a: (c * a + x, a),
                                      L.broadcast(x, (2,)), L.broadcast(x, (3, 2))),
        lambda L: lambda x, n: L.map(lambda v: v * x, L.broadcast(x, (6,)), batch_size=4),
        lambda L: lambda x, n: L.while_loop(
            lambda c: c[1] < 10.0,
            lambda c: (c[0] + 1, L.cond(L.rem(c[0], 2) == 0, lambda v: v * 2.0, lambda v: v + 1.0,
                                        c[1])), (n, x)),
        lambda L: lambda x, n: L.fori_loop(n, 5, lambda i, c: c + L.convert_element_type(
            i, np.float32), x),
    ]
    for prog in progs:
        p = str(plax.make_jaxpr(prog(lax))(np.float32(1.5), 2))
        j = str(jax.make_jaxpr(prog(jlax))(np.float32(1.5), 2))
        assert p == j, f"plax:\n{p}\njax:\n{j}"


def _long_body(L):
    def body(c):
        for _ in range(6):
            c = L.sin(c) * 0.5
        return c
    return lambda x: L.while_loop(lambda c: c > 1e-3, body, x)


@requires_jax
def test_printed_long_loop_body_is_hoisted_as_in_jax():
    # a nested jaxpr of more than 10 equations is printed first, as `let jaxpr = ... in`
    p = str(plax.make_jaxpr(_long_body(lax))(np.float32(1.5)))
    j = str(jax.make_jaxpr(_long_body(jlax))(np.float32(1.5)))
    assert p == j, f"plax:\n{p}\njax:\n{j}"


# =============================================================================================
# The example: an RNN trained by gradients through scan


def test_rnn_scan_example_trains(capsys):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parent.parent / "examples" / "rnn_scan.py"
    spec = importlib.util.spec_from_file_location("rnn_scan", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    losses = mod.main(iters=100)
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:5])
    assert "step  100" in capsys.readouterr().out
