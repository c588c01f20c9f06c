"""Plugin discovery end to end: throwaway distributions (a *.dist-info with an entry point in the
group `plax.plugins`, plus its module) in a temporary site directory, used from a subprocess, so
each scenario starts from a fresh `import plax`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

GOOD = '''
import numpy as np
from plax.extend import PlaxTypeError, Primitive, ShapedArray, hookimpl

softplus_p = Primitive("myext.softplus", elementwise=True)


def _softplus_abstract(x):
    if x.dtype.kind != "f":
        raise PlaxTypeError(f"myext.softplus: x must be floating, got {x.dtype}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _softplus_numpy(x):
    return np.logaddexp(x, 0)


def softplus(x):
    return softplus_p.bind(x)


@hookimpl
def plax_register(registry):
    registry.add_abstract_eval(softplus_p, _softplus_abstract)
    registry.add_impl("reference", softplus_p, _softplus_numpy)
    registry.register_api("softplus", softplus)
'''

BROKEN_IMPORT = '''
import plax_no_such_dependency  # the plugin's dependency is not installed
'''

BROKEN_REGISTER = '''
from plax.extend import Primitive, ShapedArray, hookimpl

half_p = Primitive("broken.half")


@hookimpl
def plax_register(registry):
    import plax.lax  # first imported here: core's rules must still stay core's
    registry.add_abstract_eval(half_p, lambda x: x)
    registry.add_impl("reference", half_p, lambda x: x / 2)
    registry.register_api("half", lambda x: half_p.bind(x))
    registry.register_backend("brokenbackend", lambda: None, priority=100)
    raise RuntimeError("boom in plax_register")
'''

# a module shared by two plugins (a library both depend on), not itself a plugin
SHARED = '''
from plax.extend import Primitive
shared_p = Primitive("shared.double")
'''

CONFLICT = '''
import numpy as np
from plax.extend import ShapedArray, hookimpl
from plax_shared import shared_p


@hookimpl
def plax_register(registry):
    registry.add_abstract_eval(shared_p, lambda x: x)  # only one of the two can own this
    registry.add_impl("reference", shared_p, lambda x: np.asarray(x * 2))
'''


def make_dist(site, dist: str, plugin: str | None, module: str, source: str) -> None:
    """A minimal installed distribution `dist` whose entry point `plugin` names `module`."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    if plugin is not None:
        (info / "entry_points.txt").write_text(f"[plax.plugins]\n{plugin} = {module}\n")


def run_py(code: str, site=None, args=("-c",), **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAX_")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    # the throwaway plugins implement their primitives for the reference backend only
    env["PLAX_BACKEND"] = "reference"
    env.update(env_extra)
    return subprocess.run([sys.executable, *args, *([textwrap.dedent(code)] if code else [])],
                          env=env, capture_output=True, text=True, timeout=60)


def run_json(code: str, site=None, **env_extra) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last line."""
    r = run_py(code, site, **env_extra)
    assert r.returncode == 0, f"subprocess failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def site(tmp_path):
    d = tmp_path / "site"
    d.mkdir()
    return d


def test_plugin_is_discovered_loaded_lazily_and_runs(site):
    make_dist(site, "plax-myext", "myext", "plax_myext", GOOD)
    out = run_json('''
        import json, sys
        import numpy as np
        import plax, plax.lax
        before = "plax_myext" in sys.modules
        info = plax.print_environment_info(return_string=True)
        x = np.array([-2.0, 0.0, 3.0], np.float32)
        y = plax.softplus(x)
        jaxpr = plax.make_jaxpr(plax.softplus)(x)
        jaxpr.check()
        from plax._src import registry
        p = registry.plugins()["myext"]
        print(json.dumps(dict(
            before=before, after="plax_myext" in sys.modules, info=info,
            y=np.asarray(y).tolist(), dtype=str(y.dtype), jaxpr=str(jaxpr),
            status=p.status, dist=p.distribution, module=p.module,
            owner=registry.owner_of("abstract_eval", sys.modules["plax_myext"].softplus_p))))
    ''', site)
    assert out["before"] is False, "import plax must not import plugin modules"
    assert out["after"] is True
    assert (out["status"], out["dist"], out["module"]) == ("loaded", "plax-myext", "plax_myext")
    assert out["owner"] == "myext"
    assert "myext" in out["info"] and "plax-myext" in out["info"]
    ref_line = next(ln for ln in out["info"].splitlines() if ln.startswith("  backend reference"))
    assert "myext.softplus" not in ref_line  # the coverage report counts the new primitive
    jvp_line = next(ln for ln in out["info"].splitlines() if ln.startswith("  jvp"))
    assert "myext.softplus" in jvp_line
    x = [-2.0, 0.0, 3.0]
    import numpy as np
    np.testing.assert_allclose(out["y"], np.logaddexp(x, 0), rtol=1e-6)
    assert out["dtype"] == "float32"
    assert out["jaxpr"] == "{ lambda ; a:f32[3]. let b:f32[3] = myext.softplus a in (b,) }"


def test_python_m_plax_info_lists_plugins(site):
    make_dist(site, "plax-myext", "myext", "plax_myext", GOOD)
    r = run_py("", site, args=("-m", "plax", "info"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    plugin_lines = {ln.split()[0]: ln for ln in lines if ln.startswith("  ") and "[" in ln}
    assert "loaded" in plugin_lines["myext"] and "plax-myext" in plugin_lines["myext"]
    assert "loaded" in plugin_lines["reference"] and "plax-core" in plugin_lines["reference"]
    assert any(ln.strip().startswith("reference") and "ok:" in ln for ln in lines)
    bad = run_py("", site, args=("-m", "plax", "bogus"))
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_broken_plugins_warn_are_undone_and_the_rest_works(site):
    make_dist(site, "plax-myext", "myext", "plax_myext", GOOD)
    make_dist(site, "plax-broken-import", "brokenimport", "plax_broken_import", BROKEN_IMPORT)
    make_dist(site, "plax-broken-register", "brokenreg", "plax_broken_register",
              BROKEN_REGISTER)
    out = run_json('''
        import json, sys, warnings
        import numpy as np
        import plax
        from plax.extend import PluginWarning
        from plax._src import registry
        NAMES = ("myext", "reference", "brokenimport", "brokenreg")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            devices = plax.devices()  # the first use loads the plugins
        z = plax.lax.add(np.float32(1), np.float32(2))
        msgs = [str(x.message) for x in w if issubclass(x.category, PluginWarning)]
        half_p = sys.modules["plax_broken_register"].half_p
        try:
            plax.half
            has_half = True
        except AttributeError:
            has_half = False
        print(json.dumps(dict(
            msgs=msgs, z=float(z), softplus=float(plax.softplus(np.float32(0))),
            status={n: p.status for n, p in registry.plugins().items() if n in NAMES},
            errors={n: p.error for n, p in registry.plugins().items()},
            half_rules=[half_p in registry.rules(t) for t in ("abstract_eval", "impl[reference]")],
            half_listed="broken.half" in registry.primitives(), has_half=has_half,
            backends=registry.backend_names(), default=plax.default_backend(),
            devices=repr(devices),
            add_owner=registry.owner_of("abstract_eval", plax.lax.add_p),
            jaxpr=str(plax.make_jaxpr(plax.lax.sin)(np.float32(1))),
            info=plax.print_environment_info(return_string=True))))
    ''', site, PLAX_BACKEND="reference")  # whatever other backends are installed
    assert len([m for m in out["msgs"] if "plax-broken" in m]) == 2, out["msgs"]
    imp = next(m for m in out["msgs"] if "brokenimport" in m)
    assert "plax-broken-import" in imp and "ModuleNotFoundError" in imp
    assert "plax_no_such_dependency" in imp
    reg = next(m for m in out["msgs"] if "brokenreg" in m)
    assert "plax-broken-register" in reg and "RuntimeError: boom in plax_register" in reg
    assert out["status"] == {"myext": "loaded", "reference": "loaded",
                             "brokenimport": "failed", "brokenreg": "failed"}
    assert "boom" in out["errors"]["brokenreg"]
    # what the broken plugin registered before failing is gone
    assert out["half_rules"] == [False, False]
    assert out["half_listed"] is False and out["has_half"] is False
    assert "brokenbackend" not in out["backends"] and out["default"] == "reference"
    assert out["devices"] == "[CpuDevice(id=0, backend=reference)]"
    assert out["add_owner"] == "plax-core"
    # and everything else works
    assert out["z"] == 3.0 and out["softplus"] == pytest.approx(0.6931472)
    assert out["jaxpr"] == "{ lambda ; a:f32[]. let b:f32[] = sin a in (b,) }"
    assert "failed" in out["info"] and "boom" in out["info"]


def test_two_plugins_registering_one_rule_warn_and_the_later_is_skipped(site):
    (site / "plax_shared.py").write_text(SHARED)
    make_dist(site, "plax-first", "first", "plax_first", CONFLICT)
    make_dist(site, "plax-second", "second", "plax_second", CONFLICT)
    out = run_json('''
        import json, warnings
        import numpy as np
        import plax, plax.lax
        from plax.extend import PluginWarning, registry
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            z = float(plax.lax.add(1.0, 2.0))  # loads the plugins: no error, a warning
        msgs = [str(x.message) for x in w if issubclass(x.category, PluginWarning)]
        from plax_shared import shared_p
        # the first plugin keeps the rule and plax goes on working
        y = shared_p.bind(np.float32(3))
        print(json.dumps(dict(msgs=msgs, y=float(y), z=z,
                              owner=registry.owner_of("abstract_eval", shared_p),
                              info=plax.print_environment_info(return_string=True),
                              status={n: p.status for n, p in registry.plugins().items()})))
    ''', site)
    assert len(out["msgs"]) == 1, out["msgs"]
    for name in ("'first'", "'second'", "plax-first", "plax-second", "shared.double"):
        assert name in out["msgs"][0], (name, out["msgs"])
    assert out["y"] == 6.0 and out["z"] == 3.0
    winner = out["owner"]
    loser = {"first": "second", "second": "first"}[winner]
    assert out["status"][winner] == "loaded" and out["status"][loser] == "conflict"
    assert "conflict" in out["info"] and "registered twice" in out["info"]


CLASH = '''
import numpy as np
from plax.extend import Primitive, ShapedArray, hookimpl

sin_p = Primitive("sin")  # the name of a core primitive


@hookimpl
def plax_register(registry):
    registry.add_abstract_eval(sin_p, lambda x: x)
    registry.add_impl("reference", sin_p, np.sin)
'''

MISSPELT = '''
import numpy as np
from plax.extend import Primitive, ShapedArray, hookimpl

twice_p = Primitive("misspelt.twice")


@hookimpl
def plax_register(registry):
    registry.add_abstract_eval(twice_p, lambda x: x)
    registry.add_impl("reference", twice_p, lambda x: x * 2)
    registry.add_lowering("xal", twice_p, lambda ctx, x: x)
'''


def test_primitive_name_clash_and_misspelt_backend_warn(site):
    make_dist(site, "plax-clash", "clash", "plax_clash", CLASH)
    make_dist(site, "plax-misspelt", "misspelt", "plax_misspelt", MISSPELT)
    out = run_json('''
        import json, warnings
        import numpy as np
        import plax, plax.lax
        from plax.extend import PluginWarning, registry
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            s = float(plax.lax.sin(0.5))
        msgs = [str(x.message) for x in w if issubclass(x.category, PluginWarning)]
        from plax_misspelt import twice_p
        print(json.dumps(dict(msgs=msgs, s=s, t=float(twice_p.bind(np.float32(2))),
                              status={n: p.status for n, p in registry.plugins().items()})))
    ''', site)
    clash = next(m for m in out["msgs"] if "'sin'" in m)
    assert "plax-clash" in clash and "plax-core" in clash and "taken" in clash
    assert out["status"]["clash"] == "conflict" and out["s"] == pytest.approx(np.sin(0.5))
    bad = next(m for m in out["msgs"] if "'xal'" in m)
    assert "plax-misspelt" in bad and "misspelt" in bad
    assert out["status"]["misspelt"] == "loaded" and out["t"] == 4.0


def test_allow_and_deny_lists(site):
    make_dist(site, "plax-myext", "myext", "plax_myext", GOOD)
    make_dist(site, "plax-broken-import", "brokenimport", "plax_broken_import", BROKEN_IMPORT)
    code = '''
        import json, sys, warnings
        import plax
        from plax._src import registry
        warnings.simplefilter("error")  # a disabled broken plugin must not even warn
        z = float(plax.lax.add(1.0, 2.0))
        print(json.dumps(dict(z=z, status={n: p.status for n, p in registry.plugins().items()
                                           if n in ("myext", "brokenimport", "reference")},
                              imported=[m for m in ("plax_myext", "plax_broken_import")
                                        if m in sys.modules])))
    '''
    out = run_json(code, site, PLAX_PLUGINS="myext")
    # the allow list picks third-party plugins; the built-in reference backend stays
    assert out["status"] == {"myext": "loaded", "brokenimport": "disabled",
                             "reference": "loaded"}
    assert out["imported"] == ["plax_myext"] and out["z"] == 3.0
    out = run_json(code, site, PLAX_DISABLE_PLUGINS="brokenimport, myext")
    assert out["status"] == {"myext": "disabled", "brokenimport": "disabled",
                             "reference": "loaded"}
    assert out["imported"] == []
    out = run_json(code.replace('"error"', '"ignore"'), site, PLAX_PLUGINS="myext,brokenimport",
                   PLAX_DISABLE_PLUGINS="brokenimport")
    assert out["status"]["brokenimport"] == "disabled" and out["status"]["myext"] == "loaded"


def test_reference_backend_loads_through_the_plugin_path(site):
    import importlib.metadata

    import plax.lax  # noqa: F401
    from plax._src import registry
    from plax._src.lax import elementwise as ew

    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="plax.plugins")}
    assert eps["reference"].value == "plax._src.backends.reference"
    assert eps["reference"].dist.name == "plax-core"
    info = registry.plugins()["reference"]
    assert (info.status, info.distribution) == ("loaded", "plax-core")
    assert registry.owner_of("impl[reference]", ew.add_p) == "reference"
    assert registry.owner_of("abstract_eval", ew.add_p) == registry.CORE_OWNER
    assert registry._backend_specs["reference"].owner == "reference"
    # denied, the reference backend is absent: nothing else provides one
    out = run_json('''
        import json, sys
        import plax
        try:
            plax.lax.add(1.0, 2.0)
            err = None
        except plax.BackendUnavailableError as e:
            err = str(e)
        print(json.dumps(dict(err=err, mod="plax._src.backends.reference" in sys.modules)))
    ''', site, PLAX_DISABLE_PLUGINS="reference,xla", PLAX_BACKEND="")
    assert out["err"] is not None and "no backend" in out["err"]
    assert out["mod"] is False


def _metadata_entry_points(group: str) -> list:
    import importlib.metadata
    return [(ep.name, ep.value, ep.dist.name)
            for ep in importlib.metadata.entry_points(group=group)]


def test_entry_points_read_as_importlib_metadata_reads_them(tmp_path, monkeypatch):
    """Discovery reads entry_points.txt files itself (importlib.metadata's import is ~15 ms of
    a new process's first call); it finds what importlib.metadata finds, in its order: across
    sys.path entries the first distribution of a (normalized) name wins, egg-info directories
    count, comments and other groups are skipped; a zip on sys.path hands over to
    importlib.metadata."""
    from plax._src import registry
    for group in ("plax.plugins", "console_scripts", "pytest11"):
        assert registry._scan_entry_points(group) == _metadata_entry_points(group), group

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    make_dist(first, "Dup.Plugin-dist", "dup_a", "dup_mod_a", "")
    make_dist(second, "dup_plugin-dist", "dup_b", "dup_mod_b", "")  # the same name: shadowed
    egg = second / "Eggy_Dist.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy-dist\nVersion: 1\n")
    (egg / "entry_points.txt").write_text(
        "# a comment\n[console_scripts]\neggy = eggy:main\n\n[plax.plugins]\n"
        "  eggy = eggy_mod  \n[other]\nx = y\n")
    (second / "stray-0.1.egg-info").write_text("Metadata-Version: 1.1\nName: stray\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    scanned = registry._scan_entry_points("plax.plugins")
    assert scanned == _metadata_entry_points("plax.plugins")
    mine = [e for e in scanned if e[0] in ("dup_a", "dup_b", "eggy")]
    assert mine == [("dup_a", "dup_mod_a", "Dup.Plugin-dist"), ("eggy", "eggy_mod", "eggy-dist")]
    assert registry._scan_entry_points("console_scripts") == \
        _metadata_entry_points("console_scripts")

    import zipfile
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[plax.plugins]\nzipped = zmod\n")
    monkeypatch.syspath_prepend(str(archive))
    assert registry._scan_entry_points("plax.plugins") is None
    assert ("zipped", "zmod", "zipped") in registry._entry_points("plax.plugins")
