"""The fusion planner: partitions a jaxpr into fused kernel groups and library steps.

Pure Python (no CuPy): `plan(jaxpr) -> list[Step]`, in execution order. The rules, learned from
XLA GPU's loop and input fusion, tinygrad's grouper, TorchInductor's pointwise/reduction fusion and
the limits of `cupy.fuse` (adjacent same-shape elementwise ops only):

1. Fusible equations are elementwise ops (the `elementwise` trait), the view-like ops
   broadcast_in_dim, reshape, squeeze, transpose, rev, slice, pad, concatenate, iota,
   dynamic_slice, dynamic_update_slice and gather (fused through index arithmetic: a consumer
   reads its producer at a transformed index; dynamic starts are read as scalars and clamped as
   XLA does; a gather reads its index vector, then the operand at the window it starts), the
   cumulative ops cumsum/cumprod/cummax/cummin/cumlogsumexp (a "scan" group: a block scan per
   line with its operand's producers inlined), the scatters (a "scatter" group: the operand's
   expression written at the output index, then the updates' expression combined into it at
   the positions the indices name), the window ops reduce_window_sum/max/min and
   select_and_gather_add and the generic reduce_window (its computation inlined; its several
   results roots of one group) (a "window" group: one thread per output element loops over its
   window, reading the operand's inlined producers at each window position; padding, base and
   window dilation are index conditions, the padding value the monoid's identity; the select
   skips padding and applies XLA's select computation element by element in window order,
   from the lowest/highest value with a zero tangent), select_and_scatter_add (a
   "window_scatter" group: the output zeroed, then one thread per source element selects in
   its window as JAX does on CPUs and GPUs, padding being the lowest/highest value and
   selectable, and adds the source value at that position, atomically on the GPU; XLA GPU's
   select-and-scatter), tridiagonal_solve (a "tridiag" group: one thread per system and
   right-hand side, or per system with perturb_singular), rng_bit_generator (an "rng" group:
   one thread per counter block of ThreeFry or Philox, its elements stored with the epilogue
   at each one's index; its new key, a second result, is a side root, written once and never
   read inside the group), and the reductions reduce_sum/prod/max/min/and/or/xor and
   argmax/argmin (a reduction over extent-1 axes is a view).
   Everything else (dot_general, fft, sort, control flow, collectives, effectful ops, anything
   `supports` refuses; a generic reduce_window whose computation cannot be inlined) is a
   `LibraryStep` and breaks groups. A scan, scatter, window, window_scatter or rng group holds
   that one root, and a scan, window or rng group also the loop roots over its shape that read
   it (if at all) at their own index: its elementwise epilogue, computed where each scanned
   value is stored, or where each window's result is (avg-pool's divide), or where each random
   element is (random.uniform's bits-to-float).
2. A value is a *root* (computed as a kernel output or a kernel-local at the output index) when it
   is a reduction result, a jaxpr output, an operand of a library step, an expensive expression
   (more than `RECOMPUTE_LIMIT` inlined ops) with several consumers, or an rng key of more than
   `RNG_KEY_LIMIT` inlined ops (each thread of the rng kernel would compute it). Every other
   fusible value is inlined into each consumer and recomputed there (tinygrad's rule; XLA's loop
   fusion), so it is never written to memory.
3. A group has one iteration space: a loop over its output shape, or a reduction (operand shape,
   axes) whose kernel gives each output element a block (or a thread) that loops over the reduced
   extent. Roots with the same space share one kernel (multi-output fusion) when every value they
   read is produced before the group runs. A root may read another root of its own group only
   where the kernel holds it, found by tracking index signatures (which output/reduced index
   each dimension reads) through the inlined ops: a later reduction pass, an epilogue over the
   output shape, or a "row" root over the operand shape (written in a last pass over the
   reduced extent) may read reduction results at their output index. So a softmax is one
   kernel: max pass, sum-of-exp pass, then the normalised row (XLA's and Triton's row fusion).
   A reduction whose operand reads a loop group over the operand's shape at the same index
   absorbs it (XLA's multi-output fusion): the loop's roots become "pre-roots", computed and
   written in the reduction's first pass (a ReLU gradient and the bias gradient it sums).
4. A root is written to memory (`out_vars`) only when a later step or the jaxpr's outputs need
   it; a reduction read only by its own group's epilogue stays in registers.

Interface with the backend: `FusedGroup.in_vars` are the jaxpr `Var`s the kernel reads, in
argument order (literals are baked into the source, never listed); `out_vars` the `Var`s it
writes, in order. The executor runs `FusedRunner(group)([env[v] for v in in_vars])` and binds
`out_vars` to the returned arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from plax.extend import Literal

VIEW_OPS = frozenset({"broadcast_in_dim", "reshape", "squeeze", "transpose", "rev", "slice",
                      "pad", "concatenate", "iota", "dynamic_slice", "dynamic_update_slice",
                      "gather"})
SCAN_OPS = frozenset({"cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"})
SCATTER_OPS = frozenset({"scatter", "scatter-add", "scatter-sub", "scatter-mul", "scatter-min",
                         "scatter-max"})
WINDOW_OPS = frozenset({"reduce_window_sum", "reduce_window_max", "reduce_window_min",
                        "select_and_gather_add", "reduce_window"})
MULTI_OUTPUT_OPS = frozenset({"reduce_window"})  # fusible with several results (window roots)
WINDOW_SCATTER_OPS = frozenset({"select_and_scatter_add"})
TRIDIAG_OPS = frozenset({"tridiagonal_solve"})
RNG_OPS = frozenset({"rng_bit_generator"})
SPECIAL_KINDS = ("scan", "scatter", "window", "window_scatter", "tridiag", "rng")
REDUCE_OPS = frozenset({"reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and",
                        "reduce_or", "reduce_xor", "argmax", "argmin"})
RECOMPUTE_LIMIT = 48  # inlined ops before a value read by several consumers is materialised
MAX_ROOTS = 96        # roots per kernel (each output is a kernel argument; CUDA caps their size)
RNG_KEY_LIMIT = 16    # inlined ops of an rng key (every thread computes it) before it is a root


@dataclass(eq=False)
class FusedGroup:
    """One generated kernel: `roots` computed over one iteration space."""
    eqns: list                  # every equation the kernel evaluates, in jaxpr order
    in_vars: list               # Vars read from memory (kernel arguments, in order)
    out_vars: list              # Vars written to memory (kernel outputs, in order)
    roots: list                 # Vars computed at the output index (reductions first)
    shape: tuple                # the output index space
    reduce: tuple | None = None  # (operand shape, axes) of a reduction group, None for a loop
    position: int = 0
    passes: dict = field(default_factory=dict)  # reduction root -> pass (0: reads no root)
    row_roots: list = field(default_factory=list)  # roots over the reduction's operand shape
    pre_roots: list = field(default_factory=list)  # ... computed in the first pass's loop
    special: str | None = None  # one of SPECIAL_KINDS: a group of that one root (+ epilogue)
    side_roots: list = field(default_factory=list)  # written once, not at the output index

    @property
    def kind(self) -> str:
        return self.special or ("loop" if self.reduce is None else "reduce")


@dataclass(eq=False)
class LibraryStep:
    """One equation run by the backend's library table."""
    eqn: object
    position: int = 0


Step = FusedGroup | LibraryStep


def classify(eqn, supports: Callable | None = None) -> str | None:
    """'ew', 'view', 'reduce', 'scan', 'scatter', 'window', 'window_scatter', 'tridiag', 'rng'
    for a fusible equation, None for a library step."""
    prim = eqn.primitive
    name = prim.name
    if getattr(prim, "effectful", False) or (
            len(eqn.outvars) != (2 if name in RNG_OPS else 1) and name not in MULTI_OUTPUT_OPS):
        return None
    if supports is not None and not supports(eqn):
        return None
    if name in RNG_OPS:
        return "rng"
    if name in REDUCE_OPS:
        return "view" if trivial_reduction(eqn) else "reduce"
    if name in SCAN_OPS:
        return "scan"
    if name in SCATTER_OPS:
        return "scatter"
    if name in WINDOW_OPS:
        return "window"
    if name in WINDOW_SCATTER_OPS:
        return "window_scatter"
    if name in TRIDIAG_OPS:
        return "tridiag"
    if name in VIEW_OPS:
        return "view"
    if getattr(prim, "elementwise", False):
        return "ew"
    return None


def trivial_reduction(eqn) -> bool:
    """A reduction over extent-1 axes only: a reshape, fused as a view."""
    if eqn.primitive.name in ("argmax", "argmin"):
        return False
    shape = eqn.invars[0].aval.shape
    return all(shape[a] == 1 for a in eqn.params["axes"])


def _is_var(x) -> bool:
    return not isinstance(x, Literal)


def plan(jaxpr, supports: Callable | None = None) -> list:
    """Partition `jaxpr` (a Jaxpr or ClosedJaxpr) into FusedGroup / LibraryStep, in order.

    `supports(eqn) -> bool` says whether code generation handles an equation (default: the
    code generator's own rule); refused equations become library steps."""
    if supports is None:
        from plax_cupy.codegen import supports
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    kind = {id(e): classify(e, supports) for e in jaxpr.eqns}
    eqns = _live(jaxpr, kind)
    producer = {v: e for e in eqns if kind[id(e)] is not None for v in e.outvars}
    uses: dict = {}
    for e in eqns:
        for x in e.invars:
            if _is_var(x):
                uses.setdefault(x, []).append(e)
    outs = {v for v in jaxpr.outvars if _is_var(v)}
    index = {id(e): i for i, e in enumerate(eqns)}

    roots = _choose_roots(eqns, kind, producer, uses, outs)
    steps: list = []
    pos_of: dict = {}       # materialised Var -> step position that produces it
    group_of: dict = {}     # root Var -> its FusedGroup
    for e in eqns:
        k = kind[id(e)]
        if k is None:
            steps.append(LibraryStep(e, len(steps)))
            for v in e.outvars:
                pos_of[v] = len(steps) - 1
            continue
        v = e.outvars[0]
        if v not in roots:
            continue
        if k in SPECIAL_KINDS:  # its own kernel, its operands' producers inlined
            g = FusedGroup([], [], [], [], _space_shape(e, k), None, len(steps), special=k)
            steps.append(g)
            for r in e.outvars:  # one root per result (the generic reduce_window's several)
                g.roots.append(r)
                group_of[r] = g
                pos_of[r] = g.position
            if k == "rng":  # the new key: a side root, written once by thread 0
                g.side_roots = list(e.outvars[:-1])
            continue
        g, role, deps = _find_group(steps, e, k, v, producer, roots, pos_of, group_of)
        if g is None:
            g = FusedGroup([], [], [], [], _space_shape(e, k), _reduce_space(e, k), len(steps))
            steps.append(g)
            role = "reduce" if k == "reduce" else "loop"
        if role == "reduce":
            g.passes[v] = 1 + max([g.passes[d] for d in deps if d in g.passes], default=-1)
        elif role == "row":
            g.row_roots.append(v)
        g.roots.append(v)
        group_of[v] = g
        pos_of[v] = g.position
    for g in steps:
        if isinstance(g, FusedGroup):
            _finish(g, producer, roots, group_of, uses, outs, kind, index)
    return steps


def _live(jaxpr, kind) -> list:
    """The equations whose results are needed (dead fusible equations are dropped; library
    equations are kept: they may have effects the backend must run)."""
    live = {v for v in jaxpr.outvars if _is_var(v)}
    keep = []
    for e in reversed(jaxpr.eqns):
        if kind[id(e)] is None or any(v in live for v in e.outvars):
            keep.append(e)
            live.update(x for x in e.invars if _is_var(x))
    return keep[::-1]


def _choose_roots(eqns, kind, producer, uses, outs) -> set:
    roots = set()
    cost: dict = {}
    for e in eqns:
        k = kind[id(e)]
        if k is None:
            for x in e.invars:
                if x in producer:
                    roots.add(x)
            continue
        v = e.outvars[0]
        if k == "reduce" or k in SPECIAL_KINDS or v in outs:
            roots.update(e.outvars)
        key = e.invars[0] if k == "rng" else None
        if key is not None and _is_var(key) and key in producer and \
                cost.get(key, 1) > RNG_KEY_LIMIT:
            roots.add(key)
        c = 1
        for x in e.invars:
            if _is_var(x) and x in producer and x not in roots:
                c += cost.get(x, 1)
        for o in e.outvars:
            cost[o] = c
        n_users = len(uses.get(v, ()))
        if n_users > 1 and c > RECOMPUTE_LIMIT:
            roots.add(v)
            cost[v] = 1
    return roots


def _sig(shape, sig):
    """An index signature: per dimension ("o", j) (the j-th output index), ("r", j) (the j-th
    reduced index), "0", or None (anything else). Extent-1 dimensions read index 0."""
    return tuple("0" if d == 1 else t for d, t in zip(shape, sig))


def _out_sig(shape):
    return _sig(shape, [("o", j) for j in range(len(shape))])


def _full_sig(g):
    return _full_sig_of(g.reduce)


def _full_sig_of(reduce):
    shape_in, axes = reduce
    kept, red = iter(range(len(shape_in))), iter(range(len(axes)))
    return _sig(shape_in, [("r", next(red)) if d in axes else ("o", next(kept))
                           for d in range(len(shape_in))])


def _operand_sig(e, a, sig, k=0):
    """The signature at which `e` reads operand `a` (its `k`-th) when its result is read at
    `sig`."""
    name, p = e.primitive.name, e.params
    shp, out = a.aval.shape, e.outvars[0].aval.shape
    if not shp:
        return ()
    if name in REDUCE_OPS:  # trivial (extent-1) reductions only
        it = iter(sig)
        src = ["0" if d in p["axes"] else next(it) for d in range(len(shp))]
    elif name == "broadcast_in_dim":
        src = [sig[b] for b in p["broadcast_dimensions"]]
    elif name == "transpose":
        src = [None] * len(shp)
        for i, q in enumerate(p["permutation"]):
            src[q] = sig[i]
    elif name == "squeeze":
        dims = {d % len(shp) for d in p["dimensions"]}
        it = iter(sig)
        src = ["0" if d in dims else next(it) for d in range(len(shp))]
    elif name == "reshape":
        src = [None] * len(shp)
        ins = [i for i, d in enumerate(shp) if d != 1]
        outs = [i for i, d in enumerate(out) if d != 1]
        if p.get("dimensions") is None and [shp[i] for i in ins] == [out[i] for i in outs]:
            for i, o in zip(ins, outs):
                src[i] = sig[o]
    elif name == "gather":  # the operand at data-dependent positions, the indices per batch
        if k == 0:
            src = [None] * len(shp)
        else:
            offset = set(p["dimension_numbers"].offset_dims)
            src = [t for d, t in enumerate(sig) if d not in offset] + [None]
    elif name == "dynamic_update_slice":
        if k == 0:
            src = list(sig)
        else:  # the update, shifted by its start unless it spans the dimension
            src = [t if shp[d] == out[d] else None for d, t in enumerate(sig)]
    elif name in WINDOW_OPS or name in WINDOW_SCATTER_OPS or name in TRIDIAG_OPS:  # roots
        src = [None] * len(shp)
    elif name in ("rev", "slice", "pad", "concatenate", "dynamic_slice"):
        src = [t if _keeps_dim(e, d) else None for d, t in enumerate(sig)]
    else:  # elementwise, with lax's implicit broadcasting of extent-1 dimensions
        src = list(sig)
    return _sig(shp, src)


def _keeps_dim(e, d) -> bool:
    name, p = e.primitive.name, e.params
    if name == "rev":
        return d not in p["dimensions"]
    if name == "slice":
        return (p["start_indices"][d] == 0 and (p.get("strides") or [1] * (d + 1))[d] == 1
                and p["limit_indices"][d] == e.outvars[0].aval.shape[d])
    if name == "pad":
        return tuple(p["padding_config"][d]) == (0, 0, 0)
    if name == "dynamic_slice":  # a full-extent window always starts at 0
        return p["slice_sizes"][d] == e.invars[0].aval.shape[d]
    return d != p["dimension"]


def _reads(v, start, producer, roots) -> dict:
    """{materialised Var: the signatures at which root `v`'s expression reads it}, `v` read at
    signature `start`."""
    deps: dict = {}
    seen = set()
    stack = [(v, start)]
    while stack:
        x, sig = stack.pop()
        if (x, sig) in seen:
            continue
        seen.add((x, sig))
        e = producer[x]
        for k, a in enumerate(e.invars):
            if not _is_var(a):
                continue
            asig = _operand_sig(e, a, sig, k)
            if a in producer and a not in roots:
                stack.append((a, asig))
            else:
                deps.setdefault(a, set()).add(asig)
    return deps


def _space_shape(e, k):
    return tuple(e.outvars[-1].aval.shape)  # rng: the bits' shape


def _reduce_space(e, k):
    if k != "reduce":
        return None
    return (tuple(e.invars[0].aval.shape), tuple(sorted(e.params["axes"])))


def _find_group(steps, e, k, v, producer, roots, pos_of, group_of):
    """(group, role, deps) of the latest group root `v` can join, or (None, None, deps)."""
    shape, red = _space_shape(e, k), _reduce_space(e, k)
    deps: list = []
    for g in reversed(steps):
        if not isinstance(g, FusedGroup) or len(g.roots) >= MAX_ROOTS:
            continue
        role = _role(g, k, shape, red)
        if role is None:
            continue
        if k == "reduce":  # the reduction's operand is read at the full index
            reads = _reads_operand(e, _full_sig_of(red), producer, roots)
        else:
            reads = _reads(v, _full_sig(g) if role == "row" else _out_sig(shape), producer, roots)
        deps = list(reads)
        if all(_may_read(g, role, d, sigs, pos_of, group_of, red)
               for d, sigs in reads.items()):
            if role == "absorb":  # the loop's roots become the first pass's pre-roots
                g.pre_roots, g.reduce, g.shape, role = list(g.roots), red, shape, "reduce"
            return g, role, deps
    return None, None, deps


def _reads_operand(e, sig, producer, roots) -> dict:
    x = e.invars[0]
    if x in producer and x not in roots:
        return _reads(x, sig, producer, roots)
    return {x: {sig}}


def _role(g, k, shape, red):
    if g.special:  # a scan's, window's or rng's elementwise epilogue, where each value is stored
        ok = g.special in ("scan", "window", "rng") and k != "reduce" and g.shape == shape
        return "special_epilogue" if ok else None
    if k == "reduce":
        if g.reduce == red:
            return "reduce"
        # a loop over the reduction's operand shape: the reduction joins it (XLA's multi-output
        # fusion of an elementwise producer with the reduction of its result)
        return "absorb" if g.reduce is None and g.shape == red[0] else None
    if g.reduce is None:
        return "loop" if g.shape == shape else None
    if g.shape == shape:
        return "epilogue"
    return "row" if g.reduce[0] == shape else None


def _may_read(g, role, d, sigs, pos_of, group_of, red) -> bool:
    """May a root of `role` in `g` read `d` at `sigs`? Values of earlier steps always; values
    of `g` itself only where the kernel has them: reduction results and epilogues at the
    output index (a reduction only reads earlier passes' results), row and pre-roots at the
    row index (an absorbed loop's roots at its own index)."""
    if group_of.get(d) is not g:
        return pos_of.get(d, -1) < g.position
    if d in g.side_roots:  # rng's new key: not at the output index
        return False
    if role == "absorb":
        return sigs == {_full_sig_of(red)}
    if d in g.row_roots:
        return role == "row" and sigs == {_full_sig(g)}
    if d in g.pre_roots:
        return role in ("row", "reduce") and sigs == {_full_sig(g)}
    if role == "reduce" and d not in g.passes:
        return False
    return sigs == {_out_sig(d.aval.shape)}


def _finish(g, producer, roots, group_of, uses, outs, kind, index):
    """Fill the group's equations, inputs and outputs from its roots."""
    needed: dict = {}
    ins: dict = {}
    stack = list(reversed(g.roots))
    while stack:
        e = producer[stack.pop()]
        if id(e) in needed:
            continue
        needed[id(e)] = e
        for a in e.invars:
            if not _is_var(a):
                continue
            if a in producer and (a not in roots or group_of.get(a) is g):
                stack.append(a)
            else:
                ins[a] = None
    g.eqns = sorted(needed.values(), key=lambda e: index[id(e)])
    g.in_vars = list(ins)
    # reductions first: their loop runs before the epilogue
    g.roots.sort(key=lambda r: (kind[id(producer[r])] != "reduce", r.count))
    g.out_vars = [r for r in g.roots if r in outs or _read_outside(r, g, uses, producer,
                                                                     group_of, roots)]


def _read_outside(r, g, uses, producer, group_of, roots) -> bool:
    """Is root `r` read by a step other than its own group (directly or through inlining)?"""
    seen = set()
    stack = [r]
    while stack:
        x = stack.pop()
        for e in uses.get(x, ()):
            o = e.outvars[0] if len(e.outvars) == 1 else None
            if o is None or o not in producer:
                return True  # a library step
            if o in roots:
                if group_of.get(o) is not g:
                    return True
            elif id(o) not in seen:
                seen.add(id(o))
                stack.append(o)
    return False


def describe(steps) -> str:
    """A short text of the plan (for lower_text and debugging)."""
    lines = []
    for s in steps:
        if isinstance(s, LibraryStep):
            lines.append(f"library {s.eqn.primitive.name}")
        else:
            ops = " ".join(e.primitive.name for e in s.eqns)
            lines.append(f"kernel[{s.kind} {s.shape}] {len(s.in_vars)} in -> "
                         f"{len(s.out_vars)} out: {ops}")
    return "\n".join(lines)
