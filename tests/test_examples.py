"""The examples run end to end on every installed backend (README's first command runs talk.py)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import installed_backends

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run_example(name: str, backend: str) -> str:
    env = dict(os.environ, PLAX_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize("backend", installed_backends())
def test_talk_example(backend):
    out = run_example("talk.py", backend)
    assert f"backend: {backend}" in out
    assert "training step: eager" in out and "ms, jit" in out
    first = float(re.search(r"^loss: ([0-9.]+)", out, re.M).group(1))
    last = float(re.search(r"loss after 200 jitted steps: ([0-9.]+)", out).group(1))
    assert last < first / 5, (first, last)
    assert "per-example gradient of the first layer: (128, 4, 32)" in out
    assert "pmap over" in out
    assert "b:f32[] = log a\n    c:f32[] = log 2.0:f32[]\n    d:f32[] = div b c" in out


def test_digits_example_same_accuracy_on_every_backend():
    accs = {}
    for backend in installed_backends():
        out = run_example("digits_mlp.py", backend)
        losses = [float(x) for x in re.findall(r"loss ([0-9.]+)", out)]
        assert losses[-1] < losses[0] / 10, losses
        accs[backend] = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert all(a >= 0.95 for a in accs.values()), accs
    assert max(accs.values()) - min(accs.values()) <= 0.01, accs
