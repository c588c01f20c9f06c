"""Shared checks for the rule tests (test_rules_*.py): one `Case` is a lax program written once
against a lax module, run as plax and, where importable, as JAX; its derivatives are checked
against finite differences and JAX, its vmap against a Python loop, its jit against eager."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import plax
import plax.lax as plax_lax
from plax.extend import get_aval
from plax.test_util import check_grads

from conftest import HAVE_JAX, assert_close
from helpers import eager_on_reference  # autouse; re-exported for the test_rules_* files

if HAVE_JAX:
    import jax
    import jax.lax as jax_lax


@dataclass
class Case:
    """`fn(L, *args)` with L a lax module; `make(rng)` gives fresh valid args (float and index
    arrays); `diff` lists the argument positions that are differentiated."""
    name: str
    fn: Callable
    make: Callable
    diff: tuple = (0,)
    order: int = 2
    atol: float | None = None
    rtol: float | None = None
    jax_ok: bool = True  # False where JAX itself cannot run the comparison

    def __repr__(self):
        return self.name

    def plax_fn(self, *args):
        return self.fn(plax_lax, *args)

    def jax_fn(self, *args):
        return self.fn(jax_lax, *args)


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _close(a, b, rtol=2e-5, atol=2e-5):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb)
    for u, v in zip(la, lb, strict=True):
        u, v = np.asarray(u), np.asarray(v)
        if v.dtype.kind == "V":  # JAX's float0 tangent of an integer output: plax gives zeros
            assert u.shape == v.shape and not u.any()
            continue
        assert_close(u, v, rtol=rtol, atol=atol)


def _ones_like(x):
    a = get_aval(x)
    return np.ones(a.shape, a.dtype)


def _partial(fn, args, diff):
    """fn of the differentiated args only, the others (indices) fixed."""
    def f(*d):
        full = list(args)
        for i, v in zip(diff, d, strict=True):
            full[i] = v
        return fn(*full)
    return f, tuple(args[i] for i in diff)


def run_grads(case: Case, rng):
    args = case.make(rng)
    f, d = _partial(case.plax_fn, args, case.diff)
    check_grads(f, d, order=case.order, modes=("fwd", "rev"), atol=case.atol, rtol=case.rtol)


def _random_like(rng, x):
    x = np.asarray(x)
    v = rng.standard_normal(x.shape)
    if x.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(x.shape)
    return v.astype(x.dtype)


def run_against_jax(case: Case, rng, args=None, rtol=2e-5, atol=2e-5):
    """plax.jvp, plax.vjp (random tangents and cotangents), plax.jacfwd and plax.jacrev equal
    JAX's. The JAX side is one jitted function: eagerly, the many small ops of a scan take JAX
    seconds, and one compilation per case is cheaper than four."""
    if not case.jax_ok:
        pytest.skip(f"JAX cannot differentiate {case.name} itself")
    args = case.make(rng) if args is None else args
    fp, d = _partial(case.plax_fn, args, case.diff)
    fj, _ = _partial(case.jax_fn, args, case.diff)
    tans = tuple(_random_like(rng, x) for x in d)
    out_shape = jax.eval_shape(fj, *d)
    cts = [_random_like(rng, np.zeros(o.shape, o.dtype)) for o in _leaves(out_shape)]

    def like(out):  # plax returns tuples where JAX may return lists
        return type(out)(cts) if isinstance(out, (tuple, list)) else cts[0]

    # whole Jacobians: vmap over a basis of tangents (jacfwd) or of cotangents (jacrev);
    # JAX's Jacobians of complex inputs need holomorphic=True (a different thing), and
    # jax.jacrev refuses integer outputs
    nums = tuple(range(len(d)))
    jacs = []
    if not any(np.asarray(x).dtype.kind == "c" for x in d):
        jacs.append((plax.jacfwd, jax.jacfwd))
        if not any(np.dtype(o.dtype).kind in "biu" for o in _leaves(out_shape)):
            jacs.append((plax.jacrev, jax.jacrev))

    def jax_all(p, t, ct):
        out, t_out = jax.jvp(fj, p, t)
        return out, t_out, jax.vjp(fj, *p)[1](ct), [jj(fj, argnums=nums)(*p) for _, jj in jacs]

    out_j, t_j, ct_j, jac_j = jax.jit(jax_all)(d, tans, like(out_shape))
    out_p, t_p = plax.jvp(fp, d, tans)
    _close(out_p, out_j, rtol, atol)
    _close(t_p, t_j, rtol, atol)
    _close(plax.vjp(fp, *d)[1](like(out_p)), ct_j, rtol, atol)
    for (pj, _), want in zip(jacs, jac_j, strict=True):
        _close(pj(fp, argnums=nums)(*d), want, rtol, atol)


def in_axes_specs(args):
    """in_axes to try: all 0, all last, and mixes with None (keeping one mapped)."""
    n = len(args)
    specs = [(0,) * n, tuple(-1 if np.ndim(a) else 0 for a in args),
             tuple(1 if np.ndim(a) else 0 for a in args)]
    if n > 1:
        for k in range(n):  # only argument k mapped; and all but k mapped
            only = tuple(0 if i == k else None for i in range(n))
            allbut = tuple(None if i == k else (1 if np.ndim(args[i]) >= 1 else 0)
                           for i in range(n))
            specs += [only, allbut]
    out = []
    for s in specs:
        if s not in out and any(a is not None for a in s):
            out.append(s)
    return out


def _stack(rng, make, in_axes, size):
    samples = [make(rng) for _ in range(size)]
    first = samples[0]
    batched = []
    for i, ax in enumerate(in_axes):
        if ax is None:
            batched.append(first[i])
        else:
            batched.append(np.stack([np.asarray(s[i]) for s in samples], axis=ax))
    per_example = [tuple(first[i] if ax is None else s[i] for i, ax in enumerate(in_axes))
                   for s in samples]
    return batched, per_example


def _stack_outs(outs):
    if isinstance(outs[0], (tuple, list)):
        return [_stack_outs([o[k] for o in outs]) for k in range(len(outs[0]))]
    return np.stack([np.asarray(o) for o in outs])


def run_vmap(case: Case, rng, size=3, with_jax=True):
    """vmap (of the function, of its jvp and of its vjp) against a Python loop, for several
    in_axes; and jit(vmap) against vmap."""
    proto = case.make(rng)
    specs = in_axes_specs(proto)
    for k, in_axes in enumerate(specs):
        batched, examples = _stack(rng, case.make, in_axes, size)
        got = plax.vmap(case.plax_fn, in_axes=in_axes)(*batched)
        want = _stack_outs([case.plax_fn(*ex) for ex in examples])
        _close(got, want)
        # JAX too, for the first and the last (a None mix) spec: a compile each
        if with_jax and HAVE_JAX and k in (0, len(specs) - 1):
            _close(got, jax.jit(jax.vmap(case.jax_fn, in_axes=in_axes))(*batched))

    # jvp and vjp under vmap (batching of the rules' own output), all arguments mapped
    in_axes = (0,) * len(proto)
    batched, examples = _stack(rng, case.make, in_axes, size)

    def jvp_fn(*args):
        f, d = _partial(case.plax_fn, args, case.diff)
        return plax.jvp(f, d, tuple(lax_sin(x) for x in d))[1]

    def vjp_fn(*args):
        f, d = _partial(case.plax_fn, args, case.diff)
        out, f_vjp = plax.vjp(f, *d)
        if isinstance(out, (tuple, list)):
            return f_vjp(type(out)(lax_cos(o) for o in out))
        return f_vjp(lax_cos(out))

    for fn in (jvp_fn, vjp_fn):
        got = plax.vmap(fn)(*batched)
        want = _stack_outs([fn(*ex) for ex in examples])
        _close(got, want, rtol=1e-4, atol=1e-5)
    _close(plax.jit(plax.vmap(case.plax_fn))(*batched), plax.vmap(case.plax_fn)(*batched))


def lax_sin(x):
    a = get_aval(x)
    return plax_lax.sin(x) if np.issubdtype(a.dtype, np.inexact) else x


def lax_cos(x):
    a = get_aval(x)
    return plax_lax.cos(x) if np.issubdtype(a.dtype, np.inexact) else x


def run_jit(case: Case, rng):
    """On the current backend: jit of the function, jit of its vjp, and jit of a vjp taken
    through an inner jit call, against eager results of the reference backend."""
    args = case.make(rng)
    f, d = _partial(case.plax_fn, args, case.diff)

    def vjp_all(*d, f=f):
        out, f_vjp = plax.vjp(f, *d)
        if isinstance(out, (tuple, list)):
            return f_vjp(type(out)(_ones_like(o) for o in out))
        return f_vjp(_ones_like(out))

    with plax.default_backend("reference"):
        want_out, want_ct = case.plax_fn(*args), vjp_all(*d)
    _close(plax.jit(case.plax_fn)(*args), want_out, rtol=1e-5, atol=1e-6)
    _close(plax.jit(vjp_all)(*d), want_ct, rtol=1e-5, atol=1e-6)
    inner = plax.jit(f)
    _close(plax.jit(lambda *d: vjp_all(*d, f=inner))(*d), want_ct, rtol=1e-5, atol=1e-6)


__all__ = ["Case", "eager_on_reference", "in_axes_specs", "run_against_jax", "run_grads",
           "run_jit", "run_vmap"]
