"""Value types of the dispute language. Events store plain strings; these enums name them, and
the frozen value objects below are the aggregate's typed state, rebuilt by the event bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    OPERATOR = "operator"
    SERVICE = "service"


class Reason(StrEnum):
    ITEM_NOT_RECEIVED = "ITEM_NOT_RECEIVED"
    DAMAGED = "DAMAGED"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    LATE_DELIVERY = "LATE_DELIVERY"


class RequestType(StrEnum):
    """What the buyer asks for; offers use the same four types."""

    FULL_REFUND = "FULL_REFUND"
    PARTIAL_REFUND = "PARTIAL_REFUND"
    REPLACEMENT = "REPLACEMENT"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"


OfferType = RequestType


class Remedy(StrEnum):
    """What a resolution gives the buyer: one of the request types, or nothing."""

    FULL_REFUND = "FULL_REFUND"
    PARTIAL_REFUND = "PARTIAL_REFUND"
    REPLACEMENT = "REPLACEMENT"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"
    NONE = "NONE"


NO_REMEDY = Remedy.NONE
"""The remedy of a resolution that gives the buyer nothing."""


class Status(StrEnum):
    AWAITING_SELLER_RESPONSE = "AWAITING_SELLER_RESPONSE"
    AWAITING_BUYER_RESPONSE = "AWAITING_BUYER_RESPONSE"
    AWAITING_RETURN_SHIPMENT = "AWAITING_RETURN_SHIPMENT"
    RETURN_IN_TRANSIT = "RETURN_IN_TRANSIT"
    AWAITING_REPLACEMENT = "AWAITING_REPLACEMENT"
    UNDER_REVIEW = "UNDER_REVIEW"
    RESOLVED = "RESOLVED"
    APPEALED = "APPEALED"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"


NEGOTIATION_STATES = frozenset({Status.AWAITING_SELLER_RESPONSE, Status.AWAITING_BUYER_RESPONSE})
FINAL_STATES = frozenset({Status.CLOSED, Status.WITHDRAWN})
"""The one definition of "final": nothing is added to a dispute in these states."""
DECIDED_STATES = frozenset({Status.RESOLVED, Status.APPEALED, Status.CLOSED})
ENDED_STATES = DECIDED_STATES | {Status.WITHDRAWN}
BEFORE_RESOLUTION = frozenset(Status) - ENDED_STATES


class Outcome(StrEnum):
    BUYER_FAVOUR = "BUYER_FAVOUR"
    SELLER_FAVOUR = "SELLER_FAVOUR"
    PARTIAL = "PARTIAL"
    AGREED = "AGREED"


class ResolvedBy(StrEnum):
    AGREEMENT = "AGREEMENT"
    SELLER_ACCEPTED_CLAIM = "SELLER_ACCEPTED_CLAIM"
    PLATFORM_DECISION = "PLATFORM_DECISION"
    TIMEOUT_SELLER = "TIMEOUT_SELLER"
    TIMEOUT_BUYER = "TIMEOUT_BUYER"


class OfferStatus(StrEnum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    LAPSED = "LAPSED"
    """Still open when the dispute was resolved some other way."""


class ReturnCondition(StrEnum):
    ITEM_RECEIVED = "ITEM_RECEIVED"
    ITEM_NOT_RECEIVED = "ITEM_NOT_RECEIVED"
    DAMAGED = "DAMAGED"
    EMPTY_PACKAGE_OR_DIFFERENT = "EMPTY_PACKAGE_OR_DIFFERENT"
    MISSING_ITEMS = "MISSING_ITEMS"


class EscalationTrigger(StrEnum):
    PARTY_REQUEST = "PARTY_REQUEST"
    MAX_ROUNDS_REACHED = "MAX_ROUNDS_REACHED"
    NEGOTIATION_WINDOW_ELAPSED = "NEGOTIATION_WINDOW_ELAPSED"
    BUYER_RESPONSE_TIMEOUT = "BUYER_RESPONSE_TIMEOUT"
    RETURN_CONDITION_DISPUTED = "RETURN_CONDITION_DISPUTED"


class Deadline(StrEnum):
    """Running obligations; each names whose move is overdue when it passes."""

    SELLER_RESPONSE = "SELLER_RESPONSE"
    BUYER_RESPONSE = "BUYER_RESPONSE"
    NEGOTIATION_MAX = "NEGOTIATION_MAX"
    RETURN_SHIPMENT = "RETURN_SHIPMENT"
    RETURN_ACKNOWLEDGEMENT = "RETURN_ACKNOWLEDGEMENT"
    EVIDENCE_REQUEST = "EVIDENCE_REQUEST"
    APPEAL_WINDOW = "APPEAL_WINDOW"


class Visibility(StrEnum):
    PARTIES = "PARTIES"
    PLATFORM_ONLY = "PLATFORM_ONLY"


class AppealOutcome(StrEnum):
    UPHELD = "UPHELD"
    """The resolution stands."""
    OVERTURNED = "OVERTURNED"
    """The appellant wins; an extra refund may be awarded to the buyer."""


class EvidenceRequestStatus(StrEnum):
    OPEN = "OPEN"
    ANSWERED = "ANSWERED"
    MISSED = "MISSED"


class ReturnStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SHIPPED = "SHIPPED"
    RECEIVED = "RECEIVED"
    MISSED = "MISSED"


class AppealStatus(StrEnum):
    OPEN = "OPEN"
    DECIDED = "DECIDED"


class CloseReason(StrEnum):
    APPEAL_WINDOW_ELAPSED = "APPEAL_WINDOW_ELAPSED"
    APPEAL_DECIDED = "APPEAL_DECIDED"
    CLOSED_BY_OPERATOR = "CLOSED_BY_OPERATOR"


@dataclass(frozen=True)
class Actor:
    """Who acted: taken from the authenticated principal, never from a request body."""

    role: Role
    id: str

    def as_dict(self) -> dict[str, str]:
        return {"role": str(self.role), "id": self.id}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Actor:
        return cls(role=Role(data["role"]), id=data["id"])


DEADLINE_WORKER = Actor(role=Role.SERVICE, id="deadline-worker")
"""Who acts when a deadline passes."""


@dataclass(frozen=True)
class EvidenceFile:
    """An uploaded file already stored by the caller; the domain keeps its metadata and hash."""

    evidence_id: str
    sha256: str
    content_type: str
    size: int
    filename: str
    description: str = ""


@dataclass(frozen=True)
class OfferTerms:
    """A proposed solution: used for counter-offers that travel with a rejection."""

    offer_id: str
    offer_type: str
    amount: Decimal | None = None
    currency: str | None = None
    note: str = ""


# The aggregate's state: replaced whole (dataclasses.replace) by the event bodies ----------

@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class EvidenceRequest:
    request_id: str
    from_party: Role
    note: str
    due: datetime
    status: EvidenceRequestStatus


@dataclass(frozen=True)
class Message:
    message_id: str
    text: str
    visibility: Visibility
    posted_by: Actor
    posted_at: datetime


@dataclass(frozen=True)
class Agreement:
    """What the parties agreed (an accepted offer or claim), before it is carried out."""

    remedy: RequestType
    refund_amount: Decimal
    resolved_by: ResolvedBy
    outcome: Outcome = Outcome.AGREED


@dataclass(frozen=True)
class Escalation:
    trigger: EscalationTrigger
    automatic: bool
    note: str
    escalated_by: Actor
    escalated_at: datetime


@dataclass(frozen=True)
class ReturnShipment:
    refund_amount: Decimal
    outcome: Outcome
    resolved_by: ResolvedBy
    ship_by: datetime
    status: ReturnStatus = ReturnStatus.REQUESTED
    carrier: str | None = None
    tracking_number: str | None = None
    condition: ReturnCondition | None = None


@dataclass(frozen=True)
class Replacement:
    shipped: bool = False
    received: bool = False
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    resolved_by: ResolvedBy
    remedy: Remedy
    refund_amount: Decimal
    currency: str
    note: str
    resolved_at: datetime


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Feedback:
    rating: int
    comment: str
    left_at: datetime


@dataclass(frozen=True)
class Refund:
    amount: Decimal
    currency: str
    issued_at: datetime


@dataclass(frozen=True)
class FailedRefund:
    reason: str
    retryable: bool
    failed_at: datetime
