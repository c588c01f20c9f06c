"""plax.scipy.linalg's factorizations, solves and matrix functions (as jax.scipy.linalg):
cho_factor/cho_solve, lu/lu_factor/lu_solve, solve_triangular, qr/qr_multiply, svd, eigh,
eigh_tridiagonal, schur/rsf2csf, hessenberg, det/inv/solve, expm/expm_frechet, sqrtm, funm,
polar and solve_sylvester. The special matrices are in `linalg_special`."""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

import plax.numpy as jnp
from plax import lax
from plax._src.lax import linalg_decomp as ld
from plax._src.numpy import linalg as nla
from plax._src.numpy.util import check_arraylike, ensure_array, promote_dtypes_inexact

__all__ = [
    "cho_factor", "cho_solve", "cholesky", "det", "eigh", "eigh_tridiagonal", "expm",
    "expm_frechet", "funm", "hessenberg", "inv", "lu", "lu_factor", "lu_solve", "polar", "qr",
    "qr_multiply", "rsf2csf", "schur", "solve", "solve_sylvester", "solve_triangular",
    "sqrtm", "svd",
]

_HI = lax.Precision.HIGHEST


def _mm(a, b):
    return jnp.matmul(a, b, precision=_HI)


def _H(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _arrays(fun: str, *args):
    check_arraylike(fun, *args)
    return [ensure_array(a, fun) for a in promote_dtypes_inexact(*args)]


def _square(fun: str, a) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{fun}: expected a (batch of) square matrices, got shape {a.shape}")


def _vectorized(fn: Callable, *args, ranks):
    """fn on the trailing `ranks` dims of each arg, mapped over the leading ones (vmap)."""
    import plax
    nb = args[0].ndim - ranks[0]
    for _ in range(nb):
        fn = plax.vmap(fn)
    return fn(*args)


# ---------------------------------------------------------------------------------------------
# Cholesky, LU, triangular solves


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """Cholesky factor of Hermitian positive-definite matrices: upper unless `lower`."""
    del overwrite_a, check_finite
    a, = _arrays("scipy.linalg.cholesky", a)
    _square("scipy.linalg.cholesky", a)
    # only the named triangle is read (and differentiated), as JAX
    L = ld.cholesky(a if lower else _H(a), symmetrize_input=False)
    return L if lower else _H(L)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """(c, lower): the factor in c's `lower` (or upper) triangle, for cho_solve."""
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """x with A x = b from cho_factor's (c, lower)."""
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c, b = _arrays("scipy.linalg.cho_solve", c, b)
    vector = b.ndim == 1
    x = b[:, None] if vector else b
    if c.ndim < 2 or c.shape[-1] != c.shape[-2] or x.shape[-2] != c.shape[-1]:
        raise ValueError(f"scipy.linalg.cho_solve: incompatible shapes c {c.shape} and b "
                         f"{b.shape}")
    batch = np.broadcast_shapes(c.shape[:-2], x.shape[:-2])
    c = jnp.broadcast_to(c, batch + c.shape[-2:])
    x = jnp.broadcast_to(x, batch + x.shape[-2:])
    # A = L L^H: solve L y = b, then L^H x = y (with L = c^H when c is upper)
    y = ld.triangular_solve(c, x, left_side=True, lower=lower, transpose_a=not lower,
                            conjugate_a=not lower)
    x = ld.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower,
                            conjugate_a=lower)
    return x[..., 0] if vector else x


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """(lu, piv): packed L and U, and LAPACK's 0-based row swaps."""
    del overwrite_a, check_finite
    a, = _arrays("scipy.linalg.lu_factor", a)
    lu_, piv, _ = ld.lu(a)
    return lu_, piv


def lu_solve(lu_and_piv, b, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True):
    """x with op(A) x = b from lu_factor's (lu, piv); trans 0: A, 1: A^T, 2: A^H."""
    del overwrite_b, check_finite
    lu_, piv = lu_and_piv
    lu_, b = _arrays("scipy.linalg.lu_solve", lu_, b)
    m = lu_.shape[-1]
    perm = ld.lu_pivots_to_permutation(piv, m)
    if b.ndim < 1 or b.shape[0] != m:
        raise ValueError(f"scipy.linalg.lu_solve: b of shape {b.shape} must have {m} rows")
    x = b.reshape(m, -1)
    if trans == 0:
        x = jnp.take_along_axis(x, jnp.broadcast_to(perm[:, None], x.shape), axis=0)
        x = ld.triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
        x = ld.triangular_solve(lu_, x, left_side=True, lower=False)
    elif trans in (1, 2):
        conj = trans == 2
        x = ld.triangular_solve(lu_, x, left_side=True, lower=False, transpose_a=True,
                                conjugate_a=conj)
        x = ld.triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True,
                                transpose_a=True, conjugate_a=conj)
        inv = jnp.argsort(perm)
        x = jnp.take_along_axis(x, jnp.broadcast_to(inv[:, None], x.shape), axis=0)
    else:
        raise ValueError(f"scipy.linalg.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    return x.reshape(b.shape)


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """(p, l, u) with a = p @ l @ u, or (p @ l, u) with permute_l."""
    del overwrite_a, check_finite
    a, = _arrays("scipy.linalg.lu", a)
    lu_, _, perm = ld.lu(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    l_ = jnp.tril(lu_, -1)[..., :, :k] + jnp.eye(m, k, dtype=a.dtype)
    u = jnp.triu(lu_)[..., :k, :]
    p = (perm[..., :, None] == jnp.arange(m)[None, :]).astype(a.dtype)  # p[i, perm[i]] = 1
    p = jnp.swapaxes(p, -1, -2)
    if permute_l:
        return _mm(p, l_), u
    return p, l_, u


def solve_triangular(a, b, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False, debug=None,
                     check_finite: bool = True):
    """x with op(a) x = b for triangular a; trans 0/'N', 1/'T' or 2/'C'."""
    del overwrite_b, debug, check_finite
    a, b = _arrays("scipy.linalg.solve_triangular", a, b)
    codes = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2}
    if trans not in codes:
        raise ValueError(f"scipy.linalg.solve_triangular: invalid trans {trans!r}")
    t = codes[trans]
    vector = b.ndim == a.ndim - 1
    x = b[..., None] if vector else b
    out = ld.triangular_solve(a, x, left_side=True, lower=lower, transpose_a=t > 0,
                              conjugate_a=t == 2, unit_diagonal=unit_diagonal)
    return out[..., 0] if vector else out


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen"):
    """x with a x = b: through Cholesky (the `lower` or upper triangle) with assume_a
    'pos', else through LU, as JAX (which treats 'sym' and 'her' as 'gen'). The derivative
    is the linear solve's, d(a^-1 b) = a^-1 (db - da x), on the whole of `a`."""
    del overwrite_a, overwrite_b, debug, check_finite
    a, b = _arrays("scipy.linalg.solve", a, b)
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"scipy.linalg.solve: assume_a must be 'gen', 'sym', 'her' or 'pos', "
                         f"got {assume_a!r}")
    _square("scipy.linalg.solve", a)
    if assume_a != "pos":
        return nla.solve(a, b)
    vector = b.ndim == a.ndim - 1
    x = b[..., None] if vector else b
    if x.shape[-2] != a.shape[-1]:
        raise ValueError(f"scipy.linalg.solve: incompatible shapes a {a.shape} and b "
                         f"{b.shape}")
    batch = np.broadcast_shapes(a.shape[:-2], x.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    x = _pos_solve(bool(lower))(a, jnp.broadcast_to(x, batch + x.shape[-2:]))
    return x[..., 0] if vector else x


@functools.lru_cache(maxsize=None)
def _pos_solve(lower: bool):
    def raw(a, b):
        return cho_solve(cho_factor(a, lower=lower), b)

    def jvp(primals, tangents):
        (a, b), (da, db) = primals, tangents
        x = raw(a, b)
        return x, raw(a, db - _mm(da, x))

    return nla._custom_jvp(raw, jvp)


def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """The determinant (as plax.numpy.linalg.det)."""
    return nla.det(a)


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """The inverse (as plax.numpy.linalg.inv)."""
    return nla.inv(a)


# ---------------------------------------------------------------------------------------------
# QR, SVD, eigendecompositions, Schur and Hessenberg forms


def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
    """(q, r) (plus the column permutation p with pivoting); mode 'full', 'economic' or 'r'
    (r alone, in a tuple as SciPy); 'raw' is not supported, as in JAX."""
    del overwrite_a, lwork, check_finite
    a, = _arrays("scipy.linalg.qr", a)
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"scipy.linalg.qr: unsupported mode {mode!r}")
    out = ld.qr(a, pivoting=bool(pivoting), full_matrices=mode in ("full", "r"))
    if mode == "r":
        return (out[1],) + ((out[2],) if pivoting else ())
    return out


def qr_multiply(a, c, mode: str = "right", pivoting: bool = False, conjugate: bool = False,
                overwrite_a: bool = False, overwrite_c: bool = False):
    """(q @ c or c @ q, r) with q from the economic QR of a."""
    del overwrite_a, overwrite_c
    a, c = _arrays("scipy.linalg.qr_multiply", a, c)
    if mode not in ("left", "right"):
        raise ValueError(f"scipy.linalg.qr_multiply: mode must be 'left' or 'right', got "
                         f"{mode!r}")
    out = qr(a, mode="economic", pivoting=pivoting)
    q, r = out[0], out[1]
    if conjugate:
        q = jnp.conj(q)
    vec = c.ndim == 1
    if mode == "left":
        res = _mm(q, c[:, None] if vec else c)
    else:
        res = _mm(c[None, :] if vec else c, q)
    if vec:
        res = res.ravel()
    return (res, r) + ((out[2],) if pivoting else ())


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    """(u, s, vh) or s; lapack_driver 'gesdd' or 'gesvd'."""
    del overwrite_a, check_finite
    a, = _arrays("scipy.linalg.svd", a)
    if lapack_driver not in ("gesdd", "gesvd"):
        raise ValueError(f"scipy.linalg.svd: lapack_driver must be 'gesdd' or 'gesvd', got "
                         f"{lapack_driver!r}")
    algo = ld.SvdAlgorithm.QR if lapack_driver == "gesvd" else None
    return ld.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, algorithm=algo)


def eigh(a, b=None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, turbo: bool = True, eigvals=None, type: int = 1,
         check_finite: bool = True, subset_by_index=None):
    """(w, v) of a Hermitian matrix (w ascending), or w with eigvals_only; only b=None and
    type=1, as JAX."""
    del overwrite_a, overwrite_b, turbo, check_finite
    if b is not None:
        raise NotImplementedError("scipy.linalg.eigh: only the b=None case is implemented "
                                  "(as in JAX)")
    if type != 1:
        raise NotImplementedError("scipy.linalg.eigh: only type=1 is implemented (as in JAX)")
    if eigvals is not None:
        raise NotImplementedError("scipy.linalg.eigh: use subset_by_index instead of eigvals")
    a, = _arrays("scipy.linalg.eigh", a)
    _square("scipy.linalg.eigh", a)
    v, w = ld.eigh(a, lower=lower)
    if subset_by_index is not None:
        lo, hi = subset_by_index
        v, w = v[..., lo:hi + 1], w[..., lo:hi + 1]
    return w if eigvals_only else (w, v)


def eigh_tridiagonal(d, e, *, eigvals_only: bool = False, select: str = "a",
                     select_range=None, tol=None, key=None):
    """Eigenvalues (and vectors) of the real symmetric tridiagonal matrix with diagonal d and
    off-diagonal e: select 'a' (all) or 'i' (indices select_range[0]..select_range[1])."""
    del tol, key
    d, e = _arrays("scipy.linalg.eigh_tridiagonal", d, e)
    if d.ndim != 1 or e.ndim != 1 or e.shape[0] != max(d.shape[0] - 1, 0):
        raise ValueError(f"scipy.linalg.eigh_tridiagonal: d must be (n,) and e (n - 1,), got "
                         f"{d.shape} and {e.shape}")
    if jnp.iscomplexobj(d) or jnp.iscomplexobj(e):
        raise ValueError("scipy.linalg.eigh_tridiagonal: d and e must be real")
    if select not in ("a", "i"):
        raise NotImplementedError(f"scipy.linalg.eigh_tridiagonal: select={select!r} is not "
                                  "implemented ('a' or 'i', as JAX)")
    n = d.shape[0]
    t = jnp.diag(d) + jnp.diag(e, 1) + jnp.diag(e, -1) if n > 1 else jnp.diag(d)
    v, w = ld.eigh(t, symmetrize_input=False)
    if select == "i":
        lo, hi = select_range
        v, w = v[:, lo:hi + 1], w[lo:hi + 1]
    return w if eigvals_only else (w, v)


def schur(a, output: str = "real"):
    """(t, z) with a = z t z^H: real quasi-triangular t for real a with output 'real',
    triangular complex t with output 'complex'."""
    a, = _arrays("scipy.linalg.schur", a)
    if output not in ("real", "complex"):
        raise ValueError(f"scipy.linalg.schur: output must be 'real' or 'complex', got "
                         f"{output!r}")
    if output == "complex":
        a = a.astype(ld.complex_dtype(a.dtype))
    return ld.schur(a)


def hessenberg(a, *, calc_q: bool = False, overwrite_a: bool = False,
               check_finite: bool = True):
    """The upper Hessenberg form h of a (and q with a = q h q^H when calc_q)."""
    del overwrite_a, check_finite
    a, = _arrays("scipy.linalg.hessenberg", a)
    _square("scipy.linalg.hessenberg", a)
    n = a.shape[-1]
    packed, taus = ld.hessenberg(a)
    h = jnp.triu(packed, -1)
    if not calc_q:
        return h
    if n <= 1:
        return h, jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), a.shape)
    # the reflectors below the first subdiagonal generate q[1:, 1:]
    refl = jnp.tril(packed[..., 1:, :n - 1], -1)
    q_sub = ld.householder_product(refl, taus)
    q = jnp.zeros(a.shape, a.dtype).at[..., 0, 0].set(1).at[..., 1:, 1:].set(q_sub)
    return h, q


def rsf2csf(T, Z, check_finite: bool = True):
    """The complex Schur form (t, z) from a real one, by Givens rotations of its 2x2
    blocks (as scipy.linalg.rsf2csf)."""
    del check_finite
    T, Z = _arrays("scipy.linalg.rsf2csf", T, Z)
    ct = ld.complex_dtype(T.dtype)
    T, Z = T.astype(ct), Z.astype(ct)
    if T.ndim != 2 or T.shape[0] != T.shape[1] or Z.shape != T.shape:
        raise ValueError(f"scipy.linalg.rsf2csf: T and Z must be square matrices of the same "
                         f"shape, got {T.shape} and {Z.shape}")
    n = T.shape[0]
    eps = float(np.finfo(ld.real_dtype(np.dtype(ct))).eps)
    for m in range(n - 1, 0, -1):
        sub = T[m, m - 1]
        mu = _eig2_last(T[m - 1:m + 1, m - 1:m + 1]) - T[m, m]
        r = jnp.sqrt(jnp.abs(mu) ** 2 + jnp.abs(sub) ** 2).astype(ct)
        nonzero = jnp.abs(sub) > eps * (jnp.abs(T[m - 1, m - 1]) + jnp.abs(T[m, m]))
        safe_r = jnp.where(nonzero, r, 1)
        c = jnp.where(nonzero, mu / safe_r, 1)
        s = jnp.where(nonzero, sub / safe_r, 0)
        G = jnp.stack([jnp.stack([jnp.conj(c), s]), jnp.stack([-s, c])])
        T = T.at[m - 1:m + 1, m - 1:].set(_mm(G, T[m - 1:m + 1, m - 1:]))
        T = T.at[:m + 1, m - 1:m + 1].set(_mm(T[:m + 1, m - 1:m + 1], _H(G)))
        Z = Z.at[:, m - 1:m + 1].set(_mm(Z[:, m - 1:m + 1], _H(G)))
        T = T.at[m, m - 1].set(jnp.where(nonzero, 0, T[m, m - 1]))
    return T, Z


def _eig2_last(block):
    """The eigenvalue of a 2x2 block that LAPACK-style deflation pairs with its last row."""
    a, b, c, d = block[0, 0], block[0, 1], block[1, 0], block[1, 1]
    tr, dt = a + d, a * d - b * c
    disc = jnp.sqrt(tr * tr / 4 - dt)
    return tr / 2 + disc


# ---------------------------------------------------------------------------------------------
# matrix functions

_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
        3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
         129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
         40840800., 960960., 16380., 182., 1.),
}
# Higham (2005): the 1-norm bounds up to which each Pade degree is accurate
_THETA = {np.dtype(np.float64): ((1.495585217958292e-2, 2.539398330063230e-1,
                                  9.504178996162932e-1, 2.097847961257068e0),
                                 5.371920351148152, (3, 5, 7, 9, 13)),
          np.dtype(np.float32): ((4.258730016922831e-1, 1.880152677804762e0),
                                 3.925724783138660, (3, 5, 7))}


def _pade(A, m):
    b = _PADE[m]
    n = A.shape[-1]
    eye = jnp.eye(n, dtype=A.dtype)
    A2 = _mm(A, A)
    if m == 13:
        A4 = _mm(A2, A2)
        A6 = _mm(A4, A2)
        U = _mm(A, _mm(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
                + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
        V = _mm(A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 \
            + b[2] * A2 + b[0] * eye
        return U, V
    powers = [eye, A2]
    while len(powers) < (m + 1) // 2:
        powers.append(_mm(powers[-1], A2))
    U = _mm(A, sum(b[2 * k + 1] * powers[k] for k in range(len(powers))))
    V = sum(b[2 * k] * powers[k] for k in range(len(powers)))
    return U, V


def _expm_2d(A, upper_triangular, max_squarings):
    conds, maxnorm, degrees = _THETA[np.dtype(ld.real_dtype(A.dtype))]
    norm1 = nla.norm(A, 1)
    n_sq = jnp.maximum(0, jnp.floor(jnp.log2(norm1 / maxnorm)))
    A = A / (2 ** n_sq).astype(A.dtype)
    idx = sum((norm1 >= c).astype(np.int32) for c in conds)
    U, V = lax.switch(idx, [functools.partial(_pade, m=m) for m in degrees], A)
    P, Q = U + V, V - U
    R = solve_triangular(Q, P) if upper_triangular else nla.solve(Q, P)

    def square(i, r):
        return jnp.where(i < n_sq, _mm(r, r), r)

    R = lax.fori_loop(0, max_squarings, square, R)
    return jnp.where(n_sq > max_squarings, jnp.full_like(R, np.nan), R)


def expm(A, *, upper_triangular: bool = False, max_squarings: int = 16):
    """The matrix exponential by scaling and squaring with a Pade approximant (Higham 2005,
    as JAX): degree chosen from the 1-norm, NaNs when more than max_squarings are needed."""
    A, = _arrays("scipy.linalg.expm", A)
    _square("scipy.linalg.expm", A)
    if A.dtype not in ld.LAPACK_DTYPES:
        raise TypeError(f"scipy.linalg.expm: dtype {A.dtype.name} is not supported")
    fn = functools.partial(_expm_2d, upper_triangular=upper_triangular,
                           max_squarings=int(max_squarings))
    return _vectorized(fn, A, ranks=(2,))


def expm_frechet(A, E, *, method: str | None = None, compute_expm: bool = True):
    """The Frechet derivative of expm at A in direction E (the jvp of expm), with expm(A)
    first when compute_expm."""
    import plax
    A, E = _arrays("scipy.linalg.expm_frechet", A, E)
    _square("scipy.linalg.expm_frechet", A)
    if A.shape != E.shape:
        raise ValueError(f"scipy.linalg.expm_frechet: A and E must have the same shape, got "
                         f"{A.shape} and {E.shape}")
    expA, dexp = plax.jvp(expm, (A,), (E,))
    return (expA, dexp) if compute_expm else dexp


def _sqrtm_triu(T):
    """The upper-triangular square root of upper-triangular T, column by column."""
    n = T.shape[-1]
    R = jnp.zeros_like(T)
    diag = jnp.sqrt(jnp.diagonal(T))
    R = R.at[jnp.arange(n), jnp.arange(n)].set(diag)
    for j in range(1, n):
        for i in range(j - 1, -1, -1):
            s = jnp.sum(R[i, i + 1:j] * R[i + 1:j, j]) if j - i > 1 else 0
            R = R.at[i, j].set((T[i, j] - s) / (R[i, i] + R[j, j]))
    return R


def sqrtm(A, blocksize: int = 1):
    """The principal matrix square root through the complex Schur form (complex result)."""
    if blocksize > 1:
        raise NotImplementedError("scipy.linalg.sqrtm: blocksize > 1 is not implemented (as "
                                  "in JAX)")
    A, = _arrays("scipy.linalg.sqrtm", A)
    _square("scipy.linalg.sqrtm", A)
    if A.ndim != 2:
        raise ValueError(f"scipy.linalg.sqrtm: A must be a square matrix, got {A.shape}")
    T, Z = schur(A, output="complex")
    return _mm(_mm(Z, _sqrtm_triu(T)), _H(Z))


def funm(A, func: Callable, disp: bool = True):
    """f(A) for a scalar function f, through the complex Schur form and Parlett's
    recurrence (distinct eigenvalues); the result is complex unless A and f(A) are real."""
    A, = _arrays("scipy.linalg.funm", A)
    _square("scipy.linalg.funm", A)
    if A.ndim != 2:
        raise ValueError(f"scipy.linalg.funm: A must be a square matrix, got {A.shape}")
    T, Z = schur(A, output="complex")
    n = T.shape[0]
    d = jnp.diagonal(T)
    F = jnp.diag(func(d).astype(T.dtype))
    for p in range(1, n):
        for i in range(n - p):
            j = i + p
            s = T[i, j] * (F[j, j] - F[i, i])
            if p > 1:
                ks = slice(i + 1, j)
                s = s + jnp.sum(T[i, ks] * F[ks, j]) - jnp.sum(F[i, ks] * T[ks, j])
            den = T[j, j] - T[i, i]
            F = F.at[i, j].set(jnp.where(den == 0, jnp.inf, s / jnp.where(den == 0, 1, den)))
    F = _mm(_mm(Z, F), _H(Z))
    if not disp:
        return F, jnp.zeros((), ld.real_dtype(F.dtype))
    return F


def polar(a, side: str = "right", *, method: str = "qdwh", eps=None, max_iterations=None):
    """(u, p): a = u p (side 'right', p Hermitian PSD) or a = p u ('left'), from the SVD
    (both of JAX's methods converge to this decomposition)."""
    a, = _arrays("scipy.linalg.polar", a)
    if side not in ("left", "right"):
        raise ValueError(f"scipy.linalg.polar: side must be 'left' or 'right', got {side!r}")
    if method not in ("qdwh", "svd"):
        raise ValueError(f"scipy.linalg.polar: method must be 'qdwh' or 'svd', got {method!r}")
    if a.ndim != 2:
        raise ValueError(f"scipy.linalg.polar: a must be 2-D, got {a.shape}")
    u_svd, s, vh = ld.svd(a, full_matrices=False)
    u = _mm(u_svd, vh)
    s = s.astype(a.dtype)
    if side == "right":
        p = _mm(_H(vh) * s[None, :], vh)
    else:
        p = _mm(u_svd * s[None, :], _H(u_svd))
    return u, p


def solve_sylvester(A, B, C, *, method: str = "schur", tol: float = 1e-8):
    """X with A X + X B = C (Bartels-Stewart: complex Schur forms of A and B, then a
    triangular solve column by column)."""
    A, B, C = _arrays("scipy.linalg.solve_sylvester", A, B, C)
    m, n = C.shape[-2:]
    if A.shape[-2:] != (m, m) or B.shape[-2:] != (n, n):
        raise ValueError(f"scipy.linalg.solve_sylvester: incompatible shapes A {A.shape}, B "
                         f"{B.shape}, C {C.shape}")
    if method not in ("schur", "eigen"):
        raise ValueError(f"scipy.linalg.solve_sylvester: method must be 'schur' or 'eigen', "
                         f"got {method!r}")
    R, U = schur(A, output="complex")
    S, V = schur(B, output="complex")
    F = _mm(_mm(_H(U), C.astype(U.dtype)), V)
    eye = jnp.eye(m, dtype=R.dtype)
    cols = []
    for k in range(n):
        rhs = F[:, k]
        if k:
            rhs = rhs - _mm(jnp.stack(cols, axis=1), S[:k, k])
        cols.append(solve_triangular(R + S[k, k] * eye, rhs))
    Y = jnp.stack(cols, axis=1)
    X = _mm(_mm(U, Y), _H(V))
    if not jnp.iscomplexobj(C) and not jnp.iscomplexobj(A) and not jnp.iscomplexobj(B):
        X = jnp.real(X)
    return X

