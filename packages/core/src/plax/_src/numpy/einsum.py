"""einsum: Einstein summation over any number of operands, contracted pairwise with
lax.dot_general. Repeated labels in one operand take diagonals, labels used once are summed
first, size-1 dimensions broadcast, and the pair order is chosen greedily (smallest
intermediate first) or follows an explicit path given as `optimize`.
"""

from __future__ import annotations

import math
import string
from typing import Any

from plax import lax
from plax._src import dtypes
from plax._src.numpy import shape as shape_ops
from plax._src.numpy.util import check_arraylike, ensure_array, promote_dtypes

__all__ = ["einsum", "einsum_path"]

_LETTERS = string.ascii_letters


def _parse_term(term: str, where: str) -> list:
    """A subscript term as a list of letters with at most one '...' entry."""
    if term.count("...") > 1:
        raise ValueError(f"einsum: more than one ellipsis in {where} term {term!r}")
    out, rest = [], term
    while rest:
        if rest.startswith("..."):
            out.append("...")
            rest = rest[3:]
        elif rest[0] in _LETTERS:
            out.append(rest[0])
            rest = rest[1:]
        else:
            raise ValueError(f"einsum: invalid subscript {rest[0]!r} in {where} term {term!r}; "
                             "use letters a-z, A-Z and '...'")
    return out


def _from_sublists(args: tuple) -> tuple[str, list]:
    """The interleaved form einsum(op0, sub0, op1, sub1, ..., [sub_out])."""
    ops, subs = list(args[0::2]), list(args[1::2])
    out_sub = None
    if len(args) % 2 == 1:
        out_sub = ops.pop()

    def letters(sub):
        s = ""
        for i in sub:
            if i is Ellipsis:
                s += "..."
            elif isinstance(i, int) and 0 <= i < len(_LETTERS):
                s += _LETTERS[i]
            else:
                raise ValueError(f"einsum: sublist entries must be ints in [0, 52) or Ellipsis, "
                                 f"got {i!r}")
        return s

    spec = ",".join(letters(s) for s in subs)
    if out_sub is not None:
        spec += "->" + letters(out_sub)
    return spec, ops


def _labels(spec: str, operands: list) -> tuple[list, list]:
    """Per-operand label lists (ellipsis dims become labels (0,), (1,), ... right-aligned)
    and the output label list."""
    spec = spec.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the subscripts {spec!r} name {len(terms)} operands but "
                         f"{len(operands)} were given")
    parsed = [_parse_term(t, "input") for t in terms]
    ell_ranks = []
    for t, op in zip(parsed, operands):
        named = len([x for x in t if x != "..."])
        if "..." in t:
            if op.ndim < named:
                raise ValueError(f"einsum: operand of shape {op.shape} has fewer dimensions "
                                 f"than the subscripts {''.join(t)!r} name")
            ell_ranks.append(op.ndim - named)
        else:
            if op.ndim != named:
                raise ValueError(f"einsum: operand of shape {op.shape} has {op.ndim} dimensions "
                                 f"but its subscripts {''.join(t)!r} name {named}")
            ell_ranks.append(0)
    E = max(ell_ranks, default=0)
    in_labels = []
    for t, e in zip(parsed, ell_ranks):
        labs = []
        for x in t:
            labs.extend([(k,) for k in range(E - e, E)] if x == "..." else [x])
        in_labels.append(labs)
    if arrow:
        out_t = _parse_term(rhs, "output")
        out = []
        for x in out_t:
            out.extend([(k,) for k in range(E)] if x == "..." else [x])
        seen = set()
        all_in = {lab for labs in in_labels for lab in labs}
        for lab in out:
            if lab in seen:
                raise ValueError(f"einsum: output subscript {lab!r} appears more than once")
            if isinstance(lab, str) and lab not in all_in:
                raise ValueError(f"einsum: output subscript {lab!r} does not appear in the "
                                 "inputs")
            seen.add(lab)
    else:  # implicit output: ellipsis dims, then the letters used exactly once, sorted
        counts: dict = {}
        for labs in in_labels:
            for lab in labs:
                counts[lab] = counts.get(lab, 0) + 1
        out = [(k,) for k in range(E)] + sorted(
            lab for lab, c in counts.items() if isinstance(lab, str) and c == 1)
    return in_labels, out


def _sum_dims(x, axes: tuple):
    if not axes:
        return x
    if x.dtype == dtypes.bool_:
        return lax.reduce_or(x, axes)
    return lax.reduce_sum(x, axes)


def _take_diagonals(x, labs: list):
    """Repeated labels within one operand select its diagonal (as NumPy)."""
    while len(set(labs)) != len(labs):
        lab = next(lab for lab in labs if labs.count(lab) > 1)
        i = labs.index(lab)
        j = labs.index(lab, i + 1)
        if x.shape[i] != x.shape[j]:
            raise ValueError(f"einsum: repeated subscript {_show(lab)!r} has sizes "
                             f"{x.shape[i]} and {x.shape[j]} in one operand")
        x = shape_ops.diagonal(x, 0, i, j)
        labs = [lb for k, lb in enumerate(labs) if k not in (i, j)] + [lab]
    return x, labs


def _show(lab) -> str:
    return lab if isinstance(lab, str) else "..."


def _contract_pair(a, la, b, lb, keep: set, precision, pet):
    """dot_general over the labels shared by a and b: kept ones are batch dims, the others
    are contracted. Labels of one side that are not kept are summed out first."""
    for x_is_a in (True, False):
        x, lx, other = (a, la, lb) if x_is_a else (b, lb, la)
        gone = tuple(i for i, lab in enumerate(lx) if lab not in keep and lab not in other)
        if gone:
            x = _sum_dims(x, gone)
            lx = [lab for i, lab in enumerate(lx) if i not in gone]
        if x_is_a:
            a, la = x, lx
        else:
            b, lb = x, lx
    shared = [lab for lab in la if lab in lb]
    batch = [lab for lab in shared if lab in keep]
    contract = [lab for lab in shared if lab not in keep]
    dnums = ((tuple(la.index(lab) for lab in contract), tuple(lb.index(lab) for lab in contract)),
             (tuple(la.index(lab) for lab in batch), tuple(lb.index(lab) for lab in batch)))
    out = lax.dot_general(a, b, dnums, precision=precision, preferred_element_type=pet)
    labels = batch + [lab for lab in la if lab not in shared] + [
        lab for lab in lb if lab not in shared]
    return out, labels


def _greedy_pair(ops: list, out_labels: list, sizes: dict) -> tuple[int, int]:
    best, best_cost = (0, 1), None
    for i in range(len(ops)):
        for j in range(i + 1, len(ops)):
            rest = {lab for k, (_, labs) in enumerate(ops) if k not in (i, j) for lab in labs}
            keep = rest | set(out_labels)
            result = (set(ops[i][1]) | set(ops[j][1])) & keep
            cost = math.prod(sizes[lab] for lab in result)
            if best_cost is None or cost < best_cost:
                best, best_cost = (i, j), cost
    return best


def _explicit_path(optimize) -> list | None:
    if isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path":
        return [tuple(p) for p in optimize[1:]]
    if isinstance(optimize, (list, tuple)) and optimize and all(
            isinstance(p, (list, tuple)) for p in optimize):
        return [tuple(p) for p in optimize]
    return None


def einsum(subscripts: Any, /, *operands: Any, out: None = None, optimize: Any = "auto",
           precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Einstein summation, e.g. einsum('ij,jk->ik', a, b); also the interleaved form
    einsum(a, [0, 1], b, [1, 2], [0, 2]). `optimize` may be any NumPy value: a path (as from
    einsum_path) is followed, anything else uses a greedy order."""
    if out is not None:
        raise NotImplementedError("einsum: the out argument is not supported")
    if isinstance(subscripts, str):
        spec, ops = subscripts, list(operands)
    else:
        spec, ops = _from_sublists((subscripts,) + operands)
    if not ops:
        raise ValueError("einsum: at least one operand is required")
    check_arraylike("einsum", *ops)
    ops = [ensure_array(o) for o in promote_dtypes(*ops)]
    dt = ops[0].dtype
    pet = dt if preferred_element_type is None else dtypes.canonicalize_dtype(
        preferred_element_type)
    in_labels, out_labels = _labels(spec, ops)

    # global sizes, with size-1 dimensions broadcasting
    sizes: dict = {}
    for op, labs in zip(ops, in_labels):
        for n, lab in zip(op.shape, labs):
            prev = sizes.get(lab)
            if prev is None or prev == 1:
                sizes[lab] = n
            elif n not in (1, prev):
                raise ValueError(f"einsum: subscript {_show(lab)!r} has size {n} in one operand "
                                 f"and {prev} in another")

    work = []
    for op, labs in zip(ops, in_labels):
        op, labs = _take_diagonals(op, list(labs))
        # a size-1 dimension that broadcasts is the operand not depending on that label
        squeeze = tuple(i for i, lab in enumerate(labs) if op.shape[i] == 1 and sizes[lab] != 1)
        if squeeze:
            op = lax.squeeze(op, squeeze)
            labs = [lab for i, lab in enumerate(labs) if i not in squeeze]
        work.append((op, labs))
    # labels appearing in a single operand and not in the output are summed right away
    for k, (op, labs) in enumerate(work):
        others = {lab for m, (_, ls) in enumerate(work) if m != k for lab in ls}
        gone = tuple(i for i, lab in enumerate(labs) if lab not in others
                     and lab not in out_labels)
        if gone:
            work[k] = (_sum_dims(op, gone), [lab for i, lab in enumerate(labs) if i not in gone])

    path = _explicit_path(optimize)
    while len(work) > 1:
        if path:
            i, j = sorted(path.pop(0))
        else:
            i, j = _greedy_pair(work, out_labels, sizes)
        (a, la), (b, lb) = work[i], work[j]
        rest = [w for k, w in enumerate(work) if k not in (i, j)]
        keep = {lab for _, labs in rest for lab in labs} | set(out_labels)
        res = _contract_pair(a, la, b, lb, keep, precision, pet)
        work = rest + [res]
    result, labs = work[0]
    gone = tuple(i for i, lab in enumerate(labs) if lab not in out_labels)
    if gone:
        result = _sum_dims(result, gone)
        labs = [lab for i, lab in enumerate(labs) if i not in gone]
    missing = [lab for lab in out_labels if lab not in labs]
    if missing:  # output labels of size 1 that every operand broadcast away
        result = lax.expand_dims(result, tuple(range(len(missing))))
        labs = missing + labs
    result = lax.transpose(result, tuple(labs.index(lab) for lab in out_labels))
    return lax._convert_element_type(result, pet, False)


def einsum_path(subscripts: Any, *operands: Any, optimize: Any = "greedy") -> tuple:
    """The greedy contraction order einsum uses, as NumPy's ('einsum_path', (i, j), ...) list,
    and a short description."""
    if isinstance(subscripts, str):
        spec, ops = subscripts, list(operands)
    else:
        spec, ops = _from_sublists((subscripts,) + operands)
    ops = [ensure_array(o) for o in ops]
    in_labels, out_labels = _labels(spec, ops)
    sizes: dict = {}
    for op, labs in zip(ops, in_labels):
        for n, lab in zip(op.shape, labs):
            sizes[lab] = max(sizes.get(lab, 1), n)
    work = [(None, list(labs)) for labs in in_labels]
    path = ["einsum_path"]
    while len(work) > 1:
        i, j = _greedy_pair(work, out_labels, sizes)
        rest = [w for k, w in enumerate(work) if k not in (i, j)]
        keep = {lab for _, labs in rest for lab in labs} | set(out_labels)
        merged = [lab for lab in dict.fromkeys(work[i][1] + work[j][1]) if lab in keep]
        work = rest + [(None, merged)]
        path.append((i, j))
    return path, f"greedy contraction order for {spec!r}: {path[1:]}"
