"""lax.DotAlgorithm / DotAlgorithmPreset / PrecisionLike as `precision` of dot_general and the
functions on it, against JAX on every backend: same results bit for bit (the operands rounded
to the algorithm's types, the sum to its accumulation type), same errors for the presets XLA
CPU refuses, the `algorithm` attribute in the StableHLO, gradients and vmap carrying the
algorithm. lax.Tolerance / AccuracyMode as `accuracy=` of the transcendental functions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, installed_backends, requires_jax
from helpers import eager_on_reference  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax import lax

R = np.random.RandomState(5)
A, B = R.randn(4, 5).astype(np.float32), R.randn(5, 3).astype(np.float32)
CPU_PRESETS = ["DEFAULT", "F16_F16_F16", "F32_F32_F32", "F64_F64_F64", "BF16_BF16_F32",
               "BF16_BF16_F32_X3", "BF16_BF16_F32_X6"]


def _dtypes():
    import ml_dtypes
    return [np.float32, np.float16, ml_dtypes.bfloat16]


@requires_jax
@pytest.mark.parametrize("name", CPU_PRESETS)
def test_presets_against_jax(backend, name):
    from jax import lax as jl
    for dt in _dtypes():
        x, y = A.astype(dt), B.astype(dt)
        expected = np.asarray(jl.dot(x, y, precision=name))
        out = plax.jit(lambda x, y: lax.dot(x, y, precision=lax.DotAlgorithmPreset[name]))(x, y)
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(np.asarray(out, np.float32), expected.astype(np.float32))


@requires_jax
def test_refused_on_cpu_as_jax(backend):
    from jax import lax as jl
    for p in ("TF32_TF32_F32", "BF16_BF16_F32_X9", "F16_F16_F32", "ANY_F8_ANY_F8_F32",
              lax.DotAlgorithm(np.float32, np.float32, np.float32)):
        jp = p if isinstance(p, str) else jl.DotAlgorithm(np.float32, np.float32, np.float32)
        with pytest.raises(ValueError, match="not supported by dot_general on CPU"):
            jl.dot(A, B, precision=jp)
        with pytest.raises(ValueError, match="not supported by dot_general on CPU"):
            np.asarray(plax.jit(lambda x, y, p=p: lax.dot(x, y, precision=p))(A, B))


@requires_jax
def test_numpy_functions_grad_vmap_and_jaxpr():
    import jax
    import jax.numpy as jnp
    p = "BF16_BF16_F32"
    a16 = A.astype(np.float16)

    def loss(np_, x, y):
        return (np_.matmul(x, y, precision=p) ** 2).sum() + np_.einsum("ij,jk->ik", x, y,
                                                                         precision=p).sum()
    g = plax.grad(lambda x, y: loss(pnp, x, y), argnums=(0, 1))(a16, B)
    jg = jax.grad(lambda x, y: loss(jnp, x, y), argnums=(0, 1))(a16, B)
    for o, e in zip(g, jg):
        assert o.dtype == e.dtype
        assert_close(o, np.asarray(e), rtol=1e-2, atol=1e-2)
    v = plax.vmap(lambda x: lax.dot(x, B, precision=lax.DotAlgorithmPreset.F16_F16_F16))(A)
    jv = jax.vmap(lambda x: jax.lax.dot(x, B, precision="F16_F16_F16"))(A)
    np.testing.assert_array_equal(np.asarray(v), np.asarray(jv))
    text = str(plax.make_jaxpr(lambda x: pnp.dot(x, B, precision="F16_F16_F16"))(A))
    assert "precision=F16_F16_F16" in text
    assert repr(lax.DotAlgorithmPreset.F32_F32_F32) == "DotAlgorithmPreset.F32_F32_F32"


@pytest.mark.skipif("xla" not in installed_backends(), reason="the xla backend is not here")
def test_lowering_carries_the_algorithm():
    text = plax.jit(lambda x, y: lax.dot(x, y, precision="BF16_BF16_F32"),
                    backend="xla").lower(A, B).as_text()
    # as JAX's lowering prints it
    assert ("algorithm = <lhs_precision_type = bf16, rhs_precision_type = bf16, "
            "accumulation_type = f32, lhs_component_count = 1, rhs_component_count = 1, "
            "num_primitive_operations = 1, allow_imprecise_accumulation = false>") in text


def test_preset_properties_and_errors():
    P = lax.DotAlgorithmPreset
    assert P.F16_F16_F32.supported_lhs_types == (np.dtype(np.float16),)
    assert P.DEFAULT.accumulation_type is None
    assert P.BF16_BF16_F32.supported_output_types(np.float32, np.float32) == (
        np.dtype(np.float32),)
    alg = lax.DotAlgorithm(np.float16, np.float16, np.float32)
    assert alg.num_primitive_operations == 1 and hash(alg) == hash(
        lax.DotAlgorithm(np.float16, np.float16, np.float32))
    with pytest.raises(ValueError, match="DotAlgorithmPreset"):
        lax.dot(A, B, precision="F17_F17_F17")
    # convolutions take a preset (as JAX: no algorithm attribute there)
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 2, 2), np.float32)
    assert_close(lax.conv(x, w, (1, 1), "SAME", precision=P.F32_F32_F32),
                 lax.conv(x, w, (1, 1), "SAME"))
    assert lax.PrecisionLike is not None


# ---------------------------------------------------------------------------------------------
# accuracy= of the transcendental functions

ACC_FUNS = ["exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "tan",
            "sqrt", "rsqrt", "cbrt"]


@requires_jax
def test_accuracy_argument_against_jax(backend):
    from jax import lax as jl
    x = np.linspace(0.1, 3, 301, dtype=np.float32)
    for name in ACC_FUNS:
        for acc in (lax.AccuracyMode.HIGHEST, lax.Tolerance(atol=1e-5)):
            out = plax.jit(lambda x, acc=acc, name=name: getattr(lax, name)(x, accuracy=acc))(x)
            jacc = (jl.AccuracyMode.HIGHEST if isinstance(acc, lax.AccuracyMode)
                    else jl.Tolerance(atol=1e-5))
            assert_close(out, np.asarray(getattr(jl, name)(x, accuracy=jacc)), rtol=2e-6,
                         atol=1e-6)
    g = plax.grad(lambda x: lax.sin(x, accuracy=lax.AccuracyMode.DEFAULT).sum())(x)
    assert_close(g, np.cos(x), rtol=1e-6, atol=1e-6)


def test_accuracy_errors():
    with pytest.raises(ValueError, match="non-negative"):
        lax.Tolerance(atol=-1.0)
    with pytest.raises(ValueError, match="At least one"):
        lax.Tolerance()
    with pytest.raises(TypeError, match="accuracy must be"):
        lax.exp(np.float32(1), accuracy="high")
    assert lax.AccuracyMode.HIGHEST.value == 1
