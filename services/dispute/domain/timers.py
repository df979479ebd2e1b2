"""Deadlines: what happens when an obligation is still unmet at its due time.

Timers are commands like any other: they act as the deadline worker, at the due time.
A deadline that was met has left `deadlines`, so a late timer finds nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.dispute.domain.policy import DisputePolicy
from services.dispute.domain.values import (
    DEADLINE_WORKER, NO_REMEDY, CloseReason, Deadline, EscalationTrigger, Outcome, RequestType,
    ResolvedBy, Role,
)

_ORDER = list(Deadline)


class DeadlineTimers:
    """Mixed into `Dispute`: `self` is the aggregate."""

    def expire_due_deadlines(self, *, at: datetime, policy: DisputePolicy) -> list[str]:
        """Apply, in due order, every deadline due at or before `at`; return the names fired."""
        fired: list[str] = []
        while (due := self._earliest_deadline()) is not None and due[1] <= at:
            name, when = due
            _CONSEQUENCES[name](self, when, policy)
            if self.deadlines.get(name) == when:
                raise RuntimeError(f"deadline {name} survived its own consequence")
            fired.append(name)
        return fired

    def _earliest_deadline(self) -> tuple[str, datetime] | None:
        if not self.deadlines:
            return None
        return min(self.deadlines.items(), key=lambda item: (item[1], _ORDER.index(item[0])))

    def _miss(self, deadline: Deadline, due: datetime) -> None:
        self._deadline_missed(deadline=deadline.value, due=due,
                              actor=DEADLINE_WORKER.as_dict(), at=due)

    def _on_seller_response_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._miss(Deadline.SELLER_RESPONSE, due)
        remedy, refund = self._buyers_latest_ask()
        self._resolve(outcome=Outcome.BUYER_FAVOUR, resolved_by=ResolvedBy.TIMEOUT_SELLER,
                      remedy=remedy, refund_amount=refund, actor=DEADLINE_WORKER, at=due,
                      policy=policy)

    def _on_buyer_response_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._miss(Deadline.BUYER_RESPONSE, due)
        if self.current_offer_id is not None:
            self._offer_expired(offer_id=self.current_offer_id,
                                actor=DEADLINE_WORKER.as_dict(), at=due)
        if policy.buyer_timeout_escalates:
            self._escalate(EscalationTrigger.BUYER_RESPONSE_TIMEOUT, DEADLINE_WORKER, due,
                           automatic=True)
        else:
            self._resolve_for_seller_on_timeout(due, policy)

    def _on_negotiation_max_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._escalate(EscalationTrigger.NEGOTIATION_WINDOW_ELAPSED, DEADLINE_WORKER, due,
                       automatic=True)

    def _on_return_shipment_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._miss(Deadline.RETURN_SHIPMENT, due)
        self._resolve_for_seller_on_timeout(due, policy)

    def _on_return_acknowledgement_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._miss(Deadline.RETURN_ACKNOWLEDGEMENT, due)
        self._resolve(outcome=Outcome.BUYER_FAVOUR, resolved_by=ResolvedBy.TIMEOUT_SELLER,
                      remedy=RequestType.RETURN_AND_REFUND,
                      refund_amount=self._capped(self.return_shipment["refund_amount"]),
                      actor=DEADLINE_WORKER, at=due, policy=policy)

    def _on_evidence_request_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._miss(Deadline.EVIDENCE_REQUEST, due)

    def _on_appeal_window_due(self, due: datetime, policy: DisputePolicy) -> None:
        self._closed(reason=CloseReason.APPEAL_WINDOW_ELAPSED.value,
                     actor=DEADLINE_WORKER.as_dict(), at=due)

    def _resolve_for_seller_on_timeout(self, due: datetime, policy: DisputePolicy) -> None:
        self._resolve(outcome=Outcome.SELLER_FAVOUR, resolved_by=ResolvedBy.TIMEOUT_BUYER,
                      remedy=NO_REMEDY, refund_amount=Decimal("0"), actor=DEADLINE_WORKER,
                      at=due, policy=policy)

    def _buyers_latest_ask(self) -> tuple[str, Decimal]:
        """The buyer's open counter-offer if any, else the request they opened with.

        An unanswered replacement cannot be shipped for the seller, so it becomes a refund.
        """
        offer = self.current_offer
        if offer is not None and offer["made_by"] == Role.BUYER:
            remedy, amount = offer["offer_type"], offer["amount"]
        else:
            remedy, amount = self.request, self.request_amount
        if remedy in (RequestType.REPLACEMENT, RequestType.FULL_REFUND):
            return RequestType.FULL_REFUND.value, self.refundable_amount
        return remedy, self._capped(amount)


_CONSEQUENCES = {
    Deadline.SELLER_RESPONSE: DeadlineTimers._on_seller_response_due,
    Deadline.BUYER_RESPONSE: DeadlineTimers._on_buyer_response_due,
    Deadline.NEGOTIATION_MAX: DeadlineTimers._on_negotiation_max_due,
    Deadline.RETURN_SHIPMENT: DeadlineTimers._on_return_shipment_due,
    Deadline.RETURN_ACKNOWLEDGEMENT: DeadlineTimers._on_return_acknowledgement_due,
    Deadline.EVIDENCE_REQUEST: DeadlineTimers._on_evidence_request_due,
    Deadline.APPEAL_WINDOW: DeadlineTimers._on_appeal_window_due,
}
