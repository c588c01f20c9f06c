"""Decompositions through CuPy's libraries (cuSOLVER via cupy.linalg, cuBLAS trsm and cuSOLVER
getrf via cupyx.scipy.linalg) for the GPU build: cholesky, triangular_solve, qr (no pivoting),
svd, eigh, lu (getrf per matrix, the permutation from the pivots on the device), geqrf
(cupy.linalg.qr's 'raw' mode: cuSOLVER geqrf, batched) and householder_product (CuPy 14 has no
public orgqr/ungqr: the reflectors applied to the identity on the device), with the reference
backend's conventions (NaNs where a factorisation fails). eig, schur, hessenberg and tridiagonal
have no CuPy equivalent and stay NumPy calls through the host. The host build keeps the
NumPy/LAPACK library calls; these rules run there too in tests, through NumPy/SciPy."""

from __future__ import annotations

import warnings

import numpy as np

from plax_cupy import xp as X


def _real(dt):
    return np.dtype({"complex64": "float32", "complex128": "float64"}.get(np.dtype(dt).name,
                                                                          np.dtype(dt).name))


def _nan_where(bad, x):
    """x with every matrix whose `bad` flag (batch-shaped) is set replaced by NaNs."""
    xp = X.xp
    return xp.where(bad.reshape(bad.shape + (1,) * (x.ndim - bad.ndim)),
                    xp.asarray(np.nan, x.dtype), x)


def _cholesky(x):
    xp = X.xp
    if x.size == 0:
        return x.copy()
    try:
        c = xp.linalg.cholesky(x)  # reads the lower triangle, as potrf(lower=True)
    except np.linalg.LinAlgError:  # NumPy refuses the whole batch: one matrix at a time
        flat = x.reshape((-1,) + x.shape[-2:])
        out = np.empty_like(flat)
        for i, a in enumerate(flat):
            try:
                out[i] = np.linalg.cholesky(a)
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out.reshape(x.shape)
    diag = xp.diagonal(c, axis1=-2, axis2=-1).real
    bad = ~xp.all(xp.isfinite(c), axis=(-2, -1)) | ~xp.all(diag > 0, axis=-1)
    return _nan_where(bad, xp.tril(c)).astype(x.dtype)


def _solve_triangular():
    if X.on_gpu():
        from cupyx.scipy.linalg import solve_triangular
    else:
        from scipy.linalg import solve_triangular
    return solve_triangular


def _triangular_solve(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    xp = X.xp
    if b.size == 0:
        return b.copy()
    solve = _solve_triangular()
    trans = (2 if conjugate_a else 1) if transpose_a else 0
    if conjugate_a and not transpose_a:
        a, trans = xp.conj(a), 0
    a = xp.broadcast_to(a, b.shape[:-2] + a.shape[-2:])
    out = xp.empty(b.shape, b.dtype)
    flat_a = a.reshape((-1,) + a.shape[-2:])
    flat_b = b.reshape((-1,) + b.shape[-2:])
    flat_o = out.reshape((-1,) + b.shape[-2:])
    for i in range(flat_b.shape[0]):
        am, bm = flat_a[i], flat_b[i]
        if left_side:
            flat_o[i] = solve(am, bm, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
        elif trans == 2:  # X A^H = B  <=>  conj(X) A^T = conj(B)  <=>  A conj(X)^T = ...
            xt = solve(am, xp.conj(bm).T, trans=0, lower=lower, unit_diagonal=unit_diagonal)
            flat_o[i] = xp.conj(xt.T)
        else:  # X op(A) = B  <=>  op(A)^T X^T = B^T
            xt = solve(am, bm.T, trans=1 - trans, lower=lower, unit_diagonal=unit_diagonal)
            flat_o[i] = xt.T
    return out


def _qr(x, *, pivoting, full_matrices):
    if pivoting:
        return None  # not through this rule (see GPU_RULES)
    xp = X.xp
    m, n = x.shape[-2:]
    kk = m if full_matrices else min(m, n)
    if x.size == 0:
        q = xp.broadcast_to(xp.eye(m, kk, dtype=x.dtype), x.shape[:-2] + (m, kk)).copy()
        return [q, xp.zeros(x.shape[:-2] + (kk, n), x.dtype)]
    q, r = xp.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype), r.astype(x.dtype)]


def _svd(x, *, full_matrices, compute_uv, subset_by_index, algorithm):
    xp = X.xp
    m, n = x.shape[-2:]
    k = min(m, n)
    lo, hi = (0, k) if subset_by_index is None else tuple(subset_by_index)
    rdt = _real(x.dtype)
    if x.size == 0:
        return None
    if not compute_uv:
        s = xp.linalg.svd(x, compute_uv=False)
        bad = ~xp.all(xp.isfinite(s), axis=-1)
        return [_nan_where(bad, s[..., lo:hi]).astype(rdt)]
    u, s, vt = xp.linalg.svd(x, full_matrices=full_matrices)
    if not full_matrices:
        u, vt = u[..., :, lo:hi], vt[..., lo:hi, :]
    bad = ~xp.all(xp.isfinite(s), axis=-1)
    return [_nan_where(bad, s[..., lo:hi]).astype(rdt), _nan_where(bad, u).astype(x.dtype),
            _nan_where(bad, vt).astype(x.dtype)]


def _eigh(x, *, lower, sort_eigenvalues, subset_by_index):
    xp = X.xp
    n = x.shape[-1]
    if x.size == 0:
        return [x.copy(), xp.zeros(x.shape[:-1], _real(x.dtype))]
    w, v = xp.linalg.eigh(x, UPLO="L" if lower else "U")  # ascending, as syevd
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        lo, hi = subset_by_index
        v, w = v[..., lo:hi], w[..., lo:hi]
    bad = ~xp.all(xp.isfinite(w), axis=-1)
    return [_nan_where(bad, v).astype(x.dtype), _nan_where(bad, w).astype(_real(x.dtype))]


def _lu_factor():
    if X.on_gpu():
        from cupyx.scipy.linalg import lu_factor
    else:
        from scipy.linalg import lu_factor
    return lu_factor


def _lu(x):
    """(lu, pivots, permutation) as the reference's getrf: one getrf per matrix (CuPy's
    lu_factor takes 2-D arrays; a singular matrix keeps its factors, 0-based pivots), the
    permutation from the pivots' row swaps on the device, all matrices at once."""
    xp = X.xp
    m, n = x.shape[-2:]
    batch, k = x.shape[:-2], min(m, n)
    if x.size == 0:
        return None  # (the reference's rule: nothing to compute)
    lu_factor = _lu_factor()
    flat = x.reshape((-1, m, n))
    lu = xp.empty(flat.shape, x.dtype)
    piv = xp.empty((flat.shape[0], k), np.int32)
    with warnings.catch_warnings():  # "exactly zero diagonal": the reference keeps it too
        warnings.simplefilter("ignore")
        for i in range(flat.shape[0]):
            f, p = lu_factor(flat[i], check_finite=False)
            lu[i], piv[i] = f, p[:k]
    return [lu.reshape(x.shape), piv.reshape(batch + (k,)),
            _permutation(piv, m).reshape(batch + (m,))]


def _permutation(piv, m):
    """The row permutation of LAPACK pivots `piv` (batch, k): rows i and piv[i] swapped for
    i = 0, 1, ..., one gather and two scatters per step over the whole batch."""
    xp = X.xp
    nb, k = piv.shape
    perm = xp.broadcast_to(xp.arange(m, dtype=np.int32), (nb, m)).copy()
    rows = xp.arange(nb)
    for i in range(k):
        p = piv[:, i].astype(np.int64)
        here, there = perm[:, i].copy(), perm[rows, p]
        perm[rows, p] = here
        perm[:, i] = there
    return perm


def _geqrf(x):
    """LAPACK's geqrf (Householder vectors below R, their scalars): cupy.linalg.qr's 'raw'
    mode (NumPy's on the host) returns the column-major factor, i.e. its transpose."""
    xp = X.xp
    if x.size == 0:
        return None
    h, tau = xp.linalg.qr(x, mode="raw")
    return [xp.ascontiguousarray(xp.swapaxes(h, -1, -2)).astype(x.dtype, copy=False),
            tau.astype(x.dtype, copy=False)]


def _householder_product(a, taus):
    """orgqr/ungqr: the first n columns of H(0) H(1) ... H(k-1), H(i) = I - tau_i v_i v_i^H
    with v_i = (0, ..., 0, 1, a[i+1:, i]), applied to the identity from the last reflector
    on, each a batched product over all matrices at once (CuPy 14 has no public orgqr)."""
    xp = X.xp
    m, n = a.shape[-2:]
    k = taus.shape[-1]
    if a.size == 0:
        return None
    batch = a.shape[:-2]
    a = a.reshape((-1, m, n))
    t = taus.reshape((a.shape[0], k))
    q = xp.broadcast_to(xp.eye(m, n, dtype=a.dtype), a.shape).copy()
    for i in range(k - 1, -1, -1):
        v = a[:, :, i].copy()
        v[:, :i] = 0
        v[:, i] = 1
        w = xp.matmul(xp.conj(v)[:, None, :], q[:, :, i:])  # v^H Q (rows above i: zero)
        q[:, :, i:] -= (t[:, i, None, None] * v[:, :, None]) * w
    return q.reshape(batch + (m, n))


def _or_numpy(rule, name):
    """`rule`, or the NumPy library call where it returns None (cases it does not take)."""
    def run(*args, **params):
        out = rule(*args, **params)
        if out is None:
            from plax.extend import registry
            from plax_cupy.library import numpy_rule
            prim = registry.primitives()[name]
            out = numpy_rule(prim)(*args, **params)
        return out
    run.__name__ = rule.__name__
    return run


# on the GPU these replace the NumPy calls through the host (CupyBackend, device "gpu")
GPU_RULES = {
    "cholesky": _cholesky,
    "triangular_solve": _triangular_solve,
    "qr": _or_numpy(_qr, "qr"),
    "svd": _or_numpy(_svd, "svd"),
    "eigh": _eigh,
    "lu": _or_numpy(_lu, "lu"),
    "geqrf": _or_numpy(_geqrf, "geqrf"),
    "householder_product": _or_numpy(_householder_product, "householder_product"),
}
