"""Lowering rules of lax.linalg's decompositions: stablehlo.custom_call of the FFI kernels jaxlib
ships, then NaNs wherever the kernel reported a failure, as JAX does. On the CPU, LAPACK
(jaxlib/lapack.py; column-major layouts, routine options in mhlo.backend_config); on an NVIDIA GPU
the cuSOLVER/cuSPARSE kernels of the CUDA plugin (jaxlib/gpu_solver.py, gpu_sparse.py: registered
with XLA when plax_xla makes the plugin's client) and its "hybrid" kernels (LAPACK on the host,
for eig and pivoted QR), with the same targets, layouts and options JAX 0.10.2 emits for the
platform 'cuda' (tests/test_linalg_gpu_lowering.py compares the two without a GPU);
triangular_solve is StableHLO's own op there. Compositions (qr, pivots to permutation) are traced
plax functions lowered in place. schur and hessenberg are CPU-only (as in JAX), and on a TPU only
cholesky and triangular_solve lower (StableHLO's ops)."""

from __future__ import annotations

import numpy as np

from plax.extend import dtypes
from plax.lax import linalg as ld
from plax.extend import ClosedJaxpr, ShapedArray, trace_to_jaxpr
from plax_xla import hlo
from plax_xla.lowering import FuncBuilder, Value, inline_closed

I32 = np.dtype(np.int32)


def _layout(ndim: int, column_major: bool) -> str:
    if column_major:  # (rows, cols) minor-most: Fortran order per matrix, batch outermost
        dims = (ndim - 2, ndim - 1) + tuple(range(ndim - 3, -1, -1))
    else:
        dims = tuple(range(ndim - 1, -1, -1))
    body = "[" + ", ".join(map(str, dims)) + "]" if len(dims) > 1 else \
        (str(dims[0]) if dims else "")
    return f"dense<{body}> : tensor<{ndim}xindex>"


def _char(c: str) -> str:
    return f"{ord(c)} : ui8"


def ffi_call(b: FuncBuilder, target: str, operands, results, *, config: dict | None = None,
             aliases: dict | None = None, column_major: bool = True) -> list[Value]:
    """One custom call of FFI kernel `target`; `results` are (shape, dtype) pairs. Arrays of
    the highest rank among the operands are column-major matrices (row-major with
    `column_major=False`), the rest row-major."""
    top = max(len(o.shape) for o in operands)
    op_layouts = ", ".join(_layout(len(o.shape), column_major and len(o.shape) == top)
                           for o in operands)
    res_layouts = ", ".join(_layout(len(s), column_major and len(s) == top) for s, _ in results)
    cfg = ", ".join(f"{k} = {v}" for k, v in (config or {}).items())
    attrs = (f'call_target_name = "{target}", backend_config = "", '
             f"mhlo.backend_config = {{{cfg}}}, "
             f'mhlo.frontend_attributes = {{num_batch_dims = "{top - 2}"}}, '
             f"operand_layouts = [{op_layouts}], result_layouts = [{res_layouts}]")
    if aliases:
        multi = len(results) > 1
        attrs += ", output_operand_aliases = [" + ", ".join(
            f"#stablehlo.output_operand_alias<output_tuple_indices = [{o}], operand_index = "
            f"{i}, operand_tuple_indices = []>" if multi else
            f"#stablehlo.output_operand_alias<output_tuple_indices = [], operand_index = {i}, "
            f"operand_tuple_indices = []>" for i, o in aliases.items()) + "]"
    return b.op("stablehlo.custom_call", list(operands), results, attrs=attrs)


def nan_unless(b: FuncBuilder, ok: Value, x: Value) -> Value:
    """x where the batch entry's `ok` holds, NaN elsewhere (ok has x's leading dims)."""
    if not dtypes.is_inexact(x.dtype):
        return x
    pred = hlo.broadcast_in_dim(b, ok, x.shape, tuple(range(ok.ndim)))
    nan = complex(np.nan, np.nan) if dtypes.is_complex(x.dtype) else np.nan
    return hlo.select(b, pred, x, hlo.full(b, nan, x.shape, x.dtype))


def info_ok(b: FuncBuilder, info: Value, direction: str = "EQ") -> Value:
    return hlo.compare(b, info, hlo.full(b, 0, info.shape, I32), direction)


def lower_fun(b: FuncBuilder, fun, *args: Value) -> list[Value]:
    """fun (plax operations on arrays, returning a list) traced on the args' avals and
    emitted in place."""
    avals = [ShapedArray(a.shape, a.dtype) for a in args]
    jaxpr, consts, _ = trace_to_jaxpr(lambda *xs: list(fun(*xs)), avals, name="linalg")
    return inline_closed(b, ClosedJaxpr(jaxpr, consts), list(args))


def _lapack(fn_base: str, dtype, real_prefix: str | None = None) -> str:
    if real_prefix is not None:  # sy/he, or/un
        sym, herm = real_prefix.split("/")
        fn_base = (herm if dtypes.is_complex(dtype) else sym) + fn_base
    from plax_xla import _jaxlib as jl  # here: registering the rules leaves jaxlib unloaded
    return jl.lapack_target(fn_base, dtype)


def _batch(x) -> tuple:
    return tuple(x.shape[:-2])


# ---------------------------------------------------------------------------------------------
# rules


# set by tests to check on the CPU the lowerings another platform uses ("cuda", "tpu")
FORCE_PLATFORM: str | None = None


def _platform() -> str:
    """'cpu' (LAPACK), 'cuda' (cuSOLVER) or the xla backend's other platform (StableHLO only)."""
    if FORCE_PLATFORM:
        return FORCE_PLATFORM
    from plax.extend import registry
    p = getattr(registry.get_backend("xla"), "platform", "cpu")
    return "cuda" if p == "gpu" else p


def _cpu_or_cuda(name: str) -> str:
    p = _platform()
    if p not in ("cpu", "cuda"):
        raise NotImplementedError(
            f"lax.linalg.{name}: the xla backend lowers it through LAPACK on the CPU and "
            f"cuSOLVER on NVIDIA GPUs, not on '{p}' (run it with jit(..., backend='reference') "
            "or on an xla CPU/GPU backend)")
    return p


def _cpu_only(name: str):
    if _platform() != "cpu":
        raise NotImplementedError(
            f"lax.linalg.{name}: the xla backend lowers it through LAPACK, on the CPU only (as "
            f"JAX: no GPU kernel; run it with jit(..., backend='reference') or on an xla CPU "
            "backend)")


def _hybrid(kernel: str) -> str:
    """The CUDA plugin's hybrid kernel `kernel` (host LAPACK or MAGMA, called from the GPU
    program)."""
    return f"cuhybrid_{kernel}"


def _cu(routine: str) -> str:
    """The CUDA plugin's FFI target of cuSOLVER `routine` (all dtypes: the kernel dispatches)."""
    return f"cusolver_{routine}_ffi"


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _cholesky_generic(b, x):
    out = b.op1("stablehlo.cholesky", [x], attrs="lower = true")
    return out


def _triangular_solve_generic(b, a, x, left_side, lower, transpose_a, conjugate_a,
                              unit_diagonal):
    trans = ("ADJOINT" if conjugate_a else "TRANSPOSE") if transpose_a else "NO_TRANSPOSE"
    return b.op1("stablehlo.triangular_solve", [a, x], x.shape, x.dtype,
                 attrs=f"left_side = {_bool(left_side)}, lower = {_bool(lower)}, "
                       f"unit_diagonal = {_bool(unit_diagonal)}, "
                       f"transpose_a = #stablehlo<transpose {trans}>")


def _cholesky(ctx, x):
    """The lower factor with zeros above it, as the reference backend's (potrf and
    stablehlo.cholesky leave that triangle implementation-defined: the input's, on the CPU)."""
    b = ctx.b
    p = _platform()
    if p in ("cpu", "cuda"):
        target, cfg = ((_lapack("potrf_ffi", x.dtype), {"uplo": _char("L")}) if p == "cpu"
                       else (_cu("potrf"), {"lower": "true"}))
        out, info = ffi_call(b, target, [x], [(x.shape, x.dtype), (_batch(x), I32)],
                             config=cfg, aliases={0: 0})
        out = nan_unless(b, info_ok(b, info), out)
    else:
        out = _cholesky_generic(b, x)
    return lower_fun(b, lambda m: [ld.tril(m)], out)[0]


def _triangular_solve(ctx, a, x, *, left_side, lower, transpose_a, conjugate_a,
                      unit_diagonal):
    b = ctx.b
    if conjugate_a and not transpose_a:
        a, conjugate_a = lower_fun(b, lambda m: [lax_conj(m)], a)[0], False
    if a.shape[:-2] != x.shape[:-2]:
        a = hlo.broadcast_in_dim(b, a, x.shape[:-2] + a.shape[-2:],
                                 tuple(range(x.ndim - a.ndim, x.ndim)))
    if _platform() != "cpu":  # StableHLO's op: cuBLAS trsm inside XLA on a GPU, as JAX's
        return _triangular_solve_generic(b, a, x, left_side, lower, transpose_a, conjugate_a,
                                         unit_diagonal)
    trans = ("C" if conjugate_a else "T") if transpose_a else "N"
    config = {"diag": _char("U" if unit_diagonal else "N"),
              "side": _char("L" if left_side else "R"),
              "trans_x": _char(trans), "uplo": _char("L" if lower else "U")}
    return ffi_call(b, _lapack("trsm_ffi", a.dtype), [a, x], [(x.shape, x.dtype)],
                    config=config, aliases={1: 0})[0]


def _lu(ctx, x):
    b = ctx.b
    p = _cpu_or_cuda("lu")
    m, n = x.shape[-2:]
    batch = _batch(x)
    k = min(m, n)
    if x.shape[-1] == 0 or x.shape[-2] == 0 or 0 in batch:
        perm = hlo.iota(b, batch + (m,), I32, len(batch))
        return [_zeros(b, x.shape, x.dtype),
                _zeros(b, batch + (k,), I32), perm]
    target = _lapack("getrf_ffi", x.dtype) if p == "cpu" else _cu("getrf")
    lu, piv, info = ffi_call(b, target, [x],
                             [(x.shape, x.dtype), (batch + (k,), I32), (batch, I32)],
                             aliases={0: 0})
    piv = hlo.sub(b, piv, hlo.full(b, 1, piv.shape, I32))
    lu = nan_unless(b, info_ok(b, info, "GE"), lu)
    perm, = lower_fun(b, lambda p: [ld.lu_pivots_to_permutation(p, m)], piv)
    return [lu, piv, perm]


def lax_conj(x):
    from plax import lax
    return lax.conj(x)


def _zeros(b, shape, dtype):
    return hlo.full(b, 0, shape, dtype)


def _geqrf(ctx, x):
    b = ctx.b
    p = _cpu_or_cuda("geqrf")
    k = min(x.shape[-2:])
    target = _lapack("geqrf_ffi", x.dtype) if p == "cpu" else _cu("geqrf")
    return ffi_call(b, target, [x],
                    [(x.shape, x.dtype), (_batch(x) + (k,), x.dtype)], aliases={0: 0})


def _householder_product(ctx, a, taus):
    b = ctx.b
    p = _cpu_or_cuda("householder_product")
    if a.shape[-1] == 0:
        return a
    target = _lapack("gqr_ffi", a.dtype, "or/un") if p == "cpu" else _cu("orgqr")
    return ffi_call(b, target, [a, taus], [(a.shape, a.dtype)],
                    aliases={0: 0})[0]


def _qr(ctx, x, *, pivoting, full_matrices):
    b = ctx.b
    plat = _cpu_or_cuda("qr")
    m, n = x.shape[-2:]
    batch = _batch(x)
    if m == 0 or n == 0 or 0 in batch:
        return lower_fun(b, lambda a: _empty_qr(a, pivoting, full_matrices), x)
    p = None
    if pivoting:
        jpvt = _zeros(b, batch + (n,), I32)
        # on a GPU the plugin's hybrid kernel (LAPACK's geqp3 on the host, or MAGMA's)
        target, cfg = ((_lapack("geqp3_ffi", x.dtype), None) if plat == "cpu" else
                       (_hybrid("geqp3"), {"magma": '"auto"'}))
        r, p, taus = ffi_call(b, target, [x, jpvt],
                              [(x.shape, x.dtype), (batch + (n,), I32),
                               (batch + (min(m, n),), x.dtype)], config=cfg,
                              aliases={0: 0, 1: 1})
        p = hlo.sub(b, p, hlo.full(b, 1, p.shape, I32))
    else:
        r, taus = _geqrf(ctx, x)
    q, r = lower_fun(b, lambda r_, t_: _qr_finish(r_, t_, m, n, full_matrices), r, taus)
    return [q, r] + ([p] if pivoting else [])


def _qr_finish(r, taus, m, n, full_matrices):
    """JAX's qr from geqrf's output: Q from the reflectors (padded to m columns for a full
    Q of a tall matrix), R the upper triangle."""
    from plax import lax
    nb = len(r.shape) - 2
    if m < n:
        q = ld.householder_product(lax.slice(r, (0,) * (nb + 2), r.shape[:-1] + (m,)), taus)
    elif full_matrices:
        pads = [(0, 0, 0)] * (nb + 1) + [(0, m - n, 0)]
        q = ld.householder_product(lax.pad(r, lax.full((), 0, r.dtype), pads), taus)
    else:
        q = ld.householder_product(r, taus)
        r = lax.slice(r, (0,) * (nb + 2), r.shape[:-2] + (n, n))
    return [q, ld.triu(r)]


def _empty_qr(x, pivoting, full_matrices):
    from plax import lax
    *batch, m, n = x.shape
    k = m if full_matrices else min(m, n)
    eye = lax.convert_element_type(
        lax.eq(lax.broadcasted_iota(np.int32, (*batch, m, k), len(batch)),
               lax.broadcasted_iota(np.int32, (*batch, m, k), len(batch) + 1)), x.dtype)
    outs = [eye, lax.full((*batch, k, n), 0, x.dtype)]
    return outs + ([lax.full((*batch, n), 0, np.int32)] if pivoting else [])


def _svd(ctx, x, *, full_matrices, compute_uv, subset_by_index, algorithm):
    b = ctx.b
    p = _cpu_or_cuda("svd")
    m, n = x.shape[-2:]
    batch = _batch(x)
    k = min(m, n)
    if subset_by_index is not None and tuple(subset_by_index) != (0, k):
        raise NotImplementedError("svd: subset_by_index is not implemented on the xla CPU "
                                  "and GPU backends (as in JAX)")
    if m == 0 or n == 0 or 0 in batch:
        return lower_fun(b, lambda a: _empty_svd(a, full_matrices, compute_uv), x)
    if p == "cuda":
        s, u, vt, info = _svd_cuda(b, x, full_matrices, compute_uv, algorithm)
    elif algorithm in (ld.SvdAlgorithm.JACOBI, ld.SvdAlgorithm.POLAR):
        raise NotImplementedError(f"svd: SvdAlgorithm {algorithm!r} runs on GPUs (cuSOLVER's "
                                  "gesvdj/gesvdp), not on the CPU (as in JAX): use DEFAULT or "
                                  "QR there")
    else:
        mode = "N" if not compute_uv else ("A" if full_matrices else "S")
        rdt = ld.real_dtype(x.dtype)
        ucols, vrows = (m, n) if full_matrices else (k, k)
        routine = "gesvd_ffi" if algorithm == ld.SvdAlgorithm.QR else "gesdd_ffi"
        _, s, u, vt, info = ffi_call(
            b, _lapack(routine, x.dtype), [x],
            [(x.shape, x.dtype), (batch + (k,), rdt), (batch + (m, ucols), x.dtype),
             (batch + (vrows, n), x.dtype), (batch, I32)],
            config={"mode": _char(mode)}, aliases={0: 0})
    ok = info_ok(b, info)
    outs = [nan_unless(b, ok, s)]
    if compute_uv:
        outs += [nan_unless(b, ok, u), nan_unless(b, ok, vt)]
    return outs


def _svd_cuda(b, x, full_matrices, compute_uv, algorithm):
    """cuSOLVER's SVD as JAX 0.10.2 picks it: Jacobi (gesvdj) for matrices up to 1024 on a
    side, else gesvd (QR; on the transpose of a wide matrix), polar (gesvdp) on request. The
    Jacobi and polar kernels return V (not V^H) and always compute U and V."""
    A = ld.SvdAlgorithm
    m, n = x.shape[-2:]
    batch = _batch(x)
    nb, k = len(batch), min(m, n)
    algorithm = algorithm or A.DEFAULT
    if algorithm == A.DIVIDE_AND_CONQUER:
        raise NotImplementedError("svd: SvdAlgorithm.DIVIDE_AND_CONQUER runs on the CPU and on "
                                  "AMD GPUs, not with cuSOLVER (as in JAX)")
    impl = {A.QR: "gesvd", A.JACOBI: "gesvdj", A.POLAR: "gesvdp"}.get(algorithm)
    if impl is None:
        impl = "gesvdj" if m <= 1024 and n <= 1024 else "gesvd"
    rdt = ld.real_dtype(x.dtype)
    econ, transposed, cfg = not full_matrices, False, {}
    if impl == "gesvdj":  # the batched Jacobi kernel has no economy mode: worth it up to 32
        econ = not full_matrices and m > 32 and n > 32
    if impl == "gesvd":
        transposed = m < n
        cfg["transposed"] = _bool(transposed)
    if impl in ("gesvdj", "gesvdp"):
        res_uv = [(batch + (m, k if econ else m), x.dtype),
                  (batch + (n, k if econ else n), x.dtype)]
    elif not compute_uv:
        res_uv = [((), x.dtype), ((), x.dtype)]
    else:
        u_s = batch + (m, m if full_matrices else k)
        vt_s = batch + (n if full_matrices else k, n)
        res_uv = [vt_s, u_s] if transposed else [u_s, vt_s]
        res_uv = [(s_, x.dtype) for s_ in res_uv]
    cfg.update(full_matrices=_bool(not econ), compute_uv=_bool(compute_uv))
    _, s, u, vt, info = ffi_call(b, _cu(impl), [x],
                                 [(x.shape, x.dtype), (batch + (k,), rdt), *res_uv,
                                  (batch, I32)],
                                 config=cfg, aliases={0: 0}, column_major=not transposed)
    if impl in ("gesvdj", "gesvdp") and compute_uv:
        perm = tuple(range(nb)) + (nb + 1, nb)
        vt = b.op1("stablehlo.transpose", [vt], tuple(vt.shape[i] for i in perm), vt.dtype,
                   attrs=f"permutation = array<i64: {', '.join(map(str, perm))}>")
        if dtypes.is_complex(x.dtype):
            vt = lower_fun(b, lambda v: [lax_conj(v)], vt)[0]
        if not full_matrices and not econ:
            u, vt = lower_fun(b, lambda u_, v_: [u_[..., :, :k], v_[..., :k, :]], u, vt)
    if transposed:
        u, vt = vt, u
    return s, u, vt, info


def _empty_svd(x, full_matrices, compute_uv):
    from plax import lax
    *batch, m, n = x.shape
    s = lax.full((*batch, 0), 0, ld.real_dtype(x.dtype))
    if not compute_uv:
        return [s]

    def eye(r, c):
        shape = (*batch, r, c)
        return lax.convert_element_type(
            lax.eq(lax.broadcasted_iota(np.int32, shape, len(batch)),
                   lax.broadcasted_iota(np.int32, shape, len(batch) + 1)), x.dtype)

    k = min(m, n)
    u = eye(m, m if full_matrices else k)
    vt = eye(n if full_matrices else k, n)
    return [s, u, vt]


def _eigh(ctx, x, *, lower, sort_eigenvalues, subset_by_index):
    b = ctx.b
    p = _cpu_or_cuda("eigh")
    n = x.shape[-1]
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        raise NotImplementedError("eigh: subset_by_index is not implemented on the xla CPU "
                                  "and GPU backends (as in JAX)")
    rdt = ld.real_dtype(x.dtype)
    if p == "cpu":
        target = _lapack("evd_ffi", x.dtype, "sy/he")
        cfg = {"mode": _char("V"), "uplo": _char("L" if lower else "U")}
    else:  # syevd/heevd, cuSOLVER's default algorithm; the eigenvalues come sorted
        target, cfg = _cu("syevd"), {"algorithm": "0 : ui8", "lower": _bool(lower)}
    v, w, info = ffi_call(b, target, [x],
                          [(x.shape, x.dtype), (_batch(x) + (n,), rdt), (_batch(x), I32)],
                          config=cfg, aliases={0: 0})
    ok = info_ok(b, info)
    return [nan_unless(b, ok, v), nan_unless(b, ok, w)]


def _eig(ctx, x, *, compute_left_eigenvectors, compute_right_eigenvectors,
         enable_eigvec_derivs):
    b = ctx.b
    p = _cpu_or_cuda("eig")
    n = x.shape[-1]
    batch = _batch(x)
    cdt = ld.complex_dtype(x.dtype)
    real = not dtypes.is_complex(x.dtype)
    w_res = [(batch + (n,), x.dtype)] * (2 if real else 1)
    if p == "cpu":
        target = _lapack("geev_ffi", x.dtype)
        cfg = {"compute_left": _char("V" if compute_left_eigenvectors else "N"),
               "compute_right": _char("V" if compute_right_eigenvectors else "N")}
    else:  # the plugin's hybrid kernel: LAPACK's geev on the host (MAGMA's when installed)
        target = _hybrid("eig_real" if real else "eig_comp")
        cfg = {"left": _bool(compute_left_eigenvectors), "magma": '"auto"',
               "right": _bool(compute_right_eigenvectors)}
    outs = ffi_call(b, target, [x], [*w_res, (x.shape, cdt), (x.shape, cdt), (batch, I32)],
                    config=cfg)
    *w, vl, vr, info = outs
    w = b.op1("stablehlo.complex", w, w[0].shape, cdt) if real else w[0]
    ok = info_ok(b, info)
    res = [nan_unless(b, ok, w)]
    if compute_left_eigenvectors:
        res.append(nan_unless(b, ok, vl))
    if compute_right_eigenvectors:
        res.append(nan_unless(b, ok, vr))
    return res


def _schur(ctx, x, *, compute_schur_vectors, sort_eig_vals):
    b = ctx.b
    _cpu_only("schur")
    n = x.shape[-1]
    batch = _batch(x)
    real = not dtypes.is_complex(x.dtype)
    w_res = [(batch + (n,), x.dtype)] * (2 if real else 1)
    t, z, *_, info = ffi_call(
        b, _lapack("gees_ffi", x.dtype), [x],
        [(x.shape, x.dtype), (x.shape, x.dtype), *w_res, (batch, I32), (batch, I32)],
        config={"mode": _char("V" if compute_schur_vectors else "N"), "sort": _char("N")},
        aliases={0: 0})
    ok = info_ok(b, info)
    return [nan_unless(b, ok, t)] + ([nan_unless(b, ok, z)] if compute_schur_vectors else [])


def _hessenberg(ctx, a):
    b = ctx.b
    _cpu_only("hessenberg")
    n = a.shape[-1]
    h, taus, info = ffi_call(b, _lapack("gehrd_ffi", a.dtype), [a],
                             [(a.shape, a.dtype), (_batch(a) + (n - 1,), a.dtype),
                              (_batch(a), I32)],
                             config={"high": f"{n} : i32", "low": "1 : i32"}, aliases={0: 0})
    ok = info_ok(b, info)
    return [nan_unless(b, ok, h), nan_unless(b, ok, taus)]


def _tridiagonal(ctx, a, *, lower):
    b = ctx.b
    p = _cpu_or_cuda("tridiagonal")
    n = a.shape[-1]
    batch = _batch(a)
    rdt = ld.real_dtype(a.dtype)
    target, cfg = ((_lapack("trd_ffi", a.dtype, "sy/he"), {"uplo": _char("L" if lower else "U")})
                   if p == "cpu" else (_cu("sytrd"), {"lower": _bool(lower)}))
    outs = ffi_call(b, target, [a],
                    [(a.shape, a.dtype), (batch + (n,), rdt), (batch + (n - 1,), rdt),
                     (batch + (n - 1,), a.dtype), (batch, I32)],
                    config=cfg, aliases={0: 0})
    ok = info_ok(b, outs[-1])
    return [nan_unless(b, ok, o) for o in outs[:-1]]


def _tridiagonal_solve(ctx, dl, d, du, x, *, perturb_singular):
    b = ctx.b
    if perturb_singular:  # jaxlib's own kernel (pivoted LU, tiny pivots perturbed)
        target = ("cu_tridiagonal_solve_perturbed" if _cpu_or_cuda("tridiagonal_solve") == "cuda"
                  else "tridiagonal_solve_perturbed_ffi")
        return ffi_call(b, target, [dl, d, du, x], [(x.shape, x.dtype)])[0]
    if _cpu_or_cuda("tridiagonal_solve") == "cuda":
        if d.shape[-1] <= 2:  # cuSPARSE's gtsv2 needs 3 rows or more: solved in place
            return lower_fun(b, lambda *a: [_tridiagonal_solve_small(*a)], dl, d, du, x)[0]
        return ffi_call(b, "cusparse_gtsv2_ffi", [dl, d, du, x], [(x.shape, x.dtype)],
                        aliases={3: 0})[0]
    outs = ffi_call(b, _lapack("gtsv_ffi", x.dtype), [dl, d, du, x],
                    [(dl.shape, dl.dtype), (d.shape, d.dtype), (du.shape, du.dtype),
                     (x.shape, x.dtype), (_batch(x), I32)],
                    aliases={0: 0, 1: 1, 2: 2, 3: 3})
    return nan_unless(b, info_ok(b, outs[-1]), outs[3])


def _tridiagonal_solve_small(dl, d, du, x):
    """Systems of one or two rows, by Cramer's rule (NaN/inf on a singular one, as gtsv2)."""
    if d.shape[-1] == 1:
        return x / d[..., :, None]
    d0, d1, u0, l1 = (v[..., None] for v in (d[..., 0], d[..., 1], du[..., 0], dl[..., 1]))
    x0, x1 = x[..., 0, :], x[..., 1, :]
    det = d0 * d1 - u0 * l1
    from plax import lax
    return lax.concatenate([((d1 * x0 - u0 * x1) / det)[..., None, :],
                            ((d0 * x1 - l1 * x0) / det)[..., None, :]], x.ndim - 2)


RULES = {
    ld.cholesky_p: _cholesky,
    ld.triangular_solve_p: _triangular_solve,
    ld.lu_p: _lu,
    ld.geqrf_p: _geqrf,
    ld.householder_product_p: _householder_product,
    ld.qr_p: _qr,
    ld.svd_p: _svd,
    ld.eigh_p: _eigh,
    ld.eig_p: _eig,
    ld.schur_p: _schur,
    ld.hessenberg_p: _hessenberg,
    ld.tridiagonal_p: _tridiagonal,
    ld.tridiagonal_solve_p: _tridiagonal_solve,
}
