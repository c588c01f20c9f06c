"""Typed PRNG keys (JAX's new style): `random.key(seed)` is a `key<fry>[]` array, a thin pytree
over its uint32[..., 2] threefry data. Its dtype is `key<fry>` (a subtype of
plax.dtypes.prng_key); indexing, len, iteration and reshape act on the key axes; jit, vmap and
grad see the data as the one leaf. `random.key_data` unwraps, `random.wrap_key_data` wraps."""

from __future__ import annotations

from plax._src import tree_util

IMPL = "threefry2x32"


class KeyDtype:
    """The dtype of typed threefry keys, printed `key<fry>`."""

    _plax_key_dtype = True
    name = "key<fry>"
    impl = IMPL
    itemsize = 8

    @property
    def type(self):
        from plax.dtypes import prng_key
        return prng_key

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, KeyDtype) or other == self.name

    def __hash__(self):
        return hash(self.name)


KEY_DTYPE = KeyDtype()


class PRNGKeyArray:
    """An array of typed keys: shape `data.shape[:-1]`, dtype key<fry>."""

    __slots__ = ("_data",)

    def __init__(self, data):
        self._data = data

    shape = property(lambda self: tuple(self._data.shape[:-1]))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(__import__("math").prod(self.shape)))
    dtype = property(lambda self: KEY_DTYPE)

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
        return PRNGKeyArray(self._data[idx])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return PRNGKeyArray(self._data.reshape(tuple(shape) + (2,)))

    def ravel(self):
        return self.reshape(-1)

    def __array__(self, *args, **kwargs):
        raise TypeError("a typed key array has no NumPy form; use plax.random.key_data(keys)")

    def __repr__(self):
        return f"Array({self.shape}, dtype={KEY_DTYPE}) overlaying:\n{self._data!r}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._data,), None),
                               lambda _, children: PRNGKeyArray(children[0]))
