"""What a decision asks the aggregate to record: one type per event of `Dispute`, named as the
event, with the event's fields (who acted and when travel beside them, one pair per command).

Decision functions (negotiation, fulfilment, review, conversation, refunds, timers) return
these; `Dispute._record` triggers the event of the same name, whose body only assigns.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.dispute.domain.values import (
    AppealOutcome, CloseReason, Deadline, EscalationTrigger, Outcome, Reason, Remedy,
    RequestType, ResolvedBy, ReturnCondition, Role, Visibility,
)

Stored = str | int | bool | Decimal | datetime | list[str] | dict[str, datetime] | None


@dataclass(frozen=True)
class Record:
    def payload(self) -> dict[str, Stored]:
        """The event's fields as stored: enums as their plain strings, sequences as lists."""
        return {field.name: _stored(getattr(self, field.name)) for field in fields(self)}


def _stored(value: object) -> Stored:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return {str(name): due for name, due in value.items()}
    if not isinstance(value, (str, int, bool, Decimal, datetime, type(None))):
        raise TypeError(f"a record holds plain event data, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Opened(Record):
    order_id: str
    item_id: str
    buyer_id: str
    seller_id: str
    reason: Reason
    request: RequestType
    request_amount: Decimal | None
    description: str
    paid_amount: Decimal
    refunded_before: Decimal
    currency: str
    deadlines: dict[Deadline, datetime]
    escalation_allowed_from: datetime


@dataclass(frozen=True)
class SellerResponded(Record):
    pass


@dataclass(frozen=True)
class OfferMade(Record):
    offer_id: str
    offer_type: RequestType
    amount: Decimal | None
    currency: str
    round_number: int
    made_by: Role
    respond_by: datetime
    note: str


@dataclass(frozen=True)
class OfferSuperseded(Record):
    offer_id: str


@dataclass(frozen=True)
class OfferAccepted(Record):
    offer_id: str
    remedy: RequestType
    refund_amount: Decimal


@dataclass(frozen=True)
class OfferRejected(Record):
    offer_id: str
    reason: str
    respond_by: datetime


@dataclass(frozen=True)
class OfferExpired(Record):
    offer_id: str


@dataclass(frozen=True)
class OfferWithdrawn(Record):
    offer_id: str


@dataclass(frozen=True)
class ClaimAccepted(Record):
    remedy: RequestType
    refund_amount: Decimal


@dataclass(frozen=True)
class ClaimRejected(Record):
    evidence_ids: tuple[str, ...]
    reason: str
    respond_by: datetime


@dataclass(frozen=True)
class EvidenceAdded(Record):
    evidence_id: str
    sha256: str
    content_type: str
    size: int
    filename: str
    description: str
    after_resolution: bool
    answered_request_id: str | None


@dataclass(frozen=True)
class EvidenceRequested(Record):
    request_id: str
    from_party: Role
    note: str
    due: datetime


@dataclass(frozen=True)
class MessagePosted(Record):
    message_id: str
    text: str
    visibility: Visibility


@dataclass(frozen=True)
class DeadlineMissed(Record):
    deadline: Deadline
    due: datetime


@dataclass(frozen=True)
class Escalated(Record):
    trigger: EscalationTrigger
    automatic: bool
    note: str = ""


@dataclass(frozen=True)
class ReturnRequested(Record):
    refund_amount: Decimal
    outcome: Outcome
    resolved_by: ResolvedBy
    ship_by: datetime


@dataclass(frozen=True)
class ReturnShipped(Record):
    carrier: str
    tracking_number: str
    acknowledge_by: datetime


@dataclass(frozen=True)
class ReturnReceived(Record):
    condition: ReturnCondition


@dataclass(frozen=True)
class ReplacementShipped(Record):
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class ReplacementReceived(Record):
    pass


@dataclass(frozen=True)
class Resolved(Record):
    outcome: Outcome
    resolved_by: ResolvedBy
    remedy: Remedy
    refund_amount: Decimal
    currency: str
    appeal_until: datetime
    note: str = ""


@dataclass(frozen=True)
class RefundIssued(Record):
    refund_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RefundFailed(Record):
    refund_id: str
    reason: str
    retryable: bool


@dataclass(frozen=True)
class RefundedOutsideDispute(Record):
    order_event_id: str
    refunded_before: Decimal


@dataclass(frozen=True)
class Withdrawn(Record):
    reason: str


@dataclass(frozen=True)
class Appealed(Record):
    appeal_id: str
    evidence_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class AppealDecided(Record):
    appeal_id: str
    outcome: AppealOutcome
    extra_refund: Decimal | None
    currency: str
    note: str


@dataclass(frozen=True)
class Closed(Record):
    reason: CloseReason


@dataclass(frozen=True)
class FeedbackLeft(Record):
    rating: int
    comment: str


@dataclass(frozen=True)
class FeedbackReplied(Record):
    feedback_of: Role
    text: str
