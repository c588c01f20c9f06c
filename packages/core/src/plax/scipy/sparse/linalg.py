"""plax.scipy.sparse.linalg (as jax.scipy.sparse.linalg): the Krylov solvers cg (conjugate
gradients), gmres (restarted GMRES, its least-squares step solved 'batched' at the end of
each restart or 'incremental'ly by Givens rotations) and bicgstab, for `A x = b` with A a
square matrix, anything with `@`, or a function computing the matrix-vector product, and b
(with x0 and the solution) an array or a pytree of arrays. The iterations follow JAX's step
for step (SciPy's "non-legacy" tolerance, norm(r) <= max(tol * norm(b), atol)); each solve is
wrapped in lax.custom_linear_solve, so derivatives come from a second solve with the
transposed operator (implicit differentiation), never from differentiating the iterations."""

from __future__ import annotations

import functools
import operator

import numpy as np

import plax
import plax.numpy as pnp
from plax import lax
from plax._src import dtypes
from plax._src.numpy.util import convert, is_arraylike
from plax.tree_util import Partial, tree_leaves, tree_map, tree_reduce, tree_structure

__all__ = ["bicgstab", "cg", "gmres"]

_HI = lax.Precision.HIGHEST
_dot = functools.partial(pnp.dot, precision=_HI)
_vdot = functools.partial(pnp.vdot, precision=_HI)


# -- vector-space operations on pytrees of arrays -------------------------------------------

def _vdot_real_part(x, y):
    """Re(x^H y) without the real-imaginary cross terms: a real scalar (the quadratic forms
    z^H M z of CG, M Hermitian positive definite, are real)."""
    out = _vdot(x.real, y.real)
    if pnp.iscomplexobj(x) or pnp.iscomplexobj(y):
        out = out + _vdot(x.imag, y.imag)
    return out


def _vdot_real_tree(x, y):
    return sum(tree_leaves(tree_map(_vdot_real_part, x, y)))


def _vdot_tree(x, y):
    return sum(tree_leaves(tree_map(_vdot, x, y)))


def _norm(x):
    xs = tree_leaves(x)
    return pnp.sqrt(sum(map(_vdot_real_part, xs, xs)))


def _mul(scalar, tree):
    return tree_map(lambda v: scalar * v, tree)


def _add(x, y):
    return tree_map(operator.add, x, y)


def _sub(x, y):
    return tree_map(operator.sub, x, y)


def _where(pred, x, y):
    return tree_map(lambda a, b: pnp.where(pred, a, b), x, y)


@Partial
def _identity(x):
    return x


def _as_matvec(f, what: str):
    """A function computing `f @ x`: f itself when callable, else a square matrix's product."""
    if callable(f):
        return f
    if isinstance(f, (np.ndarray, plax.Array)):
        if f.ndim != 2 or f.shape[0] != f.shape[1]:
            raise ValueError(f"{what}: the linear operator must be a square matrix, but has "
                             f"shape {f.shape}")
        return functools.partial(_dot, f)
    if hasattr(f, "__matmul__"):
        shape = getattr(f, "shape", None)
        if shape is not None and (len(shape) != 2 or shape[0] != shape[1]):
            raise ValueError(f"{what}: the linear operator must be a square matrix, but has "
                             f"shape {shape}")
        return functools.partial(operator.matmul, f)
    raise TypeError(f"{what}: the linear operator must be a function, an array or an object "
                    f"with __matmul__, got {type(f).__name__}")


def _prepare(fun: str, A, b, x0, M, maxiter):
    """(matvec, preconditioner, b, x0, maxiter) checked: x0 (zeros by default) matching b's
    tree and leaf shapes, maxiter 10 * size (SciPy's default) when None."""
    if not tree_leaves(b):
        raise ValueError(f"{fun}: b must hold at least one array")
    b = tree_map(pnp.asarray, b)
    x0 = tree_map(pnp.zeros_like, b) if x0 is None else tree_map(pnp.asarray, x0)
    if tree_structure(x0) != tree_structure(b):
        raise ValueError(f"{fun}: x0 and b must have matching tree structure: "
                         f"{tree_structure(x0)} vs {tree_structure(b)}")
    shapes = [np.shape(v) for v in tree_leaves(b)]
    shapes0 = [np.shape(v) for v in tree_leaves(x0)]
    if shapes0 != shapes:
        raise ValueError(f"{fun}: arrays in x0 and b must have matching shapes: "
                         f"{shapes0} vs {shapes}")
    if maxiter is None:
        maxiter = 10 * sum(int(np.prod(s)) for s in shapes)
    elif isinstance(maxiter, bool) or not is_arraylike(maxiter) or np.ndim(maxiter) != 0:
        raise TypeError(f"{fun}: maxiter must be a scalar number, got {maxiter!r:.60}")
    elif isinstance(maxiter, (int, float, np.number)) and not maxiter >= 0:
        raise ValueError(f"{fun}: maxiter must be non-negative, got {maxiter!r}")
    A = _as_matvec(A, f"{fun} (A)")
    M = _identity if M is None else _as_matvec(M, f"{fun} (M)")
    return A, M, b, x0, maxiter


# -- conjugate gradients and BiCGSTAB -------------------------------------------------------

def _cg_solve(A, b, x0, *, maxiter, tol, atol, M):
    # preconditioned CG; stops when |r|^2 <= max(tol^2 |b|^2, atol^2) (with no preconditioner
    # r^H z = |r|^2 is already at hand)
    bs = _vdot_real_tree(b, b)
    atol2 = pnp.maximum(pnp.square(tol) * bs, pnp.square(atol))

    def cond(state):
        _, r, gamma, _, k = state
        rs = gamma.real if M is _identity else _vdot_real_tree(r, r)
        return (rs > atol2) & (k < maxiter)

    def body(state):
        x, r, gamma, p, k = state
        Ap = A(p)
        alpha = gamma / _vdot_real_tree(p, Ap).astype(dtype)
        x = _add(x, _mul(alpha, p))
        r = _sub(r, _mul(alpha, Ap))
        z = M(r)
        gamma_new = _vdot_real_tree(r, z).astype(dtype)
        p = _add(z, _mul(gamma_new / gamma, p))
        return x, r, gamma_new, p, k + 1

    r0 = _sub(b, A(x0))
    p0 = z0 = M(r0)
    dtype = pnp.result_type(*tree_leaves(p0))
    gamma0 = _vdot_real_tree(r0, z0).astype(dtype)
    x, *_ = lax.while_loop(cond, body, (x0, r0, gamma0, p0, 0))
    return x


def _bicgstab_solve(A, b, x0, *, maxiter, tol, atol, M):
    bs = _vdot_real_tree(b, b)
    atol2 = pnp.maximum(pnp.square(tol) * bs, pnp.square(atol))

    def cond(state):
        _, r, *_, k = state
        # k < 0 marks a breakdown (rho == 0: -10; omega or alpha == 0: -11)
        return (_vdot_real_tree(r, r) > atol2) & (k < maxiter) & (k >= 0)

    def body(state):
        x, r, rhat, alpha, omega, rho, p, q, k = state
        rho_new = _vdot_tree(rhat, r)
        beta = rho_new / rho * alpha / omega
        p = _add(r, _mul(beta, _sub(p, _mul(omega, q))))
        phat = M(p)
        q = A(phat)
        alpha = rho_new / _vdot_tree(rhat, q)
        s = _sub(r, _mul(alpha, q))
        exit_early = _vdot_real_tree(s, s) < atol2
        shat = M(s)
        t = A(shat)
        omega = _vdot_tree(t, s) / _vdot_tree(t, t)
        x = _where(exit_early, _add(x, _mul(alpha, phat)),
                   _add(x, _add(_mul(alpha, phat), _mul(omega, shat))))
        r = _where(exit_early, s, _sub(s, _mul(omega, t)))
        k = pnp.where((omega == 0) | (alpha == 0), -11, k + 1)
        k = pnp.where(rho_new == 0, -10, k)
        return x, r, rhat, alpha, omega, rho_new, p, q, k

    r0 = _sub(b, A(x0))
    one = convert(1, *dtypes.result_type_with_weak(*tree_leaves(b)))
    state = (x0, r0, r0, one, one, one, r0, r0, 0)
    x, *_ = lax.while_loop(cond, body, state)
    return x


def _isolve(fun: str, solve, A, b, x0, *, tol, atol, maxiter, M, check_symmetric):
    A, M, b, x0, maxiter = _prepare(fun, A, b, x0, M, maxiter)
    isolve = functools.partial(solve, x0=x0, tol=tol, atol=atol, maxiter=maxiter, M=M)
    # a real positive-definite operator is symmetric: its transpose solve is the solve itself
    symmetric = check_symmetric and not any(pnp.iscomplexobj(v) for v in tree_leaves(b))
    x = lax.custom_linear_solve(A, b, solve=isolve, transpose_solve=isolve,
                                symmetric=symmetric)
    return x, None


def cg(A, b, x0=None, *, tol=1e-5, atol=0.0, maxiter=None, M=None):
    """Solve `A x = b` by conjugate gradients (as jax.scipy.sparse.linalg.cg), A Hermitian
    positive definite: a matrix, an object with `@`, or a function x -> A x returning the
    structure of its argument. b and x0 are arrays or pytrees of arrays; M is a preconditioner
    (approximating A's inverse) given the same ways. Stops when
    norm(residual) <= max(tol * norm(b), atol) or after maxiter steps (10 * size of b).
    Returns (x, None): like JAX, cg reports no convergence information. Derivatives solve
    again with A's transpose (implicit differentiation), accurate when both solves converge."""
    return _isolve("cg", _cg_solve, A, b, x0, tol=tol, atol=atol, maxiter=maxiter, M=M,
                   check_symmetric=True)


def bicgstab(A, b, x0=None, *, tol=1e-5, atol=0.0, maxiter=None, M=None):
    """Solve `A x = b` by BiCGSTAB (as jax.scipy.sparse.linalg.bicgstab), A any nonsingular
    linear operator; the arguments, stopping rule and derivatives as `cg`'s. Returns
    (x, None)."""
    return _isolve("bicgstab", _bicgstab_solve, A, b, x0, tol=tol, atol=atol,
                   maxiter=maxiter, M=M, check_symmetric=False)


# -- GMRES ----------------------------------------------------------------------------------

def _safe_normalize(x, thresh=None):
    """(x / norm(x), norm(x)), or (zeros, 0) when the norm is at most `thresh` (the dtype's
    epsilon by default)."""
    norm = _norm(x)
    dtype, weak = dtypes.result_type_with_weak(*tree_leaves(x))
    if thresh is None:
        thresh = pnp.asarray(pnp.finfo(norm.dtype).eps)
    thresh = thresh.astype(dtype).real
    use_norm = norm > thresh
    norm_cast = convert(norm, dtype, weak)
    normalized = tree_map(lambda y: pnp.where(use_norm, y / norm_cast, 0.0), x)
    return normalized, pnp.where(use_norm, norm, 0.0)


def _project_on_columns(Q, v):
    """Q^H v, Q's columns along the last axis of each leaf."""
    parts = tree_map(lambda X, y: pnp.einsum("...n,...->n", X.conj(), y, precision=_HI), Q, v)
    return tree_reduce(operator.add, parts)


def _gram_schmidt(Q, x, xnorm, max_iterations=2):
    """Classical Gram-Schmidt of x against Q's orthonormal columns, repeated ("twice is
    enough") while the overlap's norm is below norm(q) / sqrt(2): (q, overlaps)."""
    Q0 = tree_leaves(Q)[0]
    r = pnp.zeros(Q0.shape[-1], dtype=Q0.dtype)

    def body(carry):
        k, q, r, qnorm_scaled = carry
        h = _project_on_columns(Q, q)
        q = _sub(q, tree_map(lambda X: _dot(X, h), Q))
        r = _add(r, h)

        def again(c):
            k, not_done, _, _ = c
            return pnp.logical_and(not_done, k < (max_iterations - 1))

        def renorm(c):
            k, _, q, _ = c
            _, qnorm = _safe_normalize(q)
            return k, False, q, qnorm / pnp.sqrt(2.0)

        _, _, q, qnorm_scaled = lax.while_loop(again, renorm, (k, True, q, qnorm_scaled))
        return k + 1, q, r, qnorm_scaled

    def cond(carry):
        k, _, r, qnorm_scaled = carry
        _, rnorm = _safe_normalize(r)
        return pnp.logical_and(k < (max_iterations - 1), rnorm < qnorm_scaled)

    carry = body((0, x, r, xnorm / pnp.sqrt(2.0)))
    _, q, r, _ = lax.while_loop(cond, body, carry)
    return q, r


def _arnoldi_step(k, A, M, V, H):
    """The k-th Arnoldi step: V[..., k+1] = the part of M(A(V[..., k])) orthogonal to the
    earlier columns, normalized (zero at an invariant subspace), its overlaps in H[k, :]."""
    dtype, _ = dtypes.result_type_with_weak(*tree_leaves(V))
    eps = pnp.finfo(dtype).eps
    v = M(A(tree_map(lambda X: X[..., k], V)))
    _, v_norm_0 = _safe_normalize(v)
    v, h = _gram_schmidt(V, v, v_norm_0, max_iterations=2)
    unit_v, v_norm_1 = _safe_normalize(v, thresh=eps * v_norm_0)
    V = tree_map(lambda X, y: X.at[..., k + 1].set(y), V, unit_v)
    h = h.at[k + 1].set(v_norm_1.astype(dtype))
    return V, H.at[k, :].set(h), v_norm_1 == 0.0


def _rotate(H, i, cs, sn):
    x1, y1 = H[i], H[i + 1]
    H = H.at[i].set(cs.conj() * x1 - sn.conj() * y1)
    return H.at[i + 1].set(sn * x1 + cs * y1)


def _givens(a, b):
    b_zero = abs(b) == 0
    a_lt_b = abs(a) < abs(b)
    t = -pnp.where(a_lt_b, a, b) / pnp.where(a_lt_b, b, a)
    r = lax.rsqrt(1 + abs(t) ** 2).astype(t.dtype)
    cs = pnp.where(b_zero, 1, pnp.where(a_lt_b, r * t, r))
    sn = pnp.where(b_zero, 0, pnp.where(a_lt_b, r, r * t))
    return cs, sn


def _apply_givens(H_row, givens, k):
    """H_row rotated by the k rotations so far, then by a new one zeroing its entry k+1."""
    R_row = lax.fori_loop(0, k, lambda i, row: _rotate(row, i, *givens[i, :]), H_row)
    factors = _givens(R_row[k], R_row[k + 1])
    givens = givens.at[k, :].set(pnp.stack(factors))
    return _rotate(R_row, k, *factors), givens


def _krylov_basis(unit_residual, restart):
    return tree_map(lambda x: pnp.pad(x[..., None], ((0, 0),) * x.ndim + ((0, restart),)),
                    unit_residual)


def _gmres_incremental(A, b, x0, unit_residual, residual_norm, ptol, restart, M):
    """One restart, the QR factorization of the Hessenberg matrix built by Givens rotations
    as the Krylov space grows (stopping early once the residual estimate is below ptol)."""
    V = _krylov_basis(unit_residual, restart)
    dtype = pnp.result_type(*tree_leaves(b))
    R = pnp.eye(restart, restart + 1, dtype=dtype)  # eye: nonsingular after an early stop
    givens = pnp.zeros((restart, 2), dtype=dtype)
    beta_vec = pnp.zeros(restart + 1, dtype=dtype).at[0].set(residual_norm.astype(dtype))

    def cond(carry):
        k, err, *_ = carry
        return pnp.logical_and(k < restart, err > ptol)

    def step(carry):
        k, _, V, R, beta_vec, givens = carry
        V, H, _ = _arnoldi_step(k, A, M, V, R)
        R_row, givens = _apply_givens(H[k, :], givens, k)
        R = R.at[k, :].set(R_row)
        beta_vec = _rotate(beta_vec, k, *givens[k, :])
        return k + 1, abs(beta_vec[k + 1]), V, R, beta_vec, givens

    _, _, V, R, beta_vec, _ = lax.while_loop(
        cond, step, (0, residual_norm, V, R, beta_vec, givens))
    from plax.scipy.linalg import solve_triangular
    y = solve_triangular(R[:, :-1].T, beta_vec[:-1])
    x = _add(x0, tree_map(lambda X: _dot(X[..., :-1], y), V))
    unit_residual, residual_norm = _safe_normalize(M(_sub(b, A(x))))
    return x, unit_residual, residual_norm


def _gmres_batched(A, b, x0, unit_residual, residual_norm, ptol, restart, M):
    """One restart: the whole Arnoldi process (until breakdown), then the least-squares
    problem solved by its normal equations."""
    del ptol
    from plax.scipy.linalg import solve
    V = _krylov_basis(unit_residual, restart)
    dtype, weak = dtypes.result_type_with_weak(*tree_leaves(b))
    H = convert(pnp.eye(restart, restart + 1, dtype=dtype), dtype, weak)

    def cond(carry):
        _, _, breakdown, k = carry
        return pnp.logical_and(k < restart, pnp.logical_not(breakdown))

    def step(carry):
        V, H, _, k = carry
        V, H, breakdown = _arnoldi_step(k, A, M, V, H)
        return V, H, breakdown, k + 1

    V, H, _, _ = lax.while_loop(cond, step, (V, H, False, 0))
    beta_vec = pnp.zeros_like(H, shape=(restart + 1,)).at[0].set(residual_norm.astype(dtype))
    Ht = H.T
    y = solve(_dot(Ht.T.conj(), Ht), _dot(Ht.T.conj(), beta_vec), assume_a="pos")
    x = _add(x0, tree_map(lambda X: _dot(X[..., :-1], y), V))
    unit_residual, residual_norm = _safe_normalize(M(_sub(b, A(x))))
    return x, unit_residual, residual_norm


def _gmres_solve(A, b, x0, atol, ptol, restart, maxiter, M, restart_fn):
    """Restart from the last projection until norm(M(b - A x)) <= atol or maxiter restarts."""
    unit_residual, residual_norm = _safe_normalize(M(_sub(b, A(x0))))

    def cond(state):
        _, k, _, residual_norm = state
        return pnp.logical_and(k < maxiter, residual_norm > atol)

    def body(state):
        x, k, unit_residual, residual_norm = state
        x, unit_residual, residual_norm = restart_fn(A, b, x, unit_residual, residual_norm,
                                                     ptol, restart, M)
        return x, k + 1, unit_residual, residual_norm

    x, *_ = lax.while_loop(cond, body, (x0, 0, unit_residual, residual_norm))
    return x


_GMRES_METHODS = {"incremental": _gmres_incremental, "batched": _gmres_batched}


def gmres(A, b, x0=None, *, tol=1e-5, atol=0.0, restart=20, maxiter=None, M=None,
          solve_method="batched"):
    """Solve `A x = b` by restarted GMRES (as jax.scipy.sparse.linalg.gmres), A any
    nonsingular linear operator given as `cg`'s. Each restart builds a Krylov space of
    dimension `restart` (at most the size of b) and projects onto it; at most maxiter restarts
    (10 * size of b). solve_method 'incremental' factors the Hessenberg matrix by Givens
    rotations as it grows (and may stop within a restart), 'batched' solves the least-squares
    problem at the end of each restart. Returns (x, info): info is -1 when x holds NaNs, else
    0 (as JAX). Derivatives solve again with A's transpose (implicit differentiation)."""
    restart_fn = _GMRES_METHODS.get(solve_method)
    if restart_fn is None:
        raise ValueError(f"gmres: invalid solve_method {solve_method!r}, must be either "
                         "'incremental' or 'batched'")
    if not isinstance(restart, (int, np.integer)) or restart < 1:
        raise ValueError(f"gmres: restart must be a positive integer, got {restart!r}")
    A, M, b, x0, maxiter = _prepare("gmres", A, b, x0, M, maxiter)
    size = sum(int(np.size(v)) for v in tree_leaves(b))
    restart = min(int(restart), size)
    b_norm = _norm(b)
    atol = pnp.maximum(tol * b_norm, atol)
    ptol = _norm(M(b)) * pnp.minimum(1.0, atol / b_norm)

    def solve(A, b):
        return _gmres_solve(A, b, x0, atol, ptol, restart, maxiter, M, restart_fn)

    x = lax.custom_linear_solve(A, b, solve=solve, transpose_solve=solve)
    info = pnp.where(pnp.isnan(_norm(x)), -1, 0)
    return x, info
