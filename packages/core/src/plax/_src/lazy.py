"""Module attributes resolved on first use: a package's submodules (imported when first read,
so that `import plax` stays small) and names a plugin provides (plax-transforms registers
`register_api("stages.Lowered", ...)`; the module reads them from the registry). Each returns
the module's (`__getattr__`, `__dir__`) pair."""

from __future__ import annotations

import importlib
from typing import Callable, Iterable


def submodules(package: str, names: Iterable[str], module_globals: dict):
    """`package`'s submodules `names`, imported on first access and cached in its globals."""
    names = frozenset(names)

    def __getattr__(name: str):
        if name in names:
            mod = importlib.import_module(f"{package}.{name}")
            module_globals[name] = mod
            return mod
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    def __dir__():
        return sorted(set(module_globals) | names)
    return __getattr__, __dir__


def plugin_names(module: str, names: Iterable[str], module_globals: dict,
                 key: Callable[[str], str], provider: str = "plax-transforms"):
    """Names of `module` that a plugin registers (registry API `key(name)`), read from the
    registry (loading the plugins) on first access and cached in its globals."""
    names = frozenset(names)

    def __getattr__(name: str):
        if name in names:
            from plax._src import registry
            obj = registry.get_api(key(name))
            if obj is None:
                raise AttributeError(f"{module}.{name} is provided by the {provider} "
                                     f"distribution: pip install {provider}")
            module_globals[name] = obj
            return obj
        raise AttributeError(f"module '{module}' has no attribute '{name}'")

    def __dir__():
        return sorted(set(module_globals) | names)
    return __getattr__, __dir__
