"""Contraction: the `dot_general` primitive, its `Precision` setting and dot algorithms
(`DotAlgorithm`, `DotAlgorithmPreset`, as jax.lax's), and the user functions `dot_general`,
`dot` and `batch_matmul`. The output is batch dims + lhs free + rhs free dims.

An algorithm given as `precision` stays in the primitive's params (so transforms carry it);
backends run the dot in its operand and accumulation types (`compute_dtypes`), as JAX's
lowering does, and on CPU accept only the presets XLA CPU runs (`check_platform`).
"""

from __future__ import annotations

import enum
import operator
from typing import Any, NamedTuple, Union

import numpy as np

from plax._src import core as _core
from plax._src import dtypes
from plax._src.config import config
from plax._src.core import PlaxTypeError, Primitive, ShapedArray, get_aval
from plax._src.registry import add_abstract_eval

__all__ = ["Precision", "DotAlgorithm", "DotAlgorithmPreset", "PrecisionLike",
           "DotDimensionNumbers", "dot_general", "dot", "batch_matmul", "dot_general_p"]


class Precision(enum.Enum):
    """Accuracy/speed trade-off of a contraction on accelerators (as jax.lax.Precision); the
    reference backend always computes at full precision."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        return _PRECISION_STRINGS.get(value)

    def __repr__(self):
        return f"Precision.{self.name}"

    def __str__(self):
        return self.name


_PRECISION_STRINGS = {
    "highest": Precision.HIGHEST, "float32": Precision.HIGHEST,
    "high": Precision.HIGH, "bfloat16_3x": Precision.HIGH, "tensorfloat32": Precision.HIGH,
    "default": Precision.DEFAULT, "bfloat16": Precision.DEFAULT, "fastest": Precision.DEFAULT,
}


class DotAlgorithm(NamedTuple):
    """A dot algorithm (as jax.lax.DotAlgorithm): the types the operands are rounded to, the
    accumulation type, the component/operation counts of multi-pass algorithms, and whether
    imprecise accumulation is allowed. Pass it as `precision` to dot_general and the dot
    functions built on it."""
    lhs_precision_type: Any
    rhs_precision_type: Any
    accumulation_type: Any
    lhs_component_count: int = 1
    rhs_component_count: int = 1
    num_primitive_operations: int = 1
    allow_imprecise_accumulation: bool = False

    def compute_dtypes(self, lhs_dtype, rhs_dtype, out_dtype) -> tuple:
        """(lhs, rhs, accumulation) dtypes the dot runs in."""
        return (np.dtype(self.lhs_precision_type), np.dtype(self.rhs_precision_type),
                np.dtype(self.accumulation_type))

    def check_platform(self, platform: str) -> None:
        """XLA CPU ignores a dot algorithm, so (as JAX) none but a few presets runs there."""
        _check_platform(self, platform)


_F8 = ("float8_e4m3b11fnuz", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
       "float8_e5m2fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu")


class DotAlgorithmPreset(enum.Enum):
    """The named dot algorithms (as jax.lax.DotAlgorithmPreset): LHS_RHS_ACCUM types, `_X3`
    (`_X6`, `_X9`) for algorithms emulating more precision in several passes. Pass a member
    or its name as `precision`."""
    DEFAULT = enum.auto()
    ANY_F8_ANY_F8_F32 = enum.auto()
    ANY_F8_ANY_F8_F32_FAST_ACCUM = enum.auto()
    ANY_F8_ANY_F8_ANY = enum.auto()
    ANY_F8_ANY_F8_ANY_FAST_ACCUM = enum.auto()
    F16_F16_F16 = enum.auto()
    F16_F16_F32 = enum.auto()
    BF16_BF16_BF16 = enum.auto()
    BF16_BF16_F32 = enum.auto()
    BF16_BF16_F32_X3 = enum.auto()
    BF16_BF16_F32_X6 = enum.auto()
    BF16_BF16_F32_X9 = enum.auto()
    TF32_TF32_F32 = enum.auto()
    TF32_TF32_F32_X3 = enum.auto()
    F32_F32_F32 = enum.auto()
    F64_F64_F64 = enum.auto()

    def __repr__(self):
        return f"{self.__class__.__name__}.{self.name}"

    def __str__(self):
        return self.name

    @property
    def supported_lhs_types(self) -> tuple | None:
        P = DotAlgorithmPreset
        if self in (P.DEFAULT, P.ANY_F8_ANY_F8_F32, P.ANY_F8_ANY_F8_F32_FAST_ACCUM,
                    P.ANY_F8_ANY_F8_ANY, P.ANY_F8_ANY_F8_ANY_FAST_ACCUM):
            return None
        if self in (P.F16_F16_F16, P.F16_F16_F32):
            return (dtypes.float16,)
        if self in (P.BF16_BF16_BF16, P.BF16_BF16_F32):
            return (dtypes.bfloat16, dtypes.float32)
        if self is P.F64_F64_F64:
            return (dtypes.float64,)
        return (dtypes.float32,)

    @property
    def supported_rhs_types(self) -> tuple | None:
        return self.supported_lhs_types

    @property
    def accumulation_type(self):
        P = DotAlgorithmPreset
        if self in (P.DEFAULT, P.ANY_F8_ANY_F8_ANY, P.ANY_F8_ANY_F8_ANY_FAST_ACCUM):
            return None
        return {P.F16_F16_F16: dtypes.float16, P.BF16_BF16_BF16: dtypes.bfloat16,
                P.F64_F64_F64: dtypes.float64}.get(self, dtypes.float32)

    def supported_output_types(self, lhs_dtype, rhs_dtype) -> tuple | None:
        P = DotAlgorithmPreset
        if self in (P.ANY_F8_ANY_F8_F32, P.ANY_F8_ANY_F8_F32_FAST_ACCUM):
            import ml_dtypes
            return (dtypes.float32, dtypes.float16, dtypes.bfloat16,
                    *(np.dtype(getattr(ml_dtypes, n)) for n in _F8[:5]))
        if self is P.F16_F16_F32:
            same = np.dtype(lhs_dtype) == np.dtype(rhs_dtype) == dtypes.float16
            return (dtypes.float32, dtypes.float16) if same else (dtypes.float32,)
        if self is P.BF16_BF16_F32:
            same = np.dtype(lhs_dtype) == np.dtype(rhs_dtype) == dtypes.bfloat16
            return (dtypes.float32, dtypes.bfloat16) if same else (dtypes.float32,)
        acc = self.accumulation_type
        return None if acc is None else (acc,)

    def compute_dtypes(self, lhs_dtype, rhs_dtype, out_dtype) -> tuple:
        """(lhs, rhs, accumulation) dtypes the dot runs in: each operand kept if the preset
        supports its type, else converted to the first supported one (as JAX)."""
        def pick(dt, supported):
            dt = np.dtype(dt)
            return dt if supported is None or dt in supported else np.dtype(supported[0])
        lt = pick(lhs_dtype, self.supported_lhs_types)
        rt = pick(rhs_dtype, self.supported_rhs_types)
        return lt, rt, pick(out_dtype, self.supported_output_types(lt, rt))

    def check_platform(self, platform: str) -> None:
        """XLA CPU ignores a dot algorithm, so (as JAX) only the presets whose types it runs
        are accepted there: ValueError for the others."""
        _check_platform(self, platform)


PrecisionLike = Union[None, str, Precision, "tuple[str, str]", "tuple[Precision, Precision]",
                      DotAlgorithm, DotAlgorithmPreset]

# the presets XLA CPU runs (it ignores an algorithm, so JAX refuses the others on CPU)
_CPU_PRESETS = frozenset({
    DotAlgorithmPreset.DEFAULT, DotAlgorithmPreset.F16_F16_F16, DotAlgorithmPreset.F32_F32_F32,
    DotAlgorithmPreset.F64_F64_F64, DotAlgorithmPreset.BF16_BF16_F32,
    DotAlgorithmPreset.BF16_BF16_F32_X3, DotAlgorithmPreset.BF16_BF16_F32_X6})


def is_algorithm(precision: Any) -> bool:
    return isinstance(precision, (DotAlgorithm, DotAlgorithmPreset))


def _check_platform(precision, platform: str) -> None:
    if platform == "cpu" and precision not in _CPU_PRESETS:
        raise ValueError(f"The precision '{precision}' is not supported by dot_general on CPU")


def canonicalize_precision(precision: Any):
    """None, a pair of Precision values (one per operand), or a dot algorithm; None takes the
    default_matmul_precision option (`with plax.default_matmul_precision("float32"):`)."""
    if precision is None:
        precision = config.default_matmul_precision
        if precision is None:
            return None
    if isinstance(precision, Precision):
        return (precision, precision)
    if isinstance(precision, (DotAlgorithm, DotAlgorithmPreset)):
        return precision
    if isinstance(precision, str) and precision in _PRECISION_STRINGS:
        p = _PRECISION_STRINGS[precision]
        return (p, p)
    if isinstance(precision, str) and precision in DotAlgorithmPreset.__members__:
        return DotAlgorithmPreset[precision]
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        pair = tuple(p if isinstance(p, Precision) else _PRECISION_STRINGS.get(p)
                     for p in precision)
        if None not in pair:
            return pair
    raise ValueError(f"dot_general: precision must be None, a lax.Precision, one of "
                     f"{sorted(_PRECISION_STRINGS)}, a pair of these, a lax.DotAlgorithmPreset "
                     f"(or its name) or a lax.DotAlgorithm, got {precision!r}")


def canonicalize_precision_pair(precision: Any):
    """For operations without an algorithm attribute (convolutions): a preset or algorithm
    becomes the default precision (as JAX lowers a convolution)."""
    p = canonicalize_precision(precision)
    return None if is_algorithm(p) else p


class DotDimensionNumbers(tuple):
    """((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch)) as tuples of ints: hashable,
    equal to the plain nested tuple, and printed with lists as JAX prints it."""
    __slots__ = ()

    def __str__(self):
        (lc, rc), (lb, rb) = self
        return f"(({list(lc)}, {list(rc)}), ({list(lb)}, {list(rb)}))"


def _ensure_dims(x: Any, what: str) -> tuple[int, ...]:
    try:
        if isinstance(x, (int, np.integer)):
            return (operator.index(x),)
        return tuple(operator.index(d) for d in x)
    except TypeError:
        raise TypeError(f"dot_general: {what} must be an integer or a sequence of integers, got "
                        f"{x!r}") from None


def _normalize_dimension_numbers(dimension_numbers: Any) -> DotDimensionNumbers:
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("dot_general: dimension_numbers must be ((lhs_contracting, "
                        "rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    return DotDimensionNumbers(((_ensure_dims(lc, "lhs_contracting"),
                                 _ensure_dims(rc, "rhs_contracting")),
                                (_ensure_dims(lb, "lhs_batch"), _ensure_dims(rb, "rhs_batch"))))


# ---------------------------------------------------------------------------------------------
# dot_general

dot_general_p = Primitive("dot_general", linear_in=(0, 1))


def _check_side(side: str, aval: ShapedArray, contract, batch) -> None:
    for name, dims in (("contracting", contract), ("batch", batch)):
        bad = [d for d in dims if not 0 <= d < aval.ndim]
        if bad:
            raise PlaxTypeError(f"dot_general: {side} {name} dimensions {dims} are out of range "
                                f"for {side} of shape {aval.shape} (valid: [0, {aval.ndim}))")
        if len(set(dims)) != len(dims):
            raise PlaxTypeError(f"dot_general: {side} {name} dimensions must be distinct, got "
                                f"{dims}")
    common = sorted(set(contract) & set(batch))
    if common:
        raise PlaxTypeError(f"dot_general: {side} batch dimensions {batch} and contracting "
                            f"dimensions {contract} must be disjoint; both contain {common}")


def _dtype_rank(dt) -> tuple:
    """XLA's 'higher precision type' order for mixed-dtype dots (as JAX): complex above real,
    then exponent range, mantissa, bit width, signed above unsigned."""
    real = {dtypes.complex64: dtypes.float32, dtypes.complex128: dtypes.float64}.get(dt, dt)
    fl = dtypes.is_float(real)
    bits = 1 if real == dtypes.bool_ else real.itemsize * 8
    return (dtypes.is_complex(dt), dtypes.finfo(real).maxexp if fl else -1,
            dtypes.finfo(real).nmant if fl else -1, bits, not dtypes.is_unsigned(real))


def _dot_general_abstract(lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise PlaxTypeError(f"dot_general: malformed dimension_numbers {dimension_numbers!r}; "
                            "expected ((lhs_contracting, rhs_contracting), (lhs_batch, "
                            "rhs_batch))") from None
    _check_side("lhs", lhs, lc, lb)
    _check_side("rhs", rhs, rc, rb)
    if len(lb) != len(rb):
        raise PlaxTypeError(f"dot_general: lhs batch dimensions {lb} and rhs batch dimensions "
                            f"{rb} must be equally many")
    if len(lc) != len(rc):
        raise PlaxTypeError(f"dot_general: lhs contracting dimensions {lc} and rhs contracting "
                            f"dimensions {rc} must be equally many")
    lbs, rbs = tuple(lhs.shape[d] for d in lb), tuple(rhs.shape[d] for d in rb)
    if lbs != rbs:
        raise PlaxTypeError(f"dot_general: batch dimensions must have equal sizes, got lhs "
                            f"{lbs} (dims {lb} of {lhs.shape}) and rhs {rbs} (dims {rb} of "
                            f"{rhs.shape})")
    lcs, rcs = tuple(lhs.shape[d] for d in lc), tuple(rhs.shape[d] for d in rc)
    if lcs != rcs:
        raise PlaxTypeError(f"dot_general: contracting dimensions must have equal sizes, got "
                            f"lhs {lcs} (dims {lc} of {lhs.shape}) and rhs {rcs} (dims {rc} of "
                            f"{rhs.shape})")
    # mixed dtypes are allowed (as in JAX/XLA): the result is the "higher" of the two
    dt = lhs.dtype if _dtype_rank(lhs.dtype) >= _dtype_rank(rhs.dtype) else rhs.dtype
    if preferred_element_type is not None and preferred_element_type != dt:
        pet = preferred_element_type
        if (not dtypes.is_float(dt) and dt != dtypes.bool_ and pet.itemsize < dt.itemsize):
            raise PlaxTypeError(f"dot_general: preferred_element_type {pet.name} must not be "
                                f"narrower than the result type {dt.name}")
        dt = pet
    lfree = [d for d in range(lhs.ndim) if d not in set(lc) | set(lb)]
    rfree = [d for d in range(rhs.ndim) if d not in set(rc) | set(rb)]
    shape = lbs + tuple(lhs.shape[d] for d in lfree) + tuple(rhs.shape[d] for d in rfree)
    return ShapedArray(shape, dt, lhs.weak_type and rhs.weak_type)


add_abstract_eval(dot_general_p, _dot_general_abstract)
# JAX's printer hides dot_general's None-valued params
_core._pp_param_rules[dot_general_p] = lambda p: {k: v for k, v in p.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# User-facing functions


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """General contraction: `dimension_numbers` is ((lhs_contracting, rhs_contracting),
    (lhs_batch, rhs_batch)); the result has the batch dims, then lhs's and rhs's free dims."""
    pet = None if preferred_element_type is None else \
        dtypes.canonicalize_dtype(preferred_element_type)
    return dot_general_p.bind(lhs, rhs,
                              dimension_numbers=_normalize_dimension_numbers(dimension_numbers),
                              precision=canonicalize_precision(precision),
                              preferred_element_type=pet)


def dot(lhs, rhs, *, dimension_numbers=None, precision=None, preferred_element_type=None):
    """Vector/matrix products of 1-d and 2-d arrays (contracting lhs's last dimension with rhs's
    first); other shapes need explicit `dimension_numbers`, as in jax.lax.dot."""
    if dimension_numbers is None:
        ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
        if not (1 <= len(ls) <= 2 and 1 <= len(rs) <= 2 and ls[-1] == rs[0]):
            raise PlaxTypeError(
                f"dot: without dimension_numbers only 1-d/2-d products with lhs.shape[-1] == "
                f"rhs.shape[0] are supported, got lhs shape {ls} and rhs shape {rs}")
        dimension_numbers = (((len(ls) - 1,), (0,)), ((), ()))
    return dot_general(lhs, rhs, dimension_numbers, precision=precision,
                       preferred_element_type=preferred_element_type)


def batch_matmul(lhs, rhs, precision=None):
    """Matrix products over the last two dimensions, batched over all leading ones."""
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    if min(ln, rn) < 2:
        raise ValueError(f"batch_matmul: arguments must be at least 2-d, got ranks {ln} and "
                         f"{rn}")
    if ln != rn:
        raise ValueError(f"batch_matmul: arguments must have the same rank, got {ln} and {rn}")
    batch = tuple(range(ln - 2))
    return dot_general(lhs, rhs, (((ln - 1,), (rn - 2,)), (batch, batch)), precision=precision)
