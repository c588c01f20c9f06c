"""jvp, transpose and batching rules of the elementwise primitives."""

from __future__ import annotations

import math

import numpy as np

from plax import lax
from plax.extend import dtypes
from plax import lax as ew
from plax.extend import get_aval
from plax_transforms.ad import Zero, instantiate, is_undefined
from plax_transforms.batching import moveaxis

JVP: dict = {}
TRANSPOSE: dict = {}
BATCH: dict = {}


# ---------------------------------------------------------------------------------------------
# helpers


def _shape(x):
    return get_aval(x).shape


def bcast_to(x, shape):
    """Broadcast `x` (rank 0, or equal rank with 1s) to `shape`."""
    s = _shape(x)
    if s == tuple(shape):
        return x
    if not s:
        return lax.broadcast_in_dim(x, tuple(shape), ())
    if any(d == 1 and t != 1 for d, t in zip(s, shape)):
        x = lax.reshape(x, tuple(d for d in s if d != 1)) if any(d != 1 for d in s) \
            else lax.reshape(x, ())
        dims = tuple(i for i, d in enumerate(s) if d != 1)
        return lax.broadcast_in_dim(x, tuple(shape), dims)
    return x


def unbroadcast(ct, aval):
    """Sum `ct` down to `aval`'s shape (undo lax's implicit broadcasting)."""
    s = _shape(ct)
    if s == aval.shape:
        return ct
    if not aval.shape:
        return lax.reduce_sum(ct, tuple(range(len(s))))
    axes = tuple(i for i, (a, b) in enumerate(zip(aval.shape, s)) if a == 1 and b != 1)
    summed = lax.reduce_sum(ct, axes)
    return lax.reshape(summed, aval.shape)


def _const(x, v):
    """A scalar of x's dtype (so it never changes the result dtype)."""
    return np.array(v, dtype=get_aval(x).dtype)


def defjvp(prim, *fns):
    """fns[i](g, *primals) is the output tangent contributed by operand i's tangent g."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        out_shape = get_aval(out).shape
        acc = None
        for fn, t in zip(fns, tangents):
            if type(t) is Zero or fn is None:
                continue
            term = bcast_to(fn(t, *primals, **params), out_shape)
            acc = term if acc is None else lax.add(acc, term)
        return out, (Zero(get_aval(out)) if acc is None else acc)
    JVP[prim] = rule


def defjvp_ans(prim, fn):
    """Unary op whose derivative uses its own output: fn(g, ans, x)."""
    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, **params)
        return ans, fn(t, ans, x, **params)
    JVP[prim] = rule


def defzero(prim):
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        return out, Zero(get_aval(out))
    JVP[prim] = rule


def deflinear(prim, transpose):
    """A primitive linear in all its operands: its jvp is itself applied to the tangents."""
    def rule(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if len(primals) == 1:
            return out, prim.bind(tangents[0], **params)
        ts = [instantiate(t) for t in tangents]
        return out, prim.bind(*ts, **params)
    JVP[prim] = rule
    TRANSPOSE[prim] = transpose


# ---------------------------------------------------------------------------------------------
# unary math

JVP[ew.neg_p] = lambda p, t: (lax.neg(p[0]), lax.neg(t[0]))
TRANSPOSE[ew.neg_p] = lambda ct, x: [lax.neg(ct) if type(ct) is not Zero else ct]
for _p in (ew.sign_p, ew.floor_p, ew.ceil_p, ew.round_p, ew.is_finite_p, ew.not_p,
           ew.population_count_p, ew.nextafter_p, ew.and_p, ew.or_p, ew.xor_p,
           ew.shift_left_p, ew.shift_right_logical_p, ew.shift_right_arithmetic_p, ew.eq_p,
           ew.ne_p, ew.lt_p, ew.le_p, ew.gt_p, ew.ge_p, ew.stop_gradient_p,
           ew.bitcast_convert_type_p):
    defzero(_p)

defjvp_ans(ew.exp_p, lambda g, ans, x: lax.mul(g, ans))
defjvp_ans(ew.exp2_p, lambda g, ans, x: lax.mul(g, lax.mul(ans, _const(x, math.log(2)))))
defjvp(ew.log_p, lambda g, x: lax.div(g, x))
defjvp(ew.log1p_p, lambda g, x: lax.div(g, lax.add(x, _const(x, 1))))
defjvp_ans(ew.expm1_p, lambda g, ans, x: lax.mul(g, lax.add(ans, _const(x, 1))))
defjvp_ans(ew.tanh_p, lambda g, ans, x: lax.mul(g, lax.sub(_const(x, 1), lax.mul(ans, ans))))
defjvp_ans(ew.logistic_p,
           lambda g, ans, x: lax.mul(g, lax.mul(ans, lax.sub(_const(x, 1), ans))))
defjvp(ew.sin_p, lambda g, x: lax.mul(g, lax.cos(x)))
defjvp(ew.cos_p, lambda g, x: lax.neg(lax.mul(g, lax.sin(x))))
defjvp_ans(ew.tan_p, lambda g, ans, x: lax.mul(g, lax.add(_const(x, 1), lax.mul(ans, ans))))
defjvp(ew.asin_p, lambda g, x: lax.mul(g, lax.rsqrt(lax.sub(_const(x, 1), lax.mul(x, x)))))
defjvp(ew.acos_p,
       lambda g, x: lax.neg(lax.mul(g, lax.rsqrt(lax.sub(_const(x, 1), lax.mul(x, x))))))
defjvp(ew.atan_p, lambda g, x: lax.div(g, lax.add(_const(x, 1), lax.mul(x, x))))
defjvp(ew.sinh_p, lambda g, x: lax.mul(g, lax.cosh(x)))
defjvp(ew.cosh_p, lambda g, x: lax.mul(g, lax.sinh(x)))
defjvp(ew.asinh_p, lambda g, x: lax.mul(g, lax.rsqrt(lax.add(lax.mul(x, x), _const(x, 1)))))
defjvp(ew.acosh_p, lambda g, x: lax.mul(g, lax.rsqrt(lax.mul(lax.sub(x, _const(x, 1)),
                                                             lax.add(x, _const(x, 1))))))
defjvp(ew.atanh_p, lambda g, x: lax.div(g, lax.sub(_const(x, 1), lax.mul(x, x))))
defjvp_ans(ew.sqrt_p, lambda g, ans, x: lax.div(g, lax.mul(_const(x, 2), ans)))
defjvp_ans(ew.rsqrt_p, lambda g, ans, x: lax.mul(g, lax.mul(_const(x, -0.5), lax.div(ans, x))))
defjvp_ans(ew.cbrt_p, lambda g, ans, x: lax.mul(g, lax.mul(_const(x, 1 / 3),
                                                           lax.integer_pow(ans, -2))))


def _abs_jvp(g, x):
    if dtypes.is_complex(get_aval(x).dtype):
        # d|z| = Re(conj(z) dz) / |z|
        a = lax.abs(x)
        safe = lax.select(lax.eq(a, _const(a, 0)), lax.full_like(a, 1), a)
        return lax.div(lax.real(lax.mul(lax.conj(x), g)), safe)
    return lax.select(lax.eq(x, _const(x, 0)), lax.full_like(g, 0), lax.mul(g, lax.sign(x)))


defjvp(ew.abs_p, _abs_jvp)
defjvp(ew.erf_p, lambda g, x: lax.mul(g, lax.mul(_const(x, 2 / math.sqrt(math.pi)),
                                                 lax.exp(lax.neg(lax.mul(x, x))))))
defjvp(ew.erfc_p, lambda g, x: lax.mul(g, lax.mul(_const(x, -2 / math.sqrt(math.pi)),
                                                  lax.exp(lax.neg(lax.mul(x, x))))))
defjvp_ans(ew.erf_inv_p, lambda g, ans, x: lax.mul(g, lax.mul(_const(x, math.sqrt(math.pi) / 2),
                                                              lax.exp(lax.mul(ans, ans)))))
defjvp(ew.lgamma_p, lambda g, x: lax.mul(g, lax.digamma(x)))


def _trigamma(x):
    """psi'(x) in lax ops: the recurrence psi'(x) = psi'(x+6) + sum 1/(x+k)^2 moves x into the
    range of the asymptotic series; reflection handles x < 0.5."""
    one = _const(x, 1)
    refl = lax.lt(x, _const(x, 0.5))
    z = lax.select(refl, lax.sub(one, x), x)
    acc = lax.full_like(z, 0)
    for k in range(6):
        acc = lax.add(acc, lax.integer_pow(lax.add(z, _const(z, k)), -2))
    w = lax.add(z, _const(z, 6))
    inv, inv2 = lax.div(one, w), lax.integer_pow(w, -2)
    series = lax.mul(inv2, lax.add(_const(w, 0.5), lax.mul(inv, lax.add(
        _const(w, 1 / 6), lax.mul(inv2, lax.add(_const(w, -1 / 30), lax.mul(inv2, lax.add(
            _const(w, 1 / 42), lax.mul(inv2, _const(w, -1 / 30))))))))))
    psi1 = lax.add(acc, lax.add(inv, series))
    pi = _const(x, math.pi)
    s = lax.sin(lax.mul(pi, x))
    reflected = lax.sub(lax.div(lax.mul(pi, pi), lax.mul(s, s)), psi1)
    return lax.select(refl, reflected, psi1)


defjvp(ew.digamma_p, lambda g, x: lax.mul(g, _trigamma(x)))


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return lax.full_like(g, 0)
    if y == 1:
        d = _const(x, 1)
    else:  # x**1 is x itself: no integer_pow[y=1] equation (as JAX)
        d = lax.mul(_const(x, y), x if y == 2 else lax.integer_pow(x, y - 1))
    return lax.mul(g, d)


defjvp(ew.integer_pow_p, _integer_pow_jvp)

# complex parts
deflinear(ew.real_p, lambda ct, x: [lax.complex(ct, lax.full_like(ct, 0))])
deflinear(ew.imag_p, lambda ct, x: [lax.complex(lax.full_like(ct, 0), lax.neg(ct))])
deflinear(ew.conj_p, lambda ct, x: [lax.conj(ct)])


# ---------------------------------------------------------------------------------------------
# binary arithmetic

def _add_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(ct, y.aval) if is_undefined(y) else None]


def _sub_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(lax.neg(ct), y.aval) if is_undefined(y) else None]


def _mul_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    if is_undefined(x) and is_undefined(y):
        raise ValueError("mul is not linear in both operands at once")
    if is_undefined(x):
        return [unbroadcast(lax.mul(ct, y), x.aval), None]
    return [None, unbroadcast(lax.mul(x, ct), y.aval)]


def _div_transpose(ct, x, y):
    if type(ct) is Zero:
        return [None, None]
    if is_undefined(y):
        raise ValueError("div is linear only in its numerator")
    return [unbroadcast(lax.div(ct, y), x.aval), None]


defjvp(ew.add_p, lambda g, x, y: g, lambda g, x, y: g)
TRANSPOSE[ew.add_p] = _add_transpose
defjvp(ew.sub_p, lambda g, x, y: g, lambda g, x, y: lax.neg(g))
TRANSPOSE[ew.sub_p] = _sub_transpose
defjvp(ew.mul_p, lambda g, x, y: lax.mul(g, y), lambda g, x, y: lax.mul(x, g))
TRANSPOSE[ew.mul_p] = _mul_transpose
defjvp(ew.div_p, lambda g, x, y: lax.div(g, y),
       lambda g, x, y: lax.mul(lax.neg(g), lax.div(x, lax.mul(y, y))))
TRANSPOSE[ew.div_p] = _div_transpose
defjvp(ew.rem_p, lambda g, x, y: g,
       lambda g, x, y: lax.mul(lax.neg(g), lax.mul(lax.sign(lax.div(x, y)),
                                                   lax.floor(lax.abs(lax.div(x, y))))))


def _pow_jvp_x(g, x, y):
    # y * x**(y-1); 0 where y == 0 (so that 0**0 has derivative 0, as JAX)
    yb = y
    d = lax.mul(yb, lax.pow(x, lax.sub(yb, _const(yb, 1))))
    d = lax.select(lax.eq(yb, _const(yb, 0)), lax.full_like(d, 0), d)
    return lax.mul(g, d)


def _pow_jvp_y(g, x, y):
    ans = lax.pow(x, y)
    logx = lax.select(lax.eq(x, _const(x, 0)), lax.full_like(x, 0), lax.log(x))
    return lax.mul(g, lax.mul(bcast_to(logx, get_aval(ans).shape), ans))


defjvp(ew.pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced(which_mine, x, y, g):
    # gradient split evenly at ties, as JAX does
    mine = lax.convert_element_type(which_mine(x, y), get_aval(g).dtype)
    tie = lax.convert_element_type(lax.eq(x, y), get_aval(g).dtype)
    w = lax.add(mine, lax.mul(tie, _const(g, 0.5)))
    return lax.mul(g, w)


defjvp(ew.max_p, lambda g, x, y: _balanced(lax.gt, x, y, g),
       lambda g, x, y: _balanced(lax.gt, y, x, g))
defjvp(ew.min_p, lambda g, x, y: _balanced(lax.lt, x, y, g),
       lambda g, x, y: _balanced(lax.lt, y, x, g))
defjvp(ew.atan2_p,
       lambda g, x, y: lax.mul(g, lax.div(y, lax.add(lax.mul(x, x), lax.mul(y, y)))),
       lambda g, x, y: lax.mul(g, lax.neg(lax.div(x, lax.add(lax.mul(x, x), lax.mul(y, y))))))
defjvp(ew.complex_p, lambda g, x, y: lax.complex(g, lax.full_like(g, 0)),
       lambda g, x, y: lax.complex(lax.full_like(g, 0), g))
TRANSPOSE[ew.complex_p] = lambda ct, x, y: [
    unbroadcast(lax.real(ct), x.aval) if is_undefined(x) else None,
    unbroadcast(lax.neg(lax.imag(ct)), y.aval) if is_undefined(y) else None]


# ---------------------------------------------------------------------------------------------
# select_n, clamp, conversions

def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = ew.select_n_p.bind(which, *cases)
    if all(type(t) is Zero for t in tangents[1:]):
        return out, Zero(get_aval(out))
    ts = [instantiate(t) for t in tangents[1:]]
    return out, ew.select_n_p.bind(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if is_undefined(which):
        raise ValueError("select_n is not linear in its predicate")
    if type(ct) is Zero:
        return [None] + [None] * len(cases)
    zeros = lax.full_like(ct, 0)
    outs = [None]
    for i, c in enumerate(cases):
        if is_undefined(c):
            branches = [zeros] * len(cases)
            branches[i] = ct
            outs.append(ew.select_n_p.bind(which, *branches))
        else:
            outs.append(None)
    return outs


JVP[ew.select_n_p] = _select_n_jvp
TRANSPOSE[ew.select_n_p] = _select_n_transpose


def _clamp_jvp(primals, tangents):
    lo, x, hi = primals
    out = ew.clamp_p.bind(lo, x, hi)
    shape = get_aval(out).shape
    acc = None

    def add(term):
        nonlocal acc
        acc = term if acc is None else lax.add(acc, term)

    zero = lax.full(shape, 0, get_aval(out).dtype)
    lo_b, hi_b = bcast_to(lo, shape), bcast_to(hi, shape)
    if type(tangents[1]) is not Zero:
        inside = lax.bitwise_and(lax.gt(x, lo_b), lax.lt(x, hi_b))
        add(lax.select(inside, tangents[1], zero))
    if type(tangents[0]) is not Zero:
        add(lax.select(lax.lt(x, lo_b), bcast_to(tangents[0], shape), zero))
    if type(tangents[2]) is not Zero:
        add(lax.select(lax.gt(x, hi_b), bcast_to(tangents[2], shape), zero))
    return out, (Zero(get_aval(out)) if acc is None else acc)


JVP[ew.clamp_p] = _clamp_jvp


def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False, sharding=None):
    (x,), (t,) = primals, tangents
    out = ew.convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or not dtypes.is_inexact(new_dtype) \
            or not dtypes.is_inexact(get_aval(x).dtype):
        return out, Zero(get_aval(out))
    return out, ew.convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type=False, sharding=None):
    if type(ct) is Zero:
        return [None]
    old = x.aval.dtype
    return [ew.convert_element_type_p.bind(ct, new_dtype=old, weak_type=x.aval.weak_type)]


JVP[ew.convert_element_type_p] = _convert_jvp
TRANSPOSE[ew.convert_element_type_p] = _convert_transpose


# ---------------------------------------------------------------------------------------------
# batching: one rule for every elementwise primitive


def _elementwise_batch(prim, full_broadcast: bool):
    def rule(vals, dims, **params):
        size = next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)
        ranks = [get_aval(v).ndim - (d is not None) for v, d in zip(vals, dims)]
        rank = max(ranks)
        out_shape = None
        moved = []
        for v, d, r in zip(vals, dims, ranks):
            if d is not None:
                v = moveaxis(v, d, 0)
                if r < rank:  # a batched scalar among higher-rank operands
                    v = lax.reshape(v, (size,) + (1,) * rank)
            elif r > 0:
                v = lax.reshape(v, (1,) + get_aval(v).shape)
            elif full_broadcast is False:
                pass
            moved.append(v)
        if full_broadcast:
            shapes = [get_aval(v).shape for v in moved if get_aval(v).ndim]
            out_shape = tuple(max(s[i] for s in shapes) for i in range(rank + 1))
            out_shape = (size,) + out_shape[1:]
            # select_n takes a scalar predicate as it is; every other operand is broadcast
            moved = [v if i == 0 and prim is ew.select_n_p and not get_aval(v).ndim
                     else bcast_to(v, out_shape) for i, v in enumerate(moved)]
            if prim is ew.clamp_p:
                moved = [bcast_to(v, out_shape) for v in moved]
        return prim.bind(*moved, **params), 0
    return rule


for _name in dir(ew):
    _p = getattr(ew, _name)
    if _name.endswith("_p") and getattr(_p, "elementwise", False):
        BATCH[_p] = _elementwise_batch(_p, _p in (ew.select_n_p, ew.clamp_p))
