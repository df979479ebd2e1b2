"""Pure: which dispute events become refund instructions, whether the refund service trusts
them, and how much may be paid. No I/O here; payloads arrive already read through their
public contract (contracts/disputes.py).

A dispute event is a claim; what was paid is a fact the refund service learns itself, from
`orders.events` (`PaidOrder`). A resolution is paid only when its dispute and its order are
known and agree, and never beyond what the order paid less what was refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.disputes import (AppealDecided, DisputeOpened, DisputePayload,
                                RefundedOutsideDispute, Resolved)

PAYING_EVENTS = {Resolved.event_type, AppealDecided.event_type}
HANDLED_EVENTS = {DisputeOpened.event_type, RefundedOutsideDispute.event_type, *PAYING_EVENTS}


@dataclass(frozen=True)
class OrderTerms:
    """What a dispute says of its order (`DisputeOpened`): a claim, checked against the
    `PaidOrder` before anything is paid. `refunded_before` (refunded outside disputes, as the
    dispute service counts it) can only lower the ceiling. Terms stored by an older version
    name no item, buyer or seller."""
    dispute_id: str
    order_id: str
    paid_amount: Decimal
    currency: str
    refunded_before: Decimal = Decimal(0)
    item_id: str | None = None
    buyer_id: str | None = None
    seller_id: str | None = None

    @property
    def refundable(self) -> Decimal:
        return self.paid_amount - self.refunded_before


@dataclass(frozen=True)
class PaidOrder:
    """What the refund service itself learned of an order from `orders.events`: the only
    source it trusts for who bought, from whom, and what was paid."""
    order_id: str
    buyer_id: str
    seller_id: str
    currency: str
    items: tuple[tuple[str, Decimal], ...]
    paid_amount: Decimal
    refunded_outside: Decimal = Decimal(0)

    def item_price(self, item_id: str) -> Decimal | None:
        return dict(self.items).get(item_id)


@dataclass(frozen=True)
class Committed:
    """Refunds issued or held (in flight, or with an unknown outcome) by other instructions:
    `dispute` counts every dispute on the same item, `order` every dispute of the order."""
    dispute: Decimal = Decimal(0)
    order: Decimal = Decimal(0)


@dataclass(frozen=True)
class OutsideRefund:
    """The order service refunded part of the order outside disputes while one is open:
    `refunded_before` is the new absolute total, not an increment."""
    dispute_id: str
    refunded_before: Decimal


@dataclass(frozen=True)
class RefundInstruction:
    dispute_id: str
    idempotency_key: str
    amount: Decimal
    currency: str
    cause_event_id: str


@dataclass(frozen=True)
class Refusal:
    reason: str
    retryable: bool


@dataclass(frozen=True)
class RefundFacts:
    """What one dispute event teaches the refund service, or asks it to pay."""
    terms: OrderTerms | None = None
    instruction: RefundInstruction | None = None
    outside_refund: OutsideRefund | None = None

    def __bool__(self) -> bool:
        return any((self.terms, self.instruction, self.outside_refund))


def idempotency_key_for(dispute_id: str, event_id: str) -> str:
    """One key per resolution (or appeal award): the provider pays it at most once."""
    return f"refund:{dispute_id}:{event_id}"


def refund_facts_from(dispute_id: str, event_id: str, payload: DisputePayload) -> RefundFacts:
    """What a dispute event's payload (read through its contract) teaches or asks."""
    match payload:
        case DisputeOpened():
            return RefundFacts(terms=order_terms_from(dispute_id, payload))
        case RefundedOutsideDispute():
            return RefundFacts(outside_refund=outside_refund_from(dispute_id, payload))
        case Resolved() | AppealDecided():
            return RefundFacts(instruction=refund_for(event_id, dispute_id, payload))
    return RefundFacts()


def order_terms_from(dispute_id: str, opened: DisputeOpened) -> OrderTerms:
    return OrderTerms(dispute_id, opened.order_id, opened.paid_amount, opened.currency,
                      opened.refunded_before, item_id=opened.item_id, buyer_id=opened.buyer_id,
                      seller_id=opened.seller_id)


def outside_refund_from(dispute_id: str, refunded: RefundedOutsideDispute) -> OutsideRefund:
    return OutsideRefund(dispute_id, refunded.refunded_before)


def refund_for(event_id: str, dispute_id: str,
               decision: Resolved | AppealDecided) -> RefundInstruction | None:
    """A resolution, or an appeal award (its `refund_amount` is the extra amount awarded), with
    money to return; None when it returns nothing."""
    if decision.refund_amount <= 0:
        return None
    return RefundInstruction(dispute_id=dispute_id, amount=decision.refund_amount,
                             currency=decision.currency,
                             idempotency_key=idempotency_key_for(dispute_id, event_id),
                             cause_event_id=event_id)


ORDER_UNKNOWN = "ORDER_UNKNOWN"
"""The one distrust that may pass: the order's OrderPlaced may simply not be consumed yet."""


def distrust(instruction: RefundInstruction, terms: OrderTerms | None,
             order: PaidOrder | None) -> str | None:
    """Why a resolution must not be paid, judged on the refund service's own facts; None when
    its dispute and order are known and agree and the amount is within the item's price."""
    if terms is None:
        return "DISPUTE_UNKNOWN"
    if order is None:
        return ORDER_UNKNOWN
    if instruction.currency != order.currency:
        return "CURRENCY_MISMATCH"
    disagreement = terms_disagreement(terms, order)
    if disagreement is None and instruction.amount > price_of(terms, order):
        return "REFUND_EXCEEDS_PAID_AMOUNT"
    return disagreement


def terms_disagreement(terms: OrderTerms, order: PaidOrder) -> str | None:
    """The first fact the dispute states that contradicts the order as we know it."""
    checks = (
        ("ORDER_ID_MISMATCH", terms.order_id != order.order_id),
        ("CURRENCY_MISMATCH", terms.currency != order.currency),
        ("ITEM_NOT_IN_ORDER", terms.item_id is not None and order.item_price(terms.item_id) is None),
        ("BUYER_MISMATCH", terms.buyer_id is not None and terms.buyer_id != order.buyer_id),
        ("SELLER_MISMATCH", terms.seller_id is not None and terms.seller_id != order.seller_id),
    )
    reason = next((code for code, failed in checks if failed), None)
    if reason is None and terms.paid_amount != price_of(terms, order):
        return "PAID_AMOUNT_MISMATCH"
    return reason


def price_of(terms: OrderTerms, order: PaidOrder) -> Decimal:
    """The disputed item's price by our own facts; terms of an older version name no item, so
    what they claim is bounded by the order's total instead."""
    if terms.item_id is None:
        return min(terms.paid_amount, order.paid_amount)
    return order.item_price(terms.item_id) or Decimal(0)


def refundable_now(terms: OrderTerms, order: PaidOrder, committed: Committed) -> Decimal:
    """What may still be refunded: the item's price less what the dispute says was refunded
    before and what its refunds hold, and never more than the order paid less every refund of
    the order (ours, for any dispute, and those made outside disputes)."""
    for_item = price_of(terms, order) - terms.refunded_before - committed.dispute
    for_order = order.paid_amount - order.refunded_outside - committed.order
    return min(for_item, for_order)


def refusal_for(instruction: RefundInstruction, terms: OrderTerms | None, order: PaidOrder | None,
                committed: Committed) -> Refusal | None:
    """Checked at the moment of paying, whatever was checked when the resolution arrived (an
    instruction recorded by an older version was never judged): trust first, then the cap."""
    if terms is None:
        return Refusal("ORDER_TERMS_UNKNOWN", retryable=True)
    reason = distrust(instruction, terms, order)
    if reason is not None:
        return Refusal(reason, retryable=reason == ORDER_UNKNOWN)
    if order is None or instruction.amount > refundable_now(terms, order, committed):
        return Refusal("REFUND_EXCEEDS_PAID_AMOUNT", retryable=False)
    return None


def order_changes(known: PaidOrder, placed: PaidOrder) -> list[str]:
    """What a second OrderPlaced would change of the first (whose facts are kept); empty when
    it repeats them."""
    checks = (("buyer_id", known.buyer_id != placed.buyer_id),
              ("seller_id", known.seller_id != placed.seller_id),
              ("currency", known.currency != placed.currency),
              ("items", sorted(known.items) != sorted(placed.items)),
              ("paid_amount", known.paid_amount != placed.paid_amount))
    return [name for name, differs in checks if differs]
