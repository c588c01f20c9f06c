"""lax.dot_general, dot and batch_matmul: against np.einsum on many dimension-number layouts and
dtypes (mixed dtypes and preferred_element_type included), against jax.lax, and their errors."""

from __future__ import annotations

import string

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close, requires_jax

import plax
import plax.lax as lax
from plax._src.core import PlaxTypeError


def einsum_dot_general(lhs, rhs, dn):
    """dot_general written as an einsum: shared letters for contracted and batch pairs."""
    (lc, rc), (lb, rb) = dn
    letters = iter(string.ascii_letters)
    ls = [next(letters) for _ in range(lhs.ndim)]
    rs = [next(letters) for _ in range(rhs.ndim)]
    for a, b in zip(list(lc) + list(lb), list(rc) + list(rb), strict=True):
        rs[b] = ls[a]
    out = ([ls[d] for d in lb] + [ls[d] for d in range(lhs.ndim) if d not in lc + lb]
           + [rs[d] for d in range(rhs.ndim) if d not in rc + rb])
    spec = f"{''.join(ls)},{''.join(rs)}->{''.join(out)}"
    wide = np.complex128 if np.iscomplexobj(lhs) or np.iscomplexobj(rhs) else np.float64
    return np.einsum(spec, lhs.astype(wide), rhs.astype(wide))


# (lhs shape, rhs shape, ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch)))
CASES = [
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),                  # matmul
    ((3, 4), (5, 4), (((1,), (1,)), ((), ()))),                  # a @ b.T
    ((4,), (4, 5), (((0,), (0,)), ((), ()))),                    # vector-matrix
    ((4,), (4,), (((0,), (0,)), ((), ()))),                      # inner product
    ((3,), (5,), (((), ()), ((), ()))),                          # outer product
    ((), (2, 3), (((), ()), ((), ()))),                          # scalar times matrix
    ((), (), (((), ()), ((), ()))),                              # scalar times scalar
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),        # batch matmul
    ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),        # batch dims not leading
    ((2, 3, 4, 5), (5, 4, 6), (((2, 3), (1, 0)), ((), ()))),     # two contractions, crossed
    ((2, 7, 3, 4), (4, 3, 2, 7), (((3,), (0,)), ((0, 1), (2, 3)))),  # two batch dims
    ((2, 3, 4), (3, 2, 4), (((), ()), ((0, 1), (1, 0)))),        # batch only, no contraction
    ((3, 0), (0, 5), (((1,), (0,)), ((), ()))),                  # empty contraction: zeros
    ((0, 3, 4), (0, 4, 2), (((2,), (1,)), ((0,), (0,)))),        # empty batch
    ((3, 4), (4, 0), (((1,), (0,)), ((), ()))),                  # empty free dim
]
CASE_IDS = [f"{a}x{b}" for a, b, _ in CASES]

DTYPES = [np.float32, np.int32, np.int8, np.uint8, np.float16, ml_dtypes.bfloat16,
          np.complex64, np.bool_]


def values(rng, shape, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "u":
        return rng.integers(0, 4, size=shape).astype(dt)
    if dt.kind == "i":
        return rng.integers(-3, 4, size=shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


@pytest.mark.parametrize("lshape,rshape,dn", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_dot_general_matches_einsum(backend, lshape, rshape, dn, dtype):
    rng = np.random.default_rng(0)
    a, b = values(rng, lshape, dtype), values(rng, rshape, dtype)
    out = lax.dot_general(a, b, dn)
    expected = einsum_dot_general(a, b, dn)
    assert isinstance(out, plax.Array) and out.dtype == np.dtype(dtype)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        np.testing.assert_array_equal(out, expected > 0)
    elif dt.kind in "iu":  # small values: no wraparound here
        np.testing.assert_array_equal(out, expected.astype(dt))
    else:
        assert_close(np.asarray(out).astype(np.complex128 if dt.kind == "c" else np.float64),
                     expected, dtype=dt)


def test_integer_dot_wraps_unless_preferred_type_widens(backend):
    a = np.full(3, 100, np.int8)
    assert int(lax.dot(a, a)) == np.int8(np.int64(30000).astype(np.int8))  # wraps, as XLA
    out = lax.dot(a, a, preferred_element_type=np.int32)
    assert out.dtype == np.int32 and int(out) == 30000
    out = lax.dot(a, a, preferred_element_type=np.float32)
    assert out.dtype == np.float32 and float(out) == 30000.0


def test_half_precision_accumulates_in_float32(backend):
    # 4096 ones summed in bfloat16 stop growing at 256; accumulated in float32 they do not
    a = np.ones(4096, ml_dtypes.bfloat16)
    assert float(lax.dot(a, a)) == 4096.0
    out = lax.dot(a, a, preferred_element_type=np.float32)
    assert out.dtype == np.float32 and float(out) == 4096.0
    h = np.ones(4096, np.float16)
    assert float(lax.dot(h, h)) == 4096.0


@pytest.mark.parametrize("lhs,rhs,result", [
    (np.float32, np.int32, np.float32), (np.float32, ml_dtypes.bfloat16, np.float32),
    (np.int8, np.int32, np.int32), (np.int32, np.uint32, np.int32), (np.uint8, np.int8, np.int8),
    (np.float16, ml_dtypes.bfloat16, ml_dtypes.bfloat16), (np.complex64, np.float32,
                                                           np.complex64)])
def test_mixed_dtypes_take_the_higher_type(backend, lhs, rhs, result):
    rng = np.random.default_rng(1)
    a, b = values(rng, (3, 4), lhs), values(rng, (4, 2), rhs)
    out = lax.dot(a, b)
    assert out.dtype == np.dtype(result)
    assert_close(np.asarray(out).astype(np.complex128), einsum_dot_general(
        a, b, (((1,), (0,)), ((), ()))), dtype=np.dtype(result))


def test_weak_types_and_preferred_element_type_rules():
    s = plax.eval_shape(lambda x, y: lax.dot_general(x, y, (((), ()), ((), ()))), 1.0, 2.0)
    assert s.dtype == np.float32 and s.weak_type
    s = plax.eval_shape(lambda x, y: lax.dot_general(x, y, (((), ()), ((), ()))), 1.0,
                        np.float32(2.0))
    assert not s.weak_type
    a = np.zeros((2, 2), np.float32)
    # floating results may be narrowed (as JAX); integer results may not
    assert lax.dot(a, a, preferred_element_type=ml_dtypes.bfloat16).dtype == ml_dtypes.bfloat16
    with pytest.raises(PlaxTypeError, match="preferred_element_type int8 must not be narrower "
                                            "than the result type int32"):
        lax.dot(a.astype(np.int32), a.astype(np.int32), preferred_element_type=np.int8)
    # float64 is canonicalized to float32 without x64, as in JAX
    assert lax.dot(a, a, preferred_element_type=np.float64).dtype == np.float32


def test_dot_and_batch_matmul(backend):
    rng = np.random.default_rng(2)
    m, v = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(
        np.float32)
    assert_close(lax.dot(m, v), m @ v)
    assert_close(lax.dot(v, m.T), v @ m.T)
    assert_close(lax.dot(v, v), v @ v)
    assert_close(lax.dot(m, m.T), m @ m.T)
    t = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert_close(lax.dot(t, m, dimension_numbers=(((2,), (1,)), ((), ()))),
                 np.einsum("abk,ck->abc", t, m))
    x, y = rng.standard_normal((2, 5, 3, 4)), rng.standard_normal((2, 5, 4, 6))
    x, y = x.astype(np.float32), y.astype(np.float32)
    assert_close(lax.batch_matmul(x, y), x @ y)
    assert_close(lax.batch_matmul(m, m.T, precision="highest"), m @ m.T)


def test_dot_and_batch_matmul_errors():
    with pytest.raises(PlaxTypeError, match=r"dot: without dimension_numbers.*\(2, 3, 4\)"):
        lax.dot(np.zeros((2, 3, 4)), np.zeros((4, 2)))
    with pytest.raises(PlaxTypeError, match=r"lhs shape \(3,\) and rhs shape \(4,\)"):
        lax.dot(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least 2-d, got ranks 1 and 2"):
        lax.batch_matmul(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="same rank, got 3 and 2"):
        lax.batch_matmul(np.zeros((2, 3, 3)), np.zeros((3, 3)))


DOT_ERRORS = [
    # (lhs shape, rhs shape, dimension numbers, words in the message)
    ((3, 4), (4, 5), (((2,), (0,)), ((), ())), ["lhs contracting dimensions (2,)",
                                                "out of range", "(3, 4)"]),
    ((3, 4), (4, 5), (((1,), (-1,)), ((), ())), ["rhs contracting", "out of range"]),
    ((3, 4), (4, 5), (((1,), (1,)), ((), ())), ["contracting dimensions must have equal sizes",
                                                "(4,)", "(5,)"]),
    ((3, 4), (4, 5), (((1, 1), (0, 0)), ((), ())), ["lhs contracting", "distinct"]),
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), ())), ["batch", "equally many"]),
    ((2, 3, 4), (3, 4, 5), (((2,), (1,)), ((0,), (0,))), ["batch dimensions must have equal "
                                                         "sizes", "(2,)", "(3,)"]),
    ((2, 3, 4), (2, 4, 5), (((0,), (0,)), ((0,), (0,))), ["lhs batch dimensions (0,)",
                                                         "disjoint"]),
    ((3, 4), (4, 5), (((1,), ()), ((), ())), ["contracting", "equally many"]),
]


@pytest.mark.parametrize("lshape,rshape,dn,words", DOT_ERRORS)
def test_dot_general_errors_name_the_problem(lshape, rshape, dn, words):
    a, b = np.zeros(lshape, np.float32), np.zeros(rshape, np.float32)
    with pytest.raises(PlaxTypeError, match="dot_general") as e:
        lax.dot_general(a, b, dn)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_dot_general_argument_errors():
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"dimension_numbers must be \(\(lhs_contracting"):
        lax.dot_general(a, a, ((1,), (0,)))
    with pytest.raises(TypeError, match="lhs_batch must be an integer or a sequence"):
        lax.dot_general(a, a, (((1,), (0,)), ((0.5,), ())))
    with pytest.raises(ValueError, match="precision must be None"):
        lax.dot_general(a, a, (((1,), (0,)), ((), ())), precision="fast")


def test_precision_forms():
    P = lax.Precision
    cases = {None: None, "highest": (P.HIGHEST, P.HIGHEST), P.HIGH: (P.HIGH, P.HIGH),
             ("default", P.HIGHEST): (P.DEFAULT, P.HIGHEST)}
    a = np.zeros((2, 2), np.float32)
    for given, expected in cases.items():
        jaxpr = plax.make_jaxpr(lambda x, g=given: lax.dot(x, x, precision=g))(a)
        assert jaxpr.eqns[0].params["precision"] == expected
    assert P("tensorfloat32") is P.HIGH and repr(P.HIGHEST) == "Precision.HIGHEST"


def test_jaxpr_checks_and_prints_dimension_numbers_like_jax():
    def f(x, y):
        return lax.dot_general(x, y, (([1], [0]), ([], [])),  # lists are normalized
                               preferred_element_type=np.float32)

    a = np.ones((2, 3), np.float32)
    jaxpr = plax.make_jaxpr(f)(a, a.T)
    jaxpr.check()
    params = jaxpr.eqns[0].params
    assert params["dimension_numbers"] == (((1,), (0,)), ((), ()))
    hash(params["dimension_numbers"])
    assert "dimension_numbers=(([1], [0]), ([], []))" in str(jaxpr)
    assert "preferred_element_type=float32" in str(jaxpr)
    assert lax.dot_general_p.linear_in == (0, 1)


# ---------------------------------------------------------------------------------------------
# JAX as the oracle


@requires_jax
@pytest.mark.parametrize("lshape,rshape,dn", CASES, ids=CASE_IDS)
def test_dot_general_matches_jax(lshape, rshape, dn):
    from jax import lax as jlax
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.int8, ml_dtypes.bfloat16, np.bool_):
        a, b = values(rng, lshape, dtype), values(rng, rshape, dtype)
        ours, theirs = lax.dot_general(a, b, dn), jlax.dot_general(a, b, dn)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert_close(ours, np.asarray(theirs), dtype=dtype)
    a, b = values(rng, lshape, np.int8), values(rng, rshape, np.int8)
    for pet in (np.int32, np.float32):
        ours = lax.dot_general(a, b, dn, preferred_element_type=pet)
        theirs = jlax.dot_general(a, b, dn, preferred_element_type=pet)
        assert ours.dtype == theirs.dtype
        assert_close(ours, np.asarray(theirs))


@requires_jax
def test_mixed_dtype_results_match_jax():
    import jax
    from jax import lax as jlax
    from plax._src import dtypes
    narrow = [d for d in dtypes.SUPPORTED if d.itemsize <= 4 or d == dtypes.complex64]
    dn = (((0,), (0,)), ((), ()))
    for a in narrow:
        for b in narrow:
            ours = plax.eval_shape(lambda x, y: lax.dot_general(x, y, dn),
                                   plax.ShapeDtypeStruct((2,), a), plax.ShapeDtypeStruct((2,), b))
            theirs = jax.eval_shape(lambda x, y: jlax.dot_general(x, y, dn),
                                    jax.ShapeDtypeStruct((2,), a), jax.ShapeDtypeStruct((2,), b))
            assert ours.dtype == theirs.dtype, (a, b)


@requires_jax
def test_errors_agree_with_jax_on_which_calls_are_malformed():
    from jax import lax as jlax
    for lshape, rshape, dn, _ in DOT_ERRORS:
        with pytest.raises((TypeError, ValueError)):
            jlax.dot_general(np.zeros(lshape, np.float32), np.zeros(rshape, np.float32), dn)
