"""Control flow and call primitives as host-driven loops over device work.

cond reads its index (one sync), while_loop reads its predicate once per iteration (one sync
each), scan runs `length` steps with no sync at all: xs are sliced and ys written on the
device. jit, custom_jvp_call, custom_vjp_call and checkpoint (remat2) run their jaxpr as a
compiled program of this backend (planned and fused like any other), cached per jaxpr."""

from __future__ import annotations

from plax_cupy import xp as X

_JVP_OF_CUSTOM_VJP = "can't apply forward-mode autodiff (jvp) to a custom_vjp function."


def control_rules(program) -> dict:
    """{primitive name: rule(*xp_arrays, **params)}; `program(closed_jaxpr)` gives the cached
    executable of a sub-jaxpr."""

    def cond(index, *args, branches):
        # the index is clamped by switch already; clip anyway, as XLA's conditional does
        i = min(max(int(X.to_numpy(index)), 0), len(branches) - 1)
        return program(branches[i])(list(args))

    def while_(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
        cc = list(args[:cond_nconsts])
        bc = list(args[cond_nconsts:cond_nconsts + body_nconsts])
        carry = list(args[cond_nconsts + body_nconsts:])
        pred, body = program(cond_jaxpr), program(body_jaxpr)
        while bool(X.to_numpy(pred(cc + carry)[0])):
            carry = body(bc + carry)
        return carry

    def scan(*args, jaxpr, length, reverse, unroll, num_consts, num_carry, **_):
        consts = list(args[:num_consts])
        carry = list(args[num_consts:num_consts + num_carry])
        xs = args[num_consts + num_carry:]
        body = program(jaxpr)
        ys = [X.empty((length, *a.shape), a.dtype) for a in jaxpr.out_avals[num_carry:]]
        for step in range(length):
            i = length - 1 - step if reverse else step
            out = body(consts + carry + [x[i] for x in xs])
            carry = out[:num_carry]
            for y, o in zip(ys, out[num_carry:]):
                y[i] = o
        return carry + ys

    def call(param: str):
        def rule(*args, **params):
            return program(params[param])(list(args))
        return rule

    def linear_solve(*args, const_lengths, jaxprs):
        # custom_linear_solve runs its solve jaxpr (operands: the four functions' consts, b)
        n = const_lengths
        start = n.matvec + n.vecmat
        return program(jaxprs.solve)(list(args[start:start + n.solve])
                                     + list(args[sum(n):]))

    def custom_lin(*args, **params):
        # custom_lin is transposed in reverse mode and never runs; it runs only when forward
        # mode meets a custom_vjp function, which JAX refuses too
        raise TypeError(_JVP_OF_CUSTOM_VJP)

    return {
        "cond": cond, "while": while_, "scan": scan,
        "jit": call("jaxpr"), "custom_jvp_call": call("call_jaxpr"),
        "custom_vjp_call": call("call_jaxpr"), "remat2": call("jaxpr"),
        "custom_vmap_call": call("call_jaxpr"), "linear_call": call("callee"),
        "custom_lin": custom_lin, "custom_linear_solve": linear_solve,
    }
