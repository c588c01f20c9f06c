"""The conformance kit for primitive authors (in the spirit of torch.library.opcheck):
`check_primitive(prim, *example_args, params={...})` checks one primitive's whole registration.

- the abstract evaluation against what every registered backend returns (shape, dtype), and
  every backend's numbers against the reference implementation;
- jit against eager, on every backend;
- vmap against a loop, for every in_axes combination (each argument unbatched or batched at
  each of its axes; at most `max_batch_combos` of them);
- the jvp against finite differences, the transpose of a linear primitive by the dot-product
  test, and second derivatives (grad of grad) where the jvp of the jvp exists.

It returns {check: "ok" or "skipped: why"} and raises AssertionError naming every check that
failed. A plugin's test suite enables the pytest plugin with one line in its conftest.py::

    pytest_plugins = ["plax.extend.testing"]

which turns on plax's `check_rules` option for the session and provides the `check_primitive`
fixture (this function).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["check_primitive", "ConformanceError"]


class ConformanceError(AssertionError):
    """A primitive failed one or more conformance checks (all of them are listed)."""


def _tol(dtype, rtol, atol):
    dt = np.dtype(dtype)
    if dt.kind not in "fc":
        return 0.0, 0.0
    if dt.itemsize <= 2 or dt.name == "bfloat16":
        default = 2e-2
    elif dt in (np.float32, np.complex64):
        default = 2e-5
    else:
        default = 1e-12
    return (default if rtol is None else rtol), (default if atol is None else atol * 1.0)


def _close(got, want, rtol, atol) -> str | None:
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return f"shape {g.shape} != {w.shape}"
    if g.dtype != w.dtype:
        return f"dtype {g.dtype} != {w.dtype}"
    r, a = _tol(g.dtype, rtol, atol)
    if g.dtype.kind in "fc":
        gg, ww = g.astype(np.complex128), w.astype(np.complex128)
        ok = np.allclose(gg, ww, rtol=r, atol=a, equal_nan=True)
    else:
        ok = np.array_equal(g, w)
    if not ok:
        return f"values differ:\n  got  {g!r:.300}\n  want {w!r:.300}"
    return None


def _as_list(prim, out):
    return list(out) if prim.multiple_results else [out]


def check_primitive(prim, *example_args, params: dict | None = None, backends=None,
                    rtol: float | None = None, atol: float | None = None,
                    max_batch_combos: int = 24, grad_order: int = 2,
                    skip: tuple[str, ...] = (),
                    diff_argnums: tuple[int, ...] | None = None) -> dict[str, str]:
    """Check `prim` on `example_args` (NumPy arrays or scalars) with `params` everywhere it is
    registered; see the module docstring. `backends`: names to check (default: every
    installed backend that supports `prim`). `skip`: checks not to run ("jvp", "grad of
    grad", "transpose", "vmap"), for a primitive whose jvp is on purpose not the derivative
    (stop_gradient) or is defined only where it is smooth. `diff_argnums`: the operands to
    differentiate (default: every inexact one), for a primitive differentiable in some only."""
    import plax
    from plax._src.core import abstract_eval, get_aval
    from plax._src.registry import describe_primitive, get_rule
    from plax.extend import registry

    params = dict(params or {})
    args = [np.asarray(a) if not isinstance(a, (int, float, complex, bool)) else a
            for a in example_args]
    report: dict[str, str] = {}
    failures: list[str] = []

    def bind(*xs):
        return prim.bind(*xs, **params)

    def run(name, check):
        if name in skip or name.split("(")[0] in skip:
            report[name] = "skipped: by the caller"
            return
        try:
            msg = check()
        except NotImplementedError as e:
            report[name] = f"skipped: {e}"
            return
        except Exception as e:  # noqa: BLE001 - every failure is reported, with its check
            msg = f"{type(e).__name__}: {e}"
        if msg:
            failures.append(f"{name}: {msg}")
            report[name] = "FAILED"
        else:
            report[name] = report.get(name) or "ok"

    avals = [get_aval(a) for a in args]
    want = _as_list(prim, abstract_eval(prim, avals, params))
    with plax.default_backend("reference"):
        ref = [np.asarray(o) for o in _as_list(prim, bind(*args))]

    # --- every backend: abstract eval, numbers against the reference, jit against eager ----
    names = backends if backends is not None else registry.backend_names()
    for name in names:
        try:
            b = registry.get_backend(name)
        except Exception as e:  # noqa: BLE001 - a backend that cannot start is reported
            report[f"backend[{name}]"] = f"skipped: {e}"
            continue
        if not b.supports(prim, params):
            report[f"backend[{name}]"] = "skipped: no rule for this backend"
            continue

        def eager(name=name):
            with plax.default_backend(name):
                outs = _as_list(prim, bind(*args))
            for i, (o, w, r) in enumerate(zip(outs, want, ref)):
                if o.shape != w.shape or o.dtype != w.dtype:
                    return (f"output {i} is {o.aval.str_short()}, the abstract evaluation "
                            f"says {w.str_short()}")
                bad = _close(o, r, rtol, atol)
                if bad:
                    return f"output {i} against the reference implementation: {bad}"

        def jitted(name=name):
            with plax.default_backend(name):
                eager_outs = _as_list(prim, bind(*args))
                jit_outs = _as_list(prim, plax.jit(bind)(*args))
            for i, (j, e) in enumerate(zip(jit_outs, eager_outs)):
                bad = _close(j, e, rtol, atol)
                if bad:
                    return f"output {i}, jit against eager: {bad}"

        run(f"eager[{name}]", eager)
        run(f"jit[{name}]", jitted)

    # --- vmap against a loop over every in_axes combination ----------------------------------
    with plax.default_backend("reference"):
        if get_rule("batch", prim) is None:
            report["vmap"] = f"skipped: no batch rule for {describe_primitive(prim)}"
        else:
            choices = [[None, *range(np.ndim(a) + 1)] for a in args]
            combos = [c for c in itertools.product(*choices) if any(d is not None for d in c)]
            step = max(1, len(combos) // max_batch_combos)
            for axes in combos[::step][:max_batch_combos]:
                run(f"vmap{tuple(axes)}", lambda axes=axes: _check_vmap(prim, bind, args, axes,
                                                                        rtol, atol))

        # --- derivatives ---------------------------------------------------------------------
        diff = [i for i, a in enumerate(avals) if a.dtype.kind in "fc"
                and (diff_argnums is None or i in diff_argnums)]
        out_inexact = all(w.dtype.kind in "fc" for w in want)
        if not diff or not out_inexact:
            report["jvp"] = "skipped: no inexact inputs and outputs to differentiate"
        elif get_rule("jvp", prim) is None:
            report["jvp"] = f"skipped: no jvp rule for {describe_primitive(prim)}"
        else:
            def f(*xs):
                full = list(args)
                for i, x in zip(diff, xs):
                    full[i] = x
                return bind(*full)

            dargs = [args[i] for i in diff]
            run("jvp", lambda: plax.test_util.check_grads(f, dargs, order=1, modes=("fwd",)))
            if grad_order > 1:
                run("grad of grad", lambda: plax.test_util.check_grads(
                    f, dargs, order=grad_order, modes=("rev",)))
        if prim.linear_in:
            if get_rule("transpose", prim) is None:
                report["transpose"] = f"skipped: no transpose rule for {describe_primitive(prim)}"
            else:
                run("transpose", lambda: _check_transpose(prim, bind, args, want))

    if failures:
        raise ConformanceError(f"primitive {describe_primitive(prim)} failed "
                               f"{len(failures)} conformance check(s):\n- "
                               + "\n- ".join(failures))
    return report


def _variant(a):
    """A second member of a batch, from the same values (so it stays in the domain)."""
    a = np.asarray(a)
    return np.flip(a) if a.ndim else a


def _check_vmap(prim, bind, args, axes, rtol, atol):
    import plax
    size = 2
    members = [[a if d is None else (a if k == 0 else _variant(a)) for a, d in zip(args, axes)]
               for k in range(size)]
    batched = [a if d is None else np.stack([np.asarray(m[i]) for m in members], axis=d)
               for i, (a, d) in enumerate(zip(args, axes))]
    got = _as_list(prim, plax.vmap(bind, in_axes=tuple(axes))(*batched))
    loop = [_as_list(prim, bind(*m)) for m in members]
    for i, g in enumerate(got):
        want = np.stack([np.asarray(out[i]) for out in loop])
        bad = _close(g, want, rtol, atol)
        if bad:
            return f"output {i}, vmap against a loop: {bad}"


def _check_transpose(prim, bind, args, out_avals):
    """The dot-product test <ct, f(x)> == <f^T(ct), x> over the linear operands (the others
    fixed): all of them at once (add, concatenate), or, for a primitive linear in each
    operand separately (mul, dot_general), one at a time."""
    lin = [i for i in range(len(args)) if i in prim.linear_in
           and np.asarray(args[i]).dtype.kind in "fc"]
    if not lin or any(a.dtype.kind not in "fc" for a in out_avals):
        return None
    try:
        return _dot_product_test(prim, bind, args, lin)
    except (ValueError, TypeError, NotImplementedError):
        if len(lin) == 1:
            raise
    for i in lin:
        bad = _dot_product_test(prim, bind, args, [i])
        if bad:
            return bad
    return None


def _dot_product_test(prim, bind, args, lin):
    import plax
    rng = np.random.default_rng(0)

    def f(*xs):
        full = list(args)
        for i, x in zip(lin, xs):
            full[i] = x
        return bind(*full)

    xs = [np.asarray(rng.standard_normal(np.shape(args[i])), dtype=np.asarray(args[i]).dtype)
          for i in lin]
    out = _as_list(prim, f(*xs))
    cts = [np.asarray(rng.standard_normal(o.shape), dtype=o.dtype) for o in out]
    ct_in = plax.linear_transpose(f, *xs)(cts if prim.multiple_results else cts[0])
    lhs = sum(float(np.vdot(np.asarray(c, np.float64), np.asarray(o, np.float64)))
              for c, o in zip(cts, out))
    rhs = sum(float(np.vdot(np.asarray(c, np.float64), np.asarray(x, np.float64)))
              for c, x in zip(ct_in, xs))
    if not np.isclose(lhs, rhs, rtol=1e-4, atol=1e-4 * max(1.0, abs(lhs))):
        return (f"dot-product test for operand(s) {lin}: <ct, f(x)> = {lhs} but "
                f"<f^T(ct), x> = {rhs}")
    return None


# --- the pytest plugin (pytest_plugins = ["plax.extend.testing"]) -----------------------------


def pytest_configure(config):
    """Turn on plax's `check_rules` option for the session (results and batch rules checked
    against the abstract evaluation)."""
    import plax
    plax.config.update("check_rules", True)


try:
    import pytest as _pytest
except ImportError:  # pragma: no cover - the module is usable without pytest
    _pytest = None

if _pytest is not None:
    @_pytest.fixture(name="check_primitive")
    def _check_primitive_fixture():
        """The conformance kit: `check_primitive(prim, *example_args, params={...})`."""
        return check_primitive
