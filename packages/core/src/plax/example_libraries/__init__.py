"""plax.example_libraries (as jax.example_libraries): JAX's small neural-network (`stax`) and
optimizer (`optimizers`) libraries written on plax, for code and notebooks that use them."""
