"""Helpers for batching (vmap) rules: rule(args, dims, **params) -> (out, out_dim), each dim an
int or `not_mapped` (None); `needs_trace(rule)` for rules that take the batch trace first (its
`axis_size` and `axis_name`); moving and creating batch axes."""

from plax._src.batching_util import (
    bdim_at_front, check_batch_rule, matchaxis, moveaxis, needs_trace, not_mapped)

__all__ = ["bdim_at_front", "check_batch_rule", "matchaxis", "moveaxis", "needs_trace",
           "not_mapped"]
