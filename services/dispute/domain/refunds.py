"""Facts learned from the refund service. Idempotent per refund id: redeliveries record nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.dispute.domain import errors, rules
from services.dispute.domain.opening import refunded_before
from services.dispute.domain.orders import OrderFacts
from services.dispute.domain.values import DECIDED_STATES, FINAL_STATES, Actor, Role


class RefundRecords:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def note_refund_outside_dispute(self, *, order: OrderFacts, order_event_id: str,
                                    actor: Actor, at: datetime) -> None:
        """The order service refunded part of the order outside any dispute (OrderRefunded):
        what this dispute may still return goes down to what is left of the order. Once per
        order event; a final dispute is left as it ended."""
        rules.require_party(self, actor, Role.SERVICE)
        if order_event_id in self.outside_refunds or self.status in FINAL_STATES:
            return
        disputed = self.refunded_total - self.refunded_before
        before = min(refunded_before(order, self.item_id), self.paid_amount - disputed)
        self._refunded_outside_dispute(order_event_id=order_event_id,
                                       refunded_before=max(before, self.refunded_before),
                                       actor=actor.as_dict(), at=at)

    def record_refund_issued(self, *, refund_id: str, amount: Decimal, currency: str,
                             actor: Actor, at: datetime) -> None:
        """The refund service paid the buyer; the refundable amount goes down.

        A payment is a fact: the amount rule was checked by the refund service at the moment
        of paying, so money that left is recorded even if it exceeds what the dispute thinks is
        refundable (a negative refundable amount then shows the overpayment to operators)."""
        rules.require_party(self, actor, Role.SERVICE)
        if refund_id in self.refunds:
            return
        rules.require_status(self, DECIDED_STATES, errors.InvalidTransition)
        rules.require_new_id("refund", refund_id, ())
        rules.require_refund_amount(amount, refundable=amount, currency=currency,
                                    dispute_currency=self.currency)
        self._refund_issued(refund_id=refund_id, amount=amount, currency=currency,
                            actor=actor.as_dict(), at=at)

    def record_refund_failed(self, *, refund_id: str, reason: str, retryable: bool,
                             actor: Actor, at: datetime) -> None:
        """The refund service could not pay; recorded for operators, the state is unchanged."""
        rules.require_party(self, actor, Role.SERVICE)
        if refund_id in self.failed_refunds:
            return
        rules.require_status(self, DECIDED_STATES, errors.InvalidTransition)
        rules.require_new_id("refund", refund_id, ())
        self._refund_failed(refund_id=refund_id, reason=reason, retryable=bool(retryable),
                            actor=actor.as_dict(), at=at)
