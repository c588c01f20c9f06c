"""The custom derivative rules notebook: custom_jvp (log1pexp, a rule with Python control
flow, nondiff_argnums, defjvps) and custom_vjp (clip_gradient, a fixed point), with a log of
which user functions ran, since a program may print there."""

from functools import partial

import jax
import jax.numpy as jnp
from jax import custom_jvp, custom_vjp, grad, jit, vmap

log = []


@custom_jvp
def log1pexp(x):
    log.append("log1pexp")
    return jnp.log(1. + jnp.exp(x))


@log1pexp.defjvp
def log1pexp_jvp(primals, tangents):
    log.append("log1pexp_jvp")
    x, = primals
    x_dot, = tangents
    ans = log1pexp(x)
    return ans, (1 - 1 / (1 + jnp.exp(x))) * x_dot


@custom_jvp
def f(x, y):
    log.append("f")
    if x > 0:
        return jnp.sin(x) * y
    return x * y


@f.defjvp
def f_jvp(primals, tangents):
    log.append("f_jvp")
    x, y = primals
    x_dot, y_dot = tangents
    return f(x, y), jnp.cos(x) * x_dot * y + jnp.sin(x) * y_dot


@partial(custom_jvp, nondiff_argnums=(0,))
def app(fn, x):
    return fn(x)


@app.defjvp
def app_jvp(fn, primals, tangents):
    x, = primals
    x_dot, = tangents
    return fn(x), 2. * x_dot


@custom_jvp
def h(x, y):
    return x * y


h.defjvps(lambda x_dot, primal_out, x, y: 2 * x_dot * y,
          lambda y_dot, primal_out, x, y: 3 * y_dot * x)


@custom_vjp
def clip_gradient(lo, hi, x):
    log.append("clip_gradient")
    return x


def clip_gradient_fwd(lo, hi, x):
    log.append("clip_gradient_fwd")
    return x, (lo, hi)


def clip_gradient_bwd(res, g):
    log.append("clip_gradient_bwd")
    lo, hi = res
    return (None, None, jnp.clip(g, lo, hi))


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


@custom_vjp
def g(x):
    log.append("g")
    return jnp.exp(x) if x < 5 else x


def g_fwd(x):
    log.append("g_fwd")
    return g(x), x


def g_bwd(r, ct):
    log.append("g_bwd")
    return (jnp.exp(r) * ct,)


g.defvjp(g_fwd, g_bwd)


def run(thunk):
    log.clear()
    return {"value": thunk(), "ran": list(log)}


def main():
    return {
        "log1pexp grad": run(lambda: grad(log1pexp)(100.)),
        "log1pexp jit grad": run(lambda: jit(grad(log1pexp))(3.)),
        "log1pexp vmap grad": run(lambda: vmap(grad(log1pexp))(jnp.arange(3.))),
        "log1pexp eager": run(lambda: log1pexp(3.)),
        "f grad": run(lambda: grad(f)(1., 2.)),
        "f vjp": run(lambda: jax.vjp(f, 1., 2.)[1](1.)),
        "f jvp": run(lambda: jax.jvp(f, (1., 2.), (1., 0.))),
        "f grad grad": run(lambda: grad(grad(lambda x: f(x, 3.)))(1.)),
        "app grad": run(lambda: grad(lambda x: app(jnp.sin, x))(1.)),
        "h grads": run(lambda: grad(h, argnums=(0, 1))(2., 3.)),
        "clip grad": run(lambda: grad(lambda x: clip_gradient(-0.5, 0.5, 3 * x))(1.)),
        "clip vmap": run(lambda: vmap(grad(lambda x: clip_gradient(-0.5, 0.5, jnp.sin(x) * 3)))(
            jnp.linspace(0., 3., 4))),
        "g grad": run(lambda: grad(g)(1.)),
        "g value_and_grad": run(lambda: jax.value_and_grad(lambda x: g(x) * 2)(1.)),
        "g jit grad": run(lambda: jit(grad(lambda x: jnp.sin(x)))(1.)),
    }
