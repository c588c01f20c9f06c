"""The xla backend's persistent compilation cache: a second process (jit and pmap) loads the
executable instead of compiling it, a damaged entry is compiled again and replaced, entries for
other compile options or another jaxlib are never shared, the option, its environment variable and
its older name all work, and plax.clear_caches() leaves the disk alone. Counts, never timings."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import plax
import plax.lax as lax
from plax.extend import registry

SCRIPT = '''
import json, numpy as np, plax, plax.lax as lax
from plax.extend import registry
stats = registry.get_backend("xla").stats
y = plax.jit(lambda a: lax.cumsum(lax.exp(a)))(np.arange(5, dtype=np.float32))
after_jit = dict(stats)
x = np.arange(8, dtype=np.float32).reshape(4, 2)
z = plax.pmap(lambda v: lax.psum(lax.mul(v, v), "i"), axis_name="i")(x)
after_pmap = dict(stats)
print(json.dumps({"jit": after_jit, "pmap": {k: after_pmap.get(k, 0) - after_jit.get(k, 0)
                                             for k in after_pmap},
                  "y": np.asarray(y).tolist(), "z": np.asarray(z).tolist()}))
'''


def run(**env) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    full.update(TF_CPP_MIN_LOG_LEVEL="2", PLAX_BACKEND="xla", PLAX_XLA_CPU_DEVICES="4", **env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], env=full,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def entries(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("env_name", ["PLAX_COMPILATION_CACHE_DIR", "PLAX_XLA_CACHE_DIR"])
def test_second_process_loads_jit_and_pmap_programs(tmp_path, env_name):
    first = run(**{env_name: str(tmp_path)})
    assert first["jit"].get("compiles") == 1 and not first["jit"].get("cache_hits")
    assert first["pmap"].get("compiles", 0) >= 1 and not first["pmap"].get("cache_hits")
    written = entries(tmp_path)
    assert len(written) == first["jit"]["compiles"] + first["pmap"]["compiles"]
    for p in written:  # private: executables are native code
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700
    second = run(**{env_name: str(tmp_path)})
    assert second["jit"].get("cache_hits") == 1 and not second["jit"].get("compiles")
    assert second["pmap"].get("cache_hits") == first["pmap"]["compiles"]
    assert not second["pmap"].get("compiles")
    assert second["y"] == first["y"] and second["z"] == first["z"]
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_allclose(first["z"], np.broadcast_to((x * x).sum(0), (4, 2)))
    assert entries(tmp_path) == written  # nothing new written by the second process


def test_cache_is_off_by_default():
    out = run()
    assert out["jit"].get("compiles") == 1 and not out["jit"].get("cache_hits")


# --- in this process ----------------------------------------------------------------------------

@pytest.fixture
def xla():
    with plax.default_backend("xla"):
        yield registry.get_backend("xla")


@pytest.fixture
def cache_dir(tmp_path):
    plax.config.update("compilation_cache_dir", str(tmp_path))
    try:
        yield tmp_path
    finally:
        plax.config.reset("compilation_cache_dir")


def program(seed: float):
    """A fresh jitted function each call (nothing cached in memory), the same program for the
    same `seed`."""
    return plax.jit(lambda a: lax.mul(lax.sin(a), np.float32(seed)))


X = np.linspace(-1, 1, 7).astype(np.float32)


def count(xla, fn):
    before = dict(xla.stats)
    out = np.asarray(fn(X))
    delta = {k: xla.stats.get(k, 0) - before.get(k, 0) for k in ("compiles", "cache_hits")}
    np.testing.assert_allclose(out, np.sin(X) * np.float32(out[-1] / np.sin(X[-1])), rtol=1e-6)
    return delta, out


def test_option_and_alias_in_process(xla, tmp_path):
    for name in ("compilation_cache_dir", "jax_compilation_cache_dir", "xla_cache_dir"):
        root = tmp_path / name
        plax.config.update(name, root)  # a path object is accepted
        try:
            assert count(xla, program(1.5))[0] == {"compiles": 1, "cache_hits": 0}
            assert len(entries(root)) == 1
            assert count(xla, program(1.5))[0] == {"compiles": 0, "cache_hits": 1}
        finally:
            plax.config.reset(name)
    assert count(xla, program(1.5))[0] == {"compiles": 1, "cache_hits": 0}  # off again
    with pytest.raises(TypeError, match="compilation_cache_dir"):
        plax.config.update("compilation_cache_dir", 3)


@pytest.mark.parametrize("damage", ["truncate", "flip_payload", "flip_key", "flip_hash",
                                    "foreign", "empty"])
def test_damaged_entry_is_recompiled_and_replaced(xla, cache_dir, damage):
    _, expected = count(xla, program(2.0))
    (entry,) = entries(cache_dir)
    good = entry.read_bytes()
    bad = {"truncate": good[: len(good) // 2],
           "flip_payload": good[:-10] + bytes(b ^ 0xFF for b in good[-10:]),
           "flip_key": good[:20] + bytes([good[20] ^ 0x01]) + good[21:],
           "flip_hash": good[:60] + bytes([good[60] ^ 0x01]) + good[61:],
           "foreign": b"not an executable",
           "empty": b""}[damage]
    entry.write_bytes(bad)
    delta, out = count(xla, program(2.0))
    assert delta == {"compiles": 1, "cache_hits": 0}
    np.testing.assert_array_equal(out, expected)
    assert entries(cache_dir) == [entry] and entry.read_bytes() != bad  # replaced in full:
    assert count(xla, program(2.0))[0] == {"compiles": 0, "cache_hits": 1}  # it loads


def test_another_jaxlib_never_shares_an_entry(xla, cache_dir, monkeypatch):
    from plax_xla import _jaxlib as jl
    assert count(xla, program(3.0))[0] == {"compiles": 1, "cache_hits": 0}
    monkeypatch.setattr(jl, "describe_environment", lambda: "jaxlib 0.0.1-other")
    assert count(xla, program(3.0))[0] == {"compiles": 1, "cache_hits": 0}
    assert len(entries(cache_dir)) == 2
    assert count(xla, program(3.0))[0] == {"compiles": 0, "cache_hits": 1}
    monkeypatch.undo()
    assert count(xla, program(3.0))[0] == {"compiles": 0, "cache_hits": 1}


def test_other_compile_options_never_share_an_entry(xla, cache_dir, monkeypatch):
    from plax_xla import _jaxlib as jl
    assert count(xla, program(4.0))[0] == {"compiles": 1, "cache_hits": 0}
    plain = jl._options

    def with_profile_version(devices, num_replicas):
        opts = plain(devices, num_replicas)
        opts.profile_version = 7  # any option passed to the compiler is part of the key
        return opts

    monkeypatch.setattr(jl, "_options", with_profile_version)
    assert count(xla, program(4.0))[0] == {"compiles": 1, "cache_hits": 0}
    assert len(entries(cache_dir)) == 2
    monkeypatch.undo()
    assert count(xla, program(4.0))[0] == {"compiles": 0, "cache_hits": 1}


def test_key_covers_replicas_devices_and_program(xla):
    from plax_xla import compile_cache
    dev = xla.native_device(None)
    text = xla.lower_text(plax.make_jaxpr(lambda a: lax.sin(a))(X))
    base = compile_cache.key(xla._client, xla.platform, text, [dev], 1)
    assert base == compile_cache.key(xla._client, xla.platform, text, [dev], 1)
    assert base != compile_cache.key(xla._client, xla.platform, text, [dev], 2)
    assert base != compile_cache.key(xla._client, xla.platform, text + " ", [dev], 1)
    assert base != compile_cache.key(xla._client, "other", text, [dev], 1)


def test_clear_caches_leaves_the_disk_cache(xla, cache_dir):
    fn = program(5.0)
    assert count(xla, fn)[0] == {"compiles": 1, "cache_hits": 0}
    assert count(xla, fn)[0] == {"compiles": 0, "cache_hits": 0}  # in memory
    written = entries(cache_dir)
    plax.clear_caches()
    assert entries(cache_dir) == written
    assert count(xla, fn)[0] == {"compiles": 0, "cache_hits": 1}
