"""The dispute view's plain fields (views._fields_of): dataclasses.asdict's shape, without
asking the dataclass machinery about every value of every answer."""

import dataclasses
from dataclasses import dataclass

from services.dispute.entrypoints.http import views


@dataclass(frozen=True)
class Who:
    role: str
    id: str


@dataclass(frozen=True)
class Note:
    text: str
    by: Who
    tags: tuple[str, ...] = ()
    extra: dict | None = None


@dataclass(frozen=True)
class Nothing:
    pass


def test_plain_fields_are_what_asdict_gives():
    note = Note("hi", Who("buyer", "B-1"), ("a", "b"), {"k": [Who("seller", "S-1")]})
    assert views._fields_of(note) == dataclasses.asdict(note)
    assert views._fields_of(Nothing()) == {}
    assert views._fields_of(Who) is Who  # a class is a value, not a dataclass instance


def test_a_types_fields_are_looked_up_once(monkeypatch):
    looked = []
    real = views.fields
    monkeypatch.setattr(views, "fields", lambda kind: looked.append(kind) or real(kind))
    monkeypatch.setattr(views, "_FIELD_NAMES", {})
    for n in range(3):
        views._fields_of(Note(f"n{n}", Who("buyer", "B-1")))
    assert sorted(k.__name__ for k in looked) == ["Note", "Who"]
