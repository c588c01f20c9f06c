"""The implementation of plax.numpy, written only in terms of plax.lax (see plax/numpy)."""
