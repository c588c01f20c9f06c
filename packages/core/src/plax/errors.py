"""The exceptions plax raises where JAX raises the `jax.errors` of the same name."""

from plax._src.core import JaxprTypeError  # noqa: F401
from plax._src.errors import (  # noqa: F401
    ConcretizationTypeError, JAXIndexError, JAXTypeError, KeyReuseError,
    NonConcreteBooleanIndexError, TracerArrayConversionError, TracerBoolConversionError,
    TracerIntegerConversionError, UnexpectedTracerError)

__all__ = [
    "ConcretizationTypeError", "JAXIndexError", "JAXTypeError", "JaxprTypeError",
    "KeyReuseError", "NonConcreteBooleanIndexError", "TracerArrayConversionError",
    "TracerBoolConversionError", "TracerIntegerConversionError", "UnexpectedTracerError",
]
