"""checkify: errors as a functional value (as JAX's `jax.experimental.checkify`).

`checkify(f, errors)` traces f to a jaxpr and evaluates it again equation by equation, adding,
at every site an enabled check applies to (out-of-bounds gather/scatter/dynamic-slice indices,
NaN outputs, integer division by zero, user `check`s), a flag and a payload to an `Error` pytree
that f's checked version returns beside its output. Everything is bound through plax ops, so
checkify composes with jit, vmap and grad on either side; control flow carries the flags.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from plax._src import dtypes, registry, tree_util
from plax._src.backend import EAGER_ONLY
from plax._src.records import FrozenRecord
from plax._src.core import (
    EVAL_TRACE, ClosedJaxpr, Literal, Primitive, Tracer, current_trace, literal_value)

__all__ = ["DivisionByZeroError", "Error", "ErrorCategory", "JaxRuntimeError", "NaNError",
           "OutOfBoundsError", "check_error", "init_error",
           "check", "debug_check", "checkify", "user_checks", "nan_checks",
           "index_checks", "div_checks", "float_checks", "automatic_checks", "all_checks"]

user_checks = frozenset({"user"})
nan_checks = frozenset({"nan"})
index_checks = frozenset({"index"})
div_checks = frozenset({"div"})
float_checks = nan_checks | div_checks
automatic_checks = float_checks | index_checks
all_checks = automatic_checks | user_checks


class JaxRuntimeError(RuntimeError):
    """What `Error.throw()` raises (and `check` outside checkify, eagerly)."""


class OutOfBoundsError(JaxRuntimeError, IndexError):
    """A failed index check: also an IndexError, as the eager checks of the `checks` option
    raise."""


class DivisionByZeroError(JaxRuntimeError, ZeroDivisionError):
    """A failed integer-division check: also a ZeroDivisionError, as the eager checks raise."""


class NaNError(JaxRuntimeError, FloatingPointError):
    """A failed NaN check: also a FloatingPointError, as debug_nans raises."""


_EXCEPTIONS = {"index": OutOfBoundsError, "div": DivisionByZeroError, "nan": NaNError,
               "user": JaxRuntimeError}


# ---------------------------------------------------------------------------------------------
# The user check primitive: `check(pred, msg, *fmt_args)`

check_p = Primitive("check", multiple_results=True, effectful=True)


def check(pred, msg: str, *fmt_args, **fmt_kwargs) -> None:
    """Fail with `msg.format(*fmt_args, **fmt_kwargs)` where `pred` is False: eagerly at once,
    under `checkify` as part of its Error, under jit with plax.config 'checks' on after the
    call; elsewhere under jit the backend refuses it with a clear error."""
    _check_or_bind(*_operands("check", pred, msg, fmt_args, fmt_kwargs))


def _operands(name: str, pred, msg, fmt_args, fmt_kwargs):
    """([pred, *format leaves], params) of a check call, its msg checked."""
    if not isinstance(msg, str):
        raise TypeError(f"{name}: msg must be a string, got {type(msg).__name__}")
    leaves, tree = tree_util.tree_flatten((fmt_args, fmt_kwargs))
    return [pred, *leaves], dict(msg=msg, tree=tree)


def _concrete(*xs) -> bool:
    """Values outside any trace: a check reached eagerly (also through a jvp or batch rule)."""
    return current_trace() is EVAL_TRACE and not any(isinstance(x, Tracer) for x in xs)


def _check_or_bind(args: list, params: dict) -> None:
    """Concrete values are checked at once; anything else binds `check_p`."""
    if _concrete(*args):
        _check_impl(*args, **params)
        return
    check_p.bind(*args, **params)


def _format(msg: str, tree, values) -> str:
    args, kwargs = tree_util.tree_unflatten(tree, [v.item() if v.size == 1 else v
                                                   for v in values])
    return msg.format(*args, **kwargs)


_USER_SUFFIX = " (`check` failed)"  # what JAX appends to a failed user check's message


def _check_impl(pred, *args, msg, tree):
    # reached eagerly with values (through a transformation's rule, or an eager control-flow
    # body): the check itself; every compiled program refuses it (EAGER_ONLY below)
    if not np.all(np.asarray(pred)):
        raise JaxRuntimeError(_format(msg, tree, [np.asarray(x) for x in args]) + _USER_SUFFIX)
    return []


EAGER_ONLY[check_p.name] = (
    "'check' is checkify's check: inside a compiled program it needs checkify "
    "(plax.checkify.checkify(f), then err.throw()), or plax.config 'checks' on, which "
    "checkifies a jitted function called directly")


# ---------------------------------------------------------------------------------------------
# `debug_check(pred, msg, *fmt_args)`: a check only under checkify, dropped everywhere else

# effectful: traced programs keep it (checkify of a jitted function finds it); every backend
# runs and compiles it to nothing (the xla and cupy plugins register their no-op rules)
debug_check_p = Primitive("debug_check", multiple_results=True, effectful=True)


def debug_check(pred, msg: str, *fmt_args, **fmt_kwargs) -> None:
    """A check that `checkify` turns into an error (as `check`) and that is dropped otherwise:
    eagerly, under jit or any other transformation without checkify it does nothing, as
    JAX's `checkify.debug_check`."""
    _debug_check_bind(*_operands("debug_check", pred, msg, fmt_args, fmt_kwargs))


def _debug_check_bind(args: list, params: dict) -> None:
    if not _concrete(*args):  # eagerly, outside checkify: dropped
        debug_check_p.bind(*args, **params)


def _register(prim, bind, impl) -> None:
    """The rules of a check primitive (`bind([pred, *leaves], params)`: check or trace it):
    boolean pred, no outputs; its jvp checks the primals, its batch rule the whole batch."""
    def abstract_eval(pred, *args, msg, tree):
        if pred.dtype.kind not in "biu":
            raise TypeError(f"{prim.name}: pred must be a boolean, got {pred.str_short()}")
        return []

    def jvp(primals, tangents, **params):
        bind(list(primals), params)
        return [], []

    def batch(args, dims, **params):
        from plax import numpy as jnp
        # the check holds when it holds for every example: batch axes move to the front
        bind([x if d is None else jnp.moveaxis(x, d, 0) for x, d in zip(args, dims)], params)
        return [], []

    # core primitives, whichever plugin's registration first imports this module (the xla
    # plugin's lowering of debug_check does)
    with registry._owning(registry.CORE_OWNER):
        registry.add_abstract_eval(prim, abstract_eval)
        registry.add_impl("reference", prim, impl)
        registry.add_jvp(prim, jvp)
        registry.add_batch(prim, batch)


_register(check_p, _check_or_bind, _check_impl)
_register(debug_check_p, _debug_check_bind, lambda *args, msg, tree: [])


# ---------------------------------------------------------------------------------------------
# The Error value


class _Site(FrozenRecord):
    kind: str   # "user", "nan", "index", "div"
    msg: str    # a str.format template over the payload values
    tree: Any   # the payload's tree (user checks: their (args, kwargs))


class Error:
    """The errors a checkified function found: per check site, a flag (batched under vmap)
    and the payload its message is formatted with. A pytree (it crosses jit and vmap)."""

    def __init__(self, sites: tuple, flags: tuple, payloads: tuple):
        self._sites, self._flags, self._payloads = sites, flags, payloads

    def get(self) -> str | None:
        """The first failure's message (in program order), or None when nothing failed."""
        first = self._first()
        return None if first is None else first[1]

    def _first(self) -> tuple[_Site, str] | None:
        for site, flag, payload in zip(self._sites, self._flags, self._payloads):
            f = np.asarray(flag)
            if not f.any():
                continue
            where = ""
            if f.ndim:  # batched by vmap: report the first failing example
                i = tuple(int(k) for k in np.argwhere(f)[0])
                where = f"at mapped index {i[0] if len(i) == 1 else i}: "  # (JAX's prefix)
                vals = [np.asarray(p)[i] for p in payload]
            else:
                vals = [np.asarray(p) for p in payload]
            text = _format(site.msg, site.tree, vals)
            return site, where + text + (_USER_SUFFIX if site.kind == "user" else "")
        return None

    def get_exception(self) -> JaxRuntimeError | None:
        """The first failure as a JaxRuntimeError (for index, division and NaN checks a
        subclass that is also an IndexError, ZeroDivisionError, FloatingPointError)."""
        first = self._first()
        return None if first is None else _EXCEPTIONS[first[0].kind](first[1])

    def throw(self) -> None:
        """Raise JaxRuntimeError with the first failure's message, if any."""
        exc = self.get_exception()
        if exc is not None:
            raise exc

    def __repr__(self):
        msg = self.get() if all(not isinstance(f, Tracer) for f in self._flags) else "<traced>"
        return f"Error({msg if msg is not None else 'no error'})"


tree_util.register_pytree_node(
    Error, lambda e: ((e._flags, e._payloads), e._sites),
    lambda sites, ch: Error(sites, tuple(ch[0]), tuple(tuple(p) for p in ch[1])))

# the Error of no check (as JAX's checkify.init_error)
init_error = Error((), (), ())

# what the error sets (user_checks, nan_checks, ...) hold: plax names the kinds of check
ErrorCategory = str


def check_error(error: Error) -> None:
    """Raise `error`'s first failure, if any (as `err.throw()`); under checkify (or inside a
    function that checkify, jit or vmap traces) its failures become checks of the function
    being traced, so that a checkified function can re-raise an Error it was given."""
    if not isinstance(error, Error):
        raise TypeError(f"check_error: expected a checkify Error, got {type(error).__name__}")
    leaves = [*error._flags, *(x for p in error._payloads for x in p)]
    if current_trace() is EVAL_TRACE and not any(isinstance(x, Tracer) for x in leaves):
        error.throw()
        return
    from plax._src.lax import elementwise as ew
    for site, flag, payload in zip(error._sites, error._flags, error._payloads):
        _check_or_bind([ew.bitwise_not(flag), *payload], dict(msg=site.msg, tree=site.tree))


# ---------------------------------------------------------------------------------------------
# The checking interpreter


class _Checker:
    """Evaluates jaxprs through `bind`, recording one state (flag, payload) per check site."""

    def __init__(self, errors: frozenset):
        self.errors = errors
        self.sites: list[_Site] = []
        self.states: list[tuple] = []   # (flag, payload tuple) per site

    def add(self, site: _Site, bad, payload=()) -> None:
        from plax import numpy as jnp
        self.sites.append(site)
        self.states.append((jnp.any(bad), tuple(payload)))

    # --- evaluation
    def eval_jaxpr(self, jaxpr, consts, args) -> list:
        env: dict = {}

        def read(v):
            return literal_value(v) if type(v) is Literal else env[v]

        env.update(zip(jaxpr.constvars, consts))
        env.update(zip(jaxpr.invars, args))
        for eqn in jaxpr.eqns:
            ins = [read(v) for v in eqn.invars]
            outs = self.eval_eqn(eqn.primitive, ins, eqn.params)
            env.update(zip(eqn.outvars, outs))
        return [read(v) for v in jaxpr.outvars]

    def eval_eqn(self, prim, ins, params) -> list:
        rule = _STRUCTURED.get(prim.name)
        if rule is not None:
            return rule(self, ins, **params)
        if prim is check_p or prim is debug_check_p:
            if "user" in self.errors:
                self._user(ins, **params)
            return []
        out = prim.bind(*ins, **params)
        outs = list(out) if prim.multiple_results else [out]
        if "index" in self.errors and prim.name in _INDEX_RULES:
            _INDEX_RULES[prim.name](self, prim.name, ins, params)
        if "div" in self.errors and prim.name in ("div", "rem"):
            self._div(prim.name, ins)
        if "nan" in self.errors:
            self._nan(prim.name, outs)
        return outs

    # --- check kinds
    def _user(self, ins, msg, tree):
        from plax import numpy as jnp
        pred, *vals = ins
        bad = jnp.logical_not(jnp.asarray(pred).astype(bool))
        first = jnp.argmax(jnp.ravel(bad))
        picked = []
        for v in vals:
            v = jnp.asarray(v)
            picked.append(jnp.ravel(v)[first] if v.size == bad.size and v.size > 1 else v)
        self.add(_Site("user", msg, tree), bad, picked)

    def _nan(self, name, outs):
        from plax import numpy as jnp
        for o in outs:
            aval = getattr(o, "aval", None)
            if aval is not None and dtypes.is_inexact(aval.dtype):
                self.add(_Site("nan", f"nan generated by primitive: {name}", _NO_ARGS),
                         jnp.isnan(o))

    def _div(self, name, ins):
        from plax import numpy as jnp
        x, y = ins
        if np.dtype(jnp.result_type(y)).kind in "iu":
            self.add(_Site("div", f"division by zero in '{name}'", _NO_ARGS), y == 0)

    def index_site(self, name, idx, axis: int, size: int, hi: int, shape) -> None:
        """`idx` (any shape) must lie in [0, hi] for operand `axis` of length `size`."""
        from plax import numpy as jnp
        idx = jnp.asarray(idx)
        bad = (idx < 0) | (idx > hi)
        flat = jnp.ravel(idx)
        payload = [flat[jnp.argmax(jnp.ravel(bad))].astype(np.int32)] if flat.size else \
            [jnp.zeros((), np.int32)]
        valid = f"0 to {hi}" if hi >= 0 else "none"
        msg = (f"out-of-bounds index {{}} for axis {axis} of size {size} in '{name}' "
               f"(operand shape {tuple(shape)}; valid start indices: {valid})")
        self.add(_Site("index", msg, _ONE_ARG), bad, payload)

    # --- sub-jaxprs
    def discover(self, jaxpr: ClosedJaxpr, avals) -> "_Checker":
        """The sites `jaxpr` has under these checks (a trace that only collects them)."""
        from plax._src.tracing import trace_to_jaxpr
        child = _Checker(self.errors)

        def flat(*xs):
            outs = child.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, xs)
            return outs + [f for f, _ in child.states] + [p for _, ps in child.states
                                                          for p in ps]
        trace_to_jaxpr(flat, list(avals), name="checkify")
        return child


_NO_ARGS = tree_util.tree_structure(((), {}))
_ONE_ARG = tree_util.tree_structure(((0,), {}))


def _aval(x):
    from plax._src.core import get_aval
    return get_aval(x)


def _empty_states(sites) -> list:
    """All-clear states for `sites` (payloads zero, of each site's payload avals)."""
    out = []
    for _, avals in sites:
        out.append((np.bool_(False), tuple(np.zeros(a.shape, a.dtype) for a in avals)))
    return out


def _site_avals(child: _Checker) -> list:
    return [(s, tuple(_aval(p) for p in ps)) for s, (_, ps) in zip(child.sites, child.states)]


def _merge(old, new):
    """First failure wins: a site's payload is kept from the first time its flag went up."""
    from plax import numpy as jnp
    (f0, p0), (f1, p1) = old, new
    return (jnp.logical_or(f0, f1),
            tuple(jnp.where(f0, a, b) for a, b in zip(p0, p1)))


def _flatten_states(states) -> list:
    return [f for f, _ in states] + [p for _, ps in states for p in ps]


def _unflatten_states(sites, flat) -> list:
    n = len(sites)
    flags, rest = list(flat[:n]), list(flat[n:])
    out = []
    for flag, (_, avals) in zip(flags, sites):
        out.append((flag, tuple(rest[:len(avals)])))
        rest = rest[len(avals):]
    return out


def _adopt(checker: _Checker, sites, states) -> None:
    for (site, _), st in zip(sites, states):
        checker.sites.append(site)
        checker.states.append(st)


def _jit_rule(checker, ins, *, jaxpr, **_):
    # a nested jit is evaluated inline: its checks join the enclosing function's
    return checker.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, ins)


def _cond_rule(checker, ins, *, branches):
    from plax import lax
    index, *ops = ins
    avals = [_aval(x) for x in ops]
    per_branch = [_site_avals(checker.discover(br, avals)) for br in branches]
    union = [s for sites in per_branch for s in sites]
    n_out = len(branches[0].jaxpr.outvars)

    def branch_fn(k, br):
        def run(*xs):
            child = _Checker(checker.errors)
            outs = child.eval_jaxpr(br.jaxpr, br.consts, xs)
            states = []
            for j, sites in enumerate(per_branch):
                states += child.states if j == k else _empty_states(sites)
            return outs + _flatten_states(states)
        return run

    res = lax.switch(index, [branch_fn(k, br) for k, br in enumerate(branches)], *ops)
    _adopt(checker, union, _unflatten_states(union, res[n_out:]))
    return res[:n_out]


def _scan_rule(checker, ins, *, jaxpr, num_consts, num_carry, length, reverse, **params):
    from plax import lax
    consts, carry, xs = ins[:num_consts], ins[num_consts:num_consts + num_carry], \
        ins[num_consts + num_carry:]
    avals = [_aval(x) for x in consts + carry]
    avals += [_x_aval(x) for x in xs]
    sites = _site_avals(checker.discover(jaxpr, avals))

    def body(c, x):
        c, st = c
        child = _Checker(checker.errors)
        outs = child.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, [*consts, *c, *x])
        merged = [_merge(o, n) for o, n in zip(_unflatten_states(sites, st), child.states)]
        return (outs[:num_carry], _flatten_states(merged)), outs[num_carry:]

    init = (list(carry), _flatten_states(_empty_states(sites)))
    (c, st), ys = lax.scan(body, init, list(xs), length=length, reverse=reverse)
    _adopt(checker, sites, _unflatten_states(sites, st))
    return [*c, *ys]


def _x_aval(x):
    from plax._src.core import ShapedArray
    a = _aval(x)
    return ShapedArray(a.shape[1:], a.dtype, a.weak_type)


def _while_rule(checker, ins, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    from plax import lax
    from plax._src.core import eval_jaxpr
    cconsts, bconsts = ins[:cond_nconsts], ins[cond_nconsts:cond_nconsts + body_nconsts]
    init = ins[cond_nconsts + body_nconsts:]
    sites = _site_avals(checker.discover(body_jaxpr, [_aval(x) for x in bconsts + init]))

    def cond_fun(c):
        return eval_jaxpr(cond_jaxpr.jaxpr, cond_jaxpr.consts, *cconsts, *c[0])[0]

    def body_fun(c):
        vals, st = c
        child = _Checker(checker.errors)
        outs = child.eval_jaxpr(body_jaxpr.jaxpr, body_jaxpr.consts, [*bconsts, *vals])
        merged = [_merge(o, n) for o, n in zip(_unflatten_states(sites, st), child.states)]
        return list(outs), _flatten_states(merged)

    out, st = lax.while_loop(cond_fun, body_fun,
                             (list(init), _flatten_states(_empty_states(sites))))
    _adopt(checker, sites, _unflatten_states(sites, st))
    return list(out)


_STRUCTURED: dict[str, Callable] = {"jit": _jit_rule, "cond": _cond_rule, "scan": _scan_rule,
                                    "while": _while_rule}


# --- index rules: the start indices each indexing primitive takes, against its bounds

def _gather_index(checker, name, ins, params):
    operand, indices = ins
    shape = _aval(operand).shape
    dn, sizes = params["dimension_numbers"], params["slice_sizes"]
    for k, axis in enumerate(dn.start_index_map):
        checker.index_site(name, indices[..., k], axis, shape[axis],
                           shape[axis] - sizes[axis], shape)


def _scatter_index(checker, name, ins, params):
    operand, indices, updates = ins[:3]
    shape, ushape = _aval(operand).shape, _aval(updates).shape
    dn = params["dimension_numbers"]
    window_axes = [d for d in range(len(shape)) if d not in dn.inserted_window_dims
                   and d not in dn.operand_batching_dims]
    window = dict(zip(window_axes, (ushape[d] for d in dn.update_window_dims)))
    for k, axis in enumerate(dn.scatter_dims_to_operand_dims):
        checker.index_site(name, indices[..., k], axis, shape[axis],
                           shape[axis] - window.get(axis, 1), shape)


def _dynamic_slice_index(checker, name, ins, params):
    operand, *starts = ins
    shape = _aval(operand).shape
    for axis, (s, size) in enumerate(zip(starts, params["slice_sizes"])):
        checker.index_site(name, s, axis, shape[axis], shape[axis] - size, shape)


def _dynamic_update_slice_index(checker, name, ins, params):
    operand, update, *starts = ins
    shape, ushape = _aval(operand).shape, _aval(update).shape
    for axis, s in enumerate(starts):
        checker.index_site(name, s, axis, shape[axis], shape[axis] - ushape[axis], shape)


_INDEX_RULES: dict[str, Callable] = {
    "gather": _gather_index, "dynamic_slice": _dynamic_slice_index,
    "dynamic_update_slice": _dynamic_update_slice_index,
    **{n: _scatter_index for n in ("scatter", "scatter-add", "scatter-mul", "scatter-min",
                                   "scatter-max")}}


# ---------------------------------------------------------------------------------------------
# checkify


def checkify(fun: Callable, errors: frozenset = user_checks) -> Callable:
    """`checkify(f, errors)(*args)` is `(err, f(*args))`: `err` an Error recording the enabled
    checks that failed (`err.get()`, `err.throw()`); composes with jit, vmap and grad."""
    if not callable(fun):
        raise TypeError(f"checkify expects a callable, got {fun!r}")
    errors = frozenset(errors)
    unknown = errors - all_checks
    if unknown:
        raise ValueError(f"checkify: unknown error kinds {sorted(unknown)}; use "
                         "plax.checkify.{user,nan,index,div,float,automatic,all}_checks")

    def checked(*args, **kwargs):
        from plax._src.api import make_jaxpr
        closed, shapes = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
        leaves = tree_util.tree_leaves((args, kwargs))
        checker = _Checker(errors)
        outs = checker.eval_jaxpr(closed.jaxpr, closed.consts, leaves)
        out = tree_util.tree_unflatten(tree_util.tree_structure(shapes), outs)
        flags = tuple(f for f, _ in checker.states)
        payloads = tuple(p for _, p in checker.states)
        return Error(tuple(checker.sites), flags, payloads), out

    checked.__name__ = f"checkify({getattr(fun, '__name__', 'fun')})"
    checked.__wrapped__ = fun
    return checked
