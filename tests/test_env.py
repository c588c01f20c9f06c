"""The environment a JAX user would set is honoured: XLA_FLAGS' host device count,
PLAX_ENABLE_X64, PLAX_PLATFORMS (as JAX_PLATFORMS); and the README's configuration table lists
every option with its environment variable (each checked in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

import plax

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_json(code: str, **env_extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAX_", "XLA_FLAGS", "JAX_"))}
    env.update(env_extra)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


DEVICES = '''
    import json, plax, plax.numpy as jnp, plax.lax as lax
    n = len(plax.devices("xla"))
    out = plax.pmap(lambda a: lax.psum(a, "i"), axis_name="i")(jnp.arange(float(n)))
    print(json.dumps([n, plax.config.xla_cpu_devices, [float(v) for v in out]]))
'''


def test_xla_flags_host_device_count_gives_that_many_cpu_devices():
    n, opt, out = run_json(DEVICES, XLA_FLAGS="--xla_cpu_enable_fast_math=false "
                                              "--xla_force_host_platform_device_count=3")
    assert n == 3 and opt == 3 and out == [3.0, 3.0, 3.0]


def test_plax_cpu_devices_is_stronger_than_xla_flags():
    n, opt, _ = run_json(DEVICES, XLA_FLAGS="--xla_force_host_platform_device_count=4",
                         PLAX_XLA_CPU_DEVICES="2")
    assert n == 2 and opt == 2


def test_without_either_one_device():
    n, _, out = run_json(DEVICES)
    assert n == 1 and out == [0.0]


def test_enable_x64_from_the_environment():
    code = '''
        import json, plax, plax.numpy as jnp
        print(json.dumps([plax.config.enable_x64, str(jnp.arange(3.0).dtype),
                          str(jnp.asarray(1).dtype)]))
    '''
    assert run_json(code, PLAX_ENABLE_X64="1") == [True, "float64", "int64"]
    assert run_json(code, PLAX_ENABLE_X64="0") == [False, "float32", "int32"]
    assert run_json(code) == [False, "float32", "int32"]


PLATFORM = '''
    import json, plax
    try:
        r = [plax.default_backend(), plax.devices()[0].platform]
    except Exception as e:
        r = [type(e).__name__, str(e)]
    print(json.dumps(r))
'''


@pytest.mark.parametrize("value,expected", [
    ("reference", ["reference", "cpu"]), ("cpu", ["xla", "cpu"]), ("xla", ["xla", "cpu"]),
    ("reference,xla", ["reference", "cpu"]), ("cpu,reference", ["xla", "cpu"])])
def test_platforms_pick_the_default_backend(value, expected):
    assert run_json(PLATFORM, PLAX_PLATFORMS=value) == expected


def test_platforms_none_starting_is_an_error_naming_them():
    name, msg = run_json(PLATFORM, PLAX_PLATFORMS="tpu9,nope")
    assert name == "BackendUnavailableError" and "tpu9, nope" in msg and "PLAX_PLATFORMS" in msg


def test_platforms_option_validated():
    with pytest.raises(TypeError, match="platforms"):
        plax.config.update("platforms", 3)


def _readme_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, re.M)
    return {name: env for name, env in rows}


def test_readme_lists_every_option_with_its_environment_variable():
    from plax._src import registry
    registry.ensure_plugins_loaded()  # plugins define options too
    # (not the options plax.make_user_context defines: a test in this process may have made one)
    options = {n: o for n, o in plax.config._options.items()
               if not n.startswith("user_context_")}
    table = _readme_table()
    assert set(table) == set(options), (sorted(set(options) - set(table)),
                                        sorted(set(table) - set(options)))
    for name, opt in options.items():
        assert f"`{opt.env}`" in table[name], (name, opt.env, table[name])
