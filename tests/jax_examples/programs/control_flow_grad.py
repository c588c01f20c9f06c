"""The control-flow and autodiff-cookbook notebooks' Python control flow on concrete values
under grad, vjp, jvp, hessian (allowed outside jit: the primal is known), beside lax.cond,
fori_loop and scan, and the errors the same code raises under jit and vmap."""

import numpy as np

import jax
import jax.numpy as jnp
from jax import grad, jit, lax


def f(x):
    if x < 3:
        return 3. * x ** 2
    else:
        return -4 * x


def g(x, n):
    y = 0.
    for i in range(n):
        y = y + x ** i
    return y


def loop_until(x):
    while x < 10:  # the number of iterations depends on the value
        x = x * 2
    return x


def piecewise(x):
    return lax.cond(x > 0, lambda v: jnp.sin(v), lambda v: v ** 3, x)


def main():
    out = {}
    out["grad f"] = [grad(f)(2.), grad(f)(4.)]
    out["vjp f"] = jax.vjp(f, 2.)[1](1.)
    out["jvp f"] = jax.jvp(f, (4.,), (1.,))
    out["hessian f"] = jax.hessian(f)(2.)
    out["grad g"] = grad(g)(2., 4)
    out["grad loop"] = grad(loop_until)(3.)
    out["grad int()"] = grad(lambda x: x * int(x))(3.)
    out["grad index"] = grad(lambda x, i: x * jnp.arange(5.)[i])(3., jnp.array(2))
    out["grad item"] = grad(lambda x: x * x.item())(3.)
    out["grad cond"] = [grad(piecewise)(1.), grad(piecewise)(-1.)]
    out["grad fori"] = grad(lambda x: lax.fori_loop(0, 3, lambda i, c: c * x, 1.))(2.)
    out["grad scan"] = grad(lambda x: lax.scan(lambda c, a: (c * a, c), x,
                                               jnp.arange(1., 4.))[0])(np.float32(2.))
    out["jit static"] = jit(g, static_argnums=1)(2., 3)
    errors = {}
    for name, thunk in [
        ("jit bool", lambda: jit(f)(2.)),
        ("vmap bool", lambda: jax.vmap(f)(jnp.ones(3))),
        ("grad jit bool", lambda: grad(jit(f))(2.)),
        ("jit index", lambda: jit(lambda i: jnp.arange(3.)[i.__index__()])(1)),
        ("jit float", lambda: jit(lambda x: float(x))(1.)),
        ("grad float", lambda: grad(lambda x: x * float(x))(3.)),
        ("jit asarray", lambda: jit(lambda x: np.asarray(x))(1.)),
    ]:
        try:
            thunk()
            errors[name] = "no error"
        except jax.errors.TracerBoolConversionError:
            errors[name] = "TracerBoolConversionError"
        except jax.errors.TracerIntegerConversionError:
            errors[name] = "TracerIntegerConversionError"
        except jax.errors.TracerArrayConversionError:
            errors[name] = "TracerArrayConversionError"
        except jax.errors.ConcretizationTypeError:
            errors[name] = "ConcretizationTypeError"
    out["errors"] = errors
    return out
