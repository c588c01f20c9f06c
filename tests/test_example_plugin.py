"""The example plugin distribution (examples/plugin-softclip) installed fresh into an empty
site directory and its own test suite run there, in a new interpreter: the conformance kit over
its primitives, its numbers on every installed backend, `python -m plax info` listing it."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin-softclip"


def _install(site: pathlib.Path) -> str:
    """Install the example into `site`: with pip when it can build offline, else laid out as
    pip lays out a wheel (the package, and a dist-info with the pyproject's entry points)."""
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(site),
                        str(EXAMPLE)], capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        return "pip"
    if tomllib is None:
        pytest.skip("pip cannot build the example here and tomllib (3.11+) is missing")
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copytree(EXAMPLE / "src" / "plax_softclip", site / "plax_softclip")
    info = site / f"plax_softclip-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                   f"Version: {meta['version']}\n")
    eps = meta["entry-points"]["plax.plugins"]
    (info / "entry_points.txt").write_text(
        "[plax.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return "layout"


def test_example_plugin_installs_and_passes_its_own_tests(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    how = _install(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    env["PYTHONPATH"] = str(site)
    tests = tmp_path / "tests"  # the tests run from a copy: nothing found beside the source
    shutil.copytree(EXAMPLE / "tests", tests)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:xdist", "-p", "no:randomly", str(tests)], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"({how} install)\n{r.stdout}\n{r.stderr}"
    assert " passed" in r.stdout and "skipped" not in r.stdout.splitlines()[-1], r.stdout
    r = subprocess.run([sys.executable, "-m", "plax", "info", "--plugin", "softclip"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "plax-softclip:softclip.mirror" in r.stdout and "transpose=1" in r.stdout
