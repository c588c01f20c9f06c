"""Solves with implicitly defined derivatives, as jax.lax: `custom_linear_solve` (a primitive,
`custom_linear_solve`, carrying the traced matvec, its transpose, solve and transpose_solve)
and `custom_root` (a custom_jvp function over the traced f, solve and tangent solve).

The primitive runs its `solve` jaxpr on every backend. Its rules (plax-transforms): the jvp is
another solve, of (db - dA x); the transpose is a solve of the transposed system (vecmat with
transpose_solve); the batching rule batches all four jaxprs consistently. A function closing
over values gets them as leading operands, so derivatives reach them too.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from plax._src.core import ClosedJaxpr, Primitive, ShapedArray, get_aval
from plax._src.lax.control_flow import _trace_flat
from plax._src.registry import add_abstract_eval
from plax._src.tree_util import tree_flatten, tree_leaves, tree_structure, tree_unflatten

__all__ = ["custom_linear_solve", "custom_root", "linear_solve_p"]

linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)


class LinearSolveTuple(NamedTuple):
    """One entry per function of a linear solve (jaxprs, const counts, operand lists)."""
    matvec: Any
    vecmat: Any
    solve: Any
    transpose_solve: Any

    def transpose(self) -> "LinearSolveTuple":
        return type(self)(self.vecmat, self.matvec, self.transpose_solve, self.solve)


def split_linear_solve_args(args, const_lengths: LinearSolveTuple):
    """(LinearSolveTuple of const lists, the b leaves) of a linear_solve_p operand list."""
    args, parts, start = list(args), [], 0
    for n in const_lengths:
        parts.append(args[start:start + n])
        start += n
    return LinearSolveTuple(*parts), args[start:]


def _check_tree(func_name: str, expected_name: str, actual_tree, expected_tree,
                has_aux: bool = False):
    if has_aux:
        children = actual_tree.children()
        if len(children) != 2:
            raise ValueError(f"{func_name}() produced a pytree with structure {actual_tree}, "
                             "but a pytree tuple with auxiliary output was expected because "
                             "has_aux was set to True.")
        actual_tree = children[0]
    if actual_tree != expected_tree:
        raise TypeError(f"{func_name}() output pytree structure must match {expected_name}, "
                        f"got {actual_tree} and {expected_tree}.")


def _check_shapes(func_name: str, expected_name: str, actual, expected):
    actual_shapes = [tuple(get_aval(x).shape) for x in actual]
    expected_shapes = [tuple(get_aval(x).shape) for x in expected]
    if actual_shapes != expected_shapes:
        raise ValueError(f"{func_name}() output shapes must match {expected_name}, got "
                         f"{actual_shapes} and {expected_shapes}")


def _traced(fun: Callable, in_tree, avals, name: str):
    """(const-free ClosedJaxpr over consts + leaves, consts, output tree)."""
    return _trace_flat(fun, in_tree, avals, name)


def custom_linear_solve(matvec: Callable, b: Any, solve: Callable, transpose_solve=None,
                        symmetric: bool = False, has_aux: bool = False):
    """solve(matvec, b), differentiated implicitly as the solution x of matvec(x) == b (not
    through `solve`): its jvp solves for (db - dmatvec x), its transpose solves the transposed
    system with `transpose_solve(vecmat, ct)` (vecmat: the transpose of matvec, by
    linear_transpose; with symmetric=True matvec itself, and `solve` stands in for a missing
    transpose_solve). With has_aux, solve (and transpose_solve) return (x, aux)."""
    if transpose_solve is None and symmetric:
        transpose_solve = solve
    b_leaves, tree = tree_flatten(b)
    b_avals = [get_aval(x) for x in b_leaves]
    in_tree = tree_structure((b,))

    def shape_checked(fun: Callable, name: str, aux: bool) -> Callable:
        def f(x):
            y = fun(x)
            _check_shapes(name, "b", tree_leaves(y), b_leaves)
            return y

        def f_aux(x):
            y, aux_out = fun(x)
            _check_shapes(name, "b", tree_leaves(y), b_leaves)
            return y, aux_out
        return f_aux if aux else f

    matvec_jaxpr, matvec_consts, out_tree = _traced(
        shape_checked(matvec, "matvec", False), in_tree, b_avals, "custom_linear_solve matvec")
    _check_tree("matvec", "b", out_tree, tree)
    solve_jaxpr, solve_consts, solve_tree = _traced(
        shape_checked(lambda x: solve(matvec, x), "solve", has_aux), in_tree, b_avals,
        "custom_linear_solve solve")
    _check_tree("solve", "b", solve_tree, tree, has_aux)

    if transpose_solve is None:
        vecmat_jaxpr = tr_solve_jaxpr = None
        vecmat_consts, tr_solve_consts = [], []
    else:
        if symmetric:
            vecmat = matvec
            vecmat_jaxpr, vecmat_consts = matvec_jaxpr, matvec_consts
        else:
            import plax
            transposed = plax.linear_transpose(matvec, b)

            def vecmat(x):
                return transposed(x)[0]
            vecmat_jaxpr, vecmat_consts, _ = _traced(vecmat, in_tree, b_avals,
                                                     "custom_linear_solve vecmat")
        tr_solve_jaxpr, tr_solve_consts, tr_tree = _traced(
            shape_checked(lambda x: transpose_solve(vecmat, x), "transpose_solve", has_aux),
            in_tree, b_avals, "custom_linear_solve transpose_solve")
        _check_tree("transpose_solve", "b", tr_tree, tree, has_aux)

    all_consts = [matvec_consts, vecmat_consts, solve_consts, tr_solve_consts]
    const_lengths = LinearSolveTuple(*(len(c) for c in all_consts))
    jaxprs = LinearSolveTuple(matvec_jaxpr, vecmat_jaxpr, solve_jaxpr, tr_solve_jaxpr)
    outs = linear_solve_p.bind(*[c for cs in all_consts for c in cs], *b_leaves,
                               const_lengths=const_lengths, jaxprs=jaxprs)
    return tree_unflatten(solve_tree, outs)


def _linear_solve_abstract_eval(*avals, const_lengths, jaxprs):
    b_avals = list(avals[sum(const_lengths):])
    num_aux = len(jaxprs.solve.out_avals) - len(jaxprs.matvec.out_avals)
    aux = list(jaxprs.solve.out_avals[len(jaxprs.solve.out_avals) - num_aux:]) if num_aux else []
    return [ShapedArray(a.shape, a.dtype, a.weak_type) for a in b_avals] + aux


add_abstract_eval(linear_solve_p, _linear_solve_abstract_eval)


def run_solve(args, const_lengths, jaxprs, run: Callable):
    """What linear_solve_p computes: the solve jaxpr on its consts and b (`run(closed, args)`
    runs a const-free ClosedJaxpr on a backend's values)."""
    params, b = split_linear_solve_args(args, const_lengths)
    return run(jaxprs.solve, [*params.solve, *b])


# ---------------------------------------------------------------------------------------------
# custom_root


def custom_root(f: Callable, initial_guess: Any, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False):
    """solve(f, initial_guess): a root of f, differentiated by the implicit function theorem
    with respect to the values f closes over: the tangent is -tangent_solve(g, df) with g the
    linearization of f at the solution and df f's tangent there. With has_aux, solve returns
    (root, aux) and aux gets zero tangents."""
    guess_leaves, guess_tree = tree_flatten(initial_guess)
    guess_avals = [get_aval(x) for x in guess_leaves]
    in_tree = tree_structure((initial_guess,))
    f_jaxpr, f_consts, out_tree = _traced(f, in_tree, guess_avals, "custom_root f")
    _check_tree("f", "initial_guess", out_tree, guess_tree)
    solve_jaxpr, solve_consts, solution_tree = _traced(
        lambda x: solve(f, x), in_tree, guess_avals, "custom_root solve")
    _check_tree("solve", "initial_guess", solution_tree, guess_tree, has_aux)

    def linearize_and_solve(x, b):
        import plax
        _, f_jvp = plax.linearize(f, x)
        return tangent_solve(f_jvp, b)

    ls_jaxpr, ls_consts, ls_tree = _traced(
        linearize_and_solve, tree_structure((initial_guess, initial_guess)),
        guess_avals + guess_avals, "custom_root tangent_solve")
    _check_tree("tangent_solve", "x", ls_tree, guess_tree)
    outs = _custom_root_call(f_jaxpr, solve_jaxpr, ls_jaxpr, len(f_consts), len(solve_consts),
                             len(ls_consts), [*f_consts, *solve_consts, *ls_consts],
                             guess_leaves)
    return tree_unflatten(solution_tree, outs)


def _eval(closed: ClosedJaxpr, args) -> list:
    from plax._src.core import eval_jaxpr
    return list(eval_jaxpr(closed.jaxpr, closed.consts, *args))


def _custom_root_call(f_jaxpr, solve_jaxpr, ls_jaxpr, nf, ns, nl, consts, guess):
    """The solve as a custom_jvp function of (consts, guess): JAX's implicit jvp."""
    import plax
    from plax._src import dtypes

    n_sol = len(f_jaxpr.out_avals)

    def split(args):
        return (list(args[:nf]), list(args[nf:nf + ns]), list(args[nf + ns:nf + ns + nl]),
                list(args[nf + ns + nl:]))

    def root(*args):
        _, sc, _, g = split(args)
        return _eval(solve_jaxpr, [*sc, *g])

    root = plax.custom_jvp(root)

    def root_jvp(primals, tangents):
        fc, _, lc, _ = split(primals)
        fct = split(tangents)[0]
        sol = root(*primals)
        solution, aux = sol[:n_sol], sol[n_sol:]
        # F(m, u*(m)) = 0  =>  du* = -(d_u F)^-1 (d_m F [dm]); only inexact consts move
        diff = [i for i, c in enumerate(fc) if dtypes.is_inexact(get_aval(c).dtype)]

        def f_at_solution(*dc):
            full = list(fc)
            for i, v in zip(diff, dc):
                full[i] = v
            return _eval(f_jaxpr, [*full, *solution])

        _, rhs = plax.jvp(f_at_solution, [fc[i] for i in diff], [fct[i] for i in diff])
        sol_dot = [plax.lax.neg(t) for t in _eval(ls_jaxpr, [*lc, *solution, *rhs])]
        zeros = [plax.lax.full(get_aval(a).shape, 0, get_aval(a).dtype) for a in aux]
        return sol, [*sol_dot, *zeros]

    root.defjvp(root_jvp)
    return root(*consts, *guess)
