"""CUDA C++ generation for a planner `FusedGroup`: one kernel per group, shapes baked in.

Every value is computed *at an index* (`emitter.Emitter`), so view-like ops become index
arithmetic and nothing between the group's inputs and outputs touches memory. This module writes
the kernel skeletons: a loop group is a grid-stride loop over its output; a reduction group
gives each output element a block (or a thread, for short or column reductions), with one loop
over the reduced extent per pass, a block-wide combine, the epilogue, then the row roots; few
outputs over a long extent split into two kernels; a scan group gives each line a thread (short
or strided lines) or a block scanning chunks, its epilogue computed where each value is stored;
a scatter group is two launches (the operand at the output index, then one thread per update
element combining it in, atomically on the GPU); a window group gives each output element a
thread looping over its window (one nested loop per windowed dimension, padding and dilation as
index conditions; the generic reduce_window's computation inlined at each position, padding
visited with its init values), its epilogue computed at the output index; a window_scatter
group is two launches (the output zeroed, then one thread per source element selecting in its
window and adding into the output, atomically on the GPU); a tridiag group gives each system
(and right-hand side) a thread running the reference backend's algorithm, its factors in a
scratch buffer; an rng group gives each counter block a thread (ThreeFry-2x32 or Philox-4x32
as XLA lays out rng_bit_generator's bits), which stores its elements with the epilogue at each
one's index, and thread 0 writes the new key. Indices are 32-bit when every extent fits. Pure
Python; the text needs `prelude.PRELUDE`."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field

import numpy as np

from plax.extend import Literal, abstract_token
from plax_cupy import cops
from plax_cupy.emitter import Emitter as _Emitter
from plax_cupy.emitter import size as _size
from plax_cupy.planner import (MAX_ROOTS, REDUCE_OPS, RNG_OPS, SCAN_OPS, SCATTER_OPS,
                               TRIDIAG_OPS, VIEW_OPS, WINDOW_OPS, WINDOW_SCATTER_OPS,
                               trivial_reduction)
from plax_cupy.prelude import PRELUDE

BLOCK = 256
MAX_GRID = 8192
BLOCK_REDUCE_MIN = 64  # reduced extent from which a block (not a thread) reduces one output
SPLIT_MIN = 1 << 16    # reduced extent from which few outputs split into chunks (two kernels)


@dataclass
class KernelSource:
    """Generated kernel text (without the prelude) and how to launch it: `launches` lists
    (entry point, grid, block) in order; `scratch` the (elements, dtype) of temporary buffers
    passed after the outputs (partial results of a split reduction)."""
    name: str
    body: str
    launches: list
    in_avals: list
    out_avals: list
    work: int  # output elements (0: nothing to launch)
    scratch: list = field(default_factory=list)
    params: list = field(default_factory=list)  # the C++ parameter declarations

    @property
    def source(self) -> str:
        return PRELUDE + self.body

    @property
    def entries(self) -> list:
        return [e for e, _, _ in self.launches]

    @property
    def grid(self) -> int:
        return self.launches[0][1]

    @property
    def block(self) -> int:
        return self.launches[0][2]


def supports(eqn) -> bool:
    """Can a kernel compute this equation? (The planner's default `supports`.)"""
    name = eqn.primitive.name
    avals = [x.aval for x in eqn.invars]
    if name == "reduce_window":  # the generic one: its computation inlined, or the library
        outs = [v.aval for v in eqn.outvars]
        return (len(outs) <= MAX_ROOTS // 2  # (each operand and result a kernel argument)
                and all(cops.name(a.dtype) in cops.DTYPES for a in avals + outs)
                and inlinable(eqn.params["jaxpr"]))
    if name in RNG_OPS:  # a uint32[4] or uint64[2] key; unsigned bits
        key, bits = avals[0], eqn.outvars[-1].aval
        return (len(eqn.outvars) == 2 and cops.name(key.dtype) in ("uint32", "uint64")
                and cops.name(bits.dtype) in ("uint8", "uint16", "uint32", "uint64"))
    if len(eqn.outvars) != 1:
        return False
    out = eqn.outvars[0].aval
    if any(a is abstract_token for a in avals + [out]):  # tokens: library steps (units)
        return False
    if any(cops.name(a.dtype) not in cops.DTYPES for a in avals + [out]):
        return False
    if name in VIEW_OPS:
        return True
    if name in REDUCE_OPS:
        return cops.supports_reduction(name, avals[0].dtype)
    if name in SCAN_OPS:
        return cops.supports_reduction(_SCAN_AS[name], avals[0].dtype) and (
            name != "cumlogsumexp" or cops.is_float(avals[0].dtype))
    if name in SCATTER_OPS:  # combines of at most 8 bytes are atomic (complex128: add, sub)
        big = np.dtype(out.dtype).itemsize > 8
        return name in ("scatter", "scatter-add", "scatter-sub") or not (
            big or cops.is_complex(out.dtype))
    if name in TRIDIAG_OPS:
        return cops.name(out.dtype) in TRIDIAG_DTYPES
    if name in WINDOW_OPS or name in WINDOW_SCATTER_OPS:
        return name == "reduce_window_sum" or not (cops.is_complex(avals[0].dtype)
                                                    or np.dtype(out.dtype).itemsize > 8)
    if not getattr(eqn.primitive, "elementwise", False):
        return False
    return cops.supports_elementwise(name, [a.dtype for a in avals], out.dtype, eqn.params)


_SCAN_AS = {"cumsum": "reduce_sum", "cumprod": "reduce_prod", "cummax": "reduce_max",
            "cummin": "reduce_min", "cumlogsumexp": "reduce_max"}
_SCATTER_AS = {"scatter-add": "add", "scatter-sub": "sub", "scatter-mul": "mul",
               "scatter-min": "min", "scatter-max": "max"}


def generate(group) -> KernelSource:
    """The kernel(s) of one FusedGroup (see the module docstring for their shape)."""
    need = 200 + 8 * len(group.eqns)  # value() recurses through inlined producers
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
    return _generate(group)


def _generate(group) -> KernelSource:
    outs = group.out_vars
    n_out = _size(group.shape)
    in_sizes = [_size(v.aval.shape) for v in group.in_vars]
    red_size = _size(group.reduce[0]) if group.reduce else 0
    big = max([n_out, red_size, *in_sizes, 1])
    idx_t = "int" if big + BLOCK * MAX_GRID < 2**31 else "long long"
    params = [f"const {cops.store_type(v.aval.dtype)}* __restrict__ in{i}"
              for i, v in enumerate(group.in_vars)]
    params += [f"{cops.store_type(v.aval.dtype)}* __restrict__ out{i}"
               for i, v in enumerate(outs)]
    scratch = []
    work = n_out
    if group.special == "rng":  # the new key is written even when there are no bits
        em = _Emitter(group, idx_t)
        parts = [("", em.lines, _rng(em, group))]
        work = max(n_out, 1)
    elif n_out == 0:
        parts = [("", [], 1)]
    elif group.special == "scan":
        em = _Emitter(group, idx_t)
        parts = [("", em.lines, _scan(em, group))]
    elif group.special == "scatter":
        e1, e2 = _Emitter(group, idx_t), _Emitter(group, idx_t)
        parts = [("_init", e1.lines, _loop(e1, group))]
        upd = e2.producer[group.roots[0]].invars[2]
        if _size(upd.aval.shape):
            parts.append(("_scatter", e2.lines, _scatter(e2, group)))
    elif group.special == "window":
        em = _Emitter(group, idx_t)
        parts = [("", em.lines, _window(em, group))]
    elif group.special == "tridiag":  # the factors in a scratch buffer, 3 per row and item
        v = group.roots[0]
        e = next(e for e in group.eqns if v in e.outvars)
        dt, (n, k) = v.aval.dtype, v.aval.shape[-2:]
        work = _size(v.aval.shape[:-2]) * (1 if e.params["perturb_singular"] else k)
        if 3 * n * work + BLOCK * MAX_GRID >= 2**31:
            idx_t = "long long"
        em = _Emitter(group, idx_t)
        params.append(f"{cops.compute_type(dt)}* __restrict__ part0")
        scratch.append((3 * n * work, cops.name(dt)))
        parts = [("", em.lines, _tridiag(em, group))]
    elif group.special == "window_scatter":
        e1, e2 = _Emitter(group, idx_t), _Emitter(group, idx_t)
        parts = [("_init", e1.lines, _loop(e1, group))]
        if _size(e2.producer[group.roots[0]].invars[0].aval.shape):  # the source
            parts.append(("_scatter", e2.lines, _window_scatter(e2, group)))
    elif group.reduce is None:
        em = _Emitter(group, idx_t)
        parts = [("", em.lines, _loop(em, group))]
    else:
        mode, chunks = _reduce_mode(group)
        if mode != "split":
            em = _Emitter(group, idx_t)
            parts = [("", em.lines, _reduction(em, group, mode))]
        else:
            for k, r in enumerate(_reduce_roots(group)):
                dt = r.aval.dtype
                params.append(f"{cops.compute_type(dt)}* __restrict__ part{k}")
                scratch.append((n_out * chunks, "float32" if cops.is_half(dt) else cops.name(dt)))
            e1, e2 = _Emitter(group, idx_t), _Emitter(group, idx_t)
            parts = [("_part", e1.lines, _reduction(e1, group, "partial", chunks)),
                     ("_final", e2.lines, _reduction(e2, group, "final", chunks))]
    text = "".join(f'extern "C" __global__ void KERNEL{suffix}({", ".join(params)}) {{\n'
                   + "\n".join(lines) + "\n}\n" for suffix, lines, _ in parts)
    if group.special == "tridiag":
        text = _TRI_HELPERS + text
    name = "plax_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    launches = [(name + suffix, grid, BLOCK) for suffix, _, grid in parts]
    return KernelSource(name, text.replace("KERNEL", name), launches,
                        [v.aval for v in group.in_vars], [v.aval for v in outs], work,
                        scratch, params)


def _stores(em, group, idx, flat, which=None):
    for k, v in enumerate(group.out_vars):
        if which is None or v in which:
            val = em.value(v, idx)
            em.emit(f"out{k}[{flat}] = {cops.store(v.aval.dtype, val)};")


def _warm(em, group, idx):
    """Emit, in jaxpr order, the elementwise values read at the output index, so that a long
    chain recurses one level at a time (the C++ compiler drops any that end up unused)."""
    shape = tuple(group.shape)
    for e in group.eqns:
        if e.primitive.elementwise and tuple(e.outvars[0].aval.shape) == shape:
            em.value(e.outvars[0], idx)


def _loop(em, group) -> int:
    n, it = _size(group.shape), em.idx_t
    em.open(f"for ({it} i = ({it})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; "
            f"i += ({it})blockDim.x * gridDim.x)")
    if group.special == "window_scatter":  # the first launch: zeros
        dt = group.roots[0].aval.dtype
        em.emit(f"out0[i] = {cops.store(dt, cops.literal(0, dt))};")
        em.close()
        return max(1, min(MAX_GRID, -(-n // BLOCK)))
    idx = em.delinearize("i", group.shape)
    if group.special == "scatter":  # the first launch: the operand at the output index
        v = group.roots[0]
        val = em.value(em.producer[v].invars[0], idx)
        em.emit(f"out0[i] = {cops.store(v.aval.dtype, val)};")
    else:
        _warm(em, group, idx)
        for r in group.roots:
            em.value(r, idx)
        _stores(em, group, idx, "i")
    em.close()
    return max(1, min(MAX_GRID, -(-n // BLOCK)))


def _scan(em, group) -> int:
    """A cumulative op: one thread per line (short or strided lines), or a block per line
    scanning chunks of `blockDim.x` elements (a block scan plus the previous chunks' carry)."""
    v = next(r for r in group.roots if em.producer[r].primitive.name in SCAN_OPS)
    e = em.producer[v]
    x, axis, reverse = e.invars[0], e.params["axis"], e.params["reverse"]
    shape, dt = tuple(v.aval.shape), x.aval.dtype
    n, it = shape[axis], em.idx_t
    lshape = shape[:axis] + shape[axis + 1:]
    lines = _size(lshape)
    prim = e.primitive.name
    ct = cops.compute_type(dt)
    ident = "((" + ct + ")(-PLAX_INF))" if prim == "cumlogsumexp" else \
        cops.reduce_identity(_SCAN_AS[prim], dt)

    def comb(a, b):
        if prim == "cumlogsumexp":
            return f"plax_logaddexp<{ct}>({a}, {b})"
        return cops.reduce_combine(_SCAN_AS[prim], dt, a, b)

    def at(j, oidx):
        return tuple(oidx[:axis]) + (j,) + tuple(oidx[axis:])

    def store(j, oidx, val):  # the scanned value, then the epilogue roots at its index
        full = at(j, oidx)
        em.bind(v, full, val)
        for r in group.roots:
            if r is not v:
                em.value(r, full)
        _stores(em, group, full, em.offset(full, shape))

    thread = n < BLOCK_REDUCE_MIN or (axis != len(shape) - 1 and lines >= 2048)
    if thread:
        em.open(f"for ({it} o = ({it})blockIdx.x * blockDim.x + threadIdx.x; o < {lines}; "
                f"o += ({it})blockDim.x * gridDim.x)")
        oidx = em.delinearize("o", lshape)
        acc = em.tmp("acc")
        em.emit(f"{ct} {acc} = {ident};")
        em.open(f"for ({it} r = 0; r < {n}; ++r)")
        j = em.let(it, f"{n - 1} - r" if reverse else "r", "j")
        em.emit(f"{acc} = {comb(acc, em.value(x, at(j, oidx)))};")
        store(j, oidx, acc)
        em.close()
        em.close()
        return max(1, min(MAX_GRID, -(-lines // BLOCK)))
    em.open(f"for ({it} o = blockIdx.x; o < {lines}; o += gridDim.x)")
    oidx = em.delinearize("o", lshape)
    carry = em.tmp("carry")
    em.emit(f"{ct} {carry} = {ident};")
    em.open(f"for ({it} base = 0; base < {n}; base += blockDim.x)")
    r = em.let(it, "base + threadIdx.x", "r")
    j = em.let(it, f"{n - 1} - {r}" if reverse else r, "j")
    val = em.tmp("x")
    em.emit(f"{ct} {val} = {ident};")
    em.open(f"if ({r} < {n})")
    em.emit(f"{val} = {em.value(x, at(j, oidx))};")
    em.close()
    em.emit(f"{val} = plax_block_scan({val}, []({ct} a, {ct} b) {{ return {comb('a', 'b')}; }});")
    em.emit(f"{val} = {comb(carry, val)};")
    em.open(f"if ({r} < {n})")
    store(j, oidx, val)
    em.close()
    em.emit(f"{carry} = plax_block_last({val});")
    em.close()
    em.close()
    return max(1, min(MAX_GRID, lines))


def _scatter(em, group) -> int:
    """The second launch of a scatter: one thread per update element; its index vector (and
    batch position) starts a window in the operand; the window is clamped (CLIP) or dropped
    when partly out of bounds; the element is combined into the output (atomically on the GPU;
    a replacing scatter stores, so among duplicates the last one wins in the host build and
    any one does on the GPU, as XLA's GPU scatter)."""
    v = group.roots[0]
    e = em.producer[v]
    _, ind, upd = e.invars
    dn, it = e.params["dimension_numbers"], em.idx_t
    clip = getattr(e.params["mode"], "name", str(e.params["mode"])) == "CLIP"
    oshape, ushape = tuple(v.aval.shape), tuple(upd.aval.shape)
    n = _size(ushape)
    em.open(f"for ({it} u = ({it})blockIdx.x * blockDim.x + threadIdx.x; u < {n}; "
            f"u += ({it})blockDim.x * gridDim.x)")
    uidx = em.delinearize("u", ushape)
    wdims = set(dn.update_window_dims)
    batch = [i for d, i in enumerate(uidx) if d not in wdims]
    wins = iter([(i, ushape[d]) for d, i in enumerate(uidx) if d in wdims])
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window = {d: ("0", 1) if d in dropped else next(wins) for d in range(len(oshape))}
    starts, conds = {}, []
    for k, d in enumerate(dn.scatter_dims_to_operand_dims):
        hi = oshape[d] - window[d][1]
        if clip:
            starts[d] = em._index_start(ind, batch, k, max(hi, 0))
        else:
            starts[d] = em._index_start(ind, batch, k, hi, clamp=False)
            conds.append(f"{starts[d]} >= 0 && {starts[d]} <= {hi}")
    for od, id_ in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
        starts[od] = batch[id_]
    target = []
    for d in range(len(oshape)):
        w, st = window[d][0], starts.get(d)
        target.append(w if st is None else st if w == "0" else f"({st} + {w})")
    if conds:
        em.open(f"if ({' && '.join('(' + c + ')' for c in conds)})")
    val = em.value(upd, uidx)
    dt = v.aval.dtype
    pos = em.let(it, f"({it})({em.offset(tuple(target), oshape)})", "p")
    _combine_into(em, f"out0[{pos}]", _SCATTER_AS.get(e.primitive.name), dt, val)
    if conds:
        em.close()
    em.close()
    return max(1, min(MAX_GRID, -(-n // BLOCK)))


def _combine_into(em, ref, op, dt, val) -> None:
    """`ref` = `ref` op `val` (stored when op is None), atomically on the GPU."""
    if op is None:
        em.emit(f"{ref} = {cops.store(dt, val)};")
    elif op in ("add", "sub") and cops.name(dt) in ("float32", "float64", "int32", "uint32"):
        em.emit(f"plax_atomic_add(&{ref}, {val if op == 'add' else '-' + val});")
    elif op in ("add", "sub") and cops.name(dt) == "complex128":
        sign = "" if op == "add" else "-"
        em.emit(f"plax_atomic_add(&{ref}.re, {sign}{val}.re);")
        em.emit(f"plax_atomic_add(&{ref}.im, {sign}{val}.im);")
    else:
        st = cops.store_type(dt)
        comb = cops.rnd(dt, cops.binary(op, dt, cops.load(dt, "c"), val, dt))
        em.emit(f"plax_atomic_update(&{ref}, [&]({st} c) {{ return ({st}){cops.store(dt, comb)}; "
                "});")


_WINDOW_AS = {"reduce_window_sum": "reduce_sum", "reduce_window_max": "reduce_max",
              "reduce_window_min": "reduce_min"}


def _window_dims(em, e, oidx, xshape, select):
    """Open the loops over the window of output index `oidx` (of the window op `e` over an
    operand of shape `xshape`): per dimension a loop over the window's extent (none for an
    extent of 1), the position in the padded and dilated operand, and the condition that it
    holds an operand element. A monoid (`select` false) skips the other positions inside each
    dimension's loop (its padding is the identity); a select visits them all. Returns (the
    operand index, the condition of the position: None when always true, the loops opened)."""
    p, it = e.params, em.idx_t
    nd = len(xshape)
    ones = (1,) * nd
    wins, strides, pads = p["window_dimensions"], p["window_strides"], p["padding"]
    bdil, wdil = p.get("base_dilation") or ones, p.get("window_dilation") or ones
    out = tuple(e.outvars[0].aval.shape) if e.primitive.name in WINDOW_OPS else \
        tuple(e.invars[0].aval.shape)
    src, conds, opened = [], [], 0
    for d in range(nd):
        w, s, (lo, _), bd, wd = wins[d], strides[d], pads[d], bdil[d], wdil[d]
        if w > 1:
            k = em.tmp("k")
            em.open(f"for ({it} {k} = 0; {k} < {w}; ++{k})")
            opened += 1
        else:
            k = "0"
        terms = [f"{i} * {m}" if m != 1 else i for i, m in ((oidx[d], s), (k, wd))
                 if i != "0"]
        expr = " + ".join(terms) or "0"
        if lo:
            expr = f"{expr} - {lo}" if lo > 0 else f"{expr} + {-lo}"
        j = expr if expr.isidentifier() or expr.isdigit() else em.let(it, expr, "j")
        hi_pos = (out[d] - 1) * s + (w - 1) * wd - lo  # the largest position read
        extent = (xshape[d] - 1) * bd + 1 if xshape[d] else 0  # the dilated operand
        c = []
        if lo > 0:
            c.append(f"{j} >= 0")
        if hi_pos >= extent:
            c.append(f"{j} < {extent}")
        if bd > 1:
            c.append(f"{j} % {bd} == 0")
            src.append(f"({j} / {bd})")
        else:
            src.append(j)
        if c and not select:
            em.open(f"if ({' && '.join(c)})")
            opened += 1
        else:
            conds += c
    return tuple(src), (" && ".join(f"({c})" for c in conds) or None), opened


_SCALAR_VIEWS = frozenset({"broadcast_in_dim", "reshape", "squeeze", "copy", "copy_p"})


def inlinable(closed) -> bool:
    """Can the generic reduce_window's computation (a ClosedJaxpr over scalars) be inlined
    into its kernel? Its equations must be elementwise ops the kernels compute (or views of a
    scalar as a scalar) and its consts scalars."""
    jaxpr = getattr(closed, "jaxpr", closed)
    if any(np.ndim(c) != 0 or cops.name(np.asarray(c).dtype) not in cops.DTYPES
           for c in getattr(closed, "consts", ())):
        return False
    for e in jaxpr.eqns:
        if len(e.outvars) != 1 or getattr(e.primitive, "effectful", False):
            return False
        out = e.outvars[0].aval
        ins = [x.aval for x in e.invars]
        if any(a.shape != () for a in ins + [out]) or any(
                cops.name(a.dtype) not in cops.DTYPES for a in ins + [out]):
            return False
        name = e.primitive.name
        if name in _SCALAR_VIEWS and len(ins) == 1 and ins[0].dtype == out.dtype:
            continue
        if not (getattr(e.primitive, "elementwise", False) and cops.supports_elementwise(
                name, [a.dtype for a in ins], out.dtype, e.params)):
            return False
    return True


def inline_computation(em, closed, args) -> list:
    """The C++ names of the results of the computation `closed` (see `inlinable`) applied to
    the scalar C++ values `args`, its equations emitted in order as a kernel's elementwise
    ops are (each rounded to its dtype)."""
    jaxpr = getattr(closed, "jaxpr", closed)
    env = {}
    for v, c in zip(jaxpr.constvars, getattr(closed, "consts", ())):
        env[v] = cops.literal(np.asarray(c).item(), v.aval.dtype)
    env.update(zip(jaxpr.invars, args))

    def read(x):
        return cops.literal(x.val, x.aval.dtype) if isinstance(x, Literal) else env[x]
    for e in jaxpr.eqns:
        vals = [read(x) for x in e.invars]
        out = e.outvars[0].aval
        if e.primitive.name in _SCALAR_VIEWS:
            env[e.outvars[0]] = vals[0]
        else:
            env[e.outvars[0]] = em.elementwise(e, vals, out)
    return [read(x) for x in jaxpr.outvars]


def _select_keeps(select_prim, v, best) -> str:
    """select(best, v): the selection stays unless this holds (XLA's select computation: a
    NaN on either side fails it, so a NaN is taken and given up to the next element)."""
    op = ">=" if select_prim == "ge" else "<="
    return f"({best} {op} {v})"


def _select_in_window(em, e, oidx, xshape, on_pick, from_init: bool):
    """The select of select_and_gather/scatter_add over the window of `oidx`, as JAX's on
    CPUs and GPUs: the elements in window order each replace the selection unless
    select(selection, element) holds. select_and_gather_add (`from_init`, XLA's reduce_window
    from its init): the selection starts as the lowest ('ge', highest for 'le') value with a
    zero tangent and padding and dilation holes are skipped; select_and_scatter_add (the
    operand padded with that value, then XLA's select_and_scatter): the first position,
    padding included, starts it, and padding can be selected. `on_pick(src, cond)` runs where
    a position is taken (`cond`: it is an operand element, None when always)."""
    x = e.invars[1]
    dt, ct = x.aval.dtype, cops.compute_type(x.aval.dtype)
    sel = e.params["select_prim"]
    fill = cops.reduce_identity("reduce_max" if sel == "ge" else "reduce_min", dt)
    best = em.tmp("best")
    em.emit(f"{ct} {best} = {fill};")
    first = None
    if not from_init:
        first = em.tmp("first")
        em.emit(f"bool {first} = true;")
    src, cond, opened = _window_dims(em, e, oidx, xshape, True)
    v = em.tmp("x")
    if cond is not None and from_init:  # padding skipped
        em.open(f"if ({cond})")
        em.emit(f"{ct} {v} = {em.value(x, src)};")
    elif cond is not None:  # padding holds the lowest/highest value
        em.emit(f"{ct} {v} = {fill};")
        em.open(f"if ({cond})")
        em.emit(f"{v} = {em.value(x, src)};")
        em.close()
    else:
        em.emit(f"{ct} {v} = {em.value(x, src)};")
    take = f"!{_select_keeps(sel, v, best)}"
    em.open(f"if ({take})" if first is None else f"if ({first} || {take})")
    if first is not None:
        em.emit(f"{first} = false;")
    em.emit(f"{best} = {v};")
    on_pick(src, None if from_init else cond)
    em.close()
    if cond is not None and from_init:
        em.close()
    for _ in range(opened):
        em.close()


def _window(em, group) -> int:
    """A window group: one thread per output element loops over its window (reduce_window_*:
    the monoid, 16-bit floats accumulated in float32; select_and_gather_add: the tangent at
    the selected position), then the epilogue roots at the output index."""
    n, it = _size(group.shape), em.idx_t
    v = next(r for r in group.roots if em.producer[r].primitive.name in WINDOW_OPS)
    e = em.producer[v]
    prim, dt = e.primitive.name, v.aval.dtype
    em.open(f"for ({it} o = ({it})blockIdx.x * blockDim.x + threadIdx.x; o < {n}; "
            f"o += ({it})blockDim.x * gridDim.x)")
    oidx = em.delinearize("o", group.shape)
    if prim == "reduce_window":
        return _generic_window(em, group, e, oidx)
    ct = cops.compute_type(dt)
    acc = em.tmp("acc")
    if prim == "select_and_gather_add":
        t, x = e.invars
        em.emit(f"{ct} {acc} = {cops.literal(0, dt)};")

        def pick(src, cond):
            em.emit(f"{acc} = {em.value(t, src)};")
        _select_in_window(em, e, oidx, tuple(x.aval.shape), pick, from_init=True)
    else:
        red, x = _WINDOW_AS[prim], e.invars[0]
        em.emit(f"{ct} {acc} = {cops.reduce_identity(red, dt)};")
        src, cond, opened = _window_dims(em, e, oidx, tuple(x.aval.shape), False)
        em.emit(f"{acc} = {cops.reduce_combine(red, dt, acc, em.value(x, src))};")
        for _ in range(opened):
            em.close()
        if cops.is_half(dt):
            em.emit(f"{acc} = {cops.rnd(dt, acc)};")
    em.bind(v, oidx, acc)
    for r in group.roots:
        if r is not v:
            em.value(r, oidx)
    _stores(em, group, oidx, "o")
    em.close()
    return max(1, min(MAX_GRID, -(-n // BLOCK)))


def _generic_window(em, group, e, oidx) -> int:
    """The generic reduce_window: per output element, accumulators from the init values, then
    the computation inlined at every window position in XLA's (row-major) order, padding and
    dilation holes visited with the init values (the reference backend's order, so a
    non-associative computation agrees), then the epilogue roots at the output index."""
    nv = len(e.outvars)
    xs, inits = e.invars[:nv], e.invars[nv:]
    accs = []
    for x, i in zip(xs, inits):
        accs.append(em.tmp("acc"))
        em.emit(f"{cops.compute_type(x.aval.dtype)} {accs[-1]} = {em.value(i, ())};")
    src, cond, opened = _window_dims(em, e, oidx, tuple(xs[0].aval.shape), True)
    vals = []
    for x, i in zip(xs, inits):
        ct = cops.compute_type(x.aval.dtype)
        if cond is None:
            vals.append(em.value(x, src))
            continue
        vals.append(em.tmp("x"))
        em.emit(f"{ct} {vals[-1]} = {em.value(i, ())};")
        em.open(f"if ({cond})")
        em.emit(f"{vals[-1]} = {em.value(x, src)};")
        em.close()
    res = inline_computation(em, e.params["jaxpr"], accs + vals)
    tmps = [em.let(cops.compute_type(x.aval.dtype), r) for x, r in zip(xs, res)]
    for a, t in zip(accs, tmps):  # (every result first: the computation may swap them)
        em.emit(f"{a} = {t};")
    for _ in range(opened):
        em.close()
    for o, a in zip(e.outvars, accs):
        em.bind(o, oidx, a)
    outs = set(e.outvars)
    for r in group.roots:
        if r not in outs:
            em.value(r, oidx)
    _stores(em, group, oidx, "o")
    em.close()
    n = _size(group.shape)
    return max(1, min(MAX_GRID, -(-n // BLOCK)))


def _window_scatter(em, group) -> int:
    """The second launch of select_and_scatter_add: one thread per source element selects in
    its window of the operand and adds the source value at the selected position (dropped
    when padding is selected), atomically on the GPU, in order in the host build."""
    v = group.roots[0]
    e = em.producer[v]
    source, x = e.invars
    sshape, it = tuple(source.aval.shape), em.idx_t
    xshape, dt = tuple(x.aval.shape), v.aval.dtype
    n = _size(sshape)
    em.open(f"for ({it} s = ({it})blockIdx.x * blockDim.x + threadIdx.x; s < {n}; "
            f"s += ({it})blockDim.x * gridDim.x)")
    sidx = em.delinearize("s", sshape)
    pos = em.tmp("pos")
    em.emit(f"{it} {pos} = -1;")

    def pick(src, cond):  # padding selected: nothing added
        off = em.offset(src, xshape)
        em.emit(f"{pos} = {off};" if cond is None else f"{pos} = ({cond}) ? ({off}) : -1;")
    _select_in_window(em, e, sidx, xshape, pick, from_init=False)
    em.open(f"if ({pos} >= 0)")
    _combine_into(em, f"out0[{pos}]", "add", dt, em.value(source, sidx))
    em.close()
    em.close()
    return max(1, min(MAX_GRID, -(-n // BLOCK)))


def _rng_layout(shape, wide: bool, threefry: bool):
    """(counter blocks, elements per block, the dimension split in pairs or None, the shape
    of the pairs) of
    rng_bit_generator's bits of `shape` (64-bit when `wide`), as XLA lays them out (the
    reference backend's rule): ThreeFry gives a 64-bit element (or a 0-d one) per block, else
    two neighbours along the first even dimension (the longest when none is); Philox four
    32-bit (two 64-bit) consecutive elements per block. The counter advances by the blocks."""
    n = _size(shape)
    if threefry and (wide or not shape):
        return n, 1, None, None
    if threefry:
        split = next((d for d, m in enumerate(shape) if m % 2 == 0), None)
        if split is None:
            split = int(np.argmax(shape))
        half = list(shape)
        half[split] = -(-shape[split] // 2)
        return _size(half), 2, split, tuple(half)
    per = 2 if wide else 4
    return -(-n // per), per, None, None


def _rng(em, group) -> int:
    """rng_bit_generator: the state (a uint32[4] key is two little-endian uint64 words: the
    algorithm's key, then the counter) read once per thread; the new key (the counter advanced
    by the blocks drawn) written by thread 0; one thread per counter block computes ThreeFry-
    2x32 (20 rounds) of counter + block, or Philox-4x32 (10 rounds) of the 128-bit counter
    (counter + block, key word + the carry), and stores its elements (narrower dtypes keep the
    low bits), each followed by the epilogue roots at its index."""
    e = next(em.producer[r] for r in group.roots
             if em.producer[r].primitive.name in RNG_OPS)
    key, (new_key, bits) = e.invars[0], e.outvars
    shape, dt = tuple(bits.aval.shape), bits.aval.dtype
    n, it, ull = _size(shape), em.idx_t, "unsigned long long"
    wide = np.dtype(dt).itemsize == 8
    threefry = int(e.params["algorithm"]) == 1  # RNG_THREE_FRY; DEFAULT is Philox, as XLA CPU
    nb, per, split, half = _rng_layout(shape, wide, threefry)
    if cops.name(key.aval.dtype) == "uint64":
        k, c = (em.let(ull, em.value(key, (str(i),)), "st") for i in range(2))
    else:
        w = [em.value(key, (str(i),)) for i in range(4)]
        k, c = (em.let(ull, f"(({ull}){w[i]} | (({ull}){w[i + 1]} << 32))", "st")
                for i in (0, 2))
    if new_key in group.out_vars:
        o = f"out{group.out_vars.index(new_key)}"
        nc = f"({c} + {nb}ULL)"
        em.open("if (blockIdx.x == 0 && threadIdx.x == 0)")
        if cops.name(key.aval.dtype) == "uint64":
            em.emit(f"{o}[0] = {k}; {o}[1] = {nc};")
        else:
            em.emit(f"{o}[0] = (unsigned)({k}); {o}[1] = (unsigned)({k} >> 32);")
            em.emit(f"{o}[2] = (unsigned)({nc}); {o}[3] = (unsigned)({nc} >> 32);")
        em.close()
    if n == 0:
        return 1
    em.open(f"for ({it} b = ({it})blockIdx.x * blockDim.x + threadIdx.x; b < {nb}; "
            f"b += ({it})blockDim.x * gridDim.x)")
    ctr = em.let(ull, f"{c} + ({ull})b", "ctr")
    x = em.tmp("x")
    em.emit(f"unsigned {x}[4];")
    if threefry:
        em.emit(f"plax_threefry2x32({k}, {ctr}, &{x}[0], &{x}[1]);")
    else:  # the counter's high word is the key word, plus the carry of the low one
        hi = em.let(ull, f"{ctr} < {c} ? {k} + 1ULL : {k}", "hi")
        em.emit(f"plax_philox4x32({k}, {ctr}, {hi}, {x});")
    words = [f"{x}[{i}]" for i in range(4)]
    if wide:
        words = [f"(({ull}){words[2 * i]} | (({ull}){words[2 * i + 1]} << 32))" for i in (0, 1)]
    if split is not None:
        hidx = em.delinearize("b", half)
    elif per == 1:
        idx = em.delinearize("b", shape)
    side = set(group.side_roots)
    stored = [v for v in group.out_vars if v not in side]
    for j in range(per):
        cond = None
        if split is not None:
            pos = f"(2 * {hidx[split]} + {j})" if hidx[split] != "0" else str(j)
            idx = tuple(pos if d == split else i for d, i in enumerate(hidx))
            flat = em.offset(idx, shape)
            if j and shape[split] % 2:
                cond = f"{pos} < {shape[split]}"
        elif per == 1:
            flat = "b"
        else:
            flat = f"(b * {per} + {j})"
            if n % per and j >= n % per:
                cond = f"{flat} < {n}"
        em.open(f"if ({cond})" if cond else "")
        if per > 1 and split is None:
            idx = em.delinearize(em.let(it, flat, "p"), shape)
            flat = em.offset(idx, shape)
        v = em.let(cops.compute_type(dt), f"(({cops.store_type(dt)}){words[j]})", "r")
        em.bind(bits, idx, v)
        for r in group.roots:
            if r is not bits and r not in side:
                em.value(r, idx)
        _stores(em, group, idx, flat, stored)
        em.close()
    em.close()
    return max(1, min(MAX_GRID, -(-nb // BLOCK)))


def _operand_dtype(em, r):
    return em.producer[r].invars[0].aval.dtype


def _reduce_roots(group):
    return [r for r in group.roots if not _is_loop_root(group, r)]


def _is_loop_root(group, r) -> bool:
    e = next(e for e in group.eqns if e.outvars[0] is r)
    return e.primitive.name not in REDUCE_OPS or trivial_reduction(e)


def _reduce_mode(group):
    """'thread' (one thread per output: small extents, or column reductions whose neighbouring
    threads read neighbouring addresses), 'block' (a block per output), or 'split' (few outputs
    over a long extent: partial results per chunk, then a second kernel), and the chunk count."""
    shape_in, axes = group.reduce
    n, r_n = _size(group.shape), _size(tuple(shape_in[d] for d in axes))
    inner_reduced = (len(shape_in) - 1) in axes
    if r_n < BLOCK_REDUCE_MIN or (not inner_reduced and n >= 2048):
        return "thread", 1
    single = not group.row_roots and not group.pre_roots and not any(group.passes.values()) \
        and not any(
        e.primitive.name in cops.ARG_OPS for e in group.eqns)
    if single and n < 128 and r_n >= SPLIT_MIN:
        return "split", max(1, min(-(-r_n // (BLOCK * 16)), 2048 // max(n, 1)))
    return "block", 1


def _reduction(em, group, mode, chunks=1) -> int:
    """A reduction kernel: per output element, one loop over the reduced extent per pass, a
    block-wide combine, the epilogue at the output index, then the row roots (if any) in a last
    loop over the reduced extent. 'partial'/'final' are the two halves of a split reduction."""
    n, it = _size(group.shape), em.idx_t
    blockwise = mode != "thread"
    if mode == "thread":
        em.open(f"for ({it} o = ({it})blockIdx.x * blockDim.x + threadIdx.x; o < {n}; "
                f"o += ({it})blockDim.x * gridDim.x)")
    elif mode == "partial":
        em.open(f"for ({it} b = blockIdx.x; b < {n * chunks}; b += gridDim.x)")
        em.emit(f"const {it} o = b / {chunks}, p = b % {chunks};")
    else:
        em.open(f"for ({it} o = blockIdx.x; o < {n}; o += gridDim.x)")
    oidx = em.delinearize("o", group.shape)
    reds = _reduce_roots(group)
    accs = {}
    for npass in sorted({group.passes.get(r, 0) for r in reds}):
        now = [r for r in reds if group.passes.get(r, 0) == npass]
        for r in now:
            dt = r.aval.dtype
            accs[r] = em.tmp("acc")
            prim, odt = em.producer[r].primitive.name, _operand_dtype(em, r)
            em.emit(f"{cops.acc_type(prim, odt)} {accs[r]} = "
                    f"{cops.reduce_identity(prim, odt)};")
        if mode == "final":  # combine the partial results of the chunks
            em.open(f"for ({it} p = threadIdx.x; p < {chunks}; p += blockDim.x)")
            for k, r in enumerate(now):
                prim = em.producer[r].primitive.name
                part = f"part{k}[o * {chunks} + p]"
                em.emit(f"{accs[r]} = {cops.reduce_combine(prim, r.aval.dtype, accs[r], part)};")
        else:
            full = _open_reduced(em, group, mode, chunks, oidx)
            if npass == 0 and group.pre_roots:  # an absorbed loop: every element once
                for r in group.pre_roots:
                    em.value(r, full)
                _stores(em, group, full, em.offset(full, group.reduce[0]), group.pre_roots)
            for r in now:
                e = em.producer[r]
                prim, odt = e.primitive.name, _operand_dtype(em, r)
                v = em.value(e.invars[0], full)
                if prim in cops.ARG_OPS:  # one reduced axis: r is the index along it
                    v = f"plax_argmk<{cops.compute_type(odt)}>({v}, (long long)r)"
                em.emit(f"{accs[r]} = {cops.reduce_combine(prim, odt, accs[r], v)};")
        em.close()
        for r in now:
            e, dt = em.producer[r], _operand_dtype(em, r)
            prim = e.primitive.name
            at = cops.acc_type(prim, dt)
            if blockwise:
                comb = cops.reduce_combine(prim, dt, "a", "b")
                em.emit(f"{accs[r]} = plax_block_reduce({accs[r]}, []({at} a, {at} b) "
                        f"{{ return {comb}; }});")
            if prim in cops.ARG_OPS:
                em.bind(r, oidx, em.let(cops.compute_type(r.aval.dtype),
                                        f"({cops.store_type(r.aval.dtype)}){accs[r]}.i"))
                continue
            if cops.is_half(dt) and mode != "partial":
                em.emit(f"{accs[r]} = {cops.rnd(dt, accs[r])};")
            em.bind(r, oidx, accs[r])
    if mode == "partial":
        em.open("if (threadIdx.x == 0)")
        for k, r in enumerate(reds):
            em.emit(f"part{k}[b] = {accs[r]};")
        em.close()
    else:
        rows = set(group.row_roots) | set(group.pre_roots)
        for r in group.roots:  # every thread: the row pass may read the epilogue
            if r not in rows:
                em.value(r, oidx)
        at_out = [v for v in group.out_vars if v not in rows]
        if blockwise and at_out:
            em.open("if (threadIdx.x == 0)")
        _stores(em, group, oidx, "o", at_out)
        if blockwise and at_out:
            em.close()
        if group.row_roots:
            full = _open_reduced(em, group, mode, chunks, oidx)
            for r in group.row_roots:
                em.value(r, full)
            _stores(em, group, full, em.offset(full, group.reduce[0]), group.row_roots)
            em.close()
    em.close()
    if mode == "thread":
        return max(1, min(MAX_GRID, -(-n // BLOCK)))
    return max(1, min(MAX_GRID, n * chunks if mode == "partial" else n))


def _open_reduced(em, group, mode, chunks, oidx):
    """Open the loop over the reduced extent (this thread's share); return the operand index."""
    shape_in, axes = group.reduce
    it = em.idx_t
    kept = [d for d in range(len(shape_in)) if d not in axes]
    rshape = tuple(shape_in[d] for d in axes)
    r_n = _size(rshape)
    if mode == "partial":
        size = -(-r_n // chunks)
        em.open(f"for ({it} r = p * {size} + threadIdx.x; r < {r_n} && r < (p + 1) * {size}; "
                "r += blockDim.x)")
    elif mode == "thread":
        em.open(f"for ({it} r = 0; r < {r_n}; r += 1)")
    else:
        em.open(f"for ({it} r = threadIdx.x; r < {r_n}; r += blockDim.x)")
    # an extent of 1 is the constant index 0, which code after this loop reads too: not tied
    # to the loop's `r` (in the emitter's offsets) then
    ridx = em.delinearize("r", rshape) if r_n > 1 else tuple("0" for _ in rshape)
    full = [None] * len(shape_in)
    for d, i in zip(kept, oidx):
        full[d] = i
    for d, i in zip(axes, ridx):
        full[d] = i
    full = tuple(full)
    if r_n > 1 and list(axes) == list(range(len(kept), len(shape_in))):
        em.flat[(full, tuple(shape_in))] = f"(o * {r_n} + r)" if kept else "r"
    return full


# ---------------------------------------------------------------------------------------------
# tridiagonal_solve: one thread per system and right-hand side (LAPACK's xGTSV, as the reference
# backend runs it), or per system (perturb_singular: the reference's pivoted LU with perturbed
# pivots, whose back substitution scales all right-hand sides of a row together)

TRIDIAG_DTYPES = ("float32", "float64", "complex64", "complex128")

_TRI_HELPERS = r"""
#ifndef PLAX_TRI_HELPERS
#define PLAX_TRI_HELPERS
PLAX_FN float plax_tri_abs(float x) { return plax_fabs(x); }
PLAX_FN double plax_tri_abs(double x) { return plax_fabs(x); }
PLAX_FN float plax_tri_abs(plax_c64 x) { return plax_cabs(x); }
PLAX_FN double plax_tri_abs(plax_c128 x) { return plax_cabs(x); }
PLAX_FN float plax_tri_abs1(float x) { return plax_fabs(x); }
PLAX_FN double plax_tri_abs1(double x) { return plax_fabs(x); }
PLAX_FN float plax_tri_abs1(plax_c64 x) { return plax_fabs(x.re) + plax_fabs(x.im); }
PLAX_FN double plax_tri_abs1(plax_c128 x) { return plax_fabs(x.re) + plax_fabs(x.im); }
PLAX_FN float plax_tri_re(float x) { return x; }
PLAX_FN double plax_tri_re(double x) { return x; }
PLAX_FN float plax_tri_re(plax_c64 x) { return x.re; }
PLAX_FN double plax_tri_re(plax_c128 x) { return x.re; }
template <class T> PLAX_FN bool plax_tri_zero(T x) { return x == (T)0; }
template <class T> PLAX_FN bool plax_tri_zero(plax_complex<T> x) { return x.re == 0 && x.im == 0; }
template <class T> PLAX_FN T plax_tri_sub(T a, T b) { return a - b; }
template <class T> PLAX_FN plax_complex<T> plax_tri_sub(plax_complex<T> a, plax_complex<T> b) {
  return plax_csub(a, b);
}
template <class T> PLAX_FN T plax_tri_mul(T a, T b) { return a * b; }
template <class T> PLAX_FN plax_complex<T> plax_tri_mul(plax_complex<T> a, plax_complex<T> b) {
  return plax_cmul(a, b);
}
template <class T> PLAX_FN T plax_tri_div(T a, T b) { return a / b; }
template <class T> PLAX_FN plax_complex<T> plax_tri_div(plax_complex<T> a, plax_complex<T> b) {
  return plax_cdiv(a, b);
}
template <class T> PLAX_FN T plax_tri_neg(T a) { return -a; }
template <class T> PLAX_FN plax_complex<T> plax_tri_neg(plax_complex<T> a) { return plax_cneg(a); }
template <class T> PLAX_FN T plax_tri_scale(T a, T r) { return a * r; }
template <class T> PLAX_FN plax_complex<T> plax_tri_scale(plax_complex<T> a, T r) {
  return plax_cmake(a.re * r, a.im * r);
}
template <class T> PLAX_FN T plax_tri_add_re(T a, T r) { return a + r; }
template <class T> PLAX_FN plax_complex<T> plax_tri_add_re(plax_complex<T> a, T r) {
  return plax_cmake(a.re + r, a.im);
}
template <class T> PLAX_FN T plax_tri_max(T a, T b) { return (a > b || a != a) ? a : b; }
#endif
"""


def _tridiag(em, group) -> int:
    """tridiagonal_solve, its operands' producers inlined. Threads loop over their work items
    (systems x right-hand sides, or systems); the factors live in scratch buffer `part0`
    (three per row, interleaved over the work items so that neighbouring threads read
    neighbouring addresses); the solution is built in place in the output."""
    v = group.roots[0]
    e = em.producer[v]
    dl, d, du, b = e.invars
    shape, dt = tuple(v.aval.shape), v.aval.dtype
    n, k = shape[-2], shape[-1]
    batch = shape[:-2]
    nb = _size(batch)
    perturb = bool(e.params["perturb_singular"])
    it, ct = em.idx_t, cops.compute_type(dt)
    work = nb if perturb else nb * k
    em.open(f"for ({it} t = ({it})blockIdx.x * blockDim.x + threadIdx.x; t < {work}; "
            f"t += ({it})blockDim.x * gridDim.x)")
    if perturb:
        s = "t"
    else:
        s = em.let(it, f"t / {k}", "s")
        col = em.let(it, f"t % {k}", "c")
    bidx = em.delinearize(s, batch) if batch else ()

    def diag(x, i):  # a diagonal's element i of this system
        return em.value(x, bidx + (i,))

    def xref(i, c):  # the solution (the output) at row i, column c
        return f"out0[({s} * {n} + {i}) * {k} + {c}]"

    def scr(which, i):  # the factors: 0 the diagonal, 1 and 2 the super-diagonals
        return f"part0[({which} * {n} + {i}) * {work} + t]"

    def store(ref, val):
        em.emit(f"{ref} = {val};")
    helpers = {"sub": "plax_tri_sub", "mul": "plax_tri_mul", "div": "plax_tri_div"}
    sub, mul, div = (lambda a, b_, f=f: f"{f}({a}, {b_})" for f in helpers.values())
    zero = cops.literal(0, dt)
    if n == 1:  # the reference: b / d, no check
        p = diag(d, "0")
        if perturb:
            _tri_perturbed_one(em, group, p, xref, k, dt, b, bidx)
        else:
            store(xref("0", col), div(em.value(b, bidx + ("0", col)), p))
        em.close()
        return max(1, min(MAX_GRID, -(-work // BLOCK)))
    if perturb:
        _tri_perturbed(em, d, dl, du, b, bidx, xref, scr, n, k, dt)
        em.close()
        return max(1, min(MAX_GRID, -(-work // BLOCK)))
    # LAPACK's xGTSV (dgtsv/zgtsv): row-interchanging elimination, then back substitution
    cplx = cops.is_complex(dt)
    bad = em.tmp("bad")
    em.emit(f"bool {bad} = false;")
    em.open(f"for ({it} i = 0; i < {n}; ++i)")
    store(scr(0, "i"), diag(d, "i"))
    store(scr(1, "i"), diag(du, "i"))
    store(scr(2, "i"), zero)
    store(xref("i", col), em.value(b, bidx + ("i", col)))
    em.close()
    em.open(f"for ({it} i = 0; i < {n - 1}; ++i)")
    lo = em.let(ct, diag(dl, "(i + 1)"), "dl")
    di = em.let(ct, scr(0, "i"), "di")
    fact, tmp = em.tmp("f"), em.tmp("tmp")
    em.emit(f"{ct} {fact}, {tmp};")
    if cplx:  # zgtsv: a zero sub-diagonal needs no elimination
        em.open(f"if (plax_tri_zero({lo}))")
        em.open(f"if (plax_tri_zero({di}))")
        em.emit(f"{bad} = true;")
        em.emit("break;")
        em.close()
        em.reopen(f"}} else if (plax_tri_abs1({di}) >= plax_tri_abs1({lo})) {{")
    else:
        em.open(f"if (plax_tri_abs({di}) >= plax_tri_abs({lo}))")
        em.open(f"if (plax_tri_zero({di}))")
        em.emit(f"{bad} = true;")
        em.emit("break;")
        em.close()
    em.emit(f"{fact} = {div(lo, di)};")
    store(scr(0, "(i + 1)"), sub(scr(0, "(i + 1)"), mul(fact, scr(1, "i"))))
    store(xref("(i + 1)", col), sub(xref("(i + 1)", col), mul(fact, xref("i", col))))
    em.reopen("} else {")
    em.emit(f"{fact} = {div(di, lo)};")
    store(scr(0, "i"), lo)
    em.emit(f"{tmp} = {scr(0, '(i + 1)')};")
    store(scr(0, "(i + 1)"), sub(scr(1, "i"), mul(fact, tmp)))
    em.open(f"if (i < {n - 2})")
    store(scr(2, "i"), scr(1, "(i + 1)"))
    store(scr(1, "(i + 1)"), mul(f"plax_tri_neg({fact})", scr(2, "i")))
    em.close()
    store(scr(1, "i"), tmp)
    em.emit(f"{tmp} = {xref('i', col)};")
    store(xref("i", col), xref("(i + 1)", col))
    store(xref("(i + 1)", col), sub(tmp, mul(fact, xref("(i + 1)", col))))
    em.close()
    em.close()
    em.open(f"if (!{bad} && plax_tri_zero({scr(0, n - 1)}))")
    em.emit(f"{bad} = true;")
    em.close()
    em.open(f"if ({bad})")
    em.open(f"for ({it} i = 0; i < {n}; ++i)")
    store(xref("i", col), cops.literal(np.nan, dt))
    em.close()
    em.reopen("} else {")
    store(xref(n - 1, col), div(xref(n - 1, col), scr(0, n - 1)))
    store(xref(n - 2, col), div(sub(xref(n - 2, col), mul(scr(1, n - 2), xref(n - 1, col))),
                                scr(0, n - 2)))
    em.open(f"for ({it} i = {n - 3}; i >= 0; --i)")
    store(xref("i", col), div(sub(sub(xref("i", col), mul(scr(1, "i"), xref("(i + 1)", col))),
                                  mul(scr(2, "i"), xref("(i + 2)", col))), scr(0, "i")))
    em.close()
    em.close()
    em.close()
    return max(1, min(MAX_GRID, -(-work // BLOCK)))


def _tri_consts(dt):
    """(eps, safemin, bignum) of the reference's _perturb_pivot in `dt`'s real type."""
    fi = np.finfo(np.float32 if cops.real_type(dt) == "float" else np.float64)
    small = 1 / float(fi.max)
    safemin = float(fi.tiny) if small < float(fi.tiny) else small * (1 + float(fi.eps))
    return float(fi.eps), safemin, 1 / safemin


def _tri_perturb_pivot(em, dt, p, pert, row, k):
    """The reference's _perturb_pivot (xLAGTS' rule) on pivot `p` (a variable) and the
    right-hand sides `row(c)` of its row: while |p| < 1, a tiny pivot is moved away from zero
    by a doubling step (or, when under safemin, the pivot and the row scaled by bignum) until
    neither row / p nor 1 / p overflows."""
    it, rt = em.idx_t, cops.real_type(dt)
    _, safemin, bignum = _tri_consts(dt)
    sm, bg = cops._float_lit(safemin, rt), cops._float_lit(bignum, rt)
    ap, step, big, live = em.tmp("ap"), em.tmp("step"), em.tmp("big"), em.tmp("live")
    em.emit(f"{rt} {ap} = plax_tri_abs({p});")
    em.emit(f"{rt} {step} = plax_copysign(plax_tri_max<{rt}>(plax_fabs({pert}), {sm}), "
            f"plax_tri_re({p}));")
    em.emit(f"{rt} {big} = 0;")
    if k:
        em.emit(f"{big} = plax_tri_abs({row('0')});")
        em.open(f"for ({it} c = 1; c < {k}; ++c)")
        em.emit(f"{big} = plax_tri_max<{rt}>({big}, plax_tri_abs({row('c')}));")
        em.close()
    em.emit(f"bool {live} = {ap} < 1;")
    em.open(f"while ({live})")
    under, nudge = em.tmp("under"), em.tmp("nudge")
    em.emit(f"const bool {under} = {ap} < {sm};")
    em.emit(f"const bool {nudge} = ({under} && ({ap} == 0 || {big} * {sm} > {ap})) || "
            f"(!{under} && {big} > {ap} * {bg});")
    em.open(f"if ({nudge})")
    em.emit(f"{p} = plax_tri_add_re({p}, {step});")
    em.emit(f"{step} *= 2;")
    em.reopen(f"}} else if ({under}) {{")
    em.emit(f"{p} = plax_tri_scale({p}, {bg});")
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.emit(f"{row('c')} = plax_tri_scale({row('c')}, {bg});")
    em.close()
    em.close()
    em.emit(f"{ap} = plax_tri_abs({p});")
    em.emit(f"{live} = {nudge} && {ap} < 1;")
    em.close()


def _tri_perturbed_one(em, group, p0, xref, k, dt, b, bidx):
    """A 1 x 1 system: x = b / d, the pivot perturbed by eps * |d| first."""
    it, ct, rt = em.idx_t, cops.compute_type(dt), cops.real_type(dt)
    eps = cops._float_lit(_tri_consts(dt)[0], rt)
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.emit(f"{xref('0', 'c')} = {em.value(b, bidx + ('0', 'c'))};")
    em.close()
    p = em.tmp("p")
    em.emit(f"{ct} {p} = {p0};")
    _tri_perturb_pivot(em, dt, p, f"({eps} * plax_tri_abs({p}))", lambda c: xref("0", c), k)
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.emit(f"{xref('0', 'c')} = plax_tri_div({xref('0', 'c')}, {p});")
    em.close()


def _tri_perturbed(em, d, dl, du, b, bidx, xref, scr, n, k, dt):
    """The reference's _tridiagonal_solve_perturbed for one system, step by step: pivoted LU
    (U's diagonal and two super-diagonals in scratch) with the forward solve in the output,
    then back substitution with each pivot perturbed (_tri_perturb_pivot)."""
    it, ct, rt = em.idx_t, cops.compute_type(dt), cops.real_type(dt)
    eps = cops._float_lit(_tri_consts(dt)[0], rt)
    zero, one = cops.literal(0, dt), cops.literal(1, dt)

    def diag(x, i):
        return em.value(x, bidx + (i,))
    mx, s1 = em.tmp("maxu"), em.tmp("scale")
    u00, u10 = diag(d, "0"), diag(du, "0")
    em.emit(f"{scr(0, 0)} = {u00};")
    em.emit(f"{scr(1, 0)} = {u10};")
    em.emit(f"{rt} {mx} = plax_tri_max<{rt}>(plax_tri_abs({u00}), plax_tri_abs({u10}));")
    em.emit(f"{rt} {s1} = plax_tri_abs({u00}) + plax_tri_abs({u10});")
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.emit(f"{xref('0', 'c')} = {em.value(b, bidx + ('0', 'c'))};")
    em.close()
    em.open(f"for ({it} j = 0; j < {n - 1}; ++j)")
    dj, lj, uj = (em.let(ct, diag(x, "(j + 1)"), nm) for x, nm in ((d, "d"), (dl, "l"), (du, "u")))
    last = f"(j < {n - 2})"
    s2 = em.tmp("scale")  # (|dl| + |d|) + |du| before the last row, as the reference
    em.emit(f"{rt} {s2} = plax_tri_abs({lj}) + plax_tri_abs({dj});")
    em.emit(f"if {last} {s2} = {s2} + plax_tri_abs({uj});")
    u0j = em.let(ct, scr(0, "j"), "u0")
    u1j = em.let(ct, scr(1, "j"), "u1")
    piv1 = em.let(rt, f"plax_tri_zero({u0j}) ? ({rt})0 : plax_tri_abs({u0j}) / {s1}", "piv")
    piv2 = em.let(rt, f"plax_tri_abs({lj}) / {s2}", "piv")
    keep = em.let("bool", f"!plax_tri_zero({lj}) && {piv2} <= {piv1}", "keep")
    swap = em.let("bool", f"!plax_tri_zero({lj}) && !({piv2} <= {piv1})", "swap")
    f, nu0, nu1 = em.tmp("f"), em.tmp("nu"), em.tmp("nu")
    em.emit(f"{ct} {f} = {zero}, {nu0} = {dj}, {nu1} = {uj};")
    em.open(f"if ({keep})")
    em.emit(f"{f} = plax_tri_div({lj}, {u0j});")
    em.emit(f"{nu0} = plax_tri_sub({dj}, plax_tri_mul({f}, {u1j}));")
    em.reopen(f"}} else if ({swap}) {{")
    em.emit(f"{f} = plax_tri_div({u0j}, {lj});")
    em.emit(f"{nu0} = plax_tri_sub({u1j}, plax_tri_mul({f}, {dj}));")
    em.emit(f"{nu1} = {last} ? plax_tri_mul(plax_tri_neg({f}), {uj}) : {zero};")
    em.emit(f"{scr(0, 'j')} = {lj};")
    em.emit(f"{scr(1, 'j')} = {dj};")
    em.close()
    em.emit(f"{scr(2, 'j')} = ({last} && {swap}) ? {uj} : {zero};")
    em.emit(f"{scr(0, '(j + 1)')} = {nu0};")
    em.emit(f"{scr(1, '(j + 1)')} = {nu1};")
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    xj = em.let(ct, xref("j", "c"), "xj")
    rj = em.let(ct, em.value(b, bidx + ("(j + 1)", "c")), "rj")
    em.emit(f"{xref('(j + 1)', 'c')} = {keep} ? plax_tri_sub({rj}, plax_tri_mul({f}, {xj})) : "
            f"{swap} ? plax_tri_sub({xj}, plax_tri_mul({f}, {rj})) : {rj};")
    em.emit(f"{xref('j', 'c')} = {swap} ? {rj} : {xj};")
    em.close()
    em.emit(f"{s1} = {swap} ? plax_tri_abs({nu0}) + plax_tri_abs({nu1}) : {s2};")
    em.open(f"if {last}")
    for w in range(3):
        em.emit(f"{mx} = plax_tri_max<{rt}>({mx}, plax_tri_abs({scr(w, 'j')}));")
    em.close()
    em.close()
    em.emit(f"{mx} = plax_tri_max<{rt}>({mx}, plax_tri_abs({scr(0, n - 1)}));")
    pert = em.let(rt, f"{eps} * {mx}", "pert")
    em.open(f"for ({it} j = {n - 1}; j >= 0; --j)")
    p = em.tmp("p")
    em.emit(f"{ct} {p} = {scr(0, 'j')};")
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.open(f"if (j <= {n - 2})")
    em.emit(f"{xref('j', 'c')} = plax_tri_sub({xref('j', 'c')}, "
            f"plax_tri_mul({scr(1, 'j')}, {xref('(j + 1)', 'c')}));")
    em.close()
    em.open(f"if (j <= {n - 3})")
    em.emit(f"{xref('j', 'c')} = plax_tri_sub({xref('j', 'c')}, "
            f"plax_tri_mul({scr(2, 'j')}, {xref('(j + 2)', 'c')}));")
    em.close()
    em.close()
    _tri_perturb_pivot(em, dt, p, f"(j == {n - 1} ? {pert} : plax_copysign({pert}, "
                                  f"plax_tri_re({p})))", lambda c: xref("j", c), k)
    inv = em.let(ct, f"plax_tri_div({one}, {p})", "inv")
    em.open(f"for ({it} c = 0; c < {k}; ++c)")
    em.emit(f"{xref('j', 'c')} = plax_tri_mul({xref('j', 'c')}, {inv});")
    em.close()
    em.close()
