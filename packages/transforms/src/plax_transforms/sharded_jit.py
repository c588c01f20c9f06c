"""`jit(f, in_shardings=..., out_shardings=...)`: the arguments are placed by `in_shardings`
before the call (so the program is partitioned over their mesh) and constrained to them inside
it (under grad/vmap, where they are traced), and the outputs are constrained to
`out_shardings` (XLA's partitioner then gives them that layout, with no gather).

A committed argument laid out over several devices otherwise than `in_shardings` says is an
error naming it and both shardings (as JAX's); an uncommitted one is moved. On a backend other
than the shardings' (the reference), the placement is skipped and the constraints change
nothing: the same program runs on one device with the same values."""

from __future__ import annotations

import functools
import weakref

from plax import lax
from plax.extend import Tracer, registry
from plax.tree_util import tree_flatten, tree_unflatten


def _backend_name(s) -> str | None:
    d = next(iter(s.device_set), None)
    return getattr(d, "backend_name", None)


class _Shared:
    """The traces and programs of `jit(f, in_shardings=..., out_shardings=...)`, shared by every
    such wrapper of `f` with the same options; it holds `f` weakly (the wrappers hold it)."""

    def __init__(self, fun_ref, in_shardings, out_shardings, static_argnums, jit_kwargs):
        from plax_transforms.jit import jit
        self._fun_ref, self.in_shardings, self.out_shardings = fun_ref, in_shardings, \
            out_shardings
        self.static = tuple(static_argnums) if isinstance(static_argnums, (tuple, list)) \
            else (static_argnums,) if isinstance(static_argnums, int) else ()
        self._backend = jit_kwargs.get("backend")
        self._jitted = jit(self._body, static_argnums=static_argnums, **jit_kwargs)

    @property
    def fun(self):
        return self._fun_ref()

    def _dynamic(self, args):
        n = len(args)
        static = {i % n for i in self.static if -n <= i < n}
        return [i for i in range(n) if i not in static]

    def _in_per_leaf(self, args):
        """[(argument position, leaf position, sharding)] for every dynamic leaf."""
        dyn = self._dynamic(args)
        values = tuple(args[i] for i in dyn)
        s = self.in_shardings
        if not isinstance(s, (tuple, list)) or len(dyn) == 1 and not (
                isinstance(s, (tuple, list)) and len(s) == 1):
            s = (s,) * len(dyn) if not isinstance(s, (tuple, list)) else (s,)
        if len(s) != len(dyn):
            raise ValueError(f"jit({getattr(self.fun, '__name__', 'fun')}): in_shardings has "
                             f"{len(s)} entries for {len(dyn)} (non-static) arguments")
        return dyn, values, s

    def _body(self, *args, **kwargs):
        if self.in_shardings is not None:
            dyn, values, s = self._in_per_leaf(args)
            args = list(args)
            for i, sub, v in zip(dyn, s, values):
                if sub is not None:
                    args[i] = lax.with_sharding_constraint(v, sub)
        out = self.fun(*args, **kwargs)
        if self.out_shardings is not None:
            out = lax.with_sharding_constraint(out, self.out_shardings)
        return out

    def _place(self, args):
        """Concrete arguments put where `in_shardings` says (when the call runs on the
        shardings' backend)."""
        if self.in_shardings is None:
            return args
        dyn, values, s = self._in_per_leaf(args)
        run_on = registry.get_backend(self._backend).name
        args = list(args)
        for i, sub, v in zip(dyn, s, values):
            if sub is not None:
                args[i] = _place_tree(v, sub, run_on, (self, i))
        return tuple(args)

    def arg_name(self, i: int) -> str:
        import inspect
        name = getattr(self.fun, "__name__", "fun")
        try:
            params = list(inspect.signature(self.fun).parameters.values())
            if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY,
                                                      params[i].POSITIONAL_OR_KEYWORD):
                return f"argument '{params[i].name}' (position {i}) of {name}"
        except (TypeError, ValueError):
            pass
        return f"argument {i} of {name}"

    def __call__(self, *args, **kwargs):
        return self._jitted(*self._place(args), **kwargs)


class ShardedJit:
    """The callable `jit(f, in_shardings=..., out_shardings=...)` returns."""

    def __init__(self, fun, shared: _Shared):
        self.fun, self._shared = fun, shared
        functools.update_wrapper(self, fun, updated=())

    def __call__(self, *args, **kwargs):
        return self._shared(*args, **kwargs)

    def lower(self, *args, **kwargs):
        sh = self._shared
        return sh._jitted.lower(*sh._place(args), **kwargs)

    def trace(self, *args, **kwargs):
        return self._shared._jitted.trace(*args, **kwargs)

    def clear_cache(self):
        self._shared._jitted.clear_cache()

    def __repr__(self):
        return f"<jit({getattr(self.fun, '__name__', 'fun')}, sharded)>"


def _place_tree(v, s, run_on: str, where_arg=None):
    import plax
    from plax.sharding import NamedSharding, PartitionSpec, Sharding, get_mesh
    if isinstance(s, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(f"jit in_shardings: a bare PartitionSpec {s!r} needs a mesh; use "
                             "NamedSharding(mesh, spec) or a `with mesh:` block")
        s = NamedSharding(mesh, s)
    if isinstance(s, Sharding):
        leaves, tree = tree_flatten(v)
        placed = []
        for leaf in leaves:
            where = leaf.backend if getattr(leaf, "committed", False) else run_on
            if isinstance(leaf, Tracer) or _backend_name(s) != where:
                placed.append(leaf)
            else:
                _check_committed(leaf, s, where_arg)
                placed.append(plax.device_put(leaf, s))
        return tree_unflatten(tree, placed)
    if s is None:
        return v
    if isinstance(v, (tuple, list)) and isinstance(s, (tuple, list)) and len(v) == len(s):
        return type(v)(_place_tree(a, b, run_on, where_arg) for a, b in zip(v, s))
    if isinstance(v, dict) and isinstance(s, dict) and set(v) == set(s):
        return {k: _place_tree(v[k], s[k], run_on, where_arg) for k in v}
    raise ValueError(f"jit in_shardings: {s!r} does not match the argument's structure")


def _check_committed(leaf, s, where_arg) -> None:
    """A committed Array over several devices laid out otherwise than `s`: an error (as JAX's:
    an explicit layout is not silently changed); a one-device or uncommitted one is moved."""
    if not getattr(leaf, "committed", False):
        return
    have = leaf.sharding
    if len(have.device_set) < 2 or have == s:
        return
    if have.device_set == s.device_set and have.is_equivalent_to(s, leaf.ndim):
        return
    what = where_arg[0].arg_name(where_arg[1]) if where_arg is not None else "an argument"
    raise ValueError(
        f"jit: the sharding in in_shardings does not match the sharding of {what} "
        f"({leaf.aval.str_short()}), a committed Array: in_shardings has {s!r}, the argument "
        f"{have!r}. Move it first (plax.device_put(x, sharding)) or change in_shardings")


# function -> {(shardings, options): ShardedJit}: `jit(f, in_shardings=s)` made again (in a
# loop, say) reuses the first one's traces and programs, as JAX keys its caches on both
_by_fun: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sharded_jit(fun, in_shardings, out_shardings, static_argnums, jit_kwargs) -> ShardedJit:
    try:
        key = (in_shardings, out_shardings, static_argnums, tuple(sorted(jit_kwargs.items())))
        per_fun = _by_fun.setdefault(fun, {})
        shared = per_fun.get(key)
    except TypeError:  # unhashable shardings (a dict of them), or no weak reference to fun
        return ShardedJit(fun, _Shared(lambda: fun, in_shardings, out_shardings,
                                       static_argnums, jit_kwargs))
    if shared is None:
        shared = per_fun[key] = _Shared(weakref.ref(fun), in_shardings, out_shardings,
                                        static_argnums, jit_kwargs)
    return ShardedJit(fun, shared)
