"""sin and cos of 16/32-bit floats on the CPU, written as arithmetic XLA vectorises.

XLA's CPU backend calls the scalar libm `sinf`/`cosf` once per element (the slowest op of a
fused elementwise loop by far); this lowering reduces the argument by pi/2 in float64 (x - k*pi/2
with pi/2 split in four, exact for |x| < 2**27 * pi/2 ~ 2e8; beyond that the error grows as
|x| * 2**-53) and evaluates Cephes' float32 minimax polynomials on [-pi/4, pi/4], within 2 ulp of
the correctly rounded result. Arrays under 65,536 elements (where compiling the longer
program costs more than it saves), other platforms and dtypes, and the `xla_cpu_fast_trig`
option off keep XLA's own `stablehlo.sine` / `stablehlo.cosine`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from plax.extend import config, dtypes
from plax import lax as ew
from plax_xla import hlo

# the platform the modules being lowered are compiled for (set by the backend at start)
platform = "cpu"


# pi/2 to 100 digits, split into three 26-bit float64 parts and a fourth: k * _P1 .. k * _P3
# are exact for |k| < 2**27, and the four together carry pi/2 to ~130 bits
_PIO2 = Fraction("1.5707963267948966192313216916397514420985846996875529104874722961539082031431"
                 "044993140174126710585339910740432566411533235469223047752911158626797040642405"
                 "587251420513509692605527798223114744774651909822144054878329667230642378241168"
                 "933915826378207261")


def _take(v: Fraction, bits: int) -> float:
    """`v` rounded down to `bits` significant bits (a float64 that holds it exactly)."""
    e = math.floor(math.log2(abs(v)))
    scale = Fraction(2) ** (bits - 1 - e)
    return float(Fraction(math.floor(v * scale)) / scale)


_P1 = _take(_PIO2, 26)
_P2 = _take(_PIO2 - Fraction(_P1), 26)
_P3 = _take(_PIO2 - Fraction(_P1) - Fraction(_P2), 26)
_P4 = float(_PIO2 - Fraction(_P1) - Fraction(_P2) - Fraction(_P3))
_SIN = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)
_COS = (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)

_FAST_DTYPES = (dtypes.float32, dtypes.float16, dtypes.bfloat16)
# below this many elements the libm calls cost less than compiling ~35 more operations (a
# program of 25 sines on 64x64 compiled 2.8x slower with them, and ran no faster)
MIN_SIZE = 1 << 16


def _fast(x) -> bool:
    return (platform == "cpu" and x.dtype in _FAST_DTYPES and math.prod(x.shape) >= MIN_SIZE
            and config.xla_cpu_fast_trig)


def _poly(b, z, coeffs):
    acc = hlo.full_like(b, coeffs[0], z)
    for c in coeffs[1:]:
        acc = hlo.add(b, hlo.mul(b, acc, z), hlo.full_like(b, c, z))
    return acc


def sin_cos(b, x, *, cosine: bool):
    """sin(x) (or cos(x)) of a float32/16 value, vectorisable: range reduction in float64."""
    dt = x.dtype
    f32, f64 = dtypes.float32, dtypes.float64
    xd = hlo.convert(b, x, f64)

    def c64(v):
        return hlo.full_like(b, v, xd)

    k = hlo.unary(b, "stablehlo.round_nearest_even", hlo.mul(b, xd, c64(2 / np.pi)))
    r = xd
    for part in (_P1, _P2, _P3, _P4):
        r = hlo.sub(b, r, hlo.mul(b, k, c64(part)))
    # |x| > 2**27 * pi/2: the reduction is no longer exact; keep the result within [-1, 1]
    r = b.op1("stablehlo.clamp", [c64(-0.8), r, c64(0.8)], r.shape, f64)
    # the quadrant q = k mod 4 (in float64: exact for any integer-valued k below 2**53)
    kq = hlo.add(b, k, c64(1.0)) if cosine else k
    q = hlo.sub(b, kq, hlo.mul(b, c64(4.0), hlo.unary(b, "stablehlo.floor",
                                                     hlo.mul(b, kq, c64(0.25)))))
    rf = hlo.convert(b, r, f32)
    z = hlo.mul(b, rf, rf)
    s = hlo.add(b, rf, hlo.mul(b, hlo.mul(b, rf, z), _poly(b, z, _SIN)))
    half = hlo.full_like(b, 0.5, z)
    one = hlo.full_like(b, 1.0, z)
    c = hlo.add(b, hlo.sub(b, one, hlo.mul(b, half, z)),
                hlo.mul(b, hlo.mul(b, z, z), _poly(b, z, _COS)))
    odd = hlo.or_(b, hlo.compare(b, q, c64(1.0), "EQ"), hlo.compare(b, q, c64(3.0), "EQ"))
    v = hlo.select(b, odd, c, s)
    v = hlo.select(b, hlo.compare(b, q, c64(2.0), "GE"), hlo.unary(b, "stablehlo.negate", v), v)
    v = hlo.convert(b, v, dt)
    if not cosine:  # sin(+-0.0) is that zero, sign included
        v = hlo.select(b, hlo.compare(b, x, hlo.full_like(b, 0.0, x), "EQ"), x, v)
    return v


def _rule(name: str, cosine: bool):
    def rule(ctx, x):
        if _fast(x):
            return sin_cos(ctx.b, x, cosine=cosine)
        return hlo.unary(ctx.b, name, x)
    rule.__name__ = name
    return rule


RULES = {
    ew.sin_p: _rule("stablehlo.sine", cosine=False),
    ew.cos_p: _rule("stablehlo.cosine", cosine=True),
}
