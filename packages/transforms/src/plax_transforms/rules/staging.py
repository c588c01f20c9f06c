"""Rules of the staging primitives (plax.lax.stage, optimization_barrier, dce_sink), as JAX's:
stage is linear (its tangent and cotangent pass through it); optimization_barrier puts the
primals through one barrier and the tangents through another, transposes to a barrier over
the cotangents and batches as the identity; dce_sink has no outputs, so its tangent is nothing
and its batch rule sinks the batched value. Tokens (create_token, after_all) have no tangent (a
symbolic zero) and are never batched."""

from __future__ import annotations

from plax import lax
from plax.extend import abstract_token
from plax_transforms.ad import Zero, instantiate


def _stage_jvp(primals, tangents):
    t = tangents[0]
    return lax.stage_p.bind(primals[0]), (t if type(t) is Zero else lax.stage_p.bind(t))


def _stage_transpose(ct, x):
    return [ct]


def _barrier_jvp(primals, tangents):
    # the primals and the tangents each through a barrier of their own: linearize keeps the
    # primal one known and transposes the tangent one (JAX splits its joint barrier so)
    outs = lax.optimization_barrier_p.bind(*primals)
    nz = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    tans = list(tangents)
    if nz:
        for i, t in zip(nz, lax.optimization_barrier_p.bind(*(tangents[i] for i in nz))):
            tans[i] = t
    return outs, tans


def _barrier_transpose(cts, *xs):
    cts = [instantiate(c) if type(c) is Zero else c for c in cts]
    return lax.optimization_barrier_p.bind(*cts)


def _barrier_batch(vals, dims):
    return lax.optimization_barrier_p.bind(*vals), list(dims)


def _sink_jvp(primals, tangents, *, prevent_mlir_dce=False):
    lax.dce_sink_p.bind(primals[0], prevent_mlir_dce=prevent_mlir_dce)
    return [], []


def _sink_transpose(cts, x, *, prevent_mlir_dce=False):
    return [None]


def _sink_batch(vals, dims, *, prevent_mlir_dce=False):
    lax.dce_sink_p.bind(vals[0], prevent_mlir_dce=prevent_mlir_dce)
    return [], []


def _create_token_jvp(primals, tangents):
    return lax.create_token_p.bind(), Zero(abstract_token)


def _after_all_jvp(primals, tangents):
    return lax.after_all_p.bind(*primals), Zero(abstract_token)


def _after_all_batch(vals, dims):
    # tokens are never batched (vmap refuses to map one), so every operand is unbatched
    return lax.after_all_p.bind(*vals), None


JVP = {lax.stage_p: _stage_jvp, lax.optimization_barrier_p: _barrier_jvp,
       lax.dce_sink_p: _sink_jvp, lax.create_token_p: _create_token_jvp,
       lax.after_all_p: _after_all_jvp}
TRANSPOSE = {lax.stage_p: _stage_transpose, lax.optimization_barrier_p: _barrier_transpose,
             lax.dce_sink_p: _sink_transpose}
BATCH = {lax.stage_p: lambda vals, dims: (lax.stage_p.bind(vals[0]), dims[0]),
         lax.optimization_barrier_p: _barrier_batch, lax.dce_sink_p: _sink_batch,
         lax.create_token_p: lambda vals, dims: (lax.create_token_p.bind(), None),
         lax.after_all_p: _after_all_batch}
