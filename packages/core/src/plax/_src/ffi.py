"""Foreign kernels: `ffi_call` binds `ffi_call_p`, an XLA custom call (typed FFI) of a target
registered with `register_ffi_target` (or by a library, such as jaxlib's LAPACK kernels). Only
compiling backends that speak XLA's FFI run it (plax-backend-xla); the reference backend refuses."""

from __future__ import annotations

import threading
import warnings
from typing import Any, Sequence

import numpy as np

from plax._src.callback import _result_aval
from plax._src.core import Primitive, get_aval
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_unflatten

ffi_call_p = Primitive("ffi_call", multiple_results=True)

VMAP_METHODS = (None, "sequential", "sequential_unrolled", "expand_dims", "broadcast_all",
                "legacy_vectorized")
_UNSET = object()  # `vectorized` not given
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
        lay = tuple(range(len(a.shape))) if lay is None else tuple(int(d) for d in lay)
        if sorted(lay) != list(range(len(a.shape))):
            raise ValueError(f"ffi_call {what}[{i}]: {lay} is not a major-to-minor permutation "
                             f"of the {len(a.shape)} dimensions of shape {tuple(a.shape)}")
        out.append(lay[::-1])  # XLA's minor-to-major order, as the primitive carries it
    return tuple(out)


def ffi_call(target_name: str, result_shape_dtypes: Any, *args, has_side_effect: bool = False,
             vmap_method: str | None = None, input_layouts: Sequence | None = None,
             output_layouts: Sequence | None = None, vectorized: Any = _UNSET, **attributes):
    """Call the FFI target `target_name` (as jax.ffi.ffi_call). Without `args`, a function
    `(*args, **attributes)` is returned (JAX's form); with them, the results directly.
    `result_shape_dtypes`: a ShapeDtypeStruct (one result) or a sequence/pytree of them.
    Attributes (keyword arguments) reach the handler as its typed attributes: Python int as
    int64, float as float64, bool, str, NumPy scalars as their own type (np.uint8(76), say).
    Layouts are major-to-minor dimension orders, as JAX's (default row-major, None for an
    entry too; a column-major matrix is (1, 0)); the primitive carries XLA's minor-to-major.
    `vmap_method` says how vmap calls the kernel, as JAX's: "sequential" (a scan, one call per
    batch member; "sequential_unrolled": the scan unrolled), "expand_dims" (one call, unbatched
    operands with a leading axis of size 1), "broadcast_all" (one call, every operand
    broadcast to the batch), "legacy_vectorized" (one call, unbatched operands as they are);
    None: vmap raises. `vectorized=True/False` (deprecated, as in JAX) means
    "legacy_vectorized"/"sequential"."""
    if not isinstance(target_name, str) or not target_name:
        raise TypeError(f"ffi_call: target_name must be a non-empty string, got "
                        f"{target_name!r}")
    if vectorized is not _UNSET:
        if vmap_method is not None:
            raise ValueError(f"ffi_call({target_name!r}): give vmap_method or the deprecated "
                             "vectorized, not both")
        warnings.warn("ffi_call's vectorized argument is deprecated (as in JAX): use "
                      "vmap_method='legacy_vectorized' (vectorized=True) or 'sequential' "
                      "(vectorized=False)", DeprecationWarning, stacklevel=2)
        vmap_method = "legacy_vectorized" if vectorized else "sequential"
    if vmap_method not in VMAP_METHODS:
        raise ValueError(f"ffi_call({target_name!r}): vmap_method must be one of "
                         f"{VMAP_METHODS}, got {vmap_method!r}")
    res_leaves, res_tree = tree_flatten(result_shape_dtypes)
    result_avals = tuple(_result_aval(r) for r in res_leaves)
    if (output_layouts is not None and res_tree.num_leaves == 1 and res_tree.num_nodes == 1
            and all(isinstance(d, (int, np.integer)) for d in output_layouts)):
        output_layouts = [output_layouts]  # one result: its layout itself, as JAX takes it
    out_layouts = _layouts("output_layouts", output_layouts, result_avals)

    def call(*xs, **attrs):
        attrs = tuple(sorted((k, _attribute(k, v)) for k, v in attrs.items()))
        in_layouts = _layouts("input_layouts", input_layouts, [get_aval(x) for x in xs])
        outs = ffi_call_p.bind(*xs, target_name=target_name, result_avals=result_avals,
                               attributes=attrs, has_side_effect=bool(has_side_effect),
                               vmap_method=vmap_method, input_layouts=in_layouts,
                               output_layouts=out_layouts)
        return tree_unflatten(res_tree, outs)

    if args or attributes:
        return call(*args, **attributes)
    return call


add_abstract_eval(ffi_call_p, lambda *avals, result_avals, **_: list(result_avals))
