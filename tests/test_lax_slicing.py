"""lax.gather and the scatters: against element-by-element NumPy loops written from XLA's spec,
against plain NumPy indexing, against jax.lax on the same calls, and their shape/dimension-number
errors. Cases cover take/take-along-axis/slices/batching dims, every out-of-bounds mode,
duplicate scatter indices, several dtypes, empty and 0-d shapes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_close, installed_backends, requires_jax

import plax
import plax.lax as lax
from plax._src.core import PlaxTypeError, jaxpr_as_fun

GDN, SDN, Mode = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers, lax.GatherScatterMode
MODES = [Mode.CLIP, Mode.FILL_OR_DROP, Mode.PROMISE_IN_BOUNDS]


# ---------------------------------------------------------------------------------------------
# Element-by-element references, written from XLA's operation semantics


def _start(iv, batch_idx, rank, index_map, op_bdims, idx_bdims):
    start = [0] * rank
    for k, d in enumerate(index_map):
        start[d] = int(iv[k])
    for od, id_ in zip(op_bdims, idx_bdims, strict=True):
        start[od] = batch_idx[id_]
    return start


def gather_loop(operand, indices, dn, slice_sizes, mode, fill_value):
    batch_shape = indices.shape[:-1]
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    out_rank = len(dn.offset_dims) + len(batch_shape)
    out_shape, b, w = [], iter(batch_shape), iter(window_dims)
    for j in range(out_rank):
        out_shape.append(slice_sizes[next(w)] if j in dn.offset_dims else next(b))
    out = np.zeros(out_shape, operand.dtype)
    for oi in np.ndindex(*out_shape):
        bi = tuple(oi[j] for j in range(out_rank) if j not in dn.offset_dims)
        offs = [oi[j] for j in dn.offset_dims]
        start = _start(indices[bi], bi, operand.ndim, dn.start_index_map,
                       dn.operand_batching_dims, dn.start_indices_batching_dims)
        in_bounds = all(0 <= start[d] <= operand.shape[d] - slice_sizes[d]
                        for d in dn.start_index_map)
        if mode == Mode.FILL_OR_DROP and not in_bounds:
            out[oi] = fill_value
            continue
        for d in dn.start_index_map:  # CLIP and PROMISE_IN_BOUNDS clamp
            start[d] = min(max(start[d], 0), operand.shape[d] - slice_sizes[d])
        full = list(start)
        for d, o in zip(window_dims, offs, strict=True):
            full[d] += o
        out[oi] = operand[tuple(full)]
    return out


COMBINE = {
    "scatter": lambda old, new: new,
    "scatter_add": lambda old, new: old + new,
    "scatter_sub": lambda old, new: old - new,
    "scatter_mul": lambda old, new: old * new,
    "scatter_min": lambda old, new: np.minimum(old, new),
    "scatter_max": lambda old, new: np.maximum(old, new),
}


def scatter_loop(kind, operand, indices, updates, dn, mode):
    """Applies one update window at a time, in index order (so the last duplicate wins)."""
    out = operand.copy()
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    wsizes = [updates.shape[u] for u in dn.update_window_dims]
    window = [1] * operand.ndim
    for d, s in zip(window_dims, wsizes, strict=True):
        window[d] = s
    scatter_dims = [j for j in range(updates.ndim) if j not in dn.update_window_dims]
    for bi in np.ndindex(*indices.shape[:-1]):
        start = _start(indices[bi], bi, operand.ndim, dn.scatter_dims_to_operand_dims,
                       dn.operand_batching_dims, dn.scatter_indices_batching_dims)
        if mode == Mode.CLIP:
            for d in dn.scatter_dims_to_operand_dims:
                start[d] = min(max(start[d], 0), operand.shape[d] - window[d])
        elif not all(0 <= start[d] <= operand.shape[d] - window[d]
                     for d in dn.scatter_dims_to_operand_dims):
            continue  # the whole window is dropped
        for offs in np.ndindex(*wsizes):
            ui = [0] * updates.ndim
            for j, b in zip(scatter_dims, bi, strict=True):
                ui[j] = b
            for j, o in zip(dn.update_window_dims, offs, strict=True):
                ui[j] = o
            full = list(start)
            for d, o in zip(window_dims, offs, strict=True):
                full[d] += o
            with np.errstate(all="ignore"):  # integer products wrap, as in XLA
                out[tuple(full)] = COMBINE[kind](out[tuple(full)], updates[tuple(ui)])
    return out


# ---------------------------------------------------------------------------------------------
# Cases: (name, operand shape, indices batch shape, GatherDimensionNumbers, slice_sizes)

CASES = [
    ("take_rows", (5, 3), (4,), GDN((1,), (0,), (0,)), (1, 3)),
    ("take_cols", (3, 6), (2, 2), GDN((0,), (1,), (1,)), (3, 1)),
    ("points_2d", (4, 5), (6,), GDN((), (0, 1), (0, 1)), (1, 1)),
    ("dynamic_slice", (6, 7), (), GDN((0, 1), (), (0, 1)), (2, 3)),
    ("reversed_index_map", (4, 5, 6), (3,), GDN((1, 2), (0,), (2, 0)), (1, 2, 6)),
    ("offsets_interleaved", (4, 5, 6), (2, 3), GDN((0, 2), (1,), (1, 2)), (4, 1, 2)),
    ("take_along_axis", (3, 5), (3, 4), GDN((), (1,), (1,), (0,), (0,)), (1, 1)),
    ("batch_not_leading", (5, 3, 4), (4, 3), GDN((2,), (0,), (0,), (1,), (1,)), (1, 1, 2)),
    ("two_batch_dims_swapped", (2, 3, 5), (3, 2, 4), GDN((), (2,), (2,), (0, 1), (1, 0)),
     (1, 1, 1)),
    ("collapse_unindexed", (3, 4), (5,), GDN((1,), (0,), (1,)), (1, 2)),
    ("empty_index_vector", (4,), (3,), GDN((1,), (), ()), (2,)),
    ("no_indices", (5, 3), (0,), GDN((1,), (0,), (0,)), (1, 3)),
    ("empty_operand_window", (5, 0), (2,), GDN((1,), (0,), (0,)), (1, 0)),
    ("zero_size_slice", (5, 3), (2,), GDN((1,), (0,), (0,)), (1, 0)),
    ("scalar_operand", (), (3,), GDN((), (), ()), ()),
]
CASE_IDS = [c[0] for c in CASES]


def make_indices(rng, operand_shape, batch_shape, dn, slice_sizes, *, oob: bool):
    n = len(dn.start_index_map)
    idx = np.zeros(batch_shape + (n,), np.int32)
    for k, d in enumerate(dn.start_index_map):
        hi = operand_shape[d] - slice_sizes[d]
        lo_, hi_ = (-3, hi + 3) if oob else (0, hi)
        idx[..., k] = rng.integers(lo_, hi_ + 1, size=batch_shape)
    return idx


def make_values(rng, shape, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind == "c":
        return (rng.integers(-4, 5, size=shape) + 1j * rng.integers(-4, 5, size=shape)
                ).astype(dt)
    if dt.kind == "u":
        return rng.integers(0, 5, size=shape).astype(dt)
    return rng.integers(-4, 5, size=shape).astype(dt)  # small integers: exact in every dtype


def to_scatter_dnums(dn: GDN) -> SDN:
    return SDN(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
               dn.operand_batching_dims, dn.start_indices_batching_dims)


def gather_out_shape(operand_shape, batch_shape, dn, slice_sizes):
    return plax.eval_shape(
        lambda x, i: lax.gather(x, i, dn, slice_sizes),
        np.zeros(operand_shape, np.float32),
        np.zeros(batch_shape + (len(dn.start_index_map),), np.int32)).shape


def fits(operand_shape, dn, slice_sizes):
    return all(s <= operand_shape[d] for d, s in enumerate(slice_sizes))


# ---------------------------------------------------------------------------------------------
# gather


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_gather_matches_loop_reference(backend, case, mode):
    _, oshape, bshape, dn, ss = case
    rng = np.random.default_rng(0)
    x = make_values(rng, oshape, np.float32)
    idx = make_indices(rng, oshape, bshape, dn, ss, oob=True)
    out = lax.gather(x, idx, dn, ss, mode=mode)
    fill = np.nan if mode == Mode.FILL_OR_DROP else None
    assert isinstance(out, plax.Array)
    assert_close(out, gather_loop(x, idx, dn, ss, mode, fill))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.int8, np.bool_,
                                   np.float16, ml_dtypes.bfloat16, np.complex64])
def test_gather_dtypes_and_default_fill_values(backend, dtype):
    _, oshape, bshape, dn, ss = CASES[0]
    rng = np.random.default_rng(1)
    x = make_values(rng, oshape, dtype)
    idx = np.array([[0], [4], [7], [-1]], np.int32)
    out = lax.gather(x, idx, dn, ss, mode="fill")
    assert out.dtype == np.dtype(dtype)
    dt = np.dtype(dtype)
    fill = (np.nan if dt.kind in "fcV" or dt == ml_dtypes.bfloat16 else
            True if dt == np.bool_ else np.iinfo(dt).min if dt.kind == "i" else np.iinfo(dt).max)
    expected = gather_loop(x, idx, dn, ss, Mode.FILL_OR_DROP, fill)
    assert_close(np.asarray(out).astype(np.float64 if dt.kind != "c" else dt),
                 expected.astype(np.float64 if dt.kind != "c" else dt))
    # an explicit fill_value wins
    out = lax.gather(x, idx, dn, ss, mode="fill", fill_value=3)
    assert_close(np.asarray(out)[2:].astype(np.float64 if dt.kind != "c" else dt),
                 np.full((2, 3), 3 if dt != np.bool_ else 1, dtype=np.float64))


def test_gather_agrees_with_numpy_indexing(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    rows = np.array([4, 0, 0, 2], np.int32)
    out = lax.gather(x, rows[:, None], GDN((1,), (0,), (0,)), (1, 3))
    assert_close(out, x[rows])
    ta = rng.integers(0, 3, size=(5, 6)).astype(np.int32)  # take_along_axis on axis 1
    out = lax.gather(x, ta[..., None], GDN((), (1,), (1,), (0,), (0,)), (1, 1))
    assert_close(out, np.take_along_axis(x, ta, axis=1))
    out = lax.gather(x, np.array([1, 1], np.int32), GDN((0, 1), (), (0, 1)), (3, 2))
    assert_close(out, x[1:4, 1:3])


def test_gather_modes_on_windows(backend):
    x = np.arange(5, dtype=np.float32)
    idx = np.array([[4], [-1], [1], [3]], np.int32)
    dn = GDN((1,), (), (0,))
    clip = [[3, 4], [0, 1], [1, 2], [3, 4]]
    assert_close(lax.gather(x, idx, dn, (2,), mode="clip"), np.array(clip, np.float32))
    assert_close(lax.gather(x, idx, dn, (2,)), np.array(clip, np.float32))  # default: clamps
    fill = [[np.nan, np.nan], [np.nan, np.nan], [1, 2], [3, 4]]
    assert_close(lax.gather(x, idx, dn, (2,), mode="fill"), np.array(fill, np.float32))


def test_gather_large_unsigned_indices(backend):
    x = np.arange(4, dtype=np.float32)
    idx = np.array([[np.iinfo(np.uint32).max], [1]], np.uint32)
    dn = GDN((), (0,), (0,))
    assert_close(lax.gather(x, idx, dn, (1,), mode="clip"), np.array([3, 1], np.float32))
    assert_close(lax.gather(x, idx, dn, (1,), mode="fill", fill_value=-1.0),
                 np.array([-1, 1], np.float32))


def test_gather_abstract_eval_and_weak_type():
    dn = GDN((), (), ())
    s = plax.eval_shape(lambda x, i: lax.gather(x, i, dn, ()), 2.0, np.zeros((3, 0), np.int32))
    assert s.shape == (3,) and s.dtype == np.float32 and s.weak_type
    s = plax.eval_shape(lambda x, i: lax.gather(x, i, GDN((0, 2), (1,), (1, 2)), (4, 1, 2)),
                        np.zeros((4, 5, 6), np.int16), np.zeros((2, 3, 2), np.int8))
    assert s.shape == (4, 2, 2, 3) and s.dtype == np.int16 and not s.weak_type


GATHER_ERRORS = [
    # (operand shape, indices shape, indices dtype, dnums, slice_sizes, words in the message)
    ((5, 3), (4, 1), np.float32, GDN((1,), (0,), (0,)), (1, 3), ["start_indices", "integer"]),
    ((5, 3), (), np.int32, GDN((1,), (0,), (0,)), (1, 3), ["rank >= 1", "index vector"]),
    ((5, 3), (4, 1), np.int32, GDN((1,), (0,), (0, 1)), (1, 3), ["start_index_map", "2",
                                                                 "size 1"]),
    ((5, 3), (4, 1), np.int32, GDN((2,), (0,), (0,)), (1, 3), ["offset_dims", "out of range"]),
    ((5, 3, 2), (4, 1), np.int32, GDN((2, 1), (0,), (0,)), (1, 3, 2), ["offset_dims",
                                                                       "sorted"]),
    ((5, 3), (4, 1), np.int32, GDN((1,), (0,), (2,)), (1, 3), ["start_index_map",
                                                               "out of range"]),
    ((5, 3), (4, 2), np.int32, GDN((), (0, 1), (0, 0)), (1, 1), ["start_index_map", "repeat"]),
    ((5, 3), (4, 1), np.int32, GDN((1,), (0,), (0,)), (2, 3), ["collapsed_slice_dims",
                                                               "slice size 1"]),
    ((5, 3), (4, 1), np.int32, GDN((1,), (0,), (0,)), (1, 4), ["slice_sizes[1]=4",
                                                               "size 3"]),
    ((5, 3), (4, 1), np.int32, GDN((1,), (0,), (0,)), (1, 3, 1), ["slice_sizes",
                                                                  "one entry per"]),
    ((5, 3), (4, 1), np.int32, GDN((0, 1), (0,), (0,)), (1, 3), ["offset", "collapsed",
                                                                 "rank 2"]),
    ((3, 5), (4, 1), np.int32, GDN((), (1,), (1,), (0,), (0,)), (1, 1), ["batching",
                                                                         "(3,)", "(4,)"]),
    ((3, 5), (3, 1), np.int32, GDN((), (1,), (1,), (0,), ()), (1, 1), ["same length"]),
    ((3, 5), (3, 1), np.int32, GDN((), (1,), (1,), (0,), (1,)), (1, 1),
     ["start_indices_batching_dims", "index vector"]),
    ((3, 5), (3, 1), np.int32, GDN((), (0,), (1,), (0,), (0,)), (1, 1),
     ["collapsed_slice_dims", "operand_batching_dims", "disjoint"]),
    ((3, 5), (3, 1), np.int32, GDN((), (1,), (0,), (0,), (0,)), (1, 1),
     ["start_index_map", "operand_batching_dims", "disjoint"]),
]


@pytest.mark.parametrize("oshape,ishape,idt,dn,ss,words", GATHER_ERRORS)
def test_gather_errors_name_the_problem(oshape, ishape, idt, dn, ss, words):
    x, i = np.zeros(oshape, np.float32), np.zeros(ishape, idt)
    with pytest.raises(PlaxTypeError, match="gather") as e:
        lax.gather(x, i, dn, ss)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    with pytest.raises(TypeError, match="gather"):  # the same check while tracing
        plax.make_jaxpr(lambda x, i: lax.gather(x, i, dn, ss))(x, i)


def test_gather_user_errors():
    x, i = np.zeros((5, 3), np.float32), np.zeros((4, 1), np.int32)
    with pytest.raises(TypeError, match="GatherDimensionNumbers"):
        lax.gather(x, i, ((1,), (0,), (0,)), (1, 3))
    with pytest.raises(TypeError, match="offset_dims"):
        lax.gather(x, i, GDN((1.5,), (0,), (0,)), (1, 3))
    with pytest.raises(ValueError, match="mode"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 3), mode="wrap")
    with pytest.raises(TypeError, match="fill_value"):
        lax.gather(x, i, GDN((1,), (0,), (0,)), (1, 3), mode="fill", fill_value=[1.0])


# ---------------------------------------------------------------------------------------------
# scatter

KINDS = ["scatter", "scatter_add", "scatter_sub", "scatter_mul", "scatter_min", "scatter_max"]


def scatter_case_args(case, rng, *, dtype, oob):
    _, oshape, bshape, dn, ss = case
    x = make_values(rng, oshape, dtype)
    idx = make_indices(rng, oshape, bshape, dn, ss, oob=oob)
    ushape = gather_out_shape(oshape, bshape, dn, ss)
    return x, idx, make_values(rng, ushape, dtype), to_scatter_dnums(dn)


SCATTER_CASES = [c for c in CASES if fits(c[1], c[3], c[4])]


# the xla backend's scatter lowering (plax_xla/lower_slicing.py) has one code path per mode
# class (CLIP clamps the indices with a window computed from the dimension numbers; FILL_OR_DROP
# and PROMISE_IN_BOUNDS give the same StableHLO) and per kind only the update region: on xla
# (which compiles every eager op) every case runs with scatter_add in each mode, and every
# kind on the plain, empty-index-vector and rank-0 cases; the reference and cupy backends
# (their own scatter code for each case, kind and mode) run the whole grid
_XLA_KIND_CASES = ("take_rows", "empty_index_vector", "scalar_operand")


def _loop_reference_params():
    params = []
    for b in installed_backends():
        for mode in MODES:
            for kind in KINDS:
                for case in SCATTER_CASES:
                    if b == "xla" and kind != "scatter_add" and (
                            mode != Mode.FILL_OR_DROP or case[0] not in _XLA_KIND_CASES):
                        continue
                    params.append(pytest.param(b, case, kind, mode,
                                               id=f"{b}-{mode.name}-{kind}-{case[0]}"))
    return params


@pytest.mark.parametrize("backend_name,case,kind,mode", _loop_reference_params())
def test_scatter_matches_loop_reference(backend_name, case, kind, mode):
    with plax.default_backend(backend_name):
        _scatter_matches_loop_reference(case, kind, mode)


def _scatter_matches_loop_reference(case, kind, mode):
    rng = np.random.default_rng(3)
    x, idx, upd, sdn = scatter_case_args(case, rng, dtype=np.float32, oob=True)
    out = getattr(lax, kind)(x, idx, upd, sdn, mode=mode)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert_close(out, scatter_loop(kind, x, idx, upd, sdn, mode))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int8, np.float16, ml_dtypes.bfloat16,
                                   np.bool_, np.complex64])
def test_scatter_dtypes(backend, kind, dtype):
    dt = np.dtype(dtype)
    if dt == np.bool_ and kind in ("scatter_add", "scatter_sub", "scatter_mul"):
        pytest.skip("arithmetic scatters on bool are not meaningful")
    if dt.kind == "c" and kind in ("scatter_min", "scatter_max"):
        pytest.skip("min/max on complex is not an order")
    rng = np.random.default_rng(4)
    case = CASES[6]  # take_along_axis: batching dims and duplicates
    x, idx, upd, sdn = scatter_case_args(case, rng, dtype=dt, oob=False)
    out = getattr(lax, kind)(x, idx, upd, sdn)
    assert out.dtype == dt
    expected = scatter_loop(kind, x, idx, upd, sdn, Mode.FILL_OR_DROP)
    assert_close(np.asarray(out).astype(np.complex128),
                 expected.astype(np.complex128), atol=0, rtol=0)


def test_scatter_duplicates_accumulate_or_replace(backend):
    x = np.zeros(4, np.float32)
    idx = np.array([[1], [1], [1], [3]], np.int32)
    upd = np.array([1, 2, 3, 4], np.float32)
    sdn = SDN((), (0,), (0,))
    assert_close(lax.scatter_add(x, idx, upd, sdn), np.array([0, 6, 0, 4], np.float32))
    assert_close(lax.scatter(x, idx, upd, sdn), np.array([0, 3, 0, 4], np.float32))
    assert_close(lax.scatter_mul(x + 2, idx, upd, sdn), np.array([2, 12, 2, 8], np.float32))
    assert_close(lax.scatter_min(x, idx, upd - 2, sdn), np.array([0, -1, 0, 0], np.float32))
    assert_close(lax.scatter_max(x, idx, upd, sdn), np.array([0, 3, 0, 4], np.float32))


def test_scatter_modes_on_windows(backend):
    x = np.zeros(5, np.float32)
    idx = np.array([[4], [-1], [1]], np.int32)
    upd = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    sdn = SDN((1,), (), (0,))
    assert_close(lax.scatter_add(x, idx, upd, sdn, mode="clip"),
                 np.array([3, 9, 6, 1, 2], np.float32))
    for mode in (None, "drop", "fill", Mode.PROMISE_IN_BOUNDS):  # default drops
        assert_close(lax.scatter_add(x, idx, upd, sdn, mode=mode),
                     np.array([0, 5, 6, 0, 0], np.float32))


def test_scatter_agrees_with_numpy_add_at(backend):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    rows = rng.integers(0, 6, size=10).astype(np.int32)
    upd = rng.standard_normal((10, 3)).astype(np.float32)
    expected = x.copy()
    np.add.at(expected, rows, upd)
    assert_close(lax.scatter_add(x, rows[:, None], upd, SDN((1,), (0,), (0,))), expected)


def test_scatter_keeps_operand_weak_type():
    s = plax.eval_shape(lambda x, u: lax.scatter_add(x, np.zeros((0,), np.int32), u,
                                                     SDN((), (), ())), 1.0, 2.0)
    assert s.shape == () and s.weak_type


SCATTER_ERRORS = [
    # (operand shape, indices shape, updates shape, dnums, words in the message)
    ((5, 3), (4, 1), (4, 3, 1), SDN((1,), (0,), (0,)), ["updates", "rank 2"]),
    ((5, 3), (4, 1), (4, 4), SDN((1,), (0,), (0,)), ["window dimension 1", "size 4"]),
    ((5, 3), (4, 1), (2, 3), SDN((1,), (0,), (0,)), ["scatter dimensions", "(2,)", "(4,)"]),
    ((5, 3), (4, 2), (4, 3), SDN((1,), (0,), (0,)), ["scatter_dims_to_operand_dims",
                                                     "size 2"]),
    ((5, 3), (4, 1), (4, 3), SDN((1,), (0,), (3,)), ["scatter_dims_to_operand_dims",
                                                     "out of range"]),
    ((5, 3), (4, 1), (4, 3), SDN((1,), (), (0,)), ["window, inserted or batching"]),
    ((5, 3, 2), (4, 1), (4, 3, 2), SDN((2, 1), (0,), (0,)), ["update_window_dims",
                                                             "sorted"]),
    ((5, 3), (4, 1), (4, 3), SDN((1,), (3,), (0,)), ["inserted_window_dims", "out of range"]),
    ((3, 5), (4, 1), (4,), SDN((), (1,), (1,), (0,), (0,)), ["batching", "(3,)", "(4,)"]),
    ((3, 5), (3, 1), (3,), SDN((), (0,), (1,), (0,), (0,)), ["inserted_window_dims",
                                                             "disjoint"]),
]


@pytest.mark.parametrize("oshape,ishape,ushape,sdn,words", SCATTER_ERRORS)
@pytest.mark.parametrize("kind", ["scatter", "scatter_add"])
def test_scatter_errors_name_the_problem(oshape, ishape, ushape, sdn, words, kind):
    x, i, u = (np.zeros(oshape, np.float32), np.zeros(ishape, np.int32),
               np.zeros(ushape, np.float32))
    with pytest.raises(PlaxTypeError, match=kind) as e:
        getattr(lax, kind)(x, i, u, sdn)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_scatter_dtype_errors():
    sdn = SDN((), (0,), (0,))
    x = np.zeros(3, np.float32)
    with pytest.raises(PlaxTypeError, match="same dtype.*float32 and float16"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros(2, np.float16), sdn)
    with pytest.raises(PlaxTypeError, match="scatter_indices must have an integer dtype"):
        lax.scatter(x, np.zeros((2, 1), np.float32), np.zeros(2, np.float32), sdn)
    with pytest.raises(TypeError, match="ScatterDimensionNumbers"):
        lax.scatter_max(x, np.zeros((2, 1), np.int32), np.zeros(2, np.float32),
                        GDN((), (0,), (0,)))


# ---------------------------------------------------------------------------------------------
# jaxprs


def test_jaxpr_of_gather_and_scatter_checks_and_prints_like_jax():
    dn = GDN((1,), (0,), (0,))

    def f(x, i):
        g = lax.gather(x, i, dn, (1, 3), mode="fill")
        return lax.scatter_add(x, i, lax.mul(g, 2.0), to_scatter_dnums(dn), mode="clip")

    x, i = np.ones((5, 3), np.float32), np.array([[1], [2]], np.int32)
    jaxpr = plax.make_jaxpr(f)(x, i)
    jaxpr.check()
    text = str(jaxpr)
    assert "gather[" in text and "scatter-add[" in text
    assert ("dimension_numbers=GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims="
            "(0,), start_index_map=(0,), operand_batching_dims=(), "
            "start_indices_batching_dims=())") in text
    assert "fill_value=nan" in text and "mode=GatherScatterMode.CLIP" in text
    assert "slice_sizes=(1, 3)" in text
    assert_close(jaxpr_as_fun(jaxpr)(x, i)[0], f(x, i))


def test_every_scatter_traces_and_checks():
    sdn = SDN((), (0,), (0,))
    for kind in KINDS:
        jaxpr = plax.make_jaxpr(lambda x, i, u, k=kind: getattr(lax, k)(x, i, u, sdn))(
            np.zeros(4, np.float32), np.zeros((2, 1), np.int32), np.zeros(2, np.float32))
        jaxpr.check()
        assert jaxpr.eqns[0].primitive is getattr(lax, kind + "_p")
        assert jaxpr.out_avals[0].shape == (4,)


def test_traits():
    assert lax.gather_p.linear_in == (0,)
    assert lax.scatter_add_p.linear_in == (0, 2)
    assert lax.scatter_p.name == "scatter" and lax.scatter_add_p.name == "scatter-add"


# ---------------------------------------------------------------------------------------------
# JAX as the oracle


def _jax_gdn(dn):
    from jax import lax as jlax
    return jlax.GatherDimensionNumbers(*dn)


def _jax_sdn(dn):
    from jax import lax as jlax
    return jlax.ScatterDimensionNumbers(*dn)


def _jax_mode(mode):
    from jax import lax as jlax
    return None if mode is None else jlax.GatherScatterMode[mode.name]


@requires_jax
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("mode", MODES + [None], ids=lambda m: getattr(m, "name", "default"))
def test_gather_matches_jax(case, mode):
    from jax import lax as jlax
    _, oshape, bshape, dn, ss = case
    rng = np.random.default_rng(6)
    for dtype in (np.float32, np.int32):
        x = make_values(rng, oshape, dtype)
        idx = make_indices(rng, oshape, bshape, dn, ss, oob=True)
        ours = lax.gather(x, idx, dn, ss, mode=mode)
        theirs = jlax.gather(x, idx, _jax_gdn(dn), ss, mode=_jax_mode(mode))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert_close(ours, np.asarray(theirs))


def writes_at_most_once(x, idx, upd, sdn, mode):
    counts = scatter_loop("scatter_add", np.zeros(x.shape, np.int32), idx,
                          np.ones(upd.shape, np.int32), sdn, mode or Mode.FILL_OR_DROP)
    return counts.size == 0 or counts.max() <= 1


JAX_SCATTER_CASES = [c for c in SCATTER_CASES if c[1]]  # XLA rejects a 0-d scatter operand


@requires_jax
@pytest.mark.parametrize("case", JAX_SCATTER_CASES, ids=[c[0] for c in JAX_SCATTER_CASES])
@pytest.mark.parametrize("kind", KINDS)
def test_scatter_matches_jax(case, kind):
    import jax
    from jax import lax as jlax
    rng = np.random.default_rng(7)
    calls = []
    for mode in MODES + [None]:
        # a replacing scatter is only defined where no element is written twice: redraw
        for _ in range(20):
            x, idx, upd, sdn = scatter_case_args(case, rng, dtype=np.int32, oob=True)
            if kind != "scatter" or writes_at_most_once(x, idx, upd, sdn, mode):
                calls.append((mode, sdn, (x, idx, upd)))
                break
    # JAX's scatters of every mode as one program (eagerly, one compile per mode)
    theirs_all = jax.jit(lambda operands: [
        getattr(jlax, kind)(*ops, _jax_sdn(sdn), mode=_jax_mode(mode))
        for (mode, sdn, _), ops in zip(calls, operands, strict=True)])([c[2] for c in calls])
    for (mode, sdn, (x, idx, upd)), theirs in zip(calls, theirs_all, strict=True):
        ours = getattr(lax, kind)(x, idx, upd, sdn, mode=mode)
        assert ours.dtype == theirs.dtype
        assert_close(ours, np.asarray(theirs))


@requires_jax
def test_errors_agree_with_jax_on_which_calls_are_malformed():
    from jax import lax as jlax
    for oshape, ishape, idt, dn, ss, _ in GATHER_ERRORS:
        x, i = np.zeros(oshape, np.float32), np.zeros(ishape, idt)
        with pytest.raises((TypeError, ValueError)):
            jlax.gather(x, i, _jax_gdn(dn), ss)
    for oshape, ishape, ushape, sdn, _ in SCATTER_ERRORS:
        x, i, u = (np.zeros(oshape, np.float32), np.zeros(ishape, np.int32),
                   np.zeros(ushape, np.float32))
        with pytest.raises((TypeError, ValueError)):
            jlax.scatter_add(x, i, u, _jax_sdn(sdn))

