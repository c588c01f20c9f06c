"""Typed PRNG keys (JAX's new style): `random.key(seed)` is a `key<fry>[]` array, a thin pytree
over its uint32[..., 2] threefry data (`key<rbg>`, `key<urbg>`: uint32[..., 4] data of JAX's rbg
and unsafe_rbg implementations). Its dtype is `key<tag>` (a subtype of plax.dtypes.prng_key);
indexing, len, iteration and reshape act on the key axes; jit, vmap and grad see the data as the
one leaf (the implementation is static). `random.key_data` unwraps, `random.wrap_key_data`
wraps."""

from __future__ import annotations

import threading

import numpy as np

from plax._src import tree_util

IMPL = "threefry2x32"
TAGS = {"threefry2x32": "fry", "rbg": "rbg", "unsafe_rbg": "urbg"}  # JAX's tags


class KeyDtype:
    """The dtype of typed keys of one implementation, printed `key<tag>` (JAX's tag: fry,
    rbg, urbg)."""

    _plax_key_dtype = True

    def __init__(self, impl: str = IMPL):
        self.impl = impl
        self.name = f"key<{TAGS[impl]}>"
        self.itemsize = 8 if impl == IMPL else 16

    @property
    def type(self):
        from plax.dtypes import prng_key
        return prng_key

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        if isinstance(other, KeyDtype):
            return other.impl == self.impl
        return other == self.name

    def __hash__(self):
        return hash(self.name)


KEY_DTYPES = {impl: KeyDtype(impl) for impl in TAGS}
KEY_DTYPE = KEY_DTYPES[IMPL]


class PRNGKeyArray:
    """An array of typed keys: shape `data.shape[:-1]`, dtype key<tag> of its implementation."""

    __slots__ = ("_data", "impl", "_consumed")

    def __init__(self, data, impl: str = IMPL):
        self._data = data
        self.impl = impl
        self._consumed = False  # the key-reuse checker's: True, or a bool mask of the shape

    shape = property(lambda self: tuple(self._data.shape[:-1]))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(__import__("math").prod(self.shape)))
    dtype = property(lambda self: KEY_DTYPES[self.impl])

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a single key)")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, idx):
        idx = idx if isinstance(idx, tuple) else (idx,)
        if any(i is Ellipsis for i in idx):
            raise IndexError("typed key arrays do not support Ellipsis indexing")
        out = PRNGKeyArray(self._data[idx], self.impl)
        from plax._src.config import config
        if config.debug_key_reuse:  # as JAX's slice: the indexed keys are consumed
            try:
                mask = np.zeros(self.shape, bool)
                mask[idx] = True
            except (TypeError, IndexError):  # a traced index: not tracked (JAX: a forward)
                return out
            consume("slice", self, mask)
        return out

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return PRNGKeyArray(self._data.reshape(tuple(shape) + self._data.shape[-1:]),
                            self.impl)

    def ravel(self):
        return self.reshape(-1)

    def __array__(self, *args, **kwargs):
        raise TypeError("a typed key array has no NumPy form; use plax.random.key_data(keys)")

    def __repr__(self):
        return f"Array({self.shape}, dtype={self.dtype}) overlaying:\n{self._data!r}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._data,), k.impl),
                               lambda impl, children: PRNGKeyArray(children[0], impl))


# ---------------------------------------------------------------------------------------------
# The key-reuse checker (config.debug_key_reuse, JAX's jax_debug_key_reuse). Each typed key
# array records whether it was consumed (by a sampler, split, bits, indexing); consuming it
# again raises KeyReuseError. Keys are Python objects around their data, so the same tracking
# works eagerly and while tracing: jit records which key arguments its function consumed and
# consumes them at each call, vmap consumes the keys its function consumed, and scan, fori_loop
# and while_loop refuse a body that consumes a key from outside the body (a constant, consumed
# again at every iteration) or returns a consumed key as its carry.

# JAX's names for the consuming functions in its messages: its samplers are jitted functions
_JAX_NAMES = {"split": "random_split", "slice": "slice"}
_loops = threading.local()  # .outer: the traces enclosing the loop bodies being traced


def _error(msg: str):
    from plax._src.errors import KeyReuseError
    return KeyReuseError(msg + "\nSee https://docs.jax.dev/en/latest/errors.html"
                               "#jax.errors.KeyReuseError")


def _staged(key) -> bool:
    from plax._src.tracing import JaxprTracer
    return isinstance(key._data, JaxprTracer)


def consume(name: str, key: PRNGKeyArray, mask=True, index: int = 0) -> None:
    """Marks `key` (the keys of `mask`) consumed by `name`; KeyReuseError if already."""
    outer = getattr(_loops, "outer", None)
    if outer:
        from plax._src.core import Tracer
        d = key._data
        if not isinstance(d, Tracer) or any(d._trace is t for t, _ in outer):
            what = outer[-1][1]
            why = (": " if what.startswith("while_loop") else
                   ", because key constants are repeatedly consumed: ")
            raise _error(f"{what} body function leads to key reuse when repeatedly executed"
                         f"{why}a key from outside the loop body is consumed by {name}")
    c = key._consumed
    if c is True or np.any(c & mask):
        if _staged(key):
            fn = "jit" if name not in _JAX_NAMES else _JAX_NAMES[name]
            raise _error(f"In {fn}, argument {index} is already consumed.")
        fn = _JAX_NAMES.get(name, "jit-compiled function")
        raise _error(f"Previously-consumed key passed to {fn} at index {index}")
    key._consumed = True if mask is True else c | mask


def _is_key(x) -> bool:
    return isinstance(x, PRNGKeyArray)


is_key = _is_key


def key_leaves(tree) -> list:
    """The leaves of `tree` with typed key arrays as leaves (one leaf each, as they flatten)."""
    return tree_util.tree_flatten(tree, is_leaf=_is_key)[0]


def consumed_positions(tree) -> tuple[int, ...]:
    """The leaf positions of the typed keys in `tree` (as `key_leaves`) that were consumed."""
    return tuple(i for i, k in enumerate(key_leaves(tree))
                 if _is_key(k) and np.any(k._consumed))


def consume_positions(tree, positions, name: str = "jit") -> None:
    """Consumes the typed keys of `tree` at `positions` (a call of a function that consumed
    them): KeyReuseError naming the argument index for one consumed already."""
    leaves = key_leaves(tree)
    for i in positions:
        if i < len(leaves) and _is_key(leaves[i]):
            consume(name, leaves[i], index=i)


def sink_through(outer, inner, name: str = "jit") -> None:
    """A transformation's arguments `outer` whose inner counterparts (`inner`, the same tree)
    its function consumed are consumed."""
    consume_positions(outer, consumed_positions(inner), name)


def checked_loop_body(body, what: str, carry_of=None, box: list | None = None):
    """`body` traced with consumption of outside keys refused (they would be consumed at
    every iteration), and a carry output key that was consumed refused. `carry_of(out)`
    picks the carry from the body's output (None: the output is the carry); `box` gets the
    positions (as `consumed_positions(args)`) of the argument keys the body consumed."""
    from plax._src.core import current_trace
    outer = current_trace()

    def checked(*args):
        stack = getattr(_loops, "outer", None)
        if stack is None:
            stack = _loops.outer = []
        stack.append((outer, what))
        try:
            out = body(*args)
        finally:
            stack.pop()
        if box is not None:
            box.append(consumed_positions(args))
        carry = out if carry_of is None else carry_of(out)
        bad = consumed_positions(carry)
        if bad:
            # a carry passed through unchanged is a loop constant (as JAX, which hoists it)
            ins = key_leaves(args[0]) if args else []
            outs = key_leaves(carry)
            const = len(ins) == len(outs) and all(outs[i] is ins[i] for i in bad)
            why = (": " if what.startswith("while_loop") else
                   ", because key constants are repeatedly consumed: " if const else
                   ", because consumed inputs don't match sourced outputs: ")
            raise _error(f"{what} body function leads to key reuse when repeatedly executed"
                         f"{why}a carry key consumed in the body is returned as the next "
                         "carry")
        return out
    return checked
