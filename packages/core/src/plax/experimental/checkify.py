"""plax.experimental.checkify: JAX's import path of plax.checkify (the same objects)."""

from plax.checkify import *  # noqa: F401,F403
from plax.checkify import __all__  # noqa: F401
