"""plax_cupy's generic reduce_window (lax.reduce_window with a user computation): one generated
"window" kernel, one thread per output element looping over its window in XLA's row-major
order with the computation's jaxpr inlined, its init values operands and the value at padding
and dilation holes. Against the reference backend in the host build (g++), bit for bit (the
same operations in the same order; non-associative computations included), over strides,
padding, base and window dilation; multi-operand (value, index) argmax; eagerly, under jit
and with fusion off; forward derivatives on the cupy backend; a computation the kernel
cannot inline still runs (the host rule); bad input fails as on the other backends; every
kernel compiled by NVRTC for sm_90 without register spills."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax
from plax.extend import registry

from conftest import assert_close, requires_jax
from cupy_helpers import assert_nvrtc_sm90_without_spills, kernels_of, reference, run_fused

# (operand shape, window, strides, padding, base dilation, window dilation)
CONFIGS = [
    ((13,), (3,), (2,), ((1, 2),), (1,), (1,)),
    ((13,), (3,), (1,), ((-2, 1),), (2,), (1,)),
    ((7, 9), (2, 3), (1, 2), ((0, 0), (2, -1)), (1, 1), (2, 1)),
    ((4, 5, 6), (2, 2, 3), (2, 1, 2), ((1, 1), (0, 2), (1, 0)), (2, 1, 1), (1, 2, 1)),
    ((2, 6, 5, 3), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", None, None),
    ((0, 3), (2, 1), (1, 1), ((2, 1), (0, 0)), (1, 1), (1, 1)),        # only padding
    ((), (), (), (), (), ()),
]


@pytest.fixture(autouse=True)
def _x64():
    with plax.enable_x64():
        yield


def _dt(name):
    return np.dtype(plax.numpy.dtype(name))


def _operand(shape, name, seed):
    dt = _dt(name)
    rng = np.random.default_rng(seed)
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(-5 if dt.kind == "i" else 0, 6, shape).astype(dt)
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    if dt.kind == "c":
        x = x + 1j * rng.uniform(-1, 1, shape)
    return x.astype(dt)


def _prod(a, b):
    return a * b


def _argmax(a, b):
    (va, ia), (vb, ib) = a, b
    take = (vb > va) | ((vb == va) & (ib < ia))
    return jnp.where(take, vb, va), jnp.where(take, ib, ia)


def _with(body, init, cfgs=CONFIGS):
    def f(*xs):
        return [lax.reduce_window(x, init(x.dtype), body, w, s, p, b, d)
                for x, (_, w, s, p, b, d) in zip(xs, cfgs)]
    return f


def _assert_equal(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g.astype(np.float64) if g.dtype.kind == "V" else g,
                                      w.astype(np.float64) if w.dtype.kind == "V" else w)


# {name: (computation, init)}; "affine" and "sub" are neither associative nor commutative
BODIES = {"prod": (_prod, 1), "affine": (lambda a, b: a * 0.5 + b, 0.25),
          "or": (lax.bitwise_or, False), "sub": (lax.sub, 3)}
CASES = [("prod", "float32"), ("prod", "int32"), ("prod", "complex64"), ("prod", "bfloat16"),
         ("affine", "float32"), ("affine", "float64"), ("affine", "float16"),
         ("or", "bool"), ("sub", "int8")]


@pytest.mark.parametrize("body,dtype", CASES)
def test_generic_reduce_window_matches_reference(body, dtype):
    """Every config in one program, each a window kernel; bit for bit with the reference
    (padding and dilation holes visited with the init value, row-major)."""
    fn, init = BODIES[body]
    f = _with(fn, lambda dt: np.asarray(init, dt))
    xs = [_operand(c[0], dtype, k) for k, c in enumerate(CONFIGS)]
    got, steps, launches = run_fused(f, *xs)
    assert [s.kind for s in steps] == ["window"] * len(CONFIGS)
    assert launches == sum(1 for c in CONFIGS if np.prod(_out_shape(c)) > 0)
    if _dt(dtype).kind == "c":  # (complex products: NumPy's rounding differs from C's)
        for g, w in zip(got, reference(f, *xs)):
            assert g.dtype == w.dtype
            assert_close(g, w, rtol=1e-6, atol=1e-6)
    else:
        _assert_equal(got, reference(f, *xs))


def _out_shape(cfg):
    shape, w, s, p, b, d = cfg
    return lax.reduce_window_shape_tuple(shape, w, s, lax.padtype_to_pads(shape, w, s, p)
                                         if isinstance(p, str) else p, b, d)


def _argmax_fn(x):
    """(max, its column): two results of one kernel; the iota and the producer inlined."""
    iota = lax.broadcasted_iota(np.int32, x.shape, x.ndim - 1)
    return lax.reduce_window((x * 2.0, iota), (np.asarray(-np.inf, x.dtype), np.int32(-1)),
                             _argmax, (1, 3, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 1)))


def test_multi_operand_argmax_is_one_kernel():
    x = _operand((2, 7, 6), "float32", 3)
    x[0, :3, :2] = 1.0  # ties: the lowest index wins
    got, steps, launches = run_fused(_argmax_fn, x)
    assert launches == 1 and [s.kind for s in steps] == ["window"]
    assert len(steps[0].out_vars) == 2
    assert {e.primitive.name for e in steps[0].eqns} == {"mul", "iota", "reduce_window"}
    _assert_equal(got, reference(_argmax_fn, x))


def test_epilogue_reads_both_results_at_the_output_index():
    x = _operand((3, 8), "float64", 4)

    def f(x):
        m, i = _argmax_fn(x[None])
        return m * i.astype(m.dtype) + 1.0
    got, steps, launches = run_fused(f, x)
    assert launches == 1 and [s.kind for s in steps] == ["window"]
    _assert_equal(got, reference(f, x))


def _launches():
    import plax_cupy
    return plax_cupy.launch_count()


def test_generic_window_kernel_under_emulated_gpu_threads():
    from plax_cupy import compiler
    x = _operand((3, 9, 8), "float64", 13)
    emulated = compiler.build_emulated(kernels_of(_argmax_fn, x), 3, 32)
    got, steps, _ = run_fused(_argmax_fn, x, functions=emulated)
    assert [s.kind for s in steps] == ["window"]
    _assert_equal(got, reference(_argmax_fn, x))


def test_eager_jit_and_fusion_off_run_the_kernel():
    x = _operand((2, 7, 6), "float32", 5)
    with plax.default_backend("reference"):
        want = [np.asarray(o) for o in _argmax_fn(x)]
    with plax.default_backend("cupy"):
        for run in (_argmax_fn, plax.jit(_argmax_fn)):
            before = _launches()
            got = [np.asarray(o) for o in run(x)]
            assert _launches() == before + 1  # eagerly: the iota and mul are library calls
            _assert_equal(got, want)
        with plax.config.override("cupy_fusion", False):  # still the kernel, not the host
            before = _launches()
            got = [np.asarray(o) for o in plax.jit(lambda x: _argmax_fn(x + 0.0))(x)]
            assert _launches() > before
            _assert_equal(got, want)


def _special_body(a, b):  # a special function the kernels do not compute: the host rule
    return a + lax.bessel_i0e(b)


def test_body_the_kernel_cannot_inline_runs_the_host_rule():
    x = _operand((5, 6), "float32", 6)

    def f(x):
        return lax.reduce_window(x, np.float32(0.0), _special_body, (2, 2), (1, 1), "SAME")
    closed = plax.make_jaxpr(f)(x)
    from plax_cupy import planner
    assert [type(s).__name__ for s in planner.plan(closed)] == ["LibraryStep"]
    with plax.default_backend("reference"):
        want = np.asarray(f(x))
    with plax.default_backend("cupy"):
        before = _launches()
        got = [np.asarray(f(x)), np.asarray(plax.jit(f)(x))]
        assert _launches() == before  # the NumPy library call, no kernel
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_reduce_window_left_host_primitives():
    assert "reduce_window" not in registry.get_backend("cupy").host_primitives()


def test_forward_derivatives_on_cupy():
    """The generic reduce_window's jvp reduces (primal, tangent) pairs by the computation's
    jvp (a second generic kernel): finite differences on the cupy backend, and the
    reference backend's numbers."""
    from plax.test_util import check_grads
    x = _operand((4, 5), "float64", 7)

    def f(x):
        return lax.reduce_window(x, 1.0, _prod, (2, 2), (1, 2), ((1, 0), (0, 1)))
    with plax.default_backend("cupy"):
        check_grads(f, (x,), order=1, modes=["fwd"])
        check_grads(plax.jit(f), (x,), order=2, modes=["fwd"])
        t = np.ones_like(x)
        got = np.asarray(plax.jit(lambda x, t: plax.jvp(f, (x,), (t,))[1])(x, t))
    with plax.default_backend("reference"):
        want = np.asarray(plax.jvp(f, (x,), (t,))[1])
    assert_close(got, want, rtol=1e-13, atol=1e-13)


def test_vmap_batches_with_a_unit_window():
    xs = _operand((3, 5, 4), "float32", 8)

    def f(x):
        return lax.reduce_window(x, np.float32(1.0), _prod, (2, 2), (1, 1), "VALID")
    g = plax.vmap(f)
    got, steps, launches = run_fused(g, xs)
    assert launches == 1
    _assert_equal(got, reference(g, xs))


@pytest.mark.parametrize("bad", ["shapes", "init_dtype", "window_rank"])
def test_bad_input_fails_clearly(bad):
    x = np.ones((4, 5), np.float32)
    y = np.ones((4, 6), np.int32)
    with plax.default_backend("cupy"):
        if bad == "shapes":
            with pytest.raises(TypeError, match="one shape"):
                lax.reduce_window((x, y), (np.float32(0), np.int32(0)), _argmax, (2, 2),
                                  (1, 1), "VALID")
        elif bad == "init_dtype":
            with pytest.raises(TypeError, match="dtype"):
                lax.reduce_window(x, np.float32(0), lambda a, b: (a + b).astype(np.float64),
                                  (2, 2), (1, 1), "VALID")
        else:
            with pytest.raises((TypeError, ValueError), match="window"):
                lax.reduce_window(x, np.float32(1), _prod, (2,), (1,), "VALID")


@requires_jax
def test_matches_jax():
    """XLA's CPU reduce_window may visit a window in another order (see test_cupy_windows):
    commutative computations only, compared within rounding."""
    import jax.numpy as jjnp
    from jax import lax as jlax
    x = _operand((2, 7, 6), "float32", 9)
    iota = np.broadcast_to(np.arange(6, dtype=np.int32), x.shape)

    def am(L, np_):
        def body(a, b):
            (va, ia), (vb, ib) = a, b
            take = (vb > va) | ((vb == va) & (ib < ia))
            return np_.where(take, vb, va), np_.where(take, ib, ia)
        return body

    def run(L, np_, x, i):
        p = L.reduce_window(x, np.float32(1), lambda a, b: a * b, (1, 2, 3), (1, 1, 2),
                            ((0, 0), (1, 0), (1, 1)))
        m = L.reduce_window((x, i), (np.float32(-np.inf), np.int32(-1)), am(L, np_),
                            (1, 3, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 1)))
        return [p, *m]
    want = run(jlax, jjnp, x, iota)
    with plax.default_backend("cupy"):
        got = plax.jit(lambda x, i: run(lax, jnp, x, i))(x, iota)
    for g, w in zip(got, want):
        assert_close(np.asarray(g), np.asarray(w), rtol=1e-6, atol=0)


def _corpus():
    ks = []
    for body, dtype in CASES:
        fn, init = BODIES[body]
        xs = [np.zeros(c[0], _dt(dtype)) for c in CONFIGS[2:5]]
        ks += kernels_of(_with(fn, lambda dt, i=init: np.asarray(i, dt), CONFIGS[2:5]), *xs)
    ks += kernels_of(_argmax_fn, np.zeros((2, 7, 6), np.float32))
    big = plax.ShapeDtypeStruct((64, 112, 112, 64), np.float32)
    ks += kernels_of(lambda x: lax.reduce_window(
        (x, lax.broadcasted_iota(np.int32, x.shape, 2)), (np.float32(-np.inf), np.int32(0)),
        _argmax, (1, 3, 3, 1), (1, 2, 2, 1), "SAME"), big)
    return ks


def test_every_generic_window_kernel_compiles_with_nvrtc_for_sm90_without_spills():
    ks = _corpus()
    assert_nvrtc_sm90_without_spills(ks)
