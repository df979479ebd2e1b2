"""`refunds.events`: what the refund service tells the platform (key = dispute id).

`event_id` is derived from the refund and its outcome, so a re-published result keeps its id
and the dispute service can drop duplicates. `refund_id` names the refund instruction (one per
resolution or appeal award) and stays the same across retries.
"""

from __future__ import annotations

from datetime import timezone
from decimal import Decimal
from typing import Annotated, Literal, Union
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StrictBool, StrictInt, TypeAdapter

from contracts.envelope import CONTENT_TYPE, PublicModel, not_a_number

Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(not_a_number), AfterValidator(lambda v: v.astimezone(timezone.utc))]


SCHEMA_VERSIONS = frozenset({1})
"""The `schema_version`s this contract reads (a record without one is at version 1); a
consumer dead-letters any other as unknown."""


def refund_event_id(refund_id: str, attempt: int, outcome: str) -> UUID:
    """Stable per (refund, operator attempt, outcome): re-publishing keeps the id."""
    return uuid5(NAMESPACE_URL, f"urn:refund-event:{refund_id}:{attempt}:{outcome}")


class RefundEventBase(PublicModel):
    event_id: UUID
    schema_version: StrictInt = 1
    refund_id: str = Field(min_length=1, max_length=128)
    dispute_id: UUID
    amount: Amount
    currency: Currency
    occurred_at: UtcDatetime
    causation_id: str = Field(description="the dispute event (Resolved or AppealDecided) paid")
    correlation_id: str | None = None

    def kafka_key(self) -> bytes:
        return str(self.dispute_id).encode()

    def kafka_value(self) -> bytes:
        return self.model_dump_json().encode()

    event_type: str

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [("event-type", self.event_type.encode()),
                ("schema-version", str(self.schema_version).encode()),
                ("correlation-id", (self.correlation_id or "").encode()),
                ("event-id", str(self.event_id).encode()), ("dispute-id", str(self.dispute_id).encode()),
                ("content-type", CONTENT_TYPE.encode())]


class RefundIssued(RefundEventBase):
    event_type: Literal["RefundIssued"] = "RefundIssued"
    provider_reference: str = Field(min_length=1)


class RefundFailed(RefundEventBase):
    event_type: Literal["RefundFailed"] = "RefundFailed"
    reason: str = Field(min_length=1)
    retryable: StrictBool


RefundEvent = Annotated[Union[RefundIssued, RefundFailed], Field(discriminator="event_type")]
REFUND_EVENT = TypeAdapter(RefundEvent)
EVENT_TYPES = frozenset(model.model_fields["event_type"].default for model in (RefundIssued, RefundFailed))


def parse_refund_event(data: bytes) -> RefundIssued | RefundFailed:
    return REFUND_EVENT.validate_json(data)
