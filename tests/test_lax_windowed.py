"""Window reductions (reduce_window sum/max/min and generic, max/avg pooling, their derivatives
select_and_gather_add / select_and_scatter_add), associative_scan and the cumulative
reductions, against JAX on every backend: values, second-order derivatives, vmap, jit."""

from __future__ import annotations

import numpy as np
import pytest

import plax
from plax import lax
from plax.test_util import check_grads

from conftest import HAVE_JAX, assert_close, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)

if HAVE_JAX:
    import jax


def fast(backend):
    """Eager on the reference backend; jitted on the others (which compile every eager op)."""
    return (lambda f: f) if backend == "reference" else plax.jit


_JAX_RESULTS: dict = {}


def jax_once(key, thunk):
    """JAX's result for `key` (NumPy arrays), computed once per session: the three backends'
    tests of one parameter set compare with the same oracle (JAX's jit cache is keyed by the
    function object, new in every test, so every backend's test recompiled it)."""
    if key not in _JAX_RESULTS:
        _JAX_RESULTS[key] = jax.tree_util.tree_map(np.asarray, thunk())
    return _JAX_RESULTS[key]


def spread(rng, *shape):
    """Values with no ties and no near-ties, so that max/min pooling is differentiable."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.37 + 0.1).reshape(shape) - n * 0.15


def _rw(op_name, init, *window):
    def fn(L, x):
        return L.reduce_window(x, init, getattr(L, op_name), *window)
    return fn


WINDOWS = [
    ((1, 2, 2), (1, 2, 2), "VALID"),
    ((1, 3, 2), (1, 1, 2), "SAME"),
    ((2, 2, 3), (1, 2, 1), [(0, 1), (1, 1), (1, 0)]),
    ((1, 2, 2), (1, 2, 3), [(0, 0), (1, 0), (0, 1)], (1, 2, 1), (1, 1, 1)),  # base dilation
]
DILATED = ((1, 2, 2), (1, 1, 2), "VALID", (1, 1, 1), (1, 2, 2))  # window dilation

CASES = []
for k, w in enumerate(WINDOWS):
    CASES += [
        Case(f"sum_{k}", _rw("add", 0.0, *w), lambda r: (spread(r, 2, 5, 6),)),
        Case(f"max_{k}", _rw("max", -np.inf, *w), lambda r: (spread(r, 2, 5, 6),)),
        Case(f"min_{k}", _rw("min", np.inf, *w), lambda r: (spread(r, 2, 5, 6),)),
    ]
CASES += [
    Case("sum_window_dilation", _rw("add", 0.0, *DILATED), lambda r: (spread(r, 2, 5, 6),)),
    Case("avg_pool_nhwc",
         lambda L, x: L.div(L.reduce_window(x, 0.0, L.add, (1, 2, 2, 1), (1, 2, 2, 1), "SAME"),
                            np.float32(4.0)),
         lambda r: (spread(r, 2, 5, 4, 3),)),
    Case("max_pool_then_sin",
         lambda L, x: L.sin(L.reduce_window(L.exp(x), -np.inf, L.max, (1, 1, 3, 3),
                                            (1, 1, 2, 2), "SAME")),
         lambda r: (spread(r, 1, 2, 5, 5) * 0.05,)),
]
# window dilation: values, jvp and vmap only (JAX has no vjp of max pooling with it either)
FORWARD_ONLY = [
    Case("max_window_dilation", _rw("max", -np.inf, *DILATED), lambda r: (spread(r, 2, 5, 6),)),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_grads_second_order(case):
    run_grads(case, np.random.default_rng(0))


@requires_jax
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES[::3] + CASES[1::6] + CASES[-2:], ids=repr)
def test_vmap(case):
    run_vmap(case, np.random.default_rng(2))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_jit(case, backend):  # on every installed backend
    run_jit(case, np.random.default_rng(3))


@requires_jax
@pytest.mark.parametrize("case", CASES + FORWARD_ONLY, ids=repr)
def test_values_match_jax(case, backend):
    x, = case.make(np.random.default_rng(4))
    assert_close(case.plax_fn(x), case.jax_fn(x), rtol=1e-6, atol=1e-5)


@requires_jax
def test_window_dilation_forward_derivatives(backend):
    case = FORWARD_ONLY[0]
    x, = case.make(np.random.default_rng(5))
    t = np.random.default_rng(6).standard_normal(x.shape).astype(np.float32)
    out, tan = plax.jvp(case.plax_fn, (x,), (t,))
    want, want_tan = jax.jvp(case.jax_fn, (x,), (t,))
    assert_close(out, want)
    assert_close(tan, want_tan)
    with pytest.raises(NotImplementedError, match="with window dilation"):
        plax.grad(lambda v: lax.reduce_sum(case.plax_fn(v), (0, 1, 2)))(x)


@requires_jax
@pytest.mark.parametrize("dt", [np.int32, np.float16, "bfloat16", np.uint8, np.bool_])
def test_dtypes_match_jax(backend, dt):
    import ml_dtypes
    dt = np.dtype(ml_dtypes.bfloat16 if dt == "bfloat16" else dt)
    rng = np.random.default_rng(7)
    x = (rng.integers(0, 2, (3, 7, 5)) if dt == np.bool_
         else rng.integers(0, 50, (3, 7, 5))).astype(dt)
    for name in (["max", "min"] if dt == np.bool_ else ["add", "max", "min"]):
        init = {"add": 0, "max": -np.inf, "min": np.inf}[name]
        if dt.kind in "iub":
            init = {"add": 0, "max": False if dt == np.bool_ else np.iinfo(dt).min,
                    "min": True if dt == np.bool_ else np.iinfo(dt).max}[name]
        args = ((2, 3, 2), (1, 2, 1), "SAME")
        got = lax.reduce_window(x, np.asarray(init, dt), getattr(lax, name), *args)
        want = jax.lax.reduce_window(x, np.asarray(init, dt), getattr(jax.lax, name), *args)
        assert got.dtype == want.dtype
        # 16-bit float sums are rounded once (accumulated in float32); XLA may round per step
        tol = dict(rtol=1e-2, atol=0) if dt.kind == "V" or dt == np.float16 else {}
        assert_close(np.asarray(got).astype(np.float64), np.asarray(want).astype(np.float64),
                     **tol)


@requires_jax
def test_generic_reduce_window_matches_jax(backend):
    rng = np.random.default_rng(8)
    x = rng.uniform(0.5, 1.5, (4, 6)).astype(np.float32)
    y = rng.standard_normal((4, 6)).astype(np.float32)
    args = ((2, 3), (1, 2), [(1, 0), (0, 2)])

    def prod(L):
        return lambda v: L.reduce_window(v, np.float32(1), L.mul, *args)

    def pair(L):  # a pytree of two operands, one combined by +, the other by max
        return lambda u, v: L.reduce_window(
            (u, v), (np.float32(0), np.float32(-np.inf)),
            lambda a, b: (L.add(a[0], b[0]), L.max(a[1], L.mul(b[1], np.float32(2)))), *args)

    assert_close(prod(lax)(x), prod(jax.lax)(x), rtol=1e-6, atol=1e-6)
    assert_close(plax.jit(prod(lax))(x), prod(jax.lax)(x), rtol=1e-6, atol=1e-6)
    for got, want in zip(pair(lax)(x, y), pair(jax.lax)(x, y)):
        assert_close(got, want, rtol=1e-6, atol=1e-6)
    # its jvp reduces (primal, tangent) pairs, as JAX's; vmap gives a unit window
    t = rng.standard_normal(x.shape).astype(np.float32)
    assert_close(plax.jvp(prod(lax), (x,), (t,))[1], jax.jvp(prod(jax.lax), (x,), (t,))[1],
                 rtol=1e-5, atol=1e-5)
    xs = np.stack([x, 2 * x, x[::-1]], 1)
    assert_close(plax.vmap(prod(lax), in_axes=1)(xs),
                 jax.vmap(prod(jax.lax), in_axes=1)(xs), rtol=1e-6, atol=1e-6)
    # forward mode to second order against finite differences (JAX has no vjp of it either)
    with plax.enable_x64():
        check_grads(lambda v: lax.reduce_window(v, 1.0, lax.mul, *args),
                    (x.astype(np.float64),), order=2, modes=("fwd",), atol=1e-6, rtol=1e-6)
    # a computation that closes over a concrete array
    scale = np.float32(0.5)
    f = lambda L: lambda v: L.reduce_window(v, np.float32(0),  # noqa: E731
                                            lambda a, b: L.add(a, L.mul(b, scale)), *args)
    assert_close(f(lax)(x), f(jax.lax)(x), rtol=1e-6, atol=1e-6)


@requires_jax
def test_select_and_scatter_add_matches_jax(backend):
    from jax._src.lax import windowed_reductions as jw
    rng = np.random.default_rng(9)
    x = spread(rng, 2, 6, 5)
    for dims, strides, pad in [((1, 2, 2), (1, 2, 2), ((0, 0), (0, 0), (0, 1))),
                               ((2, 3, 2), (1, 1, 2), ((1, 0), (1, 1), (0, 1)))]:
        out_shape = jax.eval_shape(
            lambda v, w=(dims, strides, pad): jax.lax.reduce_window(v, -np.inf, jax.lax.max,
                                                                    *w), x)
        src = rng.standard_normal(out_shape.shape).astype(np.float32)
        for name, jprim in (("ge", jax.lax.ge_p), ("le", jax.lax.le_p)):
            got = lax.select_and_scatter_add(src, x, name, dims, strides, pad)
            want = jw._select_and_scatter_add(src, x, jprim, dims, strides, pad)
            assert_close(got, want, rtol=1e-6, atol=1e-6)
            got = lax.select_and_gather_add(x * 3, x, name, dims, strides, pad)
            want = jw._select_and_gather_add(x * 3, x, jprim, dims, strides, pad, (1, 1, 1),
                                             (1, 1, 1))
            assert_close(got, want, rtol=1e-6, atol=1e-6)
    # both are linear in their first operand, each the other's transpose (a semantics check:
    # on the reference backend; test_jit runs the same rules compiled)
    if backend != "reference":
        return
    check_grads(lambda s: lax.select_and_scatter_add(s, x, "ge", (1, 2, 2), (1, 2, 2),
                                                     "VALID"),
                (rng.standard_normal((2, 3, 2)).astype(np.float32),), order=2,
                modes=("fwd", "rev"))


@requires_jax
@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_pooling_selects_as_jax_with_ties_nans_infinities_and_padding(backend, dt):
    """The selection of select_and_scatter_add / select_and_gather_add is JAX's (on CPUs and
    GPUs) where it is most delicate: XLA's select computation element by element in window
    order (ties: the first extreme; a NaN taken and then given up to the next element),
    padding that a window of lowest (highest) values selects, windows of nothing but
    padding."""
    from jax._src.lax import windowed_reductions as jw
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 2, (3, 7, 6), endpoint=True).astype(dt)
    if dt == np.float32:
        x.flat[rng.choice(x.size, 12, replace=False)] = np.nan
        x.flat[rng.choice(x.size, 12, replace=False)] = -np.inf
        x.flat[rng.choice(x.size, 6, replace=False)] = np.inf
    else:
        x.flat[rng.choice(x.size, 12, replace=False)] = np.iinfo(dt).min
        x.flat[rng.choice(x.size, 6, replace=False)] = np.iinfo(dt).max
    t = rng.integers(1, 9, x.shape).astype(dt)
    configs = [((1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1))),
               ((1, 2, 3), (1, 1, 2), ((0, 0), (2, 0), (0, 3))),
               ((2, 1, 2), (1, 3, 1), "VALID")]
    for dims, strides, pad in configs:
        w = (dims, strides, pad if pad != "VALID" else ((0, 0),) * 3)
        out_shape = jax.eval_shape(
            lambda v, w=w: jax.lax.reduce_window(v, np.array(0, dt), jax.lax.add, *w), x).shape
        src = rng.integers(1, 9, out_shape).astype(dt)
        for name, jprim in (("ge", jax.lax.ge_p), ("le", jax.lax.le_p)):
            want_s = jax_once(("pool_s", dt, w, name), lambda p=jprim, w=w, s0=src: jax.jit(
                lambda s, v: jw._select_and_scatter_add(s, v, p, *w))(s0, x))
            got_s = fast(backend)(lambda s, v, p=name, w=w: lax.select_and_scatter_add(
                s, v, p, *w))(src, x)
            np.testing.assert_array_equal(np.asarray(got_s), np.asarray(want_s),
                                          err_msg=f"scatter {name} {w}")
            # (JAX's select_and_gather_add takes floats only; and XLA's CPU reduce_window
            # visits the padded (2, 3) windows of the second configuration in another order
            # than row-major, which decides among tied and NaN elements: not compared there)
            if dt != np.float32 or w[2][1] == (2, 0):
                continue
            want_g = jax_once(("pool_g", dt, w, name), lambda p=jprim, w=w: jax.jit(
                lambda tt, v: jw._select_and_gather_add(tt, v, p, *w, (1, 1, 1),
                                                        (1, 1, 1)))(t, x))
            got_g = fast(backend)(lambda tt, v, p=name, w=w: lax.select_and_gather_add(
                tt, v, p, *w))(t, x)
            np.testing.assert_array_equal(np.asarray(got_g), np.asarray(want_g),
                                          err_msg=f"gather {name} {w}")


def test_maxpool_gradient_is_select_and_scatter_add():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    g = plax.grad(lambda v: lax.reduce_sum(
        lax.reduce_window(v, -np.inf, lax.max, (1, 2, 2), (1, 2, 2), "VALID"), (0, 1, 2)))
    jaxpr = plax.make_jaxpr(g)(x)
    names = [e.primitive.name for e in jaxpr.eqns]
    assert "select_and_scatter_add" in names, names
    want = np.zeros((1, 4, 4), np.float32)
    want[0, 1::2, 1::2] = 1
    assert_close(g(x), want)


def test_errors():
    x = np.ones((4, 5), np.float32)
    with pytest.raises(TypeError, match=r"window_dimensions \(2,\) must have one entry per "):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1, 1), "VALID")
    with pytest.raises(TypeError, match="window_strides must be positive"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (0, 1), "VALID")
    with pytest.raises(TypeError, match=r"window \(6 with dilation\) is larger than the padded"):
        lax.reduce_window(x, 0.0, lax.add, (1, 6), (1, 1), "VALID")
    with pytest.raises(ValueError, match="padding must be 'SAME'"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")
    with pytest.raises(TypeError, match="reduce_window_max does not accept dtype complex64"):
        lax.reduce_window_max(x.astype(np.complex64), (2, 2), (1, 1), "VALID")
    with pytest.raises(TypeError, match="must return the operand's structure"):
        lax.reduce_window(x, 0.0, lambda a, b: (a, b), (2, 2), (1, 1), "VALID")
    with pytest.raises(TypeError, match="init value must be a scalar of its operand's dtype"):
        lax.reduce_window_p.bind(x, np.ones(2, np.float32), jaxpr=None,
                                 window_dimensions=(1, 1), window_strides=(1, 1),
                                 padding=((0, 0), (0, 0)), base_dilation=(1, 1),
                                 window_dilation=(1, 1))
    with pytest.raises(ValueError, match="select_prim must be lax.ge_p or lax.le_p"):
        lax.select_and_scatter_add(x, x, "gt", (1, 1), (1, 1), "VALID")
    with pytest.raises(TypeError, match="source shape .* must be the window reduction's"):
        lax.select_and_scatter_add(x, x, "ge", (2, 2), (1, 1), "VALID")
    with pytest.raises(ValueError, match="same size along axis 0"):
        lax.associative_scan(lax.add, (x, x[:2]))


# ---------------------------------------------------------------------------------------------
# associative_scan and the cumulative reductions


@requires_jax
@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_matches_jax(backend, n, reverse):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((3, n, 2)).astype(np.float32)
    y = rng.uniform(0.5, 1.5, (3, n, 2)).astype(np.float32)

    def affine(L):  # composition of affine maps (a, b): not commutative
        return lambda p, q: (L.mul(q[0], p[0]), L.add(L.mul(q[0], p[1]), q[1]))

    run = fast(backend)
    for axis in (1, -2):  # JAX's takes no negative axis with reverse: give it 1
        got = run(lambda a, b, axis=axis: lax.associative_scan(affine(lax), (a, b),
                                                               reverse=reverse, axis=axis))(y, x)
        want = jax_once(("assoc", n, reverse), lambda: jax.jit(
            lambda a, b: jax.lax.associative_scan(affine(jax.lax), (a, b), reverse=reverse,
                                                  axis=1))(y, x))
        for g, w in zip(got, want):
            assert_close(g, w, rtol=1e-5, atol=1e-5)
    add = lambda a, b: {"v": lax.add(a["v"], b["v"])}  # noqa: E731
    got = plax.jit(lambda v: lax.associative_scan(add, {"v": v}, reverse))(x)["v"]
    assert_close(got, np.cumsum(x[::-1] if reverse else x, 0)[::-1] if reverse
                 else np.cumsum(x, 0), rtol=1e-5, atol=1e-5)
    f = lambda L: lambda v: L.associative_scan(L.mul, v, reverse=reverse, axis=1)  # noqa: E731
    assert_close(run(plax.grad(lambda v: lax.reduce_sum(f(lax)(v), (0, 1, 2))))(y),
                 jax_once(("assoc_grad", n, reverse),
                          lambda: jax.jit(jax.grad(lambda v: f(jax.lax)(v).sum()))(y)),
                 rtol=1e-5, atol=1e-5)
    assert_close(run(plax.vmap(f(lax), in_axes=2))(y),
                 jax_once(("assoc_vmap", n, reverse),
                          lambda: jax.jit(jax.vmap(f(jax.lax), in_axes=2))(y)),
                 rtol=1e-5, atol=1e-5)


@requires_jax
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_match_jax(backend, name, reverse):
    rng = np.random.default_rng(11)
    x = spread(rng, 3, 6) * 0.2
    f = lambda L: lambda v: getattr(L, name)(v, axis=1, reverse=reverse)  # noqa: E731
    run = fast(backend)
    key = (name, reverse)
    assert_close(run(f(lax))(x), jax_once(("cum",) + key, lambda: jax.jit(f(jax.lax))(x)),
                 rtol=1e-5, atol=1e-5)
    ct = rng.standard_normal(x.shape).astype(np.float32)
    got = run(lambda v, c: plax.vjp(f(lax), v)[1](c)[0])(x, ct)
    want = jax_once(("cum_vjp",) + key, lambda: jax.jit(
        lambda v, c: jax.vjp(f(jax.lax), v)[1](c)[0])(x, ct))
    assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert_close(plax.jit(plax.grad(lambda v: lax.reduce_sum(f(lax)(v), (0, 1))))(x),
                 jax_once(("cum_grad",) + key,
                          lambda: jax.jit(jax.grad(lambda v: f(jax.lax)(v).sum()))(x)),
                 rtol=1e-4, atol=1e-5)
    xi = rng.integers(-5, 6, (2, 5)).astype(np.int32)
    if name != "cumlogsumexp":
        got, want = run(f(lax))(xi), jax_once(("cum_int",) + key, lambda: f(jax.lax)(xi))
        assert got.dtype == want.dtype
        assert_close(got, want)


def test_cumulative_second_order():
    rng = np.random.default_rng(12)
    with plax.enable_x64():
        x = rng.uniform(0.5, 2.0, (2, 5))
        for name in ("cumsum", "cumprod", "cummax", "cumlogsumexp"):
            for reverse in (False, True):
                check_grads(lambda v, n=name, r=reverse: getattr(lax, n)(v, 1, r), (x,),
                            order=2, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


@requires_jax
def test_reduce_matches_jax(backend):
    rng = np.random.default_rng(13)
    x = rng.uniform(0.5, 1.5, (3, 4, 5)).astype(np.float32)
    xi = rng.integers(0, 64, (3, 4)).astype(np.int32)
    run = fast(backend)
    for name, init, arg, dims in [("add", 0.0, x, (0, 2)), ("mul", 1.0, x, (1,)),
                                  ("max", -np.inf, x, (2, 0)), ("min", np.inf, x, ()),
                                  ("bitwise_or", 0, xi, (1,)), ("bitwise_xor", 0, xi, (0,))]:
        got = run(lambda v, n=name, i=init, d=dims: lax.reduce(v, i, getattr(lax, n), d))(arg)
        want = jax.lax.reduce(arg, init, getattr(jax.lax, name), dims)
        assert got.dtype == want.dtype
        assert_close(got, want, rtol=1e-6, atol=1e-6)
    # a computation without a reduce_* primitive: one window over the dimensions
    poly = lambda L: lambda a, b: L.add(L.mul(a, b), a)  # noqa: E731
    assert_close(run(lambda v: lax.reduce(v, np.float32(1), poly(lax), (1,)))(x),
                 jax.lax.reduce(x, np.float32(1), poly(jax.lax), (1,)), rtol=1e-5, atol=1e-5)
    pair = lambda L: lambda p, q: (L.add(p[0], q[0]), L.max(p[1], q[1]))  # noqa: E731
    got = lax.reduce((x, -x), (np.float32(0), np.float32(-np.inf)), pair(lax), (0, 1))
    want = jax.lax.reduce((x, -x), (np.float32(0), np.float32(-np.inf)), pair(jax.lax), (0, 1))
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-6, atol=1e-6)
    assert "reduce_sum" in str(plax.make_jaxpr(lambda v: lax.reduce(v, 0.0, lax.add, (1,)))(x))
    g = plax.grad(lambda v: lax.reduce_sum(lax.reduce(v, 1.0, lax.mul, (1,)), (0, 1)))(x)
    assert_close(g, jax.grad(lambda v: jax.lax.reduce(v, 1.0, jax.lax.mul, (1,)).sum())(x),
                 rtol=1e-5, atol=1e-5)
