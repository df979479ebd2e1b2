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


def _message(n: int):
    from datetime import datetime, timezone

    from services.dispute.domain import Actor, Role
    from services.dispute.domain.state import Message
    return Message(f"M-{n}", f"text {n}", "PARTIES", Actor(Role.BUYER, "B-1"),
                   datetime(2026, 1, 1, n, tzinfo=timezone.utc))


def test_a_messages_view_is_validated_once_and_is_the_view_validated_anew(monkeypatch):
    monkeypatch.setattr(views, "_message_views", {})
    message = _message(1)
    first = views._message_view(message)
    assert views._message_view(message) is first
    assert first.model_dump_json() == views.MessageView.model_validate(views._fields_of(message)).model_dump_json()
    equal_but_another = _message(1)
    assert views._message_view(equal_but_another) is not first  # kept by identity, not equality


def test_the_kept_message_views_are_bounded(monkeypatch):
    monkeypatch.setattr(views, "_message_views", {})
    monkeypatch.setattr(views, "MESSAGE_VIEWS_KEPT", 3)
    messages = [_message(n) for n in range(5)]
    for message in messages:
        views._message_view(message)
    assert [kept for kept, _, _ in views._message_views.values()] == messages[2:]
