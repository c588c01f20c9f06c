"""plax.scipy.linalg: linear algebra (as jax.scipy.linalg)."""

from plax._src.scipy.linalg import *  # noqa: F401,F403
from plax._src.scipy.linalg import (  # noqa: F401
    cho_factor, cho_solve, cholesky, det, eigh, eigh_tridiagonal, expm, expm_frechet, funm,
    hessenberg, inv, lu, lu_factor, lu_solve, polar, qr, qr_multiply, rsf2csf, schur, solve,
    solve_sylvester, solve_triangular, sqrtm, svd)
from plax._src.scipy.linalg_special import *  # noqa: F401,F403
from plax._src.scipy.linalg_special import (  # noqa: F401
    block_diag, circulant, companion, convolution_matrix, dft, fiedler, fiedler_companion,
    hadamard, hankel, helmert, hilbert, invhilbert, invpascal, leslie, pascal, toeplitz)
