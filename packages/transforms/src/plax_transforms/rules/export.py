"""Rules of core's `call_exported` (plax.export): vmap refused (an Exported runs on the shapes
it was exported for: no shape polymorphism), and forward mode refused (an Exported carries a
VJP, not a JVP; Exported.call differentiates in reverse mode through it, by custom_vjp)."""

from __future__ import annotations

from plax.export import call_exported_p


def _batch(vals, dims, *, exported):
    raise NotImplementedError(
        f"vmap of Exported '{exported.fun_name}' (primitive call_exported) is not supported: "
        "it was exported for fixed shapes and plax.export has no shape polymorphism; export "
        "the vmapped function instead (plax.export.export(plax.jit(plax.vmap(f))))")


def _jvp(primals, tangents, *, exported):
    # Exported.call differentiates through a custom_vjp of the exported VJP: this rule runs
    # for an Exported without one, or for the primitive bound directly
    what = f"Exported '{exported.fun_name}' (primitive call_exported)"
    if exported.has_vjp():
        raise NotImplementedError(
            f"forward-mode differentiation (jvp, jacfwd) of {what} is not implemented: an "
            "Exported carries a VJP, not a JVP; call it through Exported.call and "
            "differentiate in reverse mode (grad, vjp)")
    raise TypeError(f"cannot differentiate {what}: it has no VJP, it was deserialized from "
                    "a serialization without one; serialize with a larger vjp_order "
                    "(vjp_order=1 for grad, 2 for grad of grad, ...)")


BATCH = {call_exported_p: _batch}
JVP = {call_exported_p: _jvp}
