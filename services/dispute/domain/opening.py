"""The rules for opening a dispute: who, when, and what the buyer may ask for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, records, rules
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    Actor, Deadline, EvidenceFile, Reason, RequestType, Role,
)


def open_dispute(order: OrderFacts, item_id: str, actor: Actor, reason: str, request: str,
                 request_amount: Decimal | None, description: str, at: datetime,
                 policy: DisputePolicy, evidence: Sequence[EvidenceFile]) -> records.Opened:
    """The decision of `Dispute.open`: what the new dispute starts from, once it may open."""
    check_can_open(order, item_id, actor, reason, at, policy, evidence)
    claimed = claimed_amount(order, item_id, request, request_amount)
    return records.Opened(
        order_id=order.order_id, item_id=item_id, buyer_id=order.buyer_id,
        seller_id=order.seller_id, reason=Reason(reason), request=RequestType(request),
        request_amount=claimed, description=description,
        paid_amount=order.item_amount(item_id) or Decimal("0"),
        refunded_before=refunded_before(order, item_id), currency=order.currency,
        deadlines={Deadline.SELLER_RESPONSE: at + policy.seller_response_window,
                   Deadline.NEGOTIATION_MAX: at + policy.negotiation_max},
        escalation_allowed_from=at + policy.escalation_opens_after)


def check_can_open(order: OrderFacts, item_id: str, actor: Actor, reason: str, at: datetime,
                   policy: DisputePolicy, evidence: Sequence[EvidenceFile]) -> None:
    if actor.role != Role.BUYER or actor.id != order.buyer_id:
        raise errors.Forbidden("only the order's buyer may open a dispute")
    if order.item_amount(item_id) is None:
        raise errors.OrderNotFound(f"order {order.order_id} has no item {item_id}")
    if reason not in set(Reason):
        raise errors.ValidationFailed(f"unknown reason {reason}", field="reason")
    if at >= order.promised_delivery_date + policy.filing_window_after_promised_delivery:
        raise errors.FilingWindowClosed("the filing window for this order has closed")
    if reason == Reason.ITEM_NOT_RECEIVED and at < order.promised_delivery_date:
        raise errors.PromisedDeliveryNotElapsed(
            "the promised delivery date has not passed yet",
            promised_delivery_date=order.promised_delivery_date.isoformat())
    rules.require_evidence_files(evidence, known=())
    rules.require_room("evidence files", 0, len(evidence), policy.max_evidence_files,
                       errors.TooManyEvidenceFiles)


def claimed_amount(order: OrderFacts, item_id: str, request: str,
                   request_amount: Decimal | None) -> Decimal | None:
    """The amount the buyer asks for: what is still refundable for a full refund, none for a
    replacement."""
    refundable = (order.item_amount(item_id) or Decimal("0")) - refunded_before(order, item_id)
    return rules.require_terms_amount(request, request_amount, refundable=refundable,
                                      currency=None, dispute_currency=order.currency)


def refunded_before(order: OrderFacts, item_id: str) -> Decimal:
    """The part of the item's price already refunded outside any dispute (`OrderRefunded`).

    Order refunds do not say which item they were for, so the dispute may return at most what
    is left of the whole order: the item's price, less whatever the other items cannot absorb.
    """
    paid = order.item_amount(item_id) or Decimal("0")
    left_of_order = max(order.total_amount - order.refunded_outside_disputes, Decimal("0"))
    return min(paid, max(paid - left_of_order, Decimal("0")))
