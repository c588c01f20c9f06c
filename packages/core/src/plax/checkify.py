"""plax.checkify: errors as functional values, as JAX's `jax.experimental.checkify`.

`err, out = checkify.checkify(f, errors=checkify.index_checks)(x)`, then `err.throw()` or
`err.get()`; `checkify.check(pred, msg, *fmt_args)` is a user check. Composes with jit, vmap
and grad. For eager errors instead, `plax.config.update("checks", True)`."""

from plax._src.checkify import (  # noqa: F401
    Error, JaxRuntimeError, all_checks, automatic_checks, check, checkify, div_checks,
    float_checks, index_checks, nan_checks, user_checks)

__all__ = ["Error", "JaxRuntimeError", "all_checks", "automatic_checks", "check", "checkify",
           "div_checks", "float_checks", "index_checks", "nan_checks", "user_checks"]
