"""Facts learned from the refund service. Idempotent per refund id: redeliveries record nothing.

Each function is the decision of the `Dispute` command of the same name (see negotiation).
"""

from __future__ import annotations

from decimal import Decimal

from services.dispute.domain import errors, records, rules
from services.dispute.domain.opening import refunded_before
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.records import Record
from services.dispute.domain.state import DisputeState
from services.dispute.domain.values import DECIDED_STATES, FINAL_STATES, Actor, Role


def note_refund_outside_dispute(state: DisputeState, order: OrderFacts, order_event_id: str,
                                actor: Actor) -> list[Record]:
    """The order service refunded part of the order outside any dispute (OrderRefunded):
    what this dispute may still return goes down to what is left of the order. Once per
    order event; a final dispute is left as it ended."""
    rules.require_party(state, actor, Role.SERVICE)
    if order_event_id in state.outside_refunds or state.status in FINAL_STATES:
        return []
    disputed = state.refunded_total - state.refunded_before
    before = min(refunded_before(order, state.item_id), state.paid_amount - disputed)
    return [records.RefundedOutsideDispute(order_event_id=order_event_id,
                                           refunded_before=max(before, state.refunded_before))]


def record_refund_issued(state: DisputeState, refund_id: str, amount: Decimal, currency: str,
                         actor: Actor) -> list[Record]:
    """The refund service paid the buyer; the refundable amount goes down.

    A payment is a fact: the amount rule was checked by the refund service at the moment
    of paying, so money that left is recorded even if it exceeds what the dispute thinks is
    refundable (a negative refundable amount then shows the overpayment to operators)."""
    rules.require_party(state, actor, Role.SERVICE)
    if refund_id in state.refunds:
        return []
    rules.require_status(state, DECIDED_STATES, errors.InvalidTransition)
    rules.require_new_id("refund", refund_id, ())
    rules.require_refund_amount(amount, refundable=amount, currency=currency,
                                dispute_currency=state.currency)
    return [records.RefundIssued(refund_id=refund_id, amount=amount, currency=currency)]


def record_refund_failed(state: DisputeState, refund_id: str, reason: str, retryable: bool,
                         actor: Actor) -> list[Record]:
    """The refund service could not pay; recorded for operators, the state is unchanged."""
    rules.require_party(state, actor, Role.SERVICE)
    if refund_id in state.failed_refunds:
        return []
    rules.require_status(state, DECIDED_STATES, errors.InvalidTransition)
    rules.require_new_id("refund", refund_id, ())
    return [records.RefundFailed(refund_id=refund_id, reason=reason, retryable=bool(retryable))]
