"""The profile view and the names it shows: `plax.named_scope` / `named_call` paths on jaxpr
equations (printed as JAX's `pretty_print(name_stack=True)`, kept through grad and vmap) and in
the StableHLO locations; `plax.profiler.trace()` and `python -m plax profile` counting trace,
lower, compile, execute and transfers; the `log_compiles` and `explain_cache_misses` logs.
Counts and texts only: no timings are asserted."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)

import plax
import plax.numpy as pnp
from plax.extend import registry


def layered(x):
    with plax.named_scope("layer1"):
        y = pnp.sin(x) * 2.0
        with plax.named_scope("inner"):
            y = pnp.exp(y)
    return plax.named_call(lambda z: z + 1.0, name="addone")(y)


def _comments(text):
    return [ln.split("# ")[1] for ln in text.splitlines() if "# [" in ln]


def test_named_scope_and_named_call_name_the_equations():
    closed = plax.make_jaxpr(layered)(1.0)
    assert "#" not in str(closed)  # plain printing unchanged
    names = [e.name_stack for e in closed.jaxpr.eqns]
    assert names == ["layer1", "layer1", "layer1/inner", "addone"]
    assert _comments(closed.pretty_print(name_stack=True)) == [
        "[layer1]", "[layer1]", "[layer1/inner]", "[addone]"]


def test_names_survive_grad_and_vmap():
    g = plax.make_jaxpr(plax.grad(layered))(0.5)
    stacks = {e.primitive.name: e.name_stack for e in g.jaxpr.eqns}
    assert stacks["cos"] == "layer1" and stacks["exp"] == "layer1/inner"
    # the backward pass's multiplications keep the scope of the equation they transpose
    assert sum(e.name_stack == "layer1" and e.primitive.name == "mul"
               for e in g.jaxpr.eqns) >= 2
    v = plax.make_jaxpr(plax.vmap(layered))(np.ones(3, np.float32))
    assert [e.name_stack for e in v.jaxpr.eqns if e.primitive.name in ("sin", "exp")] == [
        "layer1", "layer1/inner"]


def test_a_jit_body_is_named_relative_to_its_call():
    inner = plax.jit(lambda x: pnp.cos(x))

    def f(x):
        with plax.named_scope("outer"):
            return inner(x)
    eqn = plax.make_jaxpr(f)(1.0).jaxpr.eqns[0]
    assert eqn.name_stack == "outer"
    assert [e.name_stack for e in eqn.params["jaxpr"].jaxpr.eqns] == [""]


def test_named_scope_rejects_bad_names():
    with pytest.raises(TypeError, match="named_scope name must be a string"):
        with plax.named_scope(3):
            pass
    with pytest.raises(ValueError, match="non-empty"):
        with plax.named_scope(""):
            pass
    with pytest.raises(TypeError, match="callable"):
        plax.named_call(3)


def test_names_are_stablehlo_locations():
    pytest.importorskip("jaxlib")
    with plax.default_backend("xla"):
        lowered = plax.jit(layered).lower(np.float32(1.0))
        text = lowered.as_text(debug_info=True)
        assert 'loc("layer1/sin")' in text and 'loc("layer1/inner/exponential")' not in text
        assert 'loc("layer1/inner/exp")' in text and 'loc("addone/add")' in text
        assert "layer1" not in lowered.as_text()  # as JAX: locations only with debug_info
        grad_text = plax.jit(plax.grad(layered)).lower(np.float32(1.0)).as_text(
            debug_info=True)
        assert 'loc("layer1/cos")' in grad_text
        assert float(plax.jit(layered)(np.float32(0.5))) == pytest.approx(
            np.exp(np.sin(0.5) * 2) + 1, rel=1e-6)


def test_log_compiles_logs_each_compile_once(caplog):
    f = plax.jit(lambda x, y: x * y + 1.0)
    x = np.arange(3, dtype=np.float32)
    with plax.config.override("log_compiles", True), caplog.at_level(logging.WARNING,
                                                                         "plax.jit"):
        f(x, x)
        f(x, x)  # cached: no compile
        f(x[:2], x[:2])
    compiles = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]
    assert compiles == ["Compiling jit(<lambda>) with shapes and types [f32[3], f32[3]] on "
                        "backend 'reference'",
                        "Compiling jit(<lambda>) with shapes and types [f32[2], f32[2]] on "
                        "backend 'reference'"]
    assert all(r.levelno == logging.WARNING and r.name == "plax.jit" for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "plax.jit"):
        plax.jit(lambda x: x - 1.0)(x)  # the option is off again
    assert not caplog.records


def test_explain_cache_misses_names_what_changed(caplog):
    def scale(x, params, n):
        return x * n + params["b"]
    f = plax.jit(scale, static_argnums=2)
    x, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    with plax.config.override("explain_cache_misses", True), caplog.at_level(
            logging.WARNING, "plax.jit"):
        f(x, {"b": b}, 2)
        f(x, {"b": b}, 2)  # a hit: nothing logged
        f(np.ones(4, np.float32), {"b": np.zeros(4, np.float32)}, 2)
        f(x, {"b": b.astype(np.int32)}, 2)
        f(x, {"b": b}, 5)
    msgs = [r.getMessage() for r in caplog.records if "CACHE MISS" in r.getMessage()]
    assert len(msgs) == 4
    assert "never seen function jit(scale)" in msgs[0]
    assert "argument 'x' changed shape: f32[3] -> f32[4]" in msgs[1]
    assert "argument 'params['b']' changed shape" in msgs[1]
    assert "argument 'params['b']' changed dtype: f32[3] -> i32[3]" in msgs[2]
    assert "'x'" not in msgs[2]
    assert "static argument 'n' changed from 2 to 5" in msgs[3]
    assert all("test_profiler.py" in m for m in msgs)  # where the call was made


def test_profile_counts_the_phases():
    xla = "xla" in registry.backend_names()
    with plax.default_backend("xla" if xla else "reference"):
        f = plax.jit(lambda a: pnp.tanh(a) * 2.0)
        x = plax.device_put(np.ones((8, 8), np.float32))
        f(x)  # compiled before the profile: the profile sees executions only
        g = plax.jit(lambda a: a - 1.0)
        with plax.profiler.trace(print_summary=False) as prof:
            for _ in range(3):
                f(x)
            y = g(plax.device_put(np.ones(4, np.float32)))
            np.asarray(y)
        f(x)  # after the profile: not recorded, and the hot path is back
    counts = prof.counts()
    assert counts["execute"] == 4 and counts["trace"] == 1 and counts["compile"] == 1
    by_name = prof.by_name()
    assert by_name[("execute", "jit(<lambda>)")][0] == 4
    if xla:
        assert counts["lower"] == 1
        assert counts["host_to_device"] == 1 and counts["device_to_host"] == 1
    table = prof.table()
    for phase in counts:
        assert phase in table
    assert plax.profiler.state.active is None
    with pytest.raises(RuntimeError, match="already being recorded"):
        with plax.profiler.trace(print_summary=False):
            with plax.profiler.trace(print_summary=False):
                pass


def test_python_m_plax_profile(tmp_path, capsys):
    from plax.__main__ import main
    script = tmp_path / "prog.py"
    script.write_text("import sys, numpy as np, plax\n"
                      "f = plax.jit(lambda a: a * 3.0)\n"
                      "for _ in range(int(sys.argv[1])):\n"
                      "    f(np.ones(2, np.float32))\n")
    with plax.default_backend("reference"):
        assert main(["profile", "--log-dir", str(tmp_path / "log"), str(script), "2"]) == 0
    err = capsys.readouterr().err
    assert "plax profile" in err
    rows = {ln.split()[0]: ln.split()[1] for ln in err.splitlines()[2:]
            if ln.split() and ln.split()[0] in ("trace", "compile", "execute")}
    assert rows == {"trace": "1", "compile": "1", "execute": "2"}
    assert (tmp_path / "log" / "plax_trace.json").exists()
