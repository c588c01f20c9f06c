"""C++ expressions for plax's dtypes, literals and elementwise primitives (XLA's semantics).

Values live in registers in their *compute* type: the storage type, except 16-bit floats, which
are computed in float32 and rounded back to 16 bits after every operation (`plax_rh`/`plax_rb`),
so results match XLA and NumPy bit for bit. Pure Python; the helpers named here are in
`prelude.PRELUDE`."""

from __future__ import annotations

import math

import numpy as np

_STORE = {"bool": "bool", "int8": "signed char", "int16": "short", "int32": "int",
          "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
          "uint32": "unsigned int", "uint64": "unsigned long long", "float16": "plax_f16",
          "bfloat16": "plax_bf16", "float32": "float", "float64": "double",
          "complex64": "plax_c64", "complex128": "plax_c128"}
_UNSIGNED = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}
_SIGNED = {1: "signed char", 2: "short", 4: "int", 8: "long long"}

DTYPES = tuple(_STORE)


def name(dt) -> str:
    return np.dtype(dt).name


def store_type(dt) -> str:
    return _STORE[name(dt)]


def is_half(dt) -> bool:
    return name(dt) in ("float16", "bfloat16")


def is_int(dt) -> bool:
    return np.dtype(dt).kind in "iu"


def is_signed(dt) -> bool:
    return np.dtype(dt).kind == "i"


def is_complex(dt) -> bool:
    return np.dtype(dt).kind == "c"


def is_float(dt) -> bool:
    return is_half(dt) or np.dtype(dt).kind == "f"


def compute_type(dt) -> str:
    return "float" if is_half(dt) else store_type(dt)


def real_type(dt) -> str:
    """The component type of a complex dtype (float or double)."""
    return "double" if name(dt) in ("complex128", "float64") else "float"


def unsigned_type(dt) -> str:
    return _UNSIGNED[np.dtype(dt).itemsize]


def signed_type(dt) -> str:
    return _SIGNED[np.dtype(dt).itemsize]


def load(dt, ref: str) -> str:
    """Storage -> compute type."""
    n = name(dt)
    return {"float16": f"plax_h2f({ref})", "bfloat16": f"plax_b2f({ref})"}.get(n, ref)


def store(dt, val: str) -> str:
    """Compute -> storage type."""
    n = name(dt)
    return {"float16": f"plax_f2h({val})", "bfloat16": f"plax_f2b({val})"}.get(n, val)


def rnd(dt, expr: str) -> str:
    """Round a float32 result to the 16-bit dtype it stands for (identity otherwise)."""
    n = name(dt)
    return {"float16": f"plax_rh({expr})", "bfloat16": f"plax_rb({expr})"}.get(n, expr)


def _float_lit(v: float, ctype: str) -> str:
    if math.isnan(v):
        return f"(({ctype})PLAX_NAN)"
    if math.isinf(v):
        return f"(({ctype})({'-' if v < 0 else ''}PLAX_INF))"
    return f"(({ctype}){float(v).hex()})"


def literal(v, dt) -> str:
    """A C++ constant of dtype `dt` in its compute type."""
    n = name(dt)
    if n == "bool":
        return "true" if bool(v) else "false"
    if is_int(dt):
        i = int(v)
        ct = store_type(dt)
        if is_signed(dt):
            info = np.iinfo(dt)
            if i == info.min:
                return f"(({ct})({i + 1}LL - 1))"
            return f"(({ct}){i}LL)"
        return f"(({ct}){i}ULL)"
    if is_complex(dt):
        c = complex(v)
        rt = real_type(dt)
        return f"plax_cmake({_float_lit(c.real, rt)}, {_float_lit(c.imag, rt)})"
    return _float_lit(float(np.asarray(v).astype(np.float64)), compute_type(dt))


def int_limits(dt) -> tuple[str, str]:
    info = np.iinfo(dt)
    return literal(info.min, dt), literal(info.max, dt)


# ---------------------------------------------------------------------------------------------
# elementwise operations: (operand dtypes, result dtype, C++ operand expressions) -> expression

_LIBM = {"exp": "exp", "exp2": "exp2", "log": "log", "log1p": "log1p", "expm1": "expm1",
         "tanh": "tanh", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin",
         "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh", "asinh": "asinh",
         "acosh": "acosh", "atanh": "atanh", "sqrt": "sqrt", "cbrt": "cbrt", "erf": "erf",
         "erfc": "erfc", "lgamma": "lgamma", "floor": "floor", "ceil": "ceil"}
_FLOAT_UNARY = set(_LIBM) | {"rsqrt", "logistic", "is_finite", "round", "sign", "abs", "neg",
                             "erf_inv", "digamma"}
_BINARY_SYM = {"add": "+", "sub": "-", "mul": "*"}
_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_COMPLEX_OK = {"add", "sub", "mul", "div", "neg", "conj", "real", "imag", "abs", "eq", "ne",
               "exp", "log", "sign", "select_n", "convert_element_type", "integer_pow",
               "stop_gradient", "complex", "sqrt", "rsqrt", "sin", "cos", "tan", "sinh", "cosh",
               "tanh", "expm1", "log1p", "pow", "logistic", "asin", "acos", "atan", "asinh",
               "acosh", "atanh"}
ELEMENTWISE = (_FLOAT_UNARY | set(_BINARY_SYM) | set(_CMP)
               | {"div", "rem", "pow", "max", "min", "atan2", "nextafter", "and", "or", "xor",
                  "not", "shift_left", "shift_right_logical", "shift_right_arithmetic",
                  "population_count", "integer_pow", "select_n", "clamp",
                  "convert_element_type", "stop_gradient", "real", "imag", "conj", "complex",
                  "bitcast_convert_type"})


def supports_elementwise(prim: str, in_dtypes, out_dtype, params) -> bool:
    dts = list(in_dtypes) + [out_dtype]
    if prim not in ELEMENTWISE:
        return False
    if prim == "bitcast_convert_type":
        a, b = np.dtype(in_dtypes[0]), np.dtype(out_dtype)
        return (a.itemsize == b.itemsize
                and not any(is_complex(d) or is_half(d) for d in (a, b)))
    if prim == "nextafter":
        return not is_half(out_dtype)
    if any(is_complex(d) for d in dts) and prim not in _COMPLEX_OK:
        return False
    if prim == "select_n" and is_complex(in_dtypes[0]):
        return False
    if prim == "pow" and any(is_complex(d) for d in dts) and not all(
            is_complex(d) for d in in_dtypes):
        return False
    return True


def _libm(fn: str, dt) -> str:
    return fn + "f" if compute_type(dt) == "float" else fn


def unary(prim: str, dt, a: str, out_dt, params) -> str:
    """The expression of a one-operand primitive (before 16-bit rounding)."""
    if is_complex(dt):
        return _complex_unary(prim, dt, a, out_dt)
    if prim in _LIBM:
        return f"{_libm(_LIBM[prim], dt)}({a})"
    ct = compute_type(dt)
    if prim == "neg":
        return f"(({ct})(0u - ({unsigned_type(dt)}){a}))" if is_int(dt) else f"(-{a})"
    if prim == "abs":
        if is_int(dt):
            u = unsigned_type(dt)
            return f"(({ct})({a} < 0 ? ({u})0 - ({u}){a} : ({u}){a}))"
        return f"{_libm('fabs', dt)}({a})"
    if prim == "sign":
        if dt == np.bool_ or (is_int(dt) and not is_signed(dt)):
            return f"(({ct})({a} != 0))"
        return f"plax_sign<{ct}>({a})"
    if prim in ("erf_inv", "digamma"):
        return f"plax_{prim.replace('_', '')}(({ct}){a})"
    if prim == "rsqrt":
        return f"(({ct})1 / {_libm('sqrt', dt)}({a}))"
    if prim == "logistic":
        return f"(({ct})1 / (({ct})1 + {_libm('exp', dt)}(-{a})))"
    if prim == "is_finite":
        return f"({a} - {a} == 0)"
    if prim == "round":
        if params.get("rounding_method", 0) in (1, "TO_NEAREST_EVEN"):
            return f"{_libm('rint', dt)}({a})"
        inner = rnd(dt, f"{_libm('fabs', dt)}({a}) + ({ct})0.5")
        return f"(plax_sign<{ct}>({a}) * {_libm('floor', dt)}({inner}))"
    if prim == "not":
        return f"(!{a})" if name(dt) == "bool" else f"(({ct})~{a})"
    if prim == "population_count":
        fn = "plax_popc64" if np.dtype(dt).itemsize == 8 else "plax_popc32"
        return f"(({ct}){fn}(({unsigned_type(dt)}){a}))"
    if prim in ("stop_gradient", "real", "conj"):
        return a
    if prim == "imag":
        return f"(({ct})0)"
    raise NotImplementedError(prim)


def _complex_unary(prim, dt, a, out_dt) -> str:
    rt = real_type(dt)
    if prim == "neg":
        return f"plax_cneg({a})"
    if prim == "conj":
        return f"plax_cconj({a})"
    if prim == "real":
        return f"{a}.re"
    if prim == "imag":
        return f"{a}.im"
    if prim == "abs":
        return f"plax_cabs({a})"
    if prim == "exp":
        return f"plax_cexp({a})"
    if prim == "log":
        return f"plax_clog({a})"
    if prim == "sign":
        return f"plax_csign({a})"
    if prim == "stop_gradient":
        return a
    if prim in ("sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "expm1", "log1p", "asin",
                "acos", "atan", "asinh", "acosh", "atanh"):
        return f"plax_c{prim}({a})"
    if prim == "rsqrt":
        return f"plax_crecip(plax_csqrt({a}))"
    if prim == "logistic":
        one = f"plax_cmake(({rt})1, ({rt})0)"
        return f"plax_crecip(plax_cadd({one}, plax_cexp(plax_cneg({a}))))"
    raise NotImplementedError(f"{prim} on {rt} complex")


def binary(prim: str, dt, a: str, b: str, out_dt) -> str:
    """The expression of a two-operand primitive on operands of dtype `dt`."""
    ct = compute_type(dt)
    if is_complex(dt):
        fn = {"add": "plax_cadd", "sub": "plax_csub", "mul": "plax_cmul", "div": "plax_cdiv",
              "eq": "plax_ceq", "pow": "plax_cpow"}.get(prim)
        if fn:
            return f"{fn}({a}, {b})"
        if prim == "ne":
            return f"(!plax_ceq({a}, {b}))"
        raise NotImplementedError(prim)
    if prim in _CMP:
        return f"({a} {_CMP[prim]} {b})"
    if prim in _BINARY_SYM:
        op = _BINARY_SYM[prim]
        if name(dt) == "bool":
            return f"(({ct})({a} {op} {b}))"
        if is_int(dt):
            u = "unsigned long long" if np.dtype(dt).itemsize == 8 else "unsigned int"
            return f"(({ct})(({u}){a} {op} ({u}){b}))"
        return f"({a} {op} {b})"
    if prim == "div":
        if is_int(dt):
            if is_signed(dt):
                return f"plax_sdiv<{ct}>({a}, {b}, {int_limits(dt)[0]})"
            return f"plax_udiv<{ct}>({a}, {b})"
        return f"({a} / {b})"
    if prim == "rem":
        if is_int(dt):
            return f"plax_srem<{ct}>({a}, {b})" if is_signed(dt) else f"plax_urem<{ct}>({a}, {b})"
        return f"{_libm('fmod', dt)}({a}, {b})"
    if prim == "pow":
        return f"{_libm('pow', dt)}({a}, {b})"
    if prim == "atan2":
        return f"{_libm('atan2', dt)}({a}, {b})"
    if prim == "nextafter":
        return f"{_libm('nextafter', dt)}({a}, {b})"
    if prim in ("max", "min"):
        return f"plax_{prim}<{ct}>({a}, {b})"
    if prim in ("and", "or", "xor"):
        op = {"and": "&", "or": "|", "xor": "^"}[prim]
        return f"(({ct})({a} {op} {b}))"
    u, s = unsigned_type(dt), signed_type(dt)
    if prim == "shift_left":
        return f"plax_shl<{ct}, {u}>({a}, {b})"
    if prim == "shift_right_logical":
        return f"plax_shrl<{ct}, {u}>({a}, {b})"
    if prim == "shift_right_arithmetic":
        return f"plax_shra<{ct}, {s}, {u}>({a}, {b})"
    if prim == "complex":
        return f"plax_cmake<{real_type(dt)}>({a}, {b})"
    raise NotImplementedError(prim)


def convert(a: str, src, dst) -> str:
    """convert_element_type as the reference backend: complex -> real keeps the real part,
    float -> int truncates and saturates (NaN -> 0), 16-bit results are rounded once."""
    if name(src) == name(dst):
        return a
    if is_complex(src) and not is_complex(dst):
        if name(dst) == "bool":
            return f"({a}.re != 0)"
        src = np.dtype("float64" if name(src) == "complex128" else "float32")
        a = f"{a}.re"
    if is_complex(dst):
        rt = real_type(dst)
        if is_complex(src):
            return f"plax_cmake(({rt}){a}.re, ({rt}){a}.im)"
        return f"plax_cmake(({rt}){a}, ({rt})0)"
    if name(dst) == "bool":
        return f"({a} != 0)"
    if is_int(dst) and is_float(src):
        info = np.iinfo(dst)
        lo, hi = _float_lit(float(info.min), "double"), _float_lit(float(info.max), "double")
        mn, mx = int_limits(dst)
        return f"plax_f2i<{store_type(dst)}>((double){a}, {lo}, {hi}, {mn}, {mx})"
    if is_half(dst):
        if name(src) == "float64":
            fn = "plax_d2h" if name(dst) == "float16" else "plax_d2b"
            return load(dst, f"{fn}({a})")
        if is_int(src) and np.dtype(src).itemsize == 8:
            return load(dst, f"{'plax_d2h' if name(dst) == 'float16' else 'plax_d2b'}"
                             f"((double){a})")
        return rnd(dst, f"(float){a}")
    return f"(({compute_type(dst)}){a})"


def bitcast(a: str, src, dst) -> str:
    """Reinterpret the bits of `a` (same size, neither 16-bit float nor complex) as `dst`."""
    return f"plax_bitcast<{store_type(dst)}, {store_type(src)}>({a})"


# ---------------------------------------------------------------------------------------------
# reductions: identity and combine

def reduce_identity(prim: str, dt) -> str:
    n = name(dt)
    if prim in ARG_OPS:  # index 0 holds the identity only when every value equals it
        ident = reduce_identity("reduce_max" if prim == "argmax" else "reduce_min", dt)
        return f"plax_argmk<{compute_type(dt)}>({ident}, 0)"
    if prim == "reduce_sum":
        return literal(0, dt)
    if prim == "reduce_prod":
        return literal(1, dt)
    if prim in ("reduce_max", "reduce_min"):
        big = prim == "reduce_min"
        if n == "bool":
            return "true" if big else "false"
        if is_int(dt):
            info = np.iinfo(dt)
            return literal(info.max if big else info.min, dt)
        return _float_lit(math.inf if big else -math.inf, compute_type(dt))
    if prim == "reduce_and":
        return "true" if n == "bool" else literal(-1 if is_signed(dt) else np.iinfo(dt).max, dt)
    return "false" if n == "bool" else literal(0, dt)


def reduce_combine(prim: str, dt, a: str, b: str) -> str:
    """The combine step (16-bit sums and products accumulate in float32, rounded at the end)."""
    n = name(dt)
    if prim in ARG_OPS:
        return f"plax_{prim}_c({a}, {b})"
    if prim == "reduce_sum":
        return binary("add", dt, a, b, dt)
    if prim == "reduce_prod":
        return binary("mul", dt, a, b, dt)
    if prim in ("reduce_max", "reduce_min"):
        if n == "bool":
            return f"({a} {'||' if prim == 'reduce_max' else '&&'} {b})"
        return binary(prim[7:], dt, a, b, dt)
    if n == "bool":
        return {"reduce_and": f"({a} && {b})", "reduce_or": f"({a} || {b})",
                "reduce_xor": f"({a} != {b})"}[prim]
    return binary(prim[7:], dt, a, b, dt)


def supports_reduction(prim: str, dt) -> bool:
    return not is_complex(dt) or prim in ("reduce_sum", "reduce_prod")


ARG_OPS = ("argmax", "argmin")


def acc_type(prim: str, dt) -> str:
    """The accumulator's C++ type: the compute type, or a (value, index) pair."""
    ct = compute_type(dt)
    return f"plax_arg<{ct}>" if prim in ARG_OPS else ct
