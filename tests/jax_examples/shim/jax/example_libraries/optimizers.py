"""jax.example_libraries.optimizers for the shim: plax.example_libraries.optimizers."""

from plax.example_libraries.optimizers import *  # noqa: F401,F403
