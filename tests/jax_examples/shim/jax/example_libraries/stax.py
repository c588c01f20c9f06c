"""jax.example_libraries.stax for the shim: plax.example_libraries.stax."""

from plax.example_libraries.stax import *  # noqa: F401,F403
