"""Configuration: environment variables, plax.config.update, context managers, and what the options
do (backend choice, 64-bit dtypes, debug_nans)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import plax
import plax.lax as lax
from plax._src import registry


def run_json(code: str, **env_extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    env.update(env_extra)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


READ_ALL = '''
    import json
    import plax
    from plax._src import registry
    print(json.dumps(dict(plax.config.values(), backend_now=plax.default_backend(),
                          names=registry.backend_names(),
                          dtype=str(plax.lax.add(1.0, 2.0).dtype))))
'''


def test_defaults_from_a_clean_environment():
    out = run_json(READ_ALL)
    # no choice made: the highest-priority backend that initialises
    assert out["backend"] is None and out["backend_now"] in out["names"]
    assert "reference" in out["names"]
    assert out["enable_x64"] is False and out["debug_nans"] is False
    assert out["disable_jit"] is False and out["plugins"] is None
    assert out["dtype"] == "float32"


def test_options_from_environment_variables():
    out = run_json(READ_ALL, PLAX_BACKEND="reference", PLAX_ENABLE_X64="1",
                   PLAX_DEBUG_NANS="true", PLAX_DISABLE_JIT="yes", PLAX_PLUGINS="a, b")
    assert out["backend"] == "reference" and out["backend_now"] == "reference"
    assert out["enable_x64"] is True and out["dtype"] == "float64"
    assert out["debug_nans"] is True and out["disable_jit"] is True
    assert out["plugins"] == ["a", "b"]
    out = run_json(READ_ALL, PLAX_ENABLE_X64="off", PLAX_DEBUG_NANS="0")
    assert out["enable_x64"] is False and out["debug_nans"] is False


def test_bad_environment_values_are_errors_naming_the_variable():
    code = '''
        import json, plax
        errs = {}
        for name in ("enable_x64", "backend"):
            try:
                getattr(plax.config, name)
                plax.default_backend()
                errs[name] = None
            except Exception as e:
                errs[name] = f"{type(e).__name__}: {e}"
        print(json.dumps(errs))
    '''
    out = run_json(code, PLAX_ENABLE_X64="maybe", PLAX_BACKEND="no-such-backend")
    assert out["enable_x64"].startswith("ValueError") and "PLAX_ENABLE_X64='maybe'" in out[
        "enable_x64"]
    # an unknown backend is an error listing the installed ones
    assert "BackendUnavailableError" in out["backend"] and "no-such-backend" in out["backend"]
    assert "installed backends:" in out["backend"] and "reference" in out["backend"]


def test_update_env_and_override_precedence(monkeypatch):
    cfg = plax.config
    try:
        cfg.update("jax_debug_nans", True)  # JAX-style names are accepted
        assert cfg.debug_nans is True
        with plax.debug_nans(False):
            assert cfg.debug_nans is False  # the context manager beats update
            with plax.debug_nans():
                assert cfg.debug_nans is True
            assert cfg.debug_nans is False
        assert cfg.debug_nans is True
        cfg.reset("debug_nans")
        assert cfg.debug_nans is False
        monkeypatch.setenv("PLAX_DISABLE_JIT", "1")
        cfg.reset("disable_jit")  # forget cached values: the environment applies again
        assert cfg.disable_jit is True
        cfg.update("disable_jit", False)
        assert cfg.disable_jit is False  # update beats the environment
        with plax.disable_jit():
            assert cfg.disable_jit is True
    finally:
        cfg.reset("debug_nans")
        monkeypatch.delenv("PLAX_DISABLE_JIT")
        cfg.reset("disable_jit")
    assert cfg.disable_jit is False and cfg.debug_nans is False


def test_bad_updates_are_errors():
    with pytest.raises(AttributeError, match="no option 'no_such_option'.*enable_x64"):
        plax.config.update("no_such_option", 1)
    with pytest.raises(AttributeError, match="no option"):
        _ = plax.config.no_such_option
    with pytest.raises(TypeError, match="'enable_x64' takes a bool"):
        plax.config.update("enable_x64", "yes")
    with pytest.raises(plax.BackendUnavailableError, match="installed backends: .*reference"):
        plax.config.update("backend", "no-such-backend")
    with pytest.raises(plax.BackendUnavailableError, match="no-such-backend.*reference"):
        with plax.default_backend("no-such-backend"):
            pass
    with pytest.raises(AttributeError, match="config.update"):
        plax.config.enable_x64 = True
    assert plax.config.backend is None and plax.config.enable_x64 is False


def test_backend_selection():
    assert plax.default_backend() in registry.backend_names()
    with plax.default_backend("reference"):
        assert plax.config.backend == "reference"
        assert lax.add(1.0, 2.0).backend == "reference"
    assert plax.config.backend is None
    try:
        plax.config.update("backend", "reference")
        assert plax.default_backend() == "reference" and plax.config.backend == "reference"
    finally:
        plax.config.reset("backend")
    assert "backend=None" in repr(plax.config)


def test_enable_x64_changes_default_dtypes():
    x = lax.add(np.float64(1.5), 1.0)
    assert x.dtype == np.float32 and np.asarray(x) == 2.5
    with plax.enable_x64():
        assert plax.config.enable_x64 is True
        y = lax.add(np.float64(1.5), 1.0)
        assert y.dtype == np.float64
        assert lax.mul(np.int64(2**40), 2).dtype == np.int64
        assert int(lax.mul(np.int64(2**40), 2)) == 2**41
        j = plax.make_jaxpr(lambda a: lax.add(a, 1.0))(np.float64(1))
        assert str(j) == "{ lambda ; a:f64[]. let b:f64[] = add a 1.0:f64[] in (b,) }"
        with plax.enable_x64(False):
            assert lax.add(np.float64(1), 1.0).dtype == np.float32
    # an x64 value keeps its dtype after the block, as in JAX
    assert y.dtype == np.float64 and lax.add(1.0, 2.0).dtype == np.float32
    try:
        plax.config.update("jax_enable_x64", True)
        assert lax.add(1.0, 2.0).dtype == np.float64
    finally:
        plax.config.reset("enable_x64")
    assert lax.add(1.0, 2.0).dtype == np.float32


def test_overrides_are_thread_local():
    seen = {}

    def worker():
        seen["x64"] = plax.config.enable_x64
        seen["dtype"] = lax.add(1.0, 2.0).dtype

    with plax.enable_x64():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == {"x64": False, "dtype": np.float32}


def test_debug_nans_raises_naming_the_primitive():
    assert np.isnan(np.asarray(lax.log(-1.0)))  # off by default: NaN comes back quietly
    with plax.debug_nans():
        with pytest.raises(FloatingPointError, match="'log'"):
            lax.log(-1.0)
        with pytest.raises(FloatingPointError, match="'div'.*f32\\[2\\]"):
            lax.div(np.zeros(2, np.float32), np.zeros(2, np.float32))
        assert float(lax.log(1.0)) == 0.0
        assert int(lax.div(np.int32(1), np.int32(0))) in (-1, 0, 1, 2**31 - 1)  # ints: no NaN
        # tracing records the program; nothing runs, so nothing to check
        j = plax.make_jaxpr(lax.log)(-1.0)
        assert "log" in str(j)
    try:
        plax.config.update("debug_nans", True)
        with pytest.raises(FloatingPointError, match="'sqrt'"):
            lax.sqrt(np.float32(-1))
    finally:
        plax.config.reset("debug_nans")


def test_derived_any_checks_follows_its_options():
    """Eager dispatch reads one derived value for checks, check_rules and debug_nans; it
    follows update, reset and overrides, per thread, and the NaN check still fires."""
    cfg = plax.config
    with cfg.override("check_rules", False), cfg.override("checks", False), \
            cfg.override("debug_nans", False):
        assert cfg.any_checks is False
        seen = []
        with cfg.override("debug_nans", True):
            assert cfg.any_checks is True
            with pytest.raises(FloatingPointError, match="'log'"):
                lax.log(-1.0)
            t = threading.Thread(target=lambda: seen.append(cfg.any_checks))
            t.start()
            t.join()
        assert cfg.any_checks is False and np.isnan(np.asarray(lax.log(-1.0)))
    assert seen == [cfg.checks or cfg.check_rules or cfg.debug_nans]  # that thread's own
    with pytest.raises(AttributeError, match="no option 'any_checks'"):
        cfg.update("any_checks", True)


def test_config_change_listener_drops_cached_default_backend():
    calls = []
    plax.config.on_change(calls.append)
    try:
        name = plax.default_backend()
        assert registry._default_cache[None].name == name == registry.backend_names()[0]
        with plax.default_backend("reference"):
            pass
    finally:
        plax.config._listeners.remove(calls.append)
    assert calls == ["backend", "backend"]
    assert registry._default_cache == {}  # chosen again on next use, under the new config


def test_backend_overrides_are_per_thread_on_the_hot_paths():
    # eager dispatch and a cached jitted call read this thread's `with default_backend(...)`
    # directly: another thread's override must not leak in, nor this one's out
    import threading
    f = plax.jit(lambda v: v + 1)
    x = plax.numpy.ones(2)
    f(x)
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        with plax.default_backend("reference"):
            entered.set()
            release.wait(10)
            seen["worker"] = ((x + 1).backend, f(x).backend)

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(10)
    seen["main"] = ((x + 1).backend, f(x).backend)  # while the worker's override is active
    release.set()
    t.join(10)
    default = plax.default_backend()
    assert seen["main"] == (default, default)
    assert seen["worker"] == ("reference", "reference")
