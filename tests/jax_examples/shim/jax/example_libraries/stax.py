"""Layers in the style of jax.example_libraries.stax, written on plax: a layer is a pair
(init_fun(rng, input_shape) -> (output_shape, params), apply_fun(params, inputs, **kw))."""

import plax.numpy as jnp
from plax import random
from plax.nn import initializers as jinit
from plax.nn import log_softmax, relu, softplus


def Dense(out_dim, W_init=jinit.glorot_normal(), b_init=jinit.normal()):
    def init_fun(rng, input_shape):
        output_shape = input_shape[:-1] + (out_dim,)
        k1, k2 = random.split(rng)
        return output_shape, (W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,)))

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return jnp.dot(inputs, W) + b

    return init_fun, apply_fun


def elementwise(fun, **fun_kwargs):
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)

    return init_fun, apply_fun


Relu = elementwise(relu)
Softplus = elementwise(softplus)
LogSoftmax = elementwise(log_softmax, axis=-1)
Tanh = elementwise(jnp.tanh)


def Identity():
    return (lambda rng, input_shape: (input_shape, ())), (lambda params, inputs, **kw: inputs)


Identity = Identity()


def FanOut(num):
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    return init_fun, lambda params, inputs, **kwargs: [inputs] * num


def FanInSum():
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    return init_fun, lambda params, inputs, **kwargs: sum(inputs)


FanInSum = FanInSum()


def serial(*layers):
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(layers)) if rng is not None else (None,) * len(layers)
        for fun, param, r in zip(apply_funs, params, rngs):
            inputs = fun(param, inputs, rng=r, **kwargs)
        return inputs

    return init_fun, apply_fun


def parallel(*layers):
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        rngs = random.split(rng, len(init_funs))
        return zip(*[init(r, s) for init, r, s in zip(init_funs, rngs, input_shape)])

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.pop("rng", None)
        rngs = random.split(rng, len(layers)) if rng is not None else (None,) * len(layers)
        return [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_funs, params, inputs, rngs)]

    return init_fun, apply_fun


def shape_dependent(make_layer):
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(inputs.shape)[1](params, inputs, **kwargs)

    return init_fun, apply_fun


__all__ = ["Dense", "Relu", "Softplus", "LogSoftmax", "Tanh", "Identity", "FanOut",
           "FanInSum", "serial", "parallel", "shape_dependent", "elementwise"]
