"""plax's XLA backend (a plugin: users select it with `plax.default_backend("xla")` or get it
as the default, never import it). Closed jaxprs are lowered to StableHLO, verified through
jaxlib.mlir and compiled by PJRT; jaxlib is imported only when the backend is first used."""

__version__ = "0.1.0"
