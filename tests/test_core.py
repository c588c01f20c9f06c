"""Core API: devices and device_put, make_jaxpr with pytrees and static arguments, eval_shape, the
jaxpr checker on hand-broken jaxprs, abstract values, escaped tracers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_jax

import plax
import plax.lax as lax
from plax.extend import (
    ConcretizationTypeError, Jaxpr, JaxprTypeError, Literal, PlaxTypeError, ShapedArray,
    UnexpectedTracerError, Var, jaxpr_as_fun)

X = np.arange(3, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Devices and placement


def test_devices():
    devs = plax.devices()
    assert len(devs) == plax.device_count() >= 1 and plax.local_devices() == devs
    assert plax.local_device_count() == len(devs)
    ref = plax.devices("reference")
    assert repr(ref[0]) == "CpuDevice(id=0, backend=reference)"
    assert ref[0] == plax.devices("reference")[0] and hash(ref[0]) == hash(ref[0])
    assert ref[0].platform == "cpu" and ref[0].id == 0 and ref[0].backend_name == "reference"
    assert isinstance(ref[0], plax.Device)
    with pytest.raises(plax.BackendUnavailableError, match="no-such.*reference"):
        plax.devices("no-such")


def test_device_put_trees_and_commitment():
    dev = plax.devices("reference")[0]
    tree = {"a": np.ones(2, np.float32), "b": [1.0, np.int64(3), True], "c": None}
    out = plax.device_put(tree, dev)
    assert out["c"] is None and set(out) == {"a", "b", "c"}
    a, (f, i, b) = out["a"], out["b"]
    assert all(isinstance(v, plax.Array) and v.committed and v.device == dev
               for v in (a, f, i, b))
    assert (f.dtype, f.weak_type) == (np.float32, True)  # Python scalars stay weak
    assert (i.dtype, i.weak_type) == (np.int32, False)  # int64 canonicalized, no x64
    assert (b.dtype, b.weak_type) == (np.bool_, False)
    np.testing.assert_array_equal(np.asarray(a), tree["a"])
    tree["a"][0] = 7  # the device copy does not alias the host array
    assert np.asarray(a)[0] == 1.0
    # without a device: uncommitted, on the default backend
    u = plax.device_put(tree)
    assert not u["a"].committed and u["a"].backend == plax.default_backend()
    # an Array already there is returned as is; naming the device commits it
    x = lax.add(X, 1.0)
    assert plax.device_put(x) is x and not x.committed
    y = plax.device_put(x, dev)
    assert y is not x and y.committed and plax.device_put(y, dev) is y
    assert plax.device_put(x, "reference").committed  # a backend name means its first device
    with pytest.raises(TypeError, match="Device or a backend name"):
        plax.device_put(x, 3)
    with pytest.raises(plax.BackendUnavailableError, match="installed backends"):
        plax.device_put(x, "no-such")
    with pytest.raises(PlaxTypeError, match="not a valid plax type"):
        plax.device_put([object()])


def test_device_get_and_block_until_ready():
    x = lax.add(X, 1.0)
    got = plax.device_get({"x": x, "n": 3, "s": [x]})
    assert type(got["x"]) is np.ndarray and got["n"] == 3
    np.testing.assert_array_equal(got["s"][0], X + 1)
    tree = {"x": x, "k": [x, 1]}
    assert plax.block_until_ready(tree) is tree


def test_operations_on_committed_arrays_run_on_their_backend():
    x = plax.device_put(X, plax.devices("reference")[0])
    y = lax.mul(x, 2.0)
    assert y.backend == "reference"
    np.testing.assert_array_equal(np.asarray(y), X * 2)


def test_results_of_committed_inputs_are_committed():
    x = plax.device_put(X, plax.devices("reference")[0])
    assert lax.mul(x, 2.0).committed
    assert not lax.mul(X, 2.0).committed


# ---------------------------------------------------------------------------------------------
# make_jaxpr and eval_shape


def test_make_jaxpr_pytrees_in_and_out():
    def f(params, xs, *, scale):
        w, b = params["w"], params["b"]
        return {"y": lax.add(lax.mul(xs[0], w), b), "aux": (lax.neg(xs[1]), scale)}

    params = {"w": X, "b": np.float32(1)}
    closed, shapes = plax.make_jaxpr(f, return_shape=True)(params, (X, X), scale=2.0)
    closed.check()
    assert str(closed) == (
        "{ lambda ; a:f32[] b:f32[3] c:f32[3] d:f32[3] e:f32[]. let\n"
        "    f:f32[3] = mul c b\n"
        "    g:f32[3] = add f a\n"
        "    h:f32[3] = neg d\n"
        "  in (h, e, g) }")
    # dict keys in sorted order, as JAX flattens them: aux before y; the kwarg comes last
    assert [a.str_short() for a in closed.in_avals] == ["f32[]", "f32[3]", "f32[3]", "f32[3]",
                                                        "f32[]"]
    assert closed.in_avals[4].weak_type
    assert shapes == {"y": plax.ShapeDtypeStruct((3,), np.float32),
                      "aux": (plax.ShapeDtypeStruct((3,), np.float32),
                              plax.ShapeDtypeStruct((), np.float32, weak_type=True))}
    out = jaxpr_as_fun(closed)(np.float32(1), X, X, X, 2.0)
    np.testing.assert_array_equal(np.asarray(out[2]), X * X + 1)
    np.testing.assert_array_equal(np.asarray(out[0]), -X)


@requires_jax
def test_make_jaxpr_pytrees_match_jax():
    import jax
    from jax import lax as jlax

    def f(L, params, xs, scale):
        return {"y": L.add(L.mul(xs[0], params["w"]), params["b"]), "aux": (L.neg(xs[1]), scale)}

    args = ({"w": X, "b": np.float32(1)}, (X, X))
    p, ps = plax.make_jaxpr(lambda *a: f(lax, *a), return_shape=True)(*args, 2.0)
    j, js = jax.make_jaxpr(lambda *a: f(jlax, *a), return_shape=True)(*args, 2.0)
    assert str(p) == str(j)
    # the same shapes (optree rebuilds a dict in its insertion order, JAX in sorted key order)
    assert repr(dict(sorted(ps.items()))) == repr(js)


def test_make_jaxpr_static_argnums():
    def f(x, n, scale):
        for _ in range(n):  # Python control flow on a static argument is fine
            x = lax.mul(x, scale)
        return x

    j = plax.make_jaxpr(f, static_argnums=(1,))(X, 2, 3.0)
    assert str(j) == ("{ lambda ; a:f32[3] b:f32[]. let\n"
                      "    c:f32[3] = mul a b\n"
                      "    d:f32[3] = mul c b\n"
                      "  in (d,) }")
    j2 = plax.make_jaxpr(f, static_argnums=-2)(X, 1, 3.0)
    assert str(j2) == "{ lambda ; a:f32[3] b:f32[]. let c:f32[3] = mul a b in (c,) }"
    with pytest.raises(ValueError, match="static_argnums contains 5"):
        plax.make_jaxpr(f, static_argnums=5)(X, 1, 3.0)
    with pytest.raises(ConcretizationTypeError, match="static_argnums"):
        plax.make_jaxpr(f)(X, 2, 3.0)  # range() of a traced value
    assert plax.make_jaxpr(f).__name__ == "f"


def test_make_jaxpr_closures_and_errors():
    c = lax.add(X, 1.0)  # a concrete Array closed over becomes a constvar
    j = plax.make_jaxpr(lambda x: lax.mul(x, c))(X)
    assert str(j) == "{ lambda a:f32[3]; b:f32[3]. let c:f32[3] = mul b a in (c,) }"
    assert len(j.consts) == 1 and j.consts[0] is c
    np.testing.assert_array_equal(np.asarray(jaxpr_as_fun(j)(X)[0]), X * (X + 1))
    with pytest.raises(PlaxTypeError, match="output 0 .* str"):
        plax.make_jaxpr(lambda x: "not an array")(X)
    with pytest.raises(PlaxTypeError, match="not a valid plax type"):
        plax.make_jaxpr(lambda x: x)(object())


def test_escaped_tracer_is_an_error():
    leaked = []
    plax.make_jaxpr(lambda x: leaked.append(lax.sin(x)) or x)(X)
    with pytest.raises(UnexpectedTracerError, match="sin|escaped"):
        lax.cos(leaked[0])
    with pytest.raises(UnexpectedTracerError, match="escaped"):
        plax.make_jaxpr(lambda x: lax.add(x, leaked[0]))(X)


def test_eval_shape():
    out = plax.eval_shape(lambda a, b: {"s": lax.add(a, b), "w": lax.mul(b, 2.0)},
                          plax.ShapeDtypeStruct((2, 3), np.float32), 1.0)
    assert out == {"s": plax.ShapeDtypeStruct((2, 3), np.float32),
                   "w": plax.ShapeDtypeStruct((), np.float32, weak_type=True)}
    assert repr(out["w"]) == "ShapeDtypeStruct(shape=(), dtype=float32, weak_type=True)"
    # a 64-bit request is traced at the canonical dtype unless x64 is on
    assert plax.eval_shape(lax.neg, plax.ShapeDtypeStruct((3,), np.float64)).dtype == np.float32
    with plax.enable_x64():
        assert plax.eval_shape(lax.neg,
                               plax.ShapeDtypeStruct((3,), np.float64)).dtype == np.float64
    s = plax.ShapeDtypeStruct([4, 5], "int8")
    assert (s.shape, s.ndim, s.size, s.dtype) == ((4, 5), 2, 20, np.int8)
    assert len({s, plax.ShapeDtypeStruct((4, 5), np.int8)}) == 1


# ---------------------------------------------------------------------------------------------
# The checker, on hand-broken jaxprs


def _good():
    return plax.make_jaxpr(lambda a, b: lax.mul(lax.add(a, b), 2.0))(X, X).jaxpr


def test_checker_accepts_traced_jaxprs():
    _good().check()
    plax.make_jaxpr(lambda a: (a, lax.sin(a), 1.0))(X).check()


def test_checker_variable_used_before_bound():
    j = _good()
    broken = Jaxpr(j.constvars, j.invars, j.outvars, list(reversed(j.eqns)))
    with pytest.raises(JaxprTypeError, match=r"equation 0 \(mul\).*used before it is bound"):
        broken.check()
    stray = Var(ShapedArray((3,), np.float32))
    broken = Jaxpr([], j.invars, j.outvars,
                   [j.eqns[0].replace(invars=[j.invars[0], stray]), j.eqns[1]])
    with pytest.raises(JaxprTypeError, match="used before it is bound"):
        broken.check()
    broken = Jaxpr([], j.invars, [stray], j.eqns)
    with pytest.raises(JaxprTypeError, match="outvars.*used before it is bound"):
        broken.check()


def test_checker_wrong_outvar_type():
    j = _good()
    wrong = Var(ShapedArray((3,), np.int32))
    e0, e1 = j.eqns
    broken = Jaxpr([], j.invars, j.outvars, [e0.replace(outvars=[wrong]), e1])
    with pytest.raises(JaxprTypeError,
                       match=r"equation 0 \(add\): outvar has type i32\[3\] but the primitive "
                             r"produces f32\[3\]"):
        broken.check()
    short = Var(ShapedArray((2,), np.float32))
    with pytest.raises(JaxprTypeError, match=r"f32\[2\].*f32\[3\]"):
        Jaxpr([], j.invars, j.outvars, [e0.replace(outvars=[short]), e1]).check()


def test_checker_other_breakage():
    j = _good()
    e0, e1 = j.eqns
    with pytest.raises(JaxprTypeError, match="bound twice"):
        Jaxpr([], j.invars, j.outvars, [e0, e1.replace(outvars=e0.outvars)]).check()
    with pytest.raises(JaxprTypeError, match="bound twice"):
        Jaxpr([], [j.invars[0], j.invars[0]], j.outvars, j.eqns).check()
    bad_lit = Literal(np.int32(1), ShapedArray((), np.int32))
    with pytest.raises(JaxprTypeError, match=r"equation 1 \(mul\): abstract evaluation failed"):
        Jaxpr([], j.invars, j.outvars, [e0, e1.replace(invars=[e1.invars[0], bad_lit])]).check()
    with pytest.raises(JaxprTypeError, match="not a Var or Literal"):
        Jaxpr([], j.invars, j.outvars, [e0.replace(invars=[j.invars[0], 2.0]), e1]).check()
    with pytest.raises(JaxprTypeError, match="2 outvars, rule gives 1"):
        extra = Var(ShapedArray((3,), np.float32))
        Jaxpr([], j.invars, j.outvars, [e0.replace(outvars=e0.outvars + [extra]), e1]).check()


# ---------------------------------------------------------------------------------------------
# Abstract values


def test_shaped_array():
    a = ShapedArray((2, 3), np.float32)
    assert a == ShapedArray([2, 3], "float32") and hash(a) == hash(ShapedArray((2, 3), "f4"))
    assert a != ShapedArray((2, 3), np.float32, weak_type=True)
    assert a != ShapedArray((3, 2), np.float32) and a != ShapedArray((2, 3), np.float16)
    assert (a.ndim, a.size, str(a)) == (2, 6, "f32[2,3]")
    assert repr(ShapedArray((), np.int8, True)) == "ShapedArray(i8[], weak_type=True)"
    assert ShapedArray((0, 4), "bfloat16").size == 0
    assert ShapedArray((), np.bool_).str_short() == "bool[]"
    w = a.update(weak_type=True)
    assert w.weak_type and w.strip_weak_type() == a and a.strip_weak_type() is a
    assert a.update(shape=(5,)).shape == (5,) and a.update(dtype=np.int32).dtype == np.int32
    with pytest.raises(TypeError, match="does not support dtype"):
        ShapedArray((2,), np.dtype("U2"))


def test_get_aval():
    from plax.extend import get_aval
    assert get_aval(1.0) == ShapedArray((), np.float32, True)
    assert get_aval(True) == ShapedArray((), np.bool_, False)
    assert get_aval(np.float64(1)) == ShapedArray((), np.float32)
    assert get_aval(np.zeros((2, 0), np.uint16)) == ShapedArray((2, 0), np.uint16)
    assert get_aval(lax.add(1, 2)) == ShapedArray((), np.int32, True)
    with pytest.raises(PlaxTypeError, match="list is not a valid plax type"):
        get_aval([1, 2])


def test_reference_backend_is_quiet_on_half_float_overflow_and_nan():
    # IEEE results (inf, False for NaN comparisons) without NumPy RuntimeWarnings, eagerly and
    # under jit, as XLA and JAX give them
    import warnings

    import ml_dtypes
    a = np.array([60000, 1], np.float16)
    b = np.array([np.nan, 1], ml_dtypes.bfloat16)
    with plax.default_backend("reference"), warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(plax.lax.mul(a, a), [np.inf, 1])
        np.testing.assert_array_equal(plax.jit(lambda v: v * v)(a), [np.inf, 1])
        np.testing.assert_array_equal(plax.lax.lt(b, b), [False, False])
        np.testing.assert_array_equal(plax.jit(plax.lax.lt)(b, b), [False, False])
