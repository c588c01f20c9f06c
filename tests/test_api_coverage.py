"""Counts, module by module, the public names of JAX's user-facing modules that plax lacks, and
fails when one is missing without an entry in LEFT_OUT below. Every entry says why: internal or
deprecated names JAX exposes, configuration flags, features other issues add ("pending: issue
N", pruned by the lead as those land), or work left for a follow-up. A new JAX name, or a plax
name removed by accident, makes this test fail until it is implemented or listed here."""

from __future__ import annotations

import pytest
from api_coverage import MODULES, missing_names
from conftest import requires_jax


def _names(*groups: str) -> set[str]:
    return {n for g in groups for n in g.split()}


LEFT_OUT = {
    "jax": _names(
        # JAX's internal or implementation modules, not user API
        "ad api_util core interpreters lib typing stages export monitoring dlpack "
        "custom_batching custom_derivatives ops memory version",
        # configuration flags and context managers of JAX's config (plax.config has its own)
        "allow_f16_reductions array_garbage_collection_guard auto_pcast check_tracer_leaks "
        "checking_leaks debug_infs debug_key_reuse default_device default_matmul_precision "
        "default_prng_impl enable_checks enable_custom_prng explain_cache_misses "
        "jax2tf_associative_scan_reductions legacy_prng_key log_compiles no_execution "
        "no_tracing numpy_dtype_promotion numpy_rank_promotion softmax_custom_jvp "
        "threefry_partitionable thread_guard transfer_guard transfer_guard_device_to_device "
        "transfer_guard_device_to_host transfer_guard_host_to_device "
        "remove_size_one_mesh_axis_from_type",
        # issue 16 follow-up: JAX's explicit-sharding mode (typed shardings), deprecated
        # host_* aliases of process_*
        "Shard set_mesh reshard smap host_count host_id host_ids",
        # left for a follow-up (not in issue 12's scope)
        "closure_convert copy_to_host_async custom_gradient effects_barrier "
        "ensure_compile_time_eval fwd_and_bwd live_arrays make_user_context"),
    "jax.lax": _names(
        # issue 16 follow-up: collectives beyond shard_map's (explicit-sharding casts,
        # point-to-point sends, ragged exchanges)
        "axis_size pbroadcast pcast precv psend pshuffle pswapaxes ragged_all_to_all "
        "ragged_all_to_all_p device_put_p",
        # tokens, effects and staging: not planned in issue 12
        "after_all after_all_p create_token create_token_p optimization_barrier_p dce_sink "
        "dce_sink_p stage stage_p",
        # typing helpers and configuration enums
        "AccuracyMode DotAlgorithm DotAlgorithmPreset PrecisionLike RaggedDotDimensionNumbers "
        "RandomAlgorithm Tolerance",
        # primitives JAX exposes for its own rules (plax lowers these as compositions)
        "copy_p eq_to_p le_to_p lt_to_p square_p split_p stack_p tile_p unstack_p reduce_p "
        "linear_solve_p select_and_scatter_p approx_top_k_p clz_p mulhi_p reduce_precision_p "
        "rng_bit_generator_p rng_uniform_p",
        # follow-up of issue 12: operations not written yet (implicit-differentiation solves,
        # XLA's own random bit generators, MX dot products)
        "custom_linear_solve custom_root ragged_dot_general rng_bit_generator rng_uniform "
        "scaled_dot"),
    "jax.scipy.signal": _names(
        # follow-up of issue 12: the spectral estimates (short-time Fourier transforms)
        "csd istft stft welch"),
    "jax.random": _names(
        # plax's gamma sampler is a composition of lax operations, not a primitive
        "random_gamma_p"),
    "jax.nn": _names(
        # microscaling (MX) formats: not planned in issue 12
        "get_scaled_dot_general_config scaled_dot_general scaled_matmul"),
}


@pytest.fixture(scope="module")
def missing():
    return missing_names()


@requires_jax
@pytest.mark.parametrize("jax_name,plax_name", MODULES, ids=[m[1] for m in MODULES])
def test_no_unlisted_missing_names(missing, jax_name, plax_name):
    unlisted = sorted(set(missing[jax_name][1]) - LEFT_OUT.get(jax_name, set()))
    assert not unlisted, (f"{plax_name} lacks {len(unlisted)} public names of {jax_name} "
                          f"that LEFT_OUT does not list: {unlisted}")


@requires_jax
@pytest.mark.parametrize("jax_name", sorted(LEFT_OUT))
def test_left_out_lists_only_missing_names(missing, jax_name):
    """An entry plax now has is stale: the list must be pruned as the names land."""
    stale = sorted(LEFT_OUT[jax_name] - set(missing[jax_name][1]))
    assert not stale, f"LEFT_OUT[{jax_name!r}] lists names plax now has: {stale}"


@requires_jax
def test_coverage_count(missing):
    """The share of these modules' names plax has (`python tests/api_coverage.py` prints the
    tally); it must stay above what the explicit list allows."""
    total = sum(count for count, _ in missing.values())
    have = total - sum(len(names) for _, names in missing.values())
    listed = sum(len(v) for v in LEFT_OUT.values())
    print(f"plax has {have} of {total} public names ({100 * have / total:.1f}%)")
    assert have >= total - listed
