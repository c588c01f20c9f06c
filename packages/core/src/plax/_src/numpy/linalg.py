"""plax.numpy.linalg (as jax.numpy.linalg): solves, inverses, determinants, decompositions,
norms and products over the trailing two axes, batched over the leading ones, built on
lax.linalg's primitives. solve, det and slogdet carry JAX's derivative rules (custom_jvp)."""

from __future__ import annotations

import functools
import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

import plax.numpy as jnp
from plax import lax
from plax._src import dtypes
from plax._src.lax import linalg_decomp as ld
from plax._src.numpy import linalg_ops
from plax._src.numpy.linalg_ops import matmul, vecdot  # noqa: F401
from plax._src.numpy.util import check_arraylike, ensure_array, promote_dtypes_inexact

__all__ = [
    "cholesky", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh",
    "inv", "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank",
    "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr", "slogdet", "solve", "svd",
    "svdvals", "tensordot", "tensorinv", "tensorsolve", "trace", "vecdot", "vector_norm",
    "EighResult", "EigResult", "QRResult", "SlogdetResult", "SVDResult",
]


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


def _inexact(fun: str, *args):
    check_arraylike(fun, *args)
    out = [ensure_array(a, fun) for a in promote_dtypes_inexact(*args)]
    for a in out:
        if a.dtype not in ld.LAPACK_DTYPES:  # float16/bfloat16: LAPACK has no kernels
            raise TypeError(f"{fun}: dtype {a.dtype.name} is not supported (float32, float64, "
                            "complex64 or complex128)")
    return out


def _square(fun: str, a) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{fun}: argument must have shape (..., n, n), got {a.shape}")


def _H(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _custom_jvp(fun, jvp):
    """`fun` whose derivative is `jvp` (plax.custom_jvp) where plax-transforms is installed;
    built on first use so that core does not need the plugin."""
    state: dict = {}

    @functools.wraps(fun)
    def wrapped(*args):
        f = state.get("f")
        if f is None:
            from plax._src import registry
            cj = registry.get_api("custom_jvp")
            if cj is None:
                f = fun
            else:
                f = cj(fun)
                f.defjvp(jvp)
            state["f"] = f
        return f(*args)
    return wrapped


# ---------------------------------------------------------------------------------------------
# decompositions


def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """Cholesky factor of each Hermitian positive-definite matrix (lower, or upper with
    `upper`); NaNs where the matrix is not positive definite."""
    a, = _inexact("linalg.cholesky", a)
    _square("linalg.cholesky", a)
    L = ld.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(L) if upper else L


def qr(a, mode: str = "reduced"):
    """QR decomposition: mode 'reduced' (q (m, k), r (k, n)), 'complete', 'r' (r only) or
    'raw' (LAPACK's geqrf output, transposed as NumPy's)."""
    a, = _inexact("linalg.qr", a)
    if a.ndim < 2:
        raise ValueError(f"linalg.qr: argument must have at least 2 dimensions, got {a.shape}")
    if mode == "raw":
        h, taus = ld.geqrf(a)
        return jnp.swapaxes(h, -1, -2), taus
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: unsupported mode {mode!r} (reduced, complete, r, raw)")
    q, r = ld.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
    """(U, S, Vh) with a = U diag(S) Vh, S descending; S alone without compute_uv. With
    `hermitian`, computed from the eigendecomposition, as JAX."""
    a, = _inexact("linalg.svd", a)
    if a.ndim < 2:
        raise ValueError(f"linalg.svd: argument must have at least 2 dimensions, got {a.shape}")
    if hermitian:
        _square("linalg.svd", a)
        w, v = eigh(a)
        s = jnp.abs(w)
        if not compute_uv:
            return jnp.sort(s, axis=-1)[..., ::-1]
        order = jnp.argsort(s, axis=-1)[..., ::-1]
        s = jnp.take_along_axis(s, order, axis=-1)
        u = jnp.take_along_axis(v, order[..., None, :], axis=-1)
        sign = jnp.sign(jnp.take_along_axis(w, order, axis=-1)).astype(v.dtype)
        vh = _H(u * sign[..., None, :])
        return SVDResult(u, s, vh)
    out = ld.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                 subset_by_index=subset_by_index)
    return SVDResult(*out) if compute_uv else out


def svdvals(x, /):
    """The singular values, descending."""
    return svd(x, compute_uv=False)


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):
    """(eigenvalues ascending, eigenvectors as columns) of Hermitian matrices."""
    a, = _inexact("linalg.eigh", a)
    _square("linalg.eigh", a)
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = ld.eigh(a, lower=UPLO != "U", symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):
    """Eigenvalues of Hermitian matrices, ascending."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a):
    """(eigenvalues, right eigenvectors) of general square matrices (complex results)."""
    a, = _inexact("linalg.eig", a)
    _square("linalg.eig", a)
    w, v = ld.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    """Eigenvalues of general square matrices (complex)."""
    a, = _inexact("linalg.eigvals", a)
    _square("linalg.eigvals", a)
    return ld.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]


# ---------------------------------------------------------------------------------------------
# solves, inverses, determinants


def _lu_solve(lu, perm, b):
    """A^-1 b from A's LU factors; b is (..., n, k)."""
    x = jnp.take_along_axis(b, jnp.broadcast_to(perm[..., :, None], b.shape), axis=-2)
    x = ld.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    return ld.triangular_solve(lu, x, left_side=True, lower=False)


def _solve_raw(a, b):
    lu, _, perm = ld.lu(a)
    return _lu_solve(lu, perm, b)


def _solve_jvp(primals, tangents):
    # d(A^-1 b) = A^-1 (db - dA x)
    a, b = primals
    da, db = tangents
    x = _solve_core(a, b)
    return x, _solve_raw(a, db - jnp.matmul(da, x))


_solve_core = _custom_jvp(_solve_raw, _solve_jvp)


def solve(a, b):
    """x with a @ x = b; a 1-D b is a vector, else b is (..., n, k) with batch dimensions
    broadcast against a's (JAX's rule since 0.5)."""
    a, b = _inexact("linalg.solve", a, b)
    _square("linalg.solve", a)
    if b.ndim == 0:
        raise ValueError("linalg.solve: b must have at least one dimension")
    vector = b.ndim == 1
    if vector:
        if b.shape[-1] != a.shape[-1]:
            raise ValueError(f"linalg.solve: incompatible shapes a {a.shape} and b {b.shape}")
        b = b[..., None]
    elif b.shape[-2] != a.shape[-1]:
        raise ValueError(f"linalg.solve: incompatible shapes a {a.shape} and b {b.shape}; b "
                         "must be 1-D or (..., n, k) (for a batch of vectors use "
                         "b[..., None])")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    x = _solve_core(a, b)
    return x[..., 0] if vector else x


def inv(a):
    """The inverse of each square matrix (through solve, so with solve's derivative)."""
    a, = _inexact("linalg.inv", a)
    _square("linalg.inv", a)
    eye = jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return solve(a, eye)


def _slogdet_raw(a):
    dtype = a.dtype
    n = a.shape[-1]
    lu, pivot, _ = ld.lu(a)
    diag = jnp.diagonal(lu, axis1=-2, axis2=-1)
    is_zero = jnp.any(diag == 0, axis=-1)
    parity = jnp.count_nonzero(pivot != jnp.arange(n, dtype=pivot.dtype), axis=-1)
    if jnp.iscomplexobj(a):
        sign = jnp.prod(diag / jnp.abs(diag).astype(dtype), axis=-1)
    else:
        sign = jnp.array(1, dtype=dtype)
        parity = parity + jnp.count_nonzero(diag < 0, axis=-1)
    sign = jnp.where(is_zero, jnp.array(0, dtype), sign * (1 - 2 * (parity % 2)).astype(dtype))
    logdet = jnp.where(is_zero, jnp.array(-np.inf, ld.real_dtype(dtype)),
                       jnp.sum(jnp.log(jnp.abs(diag)), axis=-1))
    return sign, jnp.real(logdet)


def _slogdet_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    sign, ans = _slogdet_core(x)
    ans_dot = jnp.trace(_solve_raw(x, g), axis1=-1, axis2=-2)
    if jnp.iscomplexobj(x):
        sign_dot = (ans_dot - jnp.real(ans_dot).astype(ans_dot.dtype)) * sign
        ans_dot = jnp.real(ans_dot)
    else:
        sign_dot = jnp.zeros_like(sign)
    return (sign, ans), (sign_dot, ans_dot)


_slogdet_core = _custom_jvp(_slogdet_raw, _slogdet_jvp)


def slogdet(a, *, method: str | None = None):
    """(sign, log|det|) of each square matrix, through LU (method 'lu', the default) or QR."""
    a, = _inexact("linalg.slogdet", a)
    _square("linalg.slogdet", a)
    if method not in (None, "lu", "qr"):
        raise ValueError(f"linalg.slogdet: unknown method {method!r} ('lu' or 'qr')")
    if method == "qr":
        if jnp.iscomplexobj(a):
            raise NotImplementedError("linalg.slogdet: method='qr' is not implemented for "
                                      "complex inputs (as in JAX)")
        n = a.shape[-1]
        h, taus = ld.geqrf(a)
        d = jnp.diagonal(h, axis1=-2, axis2=-1)
        sign = jnp.prod(jnp.sign(d), axis=-1) * jnp.prod(
            jnp.where(taus[..., :n - 1] != 0, -1, 1), axis=-1).astype(a.dtype)
        return SlogdetResult(sign, jnp.sum(jnp.log(jnp.abs(d)), axis=-1))
    return SlogdetResult(*_slogdet_core(a))


def _cofactor_solve(a, b):
    """(det(a), det(a) * a^-1 b), finite for matrices of rank n - 1 too (JAX's rule for det's
    derivative): with a = P L U, U's last pivot is replaced by 1 / (signed product of the
    others), and the last row of L^-1 P^-1 b is left unscaled, so that the zero pivot never
    divides; rank < n - 1 gives zeros."""
    n = a.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    lu, pivots, perm = ld.lu(a)
    dtype = a.dtype
    batch = np.broadcast_shapes(lu.shape[:-2], b.shape[:-2])
    x = jnp.broadcast_to(b, batch + b.shape[-2:])
    lu = jnp.broadcast_to(lu, batch + lu.shape[-2:])
    perm = jnp.broadcast_to(perm, batch + (n,))
    diag = jnp.diagonal(lu, axis1=-2, axis2=-1)
    parity = jnp.count_nonzero(pivots != jnp.arange(n, dtype=pivots.dtype), axis=-1)
    sign = (1 - 2 * (parity % 2)).astype(dtype)
    partial_det = jnp.cumprod(diag, axis=-1) * sign[..., None]
    corner = (jnp.arange(n)[:, None] == n - 1) & (jnp.arange(n)[None, :] == n - 1)
    lu = jnp.where(corner, (1 / partial_det[..., -2])[..., None, None], lu)
    # rank < n - 1: U stays singular after the replacement; those entries give zeros
    probe = ld.triangular_solve(lu, jnp.ones(x.shape[:-1], dtype), left_side=True,
                                lower=False)
    bad = jnp.any(jnp.isnan(probe) | jnp.isinf(probe), axis=-1)[..., None, None]
    x = jnp.where(bad, jnp.zeros_like(x), x)
    x = jnp.take_along_axis(x, jnp.broadcast_to(perm[..., :, None], x.shape), axis=-2)
    x = ld.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    x = jnp.concatenate([x[..., :-1, :] * partial_det[..., -1, None, None],
                         x[..., -1:, :]], axis=-2)
    x = ld.triangular_solve(lu, x, left_side=True, lower=False)
    x = jnp.where(bad, jnp.zeros_like(x), x)
    return partial_det[..., -1], x


def _det_raw(a):
    sign, logdet = _slogdet_raw(a)
    return sign * jnp.exp(logdet).astype(sign.dtype)


def _det_jvp(primals, tangents):
    (x,), (g,) = primals, tangents
    y, z = _cofactor_solve(x, g)
    return y, jnp.trace(z, axis1=-1, axis2=-2)


_det_core = _custom_jvp(_det_raw, _det_jvp)


def det(a):
    """The determinant of each square matrix (LU), with JAX's derivative rule (finite at
    matrices of rank n - 1)."""
    a, = _inexact("linalg.det", a)
    _square("linalg.det", a)
    return _det_core(a)


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """(x, residuals, rank, singular values) minimizing ||a x - b|| through the SVD; the
    residuals are always computed, as JAX, unless numpy_resid asks for NumPy's rule."""
    a, b = _inexact("linalg.lstsq", a, b)
    if a.ndim != 2:
        raise TypeError(f"linalg.lstsq: a must be 2-D, got shape {a.shape}")
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    if b.ndim != 2 or b.shape[0] != a.shape[0]:
        raise TypeError(f"linalg.lstsq: b must be 1-D or 2-D with {a.shape[0]} rows, got "
                        f"shape {b.shape}")
    m, n = a.shape
    dtype = a.dtype
    if a.size == 0:
        s = jnp.empty((0,), ld.real_dtype(dtype))
        rank = jnp.array(0, np.int32)
        x = jnp.empty((n, *b.shape[1:]), dtype)
    else:
        if rcond is None:
            rcond = float(dtypes.finfo(dtype).eps) * max(n, m)
        else:
            rcond = jnp.where(rcond < 0, dtypes.finfo(dtype).eps, rcond)
        u, s, vt = svd(a, full_matrices=False)
        mask = s >= jnp.array(rcond, dtype=s.dtype) * s[0]
        rank = mask.sum().astype(np.int32)
        safe_s = jnp.where(mask, s, 1).astype(dtype)
        s_inv = jnp.where(mask, 1 / safe_s, 0)[:, None]
        uTb = jnp.matmul(_H(u), b, precision=lax.Precision.HIGHEST)
        x = jnp.matmul(_H(vt), s_inv * uTb, precision=lax.Precision.HIGHEST)
    if numpy_resid and (rank < n or m <= n):  # NumPy's empty residuals (not jittable)
        resid = jnp.asarray([], dtype=ld.real_dtype(dtype))
    else:
        resid = norm(b - jnp.matmul(a, x, precision=lax.Precision.HIGHEST), axis=0) ** 2
    if vector:
        x = x.ravel()
    return x, resid, rank, s


def _pinv_raw(a, rtol, hermitian):
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return jnp.empty(a.shape[:-2] + (n, m), a.dtype)
    a = jnp.conj(a)
    if rtol is None:
        rtol = 10.0 * max(m, n) * float(dtypes.finfo(a.dtype).eps)
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    # singular values at most rtol times the largest are dropped (their inverse set to 0)
    cutoff = jnp.asarray(rtol, s.dtype)[..., None] * s[..., 0:1]
    s = jnp.where(s > cutoff, s, np.inf).astype(u.dtype)
    out = jnp.matmul(jnp.swapaxes(vh, -1, -2), jnp.swapaxes(u, -1, -2) / s[..., :, None],
                     precision=lax.Precision.HIGHEST)
    return out.astype(a.dtype)


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """Moore-Penrose pseudo-inverse through the SVD (singular values up to rtol times the
    largest dropped; rtol a Python number), with JAX's derivative rule (Golub & Pereyra)."""
    a, = _inexact("linalg.pinv", a)
    if a.ndim < 2:
        raise ValueError(f"linalg.pinv: argument must have at least 2 dimensions, got "
                         f"{a.shape}")
    if rcond is not None:
        rtol = rcond
    if rtol is not None:
        rtol = float(rtol)
    return _pinv_fn(rtol, bool(hermitian))(a)


@functools.lru_cache(maxsize=64)
def _pinv_fn(rtol, hermitian):
    def raw(a):
        return _pinv_raw(a, rtol, hermitian)

    def jvp(primals, tangents):
        (a,), (a_dot,) = primals, tangents
        p = core(a)
        if hermitian:  # svd(hermitian=True) symmetrizes its input; so does the jvp
            a, a_dot = ld.symmetrize(a), ld.symmetrize(a_dot)
        m, n = a.shape[-2:]
        mm = functools.partial(jnp.matmul, precision=lax.Precision.HIGHEST)
        if m >= n:
            s = mm(mm(p, _H(p)), _H(a_dot))
            t = mm(mm(_H(a_dot), _H(p)), p)
            p_dot = -mm(mm(p, a_dot), p) + s - mm(mm(s, a), p) + t - mm(mm(p, a), t)
        else:
            s = mm(p, mm(_H(p), _H(a_dot)))
            t = mm(_H(a_dot), mm(_H(p), p))
            p_dot = -mm(p, mm(a_dot, p)) + s - mm(s, mm(a, p)) + t - mm(p, mm(a, t))
        return p, p_dot

    core = _custom_jvp(raw, jvp)
    return core


def matrix_rank(M, rtol=None, *, tol=None):
    """The number of singular values above rtol times the largest (tol: an absolute bound)."""
    M, = _inexact("linalg.matrix_rank", M)
    if M.ndim < 2:
        return (M != 0).any().astype(np.int32)
    s = svd(M, compute_uv=False)
    if tol is not None:
        cutoff = jnp.asarray(tol)
    else:
        if rtol is None:
            rtol = float(dtypes.finfo(s.dtype).eps) * max(M.shape[-2:])
        cutoff = jnp.asarray(rtol)[..., None] * jnp.max(s, axis=-1, keepdims=True)
    return jnp.sum(s > cutoff, axis=-1).astype(np.int32)


def matrix_power(a, n: int):
    """a raised to the integer power n by repeated squaring (n < 0 inverts first)."""
    check_arraylike("linalg.matrix_power", a)
    a = ensure_array(a, "linalg.matrix_power")
    _square("linalg.matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"linalg.matrix_power: exponent must be an integer, got {n!r}") from None
    if n == 0:
        return jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return a
    result = None
    z = a
    while n > 0:
        if n & 1:
            result = z if result is None else jnp.matmul(result, z)
        n >>= 1
        if n:
            z = jnp.matmul(z, z)
    return result


def multi_dot(arrays: Sequence[Any], *, precision=None):
    """The product of a chain of matrices (1-D ends are vectors), in the cheapest order
    (dynamic programming over the shapes, as NumPy)."""
    arrs = [ensure_array(a, "linalg.multi_dot") for a in arrays]
    if len(arrs) < 2:
        raise ValueError(f"linalg.multi_dot: needs at least 2 arrays, got {len(arrs)}")
    first_vec, last_vec = arrs[0].ndim == 1, arrs[-1].ndim == 1
    if first_vec:
        arrs[0] = arrs[0][None, :]
    if last_vec:
        arrs[-1] = arrs[-1][:, None]
    for x in arrs:
        if x.ndim != 2:
            raise ValueError(f"linalg.multi_dot: inner arrays must be 2-D, got {x.shape}")
    dims = [arrs[0].shape[0]] + [x.shape[1] for x in arrs]
    n = len(arrs)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def product(i, j):
        if i == j:
            return arrs[i]
        k = split[i][j]
        return jnp.matmul(product(i, k), product(k + 1, j), precision=precision)

    out = product(0, n - 1)
    if first_vec:
        out = out[0]
    if last_vec:
        out = out[..., 0]
    return out


# ---------------------------------------------------------------------------------------------
# norms


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """The `ord`-norm of x over `axis` (all axes when None)."""
    x, = _inexact("linalg.vector_norm", x) if not jnp.issubdtype(
        jnp.asarray(x).dtype, jnp.inexact) else (jnp.asarray(x),)
    if axis is None:
        out = _vnorm(jnp.ravel(x), 0, ord, False)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return _vnorm(x, axis, ord, keepdims)


def _vnorm(x, axis, ord, keepdims):
    ax = jnp.abs(x)
    if ord is None or ord == 2:
        return jnp.sqrt(jnp.sum(jnp.real(x * jnp.conj(x)), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return jnp.max(ax, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return jnp.min(ax, axis=axis, keepdims=keepdims)
    if ord == 0:
        return jnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(ax.dtype)
    if ord == 1:
        return jnp.sum(ax, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"linalg.norm: invalid order {ord!r} for vectors")
    p = jnp.asarray(ord, ax.dtype)
    return jnp.sum(ax ** p, axis=axis, keepdims=keepdims) ** (1 / p)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """The `ord`-norm of each matrix over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector or matrix norms, as numpy.linalg.norm: axis None flattens (2-norm) unless ord
    is given for a 1-D or 2-D x."""
    x, = _inexact("linalg.norm", x)
    if axis is None:
        if ord is None:
            return _vnorm(jnp.ravel(x), 0, 2, False).reshape((1,) * x.ndim if keepdims
                                                             else ())
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % x.ndim for a in axes)
    if len(axes) == 1:
        return _vnorm(x, axes[0], ord, keepdims)
    if len(axes) != 2:
        raise ValueError(f"linalg.norm: axis must name 1 or 2 axes, got {axis}")
    r, c = axes
    if ord is None or ord in ("fro", "f"):
        return jnp.sqrt(jnp.sum(jnp.real(x * jnp.conj(x)), axis=axes, keepdims=keepdims))
    ax = jnp.abs(x)
    if ord == 1 or ord == -1:
        s = jnp.sum(ax, axis=r, keepdims=True)
        f = jnp.max if ord == 1 else jnp.min
        out = f(s, axis=c, keepdims=True)
    elif ord == np.inf or ord == -np.inf:
        s = jnp.sum(ax, axis=c, keepdims=True)
        f = jnp.max if ord == np.inf else jnp.min
        out = f(s, axis=r, keepdims=True)
    elif ord in (2, -2, "nuc"):
        y = jnp.moveaxis(x, (r, c), (-2, -1))
        s = svd(y, compute_uv=False)
        v = {2: jnp.max, -2: jnp.min, "nuc": jnp.sum}[ord](s, axis=-1)
        return _keep(v, x.ndim, axes) if keepdims else v
    else:
        raise ValueError(f"linalg.norm: invalid order {ord!r} for matrices")
    return out if keepdims else jnp.squeeze(out, axis=axes)


def _keep(v, ndim, axes):
    for a in sorted(axes):
        v = jnp.expand_dims(v, a)
    return v


def cond(x, p=None):
    """The condition number of each matrix in the p-norm (2 by default: ratio of the extreme
    singular values); infinite for singular matrices."""
    x, = _inexact("linalg.cond", x)
    if x.ndim < 2:
        raise ValueError(f"linalg.cond: argument must have at least 2 dimensions, got "
                         f"{x.shape}")
    if p is None or p == 2 or p == -2:
        s = svd(x, compute_uv=False)
        r = s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
        return jnp.where(jnp.isnan(r), np.inf, r)
    _square("linalg.cond", x)
    r = norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))
    return jnp.where(jnp.isnan(r) | jnp.isinf(r), np.inf, r)


# ---------------------------------------------------------------------------------------------
# array-API style helpers


def matrix_transpose(x, /):
    """x with its last two axes swapped."""
    x = ensure_array(x, "linalg.matrix_transpose")
    if x.ndim < 2:
        raise ValueError(f"linalg.matrix_transpose: argument must have at least 2 dimensions, "
                         f"got {x.shape}")
    return jnp.swapaxes(x, -1, -2)


def trace(x, /, *, offset: int = 0, dtype=None):
    """The sum along each matrix's `offset` diagonal (last two axes)."""
    x = ensure_array(x, "linalg.trace")
    return jnp.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def diagonal(x, /, *, offset: int = 0):
    """Each matrix's `offset` diagonal (last two axes)."""
    x = ensure_array(x, "linalg.diagonal")
    return jnp.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def tensorinv(a, ind: int = 2):
    """The inverse of `a` seen as a matrix from its first `ind` axes to the rest."""
    a = ensure_array(a, "linalg.tensorinv")
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be positive, got {ind}")
    front, back = a.shape[:ind], a.shape[ind:]
    rows, cols = int(np.prod(front)), int(np.prod(back))
    if rows != cols:
        raise ValueError(f"linalg.tensorinv: a.shape[:ind] {front} and a.shape[ind:] {back} "
                         "must have the same number of elements")
    return inv(a.reshape(rows, cols)).reshape(back + front)


def tensorsolve(a, b, axes=None):
    """x with tensordot(a, x, x.ndim) = b."""
    a, b = _inexact("linalg.tensorsolve", a, b)
    if axes is not None:
        axes = tuple(ax % a.ndim for ax in axes)
        rest = [i for i in range(a.ndim) if i not in axes]
        a = jnp.transpose(a, rest + list(axes))
    out_shape = a.shape[b.ndim:]
    rows, cols = int(np.prod(b.shape)), int(np.prod(out_shape))
    if rows != cols:
        raise ValueError(f"linalg.tensorsolve: a of shape {a.shape} is not square over b "
                         f"{b.shape}")
    return solve(a.reshape(rows, cols), b.ravel()).reshape(out_shape)


def cross(x1, x2, /, *, axis: int = -1):
    """Cross products of the 3-vectors along `axis` (other axes broadcast)."""
    x1, x2 = ensure_array(x1, "linalg.cross"), ensure_array(x2, "linalg.cross")
    if x1.ndim == 0 or x2.ndim == 0 or x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(f"linalg.cross: both inputs must have size 3 along axis {axis}, got "
                         f"shapes {x1.shape} and {x2.shape}")
    return linalg_ops.cross(x1, x2, axis=axis)


def outer(x1, x2, /):
    """The outer product of two 1-D arrays."""
    x1, x2 = ensure_array(x1, "linalg.outer"), ensure_array(x2, "linalg.outer")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"linalg.outer: inputs must be 1-D, got shapes {x1.shape} and "
                         f"{x2.shape}")
    return linalg_ops.outer(x1, x2)


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None):
    """Contraction of the `axes` of x1 with those of x2 (array-API signature)."""
    return linalg_ops.tensordot(x1, x2, axes, precision=precision,
                                preferred_element_type=preferred_element_type)
