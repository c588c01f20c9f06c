"""plax.numpy's products against NumPy: matmul (vectors, batches, broadcast batches), dot,
vdot, vecdot, inner, outer, tensordot, kron, and einsum (explicit and implicit outputs,
ellipses, diagonals, sums, broadcasting, many operands, the interleaved form, optimize paths);
result dtypes against JAX; jaxprs that contract with dot_general; and shape errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_close, requires_jax
from helpers import reference_by_default  # noqa: F401 (an autouse fixture)
from helpers import rand as _rand

import plax
import plax.numpy as pnp
from plax._src.core import jaxpr_as_fun

# float32 unless told; integers in [0, 4); bools True with probability 0.5
rand = functools.partial(_rand, lo=0, hi=4)


def close(out, expected):
    expected = np.asarray(expected)
    assert out.shape == expected.shape, (out.shape, expected.shape)
    assert_close(out, expected.astype(out.dtype), rtol=1e-4, atol=1e-4)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((1, 2, 3), (5, 3, 4)), ((6, 1, 2, 3), (5, 3, 1)), ((3,), (5, 3, 4)),
                 ((5, 2, 3), (3,)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(backend, shapes):
    a, b = rand(shapes[0]), rand(shapes[1], seed=1)
    close(pnp.matmul(a, b), np.matmul(a, b))
    close(pnp.asarray(a) @ b, a @ b)


@pytest.mark.parametrize("dtypes", [(np.int8, np.int8), (np.int32, np.float32),
                                    (np.float16, np.float16), (np.bool_, np.bool_),
                                    (np.complex64, np.float32), (np.uint8, np.int8)], ids=str)
def test_matmul_dtypes(backend, dtypes):
    a, b = rand((2, 3), dtypes[0]), rand((3, 4), dtypes[1], seed=1)
    out = pnp.matmul(a, b)
    import plax._src.dtypes as pdt
    assert out.dtype == pdt.result_type(a, b)
    wide = np.complex128 if out.dtype.kind == "c" else np.float64
    expected = np.matmul(a.astype(wide), b.astype(wide)) if out.dtype != np.bool_ else \
        np.matmul(a, b)
    with np.errstate(all="ignore"):
        close(out, expected.astype(out.dtype))


DOT_SHAPES = [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)),
              ((2, 3, 4), (4,)), ((2, 3, 4), (5, 4, 6)), ((3,), (3, 4))]


@pytest.mark.parametrize("shapes", DOT_SHAPES, ids=str)
def test_dot_inner_outer(backend, shapes):
    a, b = rand(shapes[0]), rand(shapes[1], seed=1)
    close(pnp.dot(a, b), np.dot(a, b))
    close(pnp.asarray(a).dot(b) if a.ndim else pnp.dot(a, b), np.dot(a, b))
    close(pnp.outer(a, b), np.outer(a, b))
    if not a.ndim or not b.ndim or a.shape[-1] == b.shape[-1]:
        close(pnp.inner(a, b), np.inner(a, b))


def test_vdot_vecdot_kron():
    a, b = rand((2, 3), np.complex64), rand((3, 2), np.complex64, seed=1)
    close(pnp.vdot(a, b), np.vdot(a, b))
    x, y = rand((4, 3)), rand((3,), seed=2)
    close(pnp.vecdot(x, y), np.vecdot(x, y))
    close(pnp.vecdot(rand((3, 4)), rand((3, 1), seed=3), axis=0),
          np.vecdot(rand((3, 4)), rand((3, 1), seed=3), axis=0))
    close(pnp.vecdot(a, a), np.vecdot(a, a))
    for sa, sb in [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (3, 2)), ((), (2,))]:
        close(pnp.kron(rand(sa), rand(sb, seed=1)), np.kron(rand(sa), rand(sb, seed=1)))


TENSORDOTS = [((3, 4), (5, 6), 0), ((3, 4), (4, 5), 1), ((2, 3, 4), (3, 4, 5), 2),
              ((3, 4, 5), (4, 6), ((1,), (0,))), ((3, 4, 5), (5, 3, 2), ((0, 2), (1, 0))),
              ((3, 4, 5), (6, 5), ([2], [1])), ((3, 5), (5, 2), (-1, 0))]


@pytest.mark.parametrize("sa,sb,axes", TENSORDOTS, ids=str)
def test_tensordot(backend, sa, sb, axes):
    a, b = rand(sa), rand(sb, seed=1)
    close(pnp.tensordot(a, b, axes), np.tensordot(a, b, axes))


def test_cross(backend):
    a, b = rand((4, 3)), rand((4, 3), seed=1)
    close(pnp.cross(a, b), np.cross(a, b))
    close(pnp.cross(a, b[0]), np.cross(a, b[0]))
    close(pnp.cross(a.T, b.T, axisa=0, axisb=0, axisc=0), np.cross(a.T, b.T, axisa=0,
                                                                   axisb=0, axisc=0))
    close(pnp.cross(a.T, b.T, axis=0), np.cross(a.T, b.T, axis=0))
    close(pnp.cross(a[:, :2], b[:, :2]), a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
    close(pnp.cross(a[:, :2], b), np.cross(np.pad(a[:, :2], ((0, 0), (0, 1))), b))
    with pytest.raises(ValueError, match="cross: the vector axes must have size 2 or 3"):
        pnp.cross(np.ones(4), np.ones(4))


# ---------------------------------------------------------------------------------------------
# einsum

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("i,i->", [(3,), (3,)]), ("i,i", [(3,), (3,)]), ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]),
    ("ijk->kij", [(2, 3, 4)]), ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]), ("...ij,...jk", [(2, 3), (7, 3, 4)]),
    ("...ij,jk->...ik", [(6, 5, 2, 3), (3, 4)]), ("i...->...", [(3, 4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5),
                                                                     (5, 2)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]), ("ijk,ikl->ijl", [(2, 3, 4), (2, 4, 5)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("ij,j->i", [(2, 3), (3,)]), ("i,jk->ijk", [(2,), (3, 4)]),
    ("ij,ij", [(1, 3), (4, 3)]), ("bi,bi->b", [(1, 3), (5, 3)]), ("iij->ij", [(2, 2, 3)]),
    ("ijj,jk->ik", [(2, 3, 3), (3, 4)]), ("a,b,c->abc", [(2,), (3,), (4,)]),
    ("i,i,i->i", [(3,), (3,), (3,)]), (" i j , j k -> i k ", [(2, 3), (3, 4)]),
    ("ijk,ijk->", [(0, 3, 2), (0, 3, 2)]), ("ij,jk->ik", [(2, 0), (0, 4)]),
    ("i->", [(1,)]), ("ij,j->ij", [(2, 1), (3,)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_against_numpy(backend, spec, shapes):
    ops = [rand(s, seed=i) for i, s in enumerate(shapes)]
    close(pnp.einsum(spec, *ops), np.einsum(spec, *ops))


@pytest.mark.parametrize("optimize", [False, True, "greedy", "optimal", "auto"])
def test_einsum_optimize_is_accepted(optimize):
    ops = [rand((2, 3)), rand((3, 4), seed=1), rand((4, 5), seed=2)]
    close(pnp.einsum("ij,jk,kl->il", *ops, optimize=optimize), np.einsum("ij,jk,kl->il", *ops))
    path = np.einsum_path("ij,jk,kl->il", *ops, optimize="greedy")[0]
    close(pnp.einsum("ij,jk,kl->il", *ops, optimize=path), np.einsum("ij,jk,kl->il", *ops))
    own_path, _ = pnp.einsum_path("ij,jk,kl->il", *ops)
    close(pnp.einsum("ij,jk,kl->il", *ops, optimize=own_path), np.einsum("ij,jk,kl->il", *ops))


def test_einsum_interleaved_and_dtypes():
    a, b = rand((2, 3)), rand((3, 4), seed=1)
    close(pnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), a @ b)
    c = rand((3, 2), seed=2)
    close(pnp.einsum(a, [Ellipsis, 1], c, [1, Ellipsis]), np.einsum(a, [Ellipsis, 1], c,
                                                                     [1, Ellipsis]))
    ai, bi = rand((2, 3), np.int8), rand((3, 4), np.int8, seed=1)
    out = pnp.einsum("ij,jk->ik", ai, bi)
    assert out.dtype == np.int8
    close(out, (ai.astype(np.int64) @ bi).astype(np.int8))
    out = pnp.einsum("ij,jk->ik", ai, bi, preferred_element_type=np.int32)
    assert out.dtype == np.int32
    close(out, ai.astype(np.int32) @ bi)
    ab = rand((2, 3), bool)
    close(pnp.einsum("ij->i", ab), np.einsum("ij->i", ab))
    assert pnp.einsum("ij,j->i", rand((2, 3), np.float16), rand((3,))).dtype == np.float32


def test_einsum_contracts_with_dot_general():
    ops = [rand((2, 3)), rand((3, 4), seed=1), rand((4, 5), seed=2)]
    closed = plax.make_jaxpr(lambda *o: pnp.einsum("ij,jk,kl->il", *o))(*ops)
    closed.check()
    assert str(closed).count("dot_general") == 2
    close(jaxpr_as_fun(closed)(*ops)[0], np.einsum("ij,jk,kl->il", *ops))
    closed = plax.make_jaxpr(lambda a, b: pnp.matmul(a, b))(rand((5, 2, 3)), rand((3, 4)))
    assert str(closed).count("dot_general") == 1


@requires_jax
@pytest.mark.parametrize("name", ["matmul", "dot", "inner", "outer", "kron", "vdot"])
@pytest.mark.parametrize("dtypes", [(np.int8, np.uint8), (np.float16, np.int32),
                                    (np.bool_, np.bool_), (np.bool_, np.int8),
                                    (np.complex64, np.float16)], ids=str)
def test_dtypes_match_jax(name, dtypes):
    import jax
    import jax.numpy as jnp
    a, b = rand((2, 3), dtypes[0]), rand((3, 2) if name == "vdot" else (3, 3), dtypes[1], seed=1)
    try:
        expected = jax.eval_shape(getattr(jnp, name), a, b)
    except TypeError:  # JAX refuses kron of bools; plax multiplies them (logical and)
        assert name == "kron" and dtypes[0] == np.bool_
        return
    out = plax.eval_shape(getattr(pnp, name), a, b)
    assert np.dtype(out.dtype) == expected.dtype and out.shape == expected.shape
    assert jax.eval_shape(lambda x, y: jnp.einsum("ij,jk", x, y), a, b).dtype == \
        plax.eval_shape(lambda x, y: pnp.einsum("ij,jk", x, y), a, b).dtype


def test_errors():
    with pytest.raises(ValueError, match="matmul: inputs must be at least 1-D"):
        pnp.matmul(np.float32(1), np.ones(3))
    with pytest.raises(ValueError, match=r"matmul: contracting dimensions do not match: "
                                         r"\(2, 3\) @ \(4, 5\)"):
        pnp.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="matmul: incompatible shapes"):
        pnp.matmul(np.ones((2, 2, 3)), np.ones((5, 3, 4)))
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(4,\) not aligned"):
        pnp.dot(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="tensordot: shape mismatch along contracted axes"):
        pnp.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="einsum: the subscripts 'ij,jk' name 2 operands but 1"):
        pnp.einsum("ij,jk", np.ones((2, 3)))
    with pytest.raises(ValueError, match="einsum: subscript 'j' has size 4 in one operand and 3"):
        pnp.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="einsum: operand of shape .* has 2 dimensions"):
        pnp.einsum("ijk", np.ones((2, 3)))
    with pytest.raises(ValueError, match="einsum: invalid subscript '1'"):
        pnp.einsum("i1", np.ones((2, 3)))
    with pytest.raises(ValueError, match="output subscript 'k' does not appear"):
        pnp.einsum("ij->k", np.ones((2, 3)))
    with pytest.raises(ValueError, match="vdot: the arrays must have the same size"):
        pnp.vdot(np.ones(3), np.ones(4))
