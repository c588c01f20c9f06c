"""Refs (plax.new_ref) for transforms that trace functions: the `AbstractRef` type, making a
Ref that stands for an argument inside a traced function (`inner_ref`), reading the values of
Refs where a traced program is called (`current_values`, which lifts them into the enclosing
traces) and storing the program's results back (`write_back`), `bound` to give Refs traced
values inside a function. See plax._src.state."""

from plax._src.state import (  # noqa: F401
    AbstractRef, Ref, RefError, UsesRefs, bound, current_values, inner_ref, is_ref, write_back)

__all__ = ["AbstractRef", "Ref", "RefError", "UsesRefs", "bound", "current_values",
           "inner_ref", "is_ref", "write_back"]
