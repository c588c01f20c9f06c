"""plax_cupy's fusion planner: kernel and launch counts for known programs (a 20-op elementwise
chain is one kernel, a softmax at most three, an MLP step's elementwise tails fuse into their
neighbours), values written to memory only when needed, multi-output and epilogue fusion, and
the kernel caches (a rebuilt program compiles nothing)."""

from __future__ import annotations

import random

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax, nn

from conftest import assert_close
from cupy_helpers import groups, kernels_of, plan_of, reference, run_fused, to_device, to_host
from plax_cupy import compiler, fused, planner

X = np.random.default_rng(0).standard_normal((16, 33)).astype(np.float32)


def chain20(x):
    y = x
    for _ in range(5):
        y = jnp.tanh(y) * 0.5 + jnp.sin(y) ** 2 - jnp.exp(-jnp.abs(y))  # 8 ops per round
    return y


def test_twenty_op_chain_is_one_kernel():
    closed, steps = plan_of(chain20, X)
    assert len(closed.jaxpr.eqns) >= 20
    got, steps, launches = run_fused(chain20, X)
    assert len(steps) == 1 and launches == 1
    assert len(steps[0].out_vars) == 1  # the intermediates never touch memory
    assert_close(got[0], reference(chain20, X)[0])


@pytest.mark.parametrize("axis", [1, 0])
def test_softmax_is_one_kernel(axis):
    # at most 3 by the issue; row fusion makes it one: max pass, sum pass, normalised row
    f = lambda x: nn.softmax(x, axis=axis)  # noqa: E731
    got, steps, launches = run_fused(f, X)
    assert launches == len(steps) == 1 and steps[0].row_roots
    assert_close(got[0], reference(f, X)[0])


def test_layer_norm_is_one_kernel():
    def f(x):
        mu = jnp.mean(x, axis=1, keepdims=True)
        return (x - mu) / jnp.sqrt(jnp.var(x, axis=1, keepdims=True) + 1e-5)
    got, steps, launches = run_fused(f, X)
    assert launches == 1
    assert_close(got[0], reference(f, X)[0])


def test_reduction_fuses_producers_and_epilogue():
    f = lambda x: jnp.sqrt(jnp.sum(x * x, axis=1)) + 1.0  # noqa: E731
    got, steps, launches = run_fused(f, X)
    assert launches == 1 and steps[0].kind == "reduce"
    assert_close(got[0], reference(f, X)[0])


def test_sibling_reductions_share_one_kernel():
    f = lambda x: (jnp.sum(x, axis=0), jnp.max(jnp.abs(x), axis=0), jnp.sum(x * x, axis=0))  # noqa
    got, steps, launches = run_fused(f, X)
    assert launches == 1 and len(steps[0].out_vars) == 3
    for g, w in zip(got, reference(f, X)):
        assert_close(g, w)


def test_views_fuse_through_index_arithmetic():
    def f(x):
        y = jnp.concatenate([x[::-1, 1:9].T, jnp.sin(x[:8, :16]).reshape(16, 8).T], 0)
        return jnp.pad(y * 2.0, ((1, 1), (2, 0))) + jnp.arange(18.0, dtype=np.float32)
    got, steps, launches = run_fused(f, X)
    assert launches == 1
    assert_close(got[0], reference(f, X)[0])


def mlp_step(params, x, y):
    def loss(params):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = nn.relu(h)
        return -jnp.mean(jnp.sum(nn.log_softmax(h) * y, axis=-1))
    g = plax.grad(loss)(params)
    return [(w - 0.1 * gw, b - 0.1 * gb) for (w, b), (gw, gb) in zip(params, g)]


def test_mlp_step_tails_fuse_into_neighbours():
    rng = np.random.default_rng(0)
    sizes = [8, 32, 32, 4]
    params = [(rng.standard_normal((a, b)).astype(np.float32) * 0.3,
               rng.standard_normal(b).astype(np.float32) * 0.1)
              for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((16, 8)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    got, steps, launches = run_fused(mlp_step, params, x, y)
    dots = [s for s in steps if isinstance(s, planner.LibraryStep)]
    assert {s.eqn.primitive.name for s in dots} == {"dot_general"}
    gs = groups(steps)
    # bias add + relu after each hidden matmul is one kernel; no kernel holds one lone
    # elementwise op; each weight update (transpose, scale, subtract) is one kernel
    for s in gs:
        assert len(s.eqns) >= 2 or s.kind == "reduce", planner.describe([s])
    assert launches == len(gs) <= 2 * len(dots)
    for g, w in zip(got, reference(mlp_step, params, x, y)):
        assert_close(g, w)


def test_expensive_shared_value_is_materialised_once():
    def f(x):
        y = chain20(x)
        return y.T + 1.0, jnp.sum(y, axis=1)
    closed, steps = plan_of(f, X)
    shared = [s for s in groups(steps) if len(s.eqns) > 20]
    assert len(shared) == 1  # computed once (with the sum that absorbs it), read by the other
    got, _, _ = run_fused(f, X)
    for g, w in zip(got, reference(f, X)):
        assert_close(g, w)


def test_library_ops_break_groups():
    f = lambda a, b: jnp.exp(jnp.sort(jnp.tanh(a), axis=1) @ b)  # noqa: E731
    b = np.ones((33, 5), np.float32)
    closed, steps = plan_of(f, X, b)
    names = [s.eqn.primitive.name if isinstance(s, planner.LibraryStep) else "kernel"
             for s in steps]
    assert names == ["kernel", "sort", "dot_general", "kernel"]
    got, _, _ = run_fused(f, X, b)
    assert_close(got[0], reference(f, X, b)[0])


def test_kernel_cache_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAX_CUPY_CACHE_DIR", str(tmp_path))
    f = lambda x: lax.cos(x) * 3.0 - 1.0  # noqa: E731
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    kernels = kernels_of(f, x)
    before = compiler.stats()
    compiler.build_host(kernels)
    assert compiler.stats()["gxx_calls"] == before["gxx_calls"] + 1
    compiler.clear_memory_cache()
    compiler.build_host(kernels)  # a new process would do the same: load, no g++
    after = compiler.stats()
    assert after["gxx_calls"] == before["gxx_calls"] + 1
    assert after["disk_hits"] == before["disk_hits"] + 1


def test_launch_counter_counts_launches():
    f = lambda x: jnp.exp(x) + 1.0  # noqa: E731
    _, steps = plan_of(f, X)
    runner = fused.FusedRunner(steps[0])
    before = compiler.launch_count()
    x = to_device(X)
    for _ in range(3):
        out = runner([x])[0]
    assert compiler.launch_count() - before == 3
    assert_close(to_host(out), np.exp(X) + 1.0)


@pytest.mark.parametrize("shape", [(0, 4), (3, 0)])
def test_empty_arrays_launch_nothing(shape):
    x = np.zeros(shape, np.float32)
    got, steps, launches = run_fused(lambda x: (jnp.exp(x), jnp.sum(x, axis=0)), x)
    want = reference(lambda x: (jnp.exp(x), jnp.sum(x, axis=0)), x)
    for g, w in zip(got, want):
        assert_close(g, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_long_reduction_splits_into_chunks(dtype):
    x = (np.arange(1 << 17) % 7 - 3).astype(dtype).reshape(2, 1 << 16)
    f = lambda x: (jnp.sum(x, axis=1), jnp.max(x, axis=1) * 2)  # noqa: E731
    got, steps, launches = run_fused(f, x)
    kernel = fused.FusedRunner(steps[0]).kernel
    assert len(steps) == 1 and len(kernel.entries) == 2 and launches == 2 and kernel.scratch
    for g, w in zip(got, reference(f, x)):
        assert_close(g, w)


def test_column_reduction_runs_one_thread_per_output():
    x = np.random.default_rng(1).standard_normal((70, 3000)).astype(np.float32)
    f = lambda x: jnp.sum(x * 2.0, axis=0)  # noqa: E731
    got, steps, _ = run_fused(f, x)
    assert "plax_block_reduce" not in fused.FusedRunner(steps[0]).kernel.body
    assert_close(got[0], reference(f, x)[0])


def test_donated_output_buffer_is_written_in_place():
    _, steps = plan_of(lambda x: jnp.exp(x) + 1.0, X)
    runner = fused.FusedRunner(steps[0])
    x, buf = to_device(X), to_device(np.zeros_like(X))
    out = runner([x], outs=[buf])[0]
    assert out is buf
    assert_close(to_host(buf), np.exp(X) + 1.0)
    assert runner([x], outs=[x])[0] is not x  # an input is never overwritten while read


def test_indexing_is_64_bit_past_two_to_the_31():
    big = plax.ShapeDtypeStruct((3, 1 << 30), np.int8)
    kernel = kernels_of(lambda x: x + np.int8(1), big)[0]
    assert "for (long long i" in kernel.body


def test_argmax_fuses_with_its_producers_nan_and_ties_first():
    x = np.random.default_rng(2).integers(-3, 4, (50, 300)).astype(np.float32)
    x[3, 7] = x[3, 250] = np.nan
    x[4, :] = -np.inf
    f = lambda x: (jnp.argmax(jnp.abs(x) * 2.0, axis=1), jnp.argmin(x, axis=0))  # noqa: E731
    got, steps, launches = run_fused(f, x)
    assert launches == 2  # one kernel per reduction space
    for g, w in zip(got, reference(f, x)):
        np.testing.assert_array_equal(g, w)


def test_long_chain_generates_without_deep_recursion():
    def f(x):
        for _ in range(700):
            x = jnp.sin(x) + 0.5
        return x
    x = np.linspace(-1, 1, 10, dtype=np.float32)
    got, steps, launches = run_fused(f, x)
    assert launches == 1
    assert_close(got[0], reference(f, x)[0])


def _relu2_and_sum(x, axis):
    y = jnp.where(x > 0, x * 2.0, 0.0)
    return y, jnp.sum(y, axis=axis), jnp.max(y, axis=axis) - 1.0


@pytest.mark.parametrize("axis", [0, 1])
def test_reduction_absorbs_the_loop_it_reads(axis):
    # an elementwise result written for a later step, and its reduction: one kernel
    f = lambda x: _relu2_and_sum(x, axis)  # noqa: E731
    got, steps, launches = run_fused(f, X)
    assert launches == 1 and steps[0].pre_roots and len(steps[0].out_vars) == 3
    for g, w in zip(got, reference(f, X)):
        assert_close(g, w)


def _layer_norm(x):
    mu = jnp.mean(x, axis=1, keepdims=True)
    return (x - mu) / jnp.sqrt(jnp.var(x, axis=1, keepdims=True) + 1e-5)


EMULATED = {
    "chain": (chain20, np.float32, (40, 33)),
    "softmax_rows": (lambda x: nn.softmax(x, axis=1), np.float32, (7, 300)),
    "log_softmax_cols": (lambda x: nn.log_softmax(x, axis=0), np.float32, (300, 5)),
    "column_sum": (lambda x: jnp.sum(x, axis=0), np.float32, (70, 3000)),
    "split_sum_max": (lambda x: (jnp.sum(x, axis=1), jnp.max(x, axis=1)), np.float32,
                      (2, 1 << 16)),
    "argmax_rows": (lambda x: jnp.argmax(x, axis=1), np.float32, (5, 500)),
    "f16_sum": (lambda x: jnp.sum(x, axis=1), np.float16, (3, 700)),
    "int_sum_prod": (lambda x: (jnp.sum(x, axis=1), jnp.prod(x[:, :9], axis=1)), np.int32,
                     (4, 200)),
    "layer_norm": (_layer_norm, np.float32, (6, 130)),
    "absorbed_loop_rows": (lambda x: _relu2_and_sum(x, 1), np.float32, (5, 300)),
    "absorbed_loop_cols": (lambda x: _relu2_and_sum(x, 0), np.float32, (300, 5)),
}


def _emulated_input(name):
    _, dtype, shape = EMULATED[name]
    rng = np.random.default_rng(3)
    return (rng.integers(-3, 4, shape) if np.dtype(dtype).kind == "i"
            else rng.standard_normal(shape)).astype(dtype)


@pytest.fixture(scope="module")
def emulated():
    """Every EMULATED program's kernels as 3 blocks of 64 threads, built by one g++ call."""
    kernels = [k for name, (f, _, _) in EMULATED.items()
               for k in kernels_of(f, _emulated_input(name))]
    return compiler.build_emulated(kernels, 3, 64)


@pytest.mark.parametrize("name", list(EMULATED))
def test_gpu_thread_code_paths_under_emulation(emulated, name):
    """The kernels' multi-thread paths (grid-stride and block-strided loops, block reductions,
    thread-0 stores, row passes, split reductions) run as 3 blocks of 64 POSIX threads with
    real barriers, as on a GPU, and match the reference."""
    f = EMULATED[name][0]
    x = _emulated_input(name)
    got, steps, _ = run_fused(f, x, functions=emulated)
    for g, w in zip(got, reference(f, x)):
        assert_close(g, w)


_RANDOM_OPS = [
    lambda rnd, a, same: jnp.exp(-jnp.abs(a)),
    lambda rnd, a, same: a * rnd.choice(same) + 1.0,
    lambda rnd, a, same: jnp.sum(a, axis=rnd.choice([0, 1]), keepdims=True) * 0.1,
    lambda rnd, a, same: jnp.max(a, axis=rnd.choice([0, 1]), keepdims=True),
    lambda rnd, a, same: a - jnp.mean(a, axis=1, keepdims=True),
    lambda rnd, a, same: a.T,
    lambda rnd, a, same: a[::-1],
    lambda rnd, a, same: jnp.pad(a, ((1, 0), (0, 2)))[1:, :-2],
    lambda rnd, a, same: jnp.where(a > 0, rnd.choice(same), a * 2.0),
    lambda rnd, a, same: a + jnp.sum(a, axis=0, keepdims=True),
    lambda rnd, a, same: jnp.sin(a).reshape(-1).reshape(a.shape[::-1]),
    lambda rnd, a, same: jnp.concatenate([a, a * 0.5], axis=0)[: a.shape[0]],
]


def _random_program(seed):
    """A random composition of elementwise ops, reductions broadcast back, transposes,
    reversals, pads, reshapes and concatenations over two 2-D inputs (the planner's index
    signatures, row/pre-roots and passes meet in arbitrary ways)."""
    def f(x, y):
        rnd = random.Random(seed)
        pool = [x, y, jnp.tanh(x)]
        for _ in range(rnd.randint(3, 12)):
            a = rnd.choice(pool)
            same = [p for p in pool if p.shape == a.shape]
            pool.append(rnd.choice(_RANDOM_OPS)(rnd, a, same))
        return rnd.sample(pool[2:], min(len(pool) - 2, rnd.randint(1, 3)))
    shape = [(7, 5), (33, 64), (130, 3), (1, 9)][seed % 4]
    rng = np.random.default_rng(seed)
    return (f, rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape).astype(np.float32))


RANDOM_SEEDS = range(24)


@pytest.fixture(scope="module")
def random_programs():
    progs = [_random_program(s) for s in RANDOM_SEEDS]
    kernels = [k for f, x, y in progs for k in kernels_of(f, x, y)]
    fused.build_kernels(kernels)
    return progs, compiler.build_emulated(kernels, 3, 64)


@pytest.mark.parametrize("emulate", [False, True], ids=["host", "emulated-threads"])
def test_random_programs_match_reference(random_programs, emulate):
    progs, emulated = random_programs
    for seed, (f, x, y) in zip(RANDOM_SEEDS, progs):
        got, _, _ = run_fused(f, x, y, functions=emulated if emulate else None)
        for g, w in zip(got, reference(f, x, y), strict=True):
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5, err_msg=f"seed {seed}")


@pytest.mark.parametrize("start", [1, -5, 100])
def test_dynamic_slice_fuses_with_clamped_starts(start):
    def f(x, i):
        y = lax.dynamic_slice(jnp.exp(x), (i, jnp.int32(2)), (3, 4)) * 2.0
        return y, lax.dynamic_slice(x, (i, jnp.int32(0)), (2, 33)).sum(axis=1)
    i = np.int32(start)
    got, steps, launches = run_fused(f, X, i)
    assert all(isinstance(s, planner.FusedGroup) for s in steps) and launches == 2
    for g, w in zip(got, reference(f, X, i)):
        assert_close(g, w)


def test_reduction_over_an_extent_of_one_then_reads_after_its_loop():
    # argmax over one element, then a dynamic_slice of another size-1 array in the epilogue:
    # the constant index 0 was tied to the reduction loop's `r`, read after the loop closed
    # (found by checkify's index checks, which build exactly this program)
    def f(b, h):
        return lax.dynamic_slice(h, (jnp.argmax(b),), (1,)).reshape(()) + h[0]
    b, h = np.array([True]), np.array([5], np.int32)
    got, steps, _ = run_fused(f, b, h)
    assert_close(got[0], reference(f, b, h)[0])
