"""Command metadata (correlation and causation ids) stored beside each event, not inside it.

The domain knows nothing of correlation ids; the mapper writes the current command's context
into each stored event's state under `__meta__` and strips it again when events are loaded.

The mapper also chains each dispute's events with a keyed hash (`audit_chain`): editing any
stored row breaks the chain at that row, and without the key it cannot be recomputed (audit
verify). The application puts the previous hash of each dispute it saves, and the keys, in
`hash_chain(...)`.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic
from pydantic_core import from_json

from services.dispute.adapters.audit_chain import ChainKeys, chain_message

META_KEY = "__meta__"
_current: ContextVar[dict[str, str | None] | None] = ContextVar("command_meta", default=None)


@dataclass
class _Chain:
    heads: dict[UUID, str]
    keys: ChainKeys


_chain: ContextVar[_Chain | None] = ContextVar("hash_chain", default=None)


@contextmanager
def command_context(correlation_id: str, causation_id: str | None = None) -> Iterator[None]:
    token = _current.set({"correlation_id": correlation_id, "causation_id": causation_id})
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def hash_chain(heads: dict[UUID, str], keys: ChainKeys) -> Iterator[None]:
    """Dispute id -> hash its next event chains from; the mapper advances it per event."""
    token = _chain.set(_Chain(heads, keys))
    try:
        yield
    finally:
        _chain.reset(token)


def _event_from_state(stored_event: StoredEvent, state: dict) -> Any:
    """What `Mapper.to_domain_event` does after decoding (eventsourcing 9.5.6), on a state we
    decoded once already: re-encoding it for the library to decode again cost ~15% of a load."""
    cls = resolve_topic(stored_event.topic)
    convert_id = find_id_convertor(cls, type(stored_event.originator_id))  # type: ignore[arg-type]  # a UUID or str type, both hashable
    state["originator_id"] = convert_id(stored_event.originator_id)
    state["originator_version"] = stored_event.originator_version
    target, version = getattr(cls, "class_version", 1), state.pop("class_version", 1)
    while version < target:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    domain_event = object.__new__(cls)
    object.__setattr__(domain_event, "__dict__", state)
    return domain_event


class ContextMapper(Mapper):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        topic = get_topic(type(domain_event))
        meta = dict(_current.get() or {})
        chain = _chain.get()
        if chain is not None and originator_id in chain.heads:
            meta["key_id"] = chain.keys.key_id
            chain.heads[originator_id] = meta["hash"] = chain.keys.sign(chain_message(
                chain.heads[originator_id], topic, originator_id, originator_version, state, meta))
        if meta:
            state[META_KEY] = meta
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=topic, state=self._encode(state))

    def stored_link(self, stored_event: StoredEvent) -> tuple[str | None, str | None]:
        """(hash, key id) of a stored event; key id None for one stored before keyed chains."""
        meta = self._decode(stored_event.state).get(META_KEY) or {}
        return meta.get("hash"), meta.get("key_id")

    def decoded(self, stored_event: StoredEvent) -> tuple[dict, dict]:
        """(state, metadata) as stored, without building the domain event."""
        state = self._decode(stored_event.state)
        return state, state.pop(META_KEY, None) or {}

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.to_domain_event_with_meta(stored_event)[0]

    def to_domain_event_with_meta(self, stored_event: StoredEvent) -> tuple[Any, dict]:
        """The event, and the correlation/causation ids it was recorded under."""
        state = self._decode(stored_event.state)
        meta = state.pop(META_KEY, None) or {}
        return _event_from_state(stored_event, state), meta

    def plain_state(self, stored_event: StoredEvent) -> bytes:
        """The stored state's JSON as the transcoder reads it (decrypted, decompressed)."""
        return bytes(self._plain(stored_event.state))

    def event_class(self, stored_event: StoredEvent) -> type:
        return resolve_topic(stored_event.topic)

    def state_as_text(self, stored_event: StoredEvent, text: TextFields) -> dict | None:
        """The stored state with the transcoded values that `text` names left as the text they
        are stored as (see `TextFields`); None when any other transcoded value is in it: then
        only the library's typed decode reads it as it was recorded."""
        data = bytes(self._plain(stored_event.state))
        try:
            state = from_json(data)
        except ValueError:
            return None
        remaining = data.count(b'"_type_":')  # at least one per transcoded value (see TextFields)
        for name, kind in text.fields:
            if _as_text(state, name, kind):
                remaining -= 1
        for name, kind in text.values_of:
            values = state.get(name)
            if type(values) is dict:
                remaining -= sum(_as_text(values, key, kind) for key in values)
        return state if remaining == 0 else None

    def _encode(self, state: dict) -> bytes:
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return data

    def _decode(self, data: bytes) -> dict:
        return self.transcoder.decode(self._plain(data))

    def _plain(self, data: bytes) -> bytes:
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        return data


@dataclass(frozen=True)
class TextFields:
    """Which transcoded values of a stored state a reader takes as their stored text (a
    `decimal_str` is `str(Decimal)`, a `datetime_iso` `datetime.isoformat()`): the fields
    (name, transcoding) of the state, and the fields whose values all are one (a dict of
    deadlines). A reader that parses that text itself (pydantic, into the contract) skips
    building a Decimal or a datetime only to have it checked and written out again.

    Counting `"_type_":` in the JSON finds every transcoded value: inside a JSON string a quote
    is escaped, so the sequence occurs only as an object key (or after an escaped quote, which
    only counts one more: the typed decode is used then)."""

    fields: tuple[tuple[str, str], ...]
    values_of: tuple[tuple[str, str], ...] = ()


def _as_text(values: dict, name: Any, kind: str) -> bool:
    value = values.get(name)
    if (type(value) is dict and len(value) == 2 and value.get("_type_") == kind
            and type(text := value.get("_data_")) is str):
        values[name] = text
        return True
    return False
