"""Mutable array references (as jax.ref): `new_ref`, `empty_ref`, `freeze`, `free_ref`, the
`Ref` type and its type `AbstractRef`, and the functional forms of its operations `get`,
`set`, `swap`, `addupdate`. See plax._src.state for how Refs are traced."""

from plax._src.state import (  # noqa: F401
    AbstractRef, Ref, addupdate, empty_ref, free_ref, freeze, get, new_ref, set, swap)

__all__ = ["AbstractRef", "Ref", "addupdate", "free_ref", "freeze", "get", "new_ref",
           "empty_ref", "set", "swap"]
