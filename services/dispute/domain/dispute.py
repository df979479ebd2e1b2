"""The Dispute aggregate: one event stream per dispute.

Public methods check the rules and raise `DomainError`s; the private `@event` methods only
assign state, because their bodies run again on every replay.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.dispute.domain.errors import DomainError
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import Actor, Reason, RequestType, Role, Status


def dispute_id_for(order_id: str, item_id: str) -> UUID:
    """One dispute per (order, item), ever: the id is derived, so the store refuses a second."""
    return uuid5(NAMESPACE_URL, f"urn:dispute:{order_id}:{item_id}")


class Dispute(Aggregate):
    @staticmethod
    def create_id(order_id: str, item_id: str) -> UUID:
        return dispute_id_for(order_id, item_id)

    @classmethod
    def open(cls, *, order: OrderFacts, item_id: str, actor: Actor, reason: str, request: str,
             request_amount: Decimal | None, description: str, at: datetime,
             policy: DisputePolicy) -> "Dispute":
        _check_can_open(order, item_id, actor, reason, at, policy)
        return cls(
            order_id=order.order_id, item_id=item_id, buyer_id=order.buyer_id,
            seller_id=order.seller_id, reason=str(Reason(reason)), request=str(RequestType(request)),
            request_amount=request_amount, description=description,
            paid_amount=order.item_amount(item_id), currency=order.currency,
            actor=actor.as_dict(), at=at,
            deadlines={"SELLER_RESPONSE": at + policy.seller_response_window},
        )

    @event("Opened")
    def __init__(self, order_id: str, item_id: str, buyer_id: str, seller_id: str, reason: str,
                 request: str, request_amount: Decimal | None, description: str,
                 paid_amount: Decimal, currency: str, actor: dict[str, Any], at: datetime,
                 deadlines: dict[str, datetime]) -> None:
        self.order_id = order_id
        self.item_id = item_id
        self.buyer_id = buyer_id
        self.seller_id = seller_id
        self.reason = reason
        self.request = request
        self.request_amount = request_amount
        self.description = description
        self.paid_amount = paid_amount
        self.currency = currency
        self.refunded_total = Decimal("0")
        self.status = str(Status.AWAITING_SELLER_RESPONSE)
        self.deadlines = dict(deadlines)
        self.opened_at = at
        self.updated_at = at

    @property
    def refundable_amount(self) -> Decimal:
        return self.paid_amount - self.refunded_total


def _check_can_open(order: OrderFacts, item_id: str, actor: Actor, reason: str, at: datetime,
                    policy: DisputePolicy) -> None:
    if actor.role != Role.BUYER or actor.id != order.buyer_id:
        raise DomainError("only the order's buyer may open a dispute", code="FORBIDDEN")
    if order.item_amount(item_id) is None:
        raise DomainError(f"order {order.order_id} has no item {item_id}", code="ORDER_NOT_FOUND")
    if at >= order.promised_delivery_date + policy.filing_window_after_promised_delivery:
        raise DomainError("the filing window for this order has closed", code="FILING_WINDOW_CLOSED")
    if reason == Reason.ITEM_NOT_RECEIVED and at < order.promised_delivery_date:
        raise DomainError("the promised delivery date has not passed yet",
                          code="PROMISED_DELIVERY_NOT_ELAPSED",
                          promised_delivery_date=order.promised_delivery_date.isoformat())
