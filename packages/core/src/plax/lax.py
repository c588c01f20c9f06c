"""plax.lax: the primitive operations (as jax.lax). Operands must already agree in dtype;
use plax.numpy for NumPy-style promotion and broadcasting."""

from plax._src.lax.elementwise import *  # noqa: F401,F403
from plax._src.lax.structural import *  # noqa: F401,F403
from plax._src.lax.reductions import *  # noqa: F401,F403
from plax._src.lax.slicing import *  # noqa: F401,F403
from plax._src.lax.sorting import *  # noqa: F401,F403
from plax._src.lax.linalg import *  # noqa: F401,F403
from plax._src.lax.fft import *  # noqa: F401,F403
from plax._src.lax.convolution import *  # noqa: F401,F403
from plax._src.lax.windowed import *  # noqa: F401,F403
from plax._src.lax import linalg_decomp as linalg  # noqa: F401 (plax.lax.linalg, as jax's)
from plax._src.lax.special import *  # noqa: F401,F403
from plax._src.lax.control_flow import *  # noqa: F401,F403
from plax._src.lax.solves import *  # noqa: F401,F403
from plax._src.lax.rng import *  # noqa: F401,F403
from plax._src.lax.parallel import *  # noqa: F401,F403
from plax._src.lax.compositions import *  # noqa: F401,F403
from plax._src.lax.sharding_ops import *  # noqa: F401,F403
from plax._src.lax.staging import *  # noqa: F401,F403
from plax._src.lax.shard_map import shard_map_p  # noqa: F401
from plax._src.lax import calls as _calls  # noqa: F401  (registers the call primitives)
from plax._src.lax.elementwise import (  # noqa: F401
    RoundingMethod, _convert_element_type, abs, acos, acosh, add, asin, asinh, atan, atan2,
    atanh, bitcast_convert_type, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cbrt, ceil,
    clamp, complex, conj, convert_element_type, cos, cosh, digamma, div, eq, erf, erf_inv, erfc,
    exp, exp2, expm1, floor, ge, gt, imag, integer_pow, is_finite, le, lgamma, log, log1p,
    logistic, lt, max, min, mul, ne, neg, nextafter, population_count, pow, real, reciprocal,
    rem, round, rsqrt, select, select_n, shift_left, shift_right_arithmetic,
    shift_right_logical, sign, sin, sinh, sqrt, square, stop_gradient, sub, tan, tanh)

# lax.not_/and_/or_/xor_ keep JAX's spellings
from plax._src.lax.elementwise import bitwise_not as not_  # noqa: F401,E402
from plax._src.lax.elementwise import bitwise_and as and_  # noqa: F401,E402
from plax._src.lax.elementwise import bitwise_or as or_  # noqa: F401,E402
from plax._src.lax.elementwise import bitwise_xor as xor_  # noqa: F401,E402

import sys as _sys  # noqa: E402

_sys.modules.setdefault(__name__ + ".linalg", linalg)  # so `import plax.lax.linalg` works


def __getattr__(name: str):
    # names a plugin adds to plax.lax (register_api('lax.<name>', ...)); a dunder probe
    # (`from plax.lax import x` asks for __path__) loads no plugins: a plugin module that
    # imports from plax.lax while it is itself being imported would see itself half-built
    if name.startswith("__"):
        raise AttributeError(f"module 'plax.lax' has no attribute '{name}'")
    from plax._src import registry
    obj = registry.get_api(f"lax.{name}")
    if obj is None:
        raise AttributeError(f"module 'plax.lax' has no attribute '{name}'")
    return obj


def _export_primitives() -> None:
    """Every primitive core defines, as `plax.lax.<name>_p` (as jax.lax.sin_p): what rules and
    lowerings are registered for."""
    import importlib
    import pkgutil

    from plax._src import lax as pkg
    from plax._src.core import Primitive
    from plax._src import callback, ffi
    g = globals()
    modules = [importlib.import_module(f"{pkg.__name__}.{m.name}")
               for m in pkgutil.iter_modules(pkg.__path__)]
    for mod in [*modules, callback, ffi]:
        for n, v in vars(mod).items():
            if n.endswith("_p") and not n.startswith("_") and isinstance(v, Primitive):
                g.setdefault(n, v)


_export_primitives()
