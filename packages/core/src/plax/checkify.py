"""plax.checkify: errors as functional values, as JAX's `jax.experimental.checkify`.

`err, out = checkify.checkify(f, errors=checkify.index_checks)(x)`, then `err.throw()` or
`err.get()`; `checkify.check(pred, msg, *fmt_args)` is a user check (`debug_check`: one that
is dropped outside checkify). Composes with jit, vmap and grad. For errors raised at once
instead, `plax.config.update("checks", True)` (eager ops check before they run; a jitted
function called directly runs checkified and throws)."""

from plax._src.checkify import (  # noqa: F401
    DivisionByZeroError, Error, ErrorCategory, JaxRuntimeError, NaNError, OutOfBoundsError,
    all_checks, automatic_checks, check, check_error, checkify, debug_check, div_checks,
    float_checks, index_checks, init_error, nan_checks, user_checks)
# the primitives, for backends' rules (not in __all__): `check` (compiled only under checkify
# or the `checks` option) and `debug_check` (compiled to nothing outside checkify)
from plax._src.checkify import check_p, debug_check_p  # noqa: F401,E402

__all__ = ["DivisionByZeroError", "Error", "ErrorCategory", "JaxRuntimeError", "NaNError",
           "OutOfBoundsError", "all_checks", "automatic_checks", "check", "check_error",
           "checkify", "debug_check", "div_checks", "float_checks", "index_checks",
           "init_error", "nan_checks", "user_checks"]
