"""rng_uniform (XLA's stateful Rng: a new draw on every run) as a generated kernel, the way
XLA GPU expands it (RngExpander: a global state read and advanced, then bits from it).

The state lives on the host: a 64-bit Philox key drawn once from the OS's entropy, and a
counter advanced by every call by the elements it draws (at least the counter blocks Philox
uses), so no two calls share counters and no call waits for the device. A call sends its key
(uint32[4]) with the launch and runs one kernel: the planner's rng group of
`rng_bit_generator(key, shape, PHILOX)` with the bits-to-uniform transform fused as its
epilogue (floats: the top mantissa bits over [1, 2) minus one, scaled to [a, b), 16-bit floats
computed in float32; integers: a + bits mod (b - a) in the unsigned type of the width;
b <= a gives a, and a float rounded up to b gives a, as the reference backend). Its values are
its own: a stateful generator agrees with no other backend's (as XLA's differ by platform)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from plax_cupy import xp as X
from plax_cupy.eager_kernels import lru_get, one_group_runner

_MAX_KERNELS = 64
_lock = threading.Lock()
_state: list = []  # [Philox key, counter], made on first use
_runners: OrderedDict = OrderedDict()


def _next_key(n: int) -> np.ndarray:
    """The uint32[4] key of the next draw of `n` elements (key words, then the counter)."""
    with _lock:
        if not _state:
            _state.extend([int(np.random.default_rng().integers(0, 2**64, dtype=np.uint64)), 0])
        key, counter = _state
        _state[1] = (counter + max(n, 1)) % 2**64
    return np.array([key, counter], np.uint64).view(np.uint32)


def _uniform(shape: tuple, dt: np.dtype):
    """f(key, a, b): rng_bit_generator's Philox bits of `shape` as values uniform in [a, b)."""
    from plax import lax
    from plax_cupy import cops
    wide = dt.itemsize == 8
    udt = np.dtype(np.uint64 if wide else np.uint32)
    sdt = np.dtype(np.int64 if wide else np.int32)

    def f(key, a, b):
        _, bits = lax.rng_bit_generator(key, shape, udt, lax.RandomAlgorithm.RNG_PHILOX)
        av, bv = lax.broadcast(a, shape), lax.broadcast(b, shape)
        if cops.is_float(dt):
            ft = np.dtype(np.float64 if wide else np.float32)
            nmant = np.finfo(ft).nmant
            one = np.asarray(1.0, ft).view(udt)  # the bits of 1.0: the exponent of [1, 2)
            mant = lax.shift_right_logical(bits, udt.type(8 * udt.itemsize - nmant))
            u = lax.sub(lax.bitcast_convert_type(lax.bitwise_or(mant, one), ft), ft.type(1))
            lo = lax.convert_element_type(a, ft)
            hi = lax.convert_element_type(b, ft)
            out = lax.convert_element_type(lax.add(lax.mul(u, lax.sub(hi, lo)), lo), dt)
            return [lax.select(lax.ge(out, bv), av, out)]
        signed = np.dtype(dt).kind == "i"

        def unsigned(x):  # sign- or zero-extended to the width, then as unsigned
            if signed:
                return lax.bitcast_convert_type(lax.convert_element_type(x, sdt), udt)
            return lax.convert_element_type(x, udt)
        lo, hi = unsigned(a), unsigned(b)
        val = lax.add(lax.rem(bits, lax.sub(hi, lo)), lo)  # modulo 2**width
        if signed:
            val = lax.bitcast_convert_type(val, sdt)
        out = lax.convert_element_type(val, dt)
        return [lax.select(lax.gt(bv, av), out, av)]
    return f


def _runner(shape: tuple, dt: np.dtype):
    """(FusedRunner, the jaxpr's invars, its constvars' values, the output's position)."""
    return lru_get(_runners, (shape, dt), lambda: _build(shape, dt), _MAX_KERNELS)


def _build(shape: tuple, dt: np.dtype):
    import plax
    from plax.extend import ShapedArray, trace_to_jaxpr
    from plax_cupy import planner
    avals = [ShapedArray((4,), np.dtype(np.uint32)), ShapedArray((), dt), ShapedArray((), dt)]
    with plax.enable_x64(dt.itemsize == 8):
        jaxpr, consts, _ = trace_to_jaxpr(_uniform(shape, dt), avals, name="rng_uniform")
    built = one_group_runner(jaxpr, jaxpr.outvars)
    if built is None:
        raise AssertionError("plax_cupy: rng_uniform planned as "
                             f"{planner.describe(planner.plan(jaxpr))}")
    runner, (pos,) = built
    env = dict(zip(jaxpr.constvars, (X.asarray(np.asarray(c)) for c in consts)))
    return runner, list(jaxpr.invars), env, pos


def rng_uniform(a, b, *, shape):
    dt = np.dtype(a.dtype)
    shape = tuple(shape)
    runner, invars, consts, pos = _runner(shape, dt)
    env = dict(consts)
    env.update(zip(invars, (X.asarray(_next_key(math.prod(shape))), a, b)))
    return runner([env[v] for v in runner.group.in_vars])[pos]


LIBRARY = {"rng_uniform": rng_uniform}
