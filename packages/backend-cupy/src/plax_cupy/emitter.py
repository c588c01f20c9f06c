"""Values at symbolic indices: the part of code generation that turns a group's equations into
C++ statements. A consumer asks for its producer at the index it needs (`value(var, idx)`), so
view-like ops become index arithmetic; results are memoised per (var, index) in nested scopes
(branches of pad/concatenate, loops over a reduced extent)."""

from __future__ import annotations

import math

import numpy as np

from plax.extend import Literal
from plax_cupy import cops
from plax_cupy.planner import REDUCE_OPS, VIEW_OPS, trivial_reduction


def size(shape) -> int:
    return int(math.prod(shape))


class Emitter:
    """Emits statements computing values at symbolic indices, with scoped memoisation."""

    def __init__(self, group, idx_t: str):
        self.group = group
        self.idx_t = idx_t
        self.lines: list[str] = []
        self.depth = 1
        self.scopes: list[dict] = [{}]
        self.flat: dict = {}  # (index tuple, shape) -> C expression of the flat offset
        self.n = 0
        self.producer = {v: e for e in group.eqns for v in e.outvars}
        self.inputs = {v: f"in{i}" for i, v in enumerate(group.in_vars)}

    # -- plumbing ------------------------------------------------------------------------------
    def tmp(self, p="v") -> str:
        self.n += 1
        return f"{p}{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def let(self, ctype: str, expr: str, p="v") -> str:
        t = self.tmp(p)
        self.emit(f"const {ctype} {t} = {expr};")
        return t

    def open(self, head: str) -> None:
        self.emit(f"{head} {{" if head else "{")
        self.depth += 1
        self.scopes.append({})

    def close(self, tail: str = "}") -> None:
        self.depth -= 1
        self.scopes.pop()
        self.emit(tail)

    def reopen(self, line: str) -> None:
        self.depth -= 1
        self.scopes[-1] = {}
        self.emit(line)
        self.depth += 1

    def lookup(self, key):
        for s in reversed(self.scopes):
            if key in s:
                return s[key]
        return None

    def bind(self, var, idx, name: str) -> None:
        self.scopes[-1][(var, idx)] = name

    # -- indices -------------------------------------------------------------------------------
    def delinearize(self, flat: str, shape) -> tuple:
        """Per-dimension index names of the flat row-major offset `flat` into `shape`."""
        idx, rest = [], flat
        for i in range(len(shape) - 1, -1, -1):
            d = shape[i]
            if d == 1:
                idx.append("0")
            elif i == 0 or all(s == 1 for s in shape[:i]):
                idx.append(rest)
                rest = "0"
            else:
                idx.append(self.let(self.idx_t, f"{rest} % {d}", "i"))
                rest = self.let(self.idx_t, f"{rest} / {d}", "q")
        idx = tuple(reversed(idx))
        self.flat[(idx, tuple(shape))] = flat
        return idx

    def offset(self, idx, shape) -> str:
        hit = self.flat.get((tuple(idx), tuple(shape)))
        if hit is not None:
            return hit
        expr = "0"
        for i, d in zip(idx, shape):
            expr = i if expr == "0" else f"({expr}) * {d} + {i}"
        return expr

    # -- values --------------------------------------------------------------------------------
    def value(self, x, idx) -> str:
        """The C++ name of `x` at index `idx` (compute type), emitting what it needs."""
        if isinstance(x, Literal):
            return cops.literal(x.val, x.aval.dtype)
        idx = tuple(idx)
        hit = self.lookup((x, idx))
        if hit is not None:
            return hit
        dt = x.aval.dtype
        if x in self.inputs:
            ref = f"{self.inputs[x]}[{self.offset(idx, x.aval.shape)}]"
            name = self.let(cops.compute_type(dt), cops.load(dt, ref))
        else:
            e = self.producer[x]
            name = self.eqn(e, idx)
        self.bind(x, idx, name)
        return name

    def eqn(self, e, idx) -> str:
        prim = e.primitive.name
        out = e.outvars[0].aval
        if prim in VIEW_OPS:
            return getattr(self, "view_" + prim)(e, idx, out)
        if prim in REDUCE_OPS:
            if not trivial_reduction(e):
                raise AssertionError(f"{prim} reached outside its group's accumulator")
            axes = set(e.params["axes"])
            it = iter(idx)
            x = e.invars[0]
            return self.value(x, tuple("0" if d in axes else next(it)
                                       for d in range(x.aval.ndim)))
        args = [self.value(a, operand_index(idx, out.shape, a.aval.shape)) for a in e.invars]
        return self.elementwise(e, args, out)

    def elementwise(self, e, args, out) -> str:
        prim = e.primitive.name
        ins = [a.aval.dtype for a in e.invars]
        odt, ct = out.dtype, cops.compute_type(out.dtype)
        if prim == "convert_element_type":
            return self.let(ct, cops.convert(args[0], ins[0], odt))
        if prim == "bitcast_convert_type":
            return self.let(ct, cops.bitcast(args[0], ins[0], odt))
        if prim == "select_n":
            which, cases = args[0], args[1:]
            if len(cases) == 1:
                return cases[0]
            if cops.name(ins[0]) == "bool":
                expr = f"({which} ? {cases[1]} : {cases[0]})"
            else:  # an integer predicate out of range picks case 0, as the reference
                expr = cases[0]
                for i in range(1, len(cases)):
                    expr = f"({which} == {i} ? {cases[i]} : {expr})"
            return self.let(ct, expr)
        if prim == "clamp":
            lo, x, hi = args
            return self.let(ct, f"plax_min<{ct}>(plax_max<{ct}>({x}, {lo}), {hi})")
        if prim == "integer_pow":
            return self.integer_pow(args[0], ins[0], e.params["y"])
        if len(args) == 1:
            expr = cops.unary(prim, ins[0], args[0], odt, e.params)
        else:
            expr = cops.binary(prim, ins[0], args[0], args[1], odt)
        return self.let(ct, cops.rnd(odt, expr))

    def integer_pow(self, x: str, dt, y: int) -> str:
        ct = cops.compute_type(dt)
        if y == 0:
            return self.let(ct, cops.literal(1, dt))
        if y < 0 and not cops.is_complex(dt):
            p = f"{cops._libm('pow', dt)}({x}, ({ct}){-y})"
            return self.let(ct, cops.rnd(dt, f"(({ct})1 / {cops.rnd(dt, p)})"))
        acc, base, n = None, x, abs(y)
        while n:  # repeated squaring in the reference's order, so integer overflow wraps alike
            if n & 1:
                acc = base if acc is None else self.let(
                    ct, cops.rnd(dt, cops.binary("mul", dt, acc, base, dt)))
            n >>= 1
            if n:
                base = self.let(ct, cops.rnd(dt, cops.binary("mul", dt, base, base, dt)))
        if y < 0:
            acc = self.let(ct, cops.binary("div", dt, cops.literal(1, dt), acc, dt))
        return acc

    # -- view-like ops: the consumer's index mapped to the producer's --------------------------
    def view_broadcast_in_dim(self, e, idx, out):
        x = e.invars[0]
        bd = e.params["broadcast_dimensions"]
        src = tuple("0" if x.aval.shape[k] == 1 else idx[bd[k]] for k in range(len(bd)))
        return self.value(x, src)

    def view_reshape(self, e, idx, out):
        x = e.invars[0]
        dims = e.params.get("dimensions")
        ins = [i for i, d in enumerate(x.aval.shape) if d != 1]
        outs = [i for i, d in enumerate(out.shape) if d != 1]
        if dims is None and [x.aval.shape[i] for i in ins] == [out.shape[i] for i in outs]:
            src = ["0"] * x.aval.ndim  # only extent-1 dimensions come or go: no arithmetic
            for i, o in zip(ins, outs):
                src[i] = idx[o]
            return self.value(x, tuple(src))
        flat = self.offset(idx, out.shape)
        if dims is None:
            return self.value(x, self._reindex(flat, x.aval.shape))
        tshape = tuple(x.aval.shape[d] for d in dims)
        t = self._reindex(flat, tshape)
        src = [None] * len(dims)
        for i, d in enumerate(dims):
            src[d] = t[i]
        return self.value(x, tuple(src))

    def _reindex(self, flat: str, shape):
        if flat and not flat.isidentifier() and not flat.isdigit():
            flat = self.let(self.idx_t, flat, "f")
        return self.delinearize(flat, shape)

    def view_squeeze(self, e, idx, out):
        x = e.invars[0]
        dims = {d % max(x.aval.ndim, 1) for d in e.params["dimensions"]}
        it = iter(idx)
        return self.value(x, tuple("0" if d in dims else next(it) for d in range(x.aval.ndim)))

    def view_transpose(self, e, idx, out):
        perm = e.params["permutation"]
        src = [None] * len(perm)
        for i, p in enumerate(perm):
            src[p] = idx[i]
        return self.value(e.invars[0], tuple(src))

    def view_rev(self, e, idx, out):
        dims = set(e.params["dimensions"])
        return self.value(e.invars[0], tuple(
            f"({out.shape[d] - 1} - {i})" if d in dims else i for d, i in enumerate(idx)))

    def view_slice(self, e, idx, out):
        start = e.params["start_indices"]
        strides = e.params.get("strides") or (1,) * len(start)
        src = []
        for i, s, st in zip(idx, start, strides):
            j = i if st == 1 else f"{i} * {st}"
            src.append(j if s == 0 else f"({s} + {j})")
        return self.value(e.invars[0], tuple(src))

    def view_dynamic_slice(self, e, idx, out):
        x, *starts = e.invars
        src = []
        for d, (i, s) in enumerate(zip(idx, starts)):
            hi = x.aval.shape[d] - e.params["slice_sizes"][d]
            if hi == 0:
                src.append(i)
                continue
            src.append(f"({self._clamped_start(s, hi)} + {i})")  # the window fits, as XLA
        return self.value(x, tuple(src))

    def _clamped_start(self, s, hi):
        """A dynamic start read as a scalar and clamped to [0, hi], as XLA does."""
        v = f"(long long){self.value(s, ())}"
        return self.let(self.idx_t, f"({self.idx_t})({v} < 0 ? 0 : {v} > {hi} ? {hi} : {v})",
                        "s")

    def view_dynamic_update_slice(self, e, idx, out):
        x, upd, *starts = e.invars
        conds, src = [], []
        for d, (i, s) in enumerate(zip(idx, starts)):
            n, hi = upd.aval.shape[d], x.aval.shape[d] - upd.aval.shape[d]
            if hi == 0:  # a full-extent window always starts at 0
                src.append(i)
                continue
            st = self._clamped_start(s, hi)
            conds.append(f"{i} >= {st} && {i} < {st} + {n}")
            src.append(f"({i} - {st})")
        if upd.aval.size == 0:
            return self.value(x, idx)
        if not conds:
            return self.value(upd, tuple(src))
        res = self.tmp()
        self.emit(f"{cops.compute_type(out.dtype)} {res};")
        self.open(f"if ({' && '.join('(' + c + ')' for c in conds)})")
        self.emit(f"{res} = {self.value(upd, tuple(src))};")
        self.close("} else {")
        self.depth += 1
        self.scopes.append({})
        self.emit(f"{res} = {self.value(x, idx)};")
        self.close()
        return res

    def _index_start(self, ind, batch, k, hi, clamp=True):
        """Entry `k` of the index vector at batch position `batch` (int64, huge unsigned values
        kept huge), clamped to [0, hi] when `clamp`."""
        v = self.value(ind, tuple(batch) + (str(k),))
        dt = ind.aval.dtype
        if cops.name(dt) == "uint64":
            v = f"({v} > 9223372036854775807ULL ? 9223372036854775807LL : (long long){v})"
        else:
            v = f"(long long){v}"
        raw = self.let("long long", v, "g")
        if not clamp:
            return raw
        return self.let(self.idx_t, f"({self.idx_t})({raw} < 0 ? 0 : {raw} > {hi} ? {hi} : "
                                    f"{raw})", "s")

    def view_gather(self, e, idx, out):
        """XLA's gather at one output index: the batch part of the index picks an index vector,
        whose (clamped) entries start the window; the offset part walks the window. FILL_OR_DROP
        reads the fill value for a window that is partly out of bounds."""
        x, ind = e.invars
        p = e.params
        dn, sizes = p["dimension_numbers"], p["slice_sizes"]
        fill = getattr(p["mode"], "name", str(p["mode"])) == "FILL_OR_DROP"
        offset = set(dn.offset_dims)
        batch = [i for d, i in enumerate(idx) if d not in offset]
        window = iter(i for d, i in enumerate(idx) if d in offset)
        dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
        shape = x.aval.shape
        starts, conds = {}, []
        for k, d in enumerate(dn.start_index_map):
            hi = shape[d] - sizes[d]
            if fill:
                raw = self._index_start(ind, batch, k, hi, clamp=False)
                conds.append(f"{raw} >= 0 && {raw} <= {hi}")
            starts[d] = self._index_start(ind, batch, k, max(hi, 0))
        for od, id_ in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
            starts[od] = batch[id_]
        src = []
        for d in range(len(shape)):
            w = "0" if d in dropped else next(window)
            st = starts.get(d)
            src.append(w if st is None else st if w == "0" else f"({st} + {w})")
        if shape and min(shape) == 0:
            return self.let(cops.compute_type(out.dtype), cops.literal(
                p["fill_value"] if fill else 0, out.dtype))
        if not conds:
            return self.value(x, tuple(src))
        res = self.tmp()
        self.emit(f"{cops.compute_type(out.dtype)} {res};")
        self.open(f"if ({' && '.join('(' + c + ')' for c in conds)})")
        self.emit(f"{res} = {self.value(x, tuple(src))};")
        self.close("} else {")
        self.emit(f"  {res} = {cops.literal(p['fill_value'], out.dtype)};")
        self.emit("}")
        return res

    def view_iota(self, e, idx, out):
        dt = e.params["dtype"]
        i = idx[e.params["dimension"]]
        return self.let(cops.compute_type(dt), cops.convert(f"(({self.idx_t}){i})",
                                                            np.dtype("int64"), dt))

    def view_pad(self, e, idx, out):
        x, pv = e.invars
        ct = cops.compute_type(out.dtype)
        conds, src = [], []
        for i, (lo, _hi, interior), d in zip(idx, e.params["padding_config"], x.aval.shape):
            t = i if lo == 0 else f"({i} - {lo})"
            step = interior + 1
            if step == 1:
                conds.append(f"{t} >= 0 && {t} < {d}")
                src.append(t)
            else:
                conds.append(f"{t} >= 0 && {t} % {step} == 0 && {t} / {step} < {d}")
                src.append(f"{t} / {step}")
        fill = self.value(pv, ())
        if x.aval.size == 0:
            return fill
        res = self.tmp()
        self.emit(f"{ct} {res};")
        self.open(f"if ({' && '.join('(' + c + ')' for c in conds) or 'true'})")
        self.emit(f"{res} = {self.value(x, tuple(src))};")
        self.close("} else {")
        self.emit(f"  {res} = {fill};")
        self.emit("}")
        return res

    def view_concatenate(self, e, idx, out):
        dim = e.params["dimension"]
        ct = cops.compute_type(out.dtype)
        parts = [x for x in e.invars if x.aval.shape[dim] > 0]
        if len(parts) == 1:
            return self.value(parts[0], idx)
        res = self.tmp()
        self.emit(f"{ct} {res};")
        i, start = idx[dim], 0
        for k, x in enumerate(parts):
            n = x.aval.shape[dim]
            src = tuple((i if start == 0 else f"({i} - {start})") if d == dim else j
                        for d, j in enumerate(idx))
            if k == 0:
                self.open(f"if ({i} < {start + n})")
            elif k < len(parts) - 1:
                self.reopen(f"}} else if ({i} < {start + n}) {{")
            else:
                self.reopen("} else {")
            self.emit(f"{res} = {self.value(x, src)};")
            start += n
        self.close()
        return res


def operand_index(idx, out_shape, shape):
    """lax's implicit broadcasting: rank-0 operands and size-1 dimensions."""
    if not shape:
        return ()
    return tuple("0" if d == 1 and o != 1 else i for i, d, o in zip(idx, shape, out_shape))
