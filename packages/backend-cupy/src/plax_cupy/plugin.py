"""The plugin hook of plax-backend-cupy: its config options, the rule of every primitive it
runs (so coverage reports list them) and the backend factory. Importing or registering this
module leaves CuPy unloaded; the factory loads it, the first time the backend is used."""

from __future__ import annotations

from plax.hookspecs import hookimpl

PRIORITY = 5  # below xla (10), above reference (0)


def _bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean, got {s!r}")


def _count(s: str) -> int:
    n = int(s)
    if n < 1:
        raise ValueError(f"expected a device count of at least 1, got {s!r}")
    return n


def _define_options() -> None:
    import plax
    plax.config.define("cupy_device", "gpu", lambda s: s.strip().lower() or "gpu",
                       "what the cupy backend runs on: gpu (CuPy, kernels compiled by NVRTC) or "
                       "host (the same kernels built by g++, library calls through NumPy); read "
                       "when the backend is created", env="PLAX_CUPY_DEVICE")
    plax.config.define("cupy_fusion", True, _bool,
                       "whether the cupy backend fuses elementwise/view/reduction groups into "
                       "generated kernels (off: every eqn is a library call)",
                       env="PLAX_CUPY_FUSION")
    plax.config.define("cupy_host_devices", 1, _count,
                       "devices of the cupy backend's host build (tests): with more than one, "
                       "pmap runs the multi-GPU code path (one program per device in lockstep) "
                       "with NCCL emulated on the host; read when the backend is created",
                       env="PLAX_CUPY_HOST_DEVICES")


def _factory():
    from plax_cupy.backend import CupyBackend
    return CupyBackend()


def _program(closed):
    from plax.extend import registry
    return registry.get_backend("cupy").program(closed)


@hookimpl
def plax_register(registry):
    _define_options()
    from plax_cupy.rules import rules_for
    for prim, rule in rules_for(registry.primitives(), _program).items():
        registry.add_impl("cupy", prim, rule)
    registry.register_backend("cupy", _factory, priority=PRIORITY)
