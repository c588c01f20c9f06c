"""plax.sharding: meshes of devices, partition specs and shardings (as jax.sharding)."""

from plax._src.sharding import (  # noqa: F401
    DuplicateSpecError, IndivisibleError, Mesh, NamedSharding, P, PartitionSpec, Sharding,
    SingleDeviceSharding, get_mesh, make_mesh, visualize_sharding)

__all__ = ["DuplicateSpecError", "IndivisibleError", "Mesh", "NamedSharding", "P",
           "PartitionSpec", "Sharding", "SingleDeviceSharding", "get_mesh", "make_mesh",
           "visualize_sharding"]
