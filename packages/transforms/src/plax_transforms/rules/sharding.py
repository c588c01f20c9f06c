"""Rules of `sharding_constraint` (with_sharding_constraint): the identity on values, so the
tangent and the cotangent get the same constraint; under vmap the batch dimension is left
unsplit (None inserted into the spec). Bound through `with_sharding_constraint`, so that
outside jit (eager vmap or jvp of `reshard`) the values are placed, as the user function
does."""

from __future__ import annotations

from plax import lax
from plax.extend import get_aval
from plax.sharding import NamedSharding, PartitionSpec
from plax_transforms.ad import Zero, instantiate

_p = lax.sharding_constraint_p


def _constrain(x, sharding):
    return lax.with_sharding_constraint(x, sharding)


def _jvp(primals, tangents, *, sharding):
    out = _constrain(primals[0], sharding)
    t = tangents[0]
    return out, (t if type(t) is Zero else _constrain(t, sharding))


def _transpose(ct, x, *, sharding):
    if type(ct) is Zero:
        return [ct]
    return [_constrain(instantiate(ct), sharding)]


def _batch(vals, dims, *, sharding):
    (x,), (d,) = vals, dims
    if d is not None and isinstance(sharding, NamedSharding):
        ndim = get_aval(x).ndim
        spec = list(sharding.spec) + [None] * (ndim - 1 - len(sharding.spec))
        spec.insert(d, None)
        sharding = NamedSharding(sharding.mesh, PartitionSpec(*spec))
    return _constrain(x, sharding), d


JVP = {_p: _jvp}
TRANSPOSE = {_p: _transpose}
BATCH = {_p: _batch}
