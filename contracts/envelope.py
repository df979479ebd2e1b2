"""The envelope of every record on `disputes.events` (and the shape of its Kafka headers)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from hashlib import sha1
from typing import Annotated, Any, Literal
from uuid import NAMESPACE_URL, UUID

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_serializer,
                      field_validator)

CONTENT_TYPE = "application/json"
CE_SPECVERSION = "1.0"
CE_SOURCE = "urn:dispute-platform:dispute-service"
CE_TYPE_PREFIX = "com.dispute-platform."


def not_a_number(value: Any) -> Any:
    """pydantic would read a number as seconds since 1970: a time in our records is always an
    RFC 3339 string, so a number is a producer's mistake, not a time."""
    if isinstance(value, (int, float)):
        raise ValueError("a time is an RFC 3339 string, never a number")
    return value


Timestamp = Annotated[datetime, BeforeValidator(not_a_number)]
"""A time as the contracts read it (integers and booleans are read strictly too: StrictInt,
StrictBool; pydantic would take `true` for 1 and "2" for 2, which the JSON Schema refuses)."""


class PublicModel(BaseModel):
    """Frozen, and strict about unknown fields: a typo in a producer fails loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorRef(PublicModel):
    role: Literal["buyer", "seller", "operator", "service"]
    id: str = Field(min_length=1)


_EVENT_ID_NAME = NAMESPACE_URL.bytes + b"urn:dispute-event:"
_UUID5_CLEARED = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)  # variant and version bits
_UUID5_SET = (0x8000 << 48) | (5 << 76)  # RFC 4122 variant, version 5


def event_id_for(dispute_id: UUID, dispute_version: int) -> UUID:
    """Stable across re-publishing, so consumers can drop duplicates by `event_id`:
    uuid5(NAMESPACE_URL, f"urn:dispute-event:{dispute_id}:{dispute_version}"), computed as
    uuid5 does but without its per-call import and argument checks (the relay and the audit
    export ask it for every event: uuid5 itself was an eighth of an export)."""
    digest = sha1(_EVENT_ID_NAME + f"{dispute_id}:{dispute_version}".encode()).digest()
    return UUID(int=(int.from_bytes(digest[:16], "big") & _UUID5_CLEARED) | _UUID5_SET)


_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def event_id_text(dispute_id: str, dispute_version: int) -> str:
    """`str(event_id_for(UUID(dispute_id), dispute_version))` for a dispute id in its canonical
    text form, without building a UUID to print it again (the relay writes the id twice per
    record: in the value and in `ce_id`)."""
    h = sha1(_EVENT_ID_NAME + f"{dispute_id}:{dispute_version}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


class EventEnvelope(PublicModel):
    event_id: UUID
    event_type: str = Field(min_length=1)
    schema_version: StrictInt = Field(ge=1)
    dispute_id: UUID
    dispute_version: StrictInt = Field(ge=1)
    occurred_at: Timestamp
    correlation_id: str
    causation_id: str | None = None
    actor: ActorRef
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        return value.astimezone(timezone.utc)

    @field_serializer("occurred_at")
    def _rfc3339(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    def kafka_key(self) -> bytes:
        return str(self.dispute_id).encode()

    def kafka_value(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return kafka_headers(self.event_type, self.schema_version, self.correlation_id,
                             str(self.event_id), self._rfc3339(self.occurred_at), str(self.dispute_id))


def kafka_headers(event_type: str, schema_version: int, correlation_id: str, event_id: str,
                  time: str, subject: str) -> list[tuple[str, bytes]]:
    """The headers of an envelope's record, from its fields as text (`time` as the value writes
    it); also what the relay calls with the text it has at hand. After ours, the CloudEvents
    1.0 Kafka binding, binary mode: the value is the event data, so a CloudEvents SDK reads our
    records as they are (`content-type` is `datacontenttype`)."""
    event_type_header, schema_header, ce_type = _type_headers(event_type, schema_version)
    return [event_type_header, schema_header, ("correlation-id", correlation_id.encode()),
            _CONTENT_TYPE, _CE_SPECVERSION, ("ce_id", event_id.encode()), _CE_SOURCE, ce_type,
            ("ce_time", time.encode()), ("ce_subject", subject.encode())]


_CONTENT_TYPE = ("content-type", CONTENT_TYPE.encode())
_CE_SPECVERSION = ("ce_specversion", CE_SPECVERSION.encode())
_CE_SOURCE = ("ce_source", CE_SOURCE.encode())


@lru_cache(maxsize=256)
def _type_headers(event_type: str, schema_version: int) -> tuple[tuple[str, bytes], ...]:
    return (("event-type", event_type.encode()), ("schema-version", str(schema_version).encode()),
            ("ce_type", f"{CE_TYPE_PREFIX}{event_type}".encode()))
