"""plax._src.records: Record and FrozenRecord behave as the dataclasses they replace (eq=True,
and frozen=True), checked side by side with real dataclasses of the same fields, and plax's
classes built on them (key path entries, PluginInfo, RaggedDotDimensionNumbers, ...)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from plax._src.records import FrozenRecord, Record


class Rec(Record):
    name: str
    count: int
    extra: Any = None


@dataclasses.dataclass
class RecDC:
    name: str
    count: int
    extra: Any = None


class Frz(FrozenRecord):
    a: int
    b: tuple = ()


@dataclasses.dataclass(frozen=True)
class FrzDC:
    a: int
    b: tuple = ()


def _repr_body(obj) -> str:
    r = repr(obj)
    return r[r.index("("):]


@pytest.mark.parametrize("args,kwargs", [(("x", 1), {}), (("x",), {"count": 2}),
                                         ((), {"name": "y", "count": 3, "extra": [1]}),
                                         (("x", 1, {"k": 2}), {})])
def test_record_matches_dataclass(args, kwargs):
    r, d = Rec(*args, **kwargs), RecDC(*args, **kwargs)
    assert (r.name, r.count, r.extra) == (d.name, d.count, d.extra)
    assert _repr_body(r) == _repr_body(d)
    assert r == Rec(*args, **kwargs) and not (r != Rec(*args, **kwargs))
    assert r != Rec("other", 0)
    assert r != d  # another type: never equal (as two dataclasses of different classes)
    r.count = 10  # mutable
    assert r.count == 10 and r != Rec(*args, **kwargs)
    with pytest.raises(TypeError):  # unhashable, as a dataclass with eq=True
        hash(r)
    with pytest.raises(TypeError):
        hash(d)


@pytest.mark.parametrize("make", [lambda c: c(), lambda c: c("x", 1, 2, 3),
                                  lambda c: c("x", 1, bogus=2), lambda c: c("x", name="y")])
def test_record_bad_arguments_raise_type_error_like_dataclass(make):
    with pytest.raises(TypeError):
        make(RecDC)
    with pytest.raises(TypeError, match="Rec"):
        make(Rec)


def test_frozen_record_matches_frozen_dataclass():
    f, d = Frz(1, (2, 3)), FrzDC(1, (2, 3))
    assert _repr_body(f) == _repr_body(d)
    assert f == Frz(1, (2, 3)) and f != Frz(1) and f != d
    assert hash(f) == hash(Frz(1, (2, 3))) == hash(d)  # both hash the tuple of field values
    assert Frz(a=5).b == () == FrzDC(a=5).b
    assert {f: "v"}[Frz(1, (2, 3))] == "v"
    for obj in (f, d):
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.a = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del obj.a
        with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError
            obj.b = 0
    assert f.a == 1


@pytest.mark.parametrize("obj", [Frz(1, (2, 3)), Rec("x", 1, [1, 2])])
def test_records_pickle_and_copy(obj):
    for clone in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert type(clone) is type(obj) and clone == obj


def test_record_match_args():
    match Frz(4, (5,)):
        case Frz(a, b):
            assert (a, b) == (4, (5,))
        case _:
            pytest.fail("positional pattern did not match")


def test_plax_records():
    import plax.tree_util as ptu
    from plax._src.lax.compositions import RaggedDotDimensionNumbers
    from plax._src.registry import PluginInfo
    from plax._src.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey
    keys = (SequenceKey(0), DictKey("a"), GetAttrKey("x"), FlattenedIndexKey(2))
    assert ptu.keystr(keys) == "[0]['a'].x[<flat index 2>]"
    assert [repr(k) for k in keys] == ["SequenceKey(idx=0)", "DictKey(key='a')",
                                       "GetAttrKey(name='x')", "FlattenedIndexKey(key=2)"]
    assert pickle.loads(pickle.dumps(keys)) == keys and len(set(keys + keys)) == 4
    paths, _ = ptu.tree_flatten_with_path({"a": [1, 2]})
    assert [p for p, _ in paths] == [(DictKey("a"), SequenceKey(0)),
                                     (DictKey("a"), SequenceKey(1))]
    info = PluginInfo("n", "dist", "mod")
    assert (info.status, info.error) == ("found", None)
    info.status = "loaded"
    assert info == PluginInfo("n", "dist", "mod", status="loaded")
    dn = RaggedDotDimensionNumbers((([1], [1]), ([], [])), [0], [0])
    assert dn.dot_dimension_numbers == (((1,), (1,)), ((), ()))
    assert dn == RaggedDotDimensionNumbers((((1,), (1,)), ((), ())), (0,), (0,))
    assert hash(dn) == hash(RaggedDotDimensionNumbers((([1], [1]), ([], [])), [0], [0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        dn.lhs_ragged_dimensions = (1,)
