"""The errors catalogue: misuse a new user would commit, each case asserting the exception type
and that the message names what was wrong (the argument, its shape, dtype, axis or name).

Families: shapes, dtypes, axes, indexing, tracers leaked or concretized, transforms misused,
static arguments, donation, devices and backends, config, plugins and rules, PRNG keys,
control-flow signatures, collectives outside their axis. Shardings are not in plax yet
(issue 16), so no sharding misuse is catalogued here."""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

import numpy as np
import pytest
from conftest import installed_backends
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)

import plax
import plax.lax as lax
import plax.numpy as jnp
import plax.random as random
from plax.extend import Primitive, RegistrationError, UnsupportedPrimitiveError, registry


class Case(NamedTuple):
    fn: Callable[[], object]
    exc: type
    says: tuple[str, ...]  # each must appear in the message (case-insensitive)


def x3():
    return jnp.arange(3.0)


def m23():
    return jnp.ones((2, 3))


def _leaked_tracer():
    box = []
    plax.jit(lambda a: box.append(a) or a)(1.0)
    return box[0] + 1


def _custom_jvp_bad_tangent():
    f = plax.custom_jvp(lambda a: a)
    f.defjvp(lambda p, t: (p[0], jnp.ones(4)))
    return plax.jvp(f, (x3(),), (x3(),))


def _custom_vjp_bad_bwd():
    f = plax.custom_vjp(lambda a: a * 2)
    f.defvjp(lambda a: (a * 2, None), lambda r, g: g)
    return plax.grad(lambda a: f(a).sum())(x3())


def _custom_vjp_bad_fwd():
    f = plax.custom_vjp(lambda a: a)
    f.defvjp(lambda a: a, lambda r, g: (g,))
    return plax.grad(f)(1.0)


def _probe_primitive(name: str) -> Primitive:
    """A primitive with an abstract-eval rule and a reference impl, but no transform rules."""
    p = Primitive(name)
    registry.add_abstract_eval(p, lambda a: a)
    registry.add_impl("reference", p, lambda a: a)
    return p


CASES: dict[str, Case] = {
    # --- shapes
    "lax.add shapes": Case(lambda: lax.add(jnp.ones(3), jnp.ones(4)), TypeError,
                           ("add", "(3,)", "(4,)")),
    "operator + shapes": Case(lambda: jnp.ones(3) + jnp.ones(4), ValueError,
                              ("add", "(3,)", "(4,)")),
    "dot shapes": Case(lambda: jnp.dot(jnp.ones((2, 3)), jnp.ones((4, 5))), ValueError,
                       ("dot", "(2, 3)", "(4, 5)")),
    "matmul shapes": Case(lambda: jnp.ones((2, 3)) @ jnp.ones((4, 5)), ValueError,
                          ("matmul", "(2, 3)", "(4, 5)")),
    "reshape size": Case(lambda: jnp.reshape(jnp.ones(6), (4, 2)), ValueError,
                         ("reshape", "6", "(4, 2)")),
    "reshape two -1": Case(lambda: jnp.reshape(jnp.ones(6), (-1, -1)), ValueError,
                           ("reshape", "(-1, -1)")),
    "concatenate shapes": Case(
        lambda: jnp.concatenate([jnp.ones((2, 3)), jnp.ones((2, 4))]), ValueError,
        ("concatenate", "(2, 3)", "(2, 4)")),
    "concatenate ranks": Case(lambda: jnp.concatenate([jnp.ones((2, 3)), jnp.ones(3)]),
                              ValueError, ("concatenate", "(2, 3)", "(3,)")),
    "stack shapes": Case(lambda: jnp.stack([jnp.ones(3), jnp.ones(4)]), ValueError,
                         ("stack", "(3,)", "(4,)")),
    "broadcast_to": Case(lambda: jnp.broadcast_to(jnp.ones(3), (4,)), ValueError,
                         ("broadcast_to", "(3,)", "(4,)")),
    "split uneven": Case(lambda: jnp.split(jnp.ones(5), 2), ValueError, ("split", "5", "2")),
    "where shapes": Case(lambda: jnp.where(jnp.ones(3, bool), jnp.ones(3), jnp.ones(4)),
                         ValueError, ("where", "(4,)")),
    "einsum sizes": Case(lambda: jnp.einsum("ij,jk->ik", m23(), m23()), ValueError,
                         ("einsum", "'j'", "2", "3")),
    "negative shape": Case(lambda: jnp.zeros((2, -1)), ValueError, ("zeros", "(2, -1)")),
    "float in shape": Case(lambda: jnp.zeros((2.5,)), TypeError, ("zeros", "2.5")),
    "dynamic_slice sizes": Case(lambda: lax.dynamic_slice(x3(), (0,), (5,)), TypeError,
                                ("dynamic_slice", "(5,)", "(3,)")),
    "slice limits": Case(lambda: lax.slice(x3(), (0,), (5,)), TypeError,
                         ("slice", "(5,)", "(3,)")),
    "pad config rank": Case(lambda: lax.pad(x3(), 0.0, [(1, 1, 0), (1, 1, 0)]), TypeError,
                            ("pad", "padding_config", "(3,)")),
    "dot_general contract": Case(
        lambda: lax.dot_general(m23(), m23(), (((1,), (0,)), ((), ()))), TypeError,
        ("dot_general", "contracting", "(2, 3)")),
    # --- dtypes
    "lax.add dtypes": Case(
        lambda: lax.add(jnp.ones(3, jnp.float32), jnp.ones(3, jnp.int32)), TypeError,
        ("add", "float32", "int32")),
    "lax.sin of int": Case(lambda: lax.sin(jnp.ones(3, jnp.int32)), TypeError,
                           ("sin", "int32")),
    "bitwise on float": Case(lambda: jnp.bitwise_and(x3(), x3()), TypeError,
                             ("bitwise_and", "float32")),
    "unknown dtype": Case(lambda: x3().astype("notadtype"), TypeError, ("notadtype",)),
    "string array": Case(lambda: jnp.array(["a", "b"]), TypeError, ("<U1",)),
    "string argument to jit": Case(lambda: plax.jit(lambda a: a)("s"), TypeError,
                                   ("str", "'s'")),
    "clip with a string": Case(lambda: jnp.clip(x3(), "a"), TypeError, ("str",)),
    # --- axes
    "sum axis": Case(lambda: jnp.sum(m23(), axis=2), ValueError, ("sum", "axis 2", "2")),
    "sum repeated axis": Case(lambda: jnp.sum(m23(), axis=(0, 0)), ValueError,
                              ("sum", "(0, 0)")),
    "transpose perm": Case(lambda: jnp.transpose(m23(), (0, 0)), ValueError,
                           ("transpose", "(0, 0)", "(2, 3)")),
    "expand_dims axis": Case(lambda: jnp.expand_dims(x3(), 3), ValueError,
                             ("expand_dims", "axis 3")),
    "squeeze non-unit": Case(lambda: jnp.squeeze(m23(), axis=0), ValueError,
                             ("squeeze", "axis 0", "(2, 3)")),
    "argsort axis": Case(lambda: jnp.argsort(x3(), axis=1), ValueError, ("argsort", "axis 1")),
    "take axis": Case(lambda: jnp.take(x3(), jnp.array([0]), axis=2), ValueError,
                      ("take", "axis 2")),
    "lax reduce axes": Case(lambda: lax.reduce_sum(x3(), (1,)), TypeError,
                            ("reduce_sum", "(1,)", "rank 1")),
    # --- indexing and mutation
    "item assignment": Case(lambda: x3().__setitem__(0, 1.0), TypeError,
                            ("immutable", "x[0]", ".at[0].set(")),
    "slice assignment under jit": Case(
        lambda: plax.jit(lambda a: a.__setitem__(slice(1, None), 0.0))(x3()), TypeError,
        ("x[1:]", ".at[1:].set(")),
    "too many indices": Case(lambda: x3()[0, 0], IndexError, ("too many indices", "1", "2")),
    "float index": Case(lambda: x3()[1.5], IndexError, ("1.5", "float")),
    "float index array": Case(lambda: plax.jit(lambda a, i: a[i])(x3(), 1.5), IndexError,
                              ("float32",)),
    "truth value of an array": Case(lambda: bool(x3()), ValueError, ("(3,)", "any()")),
    # --- tracers concretized or leaked
    "float() of a tracer": Case(lambda: plax.jit(lambda a: float(a))(1.0),
                                plax.ConcretizationTypeError, ("float", "f32[]")),
    "if on a tracer": Case(lambda: plax.jit(lambda a: 1 if a > 0 else 2)(1.0),
                           plax.ConcretizationTypeError, ("bool", "cond")),
    "int() under jit": Case(lambda: plax.jit(lambda a: a * int(a))(1.0),
                            plax.ConcretizationTypeError, ("int", "f32[]")),
    "np.asarray of a tracer": Case(lambda: plax.jit(lambda a: np.asarray(a))(x3()),
                                   plax.ConcretizationTypeError, ("numpy", "f32[3]")),
    "leaked tracer": Case(_leaked_tracer, plax.UnexpectedTracerError, ("tracer", "add")),
    # --- transforms misused
    "grad of non-scalar": Case(lambda: plax.grad(lambda a: a * 2)(x3()), TypeError,
                               ("scalar", "(3,)")),
    "grad of int input": Case(lambda: plax.grad(lambda a: a * 2)(1), TypeError,
                              ("int32", "allow_int")),
    "grad argnums range": Case(lambda: plax.grad(lambda a: a.sum(), argnums=3)(x3()),
                               ValueError, ("argnums", "3", "1 positional")),
    "grad of int output": Case(
        lambda: plax.grad(lambda a: a.astype(jnp.int32))(1.0), TypeError, ("int32",)),
    "grad has_aux not a pair": Case(lambda: plax.grad(lambda a: a, has_aux=True)(1.0),
                                    TypeError, ("has_aux", "pair", "f32[]")),
    "value_and_grad of tuple": Case(lambda: plax.value_and_grad(lambda a: (a, a))(1.0),
                                    TypeError, ("scalar",)),
    "vmap sizes": Case(lambda: plax.vmap(lambda a, b: a + b)(jnp.ones(3), jnp.ones(4)),
                       ValueError, ("inconsistent sizes", "3", "4")),
    "vmap in_axes rank": Case(lambda: plax.vmap(lambda a: a, in_axes=2)(m23()), ValueError,
                              ("axis 2", "(2, 3)")),
    "vmap in_axes length": Case(
        lambda: plax.vmap(lambda a, b: a + b, in_axes=(0, 0, 0))(x3(), x3()), ValueError,
        ("in_axes", "3", "2")),
    "vmap of a scalar": Case(lambda: plax.vmap(lambda a: a)(1.0), ValueError,
                             ("axis 0", "()")),
    "vmap out_axes": Case(lambda: plax.vmap(lambda a: a, out_axes=3)(x3()), ValueError,
                          ("out_axes=3", "rank 1")),
    "jvp tangent shape": Case(lambda: plax.jvp(lambda a: a, (x3(),), (jnp.ones(4),)),
                              ValueError, ("argument 0", "(3,)", "(4,)")),
    "jvp tangent dtype": Case(
        lambda: plax.jvp(lambda a: a, (x3(),), (jnp.ones(3, jnp.int32),)), TypeError,
        ("argument 0", "float32", "int32")),
    "jvp primals not a tuple": Case(lambda: plax.jvp(lambda a: a, x3(), x3()), TypeError,
                                    ("tuples", "Array")),
    "vjp cotangent shape": Case(lambda: plax.vjp(lambda a: a * 2, x3())[1](jnp.ones(4)),
                                ValueError, ("cotangent 0", "(4,)", "(3,)")),
    "jit of a non-callable": Case(lambda: plax.jit(3), TypeError, ("callable", "3")),
    "checkpoint static_argnums": Case(
        lambda: plax.checkpoint(lambda a, n: a * n, static_argnums=5)(1.0, 2), ValueError,
        ("static_argnums", "(5,)", "2 positional")),
    "custom_jvp tangent shape": Case(_custom_jvp_bad_tangent, TypeError,
                                     ("custom_jvp", "(4,)", "(3,)")),
    "custom_jvp without rule": Case(
        lambda: plax.jvp(plax.custom_jvp(lambda a: a), (1.0,), (1.0,)), AttributeError,
        ("custom_jvp", "defjvp")),
    "custom_vjp bwd not a tuple": Case(_custom_vjp_bad_bwd, TypeError,
                                       ("custom_vjp", "bwd", "tuple")),
    "custom_vjp fwd not a pair": Case(_custom_vjp_bad_fwd, TypeError,
                                      ("custom_vjp", "fwd", "pair")),
    # --- static arguments
    "static_argnums range": Case(lambda: plax.jit(lambda a: a, static_argnums=3)(1.0),
                                 ValueError, ("static_argnums=(3,)", "1 positional")),
    "static_argnames unknown": Case(lambda: plax.jit(lambda a: a, static_argnames="zz"),
                                    ValueError, ("static_argnames", "'zz'")),
    "static argument unhashable": Case(
        lambda: plax.jit(lambda a, b: a, static_argnums=1)(1.0, [1, 2]), ValueError,
        ("hashable", "argument 1")),
    # --- donation
    "donate_argnums range": Case(lambda: plax.jit(lambda a: a, donate_argnums=4), ValueError,
                                 ("donate_argnums=(4,)", "1 positional")),
    "donate_argnames unknown": Case(lambda: plax.jit(lambda a: a, donate_argnames="b"),
                                    ValueError, ("donate_argnames", "'b'")),
    "static and donated": Case(
        lambda: plax.jit(lambda a: a, static_argnums=0, donate_argnums=0), ValueError,
        ("static", "donated")),
    # --- devices and backends
    "unknown backend in jit": Case(lambda: plax.jit(lambda a: a, backend="nope")(1.0),
                                   plax.BackendUnavailableError, ("'nope'", "reference")),
    "unknown backend in devices": Case(lambda: plax.devices("nope"),
                                       plax.BackendUnavailableError, ("'nope'",)),
    "device_put to a non-device": Case(lambda: plax.device_put(x3(), object()), TypeError,
                                       ("device_put", "object")),
    "default_backend unknown": Case(lambda: plax.default_backend("nope").__enter__(),
                                    plax.BackendUnavailableError, ("'nope'",)),
    "use after delete": Case(lambda: (lambda a: (a.delete(), a + 1))(x3()), RuntimeError,
                             ("deleted", "f32[3]", "delete()")),
    # --- config
    "unknown option": Case(lambda: plax.config.update("no_such_option", 1), AttributeError,
                           ("'no_such_option'", "enable_x64")),
    "option type": Case(lambda: plax.config.update("enable_x64", "yes"), TypeError,
                        ("enable_x64", "'yes'")),
    "backend option": Case(lambda: plax.config.update("backend", "nope"),
                           plax.BackendUnavailableError, ("'nope'",)),
    "config attribute assignment": Case(lambda: setattr(plax.config, "enable_x64", True),
                                        AttributeError, ("plax.config.update",)),
    "plugins option type": Case(lambda: plax.config.update("plugins", 3), TypeError,
                                ("plugins", "3")),
    # --- plugins and rules
    "rule not callable": Case(lambda: registry.add_jvp(Primitive("errcat_a"), 3),
                              RegistrationError, ("jvp", "'errcat_a'", "3")),
    "primitive without abstract eval": Case(
        lambda: Primitive("errcat_b").bind(x3()), NotImplementedError,
        ("'errcat_b'", "add_abstract_eval")),
    "jvp rule missing": Case(
        lambda: plax.jvp(_probe_primitive("errcat_c").bind, (x3(),), (x3(),)),
        NotImplementedError, ("'errcat_c'", "add_jvp")),
    "batch rule missing": Case(
        lambda: plax.vmap(_probe_primitive("errcat_d").bind)(m23()), NotImplementedError,
        ("'errcat_d'", "vmap", "add_batch")),
    # --- PRNG keys
    "PRNGKey of a float": Case(lambda: random.PRNGKey(1.5), TypeError, ("seed", "float32")),
    "raw int as a key": Case(lambda: random.normal(3, (2,)), TypeError,
                             ("normal", "key", "i32[]")),
    "wrong key shape": Case(lambda: random.normal(jnp.ones(3, jnp.uint32), (2,)), TypeError,
                            ("normal", "key", "u32[3]")),
    "float key data": Case(lambda: random.uniform(jnp.ones(2), (2,)), TypeError,
                           ("uniform", "key", "f32[2]")),
    "negative sample shape": Case(lambda: random.normal(random.PRNGKey(0), (-1,)),
                                  ValueError, ("(-1,)", "negative")),
    "normal of int dtype": Case(
        lambda: random.normal(random.PRNGKey(0), (2,), dtype=jnp.int32), ValueError,
        ("normal", "int32")),
    "randint of float dtype": Case(
        lambda: random.randint(random.PRNGKey(0), (2,), 0, 10, dtype=jnp.float32), TypeError,
        ("randint", "float32")),
    "split count": Case(lambda: random.split(random.PRNGKey(0), -1), ValueError,
                        ("split", "-1")),
    "choice without replacement": Case(
        lambda: random.choice(random.PRNGKey(0), 3, (5,), replace=False), ValueError,
        ("5", "3", "replace=False")),
    "bernoulli p shape": Case(lambda: random.bernoulli(random.PRNGKey(0), jnp.ones(3), (2,)),
                              ValueError, ("bernoulli", "(3,)", "(2,)")),
    # --- control-flow signatures
    "cond branch shapes": Case(lambda: lax.cond(True, lambda a: a, lambda a: a[0], x3()),
                               TypeError, ("true_fun", "false_fun", "f32[3]", "f32[]")),
    "cond branch dtypes": Case(
        lambda: lax.cond(True, lambda a: a, lambda a: a.astype(jnp.int32), x3()), TypeError,
        ("false_fun", "i32[3]", "dtypes")),
    "cond predicate shape": Case(
        lambda: lax.cond(jnp.ones(2, bool), lambda a: a, lambda a: a, x3()), TypeError,
        ("pred", "(2,)")),
    "while cond not boolean": Case(
        lambda: lax.while_loop(lambda c: c, lambda c: c + 1, 0.0), TypeError,
        ("cond_fun", "boolean", "f32[]")),
    "while cond not scalar": Case(
        lambda: lax.while_loop(lambda c: c < 3, lambda c: c + 1, x3()), TypeError,
        ("cond_fun", "bool[3]")),
    "scan carry type": Case(lambda: lax.scan(lambda c, x: (c * x3(), x), 0.0, x3()),
                            TypeError, ("carry", "f32[]", "f32[3]")),
    "scan lengths": Case(lambda: lax.scan(lambda c, x: (c, x), 0.0, (x3(), jnp.ones(4))),
                         ValueError, ("scan", "3", "4")),
    "scan body not a pair": Case(lambda: lax.scan(lambda c, x: c, 0.0, x3()), TypeError,
                                 ("scan", "pair", "(carry, y)")),
    "scan length argument": Case(lambda: lax.scan(lambda c, x: (c, x), 0.0, x3(), length=5),
                                 ValueError, ("length", "5", "3")),
    "scan over a scalar": Case(lambda: lax.scan(lambda c, x: (c, x), 0.0, 1.0), ValueError,
                               ("leading axis", "f32[]")),
    "fori_loop carry dtype": Case(
        lambda: lax.fori_loop(0, 3, lambda i, c: c + 0.5 * jnp.ones(2),
                              jnp.zeros(2, jnp.int32)), TypeError,
        ("carry", "i32[2]", "f32[2]")),
    "switch index dtype": Case(lambda: lax.switch(1.5, [lambda a: a, lambda a: a], x3()),
                               TypeError, ("switch", "index", "f32[]")),
    "switch branch types": Case(
        lambda: lax.switch(0, [lambda a: a, lambda a: a.sum()], x3()), TypeError,
        ("branch 1", "f32[3]", "f32[]")),
    "switch without branches": Case(lambda: lax.switch(0, [], 1.0), ValueError,
                                    ("switch", "branch")),
    # --- collectives outside their axis
    "psum with no axis": Case(lambda: plax.jit(lambda a: lax.psum(a, "i"))(x3()), NameError,
                              ("axis name", "i", "psum")),
    "psum under another vmap axis": Case(
        lambda: plax.vmap(lambda a: lax.psum(a, "j"), axis_name="i")(x3()), NameError,
        ("axis name", "j", "psum")),
    "axis_index under another axis": Case(
        lambda: plax.vmap(lambda a: a + lax.axis_index("k"), axis_name="i")(x3()), NameError,
        ("axis name", "k", "axis_index")),
    "all_gather under another axis": Case(
        lambda: plax.vmap(lambda a: lax.all_gather(a, "k"), axis_name="i")(x3()), NameError,
        ("all_gather", "'k'")),
    "ppermute permutation range": Case(
        lambda: plax.vmap(lambda a: lax.ppermute(a, "i", [(0, 5)]), axis_name="i")(x3()),
        ValueError, ("ppermute", "(0, 5)", "size 3")),
    "pmap in_axes rank": Case(lambda: plax.pmap(lambda a: a, in_axes=2)(jnp.ones((1, 2))),
                              ValueError, ("axis 2", "(1, 2)")),
}


def check(case: Case) -> None:
    with pytest.raises(case.exc) as info:
        case.fn()
    msg = str(info.value).lower()
    missing = [s for s in case.says if s.lower() not in msg]
    assert not missing, f"message lacks {missing}: {info.value}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_misuse_gets_a_clear_error(name):
    check(CASES[name])


def test_catalogue_has_at_least_60_cases():
    assert len(CASES) >= 60


# Misuse that reaches a compiling backend: the error is plax's, raised before the backend runs
# (not a compiler's message from deep inside it).
BACKEND_CASES = {
    "shapes under jit": Case(lambda: plax.jit(lambda a, b: a + b)(x3(), jnp.ones(4)),
                             ValueError, ("add", "(3,)", "(4,)")),
    "item assignment under jit": Case(
        lambda: plax.jit(lambda a: a.__setitem__(0, 1.0))(x3()), TypeError, (".at[0].set(",)),
    "donated argument reused": Case(
        lambda: (lambda a: (plax.jit(lambda v: v + 1, donate_argnums=0)(a), a + 1))(
            plax.device_put(np.ones(3, np.float32))), RuntimeError,
        ("deleted", "donated", "donate_argnums")),
    "primitive the backend lacks": Case(
        lambda: plax.jit(_probe_primitive("errcat_e").bind)(x3()), UnsupportedPrimitiveError,
        ("errcat_e",)),
    "pmap needs devices": Case(lambda: plax.pmap(lambda a: a)(jnp.ones((99, 2))), ValueError,
                               ("99", "devices")),
    "pmap sizes": Case(lambda: plax.pmap(lambda a, b: a + b)(jnp.ones((1, 2)),
                                                            jnp.ones((2, 2))),
                       ValueError, ("pmap", "inconsistent", "[1, 2]")),
    "collective under jit": Case(lambda: plax.jit(lambda a: lax.pmean(a, "z"))(x3()),
                                 NameError, ("axis name", "z")),
}


# Not on the reference backend: the probe primitive has a reference implementation by
# construction, the reference backend keeps donated buffers (donation is a hint), and its pmap
# is a vmap over one host device of any size.
DEVICE_ONLY = {"primitive the backend lacks", "donated argument reused", "pmap needs devices",
               "pmap sizes"}
BACKEND_PARAMS = [(n, b) for n in sorted(BACKEND_CASES) for b in installed_backends()
                  if not (n in DEVICE_ONLY and b == "reference")]


@pytest.mark.parametrize("name,backend_name", BACKEND_PARAMS)
def test_misuse_on_each_backend(name, backend_name):
    with plax.default_backend(backend_name):
        check(BACKEND_CASES[name])


def test_item_assignment_hint_beats_jax():
    # JAX's message gives the .at[] form in general; plax's repeats the user's own index
    with pytest.raises(TypeError) as info:
        m23()[1, ::2] = 0.0
    assert "x.at[1, ::2].set(" in str(info.value)
    assert re.search(r"\bf32\[2,3\]", str(info.value))
