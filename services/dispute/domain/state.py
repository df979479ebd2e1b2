"""Reading the dispute's state, and the assignments shared by event bodies (recording nothing)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from services.dispute.domain.values import (
    Deadline, OfferStatus, Outcome, RequestType, Role, Status,
)


class DisputeState:
    """Mixed into `Dispute`: `self` is the aggregate."""

    @property
    def refundable_amount(self) -> Decimal:
        return self.paid_amount - self.refunded_total

    @property
    def awaiting(self) -> str:
        """Whose move it is: "buyer", "seller", "operator" or "none"."""
        if self.status == Status.AWAITING_REPLACEMENT:
            shipped = bool(self.replacement and self.replacement.get("shipped"))
            return Role.BUYER.value if shipped else Role.SELLER.value
        return _AWAITING.get(self.status, "none")

    @property
    def current_offer(self) -> dict[str, Any] | None:
        return self.offers.get(self.current_offer_id) if self.current_offer_id else None

    @property
    def next_deadline(self) -> datetime | None:
        return min(self.deadlines.values(), default=None)

    def _await(self, party: str, due: datetime) -> None:
        if party == Role.SELLER:
            self.status = Status.AWAITING_SELLER_RESPONSE.value
            self.deadlines.pop(Deadline.BUYER_RESPONSE, None)
            self.deadlines[Deadline.SELLER_RESPONSE.value] = due
        else:
            self.status = Status.AWAITING_BUYER_RESPONSE.value
            self.deadlines.pop(Deadline.SELLER_RESPONSE, None)
            self.deadlines[Deadline.BUYER_RESPONSE.value] = due

    def _settle_offer(self, offer_id: str, status: str, at: datetime) -> None:
        self.offers[offer_id] = {**self.offers[offer_id], "status": str(status)}
        if self.current_offer_id == offer_id:
            self.current_offer_id = None
        self.updated_at = at

    def _lapse_open_offer(self, at: datetime) -> None:
        if self.current_offer_id is not None:
            self._settle_offer(self.current_offer_id, OfferStatus.LAPSED, at)

    def _agree(self, remedy: str, refund_amount: Decimal, resolved_by: str) -> None:
        self.agreement = {"remedy": remedy, "refund_amount": refund_amount,
                          "resolved_by": str(resolved_by), "outcome": Outcome.AGREED.value}
        self.deadlines = {}
        if remedy == RequestType.REPLACEMENT:
            self.status = Status.AWAITING_REPLACEMENT.value
            self.replacement = {"shipped": False, "received": False}


_AWAITING = {
    Status.AWAITING_SELLER_RESPONSE: Role.SELLER.value,
    Status.AWAITING_BUYER_RESPONSE: Role.BUYER.value,
    Status.AWAITING_RETURN_SHIPMENT: Role.BUYER.value,
    Status.RETURN_IN_TRANSIT: Role.SELLER.value,
    Status.UNDER_REVIEW: Role.OPERATOR.value,
    Status.APPEALED: Role.OPERATOR.value,
}


def other_party(role: str) -> str:
    return Role.BUYER.value if role == Role.SELLER else Role.SELLER.value
