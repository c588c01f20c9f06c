"""Lowering of `ffi_call` (plax.ffi): a stablehlo.custom_call of the named FFI target, with the
call's attributes as the handler's typed attributes (`mhlo.backend_config` dictionary, as JAX
emits; XLA picks the typed-FFI calling convention from the target's registration) and explicit
operand and result layouts."""

from __future__ import annotations

import json

import numpy as np

from plax import ffi
from plax.lax import ffi_call_p

_NUMPY_TYPES = {np.dtype(t): m for t, m in [
    ("int8", "i8"), ("int16", "i16"), ("int32", "i32"), ("int64", "i64"), ("uint8", "ui8"),
    ("uint16", "ui16"), ("uint32", "ui32"), ("uint64", "ui64"), ("float32", "f32"),
    ("float64", "f64")]}


def _attribute(name: str, v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, int):
        return f"{v} : i64"
    if isinstance(v, float):
        return f"{float(v)!r} : f64"
    t = _NUMPY_TYPES.get(np.dtype(type(v)))
    if t is None:
        raise TypeError(f"ffi_call attribute {name!r}: unsupported type {type(v).__name__}")
    return f"{float(v)!r} : {t}" if t[0] == "f" else f"{int(v)} : {t}"


def _layout(lay, ndim: int) -> str:
    lay = tuple(range(ndim - 1, -1, -1)) if lay is None else lay
    body = "[" + ", ".join(map(str, lay)) + "]" if len(lay) > 1 else \
        (str(lay[0]) if lay else "")
    return f"dense<{body}> : tensor<{ndim}xindex>"


def _ffi_call(ctx, *args, target_name, result_avals, attributes, has_side_effect,
              vmap_method, input_layouts, output_layouts):
    from plax_xla import _jaxlib as jl  # on first use: registering the plugin loads no jaxlib
    jl.register_ffi_targets(ffi.registered_targets())
    if not jl.has_custom_call_target(target_name, "cpu"):
        raise ValueError(f"ffi_call: no FFI target named {target_name!r} is registered "
                         "(plax.ffi.register_ffi_target(name, capsule, platform='cpu'))")
    ins = input_layouts or [None] * len(args)
    outs = output_layouts or [None] * len(result_avals)
    cfg = ", ".join(f"{k} = {_attribute(k, v)}" for k, v in attributes)
    operand_layouts = ", ".join(_layout(lay, a.ndim) for lay, a in zip(ins, args))
    result_layouts = ", ".join(_layout(lay, len(a.shape)) for lay, a in zip(outs, result_avals))
    attrs = (f'call_target_name = "{target_name}", '
             f"has_side_effect = {str(has_side_effect).lower()}, backend_config = \"\", "
             f"mhlo.backend_config = {{{cfg}}}, operand_layouts = [{operand_layouts}], "
             f"result_layouts = [{result_layouts}]")
    results = [(a.shape, a.dtype) for a in result_avals]
    return ctx.b.op("stablehlo.custom_call", list(args), results, attrs=attrs)


RULES = {ffi_call_p: _ffi_call}
