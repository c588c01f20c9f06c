"""The common-gotchas and jit notebooks: a global read while tracing (a new `jit(f)` wrapper
per call reuses the first trace, as JAX keys its cache on the function), static arguments,
retracing on a new shape, printing inside jit, and which exceptions programs catch."""

import numpy as np

import jax
import jax.numpy as jnp
from jax import jit

g = 0.
traces = []


def impure_uses_globals(x):
    return x + g


def counted(x):
    traces.append(x.shape)
    return x * 2


def main():
    global g
    out = {}
    out["first"] = jit(impure_uses_globals)(4.)
    g = 10.
    out["second (cached trace)"] = jit(impure_uses_globals)(5.)
    out["third (new type)"] = jit(impure_uses_globals)(jnp.array([4.]))
    for _ in range(5):
        jit(counted)(jnp.ones(3))
    jit(counted)(jnp.ones(4))
    out["traces"] = [list(s) for s in traces]
    out["static"] = jit(lambda x, n: x * n, static_argnums=1)(jnp.ones(2), 3)
    caught = {}
    try:
        jnp.dot(jnp.ones((2, 3)), jnp.ones((4, 5)))
    except TypeError:
        caught["dot mismatch"] = "TypeError"
    try:
        jit(lambda x: jnp.zeros(x))(3)
    except TypeError:
        caught["shape from tracer"] = "TypeError"
    try:
        jnp.arange(3.)[np.array([True, False, True])]
        caught["numpy mask"] = "no error"
    except IndexError:
        caught["numpy mask"] = "IndexError"
    try:
        jnp.ones(3) + jnp.ones(4)
    except TypeError:
        caught["broadcast"] = "TypeError"
    except ValueError:
        caught["broadcast"] = "ValueError"
    out["caught"] = caught
    out["errors module"] = sorted(n for n in [
        "ConcretizationTypeError", "TracerBoolConversionError", "TracerArrayConversionError",
        "TracerIntegerConversionError", "UnexpectedTracerError", "KeyReuseError",
        "NonConcreteBooleanIndexError", "JaxprTypeError"] if hasattr(jax.errors, n))
    out["bool subclass"] = issubclass(jax.errors.TracerBoolConversionError,
                                      jax.errors.ConcretizationTypeError)
    return out
