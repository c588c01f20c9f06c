"""stax and optimizers in the style of JAX's `jax.example_libraries`, written on plax."""
