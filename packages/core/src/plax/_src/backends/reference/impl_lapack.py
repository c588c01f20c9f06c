"""NumPy/SciPy implementations of the decompositions of lax.linalg: the same LAPACK routines
the xla backend calls (potrf, getrf, geqrf, orgqr, gesdd, syevd, geev, gees, gehrd, sytrd,
gtsv) through scipy.linalg.lapack, one matrix at a time over the batch, NaNs where they fail.
"""

from __future__ import annotations

import itertools

import numpy as np

from plax._src.lax import linalg_decomp as ld


def _lapack(name: str, x: np.ndarray):
    from scipy.linalg import lapack
    return lapack.get_lapack_funcs(name, (x,))


def _batched(fn, *arrays, ranks, n_out):
    """fn(*matrices) -> tuple of n_out arrays, mapped over the leading (batch) dimensions."""
    batch = arrays[0].shape[:arrays[0].ndim - ranks[0]]
    outs = None
    for idx in itertools.product(*map(range, batch)):
        res = fn(*(a[idx] for a in arrays))
        if outs is None:
            outs = [np.empty(batch + np.shape(r), np.asarray(r).dtype) for r in res]
        for o, r in zip(outs, res):
            o[idx] = r
    return outs


def _nan_if(ok: bool, *xs):
    return tuple(x if ok else np.full_like(x, np.nan) for x in xs)


def _cholesky(x):
    if x.size == 0:
        return x.copy()
    potrf = _lapack("potrf", x)

    def one(a):
        c, info = potrf(a, lower=True, clean=True)
        return _nan_if(info == 0, np.tril(c))

    return _batched(one, x, ranks=(2,), n_out=1)[0].astype(x.dtype)


def _triangular_solve(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    from scipy.linalg import blas
    if b.size == 0:
        return b.copy()
    if conjugate_a and not transpose_a:
        a = np.conj(a)
    trans = (2 if conjugate_a else 1) if transpose_a else 0
    trsm = blas.get_blas_funcs("trsm", (a, b))

    def one(am, bm):  # BLAS trsm, as XLA's LAPACK kernel: a zero pivot gives inf/nan
        with np.errstate(all="ignore"):
            return (trsm(1.0, am, bm, side=0 if left_side else 1, lower=int(lower),
                         trans_a=trans, diag=int(unit_diagonal)),)

    out = _batched(one, np.broadcast_to(a, b.shape[:-2] + a.shape[-2:]), b, ranks=(2, 2),
                   n_out=1)[0]
    return out.astype(b.dtype)


def _lu(x):
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    k = min(m, n)
    if x.size == 0:
        return [x.copy(), np.zeros(batch + (k,), np.int32),
                np.broadcast_to(np.arange(m, dtype=np.int32), batch + (m,)).copy()]
    getrf = _lapack("getrf", x)

    def one(a):
        lu, piv, info = getrf(a)
        perm = np.arange(m, dtype=np.int32)
        for i, p in enumerate(piv[:k]):
            perm[[i, p]] = perm[[p, i]]
        return (lu if info >= 0 else np.full_like(lu, np.nan)), piv[:k].astype(np.int32), perm

    lu, piv, perm = _batched(one, x, ranks=(2,), n_out=3)
    return [lu.astype(x.dtype), piv, perm]


def _geqrf(x):
    m, n = x.shape[-2:]
    if x.size == 0:
        return [x.copy(), np.zeros(x.shape[:-2] + (min(m, n),), x.dtype)]
    geqrf = _lapack("geqrf", x)

    def one(a):
        qr, tau, _, _ = geqrf(a)
        return qr, tau

    a, tau = _batched(one, x, ranks=(2,), n_out=2)
    return [a.astype(x.dtype), tau.astype(x.dtype)]


def _householder_product(a, taus):
    m, n = a.shape[-2:]
    k = taus.shape[-1]
    if a.size == 0:
        return a.copy()
    orgqr = _lapack("ungqr" if a.dtype.kind == "c" else "orgqr", a)

    def one(am, tm):
        if k < n:  # LAPACK's orgqr needs n taus: the extra reflectors are identities
            tm = np.concatenate([tm, np.zeros(n - k, tm.dtype)])
        q, _, info = orgqr(am, tm)
        return (q,)

    return _batched(one, a, taus, ranks=(2, 1), n_out=1)[0].astype(a.dtype)


def _qr(x, *, pivoting, full_matrices):
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    kk = m if full_matrices else min(m, n)
    if x.size == 0:
        q = np.broadcast_to(np.eye(m, kk, dtype=x.dtype), batch + (m, kk)).copy()
        outs = [q, np.zeros(batch + (kk, n), x.dtype)]
        return outs + ([np.zeros(batch + (n,), np.int32)] if pivoting else [])
    if pivoting:
        from scipy.linalg import qr as sqr

        def one(a):
            q, r, p = sqr(a, mode="full" if full_matrices else "economic", pivoting=True)
            return q, r, p.astype(np.int32)

        q, r, p = _batched(one, x, ranks=(2,), n_out=3)
        return [q.astype(x.dtype), r.astype(x.dtype), p]
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype), r.astype(x.dtype)]


def _svd(x, *, full_matrices, compute_uv, subset_by_index, algorithm):
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    rdt = ld.real_dtype(x.dtype)
    k = min(m, n)
    if subset_by_index is not None and tuple(subset_by_index) != (0, k):
        lo, hi = subset_by_index
    else:
        lo, hi = 0, k
    if x.size == 0:
        s = np.zeros(batch + (0,), rdt)
        if not compute_uv:
            return [s]
        u = np.broadcast_to(np.eye(m, m if full_matrices else 0, dtype=x.dtype),
                            batch + (m, m if full_matrices else 0)).copy()
        vt = np.broadcast_to(np.eye(n if full_matrices else 0, n, dtype=x.dtype),
                             batch + (n if full_matrices else 0, n)).copy()
        return [s, u, vt]
    driver = "gesvd" if algorithm == ld.SvdAlgorithm.QR else "gesdd"
    fn = _lapack(driver, x)

    def one(a):
        if compute_uv:
            u, s, vt, info = fn(a, compute_uv=1, full_matrices=int(full_matrices))
        else:
            u, s, vt, info = fn(a, compute_uv=0)
        ok = info == 0
        if not compute_uv:
            return _nan_if(ok, s[lo:hi])
        if not full_matrices:
            u, vt = u[:, lo:hi], vt[lo:hi, :]
        return _nan_if(ok, s[lo:hi], u, vt)

    outs = _batched(one, x, ranks=(2,), n_out=3 if compute_uv else 1)
    return [outs[0].astype(rdt)] + [o.astype(x.dtype) for o in outs[1:]]


def _eigh(x, *, lower, sort_eigenvalues, subset_by_index):
    n = x.shape[-1]
    if x.size == 0:
        return [x.copy(), np.zeros(x.shape[:-1], ld.real_dtype(x.dtype))]
    fn = _lapack("heevd" if x.dtype.kind == "c" else "syevd", x)

    def one(a):
        w, v, info = fn(a, compute_v=1, lower=int(lower))
        return _nan_if(info == 0, v, w)

    v, w = _batched(one, x, ranks=(2,), n_out=2)
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        lo, hi = subset_by_index
        v, w = v[..., lo:hi], w[..., lo:hi]
    return [v.astype(x.dtype), w.astype(ld.real_dtype(x.dtype))]


def _eig(x, *, compute_left_eigenvectors, compute_right_eigenvectors, enable_eigvec_derivs):
    from scipy.linalg import eig as seig
    cdt = ld.complex_dtype(x.dtype)
    n_out = 1 + compute_left_eigenvectors + compute_right_eigenvectors
    if x.size == 0:
        return [np.zeros(x.shape[:-1], cdt)] + [np.zeros(x.shape, cdt)] * (n_out - 1)

    def one(a):
        if not np.isfinite(a).all():
            nan = np.full(a.shape, np.nan, cdt)
            return (nan[0], nan, nan)[:n_out]
        w, vl, vr = seig(a, left=True, right=True, check_finite=False)
        out = [w]
        if compute_left_eigenvectors:
            out.append(vl)
        if compute_right_eigenvectors:
            out.append(vr)
        return out

    return [o.astype(cdt) for o in _batched(one, x, ranks=(2,), n_out=n_out)]


def _schur(x, *, compute_schur_vectors, sort_eig_vals):
    from scipy.linalg import schur as sschur
    if x.size == 0:
        return [x.copy()] * (2 if compute_schur_vectors else 1)

    def one(a):
        if not np.isfinite(a).all():
            nan = np.full_like(a, np.nan)
            return nan, nan
        t, z = sschur(a, output="complex" if a.dtype.kind == "c" else "real",
                      check_finite=False)
        return t, z

    t, z = _batched(one, x, ranks=(2,), n_out=2)
    outs = [t.astype(x.dtype), z.astype(x.dtype)]
    return outs if compute_schur_vectors else outs[:1]


def _hessenberg(a):
    n = a.shape[-1]
    if a.size == 0:
        return [a.copy(), np.zeros(a.shape[:-2] + (max(n - 1, 0),), a.dtype)]
    gehrd = _lapack("gehrd", a)

    def one(m):
        h, tau, info = gehrd(m, lo=0, hi=n - 1)
        return _nan_if(info == 0, h, tau[:n - 1])

    h, tau = _batched(one, a, ranks=(2,), n_out=2)
    return [h.astype(a.dtype), tau.astype(a.dtype)]


def _tridiagonal(a, *, lower):
    fn = _lapack("hetrd" if a.dtype.kind == "c" else "sytrd", a)
    rdt = ld.real_dtype(a.dtype)

    def one(m):
        c, d, e, tau, info = fn(m, lower=int(lower))
        return _nan_if(info == 0, c, d, e, tau)

    c, d, e, tau = _batched(one, a, ranks=(2,), n_out=4)
    return [c.astype(a.dtype), d.astype(rdt), e.astype(rdt), tau.astype(a.dtype)]


def _tridiagonal_solve(dl, d, du, b, *, perturb_singular):
    m = d.shape[-1]
    if b.size == 0:
        return b.copy()
    if perturb_singular:
        return _tridiagonal_solve_perturbed(dl, d, du, b)
    gtsv = _lapack("gtsv", b)

    def one(lo, dd, u, bb):
        if m == 1:
            return (bb / dd[0],)
        _, _, _, x, info = gtsv(lo[1:], dd, u[:-1], bb)
        return _nan_if(info == 0, x)

    return _batched(one, dl, d, du, b, ranks=(1, 1, 1, 2), n_out=1)[0].astype(b.dtype)


def _tridiagonal_solve_perturbed(dl, d, du, b):
    """A x = b with A numerically singular allowed (jaxlib's tridiagonal_solve_perturbed, after
    LAPACK's xLAGTF + xLAGTS): row-pivoted LU with the forward solve fused in, then back
    substitution in which each tiny pivot of U is moved away from zero by a multiple of
    eps * max|U| (or the row scaled up), so that nothing overflows. Vectorised over the batch;
    the arithmetic is the kernel's, in the operands' dtype."""
    n, k = b.shape[-2:]
    dt = b.dtype
    rdt = np.finfo(dt).dtype
    dl, d, du = (np.asarray(v, dt).reshape(-1, n) for v in (dl, d, du))
    rhs = np.asarray(b, dt).reshape(-1, n, k)
    nb = rhs.shape[0]
    x = np.zeros_like(rhs)
    eps = np.finfo(rdt).eps
    with np.errstate(all="ignore"):
        if n == 1:
            p = d[:, 0].copy()
            row = rhs[:, 0].copy()
            _perturb_pivot(eps * np.abs(p), p, row)
            x[:, 0] = row / p[:, None]
            return x.reshape(b.shape)
        u = np.zeros((3, nb, n), dt)  # U's diagonal and its two superdiagonals
        u[0, :, 0], u[1, :, 0] = d[:, 0], du[:, 0]
        max_u = np.maximum(np.abs(u[0, :, 0]), np.abs(u[1, :, 0]))
        scale1 = np.abs(u[0, :, 0]) + np.abs(u[1, :, 0])
        x[:, 0] = rhs[:, 0]
        for j in range(n - 1):
            u[0, :, j + 1] = d[:, j + 1]
            scale2 = np.abs(dl[:, j + 1]) + np.abs(u[0, :, j + 1])
            if j < n - 2:
                scale2 = scale2 + np.abs(du[:, j + 1])
            zero = dl[:, j + 1] == 0
            piv1 = np.where(u[0, :, j] == 0, rdt.type(0), np.abs(u[0, :, j]) / scale1)
            piv2 = np.abs(dl[:, j + 1]) / scale2
            keep = ~zero & (piv2 <= piv1)   # no row exchange
            swap = ~zero & ~(piv2 <= piv1)  # rows j and j + 1 exchanged
            f_keep = dl[:, j + 1] / u[0, :, j]
            f_swap = u[0, :, j] / dl[:, j + 1]
            u0j, u1j, xj = u[0, :, j].copy(), u[1, :, j].copy(), x[:, j].copy()
            new_u0 = np.where(keep, d[:, j + 1] - f_keep * u1j,
                              np.where(swap, u1j - f_swap * d[:, j + 1], d[:, j + 1]))
            new_u1 = np.where(swap, -f_swap * du[:, j + 1] if j < n - 2 else rdt.type(0),
                              du[:, j + 1])
            u[0, :, j] = np.where(swap, dl[:, j + 1], u0j)
            u[1, :, j] = np.where(swap, d[:, j + 1], u1j)
            u[2, :, j] = np.where(swap, du[:, j + 1], 0) if j < n - 2 else 0
            u[0, :, j + 1], u[1, :, j + 1] = new_u0, new_u1
            x[:, j + 1] = np.where(keep[:, None], rhs[:, j + 1] - f_keep[:, None] * xj,
                                   np.where(swap[:, None], xj - f_swap[:, None] * rhs[:, j + 1],
                                            rhs[:, j + 1]))
            x[:, j] = np.where(swap[:, None], rhs[:, j + 1], xj)
            scale1 = np.where(swap, np.abs(new_u0) + np.abs(new_u1), scale2)
            if j < n - 2:
                max_u = np.maximum.reduce([max_u, *np.abs(u[:, :, j])])
        max_u = np.maximum(max_u, np.abs(u[0, :, n - 1]))
        perturb = eps * max_u
        one = dt.type(1)
        for j in range(n - 1, -1, -1):
            p = u[0, :, j].copy()
            row = x[:, j].copy()
            if j <= n - 2:
                row = row - u[1, :, j][:, None] * x[:, j + 1]
            if j <= n - 3:
                row = row - u[2, :, j][:, None] * x[:, j + 2]
            _perturb_pivot(perturb if j == n - 1 else np.copysign(perturb, p.real), p, row)
            x[:, j] = row * (one / p)[:, None]
    return x.reshape(b.shape)


def _perturb_pivot(perturb, pivot, row) -> None:
    """Move each tiny `pivot` (in place, with its `row` of right-hand sides) until neither
    row / pivot nor 1 / pivot overflows (xLAGTS' rule)."""
    rdt = np.finfo(pivot.dtype).dtype
    fi = np.finfo(rdt)
    one, tiny, small = rdt.type(1), rdt.type(fi.tiny), rdt.type(1) / rdt.type(fi.max)
    safemin = tiny if small < tiny else small * (one + rdt.type(fi.eps))
    bignum = one / safemin
    abs_p = np.abs(pivot)
    step = np.copysign(np.maximum(np.abs(perturb), safemin), pivot.real).astype(rdt)
    big = np.abs(row).max(axis=-1) if row.shape[-1] else np.zeros_like(abs_p)
    live = abs_p < one
    while live.any():
        under = abs_p < safemin
        nudge = live & ((under & ((abs_p == 0) | (big * safemin > abs_p)))
                        | (~under & (big > abs_p * bignum)))
        scale = live & under & ~nudge
        pivot[nudge] += step[nudge]
        step[nudge] *= 2
        pivot[scale] *= bignum
        row[scale] *= bignum
        abs_p = np.abs(pivot)
        live = nudge & (abs_p < one)


IMPLS = {
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
