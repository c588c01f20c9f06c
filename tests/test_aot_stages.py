"""The ahead-of-time stages as JAX's: `jit(f).trace(...)` (Traced: jaxpr, fun_name, in_avals,
out_info, lower), `Lowered.as_text(dialect=...)` / `compiler_ir` / `cost_analysis`, and the
compiled program's own view (`Compiled.as_text()`: XLA's optimized HLO; `cost_analysis()`,
`memory_analysis()`, `runtime_executable()`), on every backend; figures against JAX's for the
same program."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.numpy as jnp
import plax.stages as stages


def layer(w, x, *, scale=1.0):
    return jnp.tanh(x @ w) * scale


W = np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32)
X = np.random.default_rng(1).standard_normal((8, 16)).astype(np.float32)


@pytest.fixture
def xla():
    with plax.default_backend("xla"):
        yield


def test_traced_stage(xla):
    f = plax.jit(layer, static_argnames="scale")
    traced = f.trace(W, X, scale=2.0)
    assert isinstance(traced, stages.Traced)
    assert traced.fun_name == "layer"
    assert isinstance(traced.jaxpr, plax.extend.ClosedJaxpr)
    assert [e.primitive.name for e in traced.jaxpr.jaxpr.eqns] == ["dot_general", "tanh", "mul"]
    (aw, ax), kw = traced.in_avals
    assert (aw.shape, ax.shape, kw) == ((16, 32), (8, 16), {})
    assert (traced.out_info.shape, traced.out_info.dtype) == ((8, 32), np.float32)
    lowered = traced.lower()
    assert isinstance(lowered, stages.Lowered)
    assert lowered.as_text() == f.lower(W, X, scale=2.0).as_text()
    assert_close(lowered.compile()(W, X), np.tanh(X @ W) * 2, rtol=1e-5)
    assert_close(traced(W, X, scale=2.0), np.tanh(X @ W) * 2, rtol=1e-5)


def test_compiled_takes_the_non_static_arguments_as_jax(xla):
    f = plax.jit(lambda w, n, x: (x @ w) * n, static_argnums=1)
    compiled = f.lower(W, 3, X).compile()
    assert_close(compiled(W, X), (X @ W) * 3, rtol=1e-5)  # the static 3 is not passed again
    with pytest.raises(TypeError, match="non-static arguments only"):
        compiled(W, 3, X)
    with pytest.raises(TypeError, match=r"argument \[0\]\[1\] of compiled jit.*f32\[4,16\].*"
                                        r"compiled for f32\[8,16\]"):
        compiled(W, X[:4])
    g = plax.jit(layer, static_argnames="scale").lower(W, X, scale=2.0).compile()
    assert_close(g(W, X), np.tanh(X @ W) * 2, rtol=1e-5)
    with pytest.raises(TypeError, match="non-static arguments only"):
        g(W, X, scale=2.0)


@requires_jax
def test_traced_matches_jax():
    import jax
    import jax.numpy as jjnp
    ours = plax.jit(layer).trace(W, X)

    def jlayer(w, x, *, scale=1.0):  # the same function on JAX's numpy
        return jjnp.tanh(x @ w) * scale
    jlayer.__name__ = "layer"
    theirs = jax.jit(jlayer).trace(W, X)
    assert ours.fun_name == theirs.fun_name
    assert [str(e.primitive) for e in ours.jaxpr.eqns] == \
        [str(e.primitive) for e in theirs.jaxpr.eqns]
    assert [(a.shape, a.dtype) for a in plax.tree_util.tree_leaves(ours.in_avals)] == \
        [(a.shape, a.dtype) for a in jax.tree_util.tree_leaves(theirs.in_avals)]
    assert (ours.out_info.shape, ours.out_info.dtype) == \
        (theirs.out_info.shape, theirs.out_info.dtype)


def test_lowered_dialects_and_compiler_ir(xla):
    lowered = plax.jit(layer).lower(W, X)
    assert lowered.as_text("stablehlo") == lowered.as_text()
    hlo = lowered.as_text(dialect="hlo")
    assert hlo.startswith("HloModule") and " tanh(" in hlo and " dot(" in hlo
    module = lowered.compiler_ir()
    assert "stablehlo.tanh" in str(module) and type(module).__name__ == "Module"
    comp = lowered.compiler_ir("hlo")
    assert comp.as_hlo_text() == hlo
    with pytest.raises(ValueError, match="unknown dialect 'mhlo'.*'stablehlo'.*'hlo'"):
        lowered.as_text("mhlo")
    costs = lowered.cost_analysis()
    assert costs["flops"] >= 2 * 8 * 16 * 32 and costs["transcendentals"] == 8 * 32


def test_compiled_program_view(xla):
    compiled = plax.jit(layer).lower(W, X).compile()
    text = compiled.as_text()
    # XLA's optimized module, not the StableHLO given to it
    assert text.startswith("HloModule") and "is_scheduled=true" in text
    assert "stablehlo." not in text
    costs = compiled.cost_analysis()
    assert costs["flops"] >= 2 * 8 * 16 * 32 and costs["transcendentals"] == 8 * 32
    assert costs["bytes accessed"] >= (W.size + X.size + 8 * 32) * 4
    mem = compiled.memory_analysis()
    assert mem.argument_size_in_bytes == (W.size + X.size) * 4
    assert mem.output_size_in_bytes == 8 * 32 * 4
    assert type(compiled.runtime_executable()).__name__ == "LoadedExecutable"
    (aw, ax), _ = compiled.in_avals
    assert (aw.shape, ax.shape) == (W.shape, X.shape)
    one = plax.sharding.SingleDeviceSharding(plax.devices()[0])
    assert compiled.input_shardings == ((one, one), {}) and compiled.output_shardings == one


def test_compiled_view_from_the_persistent_cache(xla, tmp_path):
    """An executable loaded from the compilation cache reports the same program and costs."""
    from plax.extend import registry
    stats = registry.get_backend("xla").stats
    plax.config.update("compilation_cache_dir", str(tmp_path))
    try:
        first = plax.jit(lambda w, x: layer(w, x)).lower(W, X).compile()
        hits = stats["cache_hits"]
        second = plax.jit(lambda w, x: layer(w, x)).lower(W, X).compile()
        assert stats["cache_hits"] == hits + 1
    finally:
        plax.config.reset("compilation_cache_dir")
    assert second.as_text() == first.as_text()
    assert second.cost_analysis() == first.cost_analysis()
    assert_close(second(W, X), np.tanh(X @ W), rtol=1e-5)


@requires_jax
def test_costs_and_memory_match_jax(xla):
    import jax
    import jax.numpy as jjnp

    def jlayer(w, x):
        return jjnp.tanh(x @ w)

    ours = plax.jit(lambda w, x: layer(w, x)).lower(W, X).compile()
    theirs = jax.jit(jlayer).lower(W, X).compile()
    for key in ("flops", "transcendentals", "bytes accessed"):
        assert ours.cost_analysis()[key] == theirs.cost_analysis()[key], key
    m, jm = ours.memory_analysis(), theirs.memory_analysis()
    for key in ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes"):
        assert getattr(m, key) == getattr(jm, key), key
    jlow = jax.jit(jlayer).lower(W, X)
    assert plax.jit(lambda w, x: layer(w, x)).lower(W, X).cost_analysis()["flops"] == \
        jlow.cost_analysis()["flops"]


@pytest.mark.parametrize("backend", ["reference", "cupy"])
def test_other_backends_views(backend):
    from plax.extend import registry
    try:
        registry.get_backend(backend)
    except Exception as e:  # noqa: BLE001 - a backend that cannot start here
        pytest.skip(f"backend {backend} unavailable: {e}")
    f = plax.jit(layer, backend=backend)
    lowered = f.lower(W, X)
    compiled = lowered.compile()
    text = compiled.as_text()
    if backend == "reference":  # it runs the jaxpr itself
        assert "dot_general" in text and "tanh" in text
        assert lowered.compiler_ir() is lowered.jaxpr()
    else:  # the fused kernels' CUDA and the library calls
        assert "library dot_general" in text and "__global__" in text
        assert lowered.as_text(dialect="jaxpr").startswith("{ lambda")
    with pytest.raises(ValueError, match="unknown dialect 'hlo'"):
        lowered.as_text(dialect="hlo")
    assert lowered.cost_analysis() is None  # as JAX's: None where unavailable
    with pytest.raises(NotImplementedError):
        compiled.cost_analysis()
    with pytest.raises(NotImplementedError):
        compiled.memory_analysis()
    one = plax.sharding.SingleDeviceSharding(plax.devices(backend)[0])
    assert compiled.input_shardings == ((one, one), {}) and compiled.output_shardings == one
    assert_close(compiled(W, X), np.tanh(X @ W), rtol=1e-5)

