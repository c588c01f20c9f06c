"""Matrix decompositions and solves as primitives (as jax.lax.linalg): cholesky,
triangular_solve, lu, geqrf/householder_product/qr, svd, eigh, eig, schur, hessenberg,
tridiagonal and tridiagonal_solve. Every primitive works on the trailing two dimensions
(one for vectors) and batches over the leading ones; a failed factorization gives NaNs.
"""

from __future__ import annotations

import operator

import numpy as np

from plax._src import dtypes
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval

__all__ = [
    "cholesky", "triangular_solve", "lu", "lu_pivots_to_permutation", "geqrf",
    "householder_product", "qr", "svd", "eigh", "eig", "schur", "hessenberg", "tridiagonal",
    "tridiagonal_solve", "symmetrize", "SvdAlgorithm", "EighImplementation",
    "EigImplementation", "symmetric_product", "cholesky_update", "ormqr",
    "cholesky_p", "triangular_solve_p", "lu_p", "geqrf_p", "householder_product_p", "qr_p",
    "svd_p", "eigh_p", "eig_p", "schur_p", "hessenberg_p", "tridiagonal_p",
    "tridiagonal_solve_p",
]

LAPACK_DTYPES = (dtypes.float32, dtypes.float64, dtypes.complex64, dtypes.complex128)
_REAL = {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}
_COMPLEX = {dtypes.float32: dtypes.complex64, dtypes.float64: dtypes.complex128}


def real_dtype(dt):
    return _REAL.get(dt, dt)


def complex_dtype(dt):
    return _COMPLEX.get(dt, dt)


class SvdAlgorithm:
    """Names of jax.lax.linalg.SvdAlgorithm (the CPU runs gesdd for DEFAULT and
    DIVIDE_AND_CONQUER, gesvd for QR)."""
    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"
    DIVIDE_AND_CONQUER = "divide_and_conquer"


class EighImplementation:
    """Names of jax.lax.linalg.EighImplementation (the CPU runs LAPACK's syevd/heevd, QR)."""
    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


# ---------------------------------------------------------------------------------------------
# shape and dtype checks shared by the abstract rules


def _check(name: str, aval: ShapedArray, rank: int = 2, square: bool = True,
           what: str = "operand") -> tuple:
    if aval.dtype not in LAPACK_DTYPES:
        raise PlaxTypeError(f"{name}: {what} must be float32, float64, complex64 or "
                            f"complex128, got {aval.dtype.name}")
    if aval.ndim < rank:
        raise PlaxTypeError(f"{name}: {what} must have rank at least {rank}, got shape "
                            f"{aval.shape}")
    if square and rank == 2 and aval.shape[-1] != aval.shape[-2]:
        raise PlaxTypeError(f"{name}: {what} must be a (batch of) square matrices, got "
                            f"shape {aval.shape}")
    return aval.shape[:aval.ndim - rank]


def _same_dtype(name: str, *avals):
    if len({a.dtype for a in avals}) > 1:
        raise PlaxTypeError(f"{name}: operands must have the same dtype, got "
                            + ", ".join(a.dtype.name for a in avals))


def _same_batch(name: str, *pairs):
    batches = {b for b, _ in pairs}
    if len(batches) > 1:
        raise PlaxTypeError(f"{name}: operands must have equal batch dimensions, got shapes "
                            + ", ".join(str(a.shape) for _, a in pairs))


def _sa(shape, dtype) -> ShapedArray:
    return ShapedArray(tuple(shape), np.dtype(dtype), False)


def _prim(name: str, rule, multiple_results: bool = True, **traits) -> Primitive:
    p = Primitive(name, multiple_results=multiple_results, **traits)
    add_abstract_eval(p, rule)
    return p


# ---------------------------------------------------------------------------------------------
# the primitives


def _cholesky_abstract(x):
    _check("cholesky", x)
    return _sa(x.shape, x.dtype)


cholesky_p = _prim("cholesky", _cholesky_abstract, multiple_results=False)


def _triangular_solve_abstract(a, b, *, left_side, lower, transpose_a, conjugate_a,
                               unit_diagonal):
    ba = _check("triangular_solve", a, what="a")
    bb = _check("triangular_solve", b, square=False, what="b")
    _same_dtype("triangular_solve", a, b)
    _same_batch("triangular_solve", (ba, a), (bb, b))
    k = b.shape[-2] if left_side else b.shape[-1]
    if k != a.shape[-1]:
        raise PlaxTypeError(f"triangular_solve: incompatible shapes a {a.shape} and b "
                            f"{b.shape} (left_side={left_side})")
    return _sa(b.shape, b.dtype)


triangular_solve_p = _prim("triangular_solve", _triangular_solve_abstract,
                           multiple_results=False, linear_in=(1,))


def _lu_abstract(x):
    batch = _check("lu", x, square=False)
    m, n = x.shape[-2:]
    return [_sa(x.shape, x.dtype), _sa(batch + (min(m, n),), np.int32),
            _sa(batch + (m,), np.int32)]


lu_p = _prim("lu", _lu_abstract)


def _geqrf_abstract(x):
    batch = _check("geqrf", x, square=False)
    return [_sa(x.shape, x.dtype), _sa(batch + (min(x.shape[-2:]),), x.dtype)]


geqrf_p = _prim("geqrf", _geqrf_abstract)


def _householder_product_abstract(a, taus):
    ba = _check("householder_product", a, square=False, what="a")
    bt = _check("householder_product", taus, rank=1, what="taus")
    _same_dtype("householder_product", a, taus)
    _same_batch("householder_product", (ba, a), (bt, taus))
    m, n = a.shape[-2:]
    if m < n:
        raise PlaxTypeError(f"householder_product: a must have at least as many rows as "
                            f"columns, got shape {a.shape}")
    if taus.shape[-1] > min(m, n):
        raise PlaxTypeError(f"householder_product: taus of shape {taus.shape} has more "
                            f"entries than min(m, n) = {min(m, n)} of a {a.shape}")
    return _sa(a.shape, a.dtype)


householder_product_p = _prim("householder_product", _householder_product_abstract,
                              multiple_results=False)


def _qr_abstract(x, *, pivoting, full_matrices):
    batch = _check("qr", x, square=False)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    outs = [_sa(batch + (m, k), x.dtype), _sa(batch + (k, n), x.dtype)]
    if pivoting:
        outs.append(_sa(batch + (n,), np.int32))
    return outs


qr_p = _prim("qr", _qr_abstract)


def _svd_abstract(x, *, full_matrices, compute_uv, subset_by_index, algorithm):
    batch = _check("svd", x, square=False)
    m, n = x.shape[-2:]
    rank = min(m, n)
    if subset_by_index is not None:
        lo, hi = subset_by_index
        if full_matrices and (lo, hi) != (0, rank):
            raise PlaxTypeError("svd: full_matrices and subset_by_index cannot both be set")
        rank = min(rank, hi - lo)
    s = _sa(batch + (rank,), real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    return [s, _sa(batch + (m, m if full_matrices else rank), x.dtype),
            _sa(batch + (n if full_matrices else rank, n), x.dtype)]


svd_p = _prim("svd", _svd_abstract)


def _eigh_abstract(x, *, lower, sort_eigenvalues, subset_by_index):
    batch = _check("eigh", x)
    n = x.shape[-1]
    d = n if subset_by_index is None else subset_by_index[1] - subset_by_index[0]
    return [_sa(batch + (n, d), x.dtype), _sa(batch + (d,), real_dtype(x.dtype))]


eigh_p = _prim("eigh", _eigh_abstract)


def _eig_abstract(x, *, compute_left_eigenvectors, compute_right_eigenvectors,
                  enable_eigvec_derivs):
    batch = _check("eig", x)
    dt = complex_dtype(x.dtype)
    outs = [_sa(batch + x.shape[-1:], dt)]
    outs += [_sa(x.shape, dt)] * (compute_left_eigenvectors + compute_right_eigenvectors)
    return outs


eig_p = _prim("eig", _eig_abstract)


def _schur_abstract(x, *, compute_schur_vectors, sort_eig_vals):
    _check("schur", x)
    return [_sa(x.shape, x.dtype)] * (2 if compute_schur_vectors else 1)


schur_p = _prim("schur", _schur_abstract)


def _hessenberg_abstract(a):
    batch = _check("hessenberg", a)
    return [_sa(a.shape, a.dtype), _sa(batch + (max(a.shape[-1] - 1, 0),), a.dtype)]


hessenberg_p = _prim("hessenberg", _hessenberg_abstract)


def _tridiagonal_abstract(a, *, lower):
    batch = _check("tridiagonal", a)
    n = a.shape[-1]
    if n == 0:
        raise PlaxTypeError(f"tridiagonal: operand must be a non-empty square matrix, got "
                            f"shape {a.shape}")
    r = real_dtype(a.dtype)
    return [_sa(a.shape, a.dtype), _sa(batch + (n,), r), _sa(batch + (n - 1,), r),
            _sa(batch + (n - 1,), a.dtype)]


tridiagonal_p = _prim("tridiagonal", _tridiagonal_abstract)


def _tridiagonal_solve_abstract(dl, d, du, b, *, perturb_singular):
    for name, v in (("dl", dl), ("d", d), ("du", du)):
        _check("tridiagonal_solve", v, rank=1, what=name)
    _check("tridiagonal_solve", b, square=False, what="b")
    _same_dtype("tridiagonal_solve", dl, d, du, b)
    if not dl.shape == d.shape == du.shape:
        raise PlaxTypeError(f"tridiagonal_solve: dl, d and du must have the same shape, got "
                            f"{dl.shape}, {d.shape} and {du.shape}")
    if b.shape[:-1] != d.shape:
        raise PlaxTypeError(f"tridiagonal_solve: b of shape {b.shape} must have the diagonals' "
                            f"shape {d.shape} followed by the number of right-hand sides")
    return _sa(b.shape, b.dtype)


tridiagonal_solve_p = _prim("tridiagonal_solve", _tridiagonal_solve_abstract,
                            multiple_results=False, linear_in=(3,))


# ---------------------------------------------------------------------------------------------
# matrix helpers (lax only: plax.numpy is built on top of this module)


def _lax():
    from plax import lax
    return lax


def _T(x):
    nd = get_aval(x).ndim
    return _lax().transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _H(x):
    x = _T(x)
    return _lax().conj(x) if dtypes.is_complex(get_aval(x).dtype) else x


def _tri_mask(shape, k: int, lower: bool):
    lax = _lax()
    nd = len(shape)
    rows = lax.broadcasted_iota(np.int32, shape, nd - 2)
    cols = lax.broadcasted_iota(np.int32, shape, nd - 1)
    return lax.ge(lax.add(rows, np.int32(k)), cols) if lower else \
        lax.le(lax.add(rows, np.int32(k)), cols)


def tril(x, k: int = 0):
    """Entries on and below the k-th diagonal of the trailing two dimensions."""
    lax = _lax()
    a = get_aval(x)
    return lax.select(_tri_mask(a.shape, k, True), x, lax.full_like(x, 0))


def triu(x, k: int = 0):
    """Entries on and above the k-th diagonal of the trailing two dimensions."""
    lax = _lax()
    a = get_aval(x)
    return lax.select(_tri_mask(a.shape, k, False), x, lax.full_like(x, 0))


def symmetrize(x):
    """(x + x^H) / 2."""
    lax = _lax()
    return lax.div(lax.add(x, _H(x)), lax.full_like(x, 2))


def _bool(v, name: str, fun: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise TypeError(f"{fun}: {name} must be a bool, got {v!r}")


def _subset(subset_by_index, fun):
    if subset_by_index is None:
        return None
    try:
        lo, hi = (operator.index(i) for i in subset_by_index)
    except (TypeError, ValueError):
        raise TypeError(f"{fun}: subset_by_index must be None or a pair of ints, got "
                        f"{subset_by_index!r}") from None
    return (lo, hi)


# ---------------------------------------------------------------------------------------------
# user functions (jax.lax.linalg's signatures)


def cholesky(x, *, symmetrize_input: bool = True):
    """Lower Cholesky factor L (A = L L^H) of each matrix; NaNs where A is not positive
    definite. With symmetrize_input, A is first replaced by (A + A^H) / 2; otherwise only its
    lower triangle is read."""
    if symmetrize_input:
        _check("cholesky", get_aval(x))
        x = symmetrize(x)
    return tril(cholesky_p.bind(x))


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """X with op(A) X = B (left_side) or X op(A) = B, A triangular (only the `lower` or upper
    triangle is read); op transposes and/or conjugates A. A `b` of one rank less than `a`
    is a vector."""
    aa, ab = get_aval(a), get_aval(b)
    conjugate_a = bool(conjugate_a) and dtypes.is_complex(aa.dtype)
    single = ab.ndim == aa.ndim - 1
    lax = _lax()
    if single:
        b = lax.expand_dims(b, (ab.ndim if left_side else ab.ndim - 1,))
    out = triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                  transpose_a=bool(transpose_a), conjugate_a=conjugate_a,
                                  unit_diagonal=bool(unit_diagonal))
    if single:
        nd = get_aval(out).ndim
        out = lax.squeeze(out, (nd - 1 if left_side else nd - 2,))
    return out


def lu(x):
    """(lu, pivots, permutation): P A = L U with L unit lower triangular (below lu's
    diagonal) and U upper (on and above it); pivots are LAPACK's 0-based row swaps, the
    permutation the rows of A they give."""
    return tuple(lu_p.bind(x))


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The permutation (int32, trailing size permutation_size) that applying the row swaps
    `pivots` in order gives, batched over leading dimensions."""
    lax = _lax()
    pa = get_aval(pivots)
    k = pa.shape[-1]
    if permutation_size < k:
        raise ValueError(f"lu_pivots_to_permutation: permutation_size {permutation_size} must "
                         f"be at least the number of pivots {k}")
    batch = pa.shape[:-1]
    perm = lax.broadcasted_iota(np.int32, batch + (permutation_size,), len(batch))
    if k == 0:
        return perm
    pivots = lax.convert_element_type(pivots, np.int32)
    shape = batch + (permutation_size,)
    ids = lax.broadcasted_iota(np.int32, shape, len(batch))
    last = len(batch)

    def body(i, p):
        i = lax.convert_element_type(i, np.int32)
        j = lax.dynamic_index_in_dim(pivots, i, last, keepdims=True)
        pi = lax.dynamic_index_in_dim(p, i, last, keepdims=True)
        pj = _take_last(p, j)
        at_i = lax.eq(ids, lax.broadcast_in_dim(i, shape, ()))
        p = lax.select(at_i, _bcast_last(pj, permutation_size), p)
        at_j = lax.eq(ids, _bcast_last(j, permutation_size))
        return lax.select(at_j, _bcast_last(pi, permutation_size), p)

    return lax.fori_loop(0, k, body, perm)


def _bcast_last(v, n: int):
    """A (..., 1) array broadcast to (..., n)."""
    lax = _lax()
    a = get_aval(v)
    return lax.broadcast_in_dim(v, a.shape[:-1] + (n,), tuple(range(a.ndim)))


def _take_last(p, j):
    """p[..., j[..., 0]] as a (..., 1) array (one index per batch row)."""
    lax = _lax()
    a = get_aval(p)
    onehot = lax.eq(lax.broadcasted_iota(np.int32, a.shape, a.ndim - 1),
                    _bcast_last(j, a.shape[-1]))
    picked = lax.select(onehot, p, lax.full_like(p, 0))
    return lax.reshape(lax.reduce_sum(picked, (a.ndim - 1,)), a.shape[:-1] + (1,))


def geqrf(a):
    """LAPACK's geqrf: (a, taus) with R in a's upper triangle and Householder reflectors
    below it."""
    return tuple(geqrf_p.bind(a))


def householder_product(a, taus):
    """The unitary matrix (a's shape) that the Householder reflectors in a's lower triangle
    and their scale factors `taus` multiply to (LAPACK's orgqr/ungqr)."""
    return householder_product_p.bind(a, taus)


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """(q, r) with x = q r, q unitary and r upper triangular: q is (m, m) and r (m, n) with
    full_matrices, else (m, k) and (k, n) with k = min(m, n). With pivoting also p, the
    column permutation (x[:, p] = q r)."""
    del use_magma
    out = qr_p.bind(x, pivoting=_bool(pivoting, "pivoting", "qr"),
                    full_matrices=_bool(full_matrices, "full_matrices", "qr"))
    return tuple(out)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True, subset_by_index=None,
        algorithm=None):
    """(u, s, vh) with x = u diag(s) vh and s descending, or s alone without compute_uv."""
    algo = None if algorithm is None else getattr(algorithm, "value", algorithm)
    known = (SvdAlgorithm.DEFAULT, SvdAlgorithm.QR, SvdAlgorithm.JACOBI, SvdAlgorithm.POLAR,
             SvdAlgorithm.DIVIDE_AND_CONQUER)
    if algo not in (None, *known):
        raise ValueError(f"svd: unknown algorithm {algorithm!r}; use one of "
                         f"lax.linalg.SvdAlgorithm's {known}")
    out = svd_p.bind(x, full_matrices=_bool(full_matrices, "full_matrices", "svd"),
                     compute_uv=_bool(compute_uv, "compute_uv", "svd"),
                     subset_by_index=_subset(subset_by_index, "svd"), algorithm=algo)
    if compute_uv:
        s, u, vt = out
        return u, s, vt
    return out[0]


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index=None, implementation=None):
    """(v, w): eigenvectors (columns of v) and ascending real eigenvalues of Hermitian x."""
    del implementation
    if symmetrize_input:
        _check("eigh", get_aval(x))
        x = symmetrize(x)
    v, w = eigh_p.bind(x, lower=bool(lower), sort_eigenvalues=bool(sort_eigenvalues),
                       subset_by_index=_subset(subset_by_index, "eigh"))
    return v, w


def eig(x, *, compute_left_eigenvectors: bool = True, compute_right_eigenvectors: bool = True,
        enable_eigvec_derivs: bool = False, implementation=None, use_magma=None):
    """[w, vl, vr] of a general square matrix (complex results; vl and vr only when asked);
    eigenvector derivatives need enable_eigvec_derivs=True, as in JAX."""
    del implementation, use_magma
    return list(eig_p.bind(x, compute_left_eigenvectors=bool(compute_left_eigenvectors),
                           compute_right_eigenvectors=bool(compute_right_eigenvectors),
                           enable_eigvec_derivs=bool(enable_eigvec_derivs)))


def schur(x, *, compute_schur_vectors: bool = True, sort_eig_vals: bool = False,
          select_callable=None):
    """(t, q) with x = q t q^H, t (quasi-)upper triangular: the real Schur form for real x."""
    if sort_eig_vals or select_callable is not None:
        raise NotImplementedError("schur: sorting the eigenvalues is not implemented (as in "
                                  "JAX on CPU)")
    out = schur_p.bind(x, compute_schur_vectors=bool(compute_schur_vectors),
                       sort_eig_vals=False)
    return tuple(out) if compute_schur_vectors else out[0]


def hessenberg(a):
    """(a, taus): the upper Hessenberg form in a's upper triangle and first subdiagonal, the
    Householder reflectors below it (LAPACK's gehrd)."""
    return tuple(hessenberg_p.bind(a))


def tridiagonal(a, *, lower: bool = True):
    """(a, d, e, taus): the reduction of Hermitian `a` to real symmetric tridiagonal form
    (diagonal d, off-diagonal e) with its reflectors (LAPACK's sytrd/hetrd)."""
    return tuple(tridiagonal_p.bind(a, lower=bool(lower)))


def tridiagonal_solve(dl, d, du, b, *, perturb_singular: bool = False):
    """X with A X = B for the tridiagonal A of sub-diagonal dl (dl[0] = 0), diagonal d and
    super-diagonal du (du[-1] = 0). With `perturb_singular`, a numerically singular A still
    gives a finite X: tiny pivots of its pivoted LU are perturbed by about eps * max|U| (as
    JAX's, after LAPACK's xLAGTS; inverse iteration for eigenvectors solves such systems)."""
    return tridiagonal_solve_p.bind(dl, d, du, b, perturb_singular=bool(perturb_singular))


class EigImplementation:
    """Names of jax.lax.linalg.EigImplementation (the CPU runs LAPACK's geev)."""
    LAPACK = "lapack"
    MAGMA = "magma"


def symmetric_product(a_matrix, c_matrix, *, alpha: float = 1.0, beta: float = 0.0,
                      symmetrize_output: bool = False):
    """alpha * A A^T + beta * C (a composition of dot_general; with symmetrize_output the
    upper triangle is the transposed lower one, as JAX)."""
    import plax.numpy as jnp
    a, c = jnp.asarray(a_matrix), jnp.asarray(c_matrix)
    out = alpha * jnp.matmul(a, jnp.swapaxes(a, -1, -2)) + beta * c
    if symmetrize_output:
        out = tril(out) + jnp.swapaxes(tril(out, -1), -1, -2)
    return out


def cholesky_update(r_matrix, w_vector):
    """R' upper triangular with R'^T R' = R^T R + w w^T, by Givens rotations (as JAX)."""
    import plax.numpy as jnp
    R, z = jnp.asarray(r_matrix), jnp.asarray(w_vector)
    if R.ndim != 2 or R.shape[0] != R.shape[1] or z.shape != R.shape[:1]:
        raise ValueError(f"cholesky_update: expected a square matrix and a vector of its size, "
                         f"got shapes {R.shape} and {z.shape}")
    for k in range(R.shape[0]):
        x, y = R[k, k], z[k]
        scale = jnp.maximum(jnp.abs(x), jnp.abs(y))
        safe = jnp.where(scale == 0, 1, scale)
        rh = 1 / jnp.sqrt((x / safe) ** 2 + (y / safe) ** 2)
        c = jnp.where(y == 0, 1, x / safe * rh)
        s = jnp.where(y == 0, 0, -y / safe * rh)
        row = c * R[k, :] - s * z
        z = c * z + s * R[k, :]
        R = R.at[k, :].set(row)
    return R


def ormqr(a, taus, c, *, left: bool, transpose: bool):
    """Q C, C Q (or with Q^H when transpose) for the Q of the reflectors in `a` and `taus`
    (LAPACK's ormqr/unmqr, through householder_product)."""
    import plax.numpy as jnp
    a, taus, c = jnp.asarray(a), jnp.asarray(taus), jnp.asarray(c)
    m = a.shape[-2]
    k = taus.shape[-1]
    cols = a[..., :, :min(k, a.shape[-1])]
    pad = [(0, 0)] * (a.ndim - 1) + [(0, m - cols.shape[-1])]
    q = householder_product(jnp.pad(cols, pad), taus)
    if transpose:
        q = jnp.conj(jnp.swapaxes(q, -1, -2))
    return jnp.matmul(q, c) if left else jnp.matmul(c, q)
