"""The public door (issue 10): core owns every primitive it defines and every execution path,
backends depend on plax-core alone, and the backend contract declares what jit/pmap use."""

from __future__ import annotations

import ast
import pathlib
import re

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax
from plax.extend import (
    COLLECTIVES, Backend, Executable, checkpoint_p, custom_jvp_call_p, custom_lin_p,
    custom_vjp_call_p, jit_p)
from plax.extend import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "packages"
CORE_PRIMS = (jit_p, custom_jvp_call_p, custom_vjp_call_p, custom_lin_p, checkpoint_p,
              *COLLECTIVES)


def _imports(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_backend_xla_depends_on_core_alone():
    text = (PACKAGES / "backend-xla" / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M).group(1)
    plax_deps = sorted(set(re.findall(r'"(plax-[a-z-]+)', deps)))
    assert plax_deps == ["plax-core"]
    for f in (PACKAGES / "backend-xla" / "src").rglob("*.py"):
        bad = {m for m in _imports(f) if m.split(".")[0] == "plax_transforms"}
        assert not bad, f"{f.name} imports {bad}"


@pytest.mark.parametrize("prim", CORE_PRIMS, ids=lambda p: p.name)
def test_core_owns_call_custom_and_collective_primitives(prim):
    registry.primitives()  # plugins loaded
    assert registry.owner_of("abstract_eval", prim) == "plax-core"
    assert registry.owner_of("impl[reference]", prim) == "reference"
    assert prim.__class__.__module__.startswith("plax.")


def test_collective_outside_a_mapped_axis_names_the_axis():
    with pytest.raises(NameError, match="unbound axis name: i"):
        lax.psum(jnp.ones(3), "i")
    with pytest.raises(NameError, match="unbound axis name: j"):
        lax.axis_index("j")


def test_collectives_are_core_functions_under_vmap():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    out = plax.vmap(lambda r: lax.psum(r, "b") - lax.pmean(r, "b"), axis_name="b")(x)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(x.sum(0) - x.mean(0), (2, 3)))
    assert lax.psum.__module__ == "plax._src.lax.parallel"


def test_backend_contract_declares_what_jit_and_pmap_use():
    for member in ("pmap_execute", "lower_text", "compile", "eager_runner", "clear_caches",
                   "supports", "check_supported", "put", "to_numpy"):
        assert getattr(Backend, member).__doc__, member
    assert Executable.runner.__doc__ and "donated" in Executable.__dict__

    class Tiny(Executable):
        def __call__(self, buffers):
            return list(buffers)

    exe = Tiny()
    assert exe.runner is exe and exe.donated == ()
    b = Backend()
    assert b.pmap_execute(None, (), {}, axis_name=None, in_axes=0, out_axes=0,
                          static_argnums=(), devices=None, donate_argnums=()) is NotImplemented
    assert b.lower_text("{ lambda ; . let  in () }") == "{ lambda ; . let  in () }"


def test_lower_as_text_goes_through_the_contract():
    f = plax.jit(lambda x: x * 2.0)
    text = f.lower(np.ones(3, np.float32)).as_text()
    assert "mul" in text  # the reference backend shows the jaxpr


def test_clear_caches_is_core_and_clears_plugins_caches():
    f = plax.jit(lambda x: x + 1.0)
    f(np.ones(2, np.float32))
    assert f._cache_size() == 1
    plax.clear_caches()
    assert f._cache_size() == 0
    np.testing.assert_allclose(np.asarray(f(np.ones(2, np.float32))), 2.0)


def test_jit_and_eager_share_the_nan_check():
    x = np.array([0.0, 1.0], np.float32)
    with plax.debug_nans(True):
        with pytest.raises(FloatingPointError, match="'div'"):
            jnp.divide(x, x)
        with pytest.raises(FloatingPointError, match="'jit'"):
            plax.jit(lambda a: a / a)(x)


def _private_imports(path: pathlib.Path) -> list[str]:
    """Every way `path` reaches plax._src: imports, and strings naming it (import_module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Attribute) and node.attr == "_src" and \
                isinstance(node.value, ast.Name) and node.value.id == "plax":
            names = ["plax._src"]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) == "import_module" and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names = [node.args[0].value]
        found += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                  if n == "plax._src" or n.startswith("plax._src.")]
    return found


def test_nothing_outside_core_imports_plax_src():
    """The built-ins prove the public door is enough: every package but core, the examples
    and the benchmarks use plax, plax.extend, plax.lax ... (ruff's TID251 says the same)."""
    files = [f for d in ("packages", "examples", "bench") for f in (ROOT / d).rglob("*.py")
             if (PACKAGES / "core") not in f.parents]
    assert len(files) > 20
    bad = [hit for f in files for hit in _private_imports(f)]
    assert not bad, "\n".join(bad)


def test_the_ban_test_sees_each_way_of_reaching_plax_src():
    f = ROOT / "tests" / "_probe_private_imports.py"
    try:
        f.write_text("import plax._src.core\nfrom plax._src import dtypes\nimport plax\n"
                     "x = plax._src\nimport importlib\nimportlib.import_module('plax._src.api')\n")
        assert len(_private_imports(f)) == 5
    finally:
        f.unlink()


@pytest.fixture
def owner():
    """Registrations made under a throwaway plugin name, removed after the test."""
    from plax._src import registry as core_registry
    with core_registry._owning("test-extend"):
        yield
    core_registry._unregister_owner("test-extend")


def test_lower_fun_rules_on_both_backends(owner):
    from plax.extend import Primitive, ShapedArray, lower_fun
    p = Primitive("testext.softclip", elementwise=True)

    def softclip(x, *, limit):
        return limit * jnp.tanh(x / limit)

    registry.add_abstract_eval(p, lambda x, *, limit: ShapedArray(x.shape, x.dtype, x.weak_type))
    registry.add_impl("reference", p, lower_fun(softclip))
    registry.add_lowering("xla", p, lower_fun(softclip))
    x = np.linspace(-5, 5, 7, dtype=np.float32)
    want = 2.0 * np.tanh(x / 2.0)
    for backend in ("reference", "xla"):
        with plax.default_backend(backend):
            np.testing.assert_allclose(np.asarray(p.bind(x, limit=2.0)), want, rtol=1e-6)
            got = plax.jit(lambda v: p.bind(v, limit=2.0) + 1.0)(x)
            np.testing.assert_allclose(np.asarray(got), want + 1.0, rtol=1e-6)


def test_xla_lowering_written_with_the_documented_builder(owner):
    from plax.extend import Primitive, ShapedArray

    p = Primitive("testext.cube")

    def lowering(ctx, x):
        assert ctx.prim is p and ctx.avals_out[0].shape == x.shape
        sq = ctx.b.op1("stablehlo.multiply", [x, x])
        return ctx.b.op1("stablehlo.multiply", [sq, x])

    registry.add_abstract_eval(p, lambda x: ShapedArray(x.shape, x.dtype, x.weak_type))
    registry.add_lowering("xla", p, lowering)
    x = np.arange(4, dtype=np.float32)
    with plax.default_backend("xla"):
        np.testing.assert_array_equal(np.asarray(plax.jit(p.bind)(x)), x ** 3)


def _same(x):
    from plax.extend import ShapedArray
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def test_define_primitive_elementwise_is_batched_by_default(owner):
    from plax.extend import define_primitive
    from plax.extend.ad import Zero
    sq = define_primitive("testext.sq", lambda x: _same(x), impl=np.square, elementwise=True,
                          jvp=lambda p, t: (sq.bind(p[0]), Zero(p[0].aval) if type(t[0]) is
                                            Zero else 2 * p[0] * t[0]))
    assert registry.owner_of("batch", sq) == "test-extend"
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(plax.vmap(sq.bind)(x)), x ** 2)
    np.testing.assert_array_equal(np.asarray(plax.vmap(sq.bind, in_axes=1)(x)), (x ** 2).T)
    g = plax.grad(lambda v: sq.bind(v).sum())(x)
    np.testing.assert_allclose(np.asarray(g), 2 * x)


def test_define_primitive_from_a_composition(owner):
    from plax.extend import define_primitive
    softclip = define_primitive("testext.softclip2",
                                composition=lambda x, *, limit: limit * jnp.tanh(x / limit))
    mirror = define_primitive("testext.mirror", composition=lambda x: x[::-1],
                              linear_in=(0,))
    x = np.linspace(-3, 3, 5, dtype=np.float32)
    want = 2.0 * np.tanh(x / 2.0)
    for backend in ("reference", "xla"):
        with plax.default_backend(backend):
            np.testing.assert_allclose(np.asarray(softclip.bind(x, limit=2.0)), want, rtol=1e-6)
            np.testing.assert_allclose(
                np.asarray(plax.jit(lambda v: softclip.bind(v, limit=2.0))(x)), want, rtol=1e-6)
            np.testing.assert_array_equal(np.asarray(plax.jit(mirror.bind)(x)), x[::-1])
    g = plax.grad(lambda v: softclip.bind(v, limit=2.0).sum())(x)
    np.testing.assert_allclose(np.asarray(g), 1 - np.tanh(x / 2.0) ** 2, rtol=1e-5)
    w = np.arange(5.0, dtype=np.float32)
    g = plax.grad(lambda v: (mirror.bind(v) * w).sum())(x)  # through the transpose rule
    np.testing.assert_array_equal(np.asarray(g), w[::-1])
    xs = np.stack([x, 2 * x])
    np.testing.assert_allclose(np.asarray(plax.vmap(lambda v: softclip.bind(v, limit=2.0))(xs)),
                               2.0 * np.tanh(xs / 2.0), rtol=1e-6)


def test_checks_catch_a_wrong_impl_and_a_wrong_batch_rule(owner):
    from plax.extend import define_primitive
    wrong_shape = define_primitive("testext.wrong_shape", lambda x: _same(x),
                                   impl=lambda x: np.concatenate([x, x]))
    wrong_dim = define_primitive("testext.wrong_dim", lambda x: _same(x), impl=np.negative,
                                 batch=lambda vals, dims: (np.negative(vals[0]), 1))
    x = np.ones((2, 3), np.float32)
    assert plax.config.check_rules  # on in the test suite (conftest.py)
    with pytest.raises(RuntimeError, match=r"testext.wrong_shape.*test-extend.*float32\[4, 3\]"):
        wrong_shape.bind(x)
    with pytest.raises(RuntimeError, match=r"batch rule of 'testext.wrong_dim'.*test-extend"):
        plax.vmap(wrong_dim.bind)(np.ones((2, 4), np.float32))
    with plax.config.override("check_rules", False):  # unchecked, the mistakes go through
        assert np.asarray(wrong_shape.bind(x)).shape == (4, 3)
    with plax.config.override("check_rules", False), plax.config.override("checks", True):
        with pytest.raises(RuntimeError, match=r"testext.wrong_shape"):  # `checks` has them too
            wrong_shape.bind(x)


def test_missing_rules_name_primitive_transform_and_plugin(owner):
    from plax.extend import define_primitive
    p = define_primitive("testext.norules", lambda x: _same(x), impl=np.negative)
    lin = define_primitive("testext.lin_notranspose", lambda x: _same(x), impl=np.negative,
                           linear_in=(0,), jvp=lambda ps, ts: (lin.bind(ps[0]), lin.bind(ts[0])))
    x = np.ones(3, np.float32)
    with pytest.raises(NotImplementedError, match=r"jvp.*'testext.norules'.*'test-extend'"):
        plax.grad(lambda v: p.bind(v).sum())(x)
    with pytest.raises(NotImplementedError, match=r"vmap.*batch.*'testext.norules'"):
        plax.vmap(p.bind)(np.ones((2, 3), np.float32))
    calls = []
    with pytest.raises(NotImplementedError, match=r"grad.*transpose.*testext.lin_notranspose"):
        plax.grad(lambda v: (calls.append(1), lin.bind(v).sum())[1])(x)
    np.testing.assert_array_equal(np.asarray(plax.jvp(lin.bind, (x,), (x,))[1]), -x)


def test_misspelt_backend_and_name_clash_in_process(owner):
    from plax._src import registry as core_registry
    from plax.extend import Primitive, RegistrationError, ShapedArray
    p = Primitive("testext.typo")
    registry.add_abstract_eval(p, lambda x: x)
    registry.add_impl("refrence", p, np.negative)
    assert any("'refrence'" in m and "test-extend" in m
               for m in registry.check_registrations())
    with core_registry._owning("test-extend-2"), pytest.raises(RegistrationError,
                                                               match="'sin' is taken"):
        registry.add_abstract_eval(Primitive("sin"), lambda x: ShapedArray(x.shape, x.dtype))
    core_registry._unregister_owner("test-extend-2")
    np.testing.assert_allclose(np.asarray(lax.sin(np.float32(0.5))), np.sin(np.float32(0.5)))


def test_a_composition_is_every_backends_fallback(owner):
    """A primitive with only an abstract eval and a composition (as a core primitive whose
    algorithm is written in plax) runs and lowers on backends that have no rule for it."""
    from plax.extend import Primitive
    p = Primitive("testext.logaddexp1")
    registry.add_abstract_eval(p, lambda x: _same(x))
    registry.add_composition(p, lambda x: jnp.logaddexp(x, 1.0))
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    for backend in ("reference", "xla"):
        assert registry.get_backend(backend).supports(p)
        with plax.default_backend(backend):
            np.testing.assert_allclose(np.asarray(p.bind(x)), np.logaddexp(x, 1.0), rtol=1e-6)
            np.testing.assert_allclose(np.asarray(plax.jit(p.bind)(x)), np.logaddexp(x, 1.0),
                                       rtol=1e-6)
    info = plax.print_environment_info(return_string=True).splitlines()
    assert not [ln for ln in info if ln.startswith("  backend") and "testext.logaddexp1" in ln]
