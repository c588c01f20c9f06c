"""plax.example_libraries.stax and .optimizers against JAX's: the same layers initialized
from the same key give the same parameters and outputs, the optimizers the same iterates, and
a small stax MLP trained with adam the same losses, on every installed backend (the layer and
optimizer checks on the reference backend, as the house's JAX comparisons)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
from plax.example_libraries import optimizers, stax

pytestmark = requires_jax


def _leaves_close(a, b, **kw):
    import jax
    la, lb = plax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert_close(x, y, **kw)


def _mlp(lib):
    return lib.serial(lib.Dense(16), lib.Relu, lib.Dense(8), lib.Tanh, lib.Dense(3),
                      lib.LogSoftmax)


def _train(stax_lib, opt_lib, xmod, key, jit, value_and_grad, steps):
    init, apply = _mlp(stax_lib)
    out_shape, params = init(key, (-1, 4))
    opt_init, opt_update, get_params = opt_lib.adam(optimizers.exponential_decay(1e-2, 10, 0.5))
    x = np.random.RandomState(0).randn(32, 4).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(32) % 3]

    def loss(p):
        return -xmod.mean(xmod.sum(apply(p, x) * y, -1))

    @jit
    def step(i, state):
        value, g = value_and_grad(loss)(get_params(state))
        return value, opt_update(i, g, state)

    state, losses = opt_init(params), []
    for i in range(steps):
        value, state = step(i, state)
        losses.append(float(value))
    return out_shape, params, losses, get_params(state)


def test_stax_mlp_adam_training_matches_jax(backend):
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import optimizers as jopt
    from jax.example_libraries import stax as jstax
    steps = 8
    got = _train(stax, optimizers, plax.numpy, plax.random.PRNGKey(0), plax.jit,
                 plax.value_and_grad, steps)
    want = _train(jstax, jopt, jnp, jax.random.PRNGKey(0), jax.jit, jax.value_and_grad, steps)
    assert got[0] == want[0] == (-1, 3)
    _leaves_close(got[1], want[1])  # the same initial parameters from the same key
    np.testing.assert_allclose(got[2], want[2], rtol=2e-5)
    assert got[2][-1] < got[2][0]
    _leaves_close(got[3], want[3], rtol=1e-4, atol=1e-5)


OPTIMIZERS = {
    "sgd": (0.1,), "momentum": (0.1, 0.9), "nesterov": (0.1, 0.9), "adagrad": (0.1,),
    "rmsprop": (0.01,), "rmsprop_momentum": (0.01,), "adam": (0.05,), "adamax": (0.05,),
    "sm3": (0.1,),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_match_jax(reference, name):
    import jax
    from jax.example_libraries import optimizers as jopt
    rng = np.random.RandomState(1)
    params = {"w": rng.randn(3, 2).astype(np.float32), "b": rng.randn(2).astype(np.float32),
              "s": np.float32(0.5)}
    grads = [{k: np.asarray(rng.randn(*np.shape(v)), np.float32) for k, v in params.items()}
             for _ in range(4)]
    results = []
    for lib, tm in ((optimizers, plax.tree_util), (jopt, jax.tree_util)):
        opt_init, opt_update, get_params = getattr(lib, name)(*OPTIMIZERS[name])
        state = opt_init(params)
        for i, g in enumerate(grads):
            state = opt_update(i, g, state)
        results.append(get_params(state))
        assert tm.tree_structure(results[-1]) == tm.tree_structure(params)
    _leaves_close(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_schedules_and_utilities_match_jax(reference):
    import jax.numpy as jnp
    from jax.example_libraries import optimizers as jopt
    cases = [("constant", (0.3,)), ("exponential_decay", (0.5, 10, 0.1)),
             ("inverse_time_decay", (0.5, 10, 0.1)),
             ("inverse_time_decay", (0.5, 10, 0.1, True)),
             ("polynomial_decay", (0.5, 10, 0.01, 2.0)),
             ("piecewise_constant", ([3, 7], [0.5, 0.1, 0.01]))]
    for name, args in cases:
        ours, theirs = getattr(optimizers, name)(*args), getattr(jopt, name)(*args)
        for i in (0, 3, 5, 8, 15):
            assert_close(np.asarray(ours(i), np.float32), np.asarray(theirs(i), np.float32))
    tree = {"a": np.arange(4, dtype=np.float32), "b": np.float32(3.0)}
    assert_close(optimizers.l2_norm(tree), jopt.l2_norm(tree))
    _leaves_close(optimizers.clip_grads(tree, 2.0), jopt.clip_grads(tree, 2.0))
    with pytest.raises(ValueError, match="one shorter than values"):
        optimizers.piecewise_constant([1, 2], [0.1, 0.2])
    with pytest.raises(TypeError, match="step_size must be a scalar or a schedule"):
        optimizers.sgd(np.ones(2))
    del jnp


def test_optimizer_state_pack_unpack_and_errors(reference):
    opt_init, opt_update, get_params = optimizers.momentum(0.1, 0.9)
    params = {"a": np.ones(2, np.float32), "b": [np.zeros(3, np.float32)]}
    state = opt_init(params)
    marked = optimizers.unpack_optimizer_state(state)
    assert isinstance(marked["a"], optimizers.JoinPoint)
    again = optimizers.pack_optimizer_state(marked)
    _leaves_close_plax(get_params(again), params)
    state = opt_update(0, params, again)  # the packed state works as the original
    np.testing.assert_allclose(np.asarray(get_params(state)["a"]), 0.9)
    with pytest.raises(TypeError, match="did not match the parameter tree structure"):
        opt_update(1, {"a": params["a"]}, state)
    # the state is a pytree: it goes through jit
    state2 = plax.jit(lambda s: opt_update(1, params, s))(state)
    assert get_params(state2)["b"][0].shape == (3,)


def _leaves_close_plax(a, b):
    for x, y in zip(plax.tree_util.tree_leaves(a), plax.tree_util.tree_leaves(b)):
        assert_close(x, y)


def _layers(lib):
    return {
        "conv": (lib.serial(lib.Conv(4, (3, 3), padding="SAME"), lib.Relu,
                            lib.MaxPool((2, 2), strides=(2, 2)), lib.Flatten, lib.Dense(5)),
                 (1, 6, 6, 2)),
        "conv_transpose": (lib.serial(lib.ConvTranspose(2, (3, 3), strides=(2, 2)),
                                      lib.AvgPool((2, 2)), lib.SumPool((2, 2), padding="SAME")),
                           (1, 4, 4, 2)),
        "conv1d_transpose": (lib.Conv1DTranspose(3, (2,), padding="SAME"), (2, 6, 4)),
        "batchnorm": (lib.serial(lib.BatchNorm(axis=(0,)), lib.Selu, lib.Gelu, lib.Elu,
                                 lib.LeakyRelu, lib.Softplus, lib.Sigmoid, lib.Exp,
                                 lib.Softmax), (6, 4)),
        "fan": (lib.serial(lib.FanOut(3), lib.parallel(lib.Dense(4), lib.Identity,
                                                       lib.Dense(4)),
                           lib.FanOut(2),
                           lib.parallel(lib.FanInSum, lib.FanInConcat(-1))),
                (3, 4)),
        "shape_dependent": (lib.shape_dependent(lambda s: lib.Dense(s[-1] * 2)), (2, 3)),
    }


@pytest.mark.parametrize("name", ["conv", "conv_transpose", "conv1d_transpose", "batchnorm",
                                  "fan", "shape_dependent"])
def test_stax_layers_match_jax(reference, name):
    import jax
    from jax.example_libraries import stax as jstax
    (init, apply), shape = _layers(stax)[name]
    (jinit, japply), _ = _layers(jstax)[name]
    out_shape, params = init(plax.random.PRNGKey(3), shape)
    jout_shape, jparams = jinit(jax.random.PRNGKey(3), shape)
    assert jax.tree_util.tree_structure(out_shape) == jax.tree_util.tree_structure(jout_shape)
    assert list(jax.tree_util.tree_leaves(out_shape)) == list(
        jax.tree_util.tree_leaves(jout_shape))
    _leaves_close(params, jparams)
    x = np.random.RandomState(2).randn(*shape).astype(np.float32)
    out = apply(params, x)
    _leaves_close(out, japply(jparams, x), rtol=1e-5, atol=1e-5)  # shapes and values


def test_dropout_matches_jax(reference):
    import jax
    from jax.example_libraries import stax as jstax
    x = np.random.RandomState(0).randn(4, 5).astype(np.float32)
    _, apply = stax.Dropout(0.7)
    _, japply = jstax.Dropout(0.7)
    assert_close(apply((), x, rng=plax.random.PRNGKey(1)),
                 japply((), x, rng=jax.random.PRNGKey(1)))
    assert_close(stax.Dropout(0.7, mode="test")[1]((), x, rng=plax.random.PRNGKey(1)), x)
    with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key"):
        apply((), x)
