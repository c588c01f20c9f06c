"""Foreign kernels: `ffi_call` binds `ffi_call_p`, an XLA custom call (typed FFI) of a target
registered with `register_ffi_target` (or by a library, such as jaxlib's LAPACK kernels). Only
compiling backends that speak XLA's FFI run it (plax-backend-xla); the reference backend refuses."""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from plax._src.callback import _result_aval
from plax._src.core import Primitive, get_aval
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_unflatten

ffi_call_p = Primitive("ffi_call", multiple_results=True)

_lock = threading.Lock()
_targets: dict[tuple[str, str], tuple[Any, int]] = {}


def register_ffi_target(name: str, fn: Any, platform: str = "cpu", api_version: int = 1
                        ) -> None:
    """Register the FFI handler `fn` (a PyCapsule holding an XLA_FFI handler, api_version 1,
    or a legacy custom call, 0) as custom-call target `name` for `platform`, as
    jax.ffi.register_ffi_target. Backends pick it up when they compile a call to it."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_ffi_target: name must be a non-empty string, got {name!r}")
    if type(fn).__name__ != "PyCapsule":
        raise TypeError(f"register_ffi_target({name!r}): fn must be a PyCapsule holding the "
                        f"handler (as jaxlib and nanobind/pybind11 export it), got "
                        f"{type(fn).__name__}")
    if api_version not in (0, 1):
        raise ValueError(f"register_ffi_target({name!r}): api_version must be 0 (legacy "
                         f"custom call) or 1 (typed FFI), got {api_version!r}")
    with _lock:
        _targets[(name, platform.lower())] = (fn, api_version)


def registered_targets() -> dict[tuple[str, str], tuple[Any, int]]:
    """{(name, platform): (capsule, api_version)} of every target registered here."""
    with _lock:
        return dict(_targets)


def _attribute(name: str, v):
    if isinstance(v, (bool, np.bool_, str, int, float, np.integer, np.floating)):
        return v
    raise TypeError(f"ffi_call attribute {name!r}: expected a bool, int, float, str or NumPy "
                    f"scalar, got {type(v).__name__}")


def _layouts(what: str, layouts, avals) -> tuple | None:
    if layouts is None:
        return None
    layouts = list(layouts)
    if len(layouts) != len(avals):
        raise ValueError(f"ffi_call {what}: {len(layouts)} layouts for {len(avals)} arrays")
    out = []
    for i, (lay, a) in enumerate(zip(layouts, avals)):
        lay = tuple(range(len(a.shape) - 1, -1, -1)) if lay is None else tuple(int(d) for d in lay)
        if sorted(lay) != list(range(len(a.shape))):
            raise ValueError(f"ffi_call {what}[{i}]: {lay} is not a minor-to-major permutation "
                             f"of the {len(a.shape)} dimensions of shape {tuple(a.shape)}")
        out.append(lay)
    return tuple(out)


def ffi_call(target_name: str, result_shape_dtypes: Any, *args, has_side_effect: bool = False,
             input_layouts: Sequence | None = None, output_layouts: Sequence | None = None,
             **attributes):
    """Call the FFI target `target_name` (as jax.ffi.ffi_call). Without `args`, a function
    `(*args, **attributes)` is returned (JAX's form); with them, the results directly.
    `result_shape_dtypes`: a ShapeDtypeStruct (one result) or a sequence/pytree of them.
    Attributes (keyword arguments) reach the handler as its typed attributes: Python int as
    int64, float as float64, bool, str, NumPy scalars as their own type (np.uint8(76), say).
    Layouts are minor-to-major dimension orders (default row-major, None for an entry too)."""
    if not isinstance(target_name, str) or not target_name:
        raise TypeError(f"ffi_call: target_name must be a non-empty string, got "
                        f"{target_name!r}")
    res_leaves, res_tree = tree_flatten(result_shape_dtypes)
    result_avals = tuple(_result_aval(r) for r in res_leaves)
    out_layouts = _layouts("output_layouts", output_layouts, result_avals)

    def call(*xs, **attrs):
        attrs = tuple(sorted((k, _attribute(k, v)) for k, v in attrs.items()))
        in_layouts = _layouts("input_layouts", input_layouts, [get_aval(x) for x in xs])
        outs = ffi_call_p.bind(*xs, target_name=target_name, result_avals=result_avals,
                               attributes=attrs, has_side_effect=bool(has_side_effect),
                               input_layouts=in_layouts, output_layouts=out_layouts)
        return tree_unflatten(res_tree, outs)

    if args or attributes:
        return call(*args, **attributes)
    return call


add_abstract_eval(ffi_call_p, lambda *avals, result_avals, **_: list(result_avals))
