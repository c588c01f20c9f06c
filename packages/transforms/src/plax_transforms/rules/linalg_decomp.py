"""jvp, transpose and batching rules of lax.linalg's decompositions, JAX's rules: cholesky
(Murray's forward rule), triangular_solve (linear in b), lu (de Hoog et al.), qr (thin, wide
and full), eigh and svd (nondegenerate perturbation theory), eig (eigenvalues, and
eigenvectors when enabled) and tridiagonal_solve. Every primitive batches over its leading
dimensions, so batching moves the mapped axis to the front."""

from __future__ import annotations

import numpy as np

import plax.numpy as jnp
from plax import lax
from plax.extend import get_aval
from plax.lax import linalg as la
from plax_transforms.ad import Zero, instantiate
from plax_transforms.batching import bdim_at_front
from plax_transforms.rules._util import skip_zero_ct

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


def _T(x):
    return jnp.swapaxes(x, -1, -2)


def _H(x):
    return jnp.conj(_T(x)) if jnp.iscomplexobj(x) else _T(x)


def _mm(a, b):
    return jnp.matmul(a, b, precision=lax.Precision.HIGHEST)


def _eye(n, dtype):
    return jnp.eye(n, dtype=dtype)


def _diag_part(x):
    return jnp.diagonal(x, axis1=-2, axis2=-1)


def _zero_outs(prim, primals, params):
    out = prim.bind(*primals, **params)
    return out, [Zero(get_aval(o)) for o in out]


# ---------------------------------------------------------------------------------------------
# cholesky


def _cholesky_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    L = jnp.tril(la.cholesky_p.bind(x))
    if type(dx) is Zero:
        return L, Zero(get_aval(L))
    n = get_aval(x).shape[-1]

    def phi(X):  # the lower triangle with the diagonal halved
        return jnp.tril(X) / (1 + _eye(n, get_aval(X).dtype))

    tmp = la.triangular_solve(L, dx, left_side=False, transpose_a=True, conjugate_a=True,
                              lower=True)
    L_dot = _mm(L, phi(la.triangular_solve(L, tmp, left_side=True, lower=True)))
    return L, L_dot


JVP[la.cholesky_p] = _cholesky_jvp


# ---------------------------------------------------------------------------------------------
# triangular_solve: linear in b; for a, d(A^-1 B) = -A^-1 dA A^-1 B


def _triangular_solve_jvp(primals, tangents, **params):
    a, b = primals
    da, db = tangents
    ans = la.triangular_solve_p.bind(a, b, **params)
    out = None
    if type(db) is not Zero:
        out = la.triangular_solve_p.bind(a, db, **params)
    if type(da) is not Zero:
        term = _triangular_solve_jvp_a(da, ans, a, b, **params)
        out = term if out is None else out + term
    return ans, (Zero(get_aval(ans)) if out is None else out)


def _triangular_solve_jvp_a(g_a, ans, a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
    m, n = get_aval(b).shape[-2:]
    k = 1 if unit_diagonal else 0
    g_a = jnp.tril(g_a, k=-k) if lower else jnp.triu(g_a, k=k)
    g_a = -g_a
    g_a = _T(g_a) if transpose_a else g_a
    g_a = jnp.conj(g_a) if conjugate_a else g_a

    def a_inverse(rhs):
        return la.triangular_solve_p.bind(a, rhs, left_side=left_side, lower=lower,
                                          transpose_a=transpose_a, conjugate_a=conjugate_a,
                                          unit_diagonal=unit_diagonal)

    # the cheaper of the two association orders, as JAX
    if left_side:
        return a_inverse(_mm(g_a, ans)) if m > n else _mm(a_inverse(g_a), ans)
    return a_inverse(_mm(ans, g_a)) if m < n else _mm(ans, a_inverse(g_a))


@skip_zero_ct
def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
    ct_b = la.triangular_solve_p.bind(a, instantiate(ct), left_side=left_side, lower=lower,
                                      transpose_a=not transpose_a, conjugate_a=conjugate_a,
                                      unit_diagonal=unit_diagonal)
    return [None, ct_b]


JVP[la.triangular_solve_p] = _triangular_solve_jvp
TRANSPOSE[la.triangular_solve_p] = _triangular_solve_transpose


# ---------------------------------------------------------------------------------------------
# lu


def _lu_jvp(primals, tangents):
    (a,), (a_dot,) = primals, tangents
    lu, pivots, perm = la.lu_p.bind(a)
    zeros = [Zero(get_aval(pivots)), Zero(get_aval(perm))]
    if type(a_dot) is Zero:
        return [lu, pivots, perm], [Zero(get_aval(lu))] + zeros
    *batch, m, n = get_aval(a).shape
    dt = get_aval(a).dtype
    k = min(m, n)
    nb = len(batch)
    # L (m, m) unit lower and U (n, n) upper, each padded with an identity block
    lpad = [(0, 0)] * (nb + 1) + [(0, m - k)]
    l_ = jnp.pad(jnp.tril(lu[..., :, :k], -1), lpad) + _eye(m, dt)
    upad = [(0, 0)] * nb + [(0, n - k), (0, 0)]
    u_eye = jnp.pad(_eye(n - k, dt), ((k, 0), (k, 0)))
    u_ = jnp.pad(jnp.triu(lu[..., :k, :]), upad) + u_eye
    a_perm = jnp.take_along_axis(a_dot, perm[..., :, None], axis=-2)
    la_ = la.triangular_solve(l_, a_perm, left_side=True, lower=True, unit_diagonal=True)
    lau = la.triangular_solve(u_, la_, left_side=False, lower=False)
    lu_dot = _mm(l_, jnp.tril(lau, -1)) + _mm(jnp.triu(lau), u_)
    return [lu, pivots, perm], [lu_dot] + zeros


JVP[la.lu_p] = _lu_jvp


def _lu_solve_adjoint(lu, perm, b):
    """X with A^H X = B, from A's LU factorization (JAX's lu_solve with trans=2)."""
    x = la.triangular_solve(lu, b, left_side=True, lower=False, transpose_a=True,
                            conjugate_a=True)
    x = la.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True,
                            transpose_a=True, conjugate_a=True)
    inv = jnp.argsort(perm, axis=-1)
    return jnp.take_along_axis(x, inv[..., :, None], axis=-2)


# ---------------------------------------------------------------------------------------------
# qr


def _thin_qr_jvp(q, r, dx):
    """jvp of the QR decomposition of [..., m, n] matrices with m >= n."""
    dx_rinv = la.triangular_solve(r, dx)  # right-side solve
    qt_dx_rinv = _mm(_H(q), dx_rinv)
    lower = jnp.tril(qt_dx_rinv, -1)
    do = lower - _H(lower)  # skew-symmetric
    n = get_aval(r).shape[-1]
    # the correction complex inputs need
    do = do + _eye(n, get_aval(do).dtype) * (
        qt_dx_rinv - jnp.real(qt_dx_rinv).astype(get_aval(qt_dx_rinv).dtype))
    dq = _mm(q, do - qt_dx_rinv) + dx_rinv
    dr = _mm(qt_dx_rinv - do, r)
    return dq, dr


def _qr_jvp(primals, tangents, *, pivoting, full_matrices):
    (x,), (dx,) = primals, tangents
    q, r, *p = la.qr_p.bind(x, pivoting=pivoting, full_matrices=full_matrices)
    outs = [q, r, *p]
    if type(dx) is Zero:
        return outs, [Zero(get_aval(o)) for o in outs]
    tail = [Zero(get_aval(p[0]))] if pivoting else []
    *_, m, n = get_aval(x).shape
    if pivoting:
        dx = jnp.take_along_axis(dx, jnp.broadcast_to(p[0][..., None, :], get_aval(dx).shape),
                                 axis=-1)
    if m < n:  # wide: X = [X1 X2] = Q [R1 R2], R2 = Q^H X2
        x2 = x[..., :, m:]
        dq, dr1 = _thin_qr_jvp(q, r[..., :, :m], dx[..., :, :m])
        dr2 = _mm(_H(dq), x2) + _mm(_H(q), dx[..., :, m:])
        return outs, [dq, jnp.concatenate([dr1, dr2], axis=-1)] + tail
    q_mn = q[..., :, :n] if full_matrices else q
    r_nn = r[..., :n, :n] if full_matrices else r
    dq_mn, dr_nn = _thin_qr_jvp(q_mn, r_nn, dx)
    if not full_matrices or m == n:
        return outs, [dq_mn, dr_nn] + tail
    # full Q of a tall matrix (arXiv:2409.13374, eqs. 32-33)
    dt = get_aval(q).dtype
    q_nn, q_pn, q_mp = q_mn[..., :n, :], q_mn[..., n:, :], q[..., :, n:]
    dq_nn, dq_pn = dq_mn[..., :n, :], dq_mn[..., n:, :]
    lu, _, perm = la.lu(q_nn - _eye(n, dt))
    z_pn_h = _lu_solve_adjoint(lu, perm, _H(q_pn))
    z_pn = _H(z_pn_h)
    dq_mp = _mm(dq_mn, z_pn_h) - _mm(q_mn + _mm(q_mp, z_pn), _H(dq_pn - _mm(z_pn, dq_nn)))
    dq = jnp.concatenate([dq_mn, dq_mp], axis=-1)
    dr = jnp.concatenate([dr_nn, jnp.zeros(get_aval(dr_nn).shape[:-2] + (m - n, n), dt)],
                         axis=-2)
    return outs, [dq, dr] + tail


JVP[la.qr_p] = _qr_jvp


# ---------------------------------------------------------------------------------------------
# eigh, svd, eig


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues, subset_by_index):
    (a,), (a_dot,) = primals, tangents
    n = get_aval(a).shape[-1]
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        raise NotImplementedError("eigh: derivatives are not defined for a partial "
                                  "eigendecomposition (subset_by_index)")
    v, w_real = la.eigh_p.bind(la.symmetrize(a), lower=lower,
                               sort_eigenvalues=sort_eigenvalues,
                               subset_by_index=subset_by_index)
    if type(a_dot) is Zero:
        return [v, w_real], [Zero(get_aval(v)), Zero(get_aval(w_real))]
    dt = get_aval(a).dtype
    w = w_real.astype(dt)
    eye = _eye(n, dt)
    # 1 / (w_j - w_i) off the diagonal, 0 on it, without dividing by zero
    fmat = 1 / (eye + w[..., None, :] - w[..., :, None]) - eye
    vdag_adot_v = _mm(_mm(_H(v), a_dot), v)
    dv = _mm(v, fmat * vdag_adot_v)
    dw = _diag_part(jnp.real(vdag_adot_v))
    return [v, w_real], [dv, dw]


JVP[la.eigh_p] = _eigh_jvp


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, subset_by_index, algorithm):
    (A,), (dA,) = primals, tangents
    *_, m, n = get_aval(A).shape
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError("svd: the jvp is not implemented for full_matrices=True "
                                  "with a non-square matrix (as in JAX)")
    s, U, Vt = la.svd_p.bind(A, full_matrices=False, compute_uv=True,
                             subset_by_index=subset_by_index, algorithm=algorithm)
    if not compute_uv:
        outs = [s]
    else:
        outs = [s, U, Vt]
    if type(dA) is Zero:
        return outs, [Zero(get_aval(o)) for o in outs]
    dt = get_aval(A).dtype
    Ut, V = _H(U), _H(Vt)
    s_dim = s[..., None, :]
    dS = _mm(_mm(Ut, dA), V)
    ds = _diag_part(jnp.real(dS))
    if not compute_uv:
        return outs, [ds]
    k = get_aval(s).shape[-1]
    s_diffs = (s_dim + _T(s_dim)) * (s_dim - _T(s_dim))
    s_diffs_zeros = _eye(k, get_aval(s).dtype)
    F = 1 / (s_diffs + s_diffs_zeros) - s_diffs_zeros
    dSS = s_dim.astype(dt) * dS
    SdS = _T(s_dim.astype(dt)) * dS
    s_zeros = (s == 0).astype(get_aval(s).dtype)
    s_inv = 1 / (s + s_zeros) - s_zeros
    s_inv_mat = s_inv[..., :, None] * _eye(k, get_aval(s).dtype)
    dUdV_diag = 0.5 * (dS - _H(dS)) * s_inv_mat.astype(dt)
    dU = _mm(U, F.astype(dt) * (dSS + _H(dSS)) + dUdV_diag)
    dV = _mm(V, F.astype(dt) * (SdS + _H(SdS)))
    if m > n:
        dAV = _mm(dA, V)
        dU = dU + (dAV - _mm(U, _mm(Ut, dAV))) / s_dim.astype(dt)
    if n > m:
        dAHU = _mm(_H(dA), U)
        dV = dV + (dAHU - _mm(V, _mm(Vt, dAHU))) / s_dim.astype(dt)
    return outs, [ds, dU, _H(dV)]


JVP[la.svd_p] = _svd_jvp


def _solve(a, b):
    """A^-1 B through LU with partial pivoting (batched)."""
    lu, _, perm = la.lu(a)
    x = jnp.take_along_axis(b, perm[..., :, None], axis=-2)
    x = la.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    return la.triangular_solve(lu, x, left_side=True, lower=False)


def _eig_vec_jvp(w, v, da):
    """Eigenvalue and eigenvector tangents, fixing each vector's free complex scale by LAPACK's
    normalization (unit norm, largest-magnitude component real), as JAX."""
    n = get_aval(w).shape[-1]
    eye = _eye(n, get_aval(w).dtype)
    fmat = 1 / (eye + w[..., None, :] - w[..., :, None]) - eye
    P = _mm(_solve(v, da), v)
    dw = _diag_part(P)
    U = _mm(v, fmat * P)
    nd = get_aval(v).ndim
    kidx = jnp.argmax(jnp.abs(v), axis=nd - 2)
    mask = (lax.broadcasted_iota(np.int32, get_aval(v).shape, nd - 2)
            == kidx[..., None, :].astype(np.int32)).astype(get_aval(v).dtype)
    c = lax.complex(-jnp.real(jnp.sum(jnp.conj(v) * U, axis=-2)),
                    -jnp.imag(jnp.sum(mask * U, axis=-2)) / jnp.real(jnp.sum(mask * v, axis=-2)))
    return dw, U + v * c[..., None, :]


def _eig_jvp(primals, tangents, *, compute_left_eigenvectors, compute_right_eigenvectors,
             enable_eigvec_derivs):
    (a,), (da,) = primals, tangents
    if (compute_left_eigenvectors or compute_right_eigenvectors) and not enable_eigvec_derivs:
        raise NotImplementedError(
            "Derivatives of non-symmetric eigenvectors are only valid under assumptions on the "
            "input that cannot be checked: pass enable_eigvec_derivs=True to "
            "lax.linalg.eig to opt in (as in JAX)")
    outs = la.eig_p.bind(a, compute_left_eigenvectors=compute_left_eigenvectors,
                         compute_right_eigenvectors=True,
                         enable_eigvec_derivs=enable_eigvec_derivs)
    w, vr = outs[0], outs[-1]
    primal = [w] + ([outs[1]] if compute_left_eigenvectors else []) + \
        ([vr] if compute_right_eigenvectors else [])
    if type(da) is Zero:
        return primal, [Zero(get_aval(o)) for o in primal]
    da = da.astype(get_aval(vr).dtype)
    if not (compute_left_eigenvectors or compute_right_eigenvectors):
        return primal, [jnp.sum(_solve(vr, da) * _T(vr), axis=-1)]
    dw, dvr = _eig_vec_jvp(w, vr, da)
    tan = [dw]
    if compute_left_eigenvectors:
        tan.append(_eig_vec_jvp(jnp.conj(w), outs[1], _H(da))[1])
    if compute_right_eigenvectors:
        tan.append(dvr)
    return primal, tan


JVP[la.eig_p] = _eig_jvp


# ---------------------------------------------------------------------------------------------
# tridiagonal_solve: linear in b


def _tridiagonal_product(dl, d, du, b):
    y = d[..., :, None] * b
    y = y.at[..., 1:, :].add(dl[..., 1:, None] * b[..., :-1, :])
    return y.at[..., :-1, :].add(du[..., :-1, None] * b[..., 1:, :])


def _tridiagonal_solve_jvp(primals, tangents, *, perturb_singular):
    *diags, b = primals
    *ddiags, db = tangents
    ans = la.tridiagonal_solve_p.bind(*primals, perturb_singular=perturb_singular)
    if all(type(t) is Zero for t in ddiags):
        if type(db) is Zero:
            return ans, Zero(get_aval(ans))
        rhs = db
    else:
        rhs = -_tridiagonal_product(*map(instantiate, ddiags), ans)
        if type(db) is not Zero:
            rhs = db + rhs
    return ans, la.tridiagonal_solve_p.bind(*diags, rhs, perturb_singular=perturb_singular)


@skip_zero_ct
def _tridiagonal_solve_transpose(ct, dl, d, du, b, *, perturb_singular):
    # A^T has sub-diagonal du shifted down one and super-diagonal dl shifted up one
    dl_t = jnp.concatenate([jnp.zeros_like(du[..., -1:]), du[..., :-1]], axis=-1)
    du_t = jnp.concatenate([dl[..., 1:], jnp.zeros_like(dl[..., :1])], axis=-1)
    ct_b = la.tridiagonal_solve_p.bind(dl_t, d, du_t, instantiate(ct),
                                       perturb_singular=perturb_singular)
    return [None, None, None, ct_b]


JVP[la.tridiagonal_solve_p] = _tridiagonal_solve_jvp
TRANSPOSE[la.tridiagonal_solve_p] = _tridiagonal_solve_transpose


# ---------------------------------------------------------------------------------------------
# batching: every primitive maps over its leading dimensions


def _front_batch(prim):
    def rule(vals, dims, **params):
        size = next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
        out = prim.bind(*(bdim_at_front(v, d, size) for v, d in zip(vals, dims)), **params)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return rule


for _p in (la.cholesky_p, la.triangular_solve_p, la.lu_p, la.geqrf_p,
           la.householder_product_p, la.qr_p, la.svd_p, la.eigh_p, la.eig_p, la.schur_p,
           la.hessenberg_p, la.tridiagonal_p, la.tridiagonal_solve_p):
    BATCH[_p] = _front_batch(_p)
