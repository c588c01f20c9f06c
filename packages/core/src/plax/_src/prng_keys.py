"""Typed PRNG keys (JAX's new style): `random.key(seed)` is a `key<fry>[]` array, a thin pytree
over its uint32[..., 2] threefry data (`key<rbg>`, `key<urbg>`: uint32[..., 4] data of JAX's rbg
and unsafe_rbg implementations). Its dtype is `key<tag>` (a subtype of plax.dtypes.prng_key);
indexing, len, iteration and reshape act on the key axes; jit, vmap and grad see the data as the
one leaf (the implementation is static). `random.key_data` unwraps, `random.wrap_key_data`
wraps."""

from __future__ import annotations

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

    __slots__ = ("_data", "impl")

    def __init__(self, data, impl: str = IMPL):
        self._data = data
        self.impl = impl

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
        return PRNGKeyArray(self._data[idx], self.impl)

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
