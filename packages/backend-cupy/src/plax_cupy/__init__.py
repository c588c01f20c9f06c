"""plax's CuPy backend (a plugin: users select it with `plax.default_backend("cupy")` or
`jit(f, backend="cupy")`, never import it). Jaxprs are planned into fused groups, each one
generated CUDA kernel, and library calls; `cupy_device="host"` builds the same kernels with g++.

`plax_cupy.launch_count()` counts kernel launches of fused groups (tests and benchmarks)."""

__version__ = "0.1.0"


def launch_count() -> int:
    """Fused-kernel launches so far in this process."""
    from plax_cupy import compiler
    return compiler.launch_count()
