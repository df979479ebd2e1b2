"""The dispute's state: frozen value objects (replaced whole by the event bodies), and
`DisputeState`, the typed, read-only view that decisions take (the aggregate is one).

Decision functions take a `DisputeState`, never the aggregate class, so they can change
nothing and a type checker sees every attribute they use.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from services.dispute.domain.values import (
    Actor, AppealOutcome, AppealStatus, Deadline, EscalationTrigger, EvidenceRequestStatus,
    OfferStatus, Outcome, Remedy, RequestType, ResolvedBy, ReturnCondition, ReturnStatus, Role,
    Status, Visibility,
)

NOBODY = "none"
"""Whose move it is once no party has one."""


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    offer_type: RequestType
    amount: Decimal | None
    currency: str
    round: int
    made_by: Role
    note: str
    status: OfferStatus
    made_at: datetime
    respond_by: datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    evidence_id: str
    sha256: str
    content_type: str
    size: int
    filename: str
    description: str
    added_by: Role
    added_at: datetime
    after_resolution: bool


@dataclass(frozen=True, slots=True)
class EvidenceRequest:
    request_id: str
    from_party: Role
    note: str
    due: datetime
    status: EvidenceRequestStatus


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    text: str
    visibility: Visibility
    posted_by: Actor
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class Agreement:
    """What the parties agreed (an accepted offer or claim), before it is carried out."""

    remedy: RequestType
    refund_amount: Decimal
    resolved_by: ResolvedBy
    outcome: Outcome = Outcome.AGREED


@dataclass(frozen=True, slots=True)
class Escalation:
    trigger: EscalationTrigger
    automatic: bool
    note: str
    escalated_by: Actor
    escalated_at: datetime


@dataclass(frozen=True, slots=True)
class ReturnShipment:
    refund_amount: Decimal
    outcome: Outcome
    resolved_by: ResolvedBy
    ship_by: datetime
    status: ReturnStatus = ReturnStatus.REQUESTED
    carrier: str | None = None
    tracking_number: str | None = None
    condition: ReturnCondition | None = None


@dataclass(frozen=True, slots=True)
class Replacement:
    shipped: bool = False
    received: bool = False
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    outcome: Outcome
    resolved_by: ResolvedBy
    remedy: Remedy
    refund_amount: Decimal
    currency: str
    note: str
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class Appeal:
    appeal_id: str
    evidence_ids: tuple[str, ...]
    reason: str
    appealed_by: Role
    appealed_at: datetime
    status: AppealStatus = AppealStatus.OPEN
    outcome: AppealOutcome | None = None
    extra_refund: Decimal | None = None
    note: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    rating: int
    comment: str
    left_at: datetime
    reply: str | None = None
    """The rated party's answer (once; it cannot be edited either)."""
    replied_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    amount: Decimal
    currency: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class FailedRefund:
    reason: str
    retryable: bool
    failed_at: datetime


class DisputeState(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def order_id(self) -> str: ...
    @property
    def item_id(self) -> str: ...
    @property
    def buyer_id(self) -> str: ...
    @property
    def seller_id(self) -> str: ...
    @property
    def request(self) -> RequestType: ...
    @property
    def request_amount(self) -> Decimal | None: ...
    @property
    def paid_amount(self) -> Decimal: ...
    @property
    def refunded_before(self) -> Decimal: ...
    @property
    def refunded_total(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def deadlines(self) -> Mapping[Deadline, datetime]: ...
    @property
    def escalation_allowed_from(self) -> datetime: ...
    @property
    def seller_responded(self) -> bool: ...
    @property
    def offers(self) -> Mapping[str, Offer]: ...
    @property
    def current_offer_id(self) -> str | None: ...
    @property
    def rounds(self) -> int: ...
    @property
    def agreement(self) -> Agreement | None: ...
    @property
    def return_shipment(self) -> ReturnShipment | None: ...
    @property
    def replacement(self) -> Replacement | None: ...
    @property
    def escalation(self) -> Escalation | None: ...
    @property
    def evidence(self) -> Mapping[str, Evidence]: ...
    @property
    def evidence_request(self) -> EvidenceRequest | None: ...
    @property
    def messages(self) -> Sequence[Message]: ...
    @property
    def message_ids(self) -> Collection[str]: ...
    @property
    def resolution(self) -> Resolution | None: ...
    @property
    def appeals(self) -> Sequence[Appeal]: ...
    @property
    def feedback(self) -> Mapping[Role, Feedback]: ...
    @property
    def refunds(self) -> Mapping[str, Refund]: ...
    @property
    def failed_refunds(self) -> Mapping[str, FailedRefund]: ...
    @property
    def outside_refunds(self) -> Sequence[str]: ...


def refundable_amount(state: DisputeState) -> Decimal:
    return state.paid_amount - state.refunded_total


def awaiting(state: DisputeState) -> str:
    """Whose move it is: "buyer", "seller", "operator" or "none"."""
    if state.status == Status.AWAITING_REPLACEMENT:
        shipped = state.replacement is not None and state.replacement.shipped
        return Role.BUYER.value if shipped else Role.SELLER.value
    return _AWAITING.get(state.status, NOBODY)


def current_offer(state: DisputeState) -> Offer | None:
    return state.offers.get(state.current_offer_id) if state.current_offer_id else None


def capped(state: DisputeState, amount: Decimal) -> Decimal:
    """Amounts agreed earlier, never above what can still be refunded."""
    return max(min(amount, refundable_amount(state)), Decimal("0"))


def other_party(role: str) -> Role:
    return Role.BUYER if role == Role.SELLER else Role.SELLER


_AWAITING: dict[Status, str] = {
    Status.AWAITING_SELLER_RESPONSE: Role.SELLER.value,
    Status.AWAITING_BUYER_RESPONSE: Role.BUYER.value,
    Status.AWAITING_RETURN_SHIPMENT: Role.BUYER.value,
    Status.RETURN_IN_TRANSIT: Role.SELLER.value,
    Status.UNDER_REVIEW: Role.OPERATOR.value,
    Status.APPEALED: Role.OPERATOR.value,
}
