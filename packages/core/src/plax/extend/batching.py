"""Helpers for batching (vmap) rules: rule(args, dims, **params) -> (out, out_dim), each dim an
int or `not_mapped` (None); `needs_trace(rule)` for rules that take the batch trace first (its
`axis_size` and `axis_name`); moving and creating batch axes; `pmap_axis_name`, `pmap_axis`
and `is_pmap_axis` for a pmap run with vmap semantics (a backend's single-device pmap), whose
host callbacks still run once per mapped member."""

from plax._src.batching_util import (
    bdim_at_front, check_batch_rule, is_pmap_axis, matchaxis, moveaxis, needs_trace,
    not_mapped, pmap_axis, pmap_axis_name)

__all__ = ["bdim_at_front", "check_batch_rule", "is_pmap_axis", "matchaxis", "moveaxis",
           "needs_trace", "not_mapped", "pmap_axis", "pmap_axis_name"]
