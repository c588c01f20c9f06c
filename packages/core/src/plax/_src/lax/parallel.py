"""The collectives (psum pmean pmax pmin all_gather ppermute axis_index psum_scatter all_to_all):
primitives that name a mapped axis, and the user functions `plax.lax.psum` ... built on them.

Under vmap/pmap with that axis name the batch trace resolves them (a reduction or data movement
over the batch axis: the rules are plax-transforms' collective rules); a backend with several
devices lowers them to real collectives. Evaluated outside any mapped axis they raise, naming it.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from plax._src.core import Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval, add_composition
from plax._src.tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "ppermute", "axis_index", "psum_p",
           "pmax_p", "pmin_p", "all_gather_p", "ppermute_p", "axis_index_p", "psum_scatter",
           "all_to_all", "psum_scatter_p", "all_to_all_p", "axis_size", "pbroadcast",
           "pbroadcast_p", "pshuffle", "pswapaxes", "pcast", "pcast_p", "ragged_all_to_all",
           "ragged_all_to_all_p"]

psum_p = Primitive("psum", multiple_results=True, linear_in=(0,))
pmax_p = Primitive("pmax", multiple_results=True)
pmin_p = Primitive("pmin", multiple_results=True)
all_gather_p = Primitive("all_gather")
ppermute_p = Primitive("ppermute", linear_in=(0,))
axis_index_p = Primitive("axis_index")
# both in their tiled form (a dimension divided / multiplied by the axis size); the user
# functions add and remove the unit dimension of the untiled form
psum_scatter_p = Primitive("psum_scatter", linear_in=(0,))
all_to_all_p = Primitive("all_to_all", linear_in=(0,))
# member `source`'s value on every member (XLA's CollectiveBroadcast)
pbroadcast_p = Primitive("pbroadcast", linear_in=(0,))
# the identity on values: marks a value as varying over the axes (shard_map's replication check)
pcast_p = Primitive("pcast", linear_in=(0,))
# slices of the operand's leading axis sent to other members, written into `output`
ragged_all_to_all_p = Primitive("ragged_all_to_all", linear_in=(0, 1))

COLLECTIVES = (psum_p, pmax_p, pmin_p, all_gather_p, ppermute_p, axis_index_p, psum_scatter_p,
               all_to_all_p, pbroadcast_p, pcast_p, ragged_all_to_all_p)


# axis sizes known while a mapped function is traced (shard_map's body: its mesh axes), so a
# collective whose shape depends on the size (all_gather ...) gets it even inside a nested jit
_sizes = threading.local()


@contextlib.contextmanager
def known_axis_sizes(sizes: dict):
    stack = _sizes.__dict__.setdefault("stack", [])
    stack.append(dict(sizes))
    try:
        yield
    finally:
        stack.pop()


def _size_params(name) -> dict:
    for sizes in reversed(getattr(_sizes, "stack", ())):
        if name in sizes:
            return {"axis_size": sizes[name]}
    return {}


def axis_names(axis_name) -> tuple:
    """A collective's axis name(s) as a tuple."""
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def unbound_axis_error(prim, names) -> NameError:
    return NameError(f"unbound axis name: {names[0] if len(names) == 1 else names} "
                     f"(in '{prim.name}'); collectives must run inside pmap or vmap with "
                     "axis_name set to that name")


def psum(x, axis_name, *, axis_index_groups=None):
    """Sum `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    outs = psum_p.bind(*leaves, axes=axis_names(axis_name), axis_index_groups=axis_index_groups)
    return tree_unflatten(tree, outs)


def pmean(x, axis_name, *, axis_index_groups=None):
    """Mean of `x` (a pytree) over the mapped axis `axis_name`."""
    from plax._src.lax import elementwise as ew
    n = psum(1, axis_name)
    return tree_map(lambda s: ew.div(s, ew.convert_element_type(n, get_aval(s).dtype)),
                    psum(x, axis_name, axis_index_groups=axis_index_groups))


def pmax(x, axis_name, *, axis_index_groups=None):
    """Maximum of `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, pmax_p.bind(*leaves, axes=axis_names(axis_name),
                                            axis_index_groups=axis_index_groups))


def pmin(x, axis_name, *, axis_index_groups=None):
    """Minimum of `x` (a pytree) over the mapped axis `axis_name`."""
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, pmin_p.bind(*leaves, axes=axis_names(axis_name),
                                            axis_index_groups=axis_index_groups))


def all_gather(x, axis_name, *, axis_index_groups=None, axis=0, tiled=False):
    """Every member's `x` stacked along `axis` (concatenated when `tiled`)."""
    name = axis_names(axis_name)[0]
    return tree_map(lambda v: all_gather_p.bind(v, axis_name=name,
                                                all_gather_dimension=int(axis),
                                                tiled=bool(tiled), **_size_params(name)), x)


def ppermute(x, axis_name, perm):
    """Send member s's `x` to member d for each (s, d) in `perm` (zeros where none arrives)."""
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute perm must not repeat a source or a destination: {perm}")
    return tree_map(lambda v: ppermute_p.bind(v, axis_name=axis_names(axis_name)[0],
                                              perm=perm), x)


def psum_scatter(x, axis_name, *, scatter_dimension=0, axis_index_groups=None, tiled=False):
    """The sum of `x` over the axis, split along `scatter_dimension`: member i keeps block i
    (untiled: that dimension's size must be the axis size, and it is removed)."""
    from plax._src.lax import structural as st
    if axis_index_groups is not None:
        raise NotImplementedError("psum_scatter with axis_index_groups")
    d = int(scatter_dimension)

    def one(v):
        name = axis_names(axis_name)[0]
        out = psum_scatter_p.bind(v, axis_name=name, scatter_dimension=d, **_size_params(name))
        if tiled:
            return out
        shape = get_aval(out).shape
        return st.reshape(out, shape[:d] + shape[d + 1:])
    return tree_map(one, x)


def all_to_all(x, axis_name, split_axis, concat_axis, *, axis_index_groups=None, tiled=False):
    """Member i splits `x` along `split_axis` into one block per member and sends block j to
    member j, which concatenates what it receives along `concat_axis` in member order
    (untiled: the split dimension's size is the axis size; it is removed and a dimension of
    that size is inserted at `concat_axis`)."""
    from plax._src.lax import structural as st
    if axis_index_groups is not None:
        raise NotImplementedError("all_to_all with axis_index_groups")
    split_axis, concat_axis = int(split_axis), int(concat_axis)

    def one(v):
        name = axis_names(axis_name)[0]
        size = _size_params(name)
        if tiled:
            return all_to_all_p.bind(v, axis_name=name, split_axis=split_axis,
                                     concat_axis=concat_axis, **size)
        shape = get_aval(v).shape
        v = st.reshape(v, shape[:concat_axis] + (1,) + shape[concat_axis:])
        s = split_axis + (1 if concat_axis <= split_axis else 0)
        out = all_to_all_p.bind(v, axis_name=name, split_axis=s, concat_axis=concat_axis,
                                **size)
        oshape = get_aval(out).shape
        return st.reshape(out, oshape[:s] + oshape[s + 1:])
    return tree_map(one, x)


def axis_index(axis_name):
    """This member's index along the mapped axis `axis_name`; for a tuple of names, the index
    in their product, the last name minor (as JAX)."""
    names = axis_names(axis_name)
    if len(names) == 1:
        return axis_index_p.bind(axis_name=names[0])
    from plax._src.lax import elementwise as ew
    index, inner = np.int32(0), 1
    for name in reversed(names):
        index = ew.add(index, ew.mul(axis_index_p.bind(axis_name=name), inner))
        inner = inner * axis_size(name)  # an int where the size is known, else a value
    return index


def axis_size(axis_name) -> int:
    """The size of the mapped axis `axis_name` (the product of the sizes for a tuple of
    names): a Python int where the size is known while tracing (shard_map, pmap), else the
    value `psum(1, axis_name)`."""
    names = axis_names(axis_name)
    sizes = [_size_params(n).get("axis_size") or _trace_axis_size(n) for n in names]
    if all(s is not None for s in sizes):
        out = 1
        for s in sizes:
            out *= int(s)
        return out
    return psum(1, axis_name)


def _trace_axis_size(name):
    """The size of the mapped axis `name` from the enclosing traces (a vmap's or pmap's trace
    carries its axis_name and axis_size), or None."""
    from plax._src.core import current_trace
    trace = current_trace()
    while trace is not None:
        if getattr(trace, "axis_name", None) == name:
            size = getattr(trace, "axis_size", None)
            return size if isinstance(size, int) else None
        trace = getattr(trace, "parent", None)
    return None


def _single_name(axis_name, what: str):
    names = axis_names(axis_name)
    if len(names) != 1:
        raise NotImplementedError(f"{what} over several axes {names}: give one axis name")
    return names[0]


def pbroadcast(x, axis_name, source):
    """Member `source`'s `x` (a pytree) on every member of the axis (XLA's
    CollectiveBroadcast; the same values as psum of `x` masked to member `source`)."""
    name = _single_name(axis_name, "pbroadcast")
    source = int(source)
    size = _size_params(name).get("axis_size")
    if source < 0 or (size is not None and source >= size):
        raise ValueError(f"pbroadcast: source {source} is not an index of axis '{name}'"
                         + (f" of size {size}" if size is not None else ""))
    return tree_map(lambda v: pbroadcast_p.bind(v, axis_name=name, source=source), x)


def pshuffle(x, axis_name, perm):
    """`ppermute` with the permutation given as sources: member i gets member perm[i]'s
    `x`; `perm` must hold every index of the axis once."""
    perm = [int(p) for p in perm]
    if set(perm) != set(range(len(perm))):
        raise ValueError(f"`perm` does not represent a permutation: {perm}")
    return ppermute(x, axis_name, list(zip(perm, range(len(perm)))))


def pswapaxes(x, axis_name, axis, *, axis_index_groups=None):
    """Swap the mapped axis `axis_name` with the array axis `axis` (whose size must be the
    axis size): `all_to_all(x, axis_name, axis, axis)`."""
    return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)


def pcast(x, axis_name, *, to: str):
    """Cast `x` (a pytree) between the replication types of shard_map: `to="varying"` marks a
    value equal on every member as varying over `axis_name` (JAX's pvary); the values do not
    change, and the cotangent is summed over the axes. plax has no reduced/unreduced types."""
    if isinstance(axis_name, (set, frozenset)):
        raise TypeError(f"axis_name={axis_name} must be a tuple or a str. Got {axis_name}")
    axes = axis_names(axis_name)
    if not axes:
        return x
    allowed = ("varying", "reduced", "unreduced")
    if to not in allowed:
        raise ValueError(f"Got unexpected `to` value {to!r}. Allowed `to` values are: "
                         f"{set(allowed)}")
    if to != "varying":
        raise NotImplementedError(f"pcast(to={to!r}): plax's shard_map has no reduced or "
                                  "unreduced types; only to='varying' is supported")
    return tree_map(lambda v: pcast_p.bind(v, axes=axes, to=to), x)


def ragged_all_to_all(operand, output, input_offsets, send_sizes, output_offsets, recv_sizes,
                      *, axis_name, axis_index_groups=None):
    """The ragged `all_to_all` (as jax.lax.ragged_all_to_all): the K slots of the offset and
    size arrays are split into one block per member; slot k sends
    `operand[input_offsets[k]:][:send_sizes[k]]` to member k // (K / axis size), which writes
    it into its `output` at row `output_offsets[k]` (the sender's value); a receiver writes
    `recv_sizes[k]` rows for slot k of its own arrays. Rows nobody writes keep `output`."""
    if axis_index_groups is not None:
        raise NotImplementedError("ragged_all_to_all with axis_index_groups")
    name = _single_name(axis_name, "ragged_all_to_all")
    args = (operand, output, input_offsets, send_sizes, output_offsets, recv_sizes)
    # checked here too: under vmap with this axis the collective rule sees no abstract eval
    _ragged_abstract(*[get_aval(a) for a in args], axis_name=name, **_size_params(name))
    return ragged_all_to_all_p.bind(operand, output, input_offsets, send_sizes, output_offsets,
                                    recv_sizes, axis_name=name, **_size_params(name))


def ragged_receive(operands, output, input_offsets, send_sizes, output_offsets, recv_sizes,
                   member):
    """What member `member` of a ragged_all_to_all holds afterwards, from every member's
    operand, input and output offsets (leading axis: the members) and its own `output` and
    `recv_sizes`. Written with plax operations: the rules of every backend use it."""
    import plax.numpy as pnp
    from plax._src.lax import elementwise as ew
    from plax._src.lax import slice_ops as sl
    operands, output = pnp.asarray(operands), pnp.asarray(output)
    n, k = get_aval(input_offsets).shape
    per = k // n
    m = get_aval(output).shape[0]
    start = ew.mul(ew.convert_element_type(member, np.int32), np.int32(per))
    dst = sl.dynamic_slice_in_dim(ew.convert_element_type(output_offsets, np.int32), start,
                                  per, axis=1).reshape(k)
    src = sl.dynamic_slice_in_dim(ew.convert_element_type(input_offsets, np.int32), start,
                                  per, axis=1).reshape(k)
    size = ew.convert_element_type(recv_sizes, np.int32)
    sender = np.repeat(np.arange(n, dtype=np.int32), per)
    rows = np.arange(m, dtype=np.int32)
    hit = (rows[None, :] >= dst[:, None]) & (rows[None, :] < (dst + size)[:, None])
    slot = pnp.argmax(hit, axis=0)
    row = pnp.clip(src[slot] + rows - dst[slot], 0, get_aval(operands).shape[1] - 1)
    got = operands[pnp.asarray(sender)[slot], row]
    mask = pnp.any(hit, axis=0).reshape((m,) + (1,) * (get_aval(output).ndim - 1))
    return pnp.where(mask, got, output)


def _pbroadcast_composition(x, *, axis_name, source):
    """On devices: the psum of `x` masked to member `source` (as JAX documents it)."""
    from plax._src.lax import elementwise as ew
    from plax._src.lax import structural as st
    here = ew.eq(axis_index_p.bind(axis_name=axis_name), np.int32(source))
    aval = get_aval(x)
    masked = ew.select(st.broadcast_in_dim(here, aval.shape, ()), x,
                       st.full(aval.shape, 0, aval.dtype))
    return psum_p.bind(masked, axes=(axis_name,), axis_index_groups=None)[0]


def _ragged_composition(operand, output, input_offsets, send_sizes, output_offsets,
                        recv_sizes, *, axis_name, axis_index_groups=None, axis_size=None):
    """On devices: gather every member's operand and offsets, then write this member's rows."""
    _need_size("ragged_all_to_all", axis_name, axis_size)

    def gather(v):
        return all_gather_p.bind(v, axis_name=axis_name, all_gather_dimension=0, tiled=False,
                                 axis_size=axis_size)
    return ragged_receive(gather(operand), output, gather(input_offsets), send_sizes,
                          gather(output_offsets), recv_sizes,
                          axis_index_p.bind(axis_name=axis_name))


# --- abstract evaluation: shape-preserving except all_gather and axis_index ----------------
def _multi_same(*avals, axes, axis_index_groups=None):
    return list(avals)


def _all_gather_abstract(x, *, axis_name, all_gather_dimension, tiled, axis_size=None):
    if axis_size is None:
        raise NameError(f"all_gather over axis '{axis_name}' needs the axis size, known only "
                        "inside pmap/vmap with that axis_name")
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= axis_size
    else:
        shape.insert(all_gather_dimension, axis_size)
    return ShapedArray(tuple(shape), x.dtype)


def _ppermute_abstract(x, *, axis_name, perm):
    return x


def _need_size(prim, axis_name, axis_size):
    if axis_size is None:
        raise NameError(f"{prim} over axis '{axis_name}' needs the axis size, known only "
                        "inside pmap/vmap/shard_map with that axis_name")


def _psum_scatter_abstract(x, *, axis_name, scatter_dimension, axis_size=None):
    _need_size("psum_scatter", axis_name, axis_size)
    d = scatter_dimension
    if not 0 <= d < len(x.shape) or x.shape[d] % axis_size:
        raise ValueError(f"psum_scatter: dimension {d} of {x.str_short()} must exist and be "
                         f"divisible by the size {axis_size} of axis '{axis_name}'")
    shape = list(x.shape)
    shape[d] //= axis_size
    return ShapedArray(tuple(shape), x.dtype)


def _all_to_all_abstract(x, *, axis_name, split_axis, concat_axis, axis_size=None):
    _need_size("all_to_all", axis_name, axis_size)
    nd = len(x.shape)
    if not (0 <= split_axis < nd and 0 <= concat_axis < nd) or x.shape[split_axis] % axis_size:
        raise ValueError(f"all_to_all: split_axis {split_axis} of {x.str_short()} must exist "
                         f"and be divisible by the size {axis_size} of axis '{axis_name}', "
                         f"concat_axis {concat_axis} must exist")
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return ShapedArray(tuple(shape), x.dtype)


def _pbroadcast_abstract(x, *, axis_name, source):
    return x


def _pcast_abstract(x, *, axes, to):
    return x


def _ragged_abstract(operand, output, input_offsets, send_sizes, output_offsets, recv_sizes,
                     *, axis_name, axis_index_groups=None, axis_size=None):
    named = dict(input_offsets=input_offsets, send_sizes=send_sizes,
                 output_offsets=output_offsets, recv_sizes=recv_sizes)
    for what, a in named.items():
        if a.dtype.kind not in "iu":
            raise ValueError(f"ragged_all_to_all {what} must be integer type, got {a.dtype}")
        if len(a.shape) != 1 or a.shape[0] < 1:
            raise ValueError(f"ragged_all_to_all {what} must be rank 1 with positive "
                             f"dimension size, but got shape {a.shape}")
    if len({a.shape for a in named.values()}) != 1:
        raise ValueError("ragged_all_to_all: input_offsets, send_sizes, output_offsets and "
                         "recv_sizes must have the same length, got "
                         + ", ".join(f"{k} {a.shape}" for k, a in named.items()))
    if operand.dtype != output.dtype or operand.shape[1:] != output.shape[1:] \
            or not operand.shape:
        raise ValueError(f"ragged_all_to_all: operand {operand.str_short()} and output "
                         f"{output.str_short()} must have one dtype and the same dimensions "
                         "after the first")
    if axis_size is not None and input_offsets.shape[0] % axis_size:
        raise ValueError(f"ragged_all_to_all: the {input_offsets.shape[0]} offsets must be "
                         f"divisible by the size {axis_size} of axis '{axis_name}'")
    return output.update(weak_type=False)


def _axis_index_abstract(*, axis_name):
    return ShapedArray((), np.dtype(np.int32))


for _prim in (psum_p, pmax_p, pmin_p):
    add_abstract_eval(_prim, _multi_same)
add_abstract_eval(all_gather_p, _all_gather_abstract)
add_abstract_eval(ppermute_p, _ppermute_abstract)
add_abstract_eval(axis_index_p, _axis_index_abstract)
add_abstract_eval(psum_scatter_p, _psum_scatter_abstract)
add_abstract_eval(all_to_all_p, _all_to_all_abstract)
add_abstract_eval(pbroadcast_p, _pbroadcast_abstract)
add_abstract_eval(pcast_p, _pcast_abstract)
add_abstract_eval(ragged_all_to_all_p, _ragged_abstract)
# devices (xla inside pmap or shard_map) run these as other collectives (XLA:CPU has no
# collective-broadcast or ragged-all-to-all)
add_composition(pbroadcast_p, _pbroadcast_composition)
add_composition(ragged_all_to_all_p, _ragged_composition)
