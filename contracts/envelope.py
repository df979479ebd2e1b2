"""The envelope of every record on `disputes.events` (and the shape of its Kafka headers)."""

from __future__ import annotations

from datetime import datetime, timezone
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
        return [
            ("event-type", self.event_type.encode()),
            ("schema-version", str(self.schema_version).encode()),
            ("correlation-id", self.correlation_id.encode()),
            ("content-type", CONTENT_TYPE.encode()),
            *self.cloudevents_headers(),
        ]

    def cloudevents_headers(self) -> list[tuple[str, bytes]]:
        """CloudEvents 1.0 Kafka binding, binary mode: the value is the event data, so a
        CloudEvents SDK reads our records as they are (`content-type` is `datacontenttype`)."""
        attributes = {
            "specversion": CE_SPECVERSION, "id": str(self.event_id), "source": CE_SOURCE,
            "type": f"{CE_TYPE_PREFIX}{self.event_type}",
            "time": self._rfc3339(self.occurred_at), "subject": str(self.dispute_id),
        }
        return [(f"ce_{name}", value.encode()) for name, value in attributes.items()]
