"""Value types of the dispute language. Events store plain strings; these enums name them.
The value objects of the dispute's state are in `state`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """An uploaded file already stored by the caller; the domain keeps its metadata and hash."""

    evidence_id: str
    sha256: str
    content_type: str
    size: int
    filename: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """A proposed solution: used for counter-offers that travel with a rejection."""

    offer_id: str
    offer_type: str
    amount: Decimal | None = None
    currency: str | None = None
    note: str = ""

