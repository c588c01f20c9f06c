"""XLA tokens (plax.lax.create_token, after_all and their primitives) against JAX: jaxpr text,
values, tokens through jit's arguments and results, the StableHLO lowering (token-typed
arguments and results), vmap (tokens are never batched) and grad (no tangent), on every
installed backend."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import HAVE_JAX, assert_close, requires_jax

import plax
import plax.numpy as pnp
from plax import lax
from plax.extend import AbstractToken, Token, abstract_token

if HAVE_JAX:
    import jax
    import jax.numpy as jnp


def _threaded(mod, lx):
    """A function of an array and a token: a value and a token after both tokens."""
    def f(x, t):
        t2 = lx.after_all(t, lx.create_token())
        return mod.sin(x) * 2.0, t2
    return f


@requires_jax
@pytest.mark.parametrize("name", ["create", "join", "arg", "closed", "nested_jit"])
def test_jaxpr_text_matches_jax(name):
    pt, jt = lax.create_token(), jax.lax.create_token()
    cases = {
        "create": (lambda lx, t: (lambda: lx.create_token()), ()),
        "join": (lambda lx, t: (lambda x: (x * 2.0, lx.after_all(lx.create_token(),
                                                                lx.create_token()))), (1.0,)),
        "arg": (lambda lx, t: (lambda a, b, c, x: (lx.after_all(a, b, c), x)), "toks"),
        "closed": (lambda lx, t: (lambda x: (t, x)), (1.0,)),
        "nested_jit": (lambda lx, t: (lambda t, x: (lx.after_all(t), x + 1.0)), "tok"),
    }
    make, args = cases[name]
    pargs = {"toks": (pt, pt, pt, 1.0), "tok": (pt, 1.0)}.get(args, args)
    jargs = {"toks": (jt, jt, jt, 1.0), "tok": (jt, 1.0)}.get(args, args)
    pf, jf = make(lax, pt), make(jax.lax, jt)
    if name == "nested_jit":
        pf, jf = plax.jit(pf), jax.jit(jf)
    assert str(plax.make_jaxpr(pf)(*pargs)) == str(jax.make_jaxpr(jf)(*jargs))


def test_values_and_types(backend):
    t = lax.create_token()
    assert type(t) is Token and t.aval is abstract_token and AbstractToken() is abstract_token
    assert type(lax.after_all(t, lax.create_token())) is Token
    assert type(lax.after_all()) is Token  # no operands: a fresh token (as JAX's)
    assert type(lax.create_token(3)) is Token  # the argument is ignored (as JAX's)
    assert t.block_until_ready() is None
    assert plax.tree_util.tree_leaves((t, [t])) == [t, t]  # a pytree leaf
    assert plax.eval_shape(lambda t: lax.after_all(t), t) is abstract_token
    assert plax.device_put(t) is t
    plax.make_jaxpr(_threaded(pnp, lax))(1.0, t).check()  # the checker knows Tok
    assert lax.create_token_p.name == "create_token" and lax.after_all_p.name == "after_all"
    assert str(plax.make_jaxpr(lambda: lax.create_token_p.bind())()) == \
        "{ lambda ; . let a:Tok = create_token  in (a,) }"
    with pytest.raises(TypeError, match="after_all: arguments must be tokens"):
        lax.after_all(t, pnp.ones(2))
    with pytest.raises(TypeError, match="must be tokens"):
        plax.jit(lambda x: lax.after_all(x))(1.0)


def test_jit_takes_and_returns_tokens(backend):
    t = lax.create_token()
    f = plax.jit(lambda t, x: (lax.after_all(t), x + 1.0))
    for _ in range(3):  # the cached path too
        tok, y = f(t, pnp.arange(3.0))
        assert type(tok) is Token
        assert_close(y, np.arange(3.0) + 1)
    compiled = f.lower(t, pnp.ones(2)).compile()  # ahead of time
    tok, y = compiled(t, pnp.ones(2))
    assert type(tok) is Token
    assert_close(y, np.full(2, 2.0))
    assert type(plax.jit(lambda t: t)(t)) is Token
    assert type(plax.jit(lambda: lax.create_token())()) is Token
    # a token made inside and returned next to Arrays (never on the Array-only hot path)
    g = plax.jit(lambda x: (lax.create_token(), x * 2.0))
    for _ in range(3):
        tok, y = g(pnp.ones(2))
        assert type(tok) is Token and type(y) is plax.Array
        assert_close(y, np.full(2, 2.0))
    # closed over, nested, and in a pytree
    h = plax.jit(lambda d: {"t": lax.after_all(d["t"], t), "v": plax.jit(
        lambda x, t: (x - 1.0, lax.after_all(t)))(d["v"], d["t"])[0]})
    out = h({"t": t, "v": pnp.ones(3)})
    assert type(out["t"]) is Token
    assert_close(out["v"], np.zeros(3))


@requires_jax
def test_lowering_matches_jax():
    from plax_xla import _jaxlib  # noqa: F401  (the xla backend is installed)
    pt, jt = lax.create_token(), jax.lax.create_token()

    def f(lx):
        return lambda t, x: (lx.after_all(t, lx.create_token()), x + 1.0)

    with plax.default_backend("xla"):
        ptext = plax.jit(f(lax)).lower(pt, 1.0).as_text()
    jtext = jax.jit(f(jax.lax)).lower(jt, 1.0).as_text()
    sig = "@main(%arg0: !stablehlo.token, %arg1: tensor<f32>) -> (!stablehlo.token"
    assert sig in ptext and sig in jtext
    for op in ("stablehlo.create_token", "stablehlo.after_all %arg0, %0"):
        assert op in ptext and op in jtext
    with plax.default_backend("xla"):
        ptext = plax.jit(lambda: lax.create_token()).lower().as_text()
    assert "@main() -> !stablehlo.token" in ptext


@requires_jax
def test_vmap_tokens_are_unbatched(backend):
    t = lax.create_token()
    x = np.arange(3.0, dtype=np.float32)
    # made and used inside: the jaxpr as JAX's
    pf = lambda x: (lax.after_all(lax.create_token()), x * 2.0)[1]  # noqa: E731
    jf = lambda x: (jax.lax.after_all(jax.lax.create_token()), x * 2.0)[1]  # noqa: E731
    assert str(plax.make_jaxpr(plax.vmap(pf))(x)) == str(jax.make_jaxpr(jax.vmap(jf))(x))
    assert_close(plax.vmap(pf)(x), jax.vmap(jf)(x))
    # a token out with out_axes None (as JAX), in with in_axes None, closed over
    tok, y = plax.vmap(lambda x: (lax.create_token(), x * 2.0), out_axes=(None, 0))(x)
    assert type(tok) is Token
    assert_close(y, x * 2)
    tok, y = plax.vmap(lambda t, x: (lax.after_all(t), x * 2.0), in_axes=(None, 0),
                       out_axes=(None, 0))(t, x)
    assert type(tok) is Token
    assert_close(y, x * 2)
    assert_close(plax.vmap(lambda x: (lax.after_all(t), x + 1.0)[1])(x), x + 1)
    # through a jitted function
    tok, y = plax.vmap(plax.jit(lambda x: (lax.create_token(), x * 2.0)),
                       out_axes=(None, 0))(x)
    assert type(tok) is Token
    assert_close(y, x * 2)
    # mapping a token is refused, naming it (JAX fails too)
    with pytest.raises(ValueError, match="tokens are never batched"):
        plax.vmap(lambda t, x: x, in_axes=(0, 0))(t, x)
    with pytest.raises(ValueError, match="tokens are never batched"):
        plax.vmap(lambda x: (lax.create_token(), x))(x)


@requires_jax
def test_grad_of_a_function_threading_a_token(backend):
    pt, jt = lax.create_token(), jax.lax.create_token()
    pf, jf = _threaded(pnp, lax), _threaded(jnp, jax.lax)
    # the token as a non-differentiated argument and returned as aux
    g, tok = plax.grad(pf, has_aux=True)(1.0, pt)
    assert type(tok) is Token
    assert_close(g, jax.grad(jf, has_aux=True)(1.0, jt)[0])
    assert_close(plax.grad(lambda x, t: pf(x, t)[0])(0.3, pt),
                 jax.grad(lambda x, t: jf(x, t)[0])(0.3, jt))
    # made inside, through jit
    pg = plax.grad(lambda x: plax.jit(pf)(x, lax.create_token())[0])
    jg = jax.grad(lambda x: jax.jit(jf)(x, jax.lax.create_token())[0])
    assert_close(pg(0.7), jg(0.7))
    assert_close(plax.jit(pg)(0.7), jg(0.7))
    # the jaxpr of grad keeps the token equations (as JAX's)
    eqns = plax.make_jaxpr(plax.grad(pf, has_aux=True))(1.0, pt).jaxpr.eqns
    assert [e.primitive.name for e in eqns[:2]] == ["create_token", "after_all"]
    # jvp: the token's tangent is a token
    (y, tok), (ty, ttok) = plax.jvp(lambda x: pf(x, lax.create_token()), (1.0,), (1.0,))
    assert type(tok) is Token and type(ttok) is Token
    assert_close(ty, 2 * np.cos(1.0))
    # no tangent space: differentiating with respect to a token is refused, naming it
    with pytest.raises(TypeError, match="token"):
        plax.grad(lambda x, t: pf(x, t)[0], argnums=1)(1.0, pt)
    with pytest.raises(TypeError, match="token"):
        plax.vjp(lambda x: pf(x, lax.create_token()), 1.0)[1]((1.0, lax.create_token()))
