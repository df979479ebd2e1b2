"""The dispute's state as decisions read it: typed and read-only (the aggregate is one).

Decision functions take a `DisputeState`, never the aggregate class, so they can change
nothing and a type checker sees every attribute they use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from services.dispute.domain.values import (
    Agreement, Appeal, Deadline, Escalation, Evidence, EvidenceRequest, FailedRefund, Feedback,
    Message, Offer, Refund, Replacement, RequestType, Resolution, ReturnShipment, Role, Status,
)

NOBODY = "none"
"""Whose move it is once no party has one."""


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
