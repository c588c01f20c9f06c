"""lax.conv_general_dilated and its user functions against JAX on every backend: layouts
(string specs and ConvDimensionNumbers), padding strings and pairs, lhs/rhs dilation, feature
and batch groups, dtypes; derivatives of both operands to second order against finite
differences and JAX, vmap of every operand combination against loops, jit against eager."""

from __future__ import annotations

import numpy as np
import pytest

import plax
import plax.numpy as pnp
from plax import lax

from conftest import HAVE_JAX, assert_close, requires_jax
from rules_check import (  # noqa: F401 (eager_on_reference: an autouse fixture)
    Case, eager_on_reference, run_against_jax, run_grads, run_jit, run_vmap)

if HAVE_JAX:
    import jax


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _conv(**kw):
    return lambda L, x, w: L.conv_general_dilated(x, w, **kw)


CASES = [
    Case("nchw_same", _conv(window_strides=(1, 1), padding="SAME"),
         lambda r: (f32(r, 2, 3, 5, 4), f32(r, 4, 3, 3, 2)), diff=(0, 1)),
    Case("strides_pairs_dilations",
         _conv(window_strides=(2, 1), padding=[(1, 2), (-1, 0)], lhs_dilation=(2, 1),
               rhs_dilation=(1, 2)),
         lambda r: (f32(r, 2, 2, 5, 6), f32(r, 3, 2, 3, 2)), diff=(0, 1)),
    Case("nhwc_hwio_same_lower",
         _conv(window_strides=(1, 2), padding="SAME_LOWER",
               dimension_numbers=("NHWC", "HWIO", "NCHW")),
         lambda r: (f32(r, 2, 5, 4, 3), f32(r, 2, 3, 3, 4)), diff=(0, 1)),
    Case("feature_groups",
         _conv(window_strides=(1, 1), padding="VALID", feature_group_count=2),
         lambda r: (f32(r, 2, 4, 5, 4), f32(r, 6, 2, 2, 3)), diff=(0, 1)),
    Case("depthwise_nhwc",
         _conv(window_strides=(2, 2), padding="SAME", feature_group_count=3,
               dimension_numbers=("NHWC", "HWIO", "NHWC")),
         lambda r: (f32(r, 2, 5, 5, 3), f32(r, 3, 3, 1, 3)), diff=(0, 1)),
    Case("batch_groups",
         _conv(window_strides=(2, 1), padding="VALID", batch_group_count=2),
         lambda r: (f32(r, 4, 3, 5, 4), f32(r, 4, 3, 3, 2)), diff=(0, 1)),
    Case("batch_groups_1d_nwc",
         _conv(window_strides=(1,), padding=[(1, 0)], batch_group_count=3,
               dimension_numbers=("NWC", "WIO", "NWC")),
         lambda r: (f32(r, 6, 5, 2), f32(r, 3, 2, 6)), diff=(0, 1)),
    Case("conv_3d", _conv(window_strides=(1, 2, 1), padding="SAME", rhs_dilation=(1, 1, 2),
                          precision="highest"),
         lambda r: (f32(r, 1, 2, 4, 3, 5), f32(r, 2, 2, 2, 2, 2)), diff=(0, 1)),
    Case("conv", lambda L, x, w: L.conv(x, w, (1, 2), "VALID"),
         lambda r: (f32(r, 2, 2, 4, 5), f32(r, 3, 2, 2, 2)), diff=(0, 1)),
    Case("conv_with_general_padding",
         lambda L, x, w: L.conv_with_general_padding(x, w, (2, 1), [(1, 1), (0, 2)], (1, 2),
                                                     (2, 1)),
         lambda r: (f32(r, 1, 2, 5, 3), f32(r, 2, 2, 2, 3)), diff=(0, 1)),
    Case("conv_transpose_same",
         lambda L, x, w: L.conv_transpose(x, w, (2, 2), "SAME"),
         lambda r: (f32(r, 2, 3, 3, 2), f32(r, 3, 3, 2, 4)), diff=(0, 1)),
    Case("conv_transpose_valid_kernel",
         lambda L, x, w: L.conv_transpose(x, w, (2, 1), "VALID", transpose_kernel=True),
         lambda r: (f32(r, 1, 3, 4, 2), f32(r, 2, 3, 3, 2)), diff=(0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_grads_second_order(case):
    run_grads(case, np.random.default_rng(0))


@requires_jax
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_against_jax(case):
    run_against_jax(case, np.random.default_rng(1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES[::2] + CASES[5:7], ids=repr)
def test_vmap(case):
    run_vmap(case, np.random.default_rng(2))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_jit(case, backend):  # on every installed backend
    run_jit(case, np.random.default_rng(3))


@requires_jax
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_values_match_jax(case, backend):
    args = case.make(np.random.default_rng(4))
    assert_close(case.plax_fn(*args), case.jax_fn(*args), rtol=1e-5, atol=1e-5)


@requires_jax
@pytest.mark.parametrize("dt,pet", [(np.float16, None), (np.int32, None), (np.int8, np.int32),
                                    (np.int16, np.float32), ("bfloat16", np.float32),
                                    (np.complex64, None)])
def test_dtypes_match_jax(backend, dt, pet):
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dt == "bfloat16" else dt
    rng = np.random.default_rng(5)
    if np.dtype(dt).kind in "iu":
        x, w = rng.integers(-4, 5, (2, 3, 6, 5)), rng.integers(-4, 5, (4, 3, 3, 3))
    elif np.dtype(dt).kind == "c":
        x = rng.standard_normal((2, 3, 6, 5)) + 1j * rng.standard_normal((2, 3, 6, 5))
        w = rng.standard_normal((4, 3, 3, 3)) + 1j * rng.standard_normal((4, 3, 3, 3))
    else:
        x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    x, w = x.astype(dt), w.astype(dt)
    kw = dict(window_strides=(1, 2), padding="SAME", preferred_element_type=pet)
    got = lax.conv_general_dilated(x, w, **kw)
    want = jax.lax.conv_general_dilated(x, w, **kw)
    assert got.dtype == want.dtype
    assert_close(np.asarray(got).astype(np.complex128 if np.dtype(got.dtype).kind == "c"
                                        else np.float64),
                 np.asarray(want).astype(np.complex128 if want.dtype.kind == "c"
                                         else np.float64),
                 rtol=2e-2 if np.dtype(got.dtype).itemsize <= 2 else 1e-5,
                 atol=2e-2 if np.dtype(got.dtype).itemsize <= 2 else 1e-4)


@requires_jax
def test_patches_and_dimension_numbers_match_jax(backend):
    rng = np.random.default_rng(6)
    x = f32(rng, 2, 3, 6, 5)
    for kw in [dict(filter_shape=(2, 3), window_strides=(1, 1), padding="VALID"),
               dict(filter_shape=(3, 2), window_strides=(2, 1), padding="SAME",
                    rhs_dilation=(1, 2))]:
        assert_close(lax.conv_general_dilated_patches(x, **kw),
                     jax.lax.conv_general_dilated_patches(x, **kw))
    xh = np.moveaxis(x, 1, 3)
    kw = dict(filter_shape=(2, 2), window_strides=(1, 1), padding="SAME",
              dimension_numbers=("NHWC", "OIHW", "NHWC"))
    assert_close(lax.conv_general_dilated_patches(xh, **kw),
                 jax.lax.conv_general_dilated_patches(xh, **kw))
    for spec in [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"), ("HWNC", "IOWH", "CNWH")]:
        got = lax.conv_dimension_numbers((1, 2, 3, 4), (1, 2, 3, 4), spec)
        want = jax.lax.conv_dimension_numbers((1, 2, 3, 4), (1, 2, 3, 4), spec)
        assert tuple(got) == tuple(tuple(s) for s in want)
    dn = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    w = f32(rng, 3, 3, 3, 4)
    assert_close(lax.conv_general_dilated(xh, w, (1, 1), "SAME", dimension_numbers=dn),
                 jax.lax.conv_general_dilated(xh, w, (1, 1), "SAME",
                                              dimension_numbers=("NHWC", "HWIO", "NHWC")),
                 rtol=1e-5, atol=1e-5)


@requires_jax
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_numpy_convolve_correlate_match_jax(backend, mode):
    import jax.numpy as jnp
    rng = np.random.default_rng(7)
    for n, m in [(7, 3), (4, 6), (5, 5)]:
        a, v = f32(rng, n), f32(rng, m)
        assert_close(pnp.convolve(a, v, mode=mode), jnp.convolve(a, v, mode=mode),
                     rtol=1e-5, atol=1e-5)
        assert_close(pnp.correlate(a, v, mode=mode), jnp.correlate(a, v, mode=mode),
                     rtol=1e-5, atol=1e-5)
    c = (f32(rng, 5) + 1j * f32(rng, 5)).astype(np.complex64)
    assert_close(pnp.correlate(c, c[:3], mode=mode), jnp.correlate(c, c[:3], mode=mode),
                 rtol=1e-5, atol=1e-5)
    ai, vi = np.arange(6, dtype=np.int32), np.array([1, -2, 3], np.int32)
    got, want = pnp.convolve(ai, vi, mode=mode), jnp.convolve(ai, vi, mode=mode)
    assert got.dtype == want.dtype
    assert_close(got, want)
    g = plax.grad(lambda a: (pnp.convolve(a, v, mode=mode) ** 2).sum())(a)
    gj = jax.grad(lambda a: (jnp.convolve(a, v, mode=mode) ** 2).sum())(a)
    assert_close(g, gj, rtol=1e-5, atol=1e-5)


def test_jaxpr_params():
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    jaxpr = plax.make_jaxpr(lambda a, b: lax.conv(a, b, (2, 2), "SAME"))(x, w)
    eqn, = jaxpr.eqns
    assert eqn.primitive.name == "conv_general_dilated"
    assert eqn.params["padding"] == ((1, 1), (1, 1))
    assert eqn.params["dimension_numbers"] == lax.ConvDimensionNumbers(
        (0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3))
    assert "c:f32[1,3,3,3] = conv_general_dilated[" in str(jaxpr)


@requires_jax
def test_jaxpr_text_matches_jax():
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    assert str(plax.make_jaxpr(lambda a, b: lax.conv(a, b, (2, 2), "SAME"))(x, w)) == \
        str(jax.make_jaxpr(lambda a, b: jax.lax.conv(a, b, (2, 2), "SAME"))(x, w))

    def pool_grad(L, grad):
        return grad(lambda a: L.reduce_sum(L.reduce_window(a, -np.inf, L.max, (1, 1, 2, 2),
                                                           (1, 1, 2, 2), "VALID"), (0, 1, 2, 3)))
    assert str(plax.make_jaxpr(pool_grad(lax, plax.grad))(x)) == \
        str(jax.make_jaxpr(pool_grad(jax.lax, jax.grad))(x))


def test_errors():
    x, w = np.ones((2, 4, 5, 5), np.float32), np.ones((6, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"lhs feature dimension divided by "
                                        r"feature_group_count \(4 / 1 = 4\) must equal the rhs"):
        lax.conv(x, w, (1, 1), "SAME")
    with pytest.raises(TypeError, match="must be a multiple of feature_group_count"):
        lax.conv_general_dilated(x, np.ones((5, 1, 3, 3), np.float32), (1, 1), "SAME",
                                 feature_group_count=4)
    with pytest.raises(TypeError, match="at most one of feature_group_count"):
        lax.conv_general_dilated(x, w, (1, 1), "SAME", feature_group_count=2,
                                 batch_group_count=2)
    with pytest.raises(TypeError, match="same dtype, got float32 and float16"):
        lax.conv_general_dilated(x, w.astype(np.float16), (1, 1), "SAME",
                                 feature_group_count=2)
    with pytest.raises(TypeError, match="float16 must not be narrower than the operand dtype"):
        lax.conv(x, w[:4:2], (1, 1), "SAME", preferred_element_type=np.float16)
    with pytest.raises(TypeError, match="int32 is incompatible with operands of dtype float32"):
        lax.conv(x, w[:4:2], (1, 1), "SAME", preferred_element_type=np.int32)
    with pytest.raises(TypeError, match="same rank"):
        lax.conv(x, w[0], (1, 1), "SAME")
    with pytest.raises(TypeError, match="window_strides must have one entry per spatial"):
        lax.conv_general_dilated(x, w, (1,), [(0, 0), (0, 0)], feature_group_count=2)
    with pytest.raises(TypeError, match="window_strides must be positive"):
        lax.conv_general_dilated(x, w, (0, 1), "VALID", feature_group_count=2)
    with pytest.raises(ValueError, match="padding must be 'SAME'"):
        lax.conv_general_dilated(x, w, (1, 1), "FULL", feature_group_count=2)
    with pytest.raises(TypeError, match="padding must be 'SAME', 'SAME_LOWER', 'VALID' or a "
                                        "sequence of"):
        lax.conv_general_dilated(x, w, (1, 1), [1, 2], feature_group_count=2)
    with pytest.raises(TypeError, match=r"dimension_numbers\[1\] must contain exactly one 'O'"):
        lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NCHW", "IXHW",
                                                                          "NCHW"))
    with pytest.raises(TypeError, match="one letter per dimension"):
        lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NCH", "OIH", "NCH"))
    with pytest.raises(TypeError, match="does not accept dtype bool"):
        lax.conv(x > 0, w[:, :, :, :] > 0, (1, 1), "SAME")


@pytest.mark.parametrize("kind", ["lhs", "rhs"])
def test_transpose_is_linear_transpose(kind):
    # <conv(x, w), ct> == <x, conv^T_lhs(ct)> == <w, conv^T_rhs(ct)>, groups included
    rng = np.random.default_rng(8)
    for kw, xs, ws in [(dict(window_strides=(2, 1), padding=[(1, 0), (2, 1)],
                             lhs_dilation=(1, 2), rhs_dilation=(2, 1)), (2, 4, 6, 5),
                        (6, 2, 2, 3)),
                       (dict(window_strides=(1, 1), padding="SAME", batch_group_count=2),
                        (4, 3, 4, 4), (4, 3, 3, 3))]:
        if "batch_group_count" not in kw:
            kw["feature_group_count"] = 2
        x, w = f32(rng, *xs), f32(rng, *ws)
        out = lax.conv_general_dilated(x, w, **kw)
        ct = f32(rng, *out.shape)
        if kind == "lhs":
            t, = plax.linear_transpose(
                lambda a, w=w, kw=kw: lax.conv_general_dilated(a, w, **kw), x)(ct)
            lhs_side, rhs_side = np.vdot(np.asarray(out), ct), np.vdot(x, np.asarray(t))
        else:
            t, = plax.linear_transpose(
                lambda b, x=x, kw=kw: lax.conv_general_dilated(x, b, **kw), w)(ct)
            lhs_side, rhs_side = np.vdot(np.asarray(out), ct), np.vdot(w, np.asarray(t))
        assert_close(lhs_side, rhs_side, rtol=1e-4, atol=1e-3)


@requires_jax
def test_local_conv_and_shape_helpers_match_jax(backend):
    rng = np.random.default_rng(9)
    for dn, xs in [(None, (2, 3, 6, 5)), (("NHWC", "HWIO", "NHWC"), (2, 6, 5, 3)),
                   (("NCHW", "OIHW", "NHWC"), (2, 3, 6, 5))]:
        x = f32(rng, *xs)
        kw = dict(window_strides=(1, 2), padding="SAME", filter_shape=(2, 3),
                  dimension_numbers=dn)
        out_shape = jax.eval_shape(lambda a, kw=kw: jax.lax.conv_general_dilated_patches(
            a, kw["filter_shape"], kw["window_strides"], kw["padding"],
            dimension_numbers=kw["dimension_numbers"]), x).shape
        pdn = lax.conv_dimension_numbers(xs, (1, 1, 2, 3), dn)
        # the local kernel: output spatial sizes on rhs's spatial dims, C*6 in, 4 out
        rshape = [0] * 4
        rshape[pdn.rhs_spec[0]], rshape[pdn.rhs_spec[1]] = 4, 18
        for k, d in enumerate(pdn.rhs_spec[2:]):
            rshape[d] = out_shape[pdn.out_spec[2 + k]]
        w = f32(rng, *rshape)
        got = lax.conv_general_dilated_local(x, w, **kw)
        want = jax.lax.conv_general_dilated_local(x, w, **kw)
        assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert lax.conv_shape_tuple((2, 4, 9, 8), (6, 2, 3, 3), (2, 1), "SAME") == \
        jax.lax.conv_shape_tuple((2, 4, 9, 8), (6, 2, 3, 3), (2, 1), "SAME")
    spec = ("NHWC", "HWIO", "NHWC")
    assert lax.conv_general_shape_tuple((2, 9, 8, 3), (3, 2, 3, 5), (1, 2), [(1, 0), (0, 2)],
                                        spec) == \
        jax.lax.conv_general_shape_tuple((2, 9, 8, 3), (3, 2, 3, 5), (1, 2), [(1, 0), (0, 2)],
                                         spec)
    for pad in ("SAME", "VALID", [(1, 2), (0, 1)]):
        assert lax.conv_transpose_shape_tuple((2, 5, 4, 3), (3, 2, 3, 6), (2, 3), pad, spec) \
            == jax.lax.conv_transpose_shape_tuple((2, 5, 4, 3), (3, 2, 3, 6), (2, 3), pad, spec)
    assert lax.reduce_window_shape_tuple((4, 9), (2, 3), (1, 2), [(0, 1), (2, 0)], (1, 2),
                                         (2, 1)) == \
        tuple(jax.lax.reduce_window_shape_tuple((4, 9), (2, 3), (1, 2), [(0, 1), (2, 0)],
                                                (1, 2), (2, 1)))
