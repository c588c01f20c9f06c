"""plax.experimental (as jax.experimental): helpers whose interface may still change;
`multihost_utils` for programs run by many processes (plax.distributed)."""
