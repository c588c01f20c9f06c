"""The cupy backend as a backend (its host build, PLAX_CUPY_DEVICE=host from conftest): the
plugin and its unavailable reason, the executor over fused groups and library calls, control flow
syncs, donation, lower().as_text(), pmap on one device, device_put between backends. Numbers are
compared with the reference backend; the conformance tests run on it through the `backend`
fixture."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import plax
import plax.extend
import plax.numpy as pnp
from plax import lax

from conftest import assert_close, installed_backends
from helpers import rand

pytestmark = pytest.mark.skipif("cupy" not in installed_backends(),
                                reason="the cupy backend (host build) is not installed here")


def _cupy():
    from plax.extend import registry
    return registry.get_backend("cupy")


def _launches():
    import plax_cupy
    return plax_cupy.launch_count()


def _host_reads():
    from plax_cupy import xp
    return xp.stats["host_reads"]


def test_registered_below_xla_with_every_primitive():
    from plax.extend import registry
    names = registry.backend_names()
    assert names.index("cupy") > names.index("xla") if "xla" in names else True
    b = _cupy()
    import plax.lax.linalg
    lax_prims = {v for m in (lax, plax.lax.linalg) for k, v in vars(m).items()
                 if k.endswith("_p") and isinstance(v, plax.extend.Primitive)}
    assert len(lax_prims) > 140
    missing = [p.name for p in lax_prims if not b.supports(p)]
    assert missing == []
    assert b.kind == plax.config.value("cupy_device")
    assert b.platform == ("cpu" if b.kind == "host" else "gpu")


def test_unavailable_gpu_build_names_the_reason():
    code = ("import plax\n"
            "from plax.extend import registry\n"
            "try:\n"
            "    registry.get_backend('cupy')\n"
            "    print('STARTED')\n"
            "except plax.BackendUnavailableError as e:\n"
            "    print('UNAVAILABLE', e)\n")
    env = {"PLAX_CUPY_DEVICE": "gpu", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120).stdout
    from plax_cupy import xp
    reason = xp.unavailable_reason("gpu")
    if reason is None:  # a GPU machine: the default build starts
        assert "STARTED" in out
    else:
        assert "UNAVAILABLE" in out and "cupy" in out and reason.split(" (")[0] in out
        info = subprocess.run([sys.executable, "-m", "plax", "info"], capture_output=True,
                              text=True, env=env, timeout=120).stdout
        line = [ln for ln in info.splitlines()
                if ln.strip().startswith("cupy ") and "priority=" in ln]
        assert line and "unavailable" in line[0] and reason.split(" (")[0] in line[0]


def test_bad_device_option_is_named():
    from plax_cupy.backend import CupyBackend
    with pytest.raises(ValueError, match="cupy_device"):
        CupyBackend(device="tpu")


def test_jit_mixes_fused_kernels_and_library_calls():
    x, w = rand((16, 32), seed=1), rand((32, 8), seed=2)

    def f(x, w):
        h = pnp.tanh(x) * 2 + pnp.sin(x) ** 2 - pnp.exp(-x)
        y = h @ w
        return pnp.sort(y, axis=0) + 1, y.sum(axis=1)

    fc = plax.jit(f, backend="cupy")
    fc(x, w)
    before = _launches()
    out = fc(x, w)
    launches = _launches() - before
    ref = plax.jit(f, backend="reference")(x, w)
    for a, b in zip(out, ref):
        assert_close(a, b)
    text = fc.lower(x, w).as_text()
    kernels = text.count("fused")
    assert "library dot_general" in text and "library sort" in text
    assert "__global__" in text  # the generated CUDA source is shown
    assert 1 <= launches <= kernels <= 4


def test_fusion_off_runs_every_eqn_as_a_library_call():
    x = rand((4, 5))
    f = plax.jit(lambda x: pnp.exp(x) * 2 + 1, backend="cupy")
    with plax.config.override("cupy_fusion", False):
        before = _launches()
        out = f(x)
        text = f.lower(x).as_text()
        assert _launches() == before
    assert "fused kernels" in text and "0 fused kernels" in text
    assert_close(out, np.exp(x) * 2 + 1)


def test_eager_ops_run_library_rules():
    x = rand((3, 4))
    with plax.default_backend("cupy"):
        y = pnp.cumsum(pnp.exp(x), axis=1)
        assert y.backend == "cupy"
    assert_close(y, np.cumsum(np.exp(x), axis=1))


def test_float_to_int_edges_match_the_reference_eagerly_and_fused():
    """+-inf, NaN, 2**63, 2**64: saturating as XLA, in the library rule and in a kernel."""
    ints = [np.int8, np.uint8, np.int32, np.uint32, np.int64, np.uint64]
    with plax.enable_x64():
        x = np.array([np.inf, -np.inf, np.nan, 2.0**63, -2.0**63 - 4096, 2.0**64, 2.0**64 - 4096,
                      2.0**63 - 1024, -1e30, 255.5, -1.5])
        f = lambda v: [lax.convert_element_type(v, dt) for dt in ints]  # noqa: E731
        want = plax.jit(f, backend="reference")(x)
        fused = plax.jit(f, backend="cupy")(x)
        with plax.default_backend("cupy"):
            eager = f(x)
    for w, a, b in zip(want, fused, eager, strict=True):
        np.testing.assert_array_equal(a, w)
        np.testing.assert_array_equal(b, w)


def test_while_reads_its_predicate_once_per_iteration_and_scan_never():
    f = plax.jit(lambda x: lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 2),
                                          (0, x)), backend="cupy")
    x = rand((3,))
    f(x)
    before = _host_reads()
    n, y = f(x)
    assert _host_reads() - before == 6  # five iterations, six predicate reads
    assert int(n) == 5
    assert_close(y, x * 32)

    def body(c, xi):
        c = c + lax.dynamic_slice(xi, (c.astype(np.int32)[0] % 2,), (1,))
        return c, c * 2
    g = plax.jit(lambda xs: lax.scan(body, pnp.zeros(1), xs), backend="cupy")
    xs = rand((7, 3))
    g(xs)
    before = _host_reads()
    out = g(xs)
    assert _host_reads() == before
    ref = plax.jit(lambda xs: lax.scan(body, pnp.zeros(1), xs), backend="reference")(xs)
    for a, b in zip(out, ref):
        assert_close(a, b)


def test_cond_reads_its_index_once():
    f = plax.jit(lambda p, x: lax.cond(p, lambda x: pnp.sin(x), lambda x: pnp.cos(x), x),
                 backend="cupy")
    x = rand((5,))
    f(True, x)
    before = _host_reads()
    out = f(False, x)
    assert _host_reads() - before == 1
    assert_close(out, np.cos(x))


def test_donated_input_buffer_becomes_an_output():
    x = plax.device_put(rand((8, 8), seed=3), plax.devices("cupy")[0])
    w = plax.device_put(rand((8, 8), seed=4), plax.devices("cupy")[0])
    expect = np.exp(np.asarray(x)) @ np.asarray(w) + 1
    f = plax.jit(lambda x, w: pnp.exp(x) @ w + 1, donate_argnums=(0,), backend="cupy")
    buf = x._buf
    out = f(x, w)
    assert x.is_deleted()
    assert out._buf is buf  # the output was written into the donated buffer
    assert_close(out, expect)
    with pytest.raises(RuntimeError, match="donated"):
        np.asarray(x)


def test_pmap_over_the_one_device_with_collectives():
    xs = rand((1, 3), seed=5)
    with plax.default_backend("cupy"):
        f = plax.pmap(lambda x: x / lax.psum(pnp.sum(x), "i"), axis_name="i")
        out = f(xs)
        idx = plax.pmap(lambda x: lax.axis_index("i") + x * 0, axis_name="i")(
            np.zeros(1, np.int32))
        with pytest.raises(ValueError, match="size 2 needs 2 devices"):
            f(rand((2, 3)))
        # under grad, pmap is a vmap of any size (as on the xla backend)
        g = plax.grad(lambda x: plax.pmap(lambda r: lax.psum(r, "i"), axis_name="i")(x).sum())
        assert_close(g(rand((3, 2))), np.full((3, 2), 3.0))
    assert out.backend == "cupy"
    assert_close(out, xs / xs.sum())
    np.testing.assert_array_equal(np.asarray(idx), [0])


def test_a_third_party_primitive_runs_eagerly_but_not_under_jit():
    from plax.extend import Primitive, registry
    p = Primitive("cupy_test_probe")
    registry.add_abstract_eval(p, lambda a: a)
    registry.add_impl("reference", p, lambda a: a * 2)
    with plax.default_backend("cupy"):
        assert_close(p.bind(pnp.ones(3)), np.full(3, 2.0))
        with pytest.raises(plax.UnsupportedPrimitiveError, match="cupy_test_probe"):
            plax.jit(p.bind)(pnp.ones(3))


def test_collective_outside_pmap_names_the_axis():
    with plax.default_backend("cupy"), pytest.raises(NameError, match="unbound axis name: i"):
        lax.psum(pnp.ones(3), "i")


def test_device_put_between_backends():
    x = rand((2, 3))
    on_cupy = plax.device_put(x, plax.devices("cupy")[0])
    on_ref = plax.device_put(on_cupy, plax.devices("reference")[0])
    assert on_cupy.backend == "cupy" and on_ref.backend == "reference"
    assert_close(on_ref, x)
    if "xla" in installed_backends():
        on_xla = plax.device_put(on_cupy, plax.devices("xla")[0])
        back = plax.device_put(on_xla, plax.devices("cupy")[0])
        assert back.backend == "cupy"
        assert_close(back, x)


@pytest.mark.skipif("os.environ.get('PLAX_CUPY_DEVICE') != 'host'",
                    reason="counts g++ calls of the host build")
def test_sub_jaxpr_kernels_build_with_their_program():
    from plax_cupy import compiler
    compiler.clear_memory_cache()

    def f(x):
        return lax.cond(x.sum() > 0, lambda x: pnp.tanh(x) * 3 + 1, lambda x: pnp.exp(x) - 2, x)

    x = rand((6,), seed=7) + 0.123  # new kernel text: no other test built this program
    calls = compiler.stats()["gxx_calls"] + compiler.stats()["disk_hits"]
    out = plax.jit(f, backend="cupy")(x)
    assert compiler.stats()["gxx_calls"] + compiler.stats()["disk_hits"] - calls == 1
    assert_close(out, np.tanh(x) * 3 + 1 if x.sum() > 0 else np.exp(x) - 2)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_gpu_decomposition_rules_match_the_reference(dtype):
    """The cuSOLVER/cuBLAS rules the GPU build uses, run here through NumPy/SciPy (same code,
    xp = numpy), against the reference backend's LAPACK calls."""
    from plax.extend import registry
    from plax_cupy.lib_decomp import GPU_RULES
    prims = registry.primitives()
    ref = registry.impl_table("reference")
    a = rand((2, 4, 4), dtype, seed=11)
    spd = a @ np.conj(np.swapaxes(a, -1, -2)) + 4 * np.eye(4, dtype=dtype)
    bad = spd.copy()
    bad[1] = -np.eye(4, dtype=dtype)  # not positive definite: NaNs in that matrix only
    b = rand((2, 4, 3), dtype, seed=12)
    tri = np.tril(spd)
    cases = [
        ("cholesky", (spd,), {}), ("cholesky", (bad,), {}),
        ("qr", (a,), dict(pivoting=False, full_matrices=True)),
        ("qr", (a[..., :3],), dict(pivoting=False, full_matrices=False)),
        ("svd", (a,), dict(full_matrices=False, compute_uv=False, subset_by_index=None,
                           algorithm=None)),
        ("svd", (a[..., :3],), dict(full_matrices=True, compute_uv=True, subset_by_index=None,
                                    algorithm=None)),
        ("eigh", (spd,), dict(lower=True, sort_eigenvalues=True, subset_by_index=None)),
    ]
    for left in (True, False):
        for lower in (True, False):
            for transpose_a, conjugate_a in ((False, False), (True, False), (True, True)):
                rhs = b if left else np.swapaxes(b, -1, -2)
                mat = tri if lower else np.conj(np.swapaxes(tri, -1, -2))
                cases.append(("triangular_solve", (mat, rhs), dict(
                    left_side=left, lower=lower, transpose_a=transpose_a,
                    conjugate_a=conjugate_a, unit_diagonal=False)))
    for name, args, params in cases:
        got = GPU_RULES[name](*args, **params)
        want = ref[prims[name]](*args, **params)
        got = got if isinstance(got, list) else [got]
        want = want if isinstance(want, list) else [want]
        for g, w in zip(got, want):
            assert_close(g, w, dtype, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32])
def test_gpu_convolution_rule_matches_the_reference(dtype):
    """The im2col + GEMM convolution the GPU build uses, run here through NumPy, against the
    reference backend's rule: layouts, strides, padding (negative too), dilations, groups."""
    from plax.extend import registry
    from plax_cupy.lib_conv import GPU_RULES
    prim = registry.primitives()["conv_general_dilated"]
    ref = registry.impl_table("reference")[prim]
    nchw, oihw = ((0, 1, 2, 3),) * 2
    nhwc, hwio = (0, 3, 1, 2), (3, 2, 0, 1)
    cases = [
        # lhs shape, rhs shape, specs, strides, padding, lhs_dil, rhs_dil, fgc, bgc
        ((2, 4, 7, 6), (6, 4, 3, 2), (nchw, oihw, nchw), (1, 1), ((0, 0), (0, 0)), (1, 1),
         (1, 1), 1, 1),
        ((2, 7, 6, 4), (3, 2, 4, 6), (nhwc, hwio, nhwc), (2, 1), ((1, 2), (-1, 1)), (1, 2),
         (2, 1), 1, 1),
        ((2, 4, 5, 5), (6, 2, 3, 3), (nchw, oihw, nchw), (1, 2), ((1, 1), (1, 1)), (1, 1),
         (1, 1), 2, 1),
        ((4, 3, 5, 4), (6, 3, 2, 2), (nchw, oihw, nchw), (1, 1), ((0, 1), (0, 0)), (1, 1),
         (1, 1), 1, 2),
        ((1, 2, 0, 4), (3, 2, 1, 1), (nchw, oihw, nchw), (1, 1), ((0, 0), (0, 0)), (1, 1),
         (1, 1), 1, 1),
    ]
    for i, (ls, rs, dn, st, pad, ld, rd, fgc, bgc) in enumerate(cases):
        lhs, rhs = rand(ls, dtype, seed=20 + i, lo=-3, hi=4), rand(rs, dtype, seed=40 + i,
                                                                    lo=-3, hi=4)
        params = dict(window_strides=st, padding=pad, lhs_dilation=ld, rhs_dilation=rd,
                      dimension_numbers=dn, feature_group_count=fgc, batch_group_count=bgc,
                      precision=None, preferred_element_type=None)
        got, want = GPU_RULES["conv_general_dilated"](lhs, rhs, **params), ref(lhs, rhs, **params)
        assert got.dtype == want.dtype
        assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_special_function_rules_match_the_reference(dtype):
    """The special-function rules of the GPU build (cupyx.scipy.special there), run here
    through scipy.special, against the reference rules, edge cases included."""
    from plax.extend import registry
    from plax_cupy.lib_special import GPU_RULES
    prims = registry.primitives()
    ref = registry.impl_table("reference")
    a = np.array([0.0, 0.5, 1.0, 2.5, 7.0, -1.0], dtype)
    x = np.array([0.0, 0.3, 1.0, 4.0, 0.0, 2.0], dtype)
    m = np.array([0.0, 1.0, 2.0, 0.0, 1.5, -1.0], dtype)
    xs = np.array([-2.0, 0.5, 1.5, 3.0, 0.7, 2.0], dtype)
    p = np.array([0.1, 0.5, 0.9, 1.5, 0.0, 1.0], dtype)
    args = {"igamma": (a, x), "igammac": (a, x), "igamma_grad_a": (a + 0.5, x),
            "random_gamma_grad": (a + 0.5, x), "polygamma": (m, xs), "zeta": (xs + 2, p + 0.5),
            "regularized_incomplete_beta": (a, x + 0.5, p), "bessel_i0e": (xs,),
            "bessel_i1e": (xs,)}
    for name, rule in GPU_RULES.items():
        got, want = rule(*args[name]), ref[prims[name]](*args[name])
        assert got.dtype == want.dtype, name
        assert_close(got, want, dtype, rtol=1e-6, atol=1e-6)


def test_a_primitive_defined_as_a_composition_runs_fused_under_jit():
    from plax.extend import define_primitive
    softplus_p = define_primitive("cupy_test_softplus",
                                  composition=lambda x: pnp.log1p(pnp.exp(x)),
                                  elementwise=True)
    x = rand((5,), seed=9)
    with plax.default_backend("cupy"):
        eager = softplus_p.bind(pnp.asarray(x))
        jitted = plax.jit(lambda x: softplus_p.bind(x) * 2)(x)
        grad = plax.grad(lambda x: softplus_p.bind(x).sum())(x)
    assert_close(eager, np.log1p(np.exp(x)))
    assert_close(jitted, 2 * np.log1p(np.exp(x)))
    assert_close(grad, 1 / (1 + np.exp(-x)))


def _lockstep(fun, *args, n=4, **options):
    """`fun` pmapped over n emulated devices through the multi-GPU lockstep runner and the
    host NCCL emulation (the code path of a machine with n GPUs, in the host build)."""
    from plax.extend import Device
    from plax_cupy import multigpu
    devices = [Device("cupy", "cpu", i, f"emulated {i}", native=None) for i in range(n)]
    options.setdefault("axis_name", "i")
    options.setdefault("in_axes", 0)
    options.setdefault("out_axes", 0)
    return multigpu.run(_cupy(), fun, args, {}, static=set(), devices=devices,
                        platform=multigpu.HostPlatform(), **options)


def test_multi_device_pmap_through_emulated_nccl():
    """The multi-GPU pmap (one program per device stepped in lockstep, collectives as NCCL
    calls on raw pointers inside groupStart/groupEnd) on 4 emulated devices: psum/pmax/pmin
    (f32, i16 widened, bool pmax, complex psum), all_gather (stacked and tiled), ppermute (a ring; a
    device nobody sends to gets zeros), axis_index, pmean's folded psum(1), unmapped inputs and
    outputs; values as vmap's on the reference backend; NCCL groups and calls counted."""
    from plax_cupy import host_nccl
    x = rand((4, 3, 5), seed=11)
    k = np.arange(4 * 6, dtype=np.int16).reshape(4, 6) * 1000
    w = rand((5,), seed=12)

    def f(x, k, w):
        c = lax.complex(x, -x)
        return (lax.psum(pnp.tanh(x) * w, "i"), lax.pmax(x, "i"), lax.pmin(k, "i"),
                lax.psum(k, "i"), lax.pmax(x > 0, "i"), lax.psum(c, "i"),
                lax.all_gather(x, "i"), lax.all_gather(x, "i", axis=1, tiled=True),
                lax.ppermute(x, "i", [(j, (j + 1) % 4) for j in range(4)]),
                lax.ppermute(k, "i", [(0, 2), (1, 3)]),
                lax.axis_index("i") * 10 + k[0].astype(np.int32) * 0,
                lax.pmean(x, "i"), w * 2)
    before = dict(host_nccl.calls)
    got = _lockstep(f, x, k, w, in_axes=(0, 0, None), out_axes=(0,) * 12 + (None,))
    with plax.default_backend("reference"):
        want = plax.vmap(f, in_axes=(0, 0, None), out_axes=(0,) * 12 + (None,),
                         axis_name="i")(x, k, w)
    for g, e in zip(got, want, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape, (g.aval, e.aval)
        assert_close(g, e, rtol=2e-6, atol=1e-6)
    calls = {key: host_nccl.calls[key] - before[key] for key in before}
    # 6 psum/pmax/pmin + pmean's psum = 7 all-reduces, 2 all-gathers, 2 ppermutes (4 + 2
    # pairs), each collective one group over the 4 devices
    assert calls == {"groups": 11, "allReduce": 7 * 4, "allGather": 2 * 4, "send": 6,
                     "recv": 6}, calls


def test_multi_device_pmap_refusals_and_nccl_checks():
    from plax_cupy import host_nccl
    with pytest.raises(NotImplementedError, match="'psum' inside 'cond'"):
        _lockstep(lambda x: lax.cond(x.sum() > 0, lambda v: lax.psum(v, "i"), lambda v: v, x),
                  rand((4, 2)))
    with pytest.raises(ValueError, match="must split the 4 devices"):
        _lockstep(lambda x: lax.psum(x, "i", axis_index_groups=[[0, 1], [2]]), rand((4, 2)))
    with pytest.raises(TypeError, match="pmax of complex"):
        _lockstep(lambda x: lax.pmax(lax.complex(x, x), "i"), rand((4, 2)))
    with pytest.raises(ValueError, match="size 4 needs 4 devices"):
        _lockstep(lambda x: x, rand((4, 2)), n=2)
    # the emulation fails where NCCL would hang: a call outside a group, ranks that disagree
    comms = host_nccl.NcclCommunicator.initAll([0, 1])
    a, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    with pytest.raises(host_nccl.NcclError, match="outside groupStart"):
        comms[0].allReduce(a.ctypes.data, b.ctypes.data, 3, host_nccl.NCCL_FLOAT32,
                           host_nccl.NCCL_SUM, 0)
    host_nccl.groupStart()
    comms[0].allReduce(a.ctypes.data, b.ctypes.data, 3, host_nccl.NCCL_FLOAT32,
                       host_nccl.NCCL_SUM, 0)
    comms[1].allReduce(a.ctypes.data, b.ctypes.data, 2, host_nccl.NCCL_FLOAT32,
                       host_nccl.NCCL_SUM, 0)
    with pytest.raises(host_nccl.NcclError, match="mismatched collective"):
        host_nccl.groupEnd()
    host_nccl.groupStart()
    comms[0].send(a.ctypes.data, 3, host_nccl.NCCL_FLOAT32, 1, 0)
    with pytest.raises(host_nccl.NcclError, match="unmatched send/recv"):
        host_nccl.groupEnd()


def test_gpu_session_script_dry_run(tmp_path):
    """bench/gpu.py, the prepared GPU session, in its dry run (host build): the plan printed,
    a benchmark part run with the issue's target checked, JSON and markdown written, the
    summary printed back; an unknown part is refused naming the parts."""
    import json
    import pathlib
    script = pathlib.Path(__file__).parent.parent / "bench" / "gpu.py"
    out = tmp_path / "gpu.json"
    r = subprocess.run([sys.executable, str(script), "--dry-run", "--only", "dispatch",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "plan (dry run on the host build" in r.stdout and "dispatch (at most" in r.stdout
    doc = json.loads(out.read_text())
    assert doc["mode"].startswith("dry-run") and "plax_cupy" not in doc["setup"]["missing"]
    assert doc["dispatch"]["plax_us"] > 0 and "within_1.5x_of_jax" in doc["dispatch"]["criteria"]
    assert "- dispatch:" in (tmp_path / "gpu.md").read_text()
    s = subprocess.run([sys.executable, str(script), "--summary", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert s.returncode == 0 and "## cupy backend on" in s.stdout
    bad = subprocess.run([sys.executable, str(script), "--dry-run", "--only", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown parts ['nope']" in bad.stderr


EMULATED_CHECKS = ["devices", "collectives", "integer_and_bool_collectives",
                   "psum_with_axis_index_groups", "axes_pytrees_and_statics",
                   "closed_over_arrays", "grad_and_vmap_inside_pmap",
                   "pmap_under_grad_uses_vmap_semantics", "callbacks_inside_pmap",
                   "jax_never_imported"]


@pytest.fixture(scope="module")
def emulated_four_devices():
    """test_xla_pmap's four-device script, run on the cupy backend's host build with
    PLAX_CUPY_HOST_DEVICES=4: every pmap goes through the multi-GPU lockstep runner and the
    NCCL emulation. (Its xla-only checks, of compile statistics and of outputs left split over
    the devices, are not asked for: the cupy backend gathers mapped outputs on the first
    device.)"""
    import json
    import os
    import textwrap

    from test_xla_pmap import SCRIPT
    env = dict(os.environ, PLAX_BACKEND="cupy", PLAX_CUPY_DEVICE="host",
               PLAX_CUPY_HOST_DEVICES="4", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT.replace('"xla"',
                                                                                '"cupy"'))],
                          env=env, capture_output=True, text=True, timeout=600)
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS")]
    assert marker, f"subprocess failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(marker[-1][len("RESULTS"):])


@pytest.mark.parametrize("name", EMULATED_CHECKS)
def test_pmap_on_four_emulated_devices(emulated_four_devices, name):
    assert name in emulated_four_devices, sorted(emulated_four_devices)
    assert emulated_four_devices[name] is None, emulated_four_devices[name]
