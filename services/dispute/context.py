"""Command metadata (correlation and causation ids) stored beside each event, not inside it.

The domain knows nothing of correlation ids; the mapper writes the current command's context
into each stored event's state under `__meta__` and strips it again when events are loaded.

The mapper also chains each dispute's events: `__meta__.hash` is
sha256(previous event's hash + canonical(topic, dispute id, version, state)), the first event
chaining from 64 zeros, so editing any stored row breaks the chain at that row (audit verify).
The application puts the previous hash of each dispute it saves in `hash_chain(...)`.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic

META_KEY = "__meta__"
GENESIS = "0" * 64
_current: ContextVar[dict[str, str | None] | None] = ContextVar("command_meta", default=None)
_chain: ContextVar[dict[UUID, str] | None] = ContextVar("hash_chain", default=None)


@contextmanager
def command_context(correlation_id: str, causation_id: str | None = None) -> Iterator[None]:
    token = _current.set({"correlation_id": correlation_id, "causation_id": causation_id})
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def hash_chain(heads: dict[UUID, str]) -> Iterator[None]:
    """Dispute id -> hash of its last stored event; the mapper advances it per event."""
    token = _chain.set(heads)
    try:
        yield
    finally:
        _chain.reset(token)


def event_hash(previous: str, topic: str, originator_id: UUID, version: int, state: dict) -> str:
    body = json.dumps([topic, str(originator_id), version, state], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((previous + body).encode()).hexdigest()


def _event_from_state(stored_event: StoredEvent, state: dict) -> Any:
    """What `Mapper.to_domain_event` does after decoding (eventsourcing 9.5.6), on a state we
    decoded once already: re-encoding it for the library to decode again cost ~15% of a load."""
    cls = resolve_topic(stored_event.topic)
    convert_id = find_id_convertor(cls, type(stored_event.originator_id))
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
        heads = _chain.get()
        if heads is not None and originator_id in heads:
            heads[originator_id] = meta["hash"] = event_hash(
                heads[originator_id], topic, originator_id, originator_version, state)
        if meta:
            state[META_KEY] = meta
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=topic, state=self._encode(state))

    def stored_hash(self, stored_event: StoredEvent) -> str | None:
        return (self._decode(stored_event.state).get(META_KEY) or {}).get("hash")

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self.to_domain_event_with_meta(stored_event)[0]

    def to_domain_event_with_meta(self, stored_event: StoredEvent) -> tuple[Any, dict]:
        """The event, and the correlation/causation ids it was recorded under."""
        state = self._decode(stored_event.state)
        meta = state.pop(META_KEY, None) or {}
        return _event_from_state(stored_event, state), meta

    def _encode(self, state: dict) -> bytes:
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return data

    def _decode(self, data: bytes) -> dict:
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        return self.transcoder.decode(data)
