"""plax's exception classes, in JAX's hierarchy (`plax.errors` mirrors `jax.errors`).

Each class also stays a subclass of what plax raised before it existed (UnexpectedTracerError
is still a RuntimeError, the tracer conversion errors are still ConcretizationTypeErrors), so
both `except jax.errors.X`-style code and older plax code catch them.
"""

from __future__ import annotations


class JAXTypeError(TypeError):
    """Base of the type errors a traced value can cause (JAX's name, for compatibility)."""


class JAXIndexError(IndexError):
    """Base of the index errors a traced value can cause (JAX's name, for compatibility)."""


class ConcretizationTypeError(JAXTypeError):
    """A traced (abstract) value was used where a concrete Python value is needed."""


class TracerBoolConversionError(ConcretizationTypeError):
    """bool() of a traced value: Python control flow (`if x > 0:`) on a value unknown while
    tracing. Use plax.numpy.where or plax.lax.cond, or mark the argument static."""


class TracerIntegerConversionError(ConcretizationTypeError):
    """__index__ of a traced value (used as a Python int: an index, a range bound, a shape).
    A JAX TracerIntegerConversionError is not a ConcretizationTypeError; plax's is both."""


class TracerArrayConversionError(ConcretizationTypeError):
    """np.asarray (or another NumPy function) called on a traced value. A JAX
    TracerArrayConversionError is not a ConcretizationTypeError; plax's is both."""


class NonConcreteBooleanIndexError(JAXIndexError, ConcretizationTypeError):
    """Boolean-mask indexing with a traced mask: the result's shape would depend on values."""


class UnexpectedTracerError(JAXTypeError, RuntimeError):
    """A tracer escaped the transformation that created it (stored in a global or a closure
    and used after the transformed function returned)."""


class KeyReuseError(JAXTypeError):
    """A typed PRNG key consumed twice, raised by the key-reuse checker (the
    `debug_key_reuse` option, off by default, as JAX's)."""
