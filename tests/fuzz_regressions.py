"""Programs the differential fuzzer found disagreeing (tests/test_fuzz.py runs each one):
name -> (source defining `fn`, input specs [(shape, is_python_scalar)], input seed[, x64])."""

REGRESSIONS: dict[str, tuple[str, list, int]] = {
    # grad of checkpoint around a fori_loop: the checkpoint transpose handed backward_pass a
    # jvp-ed scan whose primal carry (c * c) is not linear ("mul is not linear in both
    # operands at once"); fixed by partially evaluating the checkpoint body before transposing
    "grad-checkpoint-fori (seed 1053)": ("""
def f0(a0, a1):
    v2 = 3 + a0
    v3 = jnp.where(v2 > a0, v2, a0)
    v4 = a0 > a0
    v5 = jnp.where(v4, a0, 0.5 * a0)
    v6 = lax.square(a0)
    v7 = lax.fori_loop(0, 1, lambda i, c: 0.5 * (jnp.sqrt(
        (lax.square((c))) * (lax.square((c))) + 1.0)), v6)
    v8 = jnp.sin(v7)
    return v8

f1 = checkpoint(f0)
f2 = grad(lambda *a: jnp.sum(jnp.sin(f1(*a))))
fn = f2
""", [((), False), ((), False)], 1053),
    "grad-checkpoint-fori (minimal)": ("""
fn = grad(checkpoint(lambda a0: lax.fori_loop(0, 1, lambda i, c: c * c, a0)))
""", [((), False)], 0),
    # x64: a traced int64 index (argmax) beside the static int32 0 of the other dimension
    # reached dynamic_slice as mixed start-index dtypes ("start indices must be integers of
    # one dtype"); fixed by promoting start indices to one dtype, as JAX does
    "x64-argmax-index-jvp (seed 4)": ("""
def f0(a0):
    v1 = a0[jnp.argmax(a0.reshape(2, -1)[:, 0])]
    v2 = a0 + 2.0
    return v2

f1 = lambda *a: jvp(lambda x: f0(x, *a[1:]), (a[0],), (jnp.cos(a[0]),))[1]
f2 = lambda *a: jvp(lambda x: f1(x, *a[1:]), (a[0],), (jnp.cos(a[0]),))[1]
fn = f2
""", [((2, 1), False)], 4, True),
    "x64-argmax-index (minimal)": ("""
fn = lambda a0: a0[jnp.argmax(a0[:, 0])]
""", [((3, 2), False)], 0, True),
    # the zero tangent of an output that does not depend on the input (an int count times a
    # Python float: weakly typed) was strongly typed in plax, weak in JAX; zeros_like_aval
    # keeps the weak type now
    "weak-zero-tangent (minimal)": ("""
fn = lambda a0: jvp(lambda x: 0.5 * jnp.sum(x > 0), (a0,), (a0,))[1]
""", [((2,), False)], 0),
    # the same weak zero under checkpoint and linearize (seed 35202 of the long run and two
    # more): evaluating a jaxpr again read the weak literal 0.5 as a strong NumPy float32, so
    # re-traced programs (checkpoint's jvp, linearize) lost the weak type; eval_jaxpr now
    # reads a weak literal as a weak value (core.literal_value), and linearize's constant
    # tangent comes back as an Array of the literal's type
    "weak-zero-tangent-checkpoint (seed 35202, minimal)": ("""
fn = lambda a0: jvp(checkpoint(lambda x: 0.5 * jnp.sum(x > 0)), (a0,), (a0,))[1]
""", [((2,), False)], 0),
    "weak-zero-tangent-linearize (minimal)": ("""
fn = lambda a0: linearize(lambda x: 0.5 * jnp.sum(x > 0), a0)[1](a0)
""", [((2,), False)], 0),
    "weak-zero-tangent-linearize-checkpoint (minimal)": ("""
fn = lambda a0: linearize(checkpoint(lambda x: 0.5 * jnp.sum(x > 0)), a0)[1](a0)
""", [((2,), False)], 0),
}
