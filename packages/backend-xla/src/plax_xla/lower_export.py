"""plax.export on the xla backend: a closed jaxpr's StableHLO module as a portable artifact
(`export_module`, registered as the "export" rule of "xla"), its text (`exported_text`), and
the lowering of `call_exported` (calling an Exported inside a program): the deserialized
module's functions become private functions of the caller's module (renamed, so they never
clash with its own), called by `func.call`."""

from __future__ import annotations

import itertools
import weakref

from plax.export import call_exported_p
from plax.extend import UnsupportedPrimitiveError, abstract_token

from plax_xla.lowering import lower_closed_jaxpr, symbol_name, take_host_callbacks


def export_module(closed) -> bytes:
    """The StableHLO module of `closed` (const-free inputs, one device) as a portable
    artifact; host callbacks and tokens cannot be serialized and are refused."""
    from plax_xla import _jaxlib as jl
    if abstract_token in closed.in_avals or abstract_token in closed.out_avals:
        raise NotImplementedError("plax.export: a function taking or returning tokens "
                                  "(ordered effects) cannot be exported")
    text, _ = lower_closed_jaxpr(closed, "jit")
    if take_host_callbacks(text):
        raise NotImplementedError(
            "plax.export: the function calls host (Python) functions (pure_callback, "
            "debug.print/callback, io_callback), which a serialized module cannot carry")
    return jl.serialize_portable(text)


def exported_text(blob: bytes) -> str:
    from plax_xla import _jaxlib as jl
    return jl.portable_text(blob)


# per module being lowered: the functions of the Exporteds it calls (id -> (exported, main))
_embedded: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_serial = itertools.count()


def _check_platform(exported) -> None:
    from plax.export import default_export_platform
    here = default_export_platform()  # this backend's platform, as plax.export names it
    disabled = {str(c) for c in exported.disabled_safety_checks}
    if here not in exported.platforms and "platform" not in disabled:
        raise ValueError(
            f"Function '{exported.fun_name}' was exported for platforms "
            f"{exported.platforms!r} but it is used on {(here,)!r} (plax.export refuses "
            "to run a module on a platform it was not lowered for; export it with "
            "platforms=... for this one, or with "
            "disabled_checks=[plax.export.DisabledSafetyCheck.platform()])")


def _call_exported(ctx, *args, exported):
    _check_platform(exported)
    if exported.nr_devices != 1:
        raise UnsupportedPrimitiveError(
            f"call_exported: '{exported.fun_name}' was exported for {exported.nr_devices} "
            "devices; plax calls modules exported for one device")
    module = ctx.module
    table = _embedded.setdefault(module, {})
    hit = table.get(id(exported))
    if hit is None or hit[0] is not exported:
        from plax_xla import _jaxlib as jl
        base = symbol_name(f"exported_{exported.fun_name}")
        prefix = base
        for k in itertools.count(1):
            if not any(n == prefix or n.startswith(prefix + "__") for n in module._names):
                break
            prefix = f"{base}_{k}"

        def rename(name: str) -> str:
            new = f"{prefix}__{symbol_name(name)}"
            module._names.add(new)
            return new
        main, functions = jl.portable_functions(exported.mlir_module_serialized, rename)
        module._names.add(prefix)
        module.functions.extend(functions)
        hit = table[id(exported)] = (exported, main)
    results = [(a.shape, a.dtype) for a in exported.out_avals]
    return ctx.b.op("func.call", list(args), results, attrs=f"callee = @{hit[1]}")


RULES = {call_exported_p: _call_exported}
