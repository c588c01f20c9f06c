"""plax.experimental.pjit (as jax.experimental.pjit, JAX's older spelling of jit with
shardings): `pjit` is plax.jit, which takes in_shardings / out_shardings."""

from __future__ import annotations


def __getattr__(name: str):
    if name == "pjit":
        import plax
        return plax.jit
    raise AttributeError(f"module 'plax.experimental.pjit' has no attribute '{name}'")


def __dir__():
    return ["pjit"]
