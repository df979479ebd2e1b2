"""`disputes.events`: the payload of each public dispute event (key = dispute id).

Every record is an `EventEnvelope` (contracts/envelope.py); its `payload` is one of the models
below, chosen by the envelope's `event_type` and `schema_version`. Who acted and when are in
the envelope (`actor`, `occurred_at`), never in the payload. Amounts are decimal strings
("100.00", "0"), datetimes RFC 3339 in UTC ("2025-03-10T12:00:00Z").

Consumers read a payload with `parse_payload(envelope)`: records published under an older
`schema_version` are upcast to the latest shape first, so a consumer codes against one model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer,
                      StrictBool, StrictInt)
from pydantic import WithJsonSchema

from contracts.envelope import EventEnvelope, PublicModel, not_a_number

TOPIC = "disputes.events"


def _no_float(value: Any) -> Any:
    """The schema says a decimal string: a JSON number (a float loses cents; an integer or a
    boolean is a producer's mistake) is refused; a Decimal from Python is what it stands for."""
    if isinstance(value, (float, int)):
        raise ValueError("amounts are decimal strings, never numbers (floats lose cents)")
    return value


Amount = Annotated[
    Decimal, BeforeValidator(_no_float), Field(ge=0), PlainSerializer(lambda v: format(v, "f")),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$", "examples": ["100.00", "0"]}),
]
UtcDatetime = Annotated[
    AwareDatetime, BeforeValidator(not_a_number), AfterValidator(lambda v: v.astimezone(timezone.utc)),
    PlainSerializer(lambda v: v.isoformat().replace("+00:00", "Z")),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2025-03-10T12:00:00Z"]}),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Text = str
Party = Literal["buyer", "seller"]
Reason = Literal["ITEM_NOT_RECEIVED", "DAMAGED", "NOT_AS_DESCRIBED", "LATE_DELIVERY"]
RequestType = Literal["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT", "RETURN_AND_REFUND"]
Remedy = Literal["FULL_REFUND", "PARTIAL_REFUND", "REPLACEMENT", "RETURN_AND_REFUND", "NONE"]
Outcome = Literal["BUYER_FAVOUR", "SELLER_FAVOUR", "PARTIAL", "AGREED"]
ResolvedBy = Literal["AGREEMENT", "SELLER_ACCEPTED_CLAIM", "PLATFORM_DECISION",
                     "TIMEOUT_SELLER", "TIMEOUT_BUYER"]
DeadlineName = Literal["SELLER_RESPONSE", "BUYER_RESPONSE", "NEGOTIATION_MAX", "RETURN_SHIPMENT",
                       "RETURN_ACKNOWLEDGEMENT", "EVIDENCE_REQUEST", "APPEAL_WINDOW"]
EscalationTrigger = Literal["PARTY_REQUEST", "MAX_ROUNDS_REACHED", "NEGOTIATION_WINDOW_ELAPSED",
                            "BUYER_RESPONSE_TIMEOUT", "RETURN_CONDITION_DISPUTED"]
ReturnCondition = Literal["ITEM_RECEIVED", "ITEM_NOT_RECEIVED", "DAMAGED",
                          "EMPTY_PACKAGE_OR_DIFFERENT", "MISSING_ITEMS"]
AppealOutcome = Literal["UPHELD", "OVERTURNED"]
CloseReason = Literal["APPEAL_WINDOW_ELAPSED", "APPEAL_DECIDED", "CLOSED_BY_OPERATOR"]


class DisputePayload(PublicModel):
    """Base of every payload: frozen, unknown fields rejected."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class DisputeOpened(DisputePayload):
    event_type: ClassVar[str] = "DisputeOpened"
    order_id: str
    item_id: str
    buyer_id: str
    seller_id: str
    reason: Reason
    request: RequestType
    request_amount: Amount | None = Field(description="what the buyer asks back; null: all paid")
    description: Text
    paid_amount: Amount
    refunded_before: Amount = Field(default=Decimal("0"), description=(
        "part of paid_amount refunded outside any dispute before it opened (OrderRefunded)"))
    currency: Currency
    deadlines: dict[DeadlineName, UtcDatetime]
    escalation_allowed_from: UtcDatetime = Field(description="from when a party may escalate")


class SellerResponded(DisputePayload):
    event_type: ClassVar[str] = "SellerResponded"


class _OfferRef(DisputePayload):
    offer_id: str


class OfferMade(_OfferRef):
    event_type: ClassVar[str] = "OfferMade"
    offer_type: RequestType
    amount: Amount | None = Field(description="null for a replacement")
    currency: Currency
    round_number: StrictInt = Field(ge=1)
    made_by: Party
    respond_by: UtcDatetime
    note: Text


class OfferSuperseded(_OfferRef):
    event_type: ClassVar[str] = "OfferSuperseded"


class OfferAccepted(_OfferRef):
    event_type: ClassVar[str] = "OfferAccepted"
    remedy: RequestType
    refund_amount: Amount


class OfferRejected(_OfferRef):
    event_type: ClassVar[str] = "OfferRejected"
    reason: Text
    respond_by: UtcDatetime


class OfferExpired(_OfferRef):
    event_type: ClassVar[str] = "OfferExpired"


class OfferWithdrawn(_OfferRef):
    event_type: ClassVar[str] = "OfferWithdrawn"


class ClaimAccepted(DisputePayload):
    event_type: ClassVar[str] = "ClaimAccepted"
    remedy: RequestType
    refund_amount: Amount


class ClaimRejected(DisputePayload):
    event_type: ClassVar[str] = "ClaimRejected"
    evidence_ids: list[str]
    reason: Text
    respond_by: UtcDatetime


class EvidenceAdded(DisputePayload):
    event_type: ClassVar[str] = "EvidenceAdded"
    evidence_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str
    size: StrictInt = Field(ge=0)
    filename: str
    description: Text


class EvidenceRequested(DisputePayload):
    event_type: ClassVar[str] = "EvidenceRequested"
    request_id: str
    from_party: Party
    note: Text
    due: UtcDatetime


class MessagePosted(DisputePayload):
    """That a party wrote; the text stays behind the API (see services/dispute/adapters/translation.py)."""

    event_type: ClassVar[str] = "MessagePosted"
    message_id: str
    visibility: Literal["PARTIES"]


class DeadlineMissed(DisputePayload):
    event_type: ClassVar[str] = "DeadlineMissed"
    deadline: DeadlineName
    due: UtcDatetime


class Escalated(DisputePayload):
    event_type: ClassVar[str] = "Escalated"
    trigger: EscalationTrigger
    automatic: StrictBool
    note: Text


class ReturnRequested(DisputePayload):
    event_type: ClassVar[str] = "ReturnRequested"
    refund_amount: Amount
    outcome: Outcome
    resolved_by: ResolvedBy
    ship_by: UtcDatetime


class _Shipment(DisputePayload):
    carrier: str
    tracking_number: str


class ReturnShipped(_Shipment):
    event_type: ClassVar[str] = "ReturnShipped"
    acknowledge_by: UtcDatetime


class ReturnReceived(DisputePayload):
    event_type: ClassVar[str] = "ReturnReceived"
    condition: ReturnCondition


class ReplacementShipped(_Shipment):
    event_type: ClassVar[str] = "ReplacementShipped"


class ReplacementReceived(DisputePayload):
    event_type: ClassVar[str] = "ReplacementReceived"


class Resolved(DisputePayload):
    event_type: ClassVar[str] = "Resolved"
    outcome: Outcome
    resolved_by: ResolvedBy
    remedy: Remedy
    refund_amount: Amount = Field(description='"0" when the buyer gets nothing back')
    currency: Currency
    appeal_until: UtcDatetime
    note: Text


class RefundIssued(DisputePayload):
    """The dispute recorded a refund the refund service paid."""

    event_type: ClassVar[str] = "RefundIssued"
    refund_id: str
    amount: Amount
    currency: Currency


class RefundFailed(DisputePayload):
    event_type: ClassVar[str] = "RefundFailed"
    refund_id: str
    reason: str
    retryable: StrictBool


class RefundedOutsideDispute(DisputePayload):
    """The order service refunded part of the order outside any dispute (OrderRefunded);
    what the dispute may still return went down."""

    event_type: ClassVar[str] = "RefundedOutsideDispute"
    order_event_id: str = Field(description="the OrderRefunded event's id")
    refunded_before: Amount = Field(description="part of paid_amount now refunded outside disputes")


class DisputeWithdrawn(DisputePayload):
    event_type: ClassVar[str] = "DisputeWithdrawn"
    reason: Text


class Appealed(DisputePayload):
    event_type: ClassVar[str] = "Appealed"
    appeal_id: str
    evidence_ids: list[str]
    reason: Text


class AppealDecided(DisputePayload):
    event_type: ClassVar[str] = "AppealDecided"
    appeal_id: str
    outcome: AppealOutcome
    refund_amount: Amount = Field(description='the extra refund awarded; "0" when none')
    currency: Currency
    note: Text


class DisputeClosed(DisputePayload):
    event_type: ClassVar[str] = "DisputeClosed"
    reason: CloseReason


class FeedbackLeft(DisputePayload):
    event_type: ClassVar[str] = "FeedbackLeft"
    rating: StrictInt = Field(ge=1, le=5)
    comment: Text


class FeedbackReplied(DisputePayload):
    """The party a feedback is about answered it (once); `feedback_of` is who left it."""

    event_type: ClassVar[str] = "FeedbackReplied"
    feedback_of: Party
    text: Text


LATEST_MODELS: tuple[type[DisputePayload], ...] = (
    DisputeOpened, SellerResponded, OfferMade, OfferAccepted, OfferRejected, OfferSuperseded,
    OfferExpired, OfferWithdrawn, ClaimAccepted, ClaimRejected, EvidenceAdded, EvidenceRequested,
    MessagePosted, DeadlineMissed, Escalated, ReturnRequested, ReturnShipped, ReturnReceived,
    ReplacementShipped, ReplacementReceived, Resolved, RefundIssued, RefundFailed,
    RefundedOutsideDispute, DisputeWithdrawn, Appealed, AppealDecided, DisputeClosed, FeedbackLeft,
    FeedbackReplied,
)
OLDER_MODELS: tuple[type[DisputePayload], ...] = ()
"""Superseded versions, kept so their JSON Schema stays published while records of them exist."""

REGISTRY: dict[str, tuple[int, type[DisputePayload]]] = {
    model.event_type: (model.schema_version, model) for model in LATEST_MODELS}
"""event_type -> (latest schema_version, model): what the dispute relay publishes today."""


UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""(event_type, version) -> a function from that version's payload to the next version's."""


class UnknownDisputeEvent(ValueError):
    """An event type or version this contracts package does not know: upgrade contracts/."""


def upcast_payload(event_type: str, schema_version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the latest version of its event type, through the registered chain."""
    latest = latest_version(event_type)
    if not 1 <= schema_version <= latest:
        raise UnknownDisputeEvent(f"{event_type} v{schema_version} (latest known: v{latest})")
    for version in range(schema_version, latest):
        payload = UPCASTERS[(event_type, version)](dict(payload))
    return payload


def validate_payload(event_type: str, schema_version: int,
                     payload: dict[str, Any]) -> DisputePayload:
    """Upcast, then validate against the latest model; raises pydantic.ValidationError."""
    upcast = upcast_payload(event_type, schema_version, payload)
    return REGISTRY[event_type][1].model_validate(upcast)


def parse_payload(envelope: EventEnvelope) -> DisputePayload:
    return validate_payload(envelope.event_type, envelope.schema_version, envelope.payload)


def latest_version(event_type: str) -> int:
    try:
        return REGISTRY[event_type][0]
    except KeyError:
        raise UnknownDisputeEvent(f"no public dispute event {event_type!r}") from None

