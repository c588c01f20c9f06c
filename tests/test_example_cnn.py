"""examples/cnn_digits.py (two convolutions, max-pool, dense) trains to >= 97% test accuracy on
every installed backend, and the parameters one backend trained give the same logits on the
reference backend."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np

import plax

from conftest import assert_close, installed_backends

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "cnn_digits.py"


def _run(backend: str, out: pathlib.Path) -> str:
    env = dict(os.environ, PLAX_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(out)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _example_module():
    spec = importlib.util.spec_from_file_location("cnn_digits", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cnn_example_on_every_backend(tmp_path):
    accs, saved = {}, {}
    for backend in installed_backends():
        saved[backend] = tmp_path / f"{backend}.npz"
        out = _run(backend, saved[backend])
        losses = [float(x) for x in re.findall(r"loss ([0-9.]+)", out)]
        assert losses[-1] < losses[0] / 10, losses
        accs[backend] = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert all(a >= 0.97 for a in accs.values()), accs
    assert max(accs.values()) - min(accs.values()) <= 0.01, accs

    # each backend's trained parameters, evaluated on the reference backend
    mod = _example_module()
    _, x_te, _, _ = mod.data()
    treedef = plax.tree_util.tree_structure(mod.init(plax.random.PRNGKey(0)))
    for path in saved.values():
        z = np.load(path)
        leaves = [z[f"p{i}"] for i in range(treedef.num_leaves)]
        params = plax.tree_util.tree_unflatten(treedef, leaves)
        with plax.default_backend("reference"):
            logits = mod.forward(params, x_te)
        assert_close(logits, z["logits"], rtol=1e-4, atol=1e-4)
