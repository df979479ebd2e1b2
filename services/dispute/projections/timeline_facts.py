"""What a timeline row is made of, from a domain event or straight from its stored JSON.

A rebuild of the timeline reads every stored event once. Through the domain event, each
event's JSON was decoded by the library's object hook (a Python call per object) and its
fields then walked again by `jsonable` to make the row's details: ~40% of a rebuild's Python.
`stored_facts` parses the stored JSON in one call (pydantic-core) and walks it once, making
both what the sentence reads (`fields`, typed as the library decodes them: a Decimal, a
datetime, a UUID) and the row's `details` (the text `jsonable` gives the same values). A
state it cannot read exactly as the library would (an older class version to upcast, a
transcoding other than those three, JSON it cannot parse) gives None: the caller takes the
domain event instead. A unit test compares both ways over every kind of event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic
from pydantic_core import from_json

from services.common.database import as_utc as utc  # a naive time taken as UTC

BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
NOT_DETAILS = ("actor", "at")  # a row's own columns
_META = "__meta__"  # the mapper's command metadata (adapters/event_store.py), not the event's
_AS_THEY_ARE = {str, int, bool, float, type(None)}
_SKIPPED = BASE_FIELDS | {_META}


@dataclass(slots=True)
class Facts:
    """One event as a timeline row needs it: `fields` as the event's attributes (base fields
    left out), `details` the JSON-able fields shown with the row, `timestamp` the library's."""

    dispute_id: str
    version: int
    kind: str
    fields: dict[str, Any]
    details: dict[str, Any]
    timestamp: datetime


class _NotExact(Exception):
    """A stored value this path does not read as the library's decode would."""


def stored_facts(plain_json: bytes, topic: str, dispute_id: str, version: int) -> Facts | None:
    """The facts of one stored event from its state's JSON (decrypted, decompressed); None
    where only the domain event reads it as recorded."""
    cls = resolve_topic(topic)
    try:
        state = from_json(plain_json)
    except ValueError:
        return None
    if type(state) is not dict or "timestamp" not in state:
        return None
    if state.pop("class_version", 1) != getattr(cls, "class_version", 1):
        return None  # stored by an older class: its upcasts work on the typed state
    fields: dict[str, Any] = {}
    details: dict[str, Any] = {}
    try:
        timestamp = _both(state["timestamp"])[0]
        for name, value in state.items():
            if name in _SKIPPED:
                continue
            if type(value) in _AS_THEY_ARE:  # most fields: no call
                fields[name] = plain = value
            else:
                fields[name], plain = _both(value)
            if name not in NOT_DETAILS:
                details[name] = plain
    except _NotExact:
        return None
    if type(timestamp) is not datetime:
        return None
    return Facts(dispute_id, version, cls.__name__, fields, details, timestamp)


def _both(value: Any) -> tuple[Any, Any]:
    """(the value as the library decodes it, as `timeline.jsonable` writes that)."""
    kind = type(value)
    if kind in _AS_THEY_ARE:
        return value, value
    if kind is dict:
        if "_type_" in value:
            return _transcoded(value)
        typed, plain, same = {}, {}, True
        for key, item in value.items():
            if type(item) in _AS_THEY_ARE:
                typed[key] = plain[key] = item
            else:
                typed[key], plain[key] = pair = _both(item)
                same = same and pair[0] is pair[1]
        return (typed, typed) if same else (typed, plain)
    if kind is list:
        pairs = [_both(item) for item in value]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    raise _NotExact(kind)


def _transcoded(value: dict) -> tuple[Any, Any]:
    data = value.get("_data_")
    if len(value) != 2 or type(data) is not str:
        raise _NotExact(value.get("_type_"))
    kind = value["_type_"]
    if kind == "decimal_str":  # the library's DecimalAsStr: str(Decimal) round-trips exactly
        return Decimal(data), data
    if kind == "datetime_iso":  # DatetimeAsISO: isoformat(); jsonable writes UTC with a Z
        moment = datetime.fromisoformat(data)
        return moment, (data[:-6] + "Z" if data.endswith("+00:00") else jsonable(moment))
    if kind == "uuid_hex":  # UUIDAsHex
        identifier = UUID(data)
        return identifier, str(identifier)
    raise _NotExact(kind)


def event_facts(event: Any, dispute_id: str | None = None) -> Facts:
    """The facts of a domain event."""
    fields = {k: v for k, v in vars(event).items() if k not in BASE_FIELDS}
    details = jsonable({k: v for k, v in fields.items() if k not in NOT_DETAILS})
    return Facts(dispute_id or str(event.originator_id), event.originator_version,
                 type(event).__name__, fields, details, event.timestamp)


def jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_THEY_ARE:  # the most of any event: answered before the isinstance checks
        return value
    if kind is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):  # in a stable order: the same state, the same JSON
        return sorted((jsonable(v) for v in value), key=str)
    if is_dataclass(value) and not isinstance(value, type):  # the domain's value objects
        return jsonable(asdict(value))
    return value
