"""`import plax` imports no plugin and stays small: which modules a fresh interpreter loads is
asserted (counts, never a stopwatch: wall clock belongs in bench/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PLUGIN_MODULES = ("plax._src.backends.reference", "plax_transforms", "plax_xla", "plax_cupy")


def run(code: str, *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    r = subprocess.run([sys.executable, *flags, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def test_import_plax_loads_no_plugin():
    out = json.loads(run('''
        import json, sys
        import plax
        first = sorted(m for m in sys.modules if m.split(".")[0] in
                       ("plax_transforms", "plax_xla", "plax_cupy", "jax", "jaxlib", "pluggy"))
        ref_after_import = "plax._src.backends.reference" in sys.modules
        import plax.lax, plax.tree_util, plax.extend  # the core API does not load plugins either
        from plax.lax import add_p, psum_p  # (a from-import probes plax.lax.__path__)
        print(json.dumps(dict(first=first, ref=ref_after_import,
                              mods=[m for m in sys.modules if m.startswith("plax")],
                              loaded=plax._src.registry._loaded)))
    ''').stdout.splitlines()[-1])
    assert out["first"] == [] and out["ref"] is False
    assert not any(m.startswith(PLUGIN_MODULES) for m in out["mods"]), out["mods"]
    assert out["loaded"] is False


def test_a_plugin_module_imported_first_leaves_its_plugin_whole():
    # a backend's own module imported before anything else: its `from plax.lax import ...`
    # must not load the plugins while that module is half-built (the plugin's registration
    # reads it), else the backend is skipped with a "partially initialized module" warning
    out = run('''
        import warnings
        warnings.simplefilter("error")
        import plax_xla.lower_calls, plax_transforms.collectives
        import numpy as np
        import plax
        print(plax.jit(lambda x: x * 2, backend="xla")(np.ones(3)).tolist())
    ''').stdout.splitlines()[-1]
    assert out == "[2.0, 2.0, 2.0]"


# third-party packages `import plax` may load (numpy's dtypes extension, the pytree library)
ALLOWED_THIRD_PARTY = {"plax", "numpy", "ml_dtypes", "optree", "typing_extensions"}
# standard-library packages that would make the import slow or do I/O; none is needed by core
HEAVY_STDLIB = ("asyncio", "email", "http", "urllib", "xml", "unittest", "multiprocessing",
                "concurrent", "sqlite3", "json", "subprocess", "ssl", "logging", "zipfile")


def test_import_plax_is_small():
    # counts, not a stopwatch: which modules a fresh `import plax` brings in (the -X importtime
    # figure is printed for whoever reads the log, never asserted)
    out = json.loads(run('''
        import sys
        before = set(sys.modules)
        import plax
        new = sorted(set(sys.modules) - before)
        import json
        print(json.dumps(dict(new=new, stdlib=sorted(sys.stdlib_module_names))))
    ''').stdout.splitlines()[-1])
    tops = {m.split(".")[0] for m in out["new"]}
    third_party = tops - set(out["stdlib"]) - {"_distutils_hack"}
    assert third_party <= ALLOWED_THIRD_PARTY, sorted(third_party - ALLOWED_THIRD_PARTY)
    assert not tops & set(HEAVY_STDLIB), sorted(tops & set(HEAVY_STDLIB))
    plax_modules = [m for m in out["new"] if m.split(".")[0] == "plax"]
    assert len(plax_modules) <= 30, plax_modules  # the core only: no lax/numpy/backends
    assert not any(m.startswith(("plax.numpy", "plax.lax", "plax._src.numpy",
                                 "plax._src.backends")) for m in plax_modules), plax_modules
    r = run("import plax", "-X", "importtime")
    rows = [ln.split("|") for ln in r.stderr.splitlines() if ln.startswith("import time:")]
    cumulative_us = next(int(row[1]) for row in rows if row[2].strip() == "plax")
    print(f"\nimport plax: {len(out['new'])} modules, {len(plax_modules)} of plax; "
          f"-X importtime {cumulative_us / 1e3:.0f} ms cumulative (not asserted)")


def test_loading_the_plugins_leaves_heavy_optional_modules_alone():
    # every program loads every installed plugin on first use; the reference backend needs
    # scipy.special only for a few special functions, and nothing but bench/tests imports jax
    out = json.loads(run('''
        import json, sys
        import numpy as np
        import plax, plax.numpy as pnp
        y = plax.jit(lambda v: pnp.tanh(v) * 2)(np.ones(3, np.float32))
        np.asarray(y)
        before = "scipy.special" in sys.modules
        with plax.default_backend("reference"):
            z = np.asarray(plax.lax.erf(np.ones(2, np.float32)))
        print(json.dumps(dict(before=before, jax="jax" in sys.modules,
                              after="scipy.special" in sys.modules, z=z.tolist())))
    ''').stdout.splitlines()[-1])
    assert out["before"] is False, "loading the plugins imported scipy.special"
    assert out["jax"] is False
    assert out["after"] is True and abs(out["z"][0] - 0.8427008) < 1e-6
