"""The JAX compatibility harness (tests/jax_examples) as part of the suite: every JAX-style
program runs unmodified on plax through the `jax` name shim and, where JAX is installed,
agrees with JAX (results, weak types, printed output); the VAE training script's first epoch
compiles the programs it should, no more than JAX compiles for it."""

from __future__ import annotations

import collections
import pathlib
import sys

import pytest

from conftest import HAVE_JAX

sys.path.insert(0, str(pathlib.Path(__file__).parent / "jax_examples"))
import harness  # noqa: E402


@pytest.fixture(scope="module")
def summaries():
    """Every program run once on plax and once on JAX (one process each, as CI can afford);
    without JAX, on plax alone."""
    return harness.check_all(harness.program_names())


@pytest.mark.parametrize("program", harness.program_names())
def test_program_agrees_with_jax(summaries, program):
    summary = summaries[program]
    assert not summary["differences"], "\n".join(summary["differences"])


# What plax's XLA backend compiles for mnist_vae.py up to the end of its first epoch, and why
# (with every cache cold: the program runs first in its process):
#   mul 8, broadcast_in_dim 8: eager ops in the stax initializers (a scale times a sample, a
#     bias filled) and the optimizer's zeros_like, one program per distinct shape
#   sqrt 1, div 1: the initializers' eager fan-in arithmetic
#   jit 12: 8 random samplers (5 truncated_normal weight shapes, 3 normal bias shapes; as JAX,
#     each sampler is one compiled program per shape), the key's seed and split (one
#     each), run_epoch and evaluate (one each: the fori_loop epoch is one program)
# JAX compiles the same, plus `unstack` (iterating over a split key) and a
# convert_element_type: 33 programs against plax's 30.
VAE_FIRST_EPOCH = {"jit": 12, "mul": 8, "broadcast_in_dim": 8, "sqrt": 1, "div": 1}


def test_vae_first_epoch_compile_count(summaries):
    # read from the module's two processes, where mnist_vae runs first (harness.COLD_FIRST):
    # its first epoch compiles as in a fresh process
    summary = summaries["mnist_vae"]
    mine = summary["plax_first_epoch"]
    assert collections.Counter(mine) == VAE_FIRST_EPOCH
    if HAVE_JAX:
        theirs = summary["jax_first_epoch"]
        assert len(mine) <= len(theirs), (mine, theirs)
