# ruff: noqa: E501  (the promotion tables below are wider than a line)
"""Dtypes: JAX's promotion lattice (result_type with weak types, promote_types) for every pair of
dtypes and Python scalar kinds with x64 off and on, as hard-coded tables (checked without JAX) and
against JAX itself; canonicalization and dtype helpers."""

from __future__ import annotations

import contextlib
import itertools
import warnings

import numpy as np
import pytest

import plax
import plax.lax as lax
from plax._src import dtypes
from conftest import requires_jax

# Row/column order of the tables; i*, f*, c* are the weak kinds (the Python types int, float,
# complex, or Python scalars). A cell is the result dtype, with * when it is weakly typed.
NAMES = ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bf16", "f16", "f32", "f64",
         "c64", "c128", "i*", "f*", "c*"]
DTYPES = {"b": dtypes.bool_, "i8": dtypes.int8, "i16": dtypes.int16, "i32": dtypes.int32,
          "i64": dtypes.int64, "u8": dtypes.uint8, "u16": dtypes.uint16, "u32": dtypes.uint32,
          "u64": dtypes.uint64, "bf16": dtypes.bfloat16, "f16": dtypes.float16,
          "f32": dtypes.float32, "f64": dtypes.float64, "c64": dtypes.complex64,
          "c128": dtypes.complex128}
PY_TYPES = {"i*": int, "f*": float, "c*": complex}
PY_VALUES = {"i*": 3, "f*": 2.5, "c*": 1 + 2j}

# Generated from jax 0.10.2: jax.dtypes.result_type(a, b, return_weak_type_flag=True)
RESULT_X32 = """
    b     b    i8   i16   i32   i32    u8   u16   u32   u32  bf16   f16   f32   f32   c64   c64  i32*  f32*  c64*
   i8    i8    i8   i16   i32   i32   i16   i32   i32   i32  bf16   f16   f32   f32   c64   c64    i8  f32*  c64*
  i16   i16   i16   i16   i32   i32   i16   i32   i32   i32  bf16   f16   f32   f32   c64   c64   i16  f32*  c64*
  i32   i32   i32   i32   i32   i32   i32   i32   i32   i32  bf16   f16   f32   f32   c64   c64   i32  f32*  c64*
  i64   i32   i32   i32   i32   i32   i32   i32   i32   i32  bf16   f16   f32   f32   c64   c64   i32  f32*  c64*
   u8    u8   i16   i16   i32   i32    u8   u16   u32   u32  bf16   f16   f32   f32   c64   c64    u8  f32*  c64*
  u16   u16   i32   i32   i32   i32   u16   u16   u32   u32  bf16   f16   f32   f32   c64   c64   u16  f32*  c64*
  u32   u32   i32   i32   i32   i32   u32   u32   u32   u32  bf16   f16   f32   f32   c64   c64   u32  f32*  c64*
  u64   u32   i32   i32   i32   i32   u32   u32   u32   u32  bf16   f16   f32   f32   c64   c64   u32  f32*  c64*
 bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16   f32   f32   f32   c64   c64  bf16  bf16   c64
  f16   f16   f16   f16   f16   f16   f16   f16   f16   f16   f32   f16   f32   f32   c64   c64   f16   f16   c64
  f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   c64   c64   f32   f32   c64
  f64   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   c64   c64   f32   f32   c64
  c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64
 c128   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64
   i*  i32*    i8   i16   i32   i32    u8   u16   u32   u32  bf16   f16   f32   f32   c64   c64  i32*  f32*  c64*
   f*  f32*  f32*  f32*  f32*  f32*  f32*  f32*  f32*  f32*  bf16   f16   f32   f32   c64   c64  f32*  f32*  c64*
   c*  c64*  c64*  c64*  c64*  c64*  c64*  c64*  c64*  c64*   c64   c64   c64   c64   c64   c64  c64*  c64*  c64*
"""

PROMOTE_X32 = """
    b     b    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   i8    i8    i8   i16   i32   i64   i16   i32   i32   f64  bf16   f16   f32   f64   c64  c128    i8   f64  c128
  i16   i16   i16   i16   i32   i64   i16   i32   i32   f64  bf16   f16   f32   f64   c64  c128   i16   f64  c128
  i32   i32   i32   i32   i32   i64   i32   i32   i32   f64  bf16   f16   f32   f64   c64  c128   i32   f64  c128
  i64   i64   i64   i64   i64   i64   i64   i64   i64   f64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   u8    u8   i16   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128    u8   f64  c128
  u16   u16   i32   i32   i32   i64   u16   u16   u32   u64  bf16   f16   f32   f64   c64  c128   u16   f64  c128
  u32   u32   i32   i32   i32   i64   u32   u32   u32   u64  bf16   f16   f32   f64   c64  c128   u32   f64  c128
  u64   u64   f64   f64   f64   f64   u64   u64   u64   u64  bf16   f16   f32   f64   c64  c128   u64   f64  c128
 bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16   f32   f32   f64   c64  c128  bf16  bf16   c64
  f16   f16   f16   f16   f16   f16   f16   f16   f16   f16   f32   f16   f32   f64   c64  c128   f16   f16   c64
  f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f64   c64  c128   f32   f32   c64
  f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64  c128  c128   f64   f64  c128
  c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64  c128   c64  c128   c64   c64   c64
 c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128
   i*   i64    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   f*   f64   f64   f64   f64   f64   f64   f64   f64   f64  bf16   f16   f32   f64   c64  c128   f64   f64  c128
   c*  c128  c128  c128  c128  c128  c128  c128  c128  c128   c64   c64   c64  c128   c64  c128  c128  c128  c128
"""

RESULT_X64 = """
    b     b    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128  i64*  f64* c128*
   i8    i8    i8   i16   i32   i64   i16   i32   i64  f64*  bf16   f16   f32   f64   c64  c128    i8  f64* c128*
  i16   i16   i16   i16   i32   i64   i16   i32   i64  f64*  bf16   f16   f32   f64   c64  c128   i16  f64* c128*
  i32   i32   i32   i32   i32   i64   i32   i32   i64  f64*  bf16   f16   f32   f64   c64  c128   i32  f64* c128*
  i64   i64   i64   i64   i64   i64   i64   i64   i64  f64*  bf16   f16   f32   f64   c64  c128   i64  f64* c128*
   u8    u8   i16   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128    u8  f64* c128*
  u16   u16   i32   i32   i32   i64   u16   u16   u32   u64  bf16   f16   f32   f64   c64  c128   u16  f64* c128*
  u32   u32   i64   i64   i64   i64   u32   u32   u32   u64  bf16   f16   f32   f64   c64  c128   u32  f64* c128*
  u64   u64  f64*  f64*  f64*  f64*   u64   u64   u64   u64  bf16   f16   f32   f64   c64  c128   u64  f64* c128*
 bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16   f32   f32   f64   c64  c128  bf16  bf16   c64
  f16   f16   f16   f16   f16   f16   f16   f16   f16   f16   f32   f16   f32   f64   c64  c128   f16   f16   c64
  f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f64   c64  c128   f32   f32   c64
  f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64  c128  c128   f64   f64  c128
  c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64  c128   c64  c128   c64   c64   c64
 c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128
   i*  i64*    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128  i64*  f64* c128*
   f*  f64*  f64*  f64*  f64*  f64*  f64*  f64*  f64*  f64*  bf16   f16   f32   f64   c64  c128  f64*  f64* c128*
   c* c128* c128* c128* c128* c128* c128* c128* c128* c128*   c64   c64   c64  c128   c64  c128 c128* c128* c128*
"""

PROMOTE_X64 = """
    b     b    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   i8    i8    i8   i16   i32   i64   i16   i32   i64   f64  bf16   f16   f32   f64   c64  c128    i8   f64  c128
  i16   i16   i16   i16   i32   i64   i16   i32   i64   f64  bf16   f16   f32   f64   c64  c128   i16   f64  c128
  i32   i32   i32   i32   i32   i64   i32   i32   i64   f64  bf16   f16   f32   f64   c64  c128   i32   f64  c128
  i64   i64   i64   i64   i64   i64   i64   i64   i64   f64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   u8    u8   i16   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128    u8   f64  c128
  u16   u16   i32   i32   i32   i64   u16   u16   u32   u64  bf16   f16   f32   f64   c64  c128   u16   f64  c128
  u32   u32   i64   i64   i64   i64   u32   u32   u32   u64  bf16   f16   f32   f64   c64  c128   u32   f64  c128
  u64   u64   f64   f64   f64   f64   u64   u64   u64   u64  bf16   f16   f32   f64   c64  c128   u64   f64  c128
 bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16  bf16   f32   f32   f64   c64  c128  bf16  bf16   c64
  f16   f16   f16   f16   f16   f16   f16   f16   f16   f16   f32   f16   f32   f64   c64  c128   f16   f16   c64
  f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f64   c64  c128   f32   f32   c64
  f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64  c128  c128   f64   f64  c128
  c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64   c64  c128   c64  c128   c64   c64   c64
 c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128  c128
   i*   i64    i8   i16   i32   i64    u8   u16   u32   u64  bf16   f16   f32   f64   c64  c128   i64   f64  c128
   f*   f64   f64   f64   f64   f64   f64   f64   f64   f64  bf16   f16   f32   f64   c64  c128   f64   f64  c128
   c*  c128  c128  c128  c128  c128  c128  c128  c128  c128   c64   c64   c64  c128   c64  c128  c128  c128  c128
"""


def parse(table: str) -> dict:
    out = {}
    for line in table.strip().splitlines():
        row, *cells = line.split()
        assert len(cells) == len(NAMES), row
        for col, cell in zip(NAMES, cells, strict=True):
            out[row, col] = (DTYPES[cell.rstrip("*")], cell.endswith("*"))
    return out


def as_type(name: str):
    return PY_TYPES.get(name) or DTYPES[name]


def as_value(name: str):
    """A value of kind `name`: a Python scalar for the weak kinds, a 0-d NumPy array otherwise."""
    return PY_VALUES[name] if name in PY_VALUES else np.zeros((), DTYPES[name])


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_result_type_table(x64):
    table = parse(RESULT_X64 if x64 else RESULT_X32)
    with plax.enable_x64(x64):
        for (a, b), want in table.items():
            assert dtypes.result_type_with_weak(as_type(a), as_type(b)) == want, (a, b)
            assert dtypes.result_type_with_weak(as_value(a), as_value(b)) == want, (a, b)
            assert dtypes.result_type(as_type(a), as_type(b)) == want[0]


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_promote_types_table(x64):
    table = parse(PROMOTE_X64 if x64 else PROMOTE_X32)
    with plax.enable_x64(x64):
        for (a, b), (want, _) in table.items():
            assert dtypes.promote_types(as_type(a), as_type(b)) == want, (a, b)


def test_tables_are_symmetric():
    for t in (RESULT_X32, RESULT_X64, PROMOTE_X32, PROMOTE_X64):
        table = parse(t)
        assert all(table[a, b] == table[b, a] for a, b in table)


def test_result_type_special_cases():
    r = dtypes.result_type_with_weak
    assert r(True) == (dtypes.bool_, False) and r(True, False) == (dtypes.bool_, False)
    assert r(1) == (dtypes.int32, True) and r(1.0, 2) == (dtypes.float32, True)
    assert r(np.int8(1), 300) == (dtypes.int8, False)  # weak: the value does not widen the type
    assert r("float16", 1.0) == (dtypes.float16, False)
    assert r(np.float64) == (dtypes.float32, False)  # canonicalized without x64
    assert r(int, np.uint8, np.int8) == (dtypes.int16, False)
    assert r(float, np.int64, np.uint64) == (dtypes.float32, True)
    with plax.enable_x64():
        assert r(np.float64) == (dtypes.float64, False)
        assert r(np.int64, np.uint64) == (dtypes.float64, True)
    # arrays keep their dtype and weak type; a weak array promotes like a Python scalar
    weak = lax.add(1.0, 2.0)
    assert weak.weak_type and r(weak) == (dtypes.float32, True)
    assert r(weak, np.float16) == (dtypes.float16, False)
    assert r(weak, np.zeros(2, np.int8)) == (dtypes.float32, True)
    strong = lax.add(np.float16(1), np.float16(2))
    assert r(strong, weak) == (dtypes.float16, False)
    with pytest.raises(ValueError, match="at least one"):
        dtypes.result_type()
    with pytest.raises(TypeError, match="does not support dtype"):
        dtypes.result_type(np.dtype("U3"))
    with pytest.raises(TypeError):
        dtypes.promote_types(np.float32, object)


def test_dtype_helpers():
    assert dtypes.canonicalize_dtype(np.float64) == np.float32
    assert dtypes.canonicalize_dtype("int64") == np.int32
    assert dtypes.canonicalize_dtype("bfloat16") == dtypes.bfloat16
    assert dtypes.canonicalize_dtype(np.uint8) == np.uint8
    with plax.enable_x64():
        assert dtypes.canonicalize_dtype(np.float64) == np.float64
        assert dtypes.canonicalize_dtype(complex) == np.complex128
        assert dtypes.scalar_dtype(1) == np.int64 and dtypes.default_float_dtype() == np.float64
    assert dtypes.scalar_dtype(1) == np.int32 and dtypes.scalar_dtype(True) == np.bool_
    assert dtypes.scalar_dtype(1j) == np.complex64 and dtypes.default_int_dtype() == np.int32
    with pytest.raises(TypeError, match="not a Python scalar"):
        dtypes.scalar_dtype(np.float32(1))
    with pytest.raises(TypeError, match="does not support dtype float128|not a valid dtype"):
        dtypes.canonicalize_dtype(np.longdouble if np.dtype(np.longdouble).itemsize > 8
                                  else "U1")
    with pytest.raises(TypeError, match="not a valid dtype"):
        dtypes.canonicalize_dtype("not-a-dtype")
    assert dtypes.dtype(1) == np.int64 and dtypes.dtype(True) == np.bool_
    assert dtypes.dtype(np.zeros(2, np.int8)) == np.int8 and dtypes.dtype("bf16") == dtypes.bfloat16
    assert dtypes.issubdtype(dtypes.bfloat16, np.floating)
    assert not dtypes.issubdtype(dtypes.bfloat16, np.integer)
    assert dtypes.issubdtype(np.int8, np.signedinteger) and dtypes.issubdtype("f4", np.inexact)
    assert dtypes.finfo(dtypes.bfloat16).bits == 16 and dtypes.iinfo(np.uint8).max == 255
    assert [dtypes.short_name(DTYPES[n]) for n in NAMES[1:15]] == NAMES[1:15]
    assert dtypes.short_name(dtypes.bool_) == "bool"  # as JAX prints it in jaxprs
    assert dtypes.is_weakly_typed(1.0) and not dtypes.is_weakly_typed(np.float32(1))
    assert dtypes.is_weakly_typed(lax.add(1.0, 1.0)) and not dtypes.is_weakly_typed(True)
    for name, dt in DTYPES.items():
        kinds = (dtypes.is_int(dt), dtypes.is_float(dt), dtypes.is_complex(dt))
        assert kinds == (name[0] in "iu", name[0] in "bf" and name != "b", name[0] == "c")
        assert dtypes.is_inexact(dt) == (kinds[1] or kinds[2])
        assert dtypes.is_signed(dt) == (name[0] == "i")
        assert dtypes.is_unsigned(dt) == (name[0] == "u")


def test_plax_numpy_result_type_and_promote_types():
    pnp = pytest.importorskip("plax.numpy")
    if not hasattr(pnp, "result_type") or not hasattr(pnp, "promote_types"):
        pytest.skip("plax.numpy does not define result_type/promote_types yet")
    for x64 in (False, True):
        table = parse(RESULT_X64 if x64 else RESULT_X32)
        ptable = parse(PROMOTE_X64 if x64 else PROMOTE_X32)
        with plax.enable_x64(x64):
            for (a, b), (want, _) in table.items():
                assert pnp.result_type(as_type(a), as_type(b)) == want, (x64, a, b)
                assert pnp.promote_types(as_type(a), as_type(b)) == ptable[a, b][0]


# ---------------------------------------------------------------------------------------------
# JAX as the oracle


@contextlib.contextmanager
def jax_x64(on: bool):
    import jax
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", on)
    try:
        with warnings.catch_warnings():
            # JAX warns when asked for a 64-bit dtype with x64 off; plax canonicalizes quietly
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        jax.config.update("jax_enable_x64", prev)


@requires_jax
@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
def test_against_jax_pairs_and_triples(x64):
    import jax
    import jax.numpy as jnp
    prev = jax.config.jax_enable_x64
    with jax_x64(x64), plax.enable_x64(x64):
        for a, b in itertools.product(NAMES, NAMES):
            d, w = jax.dtypes.result_type(as_type(a), as_type(b), return_weak_type_flag=True)
            assert dtypes.result_type_with_weak(as_type(a), as_type(b)) == (d, w), (a, b)
            assert jnp.result_type(as_value(a), as_value(b)) == d, (a, b)
            assert dtypes.promote_types(as_type(a), as_type(b)) == jnp.promote_types(
                as_type(a), as_type(b)), (a, b)
        for a, b, c in itertools.product(NAMES, NAMES, NAMES):
            want = jax.dtypes.result_type(as_type(a), as_type(b), as_type(c),
                                          return_weak_type_flag=True)
            assert dtypes.result_type_with_weak(as_type(a), as_type(b), as_type(c)) == want
    assert jax.config.jax_enable_x64 == prev  # JAX's state is restored


@requires_jax
def test_against_jax_arrays_and_weak_arrays():
    import jax
    import jax.numpy as jnp
    with jax_x64(False):
        pairs = [
            (lax.add(1.0, 2.0), jnp.add(1.0, 2.0)),                     # weak f32
            (lax.add(1, 2), jnp.add(1, 2)),                             # weak i32
            (lax.add(np.float16(1), np.float16(1)), jnp.float16(2)),    # strong f16
            (np.zeros(3, np.uint8), np.zeros(3, np.uint8)),
            (np.bool_(True), np.bool_(True)),
            (2j, 2j), (7, 7), (np.int64(3), np.int64(3)),
        ]
        for (pa, ja), (pb, jb) in itertools.product(pairs, pairs):
            want = jax.dtypes.result_type(ja, jb, return_weak_type_flag=True)
            assert dtypes.result_type_with_weak(pa, pb) == want, (ja, jb)

