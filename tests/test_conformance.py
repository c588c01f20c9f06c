"""Every built-in primitive through the conformance kit (plax.extend.testing.check_primitive):
each backend against the abstract evaluation and the reference, jit against eager, vmap against
a loop over in_axes combinations, jvp against finite differences, transposes by the dot-product
test, grad of grad.

Example equations come from tracing small plax programs (so every primitive gets realistic
params); arguments are random values of the equation's input avals, inside every primitive's
domain (floats in (0.1, 0.9), small non-negative integers)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import plax
import plax.numpy as jnp
from plax import lax
from plax.extend import ClosedJaxpr, Jaxpr
# the kit's pytest plugin, enabled as a plugin's own test suite would: the `check_primitive`
# fixture (and plax's `check_rules` option on for the session)
pytest_plugins = ["plax.extend.testing"]

F = np.float32
X = np.linspace(0.2, 0.8, 6, dtype=F).reshape(2, 3)
N = np.array([[0, 1, 1], [1, 0, 1]], np.int32)
B = np.array([[True, False, True], [False, True, True]])
V = np.linspace(0.2, 0.8, 4, dtype=F)

# a layout over a one-device mesh (rows split over an axis of size 1): any backend runs it
_ONE_DEVICE_ROWS = plax.sharding.NamedSharding(
    plax.sharding.Mesh(np.array(plax.devices("reference")), ("rows",)), plax.sharding.P("rows"))

# small programs: together their jaxprs hold every primitive core defines that runs eagerly
PROGRAMS = {
    "unary": (lambda x: [f(x) for f in (
        lax.abs, lax.acos, lax.acosh, lax.asin, lax.asinh, lax.atan, lax.atanh, lax.cbrt,
        lax.ceil, lax.cos, lax.cosh, lax.digamma, lax.erf, lax.erf_inv, lax.erfc, lax.exp,
        lax.exp2, lax.expm1, lax.floor, lax.is_finite, lax.lgamma, lax.log, lax.log1p,
        lax.logistic, lax.neg, lax.round, lax.rsqrt, lax.sign, lax.sin, lax.sinh, lax.sqrt,
        lax.tan, lax.tanh, lax.stop_gradient,
        lambda v: lax.integer_pow(v, 3), lambda v: lax.convert_element_type(v, np.int32),
        lambda v: lax.bitcast_convert_type(v, np.int32))], (X,)),
    "acosh": (lambda x: lax.acosh(x + 1.0), (X,)),
    "staging": (lambda x: [lax.stage(x), *lax.optimization_barrier((x, x * 2.0))], (X,)),
    "complex": (lambda z: [lax.real(z), lax.imag(z), lax.conj(z)], (X.astype(np.complex64),)),
    "binary": (lambda x, y: [f(x, y) for f in (
        lax.add, lax.sub, lax.mul, lax.div, lax.pow, lax.max, lax.min, lax.atan2, lax.rem,
        lax.nextafter, lax.complex, lax.eq, lax.ne, lax.lt, lax.le, lax.gt, lax.ge)],
               (X, X[::-1])),
    "integer": (lambda i, j: [f(i, j) for f in (
        lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor, lax.shift_left,
        lax.shift_right_arithmetic, lax.shift_right_logical)] + [
        lax.bitwise_not(i), lax.population_count(i)], (N, N[::-1])),
    "select_clamp": (lambda b, x, y: [lax.select_n(b, x, y), lax.clamp(0.3, x, 0.6)],
                     (B, X, X[::-1])),
    "reductions": (lambda x, b, i: [lax.reduce_sum(x, (1,)), lax.reduce_max(x, (0,)),
                                    lax.reduce_min(x, (1,)), lax.reduce_prod(x, (1,)),
                                    lax.reduce_and(b, (1,)), lax.reduce_or(b, (0,)),
                                    lax.reduce_xor(b, (1,)), lax.argmax(x, 1, np.int32),
                                    lax.argmin(x, 0, np.int32), lax.cumsum(x, 1),
                                    lax.cumprod(x, 1), lax.cummax(x, 0), lax.cummin(x, 1),
                                    lax.cumlogsumexp(x, 1)], (X, B, N)),
    "sharding_constraint": (lambda x: lax.with_sharding_constraint(x, _ONE_DEVICE_ROWS), (X,)),
    "structural": (lambda x, v: [lax.broadcast_in_dim(v, (2, 4), (1,)),
                                 lax.concatenate([x, x], 0), lax.reshape(x, (3, 2)),
                                 lax.rev(x, (1,)), lax.transpose(x, (1, 0)),
                                 lax.squeeze(lax.reshape(x, (2, 1, 3)), (1,)),
                                 lax.pad(x, np.float32(0), [(1, 0, 0), (0, 1, 1)]),
                                 lax.iota(np.int32, 4)], (X, V)),
    "slicing": (lambda x, v, i: [lax.slice(x, (0, 1), (2, 3)),
                                 lax.dynamic_slice(x, (i[0, 1], 0), (1, 2)),
                                 lax.dynamic_update_slice(x, v[:2].reshape(1, 2), (1, 0)),
                                 jnp.take(x, i[0], axis=1),
                                 x.at[i[0], i[1]].set(v[:3]), x.at[i[0], i[1]].add(v[:3]),
                                 x.at[i[0], i[1]].mul(v[:3]), x.at[i[0], i[1]].min(v[:3]),
                                 x.at[i[0], i[1]].max(v[:3]),
                                 lax.scatter_sub(x, i[0, :2].reshape(2, 1), x[::-1],
                                                 lax.ScatterDimensionNumbers((1,), (0,), (0,)))],
                (X, V, N)),
    "sorting": (lambda x: [lax.sort(x, dimension=1), *lax.top_k(x, 2)], (X,)),
    "callbacks": (lambda x: [plax.debug.callback(lambda v: None, x),
                             plax.pure_callback(np.sin, x, x, vmap_method="sequential")][1:],
                  (X,)),
    "linalg_fft": (lambda x, v: [lax.dot_general(x, x, (((1,), (1,)), ((), ()))),
                                 lax.fft(v.astype(np.complex64), lax.FftType.FFT, (4,))],
                   (X, V)),
    "conv_windows": (lambda x, w, v: [
        lax.conv_general_dilated(x, w, (1, 2), "SAME", dimension_numbers=("NHWC", "HWIO",
                                                                          "NHWC")),
        lax.reduce_window(v, 0.0, lax.add, (1, 2, 2), (1, 1, 2), "VALID"),
        lax.reduce_window(v, -np.inf, lax.max, (1, 2, 2), (1, 2, 2), "SAME"),
        lax.reduce_window(v, np.inf, lax.min, (1, 2, 1), (1, 1, 1), "VALID"),
        lax.reduce_window(v, np.float32(1), lax.mul, (1, 2, 2), (1, 1, 1), "VALID"),
        lax.select_and_gather_add(v * 2.0, v, "ge", (1, 2, 2), (1, 2, 2), "VALID"),
        lax.select_and_scatter_add(v[:, :2, :2], v, "le", (1, 2, 2), (1, 2, 2), "VALID")],
        (np.linspace(0.2, 0.8, 2 * 5 * 4 * 2, dtype=F).reshape(2, 5, 4, 2),
         np.linspace(0.9, 0.1, 3 * 2 * 2 * 3, dtype=F).reshape(3, 2, 2, 3),
         np.linspace(0.1, 0.9, 2 * 4 * 4, dtype=F)[::-1].reshape(2, 4, 4))),
    "special": (lambda a, x: [lax.igamma(a, x), lax.igammac(a, x), lax.igamma_grad_a(a, x),
                              lax.random_gamma_grad(a, x), lax.polygamma(a, x),
                              lax.zeta(a + 1.5, x), lax.betainc(a, x, x * 0.5),
                              lax.bessel_i0e(x), lax.bessel_i1e(x)], (X, X[::-1])),
    "linalg": (lambda a, t, dl, d, b: [
        lax.linalg.cholesky(a), lax.linalg.triangular_solve(t, a, left_side=True, lower=True),
        *lax.linalg.lu(a), *lax.linalg.qr(a), *lax.linalg.geqrf(a),
        lax.linalg.householder_product(a, dl), *lax.linalg.svd(a), *lax.linalg.eigh(a),
        *lax.linalg.eig(a, compute_left_eigenvectors=False), *lax.linalg.schur(a),
        *lax.linalg.hessenberg(a), *lax.linalg.tridiagonal(a),
        lax.linalg.tridiagonal_solve(dl, d, dl, b)],
        (np.eye(3, dtype=F), np.eye(3, dtype=F), V[:3], V[:3], X.T)),
}

# The kit skips by itself what JAX does not define either: jvps of geqrf, householder_product,
# schur, hessenberg and tridiagonal (no rule in JAX), eig's eigenvector derivatives (JAX
# raises unless enable_eigvec_derivs); cholesky's and eigh's jvp are skipped below
# (NOT_DIFFERENTIABLE). Valid decomposition inputs (3x3, float32): symmetric positive
# definite with distinct eigenvalues (cholesky, eigh, tridiagonal), well-conditioned with
# distinct real eigenvalues (lu, qr, svd, eig, schur, hessenberg), a unit-ish lower triangle
# (triangular_solve), a diagonally dominant tridiagonal system
_R = np.random.default_rng(7)
_Q = np.linalg.qr(_R.standard_normal((3, 3)))[0]
SPD = (_Q @ np.diag([1.0, 2.0, 3.5]) @ _Q.T).astype(F)
WELL = (np.diag([1.0, 2.0, 3.5]) + np.triu(_R.uniform(0.1, 0.5, (3, 3)), 1)
        + np.tril(_R.uniform(0.05, 0.1, (3, 3)), -1)).astype(F)
LOWER = (np.tril(_R.uniform(0.1, 0.5, (3, 3)), -1) + np.diag([1.0, 1.5, 2.0])).astype(F)
_LINALG_ARGS = {
    "cholesky": lambda a: [SPD], "eigh": lambda a: [SPD], "tridiagonal": lambda a: [SPD],
    "triangular_solve": lambda a: [LOWER, WELL],
    **{n: (lambda a: [WELL]) for n in ("lu", "qr", "svd", "eig", "schur", "hessenberg",
                                        "geqrf")},
    "householder_product": lambda a: [WELL, a[1]],
    "tridiagonal_solve": lambda a: [a[0], a[1] + np.float32(3), a[2], a[3]],
}

# arguments outside (0.1, 0.9) where the primitive needs them: m integral for polygamma, s > 1
# for zeta; the linalg decompositions' valid matrices
ARGS = {"polygamma": lambda a: [np.ones_like(a[0]), a[1]],
        "zeta": lambda a: [a[0] + np.float32(1.5), a[1]], **_LINALG_ARGS}
# primitives differentiable in some operands only (as JAX's): polygamma's m is an integer
# order, zeta in q only, betainc in x only
DIFF_ARGNUMS = {"polygamma": (1,), "zeta": (1,), "regularized_incomplete_beta": (2,)}

PENDING: set = set()

# primitives not checked eagerly here, and why
NOT_EAGER = {
    "psum": "a collective: runs only under pmap/vmap with its axis (tests/test_xla_pmap.py)",
    "pmax": "a collective", "pmin": "a collective", "all_gather": "a collective",
    "ppermute": "a collective", "axis_index": "a collective",
    "psum_scatter": "a collective (tests/test_shard_map.py, against JAX)",
    "all_to_all": "a collective (tests/test_shard_map.py, against JAX)",
    "pbroadcast": "a collective (tests/test_collectives_extra.py, against JAX)",
    "pcast": "a collective's type cast (tests/test_collectives_extra.py, against JAX)",
    "ragged_all_to_all": "a collective (tests/test_collectives_extra.py, against JAX's "
                         "documented semantics)",
    "shard_map": "carries a per-shard jaxpr over a mesh (tests/test_shard_map.py, against JAX)",
    "ffi_call": "a foreign XLA kernel: the reference backend has no FFI by design, so the kit's "
                "reference comparisons do not apply (tests/test_ffi.py checks it against NumPy)",
    "custom_lin": "custom_vjp's tangent: never evaluated, only transposed (by design)",
    "rng_bit_generator": "JAX's batching rule draws the batch from the first key, not a loop "
                         "over keys (tests/test_lax_rng.py: bits against JAX on every backend)",
    "dce_sink": "an effect with no result (tests/test_lax_staging.py checks it is kept "
                "through jit, vmap and grad)",
    "rng_uniform": "stateful: a new draw each run, no two backends agree (tests/test_lax_rng.py "
                   "checks its distribution)",
    "create_token": "a token carries no data, so there is nothing to compare (tests/"
                    "test_lax_tokens.py: jaxprs, jit, lowering, vmap and grad against JAX)",
    "after_all": "joins tokens, which carry no data (tests/test_lax_tokens.py, against JAX)",
}


def _equations():
    """(primitive, params, avals) of each distinct primitive in the programs' jaxprs."""
    seen: dict = {}

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            seen.setdefault(eqn.primitive.name,
                            (eqn.primitive, eqn.params, [x.aval for x in eqn.invars]))
            for v in eqn.params.values():
                for sub in (v if isinstance(v, tuple) else (v,)):
                    if isinstance(sub, ClosedJaxpr):
                        walk(sub.jaxpr)
                    elif isinstance(sub, Jaxpr):
                        walk(sub)

    for fun, args in PROGRAMS.values():
        walk(plax.make_jaxpr(fun)(*args).jaxpr)
    return seen


def _example(aval, rng, k=0, nargs=1):
    """Argument k of nargs: values inside every primitive's domain; floats distinct and apart,
    within this argument and across arguments (no ties for max, sort, scatter-max ...)."""
    dt = np.dtype(aval.dtype)
    if dt == np.bool_:
        return rng.random(aval.shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(0, 2, aval.shape).astype(dt)
    n = int(np.prod(aval.shape))
    grid = np.linspace(0.1, 0.9, max(n, 2))
    grid = grid + k * (grid[1] - grid[0]) / (nargs + 1)  # interleaved with the other args
    spread = rng.permutation(grid)[:n].reshape(aval.shape)
    if dt.kind == "c":
        return (spread + 1j * rng.permutation(spread.ravel()).reshape(aval.shape)).astype(dt)
    return spread.astype(dt)


EQUATIONS = _equations()
# derivatives whose finite differences are meaningless at random points (steps, rounding)
NO_GRAD = {"round", "floor", "ceil", "sign", "rem", "nextafter", "stop_gradient",
           "convert_element_type", "bitcast_convert_type", "cumprod", "cummax", "cummin",
           "reduce_max", "reduce_min", "reduce_prod", "max", "min", "clamp", "sort", "top_k",
           "scatter", "scatter-mul", "scatter-min", "scatter-max", "select_n", "gather",
           "dynamic_slice", "dynamic_update_slice"}
# forward mode only, as in JAX (the generic reduce_window has a jvp and no transpose)
FORWARD_ONLY = {"reduce_window"}


# jvps that are not the derivative on purpose, or only where the function is smooth
# (pooling picks one element per window: random points in (0.1, 0.9) put near-ties within a
# finite-difference step; tests/test_lax_windowed.py checks these derivatives against JAX)
NOT_DIFFERENTIABLE = {"stop_gradient", "nextafter", "clamp", "reduce_window_max",
                      "reduce_window_min", "select_and_gather_add", "select_and_scatter_add",
                      # as JAX: no derivative in some operands (polygamma's m, zeta's x,
                      # betainc's a and b) or none at all; tests/test_lax_special.py checks
                      # the directions JAX defines
                      "igamma_grad_a", "random_gamma_grad", "polygamma", "zeta",
                      "regularized_incomplete_beta",
                      # as JAX's, the jvp rules of cholesky and eigh assume a symmetric (Hermitian)
                      # tangent while the primitives read one triangle only, so finite
                      # differences along the kit's arbitrary tangents disagree by design; JAX
                      # checks them through the symmetrizing wrappers, as tests/test_linalg.py
                      # does against JAX
                      "cholesky", "eigh"}


@pytest.mark.parametrize("name", sorted(EQUATIONS))
def test_builtin_primitive_conforms(name, check_primitive):
    prim, params, avals = EQUATIONS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # the same inputs every run
    args = [_example(a, rng, k, len(avals)) for k, a in enumerate(avals)]
    args = ARGS.get(name, lambda a: a)(args)
    report = check_primitive(prim, *args, params=params,
                             grad_order=1 if name in NO_GRAD else 2,
                             skip=("jvp", "grad of grad") if name in NOT_DIFFERENTIABLE
                             else ("grad of grad",) if name in FORWARD_ONLY else (),
                             diff_argnums=DIFF_ARGNUMS.get(name))
    assert any(k.startswith("eager[") and v == "ok" for k, v in report.items()), report
    assert report.get("jit[reference]") == "ok", report


def test_every_core_primitive_is_covered():
    names = {n[:-2] for n in dir(lax) if n.endswith("_p")}
    names = {getattr(lax, f"{n}_p").name for n in names}
    control = {"cond", "while", "scan", "jit", "custom_jvp_call", "custom_vjp_call", "remat2",
               "custom_linear_solve", "custom_vmap_call", "linear_call"}
    missing = names - set(EQUATIONS) - set(NOT_EAGER) - control - PENDING
    assert not missing, f"no example equation for {sorted(missing)}"


def _call_equations():
    """Control-flow and call primitives, from programs using them."""
    def f_cond(p, x):
        return lax.cond(p > 0.5, lambda v: jnp.sin(v), lambda v: jnp.cos(v), x)

    def f_while(x):
        return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 0.9 + 0.01),
                              (0, x))[1]

    def f_scan(x):
        return lax.scan(lambda c, v: (c + v, c * v), jnp.zeros(3, np.float32), x)

    @plax.custom_jvp
    def f_cj(x):
        return jnp.sin(x)
    f_cj.defjvp(lambda p, t: (jnp.sin(p[0]), jnp.cos(p[0]) * t[0]))

    @plax.custom_vjp
    def f_cv(x):
        return jnp.sin(x)
    f_cv.defvjp(lambda x: (jnp.sin(x), x), lambda r, g: (jnp.cos(r) * g,))

    from plax.custom_batching import custom_vmap

    @custom_vmap
    def f_cvm(x):
        return jnp.sin(x)
    f_cvm.def_vmap(lambda n, b, x: (jnp.sin(x), b[0]))

    def f_ls(a, b):
        return lax.custom_linear_solve(lambda x: a @ x, b, lambda _, x: jnp.linalg.solve(a, x),
                                       lambda _, x: jnp.linalg.solve(a.T, x))

    from plax.custom_derivatives import linear_call

    def f_lc(x):  # linear in x (no residuals: the checker differentiates every input)
        return linear_call(lambda _, x: x * 2.0, lambda _, t: t * 2.0, (), x)

    a = np.eye(3, dtype=np.float32) * 3 + 0.1 * np.arange(9, dtype=np.float32).reshape(3, 3)
    progs = {"cond": (lambda p, x: f_cond(p, x), (np.float32(0.7), V[:3])),
             "custom_linear_solve": (f_ls, (a, V[:3])),
             "while": (f_while, (V[:3],)), "scan": (f_scan, (X,)),
             "jit": (plax.jit(lambda x: jnp.tanh(x) * 2.0), (V,)),
             "remat2": (plax.checkpoint(lambda x: jnp.sin(jnp.sin(x))), (V,)),
             "custom_jvp_call": (f_cj, (V,)), "custom_vjp_call": (f_cv, (V,)),
             "custom_vmap_call": (f_cvm, (V,)), "linear_call": (f_lc, (V,))}
    out = {}
    for name, (fun, args) in progs.items():
        for eqn in plax.make_jaxpr(fun)(*args).jaxpr.eqns:
            if eqn.primitive.name == name:
                out[name] = (eqn.primitive, eqn.params, [x.aval for x in eqn.invars])
    return out


@pytest.mark.parametrize("name", ["cond", "while", "scan", "jit", "remat2", "custom_jvp_call",
                                  "custom_vjp_call", "custom_linear_solve", "custom_vmap_call",
                                  "linear_call"])
def test_control_flow_and_call_primitives_conform(name, check_primitive):
    eqns = _call_equations()
    prim, params, avals = eqns[name]
    rng = np.random.default_rng(0)
    args = [_example(a, rng) for a in avals]
    # custom_vjp has no forward mode (by design, as JAX): its jvp is an error
    report = check_primitive(prim, *args, params=params, grad_order=1,
                             skip=("jvp",) if name == "custom_vjp_call" else ())
    assert report.get("jit[reference]") == "ok", report
