"""A package named `jax` that is plax: JAX-style programs run unmodified on plax when this
directory comes first on sys.path (the compatibility harness does that in a subprocess).

Submodules map to plax's (`jax.numpy` is `plax.numpy`, ...); `jax.example_libraries` holds
stax and optimizers, which are plax.example_libraries'.
"""

import importlib
import sys

import plax

_SUBMODULES = ["numpy", "lax", "random", "nn", "tree_util", "errors", "dtypes", "tree",
               "test_util", "scipy", "flatten_util", "ops", "typing", "custom_batching",
               "custom_derivatives", "stages", "monitoring"]
for _name in _SUBMODULES:
    try:
        _mod = importlib.import_module(f"plax.{_name}")
    except ImportError:  # a submodule this plax does not have (yet)
        continue
    sys.modules[f"jax.{_name}"] = _mod
    globals()[_name] = _mod

Array = plax.Array
config = plax.config
__version__ = "0.0.0+plax"


def __getattr__(name):
    return getattr(plax, name)
