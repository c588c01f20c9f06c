"""plax.sharding: meshes of devices, partition specs and shardings (as jax.sharding).
`xla_sharding_text`, `sharding_from_tiles` and `sharding_devices` are for backends: a layout
as XLA's sharding attribute, and back."""

from plax._src.lax.sharding_ops import reshard  # noqa: F401
from plax._src.sharding import (  # noqa: F401
    AxisType, DuplicateSpecError, IndivisibleError, Infer, Mesh, NamedSharding, P, PartitionSpec,
    Sharding, Shard, SingleDeviceSharding, TiledSharding, get_mesh, make_mesh, sharding_devices,
    sharding_from_tiles, set_mesh, use_mesh, visualize_sharding, xla_sharding_text)

__all__ = ["AxisType", "DuplicateSpecError", "IndivisibleError", "Infer", "Mesh",
           "NamedSharding", "P", "PartitionSpec", "Shard", "Sharding", "SingleDeviceSharding",
           "TiledSharding",
           "get_mesh", "make_mesh", "reshard", "set_mesh", "sharding_devices",
           "sharding_from_tiles", "use_mesh", "visualize_sharding", "xla_sharding_text"]
