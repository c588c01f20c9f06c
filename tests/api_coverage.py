"""The public names of JAX's user-facing modules that plax lacks, module by module: the module
pairs compared and a tally. `python tests/api_coverage.py` prints the tally (with -v, the
missing names); tests/test_api_coverage.py checks that nothing is missing unexplained."""

from __future__ import annotations

import importlib
import sys
import warnings

STATS_DISTRIBUTIONS = (
    "bernoulli beta betabinom binom cauchy chi2 dirichlet expon gamma gennorm geom gumbel_l "
    "gumbel_r laplace logistic multinomial multivariate_normal nbinom norm pareto poisson t "
    "truncnorm uniform vonmises wrapcauchy").split()

MODULES = [
    ("jax", "plax"), ("jax.numpy", "plax.numpy"), ("jax.lax", "plax.lax"),
    ("jax.random", "plax.random"), ("jax.nn", "plax.nn"), ("jax.tree_util", "plax.tree_util"),
    ("jax.tree", "plax.tree"), ("jax.scipy.signal", "plax.scipy.signal"),
    ("jax.scipy.integrate", "plax.scipy.integrate"), ("jax.image", "plax.image"),
    ("jax.test_util", "plax.test_util"), ("jax.scipy.fft", "plax.scipy.fft"),
    ("jax.scipy.ndimage", "plax.scipy.ndimage"), ("jax.scipy.cluster.vq", "plax.scipy.cluster.vq"),
    ("jax.numpy.linalg", "plax.numpy.linalg"), ("jax.numpy.fft", "plax.numpy.fft"),
    ("jax.scipy.special", "plax.scipy.special"), ("jax.scipy.linalg", "plax.scipy.linalg"),
    ("jax.scipy.stats", "plax.scipy.stats"),
    *[(f"jax.scipy.stats.{d}", f"plax.scipy.stats.{d}") for d in STATS_DISTRIBUTIONS],
    ("jax.nn.initializers", "plax.nn.initializers"), ("jax.dtypes", "plax.dtypes"),
    ("jax.scipy.sparse", "plax.scipy.sparse"),
    ("jax.scipy.sparse.linalg", "plax.scipy.sparse.linalg"),
    ("jax.scipy.optimize", "plax.scipy.optimize"),
    ("jax.scipy.interpolate", "plax.scipy.interpolate"),
    ("jax.experimental.ode", "plax.experimental.ode"),
    # public modules user code imports by name (flatten_util, ops, typing, ...)
    ("jax.flatten_util", "plax.flatten_util"), ("jax.ops", "plax.ops"),
    ("jax.typing", "plax.typing"), ("jax.custom_batching", "plax.custom_batching"),
    ("jax.custom_derivatives", "plax.custom_derivatives"), ("jax.stages", "plax.stages"),
    ("jax.version", "plax.version"), ("jax.monitoring", "plax.monitoring"),
    ("jax.experimental.shard_map", "plax.experimental.shard_map"),
    ("jax.experimental.pjit", "plax.experimental.pjit"),
    ("jax.experimental.mesh_utils", "plax.experimental.mesh_utils"),
    ("jax.experimental.compilation_cache.compilation_cache",
     "plax.experimental.compilation_cache.compilation_cache"),
    ("jax.experimental.checkify", "plax.experimental.checkify"),
    ("jax.example_libraries.stax", "plax.example_libraries.stax"),
    ("jax.example_libraries.optimizers", "plax.example_libraries.optimizers"),
    ("jax.dlpack", "plax.dlpack"), ("jax.export", "plax.export"),
]


def public(module) -> list[str]:
    return sorted(n for n in dir(module) if not n.startswith("_"))


def missing_names() -> dict[str, tuple[int, list[str]]]:
    """For each JAX module: (its number of public names, those the plax module lacks)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # every JAX module first: importing one sets attributes on its parents (importing
        # jax.experimental.ode sets jax.flatten_util), so the names counted must not depend on
        # what the process imported before
        for jax_name, _ in MODULES:
            importlib.import_module(jax_name)
    for jax_name, plax_name in MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = public(importlib.import_module(jax_name))
        plax_mod = importlib.import_module(plax_name)
        out[jax_name] = (len(names), [n for n in names if not hasattr(plax_mod, n)])
    return out


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    total = have = 0
    for jax_name, (count, missing) in missing_names().items():
        total += count
        have += count - len(missing)
        if missing or verbose:
            line = f"{jax_name:32s} {count - len(missing):4d} / {count:4d}"
            print(line + (f"  missing: {' '.join(missing)}" if verbose and missing else ""))
    print(f"plax has {have} of {total} public names ({100 * have / total:.1f}%), "
          f"{total - have} missing")


if __name__ == "__main__":
    main(sys.argv[1:])
