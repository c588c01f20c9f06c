"""`call_exported`, the primitive that calls an Exported (plax.export) inside a program: its
abstract evaluation (the Exported's output avals, after checking the arguments against the
input avals it was exported for) and its reference-backend rule. The module is StableHLO, so
the xla backend runs it (plax_xla lowers it into the caller's module); the reference backend
hands it to the xla backend where one is installed (through the host, as the xla backend
hands the reference backend what it cannot lower), else refuses it naming the primitive."""

from __future__ import annotations

import numpy as np

from plax._src import registry
from plax._src.core import Primitive
from plax._src.registry import add_abstract_eval

call_exported_p = Primitive("call_exported", multiple_results=True)


def arg_label(exported, i: int) -> str:
    """The path of flat argument `i` of `exported` in its (args, kwargs) tree."""
    from plax._src.tree_util import keystr, tree_flatten_with_path, tree_unflatten
    try:
        args, kwargs = tree_unflatten(exported.in_tree, list(range(exported.in_tree.num_leaves)))
        paths = tree_flatten_with_path(args)[0]
        labels = [f"args{keystr(p)}" for p, _ in paths]
        labels += [f"kwargs{keystr(p)}" for p, _ in tree_flatten_with_path(kwargs)[0]]
        return labels[i]
    except Exception:  # noqa: BLE001 - a tree not of (args, kwargs): the flat position
        return f"flat argument {i}"


def check_args(exported, avals) -> None:
    if len(avals) != len(exported.in_avals):
        raise TypeError(f"Exported '{exported.fun_name}' takes {len(exported.in_avals)} "
                        f"array arguments, called with {len(avals)}")
    for i, (have, want) in enumerate(zip(avals, exported.in_avals)):
        shape, dtype = getattr(have, "shape", None), getattr(have, "dtype", None)
        if shape is None or tuple(shape) != tuple(want.shape) or dtype != want.dtype:
            got = have.str_short() if hasattr(have, "str_short") else repr(have)
            raise ValueError(
                f"Exported '{exported.fun_name}': {arg_label(exported, i)} was exported as "
                f"{want.str_short()} and is called with {got} (an Exported runs on the "
                "shapes and dtypes it was exported for: plax.export has no shape "
                "polymorphism)")


def _abstract_eval(*avals, exported):
    check_args(exported, avals)
    return list(exported.out_avals)


# a core primitive, whichever plugin's registration first imports this module
with registry._owning(registry.CORE_OWNER):
    add_abstract_eval(call_exported_p, _abstract_eval)


def call_exported_via_xla(bufs, exported, backend: str) -> list:
    """Run `exported` on the xla backend for another backend (`backend`, named in the error
    when xla is not available): `bufs` host arrays in, NumPy arrays out."""
    from plax._src.backend import UnsupportedPrimitiveError
    try:
        xla = registry.get_backend("xla")
    except Exception as e:  # noqa: BLE001 - not installed, or failed to start
        raise UnsupportedPrimitiveError(
            f"backend '{backend}' runs primitive 'call_exported' (Exported "
            f"'{exported.fun_name}', a StableHLO module) through the xla backend, which is "
            f"not available here ({e}); install plax-backend-xla") from None
    ins = [xla.put(np.ascontiguousarray(b)) for b in bufs]
    outs = xla.execute_primitive(call_exported_p, ins, list(exported.in_avals),
                                 list(exported.out_avals), {"exported": exported})
    return [np.asarray(xla.to_numpy(o)) for o in outs]


def reference_impl(*bufs, exported):
    """Run on the reference backend: the module through the xla backend, on host copies."""
    return call_exported_via_xla(bufs, exported, "reference")
