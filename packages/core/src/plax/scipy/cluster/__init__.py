"""plax.scipy.cluster (as jax.scipy.cluster): vector quantization in `vq`."""

from plax.scipy.cluster import vq  # noqa: F401
