"""Rules of primitives without operands (iota): they make constants, so their tangent is zero
and they are never batched; the rules exist so coverage is complete and errors never say
"missing rule" for them."""

from __future__ import annotations

from plax import lax as st
from plax.extend import get_aval
from plax_transforms.ad import Zero


def _zero_jvp(primals, tangents, **params):
    out = st.iota_p.bind(**params)
    return out, Zero(get_aval(out))


def _unbatched(vals, dims, **params):
    return st.iota_p.bind(**params), None


JVP = {st.iota_p: _zero_jvp}
BATCH = {st.iota_p: _unbatched}
