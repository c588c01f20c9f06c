"""For backends that run pmap on several devices: what every such pmap shares. `mapped_call`
reads a call's arguments (leaves, per-leaf mapped axes, the axis size); `trace_per_device`
traces the function once on the per-device avals with `PmapTrace` (collectives over the pmap
axis recorded, other axis names unbound); `out_axes_per_leaf`; `vmap_body` for pmap with vmap
semantics (under another transformation, or on one device). The xla and cupy backends use it;
each compiles the per-device jaxpr and places the pieces its own way."""

from plax._src.pmap_util import (
    MappedCall, PmapTrace, dynamic_in_axes, flat_axes, mapped_call, out_axes_per_leaf,
    trace_per_device, vmap_body)

__all__ = ["MappedCall", "PmapTrace", "dynamic_in_axes", "flat_axes", "mapped_call",
           "out_axes_per_leaf", "trace_per_device", "vmap_body"]
