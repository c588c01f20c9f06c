"""Record classes: what `@dataclasses.dataclass` gives plax's small value types (an __init__
over the annotated fields, positional or keyword, class-level defaults; == by type and field
values; the repr `Name(a=1, b=2)`; with FrozenRecord, hashing and no assignment) without its
cost at import. A dataclass builds each class's methods by compiling generated source, ~0.35-0.5
ms a class here: nine of them cost every new process ~4 ms before its first result.

    class SequenceKey(FrozenRecord):
        idx: int

Fields are the class's own annotations, in order; a field assigned in the class body is
optional with that default. A class may define its own __init__ (setting frozen fields with
`object.__setattr__`, as for a frozen dataclass)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

_NO_DEFAULTS: dict = {}


class Record:
    """A mutable record (a dataclass with eq=True: unhashable)."""

    _fields: tuple = ()
    _defaults: dict = _NO_DEFAULTS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = tuple(cls.__dict__.get("__annotations__", ()))
        if fields:
            cls._fields = fields
            cls._defaults = {f: cls.__dict__[f] for f in fields if f in cls.__dict__}
            cls.__match_args__ = fields

    def __init__(self, *args, **kwargs):
        cls, d = type(self), self.__dict__
        names = cls._fields
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments but "
                            f"{len(args)} were given")
        for n, v in zip(names, args):
            d[n] = v
        for n, v in kwargs.items():
            if n not in names:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {n!r}")
            if n in d:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {n!r}")
            d[n] = v
        if len(d) < len(names):
            for n in names:
                if n not in d:
                    if n not in cls._defaults:
                        raise TypeError(f"{cls.__name__}() missing required argument: {n!r}")
                    d[n] = cls._defaults[n]

    def _astuple(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._astuple() == other._astuple()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"{type(self).__qualname__}("
                + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields) + ")")


class FrozenRecord(Record):
    """An immutable, hashable record (a dataclass with frozen=True): assigning or deleting an
    attribute raises dataclasses.FrozenInstanceError."""

    def __hash__(self) -> int:
        return hash(self._astuple())

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")
