"""Security: nothing under packages/ unpickles, evals or execs data (an AST scan for pickle,
marshal, shelve, eval/exec/compile, yaml.load, np.load(allow_pickle=True), ...); the xla
backend's executable cache (native code) is written atomically with private permissions, and a
truncated, corrupted or foreign entry is recompiled, never loaded."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import stat
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                  "joblib", "yaml"}
BANNED_CALLS = {"eval", "exec", "compile", "__import__"}


def findings(path: pathlib.Path, root: pathlib.Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [f"{where} imports {a.name}" for a in node.names
                    if a.name.split(".")[0] in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in BANNED_MODULES:
                out.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else (
                fn.attr if isinstance(fn, ast.Attribute) else None)
            static_import = name == "__import__" and node.args and isinstance(
                node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            if isinstance(fn, ast.Name) and name in BANNED_CALLS and not static_import:
                out.append(f"{where} calls {name}()")  # __import__("math"): a static import
            for kw in node.keywords:  # np.load(..., allow_pickle=True) and the like
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant)
                                                     and kw.value.value is False):
                    out.append(f"{where} passes allow_pickle")
            if isinstance(fn, ast.Attribute) and name in ("loads", "load") and isinstance(
                    fn.value, ast.Name) and fn.value.id in BANNED_MODULES:
                out.append(f"{where} calls {fn.value.id}.{name}")
    return out


def package_sources() -> list[pathlib.Path]:
    return sorted(p for p in (ROOT / "packages").rglob("*.py") if "__pycache__" not in p.parts)


def test_scanner_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("import pickle\nfrom marshal import loads\nx = eval('1')\n"
                   "import numpy as np\nnp.load('f', allow_pickle=True)\nexec('y = 1')\n"
                   "m = __import__(name)\nmath = __import__('math')\n")
    got = findings(bad, tmp_path)
    assert len(got) == 6, got


def test_no_package_module_deserializes_or_evaluates_data():
    sources = package_sources()
    assert len(sources) > 50  # the scan sees the whole tree
    problems = [f for p in sources for f in findings(p)]
    assert problems == [], "\n".join(problems)


CODE = '''
    import json, numpy as np, plax, plax.lax as lax
    from plax._src import registry
    y = plax.jit(lambda a: lax.cumsum(lax.exp(a)))(np.arange(5, dtype=np.float32))
    print(json.dumps({"stats": dict(registry.get_backend("xla").stats),
                      "y": np.asarray(y).tolist()}))
'''


def run(cache_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    env.update(PLAX_XLA_CACHE_DIR=str(cache_dir), PLAX_BACKEND="xla")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(CODE)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(os.name != "posix", reason="checks POSIX permission bits")
def test_executable_cache_is_private_and_validated(tmp_path):
    first = run(tmp_path)
    (entry,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert first["stats"].get("compiles") == 1
    good = entry.read_bytes()
    for damage in (good[: len(good) // 2],                       # truncated
                   good[:-10] + bytes(10),                      # corrupted payload
                   b"not an executable at all",                 # foreign file
                   good[:20] + bytes([good[20] ^ 0xFF]) + good[21:]):  # corrupted hash
        entry.write_bytes(damage)
        again = run(tmp_path)
        assert again["stats"].get("compiles") == 1 and not again["stats"].get("cache_hits")
        assert again["y"] == first["y"]
        assert entry.read_bytes() != damage  # rewritten with a valid entry
    hit = run(tmp_path)
    assert hit["stats"].get("cache_hits") == 1 and not hit["stats"].get("compiles")
    assert hit["y"] == first["y"]
